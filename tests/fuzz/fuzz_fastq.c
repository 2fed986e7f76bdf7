/* fuzz_fastq.c: arbitrary bytes after an '@' read through md_reader, so
 * that every input takes the FASTQ path (multi-line records, '+' lines,
 * quality strings of the wrong length, CRLF, blank lines, truncation). A
 * record must have as many bases as its quality string had values, with no
 * line end left in it; an error must say why; nothing may crash or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <htslib/hts.h>

#include "data_url.h"
#include "mambadna.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        hts_set_log_level(HTS_LOG_OFF);
        md_set_log_level(MD_LOG_ERROR);
        init = 1;
    }
    uint8_t *text = malloc(size + 1);
    if (!text) return 0;
    text[0] = '@';
    memcpy(text + 1, data, size);
    char *url = data_url(text, size + 1);
    free(text);
    if (!url) return 0;
    md_reader *r = md_reader_open(url, NULL);
    free(url);
    if (!r) return 0;
    int fmt = md_reader_format(r);
    md_record rec = {0};
    int ret;
    while ((ret = md_reader_next(r, &rec)) == 0) {
        if (!rec.name || !rec.comment || !rec.seq || rec.len < 0) abort();
        if ((int64_t)strlen(rec.seq) > rec.len) abort();
        if (memchr(rec.seq, '\n', (size_t)rec.len)) abort();
        if (rec.len && (rec.seq[rec.len - 1] == '\r' || rec.seq[rec.len - 1] == ' ')) abort();
        if (fmt == MD_FMT_FASTQ && (strpbrk(rec.name, " \t\r\n") || rec.flag)) abort();
    }
    if (ret != MD_EOF && (ret > -2 || !*md_last_error())) abort();
    if (ret != MD_EOF && md_reader_next(r, &rec) >= 0) abort(); /* errors stick */
    md_record_free(&rec);
    md_reader_close(r);
    return 0;
}
