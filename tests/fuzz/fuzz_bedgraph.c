/* fuzz_bedgraph.c: md_bedgraph_parse_line on arbitrary bytes (a NUL-terminated
 * copy of the input). A parsed interval must be well formed and lie in the
 * line; a skipped or refused line leaves nothing set. */
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
    md_bedgraph_interval iv;
    int ret = md_bedgraph_parse_line(line, &iv);
    if (ret == 0) {
        if (!iv.contig || !*iv.contig || iv.contig < line || iv.contig >= line + size ||
            iv.beg < 0 || iv.end <= iv.beg || strpbrk(iv.contig, " \t\r\n"))
            abort();
    } else if (ret == 1 || ret < -1) {
        if (iv.contig) abort();
        if (ret < -1 && !*md_last_error()) abort();
    } else {
        abort();
    }
    free(line);
    return 0;
}
