/* test_score.c: per-base tracks and calls from window scores against brute
 * force, and the scoring loop on a small model (batching across sequences,
 * N-rich windows skipped, strands). */
#include <math.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_track_mean),
        cmocka_unit_test(test_calls),
        cmocka_unit_test(test_score_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
