/* fuzz_region.c: md_region_parse on arbitrary bytes. A parsed region must be
 * well formed and print back ("{contig}:beg-end", 1-based) to itself. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mambadna.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *str = malloc(size + 1);
    if (!str) return 0;
    memcpy(str, data, size);
    str[size] = '\0';
    md_region reg;
    int ret = md_region_parse(str, &reg);
    if (ret == 0) {
        if (!reg.contig || !*reg.contig || reg.beg < 0 || reg.end <= reg.beg ||
            reg.name || reg.strand != '.')
            abort();
        if (!strchr(reg.contig, '}')) { /* round trip through braces */
            size_t n = strlen(reg.contig) + 64;
            char *again = malloc(n);
            if (!again) abort();
            if (reg.end == INT64_MAX)
                snprintf(again, n, "{%s}:%" PRId64 "-", reg.contig, reg.beg + 1);
            else
                snprintf(again, n, "{%s}:%" PRId64 "-%" PRId64, reg.contig,
                         reg.beg + 1, reg.end);
            md_region r2;
            if (md_region_parse(again, &r2) != 0 ||
                strcmp(r2.contig, reg.contig) != 0 || r2.beg != reg.beg ||
                r2.end != reg.end)
                abort();
            md_region_free(&r2);
            free(again);
        }
        md_region_free(&reg);
    } else if (ret < -1) {
        if (reg.contig || reg.name || !*md_last_error()) abort();
    } else {
        abort();
    }
    free(str);
    return 0;
}
