/* fuzz_fasta.c: read every record of arbitrary input through md_reader. The
 * input is handed over in memory as an htslib "data:;base64," URL, so format
 * detection, gzip/BGZF decompression and the SAM/BAM paths are exercised
 * too (CRAM is skipped: it needs a reference and htslib would try to fetch
 * one). Records must be consistent; nothing may crash or leak. */
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
        setenv("REF_PATH", "/nonexistent/%s", 1); /* never fetch references */
        setenv("REF_CACHE", "/nonexistent/%s", 1);
        init = 1;
    }
    if (size >= 4 && memcmp(data, "CRAM", 4) == 0) return 0;
    char *url = data_url(data, size);
    if (!url) return 0;
    md_reader_opt opt;
    md_reader_opt_init(&opt);
    opt.restore_orientation = size & 1;
    opt.primary_only = (size >> 1) & 1;
    opt.allow_no_eof = (size >> 2) & 1;
    md_reader *r = md_reader_open(url, &opt);
    free(url);
    if (!r) return 0;
    int fmt = md_reader_format(r);
    if (fmt < MD_FMT_FASTA || fmt > MD_FMT_CRAM) abort();
    md_record rec = {0};
    int ret, n = 0;
    while ((ret = md_reader_next(r, &rec)) == 0 && n++ < 100000) {
        if (!rec.name || !rec.comment || !rec.seq || rec.len < 0) abort();
        if (rec.seq[rec.len] != '\0') abort();
        if (memchr(rec.seq, '\n', (size_t)rec.len)) abort();
        if (rec.len && rec.seq[rec.len - 1] == '\r') abort();
        if (fmt <= MD_FMT_FASTQ) { /* text formats: one line per header */
            if (strpbrk(rec.name, " \t\r\n\v\f") || strchr(rec.comment, '\n') ||
                rec.flag)
                abort();
        }
    }
    if (ret != 0 && ret != MD_EOF && (ret > -2 || !*md_last_error())) abort();
    md_record_free(&rec);
    md_reader_close(r);
    return 0;
}
