/* log.c: the library's one logger and per-thread last-error message. */
#include <stdarg.h>
#include <stdio.h>
#include <htslib/hts.h>

#include "mambadna.h"

static int log_level = MD_LOG_WARN;
static _Thread_local char last_error[1024];

void md_set_log_level(int level) { log_level = level; }
int md_log_level(void) { return log_level; }

void md_log(int level, const char *fmt, ...)
{
    static const char *names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    if (level > log_level) return;
    if (level < 0) level = 0;
    if (level > MD_LOG_DEBUG) level = MD_LOG_DEBUG;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[mambadna %s] ", names[level]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int md_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    md_log(MD_LOG_DEBUG, "error %d: %s", code, last_error);
    return code;
}

const char *md_last_error(void) { return last_error; }

const char *md_htslib_version(void) { return hts_version(); }
