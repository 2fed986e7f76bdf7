/* test_variants.c: md_variants_run on the hand-made VCF against the bundled
 * chr22 piece with a small random model: the BCF output read back through
 * htslib (every record, in order, MD_* values exactly where expected and
 * consistent), the skip counts by reason, and a failed run leaving no
 * output. */
#include <math.h>

#include <htslib/bgzf.h>
#include <htslib/vcf.h>

#include "testutil.h"

static md_model *small_model(void)
{
    md_config cfg;
    md_config_init(&cfg, MD_ARCH_CADUCEUS_PS, 16, 2);
    cfg.n_classes = 2;
    md_model *m = md_model_init(&cfg, 7);
    assert_non_null(m);
    assert_int_equal(md_model_set_window(m, 40, 10), 0);
    return m;
}

static void test_bcf_read_back(void **state)
{
    (void)state;
    char vcf[512], genome[512], out[512];
    md_test_path(vcf, sizeof vcf, md_test_data_dir(), "variants/handmade.vcf");
    md_test_path(genome, sizeof genome, md_test_data_dir(), "../../data/genomes/22_20-21M.fa");
    snprintf(out, sizeof out, "%s/out.bcf", md_test_tmpdir());
    md_model *m = small_model();
    md_variants_opt o;
    md_variants_opt_init(&o);
    o.score.batch = 3; /* windows of one record span batches */
    o.command = "test";
    assert_int_equal(md_variants_opt_resolve(&o, m), 0);
    md_variants_stats st;
    assert_int_equal(md_variants_run(m, vcf, genome, NULL, 0, out, &o, &st), 0);
    assert_int_equal(st.records, 14);
    assert_int_equal(st.annotated, 8);
    assert_int_equal(st.alleles, 11);
    int want[MD_VSKIP_KINDS] = {[MD_VSKIP_REF_MISMATCH] = 1, [MD_VSKIP_NO_ALT] = 1,
                                [MD_VSKIP_SYMBOLIC] = 1,     [MD_VSKIP_STAR] = 1,
                                [MD_VSKIP_CONTIG] = 1,       [MD_VSKIP_CONTIG_END] = 1};
    for (int k = 0; k < MD_VSKIP_KINDS; k++) assert_int_equal(st.skipped[k], want[k]);

    htsFile *in = hts_open(out, "r");
    assert_non_null(in);
    assert_int_equal(hts_get_format(in)->format, bcf);
    bcf_hdr_t *hdr = bcf_hdr_read(in);
    assert_non_null(hdr);
    bcf1_t *rec = bcf_init();
    int n = 0, n_ann = 0, npos = 5;
    int64_t positions[] = {4999, 5099, 5199, 5299, 5399};
    float *v = NULL;
    int nv = 0;
    while (bcf_read(in, hdr, rec) == 0) {
        bcf_unpack(rec, BCF_UN_ALL);
        if (n < npos) assert_int_equal(rec->pos, positions[n]);
        n++;
        int skip = !strncmp(rec->d.id, "skip", 4);
        int has_ref = bcf_get_info_float(hdr, rec, "MD_REF", &v, &nv);
        assert_int_equal(has_ref == 1, !skip);
        if (skip) continue;
        n_ann++;
        float ref = v[0];
        assert_true(ref >= 0 && ref <= 1);
        float alt[8], delta[8];
        assert_int_equal(bcf_get_info_float(hdr, rec, "MD_ALT", &v, &nv), rec->n_allele - 1);
        memcpy(alt, v, sizeof(float) * (size_t)(rec->n_allele - 1));
        assert_int_equal(bcf_get_info_float(hdr, rec, "MD_DELTA", &v, &nv), rec->n_allele - 1);
        memcpy(delta, v, sizeof(float) * (size_t)(rec->n_allele - 1));
        for (int a = 0; a < rec->n_allele - 1; a++) {
            if (!strcmp(rec->d.allele[a + 1], "*")) {
                assert_true(bcf_float_is_missing(alt[a]) && bcf_float_is_missing(delta[a]));
                continue;
            }
            assert_true(alt[a] >= 0 && alt[a] <= 1);
            assert_float_equal(delta[a], alt[a] - ref, 1e-7);
        }
    }
    assert_int_equal(n, 14);
    assert_int_equal(n_ann, 8);
    free(v);
    bcf_destroy(rec);
    bcf_hdr_destroy(hdr);
    hts_close(in);
    md_model_free(m);
}

/* Input that is not VCF fails before any output; a bgzipped VCF cut in its
 * second block fails after records were written: neither leaves a file. */
static void test_failure_leaves_nothing(void **state)
{
    (void)state;
    char genome[512], bad[512], cut[512], out[512];
    md_test_path(genome, sizeof genome, md_test_data_dir(), "../../data/genomes/22_20-21M.fa");
    snprintf(bad, sizeof bad, "%s/bad.vcf", md_test_tmpdir());
    snprintf(cut, sizeof cut, "%s/cut.vcf.gz", md_test_tmpdir());
    snprintf(out, sizeof out, "%s/bad-out.vcf", md_test_tmpdir());
    FILE *f = fopen(bad, "w");
    assert_non_null(f);
    fputs(">not-a-vcf\nACGTACGT\n", f);
    fclose(f);
    md_model *m = small_model();
    md_variants_opt o;
    md_variants_opt_init(&o);
    assert_int_equal(md_variants_opt_resolve(&o, m), 0);
    assert_true(md_variants_run(m, bad, genome, NULL, 0, out, &o, NULL) < -1);
    assert_true(strstr(md_last_error(), "bad.vcf") && strstr(md_last_error(), "not VCF"));
    assert_int_equal(access(out, F_OK), -1);

    BGZF *z = bgzf_open(cut, "w");
    assert_non_null(z);
    const char *hdr = "##fileformat=VCFv4.2\n##contig=<ID=22:20000001-21000000,length=1000000>\n"
                      "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n";
    assert_true(bgzf_write(z, hdr, strlen(hdr)) > 0);
    for (int i = 0; i < 4000; i++) { /* about 150 kB: three BGZF blocks */
        char line[128];
        int n = snprintf(line, sizeof line, "22:20000001-21000000\t%d\trecord%d\tN\tA\t.\t.\t.\n",
                         100000 + i, i);
        assert_true(bgzf_write(z, line, (size_t)n) == n);
    }
    assert_int_equal(bgzf_close(z), 0);
    FILE *g = fopen(cut, "r+");
    assert_non_null(g);
    fseek(g, 0, SEEK_END);
    long size = ftell(g);
    fclose(g);
    assert_int_equal(truncate(cut, size / 2), 0);
    md_variants_stats st;
    assert_true(md_variants_run(m, cut, genome, NULL, 0, out, &o, &st) < -1);
    assert_true(st.records > 0); /* it failed on the way, not at the start */
    assert_true(strstr(md_last_error(), "cut.vcf.gz") != NULL);
    assert_int_equal(access(out, F_OK), -1);
    md_model_free(m);
}

int main(void)
{
    md_set_log_level(MD_LOG_ERROR);
    hts_set_log_level(HTS_LOG_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bcf_read_back),
        cmocka_unit_test(test_failure_leaves_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
