/* test_explain.c: attributions on small random models. ISM against scoring
 * every mutant sequence separately through md_score_run (exactly equal),
 * and the gradient against central finite differences of the score with
 * respect to the one-hot input (each position on causal and PH models
 * through spare vocabulary rows; summed directions on PS models). */
#include <math.h>

#include "model.h"
#include "testutil.h"

static const char BASES[] = "ACGT";

static md_model *small_model(int arch, uint64_t seed)
{
    md_config cfg;
    md_config_init(&cfg, arch, 16, 2);
    cfg.n_classes = 2;
    return md_model_init(&cfg, seed);
}

static int best_window(void *ctx, const md_scored_seq *seq)
{
    float **next = ctx, best = -INFINITY;
    for (int64_t i = 0; i < seq->n; i++) best = fmaxf(best, seq->w[i].score);
    *(*next)++ = best;
    return 0;
}

/* ISM values equal S(mutant) - S(sequence) with both scores taken from
 * md_score_run on a FASTA of every mutant, for each architecture. */
static void test_ism_matches_mutants(void **state)
{
    (void)state;
    const char *seq = "ACGTTGCAAGGCTTACGATCNATCGGATCCATGCATGCAAATTTGGGCCCAC"; /* one N */
    int64_t len = (int64_t)strlen(seq);
    int archs[3] = {MD_ARCH_MAMBA, MD_ARCH_CADUCEUS_PH, MD_ARCH_CADUCEUS_PS};
    for (int a = 0; a < 3; a++) {
        md_model *m = small_model(archs[a], 11 + a);
        md_explain_opt o;
        md_explain_opt_init(&o);
        o.score.window = 20;
        o.score.stride = 7;
        o.score.batch = 5; /* mutants of one position span batches */
        assert_int_equal(md_explain_opt_resolve(&o, m), 0);
        uint8_t ids[64];
        md_tokenize(seq, len, ids);
        float values[64 * 4], S;
        assert_int_equal(md_explain_seq(m, &o, ids, len, values, &S, NULL), 0);

        char fa[512];
        snprintf(fa, sizeof fa, "%s/mutants%d.fa", md_test_tmpdir(), a);
        FILE *f = fopen(fa, "w");
        assert_non_null(f);
        fprintf(f, ">ref\n%s\n", seq);
        for (int64_t i = 0; i < len; i++)
            for (int c = 0; c < 4; c++) {
                char mut[64];
                memcpy(mut, seq, (size_t)len + 1);
                mut[i] = BASES[c];
                fprintf(f, ">m%lld_%c\n%s\n", (long long)i, BASES[c], mut);
            }
        fclose(f);
        float scores[1 + 64 * 4], *next = scores;
        md_score_opt so;
        md_score_opt_init(&so);
        so.window = 20;
        so.stride = 7;
        so.batch = 64;
        assert_int_equal(md_score_opt_resolve(&so, m), 0);
        md_seqsource *src = md_seqsource_open(fa, NULL, 0, NULL);
        assert_non_null(src);
        assert_int_equal(md_score_run(m, src, &so, best_window, &next, NULL), 0);
        md_seqsource_close(src);
        assert_int_equal(next - scores, 1 + 4 * len);
        assert_true(scores[0] == S);
        int nonzero = 0;
        for (int64_t i = 0; i < len; i++)
            for (int c = 0; c < 4; c++) {
                float want = seq[i] == BASES[c] ? 0.0f : scores[1 + 4 * i + c] - S;
                if (values[4 * i + c] != want)
                    fail_msg("arch %d position %lld base %c: ism %.9g, mutant scored alone %.9g",
                             archs[a], (long long)i, BASES[c], values[4 * i + c], want);
                nonzero += want != 0;
            }
        assert_true(nonzero > len); /* the windows do change */
        md_model_free(m);
    }
}

/* Score of the window rows (plus row, and for two-strand models its reverse
 * complement) as md_score_run combines them (both strands, average). */
static double window_score(md_model *m, const uint8_t *rows, int64_t L)
{
    int ps = md_model_config(m)->arch == MD_ARCH_CADUCEUS_PS;
    float prob[4];
    md_forward_opt fo;
    md_forward_opt_init(&fo);
    assert_int_equal(md_model_classify(m, rows, ps ? 1 : 2, L, &fo, prob), 0);
    return ps ? prob[1] : 0.5 * ((double)prob[1] + prob[3]);
}

/* Each position and base on causal and PH models: spare vocabulary rows 12
 * and 13 hold the perturbed one-hot input of the plus row and of the
 * reverse-complement row. */
static void test_grad_finite_differences(void **state)
{
    (void)state;
    const char *seq = "GATTACAGGCTTACGTTAGCCATGCAAGTCTAGGCA";
    int64_t L = (int64_t)strlen(seq);
    int archs[2] = {MD_ARCH_MAMBA, MD_ARCH_CADUCEUS_PH};
    const double eps = 1e-2;
    for (int a = 0; a < 2; a++) {
        md_model *m = small_model(archs[a], 21 + a);
        int64_t D = md_model_config(m)->d_model;
        md_explain_opt o;
        md_explain_opt_init(&o);
        o.method = MD_EXPLAIN_GRAD;
        o.score.window = L; /* one window: the score is differentiable everywhere */
        assert_int_equal(md_explain_opt_resolve(&o, m), 0);
        uint8_t ids[64], rows[128];
        md_tokenize(seq, L, ids);
        float values[64 * 4], S;
        assert_int_equal(md_explain_seq(m, &o, ids, L, values, &S, NULL), 0);
        float *E = m->embedding; /* (V, D) */
        double max_abs = 0, max_err = 0;
        for (int64_t i = 0; i < L; i++) {
            double d[4]; /* d score / d x[i][c] by central differences */
            for (int c = 0; c < 4; c++) {
                int ref = ids[i], tok = MD_TOK_A + c;
                double s[2];
                for (int sign = 0; sign < 2; sign++) {
                    double h = sign ? -eps : eps;
                    for (int64_t k = 0; k < D; k++) {
                        E[12 * D + k] = E[ref * D + k] + (float)h * E[tok * D + k];
                        E[13 * D + k] = E[md_complement_token(ref) * D + k] +
                                        (float)h * E[md_complement_token(tok) * D + k];
                    }
                    memcpy(rows, ids, (size_t)L);
                    memcpy(rows + L, ids, (size_t)L);
                    md_revcomp_tokens(rows + L, L);
                    rows[i] = 12;
                    rows[L + L - 1 - i] = 13;
                    s[sign] = window_score(m, rows, L);
                }
                d[c] = (s[0] - s[1]) / (2 * eps);
            }
            for (int c = 0; c < 4; c++) {
                double want = d[c] - d[ids[i] - MD_TOK_A];
                max_abs = fmax(max_abs, fabs(want));
                max_err = fmax(max_err, fabs(values[4 * i + c] - want));
            }
        }
        print_message("arch %d: largest attribution %.3g, largest difference %.3g\n", archs[a],
                      max_abs, max_err);
        assert_true(max_abs > 1e-4);
        assert_true(max_err < 3e-3 * max_abs);
        md_model_free(m);
    }
}

/* PS models run both strands inside one row: move every A/C/G/T embedding
 * row along itself or along its complement's row, which perturbs every
 * position of both strands at once; the derivatives are sums of the
 * gradient's columns. */
static void test_grad_finite_differences_ps(void **state)
{
    (void)state;
    const char *seq = "GATTACAGGCTTACGTTAGCCATGCAAGTCTAGGCA";
    int64_t L = (int64_t)strlen(seq);
    const double eps = 1e-2;
    md_model *m = small_model(MD_ARCH_CADUCEUS_PS, 31);
    int64_t D = md_model_config(m)->d_model;
    md_explain_opt o;
    md_explain_opt_init(&o);
    o.method = MD_EXPLAIN_GRAD;
    o.score.window = L;
    assert_int_equal(md_explain_opt_resolve(&o, m), 0);
    uint8_t ids[64];
    md_tokenize(seq, L, ids);
    float values[64 * 4], S;
    assert_int_equal(md_explain_seq(m, &o, ids, L, values, &S, NULL), 0);
    float *E = m->embedding, saved[4 * 64];
    memcpy(saved, E + MD_TOK_A * D, (size_t)(4 * D) * sizeof(float));
    double fd[2]; /* along the rows themselves, along the complements' rows */
    for (int dir = 0; dir < 2; dir++) {
        double s[2];
        for (int sign = 0; sign < 2; sign++) {
            double h = sign ? -eps : eps;
            for (int v = 0; v < 4; v++) {
                int src = dir ? md_complement_token(MD_TOK_A + v) - MD_TOK_A : v;
                for (int64_t k = 0; k < D; k++)
                    E[(MD_TOK_A + v) * D + k] = saved[v * D + k] + (float)h * saved[src * D + k];
            }
            s[sign] = window_score(m, ids, L);
        }
        memcpy(E + MD_TOK_A * D, saved, (size_t)(4 * D) * sizeof(float));
        fd[dir] = (s[0] - s[1]) / (2 * eps);
    }
    double sum = 0; /* sum over positions of d/dx[i][comp ref] - d/dx[i][ref] */
    for (int64_t i = 0; i < L; i++) sum += values[4 * i + md_complement_token(ids[i]) - MD_TOK_A];
    print_message("PS: finite differences %.6g, gradient %.6g\n", fd[1] - fd[0], sum);
    assert_true(fabs(fd[1] - fd[0]) > 1e-4);
    assert_true(fabs(sum - (fd[1] - fd[0])) < 3e-3 * fabs(fd[1] - fd[0]));
    md_model_free(m);
}

/* The gradient is zero outside the best window, and a sequence with only
 * N-rich windows has no score. */
static void test_grad_window_and_all_n(void **state)
{
    (void)state;
    md_model *m = small_model(MD_ARCH_CADUCEUS_PH, 41);
    md_explain_opt o;
    md_explain_opt_init(&o);
    o.method = MD_EXPLAIN_GRAD;
    o.score.window = 10;
    o.score.stride = 10;
    assert_int_equal(md_explain_opt_resolve(&o, m), 0);
    const char *seq = "ACGTTGCAAGGCTTACGATCGGATCCATGC";
    uint8_t ids[32];
    md_tokenize(seq, 30, ids);
    float values[32 * 4], S;
    assert_int_equal(md_explain_seq(m, &o, ids, 30, values, &S, NULL), 0);
    int windows_touched = 0;
    for (int w = 0; w < 3; w++) {
        int any = 0;
        for (int i = 10 * w; i < 10 * w + 10; i++)
            for (int c = 0; c < 4; c++) any |= values[4 * i + c] != 0;
        windows_touched += any;
    }
    assert_int_equal(windows_touched, 1);
    o.method = MD_EXPLAIN_ISM;
    memset(ids, MD_TOK_N, 30);
    assert_int_equal(md_explain_seq(m, &o, ids, 30, values, &S, NULL), 0);
    assert_true(isnan(S) && isnan(values[0]) && isnan(values[119]));
    md_model_free(m);
}

int main(void)
{
    md_set_log_level(MD_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ism_matches_mutants),
        cmocka_unit_test(test_grad_finite_differences),
        cmocka_unit_test(test_grad_finite_differences_ps),
        cmocka_unit_test(test_grad_window_and_all_n),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
