/* fuzz_vcf.c: arbitrary bytes as the VCF/BCF input of md_variants_run,
 * handed over in memory as an htslib "data:;base64," URL, against a small
 * reference (two contigs, one named with "chr") and a small random model.
 * Parsing, allele checks, window building and writing must not crash or
 * leak; a run that succeeds accounts for every record it read. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <htslib/hts.h>

#include "data_url.h"
#include "mambadna.h"

static char dir[256], ref[300], out[300];
static md_model *model;

static int setup(void)
{
    hts_set_log_level(HTS_LOG_OFF);
    md_set_log_level(MD_LOG_ERROR);
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/fuzzvcf.XXXXXX", base ? base : "/tmp");
    if (!mkdtemp(dir)) return -1;
    snprintf(ref, sizeof ref, "%s/ref.fa", dir);
    snprintf(out, sizeof out, "%s/out.vcf", dir);
    FILE *f = fopen(ref, "w");
    if (!f) return -1;
    uint64_t x = 1;
    fputs(">1\n", f);
    for (int i = 0; i < 300; i++, x = x * 6364136223846793005ull + 1) fputc("ACGT"[x >> 62], f);
    fputs("\n>chr2\n", f);
    for (int i = 0; i < 120; i++, x = x * 6364136223846793005ull + 1) fputc("ACGTN"[(x >> 59) % 5], f);
    fputc('\n', f);
    fclose(f);
    if (md_faidx_build(ref) < 0) return -1;
    md_config cfg;
    md_config_init(&cfg, MD_ARCH_MAMBA, 8, 1);
    cfg.n_classes = 2;
    model = md_model_init(&cfg, 1);
    return model && md_model_set_window(model, 32, 8) == 0 ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (setup() < 0) abort();
        ready = 1;
    }
    char *url = data_url(data, size);
    if (!url) return 0;
    md_variants_opt o;
    md_variants_opt_init(&o);
    o.score.fwd.threads = 1;
    o.score.batch = 1 + (int)(size % 7);
    o.command = "fuzz";
    if (md_variants_opt_resolve(&o, model) < 0) abort();
    md_variants_stats st;
    int ret = md_variants_run(model, url, ref, NULL, 0, out, &o, &st);
    free(url);
    if (ret == 0) {
        int64_t skipped = 0;
        for (int k = 0; k < MD_VSKIP_KINDS; k++) skipped += st.skipped[k];
        if (st.annotated + skipped != st.records || st.alleles < st.annotated) abort();
    } else if (ret > -2 || !*md_last_error()) {
        abort();
    }
    return 0;
}
