/* testutil.h: helpers shared by the cmocka unit tests. */
#ifndef MD_TESTUTIL_H
#define MD_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mambadna.h"

/* Directory of the committed fixtures (tests/data). */
static inline const char *md_test_data_dir(void)
{
    const char *d = getenv("MD_TEST_DATA");
    return d ? d : "tests/data";
}

/* Directory of the larger shared data sets, or NULL when absent. The runner
 * sets MD_SHARED_DATA; tests that need it skip (and say so) without it. */
static inline const char *md_shared_data_dir(void)
{
    const char *d = getenv("MD_SHARED_DATA");
    if (!d || !*d || access(d, R_OK) != 0) return NULL;
    return d;
}

/* Build "dir/rel" into a static buffer (one path at a time per call site). */
static inline const char *md_test_path(char *buf, size_t size, const char *dir,
                                       const char *rel)
{
    snprintf(buf, size, "%s/%s", dir, rel);
    return buf;
}

/* Skip the current test when the shared data is not there. */
#define MD_REQUIRE_SHARED(dir)                                                 \
    const char *dir = md_shared_data_dir();                                    \
    if (!dir) {                                                                \
        print_message("skipped: shared data not found (set MD_SHARED_DATA)\n"); \
        skip();                                                                \
    }

/* A fresh temporary directory per test binary, removed by the runner. */
static inline const char *md_test_tmpdir(void)
{
    static char dir[256];
    if (!dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/mdtest.XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(dir)) abort();
    }
    return dir;
}

#endif
