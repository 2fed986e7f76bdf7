/* test_seqio.c: FASTA/FASTQ/SAM/BAM/CRAM reading and indexed FASTA access.
 * Fixtures are in tests/data/seqio (see its README.md); the tests on the
 * larger real data sets skip when ../shared/data is absent. */
#include "testutil.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>
#include <htslib/bgzf.h>
#include <htslib/hts.h>

/* ------------------------------------------------------------------ */
/* helpers                                                             */
/* ------------------------------------------------------------------ */

static char pathbuf[4][4096];

/* Path of a fixture in tests/data/seqio (four rotating buffers). */
static const char *fixture(const char *name)
{
    static int k;
    char *b = pathbuf[k++ & 3];
    snprintf(b, sizeof pathbuf[0], "%s/seqio/%s", md_test_data_dir(), name);
    return b;
}

static const char *tmp_path(const char *name)
{
    static char b[4][4096];
    static int k;
    char *p = b[k++ & 3];
    snprintf(p, sizeof b[0], "%s/%s", md_test_tmpdir(), name);
    return p;
}

static md_reader *open_or_fail(const char *path, const md_reader_opt *opt)
{
    md_reader *r = md_reader_open(path, opt);
    if (!r) fail_msg("md_reader_open(%s): %s", path, md_last_error());
    return r;
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

/* Copy the first n bytes of a file (to make truncated inputs). */
static void copy_prefix(const char *from, const char *to, long n)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char *buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, in), (size_t)n);
    assert_int_equal(fwrite(buf, 1, (size_t)n, out), (size_t)n);
    free(buf);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

static long file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (long)st.st_size;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("expected \"%s\" in the message \"%s\"", needle, hay);
}

static void revcomp_copy(const char *s, char *out)
{
    size_t n = strlen(s);
    memcpy(out, s, n + 1);
    md_revcomp_seq(out, (int64_t)n);
}

/* Read every record; returns the count, fails on an error. */
static int64_t count_records(const char *path, const md_reader_opt *opt,
                             int64_t *total_len)
{
    md_reader *r = open_or_fail(path, opt);
    md_record rec = {0};
    int64_t n = 0, total = 0;
    int ret;
    while ((ret = md_reader_next(r, &rec)) == 0) {
        n++;
        total += rec.len;
        assert_int_equal(strlen(rec.seq), (size_t)rec.len);
        assert_null(memchr(rec.seq, '\r', (size_t)rec.len));
        assert_null(strchr(rec.name, '\r'));
        assert_null(strchr(rec.comment, '\r'));
    }
    if (ret != MD_EOF) fail_msg("%s: %d %s", path, ret, md_last_error());
    md_record_free(&rec);
    md_reader_close(r);
    if (total_len) *total_len = total;
    return n;
}

/* ------------------------------------------------------------------ */
/* FASTA                                                               */
/* ------------------------------------------------------------------ */

static void test_opt_defaults(void **state)
{
    (void)state;
    md_reader_opt opt;
    memset(&opt, 0x5a, sizeof opt);
    md_reader_opt_init(&opt);
    assert_int_equal(opt.restore_orientation, 1);
    assert_int_equal(opt.primary_only, 1);
    assert_null(opt.reference);
    assert_int_equal(opt.threads, 0);
}

/* First 2,030 bases of phiX174 with CRLF line ends. */
static void test_fasta_crlf(void **state)
{
    (void)state;
    md_reader *r = open_or_fail(fixture("phix_2k_crlf.fa"), NULL);
    assert_int_equal(md_reader_format(r), MD_FMT_FASTA);
    md_record rec = {0};
    assert_int_equal(md_reader_next(r, &rec), 0);
    assert_string_equal(rec.name, "gi|216019|gb|J02482.1|PX1CG");
    assert_string_equal(rec.comment, "Coliphage phi-X174, complete genome");
    assert_int_equal(rec.len, 2030);
    assert_int_equal(strlen(rec.seq), 2030);
    assert_null(strchr(rec.seq, '\r'));
    assert_null(strchr(rec.seq, '\n'));
    assert_memory_equal(rec.seq, "GAGTTTTATCGCTTCCATGA", 20);
    assert_memory_equal(rec.seq + 2010, "TGGTGATTCGTCTAAGAAGT", 20);
    assert_int_equal(rec.flag, 0);
    assert_int_equal(rec.beg, 0);
    assert_int_equal(md_reader_next(r, &rec), MD_EOF);
    assert_int_equal(md_reader_next(r, &rec), MD_EOF); /* stays at EOF */
    md_record_free(&rec);
    md_record_free(&rec); /* safe twice */
    md_reader_close(r);
}

/* Blank lines, lowercase, IUPAC codes and empty records; plain and gzip. */
static void test_fasta_mixed(void **state)
{
    (void)state;
    static const struct { const char *name, *comment, *seq; } want[] = {
        {"seq1", "first record, blank line after header",
         "ACGTacgtNNnnRYKMSWBDHVacgt"},
        {"empty1", "an empty record", ""},
        {"seq3", "", "ACGT-.*X"},
        {"seq4", "tab comment", "A"},
        {"empty_at_end", "", ""},
    };
    const char *files[] = {"mixed.fa", "mixed.fa.gz"};
    for (int f = 0; f < 2; f++) {
        md_reader *r = open_or_fail(fixture(files[f]), NULL);
        assert_int_equal(md_reader_format(r), MD_FMT_FASTA);
        md_record rec = {0};
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
            assert_int_equal(md_reader_next(r, &rec), 0);
            assert_string_equal(rec.name, want[i].name);
            assert_string_equal(rec.comment, want[i].comment);
            assert_string_equal(rec.seq, want[i].seq);
            assert_int_equal(rec.len, (int64_t)strlen(want[i].seq));
        }
        assert_int_equal(md_reader_next(r, &rec), MD_EOF);
        md_record_free(&rec);
        md_reader_close(r);
    }
}

/* CRLF blank lines right after headers and a header ending in " \r\n" (the
 * cases where kseq.h leaves a '\r' behind). */
static void test_fasta_crlf_blank_lines(void **state)
{
    (void)state;
    md_reader *r = open_or_fail(fixture("crlf_blank.fa"), NULL);
    md_record rec = {0};
    assert_int_equal(md_reader_next(r, &rec), 0);
    assert_string_equal(rec.name, "r1");
    assert_string_equal(rec.comment, "");
    assert_string_equal(rec.seq, "ACGTTT");
    assert_int_equal(md_reader_next(r, &rec), 0);
    assert_string_equal(rec.name, "r2");
    assert_int_equal(rec.len, 0);
    assert_string_equal(rec.seq, "");
    assert_int_equal(md_reader_next(r, &rec), 0);
    assert_string_equal(rec.name, "r3");
    assert_string_equal(rec.comment, "desc here");
    assert_string_equal(rec.seq, "A");
    assert_int_equal(md_reader_next(r, &rec), MD_EOF);
    md_record_free(&rec);
    md_reader_close(r);
}

/* htslib calls this text (the second line is a header): still FASTA. */
static void test_fasta_empty_first_record(void **state)
{
    (void)state;
    md_reader *r = open_or_fail(fixture("empty_first.fa"), NULL);
    assert_int_equal(md_reader_format(r), MD_FMT_FASTA);
    md_record rec = {0};
    assert_int_equal(md_reader_next(r, &rec), 0);
    assert_string_equal(rec.name, "e1");
    assert_int_equal(rec.len, 0);
    assert_int_equal(md_reader_next(r, &rec), 0);
    assert_string_equal(rec.name, "e2");
    assert_string_equal(rec.comment, "x");
    assert_string_equal(rec.seq, "AC");
    assert_int_equal(md_reader_next(r, &rec), MD_EOF);
    md_record_free(&rec);
    md_reader_close(r);
}

/* bgzip reads as plain, with and without decompression threads. */
static void test_fasta_bgzip(void **state)
{
    (void)state;
    md_reader_opt opt;
    md_reader_opt_init(&opt);
    for (int threads = 0; threads <= 2; threads += 2) {
        opt.threads = threads;
        md_reader *a = open_or_fail(fixture("ex1.fa"), &opt);
        md_reader *b = open_or_fail(fixture("ex1.fa.gz"), &opt);
        md_record ra = {0}, rb = {0};
        int n = 0;
        for (;;) {
            int x = md_reader_next(a, &ra), y = md_reader_next(b, &rb);
            assert_int_equal(x, y);
            if (x == MD_EOF) break;
            assert_int_equal(x, 0);
            assert_string_equal(ra.name, rb.name);
            assert_int_equal(ra.len, rb.len);
            assert_string_equal(ra.seq, rb.seq);
            assert_int_equal(ra.len, n == 0 ? 1575 : 1584);
            n++;
        }
        assert_int_equal(n, 2);
        md_record_free(&ra);
        md_record_free(&rb);
        md_reader_close(a);
        md_reader_close(b);
    }
}

/* One chromosome on one line of 64 Mb + CRLF, then a second record. */
static void test_fasta_long_line(void **state)
{
    (void)state;
    const int64_t n = 64 * 1000 * 1000 + 7;
    const char *path = tmp_path("long_line.fa");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(">chrBig long one\r\n", f);
    char *line = malloc((size_t)n);
    assert_non_null(line);
    for (int64_t i = 0; i < n; i++) line[i] = "ACGTacgtN"[(i * 7 + i / 13) % 9];
    assert_int_equal(fwrite(line, 1, (size_t)n, f), (size_t)n);
    fputs("\r\n\r\n>chrSmall\r\nGATTACA\r\n", f);
    assert_int_equal(fclose(f), 0);

    md_reader *r = open_or_fail(path, NULL);
    md_record rec = {0};
    assert_int_equal(md_reader_next(r, &rec), 0);
    assert_string_equal(rec.name, "chrBig");
    assert_string_equal(rec.comment, "long one");
    assert_int_equal(rec.len, n);
    assert_memory_equal(rec.seq, line, (size_t)n);
    assert_int_equal(rec.seq[n], '\0');
    assert_int_equal(md_reader_next(r, &rec), 0);
    assert_string_equal(rec.name, "chrSmall");
    assert_string_equal(rec.seq, "GATTACA");
    assert_int_equal(md_reader_next(r, &rec), MD_EOF);
    md_record_free(&rec);
    md_reader_close(r);
    free(line);
    unlink(path);
}

/* Bases of record k at position i: every letter the reader must keep. */
static char multiblock_base(int k, int64_t i)
{
    return "ACGTNacgtnRYKM"[(i * (2 * k + 3) + i / 61 + k) % 14];
}

/* Records of 0 bases to 5 Mb in lines of 60 (a record of more than 2 MB
 * outgrows the reader's first buffers), written plain and as BGZF of many
 * blocks: the BGZF file reads back to the same bases with 0, 1 and 2
 * decompression threads. */
static void test_fasta_bgzip_threads_many_blocks(void **state)
{
    (void)state;
    const int64_t lens[] = {5 * 1000 * 1000 + 17, 0, 123457, 61, 2 * 1024 * 1024};
    const int n_rec = (int)(sizeof lens / sizeof lens[0]);
    const char *plain = tmp_path("blocks.fa"), *gz = tmp_path("blocks.fa.gz");
    FILE *f = fopen(plain, "wb");
    BGZF *out = bgzf_open(gz, "w");
    assert_non_null(f);
    assert_non_null(out);
    char line[64];
    for (int k = 0; k < n_rec; k++) {
        int l = snprintf(line, sizeof line, ">rec%d piece %d\n", k, k);
        assert_int_equal(fwrite(line, 1, (size_t)l, f), (size_t)l);
        assert_int_equal(bgzf_write(out, line, (size_t)l), l);
        for (int64_t i = 0; i < lens[k]; i += 60) {
            int m = 0;
            for (int64_t j = i; j < i + 60 && j < lens[k]; j++) line[m++] = multiblock_base(k, j);
            line[m++] = '\n';
            assert_int_equal(fwrite(line, 1, (size_t)m, f), (size_t)m);
            assert_int_equal(bgzf_write(out, line, (size_t)m), m);
        }
    }
    assert_int_equal(fclose(f), 0);
    assert_int_equal(bgzf_close(out), 0);
    BGZF *in = bgzf_open(gz, "r");
    assert_non_null(in);
    int blocks = 0;
    while (bgzf_read_block(in) == 0 && in->block_length > 0) blocks++;
    bgzf_close(in);
    assert_true(blocks > 100); /* 7.3 MB of text in blocks of at most 64 kB */

    md_reader_opt opt;
    md_reader_opt_init(&opt);
    for (int threads = -1; threads <= 2; threads++) { /* -1: the plain file */
        opt.threads = threads < 0 ? 0 : threads;
        md_reader *r = open_or_fail(threads < 0 ? plain : gz, &opt);
        md_record rec = {0};
        for (int k = 0; k < n_rec; k++) {
            assert_int_equal(md_reader_next(r, &rec), 0);
            char name[16];
            snprintf(name, sizeof name, "rec%d", k);
            assert_string_equal(rec.name, name);
            assert_int_equal(rec.len, lens[k]);
            assert_int_equal(rec.seq[rec.len], '\0');
            for (int64_t i = 0; i < lens[k]; i++)
                if (rec.seq[i] != multiblock_base(k, i))
                    fail_msg("threads %d, record %d, base %lld: byte %d, expected '%c'", threads,
                             k, (long long)i, rec.seq[i], multiblock_base(k, i));
        }
        assert_int_equal(md_reader_next(r, &rec), MD_EOF);
        md_record_free(&rec);
        md_reader_close(r);
    }
    unlink(plain);
    unlink(gz);
}

/* "-" reads stdin, here a gzip FASTA. */
static void test_fasta_stdin(void **state)
{
    (void)state;
    int saved = dup(0);
    int fd = open(fixture("mixed.fa.gz"), O_RDONLY);
    assert_true(saved >= 0 && fd >= 0);
    assert_int_equal(dup2(fd, 0), 0);
    close(fd);
    int64_t total = 0;
    assert_int_equal(count_records("-", NULL, &total), 5);
    assert_int_equal(total, 26 + 8 + 1);
    assert_int_equal(dup2(saved, 0), 0);
    close(saved);
}

/* ------------------------------------------------------------------ */
/* FASTQ                                                               */
/* ------------------------------------------------------------------ */

static void test_fastq_gzip(void **state)
{
    (void)state;
    md_reader *r = open_or_fail(fixture("reads.fq.gz"), NULL);
    assert_int_equal(md_reader_format(r), MD_FMT_FASTQ);
    md_record rec = {0};
    assert_int_equal(md_reader_next(r, &rec), 0);
    assert_string_equal(rec.name, "EAS56_57:6:190:289:82/1");
    assert_string_equal(rec.seq, "AGGGGTGCAGAGCCGAGTCACGGGGTTGCCAGCAC");
    assert_int_equal(md_reader_next(r, &rec), 0);
    assert_string_equal(rec.name, "EAS56_57:6:190:289:82/2");
    assert_string_equal(rec.seq, "CTCAAGGTTGTTGCAAGGGGGTCTATGTGAACAAA");
    int n = 2;
    while (md_reader_next(r, &rec) == 0) {
        assert_int_equal(rec.len, 35);
        n++;
    }
    assert_int_equal(n, 10);
    md_record_free(&rec);
    md_reader_close(r);
}

/* Multi-line sequence and quality, CRLF, an empty read, a quality line
 * starting with '@'. */
static void test_fastq_multiline(void **state)
{
    (void)state;
    md_reader *r = open_or_fail(fixture("multiline.fq"), NULL);
    assert_int_equal(md_reader_format(r), MD_FMT_FASTQ);
    md_record rec = {0};
    assert_int_equal(md_reader_next(r, &rec), 0);
    assert_string_equal(rec.name, "q1");
    assert_string_equal(rec.comment, "comment");
    assert_string_equal(rec.seq, "ACGTAC");
    assert_int_equal(md_reader_next(r, &rec), 0);
    assert_string_equal(rec.name, "q2");
    assert_int_equal(rec.len, 0);
    assert_int_equal(md_reader_next(r, &rec), 0);
    assert_string_equal(rec.name, "q3");
    assert_string_equal(rec.seq, "NNNN");
    assert_int_equal(md_reader_next(r, &rec), MD_EOF);
    md_record_free(&rec);
    md_reader_close(r);
}

static void test_fastq_truncated(void **state)
{
    (void)state;
    md_reader *r = open_or_fail(fixture("truncated.fq"), NULL);
    md_record rec = {0};
    int ret = md_reader_next(r, &rec);
    assert_true(ret < -1);
    assert_contains(md_last_error(), "truncated.fq");
    assert_contains(md_last_error(), "'t1'");
    assert_contains(md_last_error(), "truncated");
    assert_true(md_reader_next(r, &rec) < -1); /* the error sticks */
    md_record_free(&rec);
    md_reader_close(r);
}

/* ------------------------------------------------------------------ */
/* SAM/BAM/CRAM                                                        */
/* ------------------------------------------------------------------ */

/* ex1_subset.sam: 25 reads of samtools_ex1.bam (5 on the reverse strand),
 * a secondary record without SEQ, a supplementary reverse record and an
 * unmapped read without SEQ. */
#define SUBSET_RECORDS 28
#define REV_READ "EAS54_61:4:143:69:578"
/* `samtools fastq samtools_ex1.bam | grep -A1 EAS54_61:4:143:69:578` */
#define REV_READ_FASTQ "CATTACAAATAGAACGGCTTAGAGGGGCTCCCAAT"

static void check_alignment_file(const char *name, int format)
{
    md_reader_opt opt;
    md_reader_opt_init(&opt);
    char ref[4096];
    snprintf(ref, sizeof ref, "%s", fixture("ex1.fa"));
    opt.reference = ref;
    for (int primary_only = 0; primary_only <= 1; primary_only++)
        for (int restore = 0; restore <= 1; restore++) {
            opt.primary_only = primary_only;
            opt.restore_orientation = restore;
            md_reader *r = open_or_fail(fixture(name), &opt);
            assert_int_equal(md_reader_format(r), format);
            md_record rec = {0};
            int n = 0, seen_rev = 0, seen_noseq = 0, seen_supp = 0, seen_sec = 0;
            int ret;
            while ((ret = md_reader_next(r, &rec)) == 0) {
                n++;
                assert_string_equal(rec.comment, "");
                assert_int_equal(strlen(rec.seq), (size_t)rec.len);
                if (n == 1) {
                    assert_string_equal(rec.name, "EAS56_57:6:190:289:82");
                    assert_int_equal(rec.flag, 73);
                    assert_string_equal(rec.seq, "AGGGGTGCAGAGCCGAGTCACGGGGTTGCCAGCAC");
                }
                if (strcmp(rec.name, REV_READ) == 0) {
                    seen_rev = 1;
                    assert_int_equal(rec.flag, 147);
                    char rc[64];
                    revcomp_copy(REV_READ_FASTQ, rc);
                    assert_string_equal(rec.seq, restore ? REV_READ_FASTQ : rc);
                }
                if (strcmp(rec.name, "NOSEQ1") == 0) {
                    seen_noseq = 1;
                    assert_int_equal(rec.len, 0);
                    assert_string_equal(rec.seq, "");
                }
                if (strcmp(rec.name, "SECONDARY1") == 0) {
                    seen_sec = 1;
                    assert_int_equal(rec.flag, 256);
                    assert_int_equal(rec.len, 0);
                }
                if (strcmp(rec.name, "SUPPLEMENTARY1") == 0) {
                    seen_supp = 1;
                    assert_int_equal(rec.flag, 2064);
                    assert_string_equal(rec.seq, restore ? "GTACGTACGT" : "ACGTACGTAC");
                }
            }
            if (ret != MD_EOF) fail_msg("%s: %s", name, md_last_error());
            assert_int_equal(n, primary_only ? SUBSET_RECORDS - 2 : SUBSET_RECORDS);
            assert_true(seen_rev && seen_noseq);
            assert_int_equal(seen_sec, !primary_only);
            assert_int_equal(seen_supp, !primary_only);
            md_record_free(&rec);
            md_reader_close(r);
        }
}

static void test_sam(void **state) { (void)state; check_alignment_file("ex1_subset.sam", MD_FMT_SAM); }
static void test_bam(void **state) { (void)state; check_alignment_file("ex1_subset.bam", MD_FMT_BAM); }
static void test_cram(void **state) { (void)state; check_alignment_file("ex1_subset.cram", MD_FMT_CRAM); }

static void test_bam_threads(void **state)
{
    (void)state;
    md_reader_opt opt;
    md_reader_opt_init(&opt);
    opt.threads = 2;
    assert_int_equal(count_records(fixture("ex1_subset.bam"), &opt, NULL),
                     SUBSET_RECORDS - 2);
}

/* ------------------------------------------------------------------ */
/* errors                                                              */
/* ------------------------------------------------------------------ */

static void test_missing_file(void **state)
{
    (void)state;
    const char *path = tmp_path("no_such_file.fa");
    assert_null(md_reader_open(path, NULL));
    assert_contains(md_last_error(), path);
    assert_contains(md_last_error(), "No such file");
    assert_null(md_reader_open(NULL, NULL));
    assert_null(md_reader_open(md_test_tmpdir(), NULL)); /* a directory */
    assert_contains(md_last_error(), md_test_tmpdir());
}

static void test_unknown_format(void **state)
{
    (void)state;
    assert_null(md_reader_open(fixture("not_seq.txt"), NULL));
    assert_contains(md_last_error(), "not_seq.txt");
    assert_contains(md_last_error(), "unknown format");
    assert_null(md_reader_open(fixture("garbage.bin"), NULL));
    assert_contains(md_last_error(), "garbage.bin");
    assert_contains(md_last_error(), "unknown format");
    /* bzip2 is recognised but not read */
    char bz[4096];
    snprintf(bz, sizeof bz, "%s/x.fa.bz2", md_test_tmpdir());
    FILE *f = fopen(bz, "wb");
    assert_non_null(f);
    /* an empty bzip2 stream, as `bzip2 < /dev/null` writes */
    static const unsigned char empty_bz2[] = {0x42, 0x5a, 0x68, 0x39, 0x17, 0x72,
                                              0x45, 0x38, 0x50, 0x90, 0, 0, 0, 0};
    assert_int_equal(fwrite(empty_bz2, 1, sizeof empty_bz2, f), sizeof empty_bz2);
    fclose(f);
    assert_null(md_reader_open(bz, NULL));
    assert_contains(md_last_error(), "bzip2");
    assert_contains(md_last_error(), "recompress it with bgzip");
    /* a FASTA index is recognised by htslib and refused */
    assert_null(md_reader_open(fixture("ex1.fa.fai"), NULL));
    assert_contains(md_last_error(), "unsupported format");
}

static void test_empty_file(void **state)
{
    (void)state;
    const char *path = tmp_path("empty.fa");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("\n\n", f);
    fclose(f);
    int level = md_log_level();
    md_set_log_level(MD_LOG_ERROR);
    assert_int_equal(count_records(path, NULL, NULL), 0);
    md_set_log_level(level);
}

/* A gzip FASTA cut in the middle: records, then an error (never a short
 * record passed off as whole, never a silent end of file). */
static void test_truncated_gzip(void **state)
{
    (void)state;
    const char *whole = tmp_path("many.fa.gz"), *cut = tmp_path("cut.fa.gz");
    gzFile gz = gzopen(whole, "wb6");
    assert_non_null(gz);
    uint32_t x = 12345;
    for (int i = 0; i < 2000; i++) {
        gzprintf(gz, ">r%d\n", i);
        for (int j = 0; j < 500; j++) {
            x = x * 1103515245u + 12345u;
            gzputc(gz, "ACGT"[(x >> 16) & 3]);
            if (j % 60 == 59) gzputc(gz, '\n');
        }
        gzputc(gz, '\n');
    }
    assert_int_equal(gzclose(gz), Z_OK);
    copy_prefix(whole, cut, file_size(whole) * 6 / 10);

    int level = hts_get_log_level();
    hts_set_log_level(HTS_LOG_OFF);
    md_reader *r = open_or_fail(cut, NULL);
    md_record rec = {0};
    int n = 0, ret;
    while ((ret = md_reader_next(r, &rec)) == 0) {
        assert_int_equal(rec.len, 500);
        n++;
    }
    hts_set_log_level(level);
    assert_true(ret < -1);
    assert_true(n > 100 && n < 2000);
    assert_contains(md_last_error(), "cut.fa.gz");
    assert_contains(md_last_error(), "truncated");
    md_record_free(&rec);
    md_reader_close(r);
}

static void test_truncated_bam(void **state)
{
    (void)state;
    /* without its last 28-byte EOF block and some of the data before it */
    const char *cut = tmp_path("cut.bam");
    copy_prefix(fixture("ex1_subset.bam"), cut, file_size(fixture("ex1_subset.bam")) - 28 - 200);
    int level = hts_get_log_level();
    hts_set_log_level(HTS_LOG_OFF);
    md_reader *r = md_reader_open(cut, NULL);
    int ret = MD_ERR;
    if (r) {
        md_record rec = {0};
        while ((ret = md_reader_next(r, &rec)) == 0) {}
        md_record_free(&rec);
        md_reader_close(r);
    }
    hts_set_log_level(level);
    assert_true(ret < -1);
    assert_contains(md_last_error(), "cut.bam");
    assert_contains(md_last_error(), "truncated");
}

/* ------------------------------------------------------------------ */
/* indexed FASTA                                                       */
/* ------------------------------------------------------------------ */

/* Expected bases from `samtools faidx ex1.fa chr1:100-130 chr2:1550-1584`. */
#define EX1_CHR1_100_130 "AGGGGTGCAGAGCCGAGTCACGGGGTTGCCA"
#define EX1_CHR2_1550_1584 "TTTTTGCATGCCAGAAAAAAATATTTACAGTAACT"

static void check_ex1_index(md_faidx *fx)
{
    assert_int_equal(md_faidx_n_contigs(fx), 2);
    assert_string_equal(md_faidx_contig_name(fx, 0), "chr1");
    assert_string_equal(md_faidx_contig_name(fx, 1), "chr2");
    assert_null(md_faidx_contig_name(fx, 2));
    assert_null(md_faidx_contig_name(fx, -1));
    assert_int_equal(md_faidx_contig_len(fx, "chr1"), 1575);
    assert_int_equal(md_faidx_contig_len(fx, "chr2"), 1584);

    md_record rec = {0};
    assert_int_equal(md_faidx_fetch(fx, "chr1", 99, 130, &rec), 0);
    assert_string_equal(rec.name, "chr1");
    assert_int_equal(rec.beg, 99);
    assert_int_equal(rec.len, 31);
    assert_string_equal(rec.seq, EX1_CHR1_100_130);
    assert_int_equal(md_faidx_fetch(fx, "chr2", 1549, INT64_MAX, &rec), 0);
    assert_string_equal(rec.seq, EX1_CHR2_1550_1584);
    assert_int_equal(md_faidx_fetch(fx, "chr2", 0, 10, &rec), 0);
    assert_string_equal(rec.seq, "TTCAAATGAA"); /* samtools faidx ex1.fa chr2:1-10 */
    assert_int_equal(md_faidx_fetch(fx, "chr2", 1584, 1584, &rec), 0);
    assert_int_equal(rec.len, 0);
    assert_string_equal(rec.seq, "");
    assert_int_equal(md_faidx_fetch(fx, "chr1", 0, INT64_MAX, &rec), 0);
    assert_int_equal(rec.len, 1575);

    /* errors */
    assert_true(md_faidx_contig_len(fx, "chr3") < -1);
    assert_contains(md_last_error(), "'chr3'");
    assert_contains(md_last_error(), "mambadna faidx");
    assert_true(md_faidx_fetch(fx, "chr3", 0, 10, &rec) < -1);
    assert_contains(md_last_error(), "'chr3'");
    assert_true(md_faidx_fetch(fx, "chr1", 1500, 1600, &rec) < -1);
    assert_contains(md_last_error(), "chr1");
    assert_contains(md_last_error(), "1575");
    assert_true(md_faidx_fetch(fx, "chr1", 20, 10, &rec) < -1);
    assert_true(md_faidx_fetch(fx, "chr1", -1, 10, &rec) < -1);
    md_record_free(&rec);
}

static void test_faidx_plain(void **state)
{
    (void)state;
    md_faidx *fx = md_faidx_open(fixture("ex1.fa"), 0);
    if (!fx) fail_msg("%s", md_last_error());
    check_ex1_index(fx);
    md_faidx_close(fx);
    md_faidx_close(NULL);
}

static void test_faidx_bgzip(void **state)
{
    (void)state;
    md_faidx *fx = md_faidx_open(fixture("ex1.fa.gz"), 0);
    if (!fx) fail_msg("%s", md_last_error());
    check_ex1_index(fx);
    md_faidx_close(fx);
}

static void test_faidx_missing_index(void **state)
{
    (void)state;
    const char *fa = tmp_path("phix_2k.fa");
    copy_file(fixture("phix_2k_crlf.fa"), fa);
    assert_null(md_faidx_open(fa, 0));
    assert_contains(md_last_error(), fa);
    assert_contains(md_last_error(), "run `mambadna faidx ");
    assert_contains(md_last_error(), "`samtools faidx ");
    md_faidx *fx = md_faidx_open(fa, 1); /* builds phix_2k.fa.fai */
    if (!fx) fail_msg("%s", md_last_error());
    assert_int_equal(md_faidx_n_contigs(fx), 1);
    assert_int_equal(md_faidx_contig_len(fx, "gi|216019|gb|J02482.1|PX1CG"), 2030);
    md_record rec = {0};
    assert_int_equal(md_faidx_fetch(fx, "gi|216019|gb|J02482.1|PX1CG", 0, 20, &rec), 0);
    assert_string_equal(rec.seq, "GAGTTTTATCGCTTCCATGA");
    /* across a CRLF line end: bases 61-80 */
    assert_int_equal(md_faidx_fetch(fx, "gi|216019|gb|J02482.1|PX1CG", 2010, 2030, &rec), 0);
    assert_string_equal(rec.seq, "TGGTGATTCGTCTAAGAAGT");
    md_record_free(&rec);
    md_faidx_close(fx);
}

static void test_faidx_build(void **state)
{
    (void)state;
    const char *fa = tmp_path("ex1_copy.fa");
    char fai[4200], want[256] = "", got[256] = "";
    copy_file(fixture("ex1.fa"), fa);
    snprintf(fai, sizeof fai, "%s.fai", fa);
    unlink(fai);
    assert_int_equal(md_faidx_build(fa), 0);
    FILE *a = fopen(fai, "r"), *b = fopen(fixture("ex1.fa.fai"), "r");
    assert_non_null(a);
    assert_non_null(b);
    assert_true(fread(got, 1, sizeof got - 1, a) > 0);
    assert_true(fread(want, 1, sizeof want - 1, b) > 0);
    fclose(a);
    fclose(b);
    assert_string_equal(got, want); /* same as samtools faidx */
}

static void test_faidx_plain_gzip(void **state)
{
    (void)state;
    assert_null(md_faidx_open(fixture("mixed.fa.gz"), 1));
    assert_contains(md_last_error(), "mixed.fa.gz");
    assert_contains(md_last_error(), "recompress with bgzip");
    assert_true(md_faidx_build(fixture("mixed.fa.gz")) < -1);
    assert_contains(md_last_error(), "recompress with bgzip");
    assert_null(md_faidx_open(tmp_path("nothing.fa"), 1));
    assert_contains(md_last_error(), "nothing.fa");
    assert_null(md_faidx_open("-", 0));
    assert_null(md_faidx_open(fixture("ex1_subset.bam"), 1));
    assert_contains(md_last_error(), "not a FASTA");
}

/* ------------------------------------------------------------------ */
/* shared data                                                         */
/* ------------------------------------------------------------------ */

static void test_shared_ecoli(void **state)
{
    (void)state;
    MD_REQUIRE_SHARED(dir);
    char p[4096];
    md_test_path(p, sizeof p, dir, "genomes/ecoli_k12_mg1655_NC_000913.3.fna.gz");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    md_reader *r = open_or_fail(p, NULL);
    assert_int_equal(md_reader_format(r), MD_FMT_FASTA);
    md_record rec = {0};
    assert_int_equal(md_reader_next(r, &rec), 0);
    uint8_t *ids = malloc((size_t)rec.len);
    assert_non_null(ids);
    md_tokenize(rec.seq, rec.len, ids);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_string_equal(rec.name, "NC_000913.3");
    assert_int_equal(rec.len, 4641652);
    /* base counts from `zcat FILE | tail -n +2 | tr -d '\n' | fold -w1 | sort | uniq -c` */
    int64_t count[MD_VOCAB_SIZE] = {0};
    for (int64_t i = 0; i < rec.len; i++) count[ids[i]]++;
    assert_int_equal(count[MD_TOK_A], 1142742);
    assert_int_equal(count[MD_TOK_C], 1180091);
    assert_int_equal(count[MD_TOK_G], 1177437);
    assert_int_equal(count[MD_TOK_T], 1141382);
    assert_int_equal(md_reader_next(r, &rec), MD_EOF);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    print_message("E. coli gzip FASTA read + tokenized: %.1f ms, %.0f Mb/s\n",
                  1e3 * s, (double)rec.len / s / 1e6);
    free(ids);
    md_record_free(&rec);
    md_reader_close(r);
}

static void test_shared_yeast(void **state)
{
    (void)state;
    MD_REQUIRE_SHARED(dir);
    char p[4096];
    md_test_path(p, sizeof p, dir, "genomes/yeast_S288C_R64-1-1.fa.gz");
    int64_t total = 0;
    assert_int_equal(count_records(p, NULL, &total), 17);
    assert_int_equal(total, 12157105);
}

static void test_shared_phix(void **state)
{
    (void)state;
    MD_REQUIRE_SHARED(dir);
    char p[4096];
    md_test_path(p, sizeof p, dir, "genomes/phiX174_J02482.1.fa");
    int64_t total = 0;
    assert_int_equal(count_records(p, NULL, &total), 1); /* checks for '\r' */
    assert_int_equal(total, 5386);
}

static void test_shared_epdnew(void **state)
{
    (void)state;
    MD_REQUIRE_SHARED(dir);
    char p[4096];
    md_test_path(p, sizeof p, dir, "promoters/epdnew_tata/hs_promoter_tata.fa");
    md_reader *r = open_or_fail(p, NULL);
    md_record rec = {0};
    int n = 0, ret;
    while ((ret = md_reader_next(r, &rec)) == 0) {
        n++;
        assert_int_equal(rec.len, 300); /* -249..+50 around the TSS */
        if (n == 1) {
            assert_string_equal(rec.name, "FP001162");
            assert_memory_equal(rec.seq, "CTCCACTTTTTCTCACGTTT", 20);
        }
    }
    assert_int_equal(ret, MD_EOF);
    assert_int_equal(n, 2929); /* grep -c '>' */
    md_record_free(&rec);
    md_reader_close(r);
}

static void test_shared_ce_bam(void **state)
{
    (void)state;
    MD_REQUIRE_SHARED(dir);
    char p[4096];
    md_test_path(p, sizeof p, dir, "alignments/ce_1000.sorted.bam");
    /* samtools view -c: 1000; all primary (samtools view -c -F 0x900: 1000) */
    assert_int_equal(count_records(p, NULL, NULL), 1000);
    md_reader *r = open_or_fail(p, NULL);
    md_record rec = {0};
    int nrev = 0;
    while (md_reader_next(r, &rec) == 0) {
        nrev += (rec.flag & 0x10) != 0;
        if (strcmp(rec.name, "SRR065390.14978392") == 0) {
            /* flag 16; expected from `samtools fastq ce_1000.sorted.bam` */
            assert_string_equal(rec.seq,
                "TTAGGCTTAGGCTTAGGCTTAGGCTTAGGCTTAGGCTTAGGCTTAGGCTT"
                "AGGCTTAGGCTTAGGCTTAGGCTAGGGTTAGGGTTAGGGTTAGGGCTAGG");
            /* and the reverse complement of its SEQ in the BAM */
            char rc[128];
            revcomp_copy("CCTAGCCCTAACCCTAACCCTAACCCTAGCCTAAGCCTAAGCCTAAGCCT"
                         "AAGCCTAAGCCTAAGCCTAAGCCTAAGCCTAAGCCTAAGCCTAAGCCTAA", rc);
            assert_string_equal(rec.seq, rc);
        }
    }
    assert_int_equal(nrev, 439); /* samtools view -c -f 16 */
    md_record_free(&rec);
    md_reader_close(r);
}

static void test_shared_ex1_bam(void **state)
{
    (void)state;
    MD_REQUIRE_SHARED(dir);
    char p[4096];
    md_test_path(p, sizeof p, dir, "alignments/samtools_ex1.bam");
    assert_int_equal(count_records(p, NULL, NULL), 3270);
    md_reader *r = open_or_fail(p, NULL);
    md_record rec = {0};
    int found = 0;
    while (md_reader_next(r, &rec) == 0)
        if (strcmp(rec.name, REV_READ) == 0) {
            assert_string_equal(rec.seq, REV_READ_FASTQ);
            found++;
        }
    assert_int_equal(found, 1);
    md_record_free(&rec);
    md_reader_close(r);
}

static void test_shared_truncated_bam(void **state)
{
    (void)state;
    MD_REQUIRE_SHARED(dir);
    char p[4096];
    md_test_path(p, sizeof p, dir, "alignments/ce_1000.sorted.bam");
    const char *cut = tmp_path("ce_cut.bam");
    copy_prefix(p, cut, file_size(p) / 2);
    int level = hts_get_log_level();
    hts_set_log_level(HTS_LOG_OFF);
    assert_null(md_reader_open(cut, NULL)); /* no end-of-file marker */
    assert_contains(md_last_error(), "ce_cut.bam");
    assert_contains(md_last_error(), "end-of-file marker");
    md_reader_opt opt;
    md_reader_opt_init(&opt);
    opt.allow_no_eof = 1; /* then the record cut in half is the error */
    md_reader *r = open_or_fail(cut, &opt);
    md_record rec = {0};
    int n = 0, ret;
    while ((ret = md_reader_next(r, &rec)) == 0) n++;
    hts_set_log_level(level);
    assert_true(ret < -1);
    assert_true(n > 0 && n < 1000);
    assert_contains(md_last_error(), "ce_cut.bam");
    assert_contains(md_last_error(), "truncated");
    md_record_free(&rec);
    md_reader_close(r);
}

/* tests/data/truncated: BGZF files cut exactly at a block boundary, which
 * decompress without error (tests/make_truncated_fixtures.py). */
static const char *truncated_path(const char *name)
{
    static char b[4096];
    snprintf(b, sizeof b, "%s/truncated/%s", md_test_data_dir(), name);
    return b;
}

static void test_bam_cut_at_block_boundary(void **state)
{
    (void)state;
    const char *cut = truncated_path("ex1_cut.bam");
    int level = hts_get_log_level();
    hts_set_log_level(HTS_LOG_OFF);
    assert_null(md_reader_open(cut, NULL));
    hts_set_log_level(level);
    assert_contains(md_last_error(), "ex1_cut.bam");
    assert_contains(md_last_error(), "end-of-file marker");
    assert_contains(md_last_error(), "--allow-no-eof");
    md_reader_opt opt;
    md_reader_opt_init(&opt);
    opt.allow_no_eof = 1;
    opt.primary_only = 0;
    int64_t bases;
    hts_set_log_level(HTS_LOG_OFF);
    assert_int_equal(count_records(cut, &opt, &bases), 468); /* samtools view -c */
    hts_set_log_level(level);
}

static void test_fasta_cut_at_block_boundary(void **state)
{
    (void)state;
    int64_t bases;
    assert_int_equal(count_records(truncated_path("ex1_blocks.fa.gz"), NULL, &bases), 2);
    assert_int_equal(bases, 1575 + 1584);
    const char *cut = truncated_path("ex1_cut.fa.gz");
    assert_null(md_reader_open(cut, NULL));
    assert_contains(md_last_error(), "ex1_cut.fa.gz");
    assert_contains(md_last_error(), "end-of-file marker");
    md_reader_opt opt;
    md_reader_opt_init(&opt);
    opt.allow_no_eof = 1;
    assert_int_equal(count_records(cut, &opt, &bases), 2);
    assert_int_equal(bases, 1575 + 380); /* chr2 cut short: what the option accepts */
}

static void test_faidx_refuses_cut_fasta(void **state)
{
    (void)state;
    const char *cut = tmp_path("ex1_cut.fa.gz");
    copy_file(truncated_path("ex1_cut.fa.gz"), cut);
    assert_true(md_faidx_build(cut) < -1);
    assert_contains(md_last_error(), "end-of-file marker");
    assert_null(md_faidx_open(cut, 1));
}

/* A FASTA record named as samtools faidx names a region is that piece of
 * its chromosome, when its length agrees. */
static void test_piece_names(void **state)
{
    (void)state;
    const char *fa = tmp_path("pieces.fa");
    FILE *f = fopen(fa, "w");
    assert_non_null(f);
    fputs(">22:20000001-20000008 GRCh37\nACGTACGT\n>22:5-6\nAAA\n>x:1-2:3-4\nCC\n>:1-2\nGG\n", f);
    fclose(f);
    static const char *names[] = {"22", "22:5-6", "x:1-2", ":1-2"};
    static const int64_t begs[] = {20000000, 0, 2, 0};
    for (int literal = 0; literal < 2; literal++) {
        md_reader_opt opt;
        md_reader_opt_init(&opt);
        opt.piece_names = !literal;
        md_seqsource *src = md_seqsource_open(fa, NULL, 0, &opt);
        assert_non_null(src);
        md_record rec = {0};
        const md_region *reg;
        for (int i = 0; i < 4; i++) {
            assert_int_equal(md_seqsource_next(src, &rec, &reg), 0);
            if (literal) {
                assert_int_equal(rec.beg, 0);
            } else {
                assert_string_equal(rec.name, names[i]);
                assert_int_equal(rec.beg, begs[i]);
            }
        }
        assert_int_equal(md_seqsource_next(src, &rec, &reg), MD_EOF);
        md_record_free(&rec);
        md_seqsource_close(src);
    }
    /* regions of an indexed piece, and the contig sizes a bigWig gets */
    assert_int_equal(md_faidx_build(fa), 0);
    md_region regs[1];
    assert_int_equal(md_region_parse("{22:20000001-20000008}:3-5", &regs[0]), 0);
    md_seqsource *src = md_seqsource_open(fa, regs, 1, NULL);
    assert_non_null(src);
    md_record rec = {0};
    const md_region *reg;
    assert_int_equal(md_seqsource_next(src, &rec, &reg), 0);
    assert_string_equal(rec.name, "22");
    assert_int_equal(rec.beg, 20000002);
    assert_string_equal(rec.seq, "GTA");
    char **names2;
    int64_t *lens;
    int n;
    assert_int_equal(md_seqsource_contigs(src, &names2, &lens, &n), 0);
    assert_int_equal(n, 4);
    assert_string_equal(names2[0], "22");
    assert_int_equal(lens[0], 20000008);
    assert_string_equal(names2[1], "22:5-6");
    free(names2);
    free(lens);
    md_record_free(&rec);
    md_seqsource_close(src);
    md_region_free(&regs[0]);
}

/* Expected from `samtools faidx ce_htslib.fa CHROMOSOME_I:999951-1000050
 * CHROMOSOME_MtDNA:4951-5000` (samtools 1.16.1). */
#define CE_I_999951_1000050                                                    \
    "TGGAACTTTTATAGGCTTAAGCTTATGGTTATGTTTAGGCGTAGGCTTAGGCTTAGGCGT"              \
    "AGGTTTAGGCTTTGGCTTAGGCCTATGCTAGGCCTAGTAC"
#define CE_MT_4951_5000 "ATTCCAATTTGAGGGCCAACTATTGTTACTTGAATTTGAAGAGGTTTTGG"

static void check_ce_fetch(md_faidx *fx)
{
    md_record rec = {0};
    assert_int_equal(md_faidx_n_contigs(fx), 7);
    assert_int_equal(md_faidx_contig_len(fx, "CHROMOSOME_I"), 1009800);
    assert_int_equal(md_faidx_fetch(fx, "CHROMOSOME_I", 999950, 1000050, &rec), 0);
    assert_string_equal(rec.seq, CE_I_999951_1000050);
    assert_int_equal(md_faidx_fetch(fx, "CHROMOSOME_MtDNA", 4950, INT64_MAX, &rec), 0);
    assert_string_equal(rec.seq, CE_MT_4951_5000);
    md_record_free(&rec);
}

static void test_shared_faidx_ce(void **state)
{
    (void)state;
    MD_REQUIRE_SHARED(dir);
    char p[4096];
    md_test_path(p, sizeof p, dir, "alignments/ce_htslib.fa");
    md_faidx *fx = md_faidx_open(p, 0); /* ce_htslib.fa.fai is there */
    if (!fx) fail_msg("%s", md_last_error());
    check_ce_fetch(fx);
    md_faidx_close(fx);

    /* the same through a bgzip copy (about 16 BGZF blocks, so the .gzi is
     * used), indexed by md_faidx_open(build = 1) */
    const char *gz = tmp_path("ce.fa.gz");
    FILE *in = fopen(p, "rb");
    BGZF *out = bgzf_open(gz, "w");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(bgzf_write(out, buf, n), (ssize_t)n);
    fclose(in);
    assert_int_equal(bgzf_close(out), 0);
    assert_null(md_faidx_open(gz, 0));
    assert_contains(md_last_error(), ".fai");
    fx = md_faidx_open(gz, 1);
    if (!fx) fail_msg("%s", md_last_error());
    check_ce_fetch(fx);
    md_faidx_close(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opt_defaults),
        cmocka_unit_test(test_fasta_crlf),
        cmocka_unit_test(test_fasta_mixed),
        cmocka_unit_test(test_fasta_crlf_blank_lines),
        cmocka_unit_test(test_fasta_empty_first_record),
        cmocka_unit_test(test_fasta_bgzip),
        cmocka_unit_test(test_fasta_long_line),
        cmocka_unit_test(test_fasta_bgzip_threads_many_blocks),
        cmocka_unit_test(test_fasta_stdin),
        cmocka_unit_test(test_fastq_gzip),
        cmocka_unit_test(test_fastq_multiline),
        cmocka_unit_test(test_fastq_truncated),
        cmocka_unit_test(test_sam),
        cmocka_unit_test(test_bam),
        cmocka_unit_test(test_cram),
        cmocka_unit_test(test_bam_threads),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_unknown_format),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_truncated_gzip),
        cmocka_unit_test(test_truncated_bam),
        cmocka_unit_test(test_faidx_plain),
        cmocka_unit_test(test_faidx_bgzip),
        cmocka_unit_test(test_faidx_missing_index),
        cmocka_unit_test(test_faidx_build),
        cmocka_unit_test(test_faidx_plain_gzip),
        cmocka_unit_test(test_shared_ecoli),
        cmocka_unit_test(test_shared_yeast),
        cmocka_unit_test(test_shared_phix),
        cmocka_unit_test(test_shared_epdnew),
        cmocka_unit_test(test_shared_ce_bam),
        cmocka_unit_test(test_shared_ex1_bam),
        cmocka_unit_test(test_shared_truncated_bam),
        cmocka_unit_test(test_bam_cut_at_block_boundary),
        cmocka_unit_test(test_fasta_cut_at_block_boundary),
        cmocka_unit_test(test_faidx_refuses_cut_fasta),
        cmocka_unit_test(test_piece_names),
        cmocka_unit_test(test_shared_faidx_ce),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
