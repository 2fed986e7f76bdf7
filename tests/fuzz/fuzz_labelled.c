/* fuzz_labelled.c: md_labelled_read on arbitrary input (CSV/TSV with a
 * header, or FASTA with label=K in the headers; plain or gzip). A data set
 * read without error must be consistent: every sequence non-empty, every
 * label below the class count; nothing may crash or leak. */
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
    char *url = data_url(data, size);
    if (!url) return 0;
    md_labelled d;
    int ret = md_labelled_read(url, &d);
    free(url);
    if (ret < 0) {
        if (ret > -2 || !*md_last_error()) abort();
        return 0;
    }
    if (d.n < 1 || d.n_classes < 1) abort();
    for (int64_t i = 0; i < d.n; i++) {
        if (d.lens[i] < 1 || !d.seqs[i] || d.seqs[i][d.lens[i]] != '\0') abort();
        if (!d.names[i] || d.labels[i] < 0 || d.labels[i] >= d.n_classes) abort();
    }
    md_labelled_free(&d);
    return 0;
}
