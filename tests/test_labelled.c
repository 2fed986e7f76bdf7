/* test_labelled.c: the labelled-sequence readers (CSV/TSV, FASTA with
 * label=K, one FASTA per class, BED + genome). Fixtures are in
 * tests/data/labelled (see its README.md); the tests on the full GUE and
 * E. coli sets skip when ../shared/data is absent. */
#include "testutil.h"

static const char *fixture(const char *name)
{
    static char b[4][4096];
    static int k;
    char *p = b[k++ & 3];
    snprintf(p, sizeof b[0], "%s/labelled/%s", md_test_data_dir(), name);
    return p;
}

static const char *tmp_path(const char *name)
{
    static char b[4][4096];
    static int k;
    char *p = b[k++ & 3];
    snprintf(p, sizeof b[0], "%s/%s", md_test_tmpdir(), name);
    return p;
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

static void read_ok(const char *path, md_labelled *d)
{
    int ret = md_labelled_read(path, d);
    if (ret != 0) fail_msg("md_labelled_read(%s): %s", path, md_last_error());
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle)) fail_msg("'%s' does not contain '%s'", hay, needle);
}

/* Reading path fails; the message names the file and has every piece. */
static void read_fails(const char *path, const char *piece1, const char *piece2)
{
    md_labelled d;
    memset(&d, 0xab, sizeof d);
    int ret = md_labelled_read(path, &d);
    if (ret >= 0) fail_msg("md_labelled_read(%s) succeeded", path);
    assert_true(ret < -1);
    const char *msg = md_last_error();
    assert_contains(msg, path);
    if (piece1) assert_contains(msg, piece1);
    if (piece2) assert_contains(msg, piece2);
    assert_int_equal(d.n, 0); /* left empty */
    assert_null(d.seqs);
    md_labelled_free(&d);
}

/* ------------------------------------------------------------------ */
/* CSV / TSV                                                           */
/* ------------------------------------------------------------------ */

static void test_csv_gue_head(void **state)
{
    (void)state;
    md_labelled d;
    read_ok(fixture("gue_tata_dev_head.csv"), &d);
    assert_int_equal(d.n, 20); /* 21 lines, one header */
    assert_int_equal(d.n_classes, 2);
    /* first and last rows of prom_core_tata/dev.csv */
    assert_string_equal(d.seqs[0], "TGCTTAAATACCCGACCTTGCTGCACCAGAGAAAGAAGCAGCGATTCCTCAGTAAACACATCTCTCACCG");
    assert_int_equal(d.labels[0], 0);
    assert_int_equal(d.labels[1], 1);
    assert_string_equal(d.names[0], "row0");
    assert_string_equal(d.names[19], "row19");
    int64_t ones = 0;
    for (int64_t i = 0; i < d.n; i++) {
        assert_int_equal(d.lens[i], 70);
        assert_int_equal((int64_t)strlen(d.seqs[i]), 70);
        ones += d.labels[i];
    }
    assert_int_equal(ones, 8);
    md_labelled_free(&d);
    assert_int_equal(d.n, 0);
    md_labelled_free(&d); /* twice is harmless */
}

static void test_tsv_no_header_crlf(void **state)
{
    (void)state;
    md_labelled d;
    read_ok(fixture("no_header_crlf.tsv"), &d);
    assert_int_equal(d.n, 10); /* no header: the first row is data */
    assert_int_equal(d.n_classes, 2);
    assert_string_equal(d.seqs[0], "GGAATATAGAGCTCATGTGATCCGTCACATGACAGCAGATCCGCGGAAGGGCAGAATGGGACTCCAAGCC");
    assert_int_equal(d.labels[0], 1);
    assert_int_equal(d.labels[1], 0);
    for (int64_t i = 0; i < d.n; i++) {
        assert_int_equal(d.lens[i], 70);
        assert_null(strchr(d.seqs[i], '\r'));
    }
    md_labelled_free(&d);
}

static void test_csv_named_columns(void **state)
{
    (void)state;
    /* "label","sequence" (swapped, quoted), CRLF, a blank line, blanks
     * around a field */
    md_labelled d;
    read_ok(fixture("named_cols.csv"), &d);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.n_classes, 3);
    assert_string_equal(d.seqs[0], "ACGTAC");
    assert_int_equal(d.labels[0], 1);
    assert_string_equal(d.seqs[1], "GGGTTT");
    assert_int_equal(d.labels[1], 0);
    assert_string_equal(d.seqs[2], "TTAACC");
    assert_int_equal(d.lens[2], 6);
    assert_int_equal(d.labels[2], 2);
    md_labelled_free(&d);
}

static void test_csv_variants(void **state)
{
    (void)state;
    md_labelled d;
    /* extra columns named in the header, picked by name */
    const char *p = tmp_path("named3.csv");
    write_file(p, "id,label,gc,sequence\nx,1,0.5,ACGT\ny,0,0.2,GGA\n");
    read_ok(p, &d);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.seqs[1], "GGA");
    assert_int_equal(d.labels[0], 1);
    md_labelled_free(&d);
    /* a header that does not name the columns: sequence first, label second */
    p = tmp_path("seqy.csv");
    write_file(p, "seq,y\nAAAA,3\n");
    read_ok(p, &d);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.n_classes, 4);
    md_labelled_free(&d);
    /* gzip is read as well */
    p = tmp_path("g.csv");
    write_file(p, "sequence,label\nACGT,1\nTTTT,0\n");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "gzip -f '%s'", p);
    assert_int_equal(system(cmd), 0);
    read_ok(tmp_path("g.csv.gz"), &d);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.seqs[1], "TTTT");
    md_labelled_free(&d);
    /* "+0" is a label; "01" too */
    p = tmp_path("plus.tsv");
    write_file(p, "ACGT\t+0\nACGT\t01\n");
    read_ok(p, &d);
    assert_int_equal(d.labels[0], 0);
    assert_int_equal(d.labels[1], 1);
    md_labelled_free(&d);
}

static void test_csv_errors(void **state)
{
    (void)state;
    read_fails(fixture("bad_label.csv"), "line 4", "'yes' is not an integer");
    read_fails(fixture("missing_col.csv"), "line 3", "missing field");
    read_fails(fixture("negative_label.tsv"), "line 3", "negative");
    read_fails(fixture("empty_seq.csv"), "line 3", "empty sequence");

    const char *p = tmp_path("first_bad.csv"); /* no header, bad first label */
    write_file(p, "ACGTACGT,x\nACGT,1\n");
    read_fails(p, "line 1", "not an integer");
    p = tmp_path("one_col.csv");
    write_file(p, "ACGTACGT\nACGT\n");
    read_fails(p, "line 1", "one column");
    p = tmp_path("header_only.csv");
    write_file(p, "sequence,label\n");
    read_fails(p, "no rows", NULL);
    p = tmp_path("empty.csv");
    write_file(p, "\n\n");
    read_fails(p, "empty", NULL);
    p = tmp_path("quote.csv");
    write_file(p, "sequence,label\n\"ACGT,1\n");
    read_fails(p, "line 2", "quoted");
    p = tmp_path("big.csv");
    write_file(p, "ACGT,1\nACGT,99999999999\n");
    read_fails(p, "line 2", "too large");
    p = tmp_path("float.csv");
    write_file(p, "sequence,label\nACGT,1\nACGT,1.0\n");
    read_fails(p, "line 3", "'1.0' is not an integer");
    p = tmp_path("space.csv");
    write_file(p, "sequence,label\nAC GT,1\n");
    read_fails(p, "line 2", "position 3");
    p = tmp_path("onename.csv");
    write_file(p, "id,sequence,score\nx,ACGT,1\n");
    read_fails(p, "line 1", "no \"label\" column");
    p = tmp_path("reads.fq");
    write_file(p, "@r1\nACGT\n+\nIIII\n");
    read_fails(p, "FASTQ", NULL);
    read_fails(tmp_path("does_not_exist.csv"), "cannot open", NULL);
    assert_true(md_labelled_read(NULL, NULL) < -1);
}

/* ------------------------------------------------------------------ */
/* FASTA                                                               */
/* ------------------------------------------------------------------ */

static void test_fasta_labels(void **state)
{
    (void)state;
    md_labelled d;
    read_ok(fixture("labelled.fa"), &d);
    assert_int_equal(d.n, 4);
    assert_int_equal(d.n_classes, 3);
    assert_string_equal(d.names[0], "s1");
    assert_string_equal(d.seqs[0], "ACGTACGTACGGCC"); /* multi-line joined */
    assert_int_equal(d.lens[0], 14);
    assert_int_equal(d.labels[0], 1);
    assert_string_equal(d.names[1], "s2|label=0|src=x"); /* the first word */
    assert_int_equal(d.labels[1], 0);
    assert_string_equal(d.seqs[1], "acgtnnACGT"); /* case kept */
    assert_int_equal(d.labels[2], 2);
    assert_string_equal(d.names[3], "s4");
    assert_int_equal(d.labels[3], 0); /* "mylabel=7" is not label= */
    md_labelled_free(&d);
}

static void test_fasta_errors(void **state)
{
    (void)state;
    read_fails(fixture("no_label.fa"), "record 2", "no label=K");
    const char *p = tmp_path("neg.fa");
    write_file(p, ">a label=-1\nACGT\n");
    read_fails(p, "record 1", "negative");
    p = tmp_path("word.fa");
    write_file(p, ">a label=one\nACGT\n");
    read_fails(p, "record 1 ('a')", "not an integer");
    p = tmp_path("emptyseq.fa");
    write_file(p, ">a label=1\nACGT\n>b label=0\n>c label=1\nAC\n");
    read_fails(p, "record 2 ('b')", "empty sequence");
}

static void test_classes_epdnew(void **state)
{
    (void)state;
    /* EPDnew records have a blank line after the header and between lines */
    md_labelled d;
    int ret = md_labelled_read_classes(fixture("epdnew_hs_promoter_head.fa"),
                                       fixture("epdnew_hs_nonpromoter_head.fa"), &d);
    if (ret) fail_msg("%s", md_last_error());
    assert_int_equal(d.n, 6);
    assert_int_equal(d.n_classes, 2);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(d.labels[i], i < 3);
        assert_int_equal(d.lens[i], 300); /* -249..+50, +51..+350 */
        assert_null(strchr(d.seqs[i], '\n'));
    }
    assert_string_equal(d.names[0], "FP001162");
    assert_string_equal(d.names[3], "FP000378");
    assert_memory_equal(d.seqs[0], "CTCCACTTTTTCTCACGTTTATCTGAGCGAAAACAAGCACGGTTCGGCAGCCTCCTTTCCCAGCCC", 66);
    md_labelled_free(&d);

    /* a missing file, an empty file */
    ret = md_labelled_read_classes(fixture("epdnew_hs_promoter_head.fa"),
                                   tmp_path("missing.fa"), &d);
    assert_true(ret < -1);
    assert_contains(md_last_error(), "missing.fa");
    assert_int_equal(d.n, 0);
    const char *empty = tmp_path("empty.fa");
    write_file(empty, "");
    ret = md_labelled_read_classes(empty, fixture("epdnew_hs_promoter_head.fa"), &d);
    assert_true(ret < -1);
    assert_contains(md_last_error(), "no sequences");
}

/* ------------------------------------------------------------------ */
/* BED                                                                 */
/* ------------------------------------------------------------------ */

static void test_bed(void **state)
{
    (void)state;
    md_labelled d;
    int ret = md_labelled_read_bed(fixture("labelled.bed"), fixture("genome.fa"), &d);
    if (ret) fail_msg("%s", md_last_error());
    assert_int_equal(d.n, 4); /* track and comment lines skipped */
    assert_int_equal(d.n_classes, 2);
    assert_string_equal(d.names[0], "p1");
    assert_string_equal(d.seqs[0], "GAGTTTTATCGCTTCCATGA"); /* phix:1-20 */
    assert_int_equal(d.labels[0], 1);
    /* phix [100, 130) on '-': reverse complement of
     * CGAATTAAATCGAAGTGGACTGCTGGCGGA */
    assert_string_equal(d.names[1], "p2");
    assert_string_equal(d.seqs[1], "TCCGCCAGCAGTCCACTTCGATTTAATTCG");
    assert_int_equal(d.labels[1], 0);
    /* name "." -> coordinates; lambda [10, 40) on '-' */
    assert_string_equal(d.names[2], "lambda:11-40(-)");
    assert_string_equal(d.seqs[2], "AAATTTTCATAAATAGCGAAAACCCGCGAG");
    assert_int_equal(d.lens[3], 12);
    assert_string_equal(d.seqs[3], "GGGCGGCGACCT");
    md_labelled_free(&d);
}

static void test_bed_errors(void **state)
{
    (void)state;
    md_labelled d;
    const char *g = fixture("genome.fa");
    assert_true(md_labelled_read_bed(fixture("bad_label_column.bed"), g, &d) < -1);
    assert_contains(md_last_error(), "bad_label_column.bed line 2");
    assert_contains(md_last_error(), "column 5");
    assert_int_equal(d.n, 0);

    const char *p = tmp_path("range.bed");
    write_file(p, "phix\t0\t10\ta\t1\nphix\t200\t300\tb\t0\n");
    assert_true(md_labelled_read_bed(p, g, &d) < -1);
    assert_contains(md_last_error(), "range.bed line 2");
    assert_contains(md_last_error(), "out of range");
    p = tmp_path("contig.bed");
    write_file(p, "chr1\t0\t10\ta\t1\n");
    assert_true(md_labelled_read_bed(p, g, &d) < -1);
    assert_contains(md_last_error(), "contig.bed line 1");
    assert_contains(md_last_error(), "chr1");
    p = tmp_path("lab.bed");
    write_file(p, "phix\t0\t10\ta\t0.5\n");
    assert_true(md_labelled_read_bed(p, g, &d) < -1);
    assert_contains(md_last_error(), "lab.bed line 1");
    assert_contains(md_last_error(), "not an integer");
    p = tmp_path("coords.bed");
    write_file(p, "phix\tx\t10\ta\t0\n");
    assert_true(md_labelled_read_bed(p, g, &d) < -1);
    assert_contains(md_last_error(), "coords.bed line 1");
    p = tmp_path("emptyiv.bed");
    write_file(p, "phix\t5\t5\ta\t0\n");
    assert_true(md_labelled_read_bed(p, g, &d) < -1);
    assert_contains(md_last_error(), "empty interval");
    /* a genome without an index: the message says how to make one */
    const char *fa = tmp_path("noindex.fa");
    write_file(fa, ">phix\nACGTACGTACGT\n");
    assert_true(md_labelled_read_bed(fixture("labelled.bed"), fa, &d) < -1);
    assert_contains(md_last_error(), "faidx");
}

/* ------------------------------------------------------------------ */
/* Shared data                                                         */
/* ------------------------------------------------------------------ */

static void test_shared_gue_core_all(void **state)
{
    (void)state;
    MD_REQUIRE_SHARED(dir);
    char p[4096];
    md_test_path(p, sizeof p, dir, "promoters/gue/prom_core_all/train.csv");
    md_labelled d;
    read_ok(p, &d);
    assert_int_equal(d.n, 47356);
    assert_int_equal(d.n_classes, 2);
    int64_t count[2] = {0, 0};
    for (int64_t i = 0; i < d.n; i++) {
        assert_int_equal(d.lens[i], 70);
        count[d.labels[i]]++;
    }
    assert_true(count[0] > 10000 && count[1] > 10000);
    md_labelled_free(&d);
}

static void test_shared_gue_300(void **state)
{
    (void)state;
    MD_REQUIRE_SHARED(dir);
    char p[4096];
    md_test_path(p, sizeof p, dir, "promoters/gue/prom_300_tata/dev.csv");
    md_labelled d;
    read_ok(p, &d);
    assert_int_equal(d.n, 613);
    for (int64_t i = 0; i < d.n; i++) assert_int_equal(d.lens[i], 300);
    md_labelled_free(&d);
}

static void test_shared_ecoli(void **state)
{
    (void)state;
    MD_REQUIRE_SHARED(dir);
    char pos[4096], neg[4096];
    md_test_path(pos, sizeof pos, dir,
                 "promoters/ecoli/benchmark/promoter_and_non-promoter/positive2860.txt");
    md_test_path(neg, sizeof neg, dir,
                 "promoters/ecoli/benchmark/promoter_and_non-promoter/negative2860.txt");
    md_labelled d;
    int ret = md_labelled_read_classes(pos, neg, &d);
    if (ret) fail_msg("%s", md_last_error());
    assert_int_equal(d.n, 5720);
    for (int64_t i = 0; i < d.n; i++) {
        assert_int_equal(d.labels[i], i < 2860);
        assert_int_equal(d.lens[i], 81); /* -60..+20, multi-line, CRLF in one */
        assert_null(strchr(d.seqs[i], '\r'));
    }
    /* mixed case kept as read (the tokenizer takes either case) */
    assert_string_equal(d.names[0], "ECK125137714_aaeBp3_reverse_3388263_[ICWHO|W|Inferred");
    assert_int_equal(d.seqs[0][0], 'c');
    assert_int_equal(d.seqs[0][60], 'A');
    md_labelled_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_gue_head),
        cmocka_unit_test(test_tsv_no_header_crlf),
        cmocka_unit_test(test_csv_named_columns),
        cmocka_unit_test(test_csv_variants),
        cmocka_unit_test(test_csv_errors),
        cmocka_unit_test(test_fasta_labels),
        cmocka_unit_test(test_fasta_errors),
        cmocka_unit_test(test_classes_epdnew),
        cmocka_unit_test(test_bed),
        cmocka_unit_test(test_bed_errors),
        cmocka_unit_test(test_shared_gue_core_all),
        cmocka_unit_test(test_shared_gue_300),
        cmocka_unit_test(test_shared_ecoli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
