/* test_region.c: region strings, BED lines and files, checks against a
 * FASTA index (fixtures in tests/data/seqio). */
#include "testutil.h"

#include <zlib.h>
#include <htslib/hts.h>

static const char *fixture(const char *name)
{
    static char b[4][4096];
    static int k;
    char *p = b[k++ & 3];
    snprintf(p, sizeof b[0], "%s/seqio/%s", md_test_data_dir(), name);
    return p;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("expected \"%s\" in the message \"%s\"", needle, hay);
}

/* ------------------------------------------------------------------ */
/* region strings                                                      */
/* ------------------------------------------------------------------ */

static const struct {
    const char *str, *contig;
    int64_t beg, end;
} good_regions[] = {
    {"chr1", "chr1", 0, INT64_MAX},
    {"chr1:100", "chr1", 99, INT64_MAX},
    {"chr1:100-200", "chr1", 99, 200},
    {"chr1:1-1", "chr1", 0, 1},
    {"chr1:1,000-2,000", "chr1", 999, 2000},
    {"chr1:1,000,000", "chr1", 999999, INT64_MAX},
    {"chr1:-200", "chr1", 0, 200},
    {"chr1:100-", "chr1", 99, INT64_MAX},
    {"chr1:", "chr1", 0, INT64_MAX},
    {"CHROMOSOME_I:999951-1000050", "CHROMOSOME_I", 999950, 1000050},
    {"chr1:4611686018427387904-4611686018427387905", "chr1",
     4611686018427387903LL, 4611686018427387905LL},
    /* names with ':' whose last part is not a range */
    {"chrUn:abc", "chrUn:abc", 0, INT64_MAX},
    {"HLA-A*01:01:01:02N", "HLA-A*01:01:01:02N", 0, INT64_MAX},
    {"HLA-A*01:01:01:02N:5-10", "HLA-A*01:01:01:02N", 4, 10},
    {"a:b:1-2", "a:b", 0, 2},
    /* braces, as htslib, for names that look like ranges */
    {"{HLA-DRB1*12:17}", "HLA-DRB1*12:17", 0, INT64_MAX},
    {"{HLA-DRB1*12:17}:5-6", "HLA-DRB1*12:17", 4, 6},
    {"{chr1}", "chr1", 0, INT64_MAX},
    {"{chr1}:", "chr1", 0, INT64_MAX},
    /* without the contig names a name ending in ":DIGITS" reads as a range
     * (htslib needs its header to tell): braces say which is meant */
    {"HLA-A*01:01", "HLA-A*01", 0, INT64_MAX},
    {"chr1-2:3", "chr1-2", 2, INT64_MAX},
    /* multipliers, as htslib */
    {"chr1:1k", "chr1", 999, INT64_MAX},
    {"chr1:2.5k-3M", "chr1", 2499, 3000000},
    {"chr1:1G-1,000,000,001", "chr1", 999999999, 1000000001},
    {"chr1:1.5", "chr1:1.5", 0, INT64_MAX}, /* not a position: a name */
};

static void test_region_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof good_regions / sizeof good_regions[0]; i++) {
        md_region reg;
        int ret = md_region_parse(good_regions[i].str, &reg);
        if (ret != 0) fail_msg("%s: %s", good_regions[i].str, md_last_error());
        assert_string_equal(reg.contig, good_regions[i].contig);
        if (reg.beg != good_regions[i].beg || reg.end != good_regions[i].end)
            fail_msg("%s: [%lld, %lld)", good_regions[i].str, (long long)reg.beg,
                     (long long)reg.end);
        assert_null(reg.name);
        assert_int_equal(reg.strand, '.');
        md_region_free(&reg);
        md_region_free(&reg); /* safe twice */
    }
}

/* Same as htslib's hts_parse_region (samtools' parser, which needs the
 * contig names) wherever htslib accepts a region with a start >= 1. */
static int known_contig(void *hdr, const char *name)
{
    (void)hdr;
    const char *names[] = {"chr1", "a:b", "X", "HLA-A*01:01", "{x}"};
    for (int i = 0; i < 5; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

static void test_region_parse_matches_htslib(void **state)
{
    (void)state;
    const char *strs[] = {"chr1", "chr1:100", "chr1:100-200", "chr1:1,000-2,000",
                          "chr1:-200", "chr1:100-", "a:b:1-2", "a:b", "chr1:1-1",
                          "X:5,000,000-5,000,100", "chr1:1k", "chr1:2.5k-3M",
                          "HLA-A*01:01:5-9", "{HLA-A*01:01}", "{chr1}:5-6",
                          "chr1:"};
    int level = hts_get_log_level();
    hts_set_log_level(HTS_LOG_OFF);
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        hts_pos_t hb, he;
        int tid;
        const char *e = hts_parse_region(strs[i], &tid, &hb, &he, known_contig,
                                         NULL, HTS_PARSE_THOUSANDS_SEP);
        if (!e) fail_msg("htslib rejects %s", strs[i]);
        md_region reg;
        assert_int_equal(md_region_parse(strs[i], &reg), 0);
        if (tid != known_contig(NULL, reg.contig)) fail_msg("%s: contig %s", strs[i], reg.contig);
        if (reg.beg != hb || reg.end != (he >= HTS_POS_MAX ? INT64_MAX : he))
            fail_msg("%s: [%lld, %lld) but htslib [%lld, %lld)", strs[i],
                     (long long)reg.beg, (long long)reg.end, (long long)hb, (long long)he);
        md_region_free(&reg);
    }
    hts_set_log_level(level);
}

static void test_region_parse_errors(void **state)
{
    (void)state;
    const char *bad[] = {
        "",               /* empty */
        "chr1:0-100",     /* 1-based */
        "chr1:0",
        "chr1:-0",
        "chr1:200-100",   /* reversed */
        "chr1:99999999999999999999",  /* overflow */
        "chr1:1-9223372036854775807", /* the open-end sentinel itself */
        ":100-200",       /* no contig */
        ":",
        "{chr1",          /* braces */
        "{chr1}x",
        "{chr1}:abc",
        "{}:1-2",
        "chr 1:1-2",      /* white space */
        "chr1:1-2\n",
        "chr1\t",
        "chr1:1.0001k",   /* not a whole position */
        "chr1:1.0000000001k",
        "chr1:99999999999G",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        md_region reg;
        memset(&reg, 0x5a, sizeof reg);
        int ret = md_region_parse(bad[i], &reg);
        if (ret >= 0) fail_msg("'%s' was accepted", bad[i]);
        assert_true(ret < -1);
        assert_null(reg.contig); /* nothing to free */
        assert_null(reg.name);
        if (bad[i][0] && !strchr(bad[i], '\n') && !strchr(bad[i], '\t'))
            assert_contains(md_last_error(), bad[i]);
        md_region_free(&reg);
    }
    assert_true(md_region_parse(NULL, &(md_region){0}) < -1);
    assert_true(md_region_parse("chr1", NULL) < -1);
    assert_contains((md_region_parse("chr1:0-5", &(md_region){0}), md_last_error()),
                    "1-based");
    assert_contains((md_region_parse("chr1:9-5", &(md_region){0}), md_last_error()),
                    "after the end");
}

/* ------------------------------------------------------------------ */
/* BED lines                                                           */
/* ------------------------------------------------------------------ */

static void test_bed_parse_line(void **state)
{
    (void)state;
    static const struct {
        const char *line, *contig, *name;
        int64_t beg, end;
        char strand;
    } good[] = {
        {"chr1\t0\t100", "chr1", NULL, 0, 100, '.'},
        {"chr1\t0\t100\n", "chr1", NULL, 0, 100, '.'},
        {"chr1\t0\t100\r\n", "chr1", NULL, 0, 100, '.'},
        {"chr1\t99\t200\tpeak 1", "chr1", "peak 1", 99, 200, '.'},
        {"chr1\t99\t200\tpk\t0", "chr1", "pk", 99, 200, '.'},
        {"chr2\t0\t1584\tw\t0\t-", "chr2", "w", 0, 1584, '-'},
        {"chr2\t0\t1584\tw\t960\t+\t0\t1584\t255,0,0\t1\t1584,\t0,", "chr2", "w",
         0, 1584, '+'},
        {"chr1\t5\t5\tz\t.\t.\r", "chr1", "z", 5, 5, '.'},
        {"chr1\t5\t6\t\t.\t+", "chr1", NULL, 5, 6, '+'},
        {"chr1 1 2 space_separated", "chr1", "space_separated", 1, 2, '.'},
        {"chr1  1   2", "chr1", NULL, 1, 2, '.'},
        {"chr1\t9223372036854775806\t9223372036854775806", "chr1", NULL,
         9223372036854775806LL, 9223372036854775806LL, '.'},
        {"chr1\t007\t010", "chr1", NULL, 7, 10, '.'},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        md_region reg;
        int ret = md_bed_parse_line(good[i].line, &reg);
        if (ret != 0) fail_msg("line %zu: %d %s", i, ret, md_last_error());
        assert_string_equal(reg.contig, good[i].contig);
        if (good[i].name)
            assert_string_equal(reg.name, good[i].name);
        else
            assert_null(reg.name);
        assert_int_equal(reg.beg, good[i].beg);
        assert_int_equal(reg.end, good[i].end);
        assert_int_equal(reg.strand, good[i].strand);
        md_region_free(&reg);
    }

    const char *skip[] = {"", "\n", "\r\n", "   \t ", "# comment", "#chr1\t0\t1",
                          "  # indented comment", "track name=x", "track",
                          "browser position chr1:1-100", "browser\r\n"};
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++) {
        md_region reg;
        assert_int_equal(md_bed_parse_line(skip[i], &reg), 1);
        assert_null(reg.contig);
    }

    static const struct { const char *line, *msg; } bad[] = {
        {"chr1\t-5\t10", "not a non-negative integer"},
        {"chr1\t+5\t10", "not a non-negative integer"},
        {"chr1\t10\t5", "greater than end"},
        {"chr1\t10x\t20", "'10x'"},
        {"chr1\t10\t20 ", "'20 '"},
        {"chr1\t1.5\t20", "'1.5'"},
        {"chr1\t1e3\t2000", "'1e3'"},
        {"chr1\t0\t99999999999999999999", "too large"},
        {"chr1\t0\t9223372036854775807", "too large"},
        {"chr1\t\t10", "column 2 (start) is empty"},
        {"chr1\t0\t", "column 3 (end) is empty"},
        {"\t0\t10", "column 1 (chrom) is empty"},
        {"chr 1\t0\t10", "white space"},
        {"chr1\t0", "2 columns"},
        {"chr1", "1 column"},
        {"chr1 0", "2 columns"},
        {"chr1\t0\t10\tn\t0\tx", "strand"},
        {"chr1\t0\t10\tn\t0\t++", "strand"},
        {"chr1\t0\t10\tn\t0\t", "strand"},
        {"trackless\t0\t-1", "not a non-negative integer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        md_region reg;
        int ret = md_bed_parse_line(bad[i].line, &reg);
        if (ret != MD_ERR_FORMAT)
            fail_msg("'%s' gave %d, not MD_ERR_FORMAT", bad[i].line, ret);
        assert_null(reg.contig);
        assert_null(reg.name);
        assert_contains(md_last_error(), bad[i].msg);
    }
    assert_true(md_bed_parse_line(NULL, &(md_region){0}) < -1);
    assert_true(md_bed_parse_line("chr1\t0\t1", NULL) < -1);
}

/* ------------------------------------------------------------------ */
/* BED files                                                           */
/* ------------------------------------------------------------------ */

static void check_regions_bed(md_region *r, size_t n)
{
    assert_int_equal(n, 6);
    assert_string_equal(r[0].contig, "chr1");
    assert_int_equal(r[0].beg, 0);
    assert_int_equal(r[0].end, 100);
    assert_null(r[0].name);
    assert_string_equal(r[1].name, "peak1"); /* CRLF line */
    assert_int_equal(r[1].beg, 99);
    assert_string_equal(r[2].contig, "chr2");
    assert_int_equal(r[2].strand, '-');
    assert_int_equal(r[2].end, 1584);
    assert_string_equal(r[3].name, "r4"); /* BED12 */
    assert_int_equal(r[3].strand, '+');
    assert_int_equal(r[4].beg, 5);
    assert_int_equal(r[4].end, 5);
    assert_string_equal(r[5].name, "space_separated");
    assert_int_equal(r[5].beg, 1);
    assert_int_equal(r[5].end, 2);
}

static void test_bed_read(void **state)
{
    (void)state;
    md_region *r = (md_region *)1;
    size_t n = 99;
    assert_int_equal(md_bed_read(fixture("regions.bed"), &r, &n), 0);
    check_regions_bed(r, n);
    md_regions_free(r, n);

    /* the same, gzip-compressed */
    char gz[4096];
    snprintf(gz, sizeof gz, "%s/regions.bed.gz", md_test_tmpdir());
    FILE *in = fopen(fixture("regions.bed"), "rb");
    gzFile out = gzopen(gz, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[4096];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, in)) > 0) gzwrite(out, buf, (unsigned)k);
    fclose(in);
    assert_int_equal(gzclose(out), Z_OK);
    assert_int_equal(md_bed_read(gz, &r, &n), 0);
    check_regions_bed(r, n);
    md_regions_free(r, n);

    /* an empty file: no regions, no error */
    char empty[4096];
    snprintf(empty, sizeof empty, "%s/empty.bed", md_test_tmpdir());
    FILE *f = fopen(empty, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(md_bed_read(empty, &r, &n), 0);
    assert_int_equal(n, 0);
    md_regions_free(r, n);
    md_regions_free(NULL, 0);
}

static void test_bed_read_errors(void **state)
{
    (void)state;
    md_region *r = (md_region *)1;
    size_t n = 99;
    assert_int_equal(md_bed_read(fixture("bad.bed"), &r, &n), MD_ERR_FORMAT);
    assert_null(r);
    assert_int_equal(n, 0);
    assert_contains(md_last_error(), "bad.bed line 4");
    assert_contains(md_last_error(), "'-5'");

    char missing[4096];
    snprintf(missing, sizeof missing, "%s/missing.bed", md_test_tmpdir());
    assert_int_equal(md_bed_read(missing, &r, &n), MD_ERR_IO);
    assert_contains(md_last_error(), "missing.bed");
    assert_contains(md_last_error(), "No such file");

    int level = hts_get_log_level();
    hts_set_log_level(HTS_LOG_OFF);
    assert_true(md_bed_read(fixture("ex1_subset.bam"), &r, &n) < -1);
    assert_contains(md_last_error(), "ex1_subset.bam");
    assert_true(md_bed_read(fixture("garbage.bin"), &r, &n) < -1);
    assert_contains(md_last_error(), "garbage.bin");
    hts_set_log_level(level);
    assert_true(md_bed_read(NULL, &r, &n) < -1);
}

/* ------------------------------------------------------------------ */
/* checks against an index                                             */
/* ------------------------------------------------------------------ */

static void test_region_check(void **state)
{
    (void)state;
    md_faidx *fx = md_faidx_open(fixture("ex1.fa"), 0); /* chr1 1575, chr2 1584 */
    if (!fx) fail_msg("%s", md_last_error());
    md_region reg;

    assert_int_equal(md_region_parse("chr1", &reg), 0);
    assert_int_equal(md_region_check(fx, &reg), 0);
    assert_int_equal(reg.beg, 0);
    assert_int_equal(reg.end, 1575); /* open end clamped */
    md_region_free(&reg);

    assert_int_equal(md_region_parse("chr2:1,500", &reg), 0);
    assert_int_equal(md_region_check(fx, &reg), 0);
    assert_int_equal(reg.beg, 1499);
    assert_int_equal(reg.end, 1584);
    md_region_free(&reg);

    assert_int_equal(md_region_parse("chr1:1575", &reg), 0); /* last base */
    assert_int_equal(md_region_check(fx, &reg), 0);
    assert_int_equal(reg.end, 1575);
    md_region_free(&reg);

    assert_int_equal(md_region_parse("chr1:1-1575", &reg), 0);
    assert_int_equal(md_region_check(fx, &reg), 0);
    md_region_free(&reg);

    /* out of range: names the contig, the coordinates and the length */
    assert_int_equal(md_region_parse("chr1:1500-1600", &reg), 0);
    assert_true(md_region_check(fx, &reg) < -1);
    assert_contains(md_last_error(), "chr1:1500-1600");
    assert_contains(md_last_error(), "length 1575");
    md_region_free(&reg);

    assert_int_equal(md_region_parse("chr1:1576", &reg), 0);
    assert_true(md_region_check(fx, &reg) < -1);
    assert_contains(md_last_error(), "chr1:1576-");
    assert_contains(md_last_error(), "length 1575");
    md_region_free(&reg);

    assert_int_equal(md_region_parse("chr1:2000-3000", &reg), 0);
    assert_true(md_region_check(fx, &reg) < -1);
    assert_contains(md_last_error(), "length 1575");
    md_region_free(&reg);

    /* unknown contig: named, with the fix */
    assert_int_equal(md_region_parse("chr3:1-10", &reg), 0);
    assert_true(md_region_check(fx, &reg) < -1);
    assert_contains(md_last_error(), "'chr3'");
    assert_contains(md_last_error(), "mambadna faidx");
    md_region_free(&reg);

    /* BED intervals: the whole contig and an empty one at its end are fine */
    assert_int_equal(md_bed_parse_line("chr2\t0\t1584", &reg), 0);
    assert_int_equal(md_region_check(fx, &reg), 0);
    md_region_free(&reg);
    assert_int_equal(md_bed_parse_line("chr2\t1584\t1584", &reg), 0);
    assert_int_equal(md_region_check(fx, &reg), 0);
    md_region_free(&reg);
    assert_int_equal(md_bed_parse_line("chr2\t1584\t1585", &reg), 0);
    assert_true(md_region_check(fx, &reg) < -1);
    assert_contains(md_last_error(), "chr2");
    md_region_free(&reg);

    /* every region of the fixture BED file fits */
    md_region *regs;
    size_t n;
    assert_int_equal(md_bed_read(fixture("regions.bed"), &regs, &n), 0);
    for (size_t i = 0; i < n; i++) assert_int_equal(md_region_check(fx, &regs[i]), 0);
    md_regions_free(regs, n);

    assert_true(md_region_check(NULL, &reg) < -1);
    assert_true(md_region_check(fx, NULL) < -1);
    md_faidx_close(fx);
}

/* Regions on the real C. elegans index. */
static void test_region_check_shared(void **state)
{
    (void)state;
    MD_REQUIRE_SHARED(dir);
    char p[4096];
    md_test_path(p, sizeof p, dir, "alignments/ce_htslib.fa");
    md_faidx *fx = md_faidx_open(p, 0);
    if (!fx) fail_msg("%s", md_last_error());
    md_region reg;
    assert_int_equal(md_region_parse("CHROMOSOME_I:1,000,000", &reg), 0);
    assert_int_equal(md_region_check(fx, &reg), 0);
    assert_int_equal(reg.end, 1009800);
    md_record rec = {0};
    assert_int_equal(md_faidx_fetch(fx, reg.contig, reg.beg, reg.end, &rec), 0);
    assert_int_equal(rec.len, 9801);
    md_region_free(&reg);
    assert_int_equal(md_region_parse("chrI:1-10", &reg), 0);
    assert_true(md_region_check(fx, &reg) < -1);
    assert_contains(md_last_error(), "CHROMOSOME_I"); /* lists contigs */
    md_region_free(&reg);
    md_record_free(&rec);
    md_faidx_close(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_region_parse),
        cmocka_unit_test(test_region_parse_matches_htslib),
        cmocka_unit_test(test_region_parse_errors),
        cmocka_unit_test(test_bed_parse_line),
        cmocka_unit_test(test_bed_read),
        cmocka_unit_test(test_bed_read_errors),
        cmocka_unit_test(test_region_check),
        cmocka_unit_test(test_region_check_shared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
