/* fuzz_bed.c: md_bed_parse_line on arbitrary bytes (a NUL-terminated copy
 * of the input). A parsed region must be well formed; nothing may leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mambadna.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size + 1);
    if (!line) return 0;
    memcpy(line, data, size);
    line[size] = '\0';
    md_region reg;
    int ret = md_bed_parse_line(line, &reg);
    if (ret == 0) {
        if (!reg.contig || !*reg.contig || reg.beg < 0 || reg.end < reg.beg ||
            reg.end == INT64_MAX || !strchr("+-.", reg.strand) || !reg.strand ||
            (reg.name && !*reg.name))
            abort();
        if (!strstr(line, reg.contig)) abort();
        md_region_free(&reg);
    } else if (ret == 1 || ret < -1) {
        if (reg.contig || reg.name) abort(); /* nothing allocated */
        if (ret < -1 && !*md_last_error()) abort();
    } else {
        abort();
    }
    free(line);
    return 0;
}
