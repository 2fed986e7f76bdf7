/* test_score.c: per-base tracks and calls from window scores against brute
 * force, the scoring loop on a small model (batching across sequences,
 * N-rich windows skipped, strands, the reader thread and its errors, the
 * progress line), and BAM copies of the input with the scores in a tag,
 * read back through htslib. */
#include <fcntl.h>
#include <math.h>

#include <htslib/sam.h>

#include "testutil.h"

typedef struct track_buf {
    double value[400];
    int set[400];
    int64_t last_end;
    int in_order;
} track_buf;

static int collect(void *ctx, int64_t beg, int64_t end, float v)
{
    track_buf *t = ctx;
    if (beg < t->last_end || end <= beg) t->in_order = 0;
    t->last_end = end;
    for (int64_t i = beg; i < end; i++) {
        t->value[i] = v;
        t->set[i]++;
    }
    return 0;
}

static void test_track_mean(void **state)
{
    (void)state;
    srand(5);
    for (int trial = 0; trial < 50; trial++) {
        md_window_score w[40];
        int n = 0;
        int64_t window = 5 + rand() % 30, stride = 1 + rand() % window;
        for (int64_t b = 0; b + window <= 300 && n < 40; b += stride) {
            if (rand() % 5 == 0) continue; /* a skipped (N-rich) window */
            w[n++] = (md_window_score){.beg = b, .end = b + window, .score = (float)rand() / RAND_MAX};
        }
        track_buf t = {.in_order = 1};
        assert_int_equal(md_track_from_windows(w, n, collect, &t), 0);
        assert_true(t.in_order);
        for (int64_t i = 0; i < 300; i++) {
            double sum = 0;
            int cover = 0;
            for (int k = 0; k < n; k++)
                if (w[k].beg <= i && i < w[k].end) {
                    sum += w[k].score;
                    cover++;
                }
            assert_int_equal(t.set[i], cover > 0);
            if (cover) assert_float_equal(t.value[i], sum / cover, 1e-6);
        }
    }
}

static void test_calls(void **state)
{
    (void)state;
    md_window_score w[] = {
        {0, 10, 0.9f, 0.1f, 0.6f}, {5, 15, 0.2f, 0.8f, 0.7f}, {10, 20, 0.1f, 0.1f, 0.1f},
        {15, 25, 0.6f, 0.7f, 0.65f}, {30, 40, 0.9f, 0.95f, 0.92f}, {40, 50, 0.9f, 0.1f, 0.5f},
    };
    md_call *c;
    int64_t n;
    assert_int_equal(md_calls_from_windows(w, 6, 0.5, 0, &c, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(c[0].beg, 0); /* overlapping, then touching windows merge */
    assert_int_equal(c[0].end, 25);
    assert_float_equal(c[0].max_score, 0.7f, 0);
    assert_int_equal(c[0].strand, '-');
    assert_int_equal(c[1].beg, 30);
    assert_int_equal(c[1].end, 50);
    assert_int_equal(c[1].strand, '-');
    free(c);
    assert_int_equal(md_calls_from_windows(w, 6, 0.5, 1, &c, &n), 0);
    assert_int_equal(c[0].strand, '.');
    free(c);
}

typedef struct seen {
    char names[8][32];
    int64_t n_windows[8];
    float first_plus[8], first_minus[8];
    int n;
} seen;

static int remember(void *ctx, const md_scored_seq *seq)
{
    seen *s = ctx;
    const char *name = seq->name;
    const md_window_score *w = seq->w;
    int64_t n = seq->n;
    snprintf(s->names[s->n], sizeof s->names[s->n], "%s", name);
    s->n_windows[s->n] = n;
    s->first_plus[s->n] = n ? w[0].plus : -1;
    s->first_minus[s->n] = n ? w[0].minus : -1;
    s->n++;
    return 0;
}

/* Scores do not depend on how windows are batched; the minus strand is the
 * plus strand of the reverse complement. */
static void test_score_run(void **state)
{
    (void)state;
    char fa[512];
    snprintf(fa, sizeof fa, "%s/s.fa", md_test_tmpdir());
    FILE *f = fopen(fa, "w");
    fprintf(f, ">a\nACGTTGCAAGGCTTACGATCGATCGGATCCATGCATGCAAATTTGGGCCCACGT\n"
               ">n\nNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNACGT\n>b\nGGGATTACACCGTAG\n");
    fclose(f);
    md_config cfg;
    md_config_init(&cfg, MD_ARCH_CADUCEUS_PH, 16, 2);
    cfg.n_classes = 2;
    md_model *m = md_model_init(&cfg, 3);
    seen runs[2] = {0};
    for (int r = 0; r < 2; r++) {
        md_score_opt o;
        md_score_opt_init(&o);
        o.window = 20;
        o.stride = 7;
        o.batch = r == 0 ? 1 : 64;
        assert_int_equal(md_score_opt_resolve(&o, m), 0);
        md_seqsource *src = md_seqsource_open(fa, NULL, 0, NULL);
        assert_non_null(src);
        md_score_stats st;
        assert_int_equal(md_score_run(m, src, &o, remember, &runs[r], &st), 0);
        md_seqsource_close(src);
        assert_int_equal(st.sequences, 3);
        assert_true(st.skipped >= 1);
    }
    assert_int_equal(runs[0].n, 3);
    assert_string_equal(runs[0].names[2], "b");
    assert_int_equal(runs[0].n_windows[1], 0); /* all windows N-rich */
    assert_int_equal(runs[0].n_windows[2], 1); /* shorter than a window */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(runs[0].n_windows[i], runs[1].n_windows[i]);
        assert_float_equal(runs[0].first_plus[i], runs[1].first_plus[i], 1e-6);
    }
    /* the minus score of "b" is the plus score of its reverse complement */
    uint8_t tok[15], rc[15];
    md_tokenize("GGGATTACACCGTAG", 15, tok);
    memcpy(rc, tok, 15);
    md_revcomp_tokens(rc, 15);
    float p[2];
    assert_int_equal(md_model_classify(m, rc, 1, 15, NULL, p), 0);
    assert_float_equal(runs[0].first_minus[2], p[1], 1e-6);
    assert_true(fabsf(runs[0].first_minus[2] - runs[0].first_plus[2]) > 1e-7);
    md_model_free(m);
}

static md_model *small_classifier(int arch, uint64_t seed)
{
    md_config cfg;
    md_config_init(&cfg, arch, 16, 2);
    cfg.n_classes = 2;
    md_model *m = md_model_init(&cfg, seed);
    assert_non_null(m);
    return m;
}

/* Everything a sink saw, one entry per sequence. */
typedef struct seq_log {
    char **names;
    float *best;      /* best window score, -1 when none */
    int64_t *n_windows;
    int *flags;
    int n, cap;
} seq_log;

static int log_seq(void *ctx, const md_scored_seq *seq)
{
    seq_log *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->names = realloc(l->names, (size_t)l->cap * sizeof *l->names);
        l->best = realloc(l->best, (size_t)l->cap * sizeof *l->best);
        l->n_windows = realloc(l->n_windows, (size_t)l->cap * sizeof *l->n_windows);
        l->flags = realloc(l->flags, (size_t)l->cap * sizeof *l->flags);
    }
    float best = -1;
    for (int64_t i = 0; i < seq->n; i++)
        if (seq->w[i].score > best) best = seq->w[i].score;
    l->names[l->n] = strdup(seq->name);
    l->best[l->n] = best;
    l->n_windows[l->n] = seq->n;
    l->flags[l->n] = seq->flag;
    l->n++;
    return 0;
}

static void seq_log_free(seq_log *l)
{
    for (int i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
    free(l->best);
    free(l->n_windows);
    free(l->flags);
    memset(l, 0, sizeof *l);
}

/* More sequences than the reader may queue ahead (it has to wait), of
 * mixed lengths, N-only and empty ones among them: every sequence reaches
 * the sink once, in input order, with the scores of a run that batches
 * windows differently. */
static void test_score_many_sequences(void **state)
{
    (void)state;
    char fa[512];
    snprintf(fa, sizeof fa, "%s/many.fa", md_test_tmpdir());
    FILE *f = fopen(fa, "w");
    srand(11);
    const int n_seqs = 2500;
    for (int i = 0; i < n_seqs; i++) {
        int len = i % 97 == 0 ? 0 : 5 + rand() % 60;
        fprintf(f, ">s%d\n", i);
        for (int k = 0; k < len; k++) fputc(i % 89 == 1 ? 'N' : "ACGT"[rand() % 4], f);
        fputc('\n', f);
    }
    fclose(f);
    md_model *m = small_classifier(MD_ARCH_CADUCEUS_PH, 4);
    seq_log logs[2] = {{0}};
    for (int r = 0; r < 2; r++) {
        md_score_opt o;
        md_score_opt_init(&o);
        o.window = 24;
        o.stride = 9;
        o.batch = r == 0 ? 3 : 64;
        assert_int_equal(md_score_opt_resolve(&o, m), 0);
        md_seqsource *src = md_seqsource_open(fa, NULL, 0, NULL);
        assert_non_null(src);
        md_score_stats st;
        assert_int_equal(md_score_run(m, src, &o, log_seq, &logs[r], &st), 0);
        md_seqsource_close(src);
        assert_int_equal(st.sequences, n_seqs);
        assert_true(st.seconds >= 0);
    }
    for (int r = 0; r < 2; r++) {
        assert_int_equal(logs[r].n, n_seqs);
        for (int i = 0; i < n_seqs; i++) {
            char want[32];
            snprintf(want, sizeof want, "s%d", i);
            assert_string_equal(logs[r].names[i], want);
            if (i % 97 == 0 || i % 89 == 1) assert_int_equal(logs[r].n_windows[i], 0);
        }
    }
    for (int i = 0; i < n_seqs; i++) {
        assert_int_equal(logs[0].n_windows[i], logs[1].n_windows[i]);
        assert_float_equal(logs[0].best[i], logs[1].best[i], 1e-5);
    }
    seq_log_free(&logs[0]);
    seq_log_free(&logs[1]);
    md_model_free(m);
}

/* A read error met by the reader thread reaches the caller with its
 * message; the sequences read before it were scored. */
static void test_score_reader_error(void **state)
{
    (void)state;
    char fq[512];
    snprintf(fq, sizeof fq, "%s/bad.fq", md_test_tmpdir());
    FILE *f = fopen(fq, "w");
    fprintf(f, "@r1\nACGTACGTAC\n+\nIIIIIIIIII\n@r2\nACGTACGTAC\n+\nIIII\n");
    fclose(f);
    md_model *m = small_classifier(MD_ARCH_CADUCEUS_PH, 4);
    md_score_opt o;
    md_score_opt_init(&o);
    o.window = 8;
    assert_int_equal(md_score_opt_resolve(&o, m), 0);
    md_seqsource *src = md_seqsource_open(fq, NULL, 0, NULL);
    assert_non_null(src);
    seq_log l = {0};
    md_error(MD_OK, "%s", "");
    int ret = md_score_run(m, src, &o, log_seq, &l, NULL);
    assert_true(ret < -1);
    assert_non_null(strstr(md_last_error(), "r2"));
    assert_non_null(strstr(md_last_error(), "bad.fq"));
    md_seqsource_close(src);
    seq_log_free(&l);
    md_model_free(m);
}

/* Totals for the ETA: regions, a FASTA with its index, nothing for reads. */
static void test_total_bases(void **state)
{
    (void)state;
    char p[4096];
    snprintf(p, sizeof p, "%s/seqio/ex1.fa", md_test_data_dir());
    md_seqsource *src = md_seqsource_open(p, NULL, 0, NULL);
    assert_non_null(src);
    assert_int_equal(md_seqsource_total_bases(src), 1575 + 1584);
    assert_null(md_seqsource_sam_header(src));
    md_seqsource_close(src);
    md_region regs[2];
    assert_int_equal(md_region_parse("chr1:11-20", &regs[0]), 0);
    assert_int_equal(md_region_parse("chr2:1001", &regs[1]), 0);
    src = md_seqsource_open(p, regs, 2, NULL);
    assert_non_null(src);
    assert_int_equal(md_seqsource_total_bases(src), 10 + 584);
    md_seqsource_close(src);
    md_region_free(&regs[0]);
    md_region_free(&regs[1]);
    snprintf(p, sizeof p, "%s/seqio/ex1_subset.bam", md_test_data_dir());
    src = md_seqsource_open(p, NULL, 0, NULL);
    assert_non_null(src);
    assert_int_equal(md_seqsource_total_bases(src), -1);
    assert_non_null(md_seqsource_sam_header(src));
    md_seqsource_close(src);
}

/* The progress line goes to stderr when asked for, and is cleared at the
 * end; nothing is printed without it. */
static void test_progress_line(void **state)
{
    (void)state;
    char p[4096], err[512];
    snprintf(p, sizeof p, "%s/seqio/ex1.fa", md_test_data_dir());
    md_model *m = small_classifier(MD_ARCH_CADUCEUS_PH, 4);
    for (int on = 0; on <= 1; on++) {
        snprintf(err, sizeof err, "%s/progress%d.txt", md_test_tmpdir(), on);
        fflush(stderr);
        int saved = dup(2), fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_true(saved >= 0 && fd >= 0);
        dup2(fd, 2);
        close(fd);
        md_score_opt o;
        md_score_opt_init(&o);
        o.window = 200;
        o.stride = 100;
        o.batch = 4;
        o.progress = on;
        assert_int_equal(md_score_opt_resolve(&o, m), 0);
        md_seqsource *src = md_seqsource_open(p, NULL, 0, NULL);
        seq_log l = {0};
        int ret = md_score_run(m, src, &o, log_seq, &l, NULL);
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
        assert_int_equal(ret, 0);
        md_seqsource_close(src);
        seq_log_free(&l);
        FILE *f = fopen(err, "r");
        char buf[4096] = "";
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        fclose(f);
        if (!on) {
            assert_int_equal(n, 0);
            continue;
        }
        assert_non_null(strstr(buf, "mambadna score: "));
        assert_non_null(strstr(buf, " of 3.2 kb (")); /* the total from ex1.fa.fai */
        assert_non_null(strstr(buf, " Mb/s"));
        assert_non_null(strstr(buf, "ETA "));
        assert_string_equal(buf + n - 4, "\r\033[K"); /* cleared at the end */
    }
    md_model_free(m);
}

/* Tag names as the SAM specification allows them. */
static void test_bam_tag_check(void **state)
{
    (void)state;
    const char *good[] = {"ms", "XS", "a0", "Zz"}, *bad[] = {"", "m", "0a", "m_", "msx", "_s"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        assert_int_equal(md_bam_tag_check(good[i]), 0);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(md_bam_tag_check(bad[i]), MD_ERR_ARG);
    assert_int_equal(md_bam_tag_check(NULL), MD_ERR_ARG);
}

/* The sink of a BAM copy, as `mambadna score -f bam` does it. */
typedef struct bam_sink {
    md_bamout *out;
    seq_log log;
} bam_sink;

static int write_bam(void *ctx, const md_scored_seq *seq)
{
    bam_sink *b = ctx;
    log_seq(&b->log, seq);
    float best = b->log.best[b->log.n - 1];
    assert_non_null(seq->bam);
    return md_bamout_write(b->out, seq->bam, seq->n > 0 ? &best : NULL);
}

/* Score a SAM/BAM/CRAM input into a BAM copy and read both back through
 * htslib: the same header lines (plus one @PG), every record in order and
 * unchanged but for the tag, which scored reads carry with the sink's score
 * and the others (secondary, supplementary, no SEQ) lack. */
static void check_bam_copy(const char *input, const char *tag)
{
    char in[4096], out[512], ref[4096];
    snprintf(in, sizeof in, "%s/seqio/%s", md_test_data_dir(), input);
    snprintf(ref, sizeof ref, "%s/seqio/ex1.fa", md_test_data_dir());
    snprintf(out, sizeof out, "%s/copy_%s.bam", md_test_tmpdir(), input);
    md_model *m = small_classifier(MD_ARCH_CADUCEUS_PH, 9);
    md_score_opt o;
    md_score_opt_init(&o);
    o.window = 20;
    o.stride = 10;
    o.batch = 5;
    o.unscored_flags = BAM_FSECONDARY | BAM_FSUPPLEMENTARY;
    assert_int_equal(md_score_opt_resolve(&o, m), 0);
    md_reader_opt ropt;
    md_reader_opt_init(&ropt);
    ropt.primary_only = 0;
    ropt.keep_records = 1;
    ropt.reference = ref;
    md_seqsource *src = md_seqsource_open(in, NULL, 0, &ropt);
    assert_non_null(src);
    bam_sink b = {0};
    b.out = md_bamout_open(out, md_seqsource_sam_header(src), tag, "mambadna score test");
    assert_non_null(b.out);
    md_score_stats st;
    assert_int_equal(md_score_run(m, src, &o, write_bam, &b, &st), 0);
    assert_int_equal(access(out, F_OK), -1); /* not under the final name before the close */
    assert_int_equal(md_bamout_close(b.out, 1), 0);
    md_seqsource_close(src);
    assert_int_equal(st.sequences, 26); /* 28 records, 2 passed through unscored */

    htsFile *fi = sam_open(in, "r"), *fo = sam_open(out, "r");
    assert_non_null(fi);
    assert_non_null(fo);
    hts_set_fai_filename(fi, ref);
    sam_hdr_t *hi = sam_hdr_read(fi), *ho = sam_hdr_read(fo);
    assert_non_null(hi);
    assert_non_null(ho);
    const char *ti = sam_hdr_str(hi), *to = sam_hdr_str(ho);
    assert_int_equal(strncmp(ti, to, strlen(ti)), 0); /* the input's lines, then @PG */
    assert_non_null(strstr(to + strlen(ti), "@PG\tID:mambadna\tPN:mambadna\tVN:" MAMBADNA_VERSION));
    assert_non_null(strstr(to, "CL:mambadna score test"));
    bam1_t *ri = bam_init1(), *ro = bam_init1();
    int n = 0, tagged = 0;
    while (sam_read1(fi, hi, ri) >= 0) {
        assert_true(sam_read1(fo, ho, ro) >= 0);
        assert_true(n < b.log.n);
        assert_string_equal(bam_get_qname(ro), bam_get_qname(ri));
        assert_string_equal(b.log.names[n], bam_get_qname(ri));
        assert_int_equal(ro->core.flag, ri->core.flag);
        assert_int_equal(ro->core.pos, ri->core.pos);
        assert_int_equal(ro->core.l_qseq, ri->core.l_qseq);
        uint8_t *t = bam_aux_get(ro, tag);
        if (b.log.n_windows[n] > 0) {
            assert_non_null(t);
            assert_int_equal(*t, 'f');
            assert_float_equal(bam_aux2f(t), b.log.best[n], 0);
            tagged++;
            bam_aux_del(ro, t);
        } else {
            assert_null(t);
            assert_true(ri->core.l_qseq == 0 || (ri->core.flag & 0x900));
        }
        /* the rest of the record is the input's, byte for byte (a CRAM
         * input may reorder nothing here: the same fields are compared) */
        if (strstr(input, ".cram") == NULL) {
            assert_int_equal(ro->l_data, ri->l_data);
            assert_memory_equal(ro->data, ri->data, (size_t)ri->l_data);
        } else {
            assert_memory_equal(bam_get_seq(ro), bam_get_seq(ri), (size_t)(ri->core.l_qseq + 1) / 2);
        }
        n++;
    }
    assert_true(sam_read1(fo, ho, ro) < 0); /* nothing more */
    assert_int_equal(n, 28);
    assert_int_equal(n, b.log.n);
    assert_int_equal(tagged, 25);
    bam_destroy1(ri);
    bam_destroy1(ro);
    sam_hdr_destroy(hi);
    sam_hdr_destroy(ho);
    sam_close(fi);
    sam_close(fo);
    seq_log_free(&b.log);
    md_model_free(m);
}

static void test_bam_copy_bam(void **state) { (void)state; check_bam_copy("ex1_subset.bam", "ms"); }
static void test_bam_copy_sam(void **state) { (void)state; check_bam_copy("ex1_subset.sam", "XP"); }
static void test_bam_copy_cram(void **state) { (void)state; check_bam_copy("ex1_subset.cram", "ms"); }

/* A tag of the same name already on a record is replaced, or dropped from
 * a record without a score; an aborted copy leaves no file. */
static void test_bam_retag_and_abort(void **state)
{
    (void)state;
    char in[4096], out[512];
    snprintf(in, sizeof in, "%s/seqio/ex1_subset.bam", md_test_data_dir());
    snprintf(out, sizeof out, "%s/retag.bam", md_test_tmpdir());
    md_reader_opt ropt;
    md_reader_opt_init(&ropt);
    ropt.keep_records = 1;
    md_reader *r = md_reader_open(in, &ropt);
    assert_non_null(r);
    md_record rec = {0};
    assert_int_equal(md_reader_next(r, &rec), 0);
    assert_non_null(rec.bam);
    bam1_t *b = bam_dup1(rec.bam);
    assert_int_equal(bam_aux_update_int(b, "NM", 3), 0); /* NM:i:0 -> NM:i:3 */
    md_bamout *w = md_bamout_open(out, md_reader_sam_header(r), "NM", NULL);
    assert_non_null(w);
    float v = 0.25f;
    assert_int_equal(md_bamout_write(w, b, &v), 0);
    assert_int_equal(md_bamout_write(w, b, NULL), 0);
    assert_int_equal(md_bamout_close(w, 1), 0);
    htsFile *fo = sam_open(out, "r");
    sam_hdr_t *ho = sam_hdr_read(fo);
    assert_null(strstr(sam_hdr_str(ho), "@PG")); /* no command line given */
    bam1_t *ro = bam_init1();
    assert_true(sam_read1(fo, ho, ro) >= 0);
    uint8_t *t = bam_aux_get(ro, "NM");
    assert_non_null(t);
    assert_int_equal(*t, 'f');
    assert_float_equal(bam_aux2f(t), 0.25, 0);
    assert_true(sam_read1(fo, ho, ro) >= 0);
    assert_null(bam_aux_get(ro, "NM"));
    bam_destroy1(ro);
    sam_hdr_destroy(ho);
    sam_close(fo);

    snprintf(out, sizeof out, "%s/aborted.bam", md_test_tmpdir());
    w = md_bamout_open(out, md_reader_sam_header(r), "ms", NULL);
    assert_non_null(w);
    assert_int_equal(md_bamout_write(w, b, &v), 0);
    assert_int_equal(md_bamout_close(w, 0), 0);
    assert_int_equal(access(out, F_OK), -1);
    assert_null(md_bamout_open(out, md_reader_sam_header(r), "m", NULL));
    assert_null(md_bamout_open(out, NULL, "ms", NULL));
    bam_destroy1(b);
    md_record_free(&rec);
    md_reader_close(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_track_mean),
        cmocka_unit_test(test_calls),
        cmocka_unit_test(test_score_run),
        cmocka_unit_test(test_score_many_sequences),
        cmocka_unit_test(test_score_reader_error),
        cmocka_unit_test(test_total_bases),
        cmocka_unit_test(test_progress_line),
        cmocka_unit_test(test_bam_tag_check),
        cmocka_unit_test(test_bam_copy_bam),
        cmocka_unit_test(test_bam_copy_sam),
        cmocka_unit_test(test_bam_copy_cram),
        cmocka_unit_test(test_bam_retag_and_abort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
