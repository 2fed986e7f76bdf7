/* test_metrics.c: md_metrics_binary against the numpy reference
 * (tests/reference/metrics_ref.py writes tests/data/labelled/metrics_golden.tsv
 * with the inputs and the expected values) and on hand-checked cases;
 * md_eval_classify batching. */
#include "testutil.h"

#include <math.h>

#define TOL 1e-9

static void assert_close(double got, double want, const char *what, const char *set)
{
    if (isnan(want)) {
        if (!isnan(got)) fail_msg("%s %s: got %.17g, want NaN", set, what, got);
        return;
    }
    if (!(fabs(got - want) <= TOL))
        fail_msg("%s %s: got %.17g, want %.17g (diff %.3g)", set, what, got, want,
                 fabs(got - want));
}

static md_metrics metrics_of(const float *s, const int32_t *y, int64_t n, double thr)
{
    md_metrics m;
    int ret = md_metrics_binary(s, y, n, thr, &m);
    if (ret != 0) fail_msg("md_metrics_binary: %s", md_last_error());
    return m;
}

/* ------------------------------------------------------------------ */
/* Golden sets                                                         */
/* ------------------------------------------------------------------ */

typedef struct golden_set {
    char name[64];
    int64_t n, tp, fp, tn, fn;
    double thr, v[7]; /* accuracy precision recall f1 mcc auroc auprc */
    float *s;
    int32_t *y;
} golden_set;

static int read_golden(golden_set *sets, int max)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/labelled/metrics_golden.tsv", md_test_data_dir());
    FILE *fp = fopen(path, "r");
    if (!fp) fail_msg("cannot open %s (run tests/reference/metrics_ref.py)", path);
    char line[1024];
    int ns = 0;
    int64_t k = 0;
    while (fgets(line, sizeof line, fp)) {
        if (line[0] == '#') continue;
        if (!strncmp(line, "set\t", 4)) {
            assert_true(ns < max);
            golden_set *g = &sets[ns++];
            long long n, tp, fp_, tn, fn;
            int got = sscanf(line + 4, "%63s %lld %lf %lld %lld %lld %lld %lf %lf %lf %lf %lf %lf %lf",
                             g->name, &n, &g->thr, &tp, &fp_, &tn, &fn, &g->v[0], &g->v[1],
                             &g->v[2], &g->v[3], &g->v[4], &g->v[5], &g->v[6]);
            assert_int_equal(got, 14);
            g->n = n, g->tp = tp, g->fp = fp_, g->tn = tn, g->fn = fn;
            g->s = malloc((size_t)n * sizeof *g->s);
            g->y = malloc((size_t)n * sizeof *g->y);
            assert_non_null(g->s);
            assert_non_null(g->y);
            k = 0;
        } else if (!strncmp(line, "x\t", 2)) {
            assert_true(ns > 0);
            golden_set *g = &sets[ns - 1];
            assert_true(k < g->n);
            char *end;
            g->s[k] = (float)strtod(line + 2, &end); /* exact: written from float32 */
            g->y[k] = (int32_t)strtol(end, NULL, 10);
            k++;
        }
    }
    fclose(fp);
    assert_true(ns > 0);
    return ns;
}

static void test_golden(void **state)
{
    (void)state;
    golden_set sets[16];
    int ns = read_golden(sets, 16);
    static const char *names[7] = {"accuracy", "precision", "recall", "f1", "mcc", "auroc", "auprc"};
    for (int i = 0; i < ns; i++) {
        golden_set *g = &sets[i];
        md_metrics m = metrics_of(g->s, g->y, g->n, g->thr);
        assert_int_equal(m.n, g->n);
        assert_int_equal(m.tp, g->tp);
        assert_int_equal(m.fp, g->fp);
        assert_int_equal(m.tn, g->tn);
        assert_int_equal(m.fn, g->fn);
        double got[7] = {m.accuracy, m.precision, m.recall, m.f1, m.mcc, m.auroc, m.auprc};
        for (int j = 0; j < 7; j++) assert_close(got[j], g->v[j], names[j], g->name);

        /* the result does not depend on the order of the inputs (reversed) */
        int64_t n = g->n;
        float *s2 = malloc((size_t)n * sizeof *s2);
        int32_t *y2 = malloc((size_t)n * sizeof *y2);
        for (int64_t k = 0; k < n; k++) {
            s2[k] = g->s[n - 1 - k];
            y2[k] = g->y[n - 1 - k];
        }
        md_metrics r = metrics_of(s2, y2, n, g->thr);
        assert_true(r.auroc == m.auroc || (isnan(r.auroc) && isnan(m.auroc)));
        assert_true(r.auprc == m.auprc || (isnan(r.auprc) && isnan(m.auprc)));
        assert_true(r.mcc == m.mcc);
        free(s2);
        free(y2);
        free(g->s);
        free(g->y);
    }
}

/* ------------------------------------------------------------------ */
/* Hand-checked cases                                                  */
/* ------------------------------------------------------------------ */

static void test_perfect(void **state)
{
    (void)state;
    const float s[6] = {0.1f, 0.2f, 0.3f, 0.7f, 0.8f, 0.9f};
    const int32_t y[6] = {0, 0, 0, 1, 1, 1};
    md_metrics m = metrics_of(s, y, 6, 0.5);
    assert_int_equal(m.tp, 3);
    assert_int_equal(m.tn, 3);
    assert_int_equal(m.fp + m.fn, 0);
    assert_close(m.accuracy, 1, "accuracy", "perfect");
    assert_close(m.precision, 1, "precision", "perfect");
    assert_close(m.recall, 1, "recall", "perfect");
    assert_close(m.f1, 1, "f1", "perfect");
    assert_close(m.mcc, 1, "mcc", "perfect");
    assert_close(m.auroc, 1, "auroc", "perfect");
    assert_close(m.auprc, 1, "auprc", "perfect");
}

static void test_inverted(void **state)
{
    (void)state;
    const float s[6] = {0.9f, 0.8f, 0.7f, 0.3f, 0.2f, 0.1f};
    const int32_t y[6] = {0, 0, 0, 1, 1, 1};
    md_metrics m = metrics_of(s, y, 6, 0.5);
    assert_int_equal(m.tp, 0);
    assert_int_equal(m.fp, 3);
    assert_int_equal(m.tn, 0);
    assert_int_equal(m.fn, 3);
    assert_close(m.accuracy, 0, "accuracy", "inverted");
    assert_close(m.precision, 0, "precision", "inverted");
    assert_close(m.f1, 0, "f1", "inverted");
    assert_close(m.mcc, -1, "mcc", "inverted");
    assert_close(m.auroc, 0, "auroc", "inverted");
    /* every threshold: the 3 negatives come first; AP = (1/3)(1/4 + 2/5 + 3/6) */
    assert_close(m.auprc, (1.0 / 4 + 2.0 / 5 + 3.0 / 6) / 3, "auprc", "inverted");
}

static void test_all_ties(void **state)
{
    (void)state;
    float s[10];
    int32_t y[10];
    for (int i = 0; i < 10; i++) {
        s[i] = 0.5f;
        y[i] = i < 3;
    }
    md_metrics m = metrics_of(s, y, 10, 0.5); /* 0.5 >= 0.5: all predicted 1 */
    assert_int_equal(m.tp, 3);
    assert_int_equal(m.fp, 7);
    assert_close(m.auroc, 0.5, "auroc", "ties");
    assert_close(m.auprc, 0.3, "auprc", "ties"); /* one threshold: precision 3/10 */
    /* TN + FN = 0: a zero factor in the MCC denominator */
    assert_close(m.mcc, 0, "mcc", "ties");
    assert_close(m.precision, 0.3, "precision", "ties");
    assert_close(m.recall, 1, "recall", "ties");
    assert_close(m.f1, 6.0 / 13, "f1", "ties");

    m = metrics_of(s, y, 10, 0.6); /* nothing predicted 1 */
    assert_int_equal(m.tp + m.fp, 0);
    assert_close(m.precision, 0, "precision", "none predicted");
    assert_close(m.recall, 0, "recall", "none predicted");
    assert_close(m.f1, 0, "f1", "none predicted");
    assert_close(m.mcc, 0, "mcc", "none predicted");
    assert_close(m.accuracy, 0.7, "accuracy", "none predicted");
}

static void test_sklearn_example(void **state)
{
    (void)state;
    /* scikit-learn's documented example: roc_auc_score 0.75,
     * average_precision_score 0.8333... */
    const float s[4] = {0.1f, 0.4f, 0.35f, 0.8f};
    const int32_t y[4] = {0, 0, 1, 1};
    md_metrics m = metrics_of(s, y, 4, 0.5);
    assert_close(m.auroc, 0.75, "auroc", "sklearn");
    assert_close(m.auprc, 5.0 / 6, "auprc", "sklearn");
    /* a tie across the classes counts half */
    const float t[4] = {0.1f, 0.4f, 0.4f, 0.8f};
    m = metrics_of(t, y, 4, 0.5);
    assert_close(m.auroc, (1 + 0.5 + 1 + 1) / 4.0, "auroc", "tie");
    /* thresholds 0.8 (P 1, R 1/2) then 0.4 (P 2/3, R 1) */
    assert_close(m.auprc, 0.5 * 1 + 0.5 * (2.0 / 3), "auprc", "tie");
}

static void test_one_class(void **state)
{
    (void)state;
    const float s[3] = {0.2f, 0.6f, 0.9f};
    const int32_t zeros[3] = {0, 0, 0}, ones[3] = {1, 1, 1};
    md_metrics m = metrics_of(s, zeros, 3, 0.5);
    assert_true(isnan(m.auroc));
    assert_true(isnan(m.auprc));
    assert_close(m.mcc, 0, "mcc", "no positives");
    m = metrics_of(s, ones, 3, 0.5);
    assert_true(isnan(m.auroc));
    assert_close(m.auprc, 1, "auprc", "no negatives");
    assert_close(m.recall, 2.0 / 3, "recall", "no negatives");
}

static void test_bad_input(void **state)
{
    (void)state;
    md_metrics m;
    const float s[3] = {0.2f, NAN, 0.9f}, ok[3] = {0.1f, 0.2f, 0.3f};
    const int32_t y[3] = {0, 1, 0}, bad[3] = {0, 2, 1};
    assert_true(md_metrics_binary(s, y, 3, 0.5, &m) < -1);
    assert_non_null(strstr(md_last_error(), "NaN"));
    assert_true(md_metrics_binary(ok, bad, 3, 0.5, &m) < -1);
    assert_non_null(strstr(md_last_error(), "label 2"));
    assert_true(md_metrics_binary(ok, y, 0, 0.5, &m) < -1);
    assert_true(md_metrics_binary(NULL, y, 3, 0.5, &m) < -1);
}

/* A large set: 2U stays exact, and AUROC matches a direct count of pairs. */
static void test_large_against_pairs(void **state)
{
    (void)state;
    int64_t n = 3000;
    float *s = malloc((size_t)n * sizeof *s);
    int32_t *y = malloc((size_t)n * sizeof *y);
    uint64_t x = 88172645463325252ull;
    for (int64_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
        s[i] = (float)(x % 1000) / 1000.0f;      /* many ties */
        y[i] = (x >> 20) % 3 == 0 || s[i] > 0.8f;
    }
    double pairs = 0;
    int64_t P = 0, N = 0;
    for (int64_t i = 0; i < n; i++) {
        if (y[i]) P++;
        else N++;
        if (!y[i]) continue;
        for (int64_t j = 0; j < n; j++)
            if (!y[j]) pairs += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
    }
    md_metrics m = metrics_of(s, y, n, 0.5);
    assert_close(m.auroc, pairs / ((double)P * (double)N), "auroc", "pairs");
    free(s);
    free(y);
}

/* ------------------------------------------------------------------ */
/* md_eval_classify                                                    */
/* ------------------------------------------------------------------ */

static md_model *tiny_classifier(int arch, int classes)
{
    md_config cfg;
    md_config_init(&cfg, arch, 16, 1);
    cfg.n_classes = classes;
    md_model *m = md_model_init(&cfg, 7);
    if (!m) fail_msg("md_model_init: %s", md_last_error());
    return m;
}

static void make_set(md_labelled *d, const int64_t *lens, int n)
{
    memset(d, 0, sizeof *d);
    d->n = n;
    d->names = calloc((size_t)n, sizeof *d->names);
    d->seqs = calloc((size_t)n, sizeof *d->seqs);
    d->lens = calloc((size_t)n, sizeof *d->lens);
    d->labels = calloc((size_t)n, sizeof *d->labels);
    d->n_classes = 2;
    for (int i = 0; i < n; i++) {
        d->names[i] = strdup("s");
        d->seqs[i] = malloc((size_t)lens[i] + 1);
        for (int64_t k = 0; k < lens[i]; k++) d->seqs[i][k] = "ACGT"[(i * 7 + k * k) % 4];
        d->seqs[i][lens[i]] = '\0';
        d->lens[i] = lens[i];
        d->labels[i] = i % 2;
    }
}

static int64_t progress_calls, progress_last;
static void count_progress(int64_t done, int64_t n, void *arg)
{
    (void)arg;
    assert_true(done > progress_last && done <= n);
    progress_last = done;
    progress_calls++;
}

static void test_eval_classify_batches(void **state)
{
    (void)state;
    /* equal lengths: every batch size gives each sequence's own result */
    const int64_t lens[7] = {30, 30, 30, 30, 30, 30, 30};
    md_labelled d;
    make_set(&d, lens, 7);
    md_model *m = tiny_classifier(MD_ARCH_CADUCEUS_PS, 2);
    md_forward_opt opt;
    md_forward_opt_init(&opt);
    opt.threads = 1;
    float one[14], batched[14];
    assert_int_equal(md_eval_classify(m, &d, 1, &opt, one, NULL, NULL), 0);
    progress_calls = progress_last = 0;
    assert_int_equal(md_eval_classify(m, &d, 3, &opt, batched, count_progress, NULL), 0);
    assert_int_equal(progress_calls, 3);
    assert_int_equal(progress_last, 7);
    for (int i = 0; i < 14; i++) assert_float_equal(one[i], batched[i], 1e-5);
    for (int i = 0; i < 7; i++) assert_float_equal(one[2 * i] + one[2 * i + 1], 1.0, 1e-5);
    /* each row is the model's own classification of that sequence */
    uint8_t tok[30];
    float p[2];
    md_tokenize(d.seqs[4], 30, tok);
    assert_int_equal(md_model_classify(m, tok, 1, 30, &opt, p), 0);
    assert_float_equal(p[1], one[9], 1e-6);
    md_labelled_free(&d);
    md_model_free(m);

    /* mixed lengths on a causal model: padding at the end changes nothing */
    const int64_t mixed[5] = {12, 40, 25, 40, 3};
    make_set(&d, mixed, 5);
    m = tiny_classifier(MD_ARCH_MAMBA, 3);
    float a[15], b[15];
    assert_int_equal(md_eval_classify(m, &d, 1, &opt, a, NULL, NULL), 0);
    assert_int_equal(md_eval_classify(m, &d, 5, &opt, b, NULL, NULL), 0);
    for (int i = 0; i < 15; i++) assert_float_equal(a[i], b[i], 1e-5);
    md_labelled_free(&d);
    md_model_free(m);

    /* no classification head */
    make_set(&d, lens, 2);
    m = tiny_classifier(MD_ARCH_MAMBA, 0);
    assert_true(md_eval_classify(m, &d, 4, &opt, a, NULL, NULL) < -1);
    assert_non_null(strstr(md_last_error(), "classification head"));
    md_labelled_free(&d);
    md_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_perfect),
        cmocka_unit_test(test_inverted),
        cmocka_unit_test(test_all_ties),
        cmocka_unit_test(test_sklearn_example),
        cmocka_unit_test(test_one_class),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_large_against_pairs),
        cmocka_unit_test(test_eval_classify_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
