/* test_grad.c: gradients of whole models (every op's backward on the path)
 * against central finite differences in float64, for every architecture,
 * combine mode, norm and objective; and the float32 gradients against
 * float64. */
#include <math.h>
#include <omp.h>

#include "cpu/grad_fast.h"
#include "model.h"
#include "testutil.h"

typedef struct grad_case {
    const char *what;
    int arch, combine, fused, objective, pool;
    int64_t L;
    int layer_norm; /* LayerNorm (weight and bias) instead of RMSNorm */
} grad_case;

static const grad_case cases[] = {
    {"mamba next-token", MD_ARCH_MAMBA, MD_COMBINE_ADD, 1, MD_OBJ_NEXT_TOKEN, 0, 11, 0},
    {"caduceus-ph MLM", MD_ARCH_CADUCEUS_PH, MD_COMBINE_ADD, 1, MD_OBJ_MLM, 0, 9, 0},
    {"caduceus-ph ew_multiply classify max", MD_ARCH_CADUCEUS_PH, MD_COMBINE_MUL, 1, MD_OBJ_CLASSIFY, MD_POOL_MAX, 8, 0},
    {"caduceus-ps MLM", MD_ARCH_CADUCEUS_PS, MD_COMBINE_ADD, 1, MD_OBJ_MLM, 0, 9, 0},
    {"caduceus-ps unfused classify mean", MD_ARCH_CADUCEUS_PS, MD_COMBINE_ADD, 0, MD_OBJ_CLASSIFY, MD_POOL_MEAN, 10, 0},
    {"caduceus-ps classify last, several scan chunks", MD_ARCH_CADUCEUS_PS, MD_COMBINE_ADD, 1, MD_OBJ_CLASSIFY, MD_POOL_LAST, 150, 0},
    {"mamba LayerNorm next-token", MD_ARCH_MAMBA, MD_COMBINE_ADD, 1, MD_OBJ_NEXT_TOKEN, 0, 10, 1},
    {"caduceus-ph LayerNorm MLM", MD_ARCH_CADUCEUS_PH, MD_COMBINE_ADD, 1, MD_OBJ_MLM, 0, 9, 1},
    {"caduceus-ps unfused LayerNorm classify mean", MD_ARCH_CADUCEUS_PS, MD_COMBINE_ADD, 0, MD_OBJ_CLASSIFY, MD_POOL_MEAN, 8, 1},
};

static md_model *tiny_model(const grad_case *gc, uint64_t seed)
{
    md_config cfg;
    md_config_init(&cfg, gc->arch, 8, 2);
    cfg.d_state = 4;
    cfg.d_conv = 3;
    cfg.dt_rank = 2;
    cfg.combine = gc->combine;
    cfg.rms_norm = !gc->layer_norm;
    cfg.fused_add_norm = gc->fused;
    cfg.pool = gc->pool;
    cfg.n_classes = gc->objective == MD_OBJ_CLASSIFY ? 3 : 0;
    md_model *m = md_model_init(&cfg, seed);
    assert_non_null(m);
    /* larger, asymmetric weights so every path carries gradient */
    srand((unsigned)seed);
    for (int64_t i = 0; i < m->n_params; i++) m->params[i] += 0.2f * ((float)rand() / RAND_MAX - 0.5f);
    /* steps of order 1 so that the decays exp(delta A) are far from 1 */
    for (int l = 0; l < m->cfg.n_layer; l++)
        for (int e = 0; e < m->cfg.expand * m->cfg.d_model; e++) {
            m->layers[l].fwd.dt_proj_b[e] = 0.5f * (float)rand() / RAND_MAX;
            if (gc->arch != MD_ARCH_MAMBA) m->layers[l].rev.dt_proj_b[e] = 0.5f * (float)rand() / RAND_MAX;
        }
    return m;
}

static double loss_at(const md_model *m, const double *p, int obj, const md_batch *b)
{
    double loss;
    assert_int_equal(md_model_loss_grad_f64(m, p, obj, b, NULL, &loss), 0);
    return loss;
}

static void run_case(const grad_case *gc)
{
    md_model *m = tiny_model(gc, 1234);
    const int B = 2;
    int64_t L = gc->L, n = m->n_params;
    uint8_t *tok = malloc((size_t)(B * L)), *tgt = malloc((size_t)(B * L));
    for (int64_t i = 0; i < B * L; i++) {
        tok[i] = (uint8_t)(MD_TOK_A + rand() % 5);
        tgt[i] = (uint8_t)(rand() % 3 ? MD_TOK_A + rand() % 4 : MD_TOK_PAD);
    }
    tok[B * L - 1] = MD_TOK_PAD; /* a padded position */
    int32_t labels[2] = {2, 0};
    float weights[3] = {1.0f, 0.5f, 2.0f};
    md_batch b = {.B = B, .L = L, .tokens = tok, .targets = tgt, .labels = labels,
                  .class_weights = gc->objective == MD_OBJ_CLASSIFY ? weights : NULL};
    double *p = malloc((size_t)n * sizeof *p), *g = calloc((size_t)n, sizeof *g);
    for (int64_t i = 0; i < n; i++) p[i] = m->params[i];
    double loss;
    assert_int_equal(md_model_loss_grad_f64(m, p, gc->objective, &b, g, &loss), 0);
    assert_true(isfinite(loss) && loss > 0);
    /* Every tensor: the directional derivative along a random +-1 direction
     * over all its entries, by central differences, against g . v. */
    double worst = 0, worst_num = 0, worst_g = 0;
    const char *worst_name = "";
    double *save = malloc((size_t)n * sizeof *save);
    signed char *v = malloc((size_t)n);
    for (int k = 0; k < m->n_table; k++) {
        const md_param_entry *e = &m->table[k];
        double gv = 0, h = 1e-5;
        for (int64_t i = e->offset; i < e->offset + e->numel; i++) {
            v[i] = rand() % 2 ? 1 : -1;
            gv += g[i] * v[i];
            save[i] = p[i];
        }
        for (int64_t i = e->offset; i < e->offset + e->numel; i++) p[i] = save[i] + h * v[i];
        double lp = loss_at(m, p, gc->objective, &b);
        for (int64_t i = e->offset; i < e->offset + e->numel; i++) p[i] = save[i] - h * v[i];
        double lm = loss_at(m, p, gc->objective, &b);
        for (int64_t i = e->offset; i < e->offset + e->numel; i++) p[i] = save[i];
        double num = (lp - lm) / (2 * h);
        /* rounding of the loss differences: ~1e-16 * loss / h */
        double err = fabs(num - gv) / (fabs(num) + fabs(gv) + 1e-8);
        if (err > worst) {
            worst = err;
            worst_name = e->name;
            worst_num = num;
            worst_g = gv;
        }
    }
    print_message("%s: %d tensors, worst relative difference %.2e (%s: %.4e vs %.4e)\n",
                  gc->what, m->n_table, worst, worst_name, worst_g, worst_num);
    assert_true(worst < 2e-5);
    free(save);
    free(v);
    /* float32 path against float64 */
    float *g32 = calloc((size_t)n, sizeof *g32);
    double loss32;
    assert_int_equal(md_model_loss_grad(m, gc->objective, &b, 0, g32, &loss32), 0);
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num += (g32[i] - g[i]) * (g32[i] - g[i]);
        den += g[i] * g[i];
    }
    print_message("%s: float32 loss %.8f vs %.8f, gradient rel err %.2e\n", gc->what, loss32, loss,
                  sqrt(num / den));
    assert_true(fabs(loss32 - loss) < 1e-5 * fabs(loss) + 1e-6);
    assert_true(sqrt(num / den) < 1e-4);
    free(g32); free(p); free(g); free(tok); free(tgt);
    md_model_free(m);
}

static void test_gradients(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case(&cases[i]);
}

/* The training forward agrees with the inference forward: the classification
 * loss from md_model_classify probabilities equals md_model_loss_grad's. */
static void test_loss_matches_inference(void **state)
{
    (void)state;
    for (int arch = MD_ARCH_MAMBA; arch <= MD_ARCH_CADUCEUS_PS; arch++) {
        grad_case gc = {"", arch, MD_COMBINE_ADD, 1, MD_OBJ_CLASSIFY, MD_POOL_MEAN, 17, 0};
        md_model *m = tiny_model(&gc, 99);
        const int B = 3;
        uint8_t tok[3 * 17];
        for (int i = 0; i < B * 17; i++) tok[i] = (uint8_t)(MD_TOK_A + (i * 5 + i / 7) % 4);
        int32_t labels[3] = {0, 1, 2};
        md_batch b = {.B = B, .L = 17, .tokens = tok, .labels = labels};
        double loss;
        assert_int_equal(md_model_loss_grad(m, MD_OBJ_CLASSIFY, &b, 0, NULL, &loss), 0);
        float prob[9];
        assert_int_equal(md_model_classify(m, tok, B, 17, NULL, prob), 0);
        double want = 0;
        for (int i = 0; i < B; i++) want -= log(prob[i * 3 + labels[i]]) / B;
        assert_float_equal(loss, want, 1e-5);
        md_model_free(m);
    }
}

/* ---- the vectorised float32 kernels against the float64 template ones --- */

static uint64_t kseed = 88172645463325252ull;

static double urand(double lo, double hi)
{
    kseed ^= kseed << 13, kseed ^= kseed >> 7, kseed ^= kseed << 17;
    return lo + (hi - lo) * (double)(kseed >> 11) / 9007199254740992.0;
}

/* A float buffer of n values in [lo, hi) and its float64 copy; with NaN
 * columns [cols, ld) of every row of ld when ld > cols (padding neither
 * kernel may touch). */
typedef struct kbuf {
    float *f;
    double *d;
    int64_t n;
} kbuf;

static kbuf kb_new(int64_t rows, int64_t ld, int64_t cols, double lo, double hi)
{
    kbuf b = {malloc((size_t)(rows * ld) * sizeof(float)), malloc((size_t)(rows * ld) * sizeof(double)),
              rows * ld};
    assert_non_null(b.f);
    assert_non_null(b.d);
    for (int64_t i = 0; i < b.n; i++) {
        b.f[i] = i % ld < cols ? (float)urand(lo, hi) : NAN;
        b.d[i] = b.f[i];
    }
    return b;
}

static void kb_poison(kbuf *b)
{
    for (int64_t i = 0; i < b->n; i++) b->f[i] = NAN, b->d[i] = NAN;
}

static void kb_free(kbuf *b)
{
    free(b->f);
    free(b->d);
}

static double kworst; /* largest relative difference seen */
static const char *kworst_what = "";

/* NaN exactly where the reference has NaN (poison not overwritten, padding
 * not touched), elsewhere relative RMS difference < tol. */
static void kb_check(const char *what, const kbuf *b, double tol)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < b->n; i++) {
        if (isnan(b->d[i]) != isnan(b->f[i]))
            fail_msg("%s[%lld]: %g, reference %g", what, (long long)i, b->f[i], b->d[i]);
        if (isnan(b->d[i])) continue;
        assert_true(isfinite(b->f[i]));
        num += (b->f[i] - b->d[i]) * (b->f[i] - b->d[i]);
        den += b->d[i] * b->d[i];
    }
    double err = den > 0 ? sqrt(num / den) : sqrt(num);
    if (err >= tol) fail_msg("%s: relative difference %.2e", what, err);
    if (err > kworst) kworst = err, kworst_what = what;
}

static void kernel_case(int E, int N, int K, int dir, int rows, int64_t Ls, int threads)
{
    omp_set_num_threads(threads);
    int64_t S = rows * Ls, ldx = E + 5, ldz = E + 3, ldbc = 2 * N + 3, ldg = 2 * N + 5;
    int64_t n_save = rows * ((Ls + MD_SCAN_CHUNK - 1) / MD_SCAN_CHUNK) * N * E;
    double tol = 2e-5;
    /* conv */
    kbuf x = kb_new(S, ldx, E, -1, 1), cw = kb_new(E, K, K, -0.8, 0.8), cb = kb_new(E, 1, 1, -0.5, 0.5);
    kbuf out = kb_new(S, E, E, 0, 1), gu = kb_new(S, E, E, -1, 1), gx = kb_new(S, ldx, E, -1, 1);
    kbuf gw = kb_new(E, K, K, -1, 1), gb = kb_new(E, 1, 1, -1, 1);
    kb_poison(&out);
    md_grad_conv_fwd(x.f, ldx, cw.f, cb.f, rows, Ls, E, K, dir, out.f);
    md_grad_ref_conv_fwd(x.d, ldx, cw.d, cb.d, rows, Ls, E, K, dir, out.d);
    kb_check("conv out", &out, tol);
    md_grad_conv_bwd(x.f, ldx, cw.f, cb.f, rows, Ls, E, K, dir, gu.f, gx.f, gw.f, gb.f);
    md_grad_ref_conv_bwd(x.d, ldx, cw.d, cb.d, rows, Ls, E, K, dir, gu.d, gx.d, gw.d, gb.d);
    kb_check("conv g_x", &gx, tol);
    kb_check("conv g_w", &gw, tol);
    kb_check("conv g_b", &gb, tol);
    /* scan: B and C in rows of ldbc at 1 and 1 + N */
    kbuf u = kb_new(S, E, E, -1, 1), dtr = kb_new(S, E, E, -2.5, 1), bias = kb_new(E, 1, 1, -1, 0.5);
    kbuf alog = kb_new(E, N, N, 0, 1), bc = kb_new(S, ldbc, 1 + 2 * N, -1, 1);
    kbuf dv = kb_new(E, 1, 1, 0.5, 1.5), z = kb_new(S, ldz, E, -2, 2), gy = kb_new(S, E, E, -1, 1);
    kbuf y = kb_new(S, E, E, 0, 1), hsave = kb_new(n_save, 1, 1, 0, 1);
    kbuf gu2 = kb_new(S, E, E, 0, 1), gdtr = kb_new(S, E, E, 0, 1), gz = kb_new(S, ldz, E, -1, 1);
    kbuf gbc = kb_new(S, ldg, 2 * N, -1, 1), galog = kb_new(E, N, N, -1, 1);
    kbuf gd = kb_new(E, 1, 1, -1, 1), gbias = kb_new(E, 1, 1, -1, 1);
    for (int64_t i = 0; i < S * ldbc; i += ldbc) bc.f[i] = NAN, bc.d[i] = NAN; /* not B or C */
    for (int e = 0; e < E; e++)
        for (int n = 0; n < N; n++) { /* S4D-like A = -(n + 1), perturbed */
            alog.f[e * N + n] = (float)(log(n + 1.0) + urand(-0.3, 0.3));
            alog.d[e * N + n] = alog.f[e * N + n];
        }
    for (int64_t i = 0; i < S * E; i += 97) dtr.f[i] = 25, dtr.d[i] = 25; /* softplus(x) = x */
    int64_t n_part = (int64_t)threads * S * 2 * N;
    float *part = malloc((size_t)n_part * sizeof(float));
    double *part_d = malloc((size_t)n_part * sizeof(double));
    for (int64_t i = 0; i < n_part; i++) part[i] = NAN;
    kb_poison(&y);
    kb_poison(&hsave);
    md_grad_scan_fwd(u.f, dtr.f, bias.f, alog.f, bc.f + 1, bc.f + 1 + N, ldbc, dv.f, z.f, ldz, rows,
                     Ls, E, N, dir, y.f, hsave.f);
    md_grad_ref_scan_fwd(u.d, dtr.d, bias.d, alog.d, bc.d + 1, bc.d + 1 + N, ldbc, dv.d, z.d, ldz,
                         rows, Ls, E, N, dir, y.d, hsave.d);
    kb_check("scan y", &y, tol);
    kb_check("scan hsave", &hsave, tol);
    kb_poison(&y);
    kb_poison(&gu2);
    kb_poison(&gdtr);
    md_grad_scan_bwd(u.f, dtr.f, bias.f, alog.f, bc.f + 1, bc.f + 1 + N, ldbc, dv.f, z.f, ldz, rows,
                     Ls, E, N, dir, hsave.f, gy.f, y.f, gu2.f, gdtr.f, gz.f, gbc.f, ldg, galog.f,
                     gd.f, gbias.f, part);
    md_grad_ref_scan_bwd(u.d, dtr.d, bias.d, alog.d, bc.d + 1, bc.d + 1 + N, ldbc, dv.d, z.d, ldz,
                         rows, Ls, E, N, dir, hsave.d, gy.d, y.d, gu2.d, gdtr.d, gz.d, gbc.d, ldg,
                         galog.d, gd.d, gbias.d, part_d);
    kb_check("scan_bwd y", &y, tol);
    kb_check("scan g_u", &gu2, tol);
    kb_check("scan g_dtr", &gdtr, tol);
    kb_check("scan g_z", &gz, tol);
    kb_check("scan g_B|g_C", &gbc, tol);
    kb_check("scan g_A_log", &galog, tol);
    kb_check("scan g_D", &gd, tol);
    kb_check("scan g_bias", &gbias, tol);
    kbuf all[] = {x, cw, cb, out, gu, gx, gw, gb, u, dtr, bias, alog, bc, dv, z, gy, y, hsave,
                  gu2, gdtr, gz, gbc, galog, gd, gbias};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) kb_free(&all[i]);
    free(part);
    free(part_d);
}

static void test_fast_kernels(void **state)
{
    (void)state;
    int saved = omp_get_max_threads(), n = 0;
    /* E with a masked tail block; N generic and unrolled; L = 150 ends in a
     * partial scan chunk; rows and threads so that the scan backward runs
     * both with whole rows per task and with channel groups */
    const int Es[] = {40, 24}, Ns[] = {4, 16}, dirs[] = {1, -1}, rowss[] = {1, 3, 13}, ths[] = {1, 3};
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++)
            for (int c = 0; c < 2; c++)
                for (int d = 0; d < 3; d++)
                    for (int e = 0; e < 2; e++, n++)
                        kernel_case(Es[a], Ns[b], Ns[b] == 4 ? 3 : 4, dirs[c], rowss[d], 150, ths[e]);
    /* larger states (sums of g_B / g_C over several groups of 16) */
    kernel_case(24, 33, 2, 1, 2, 150, 2);
    kernel_case(40, 64, 4, -1, 3, 70, 3);
    n += 2;
    omp_set_num_threads(saved);
    print_message("%d kernel cases agree with the float64 templates, worst relative "
                  "difference %.2e (%s)\n", n, kworst, kworst_what);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_kernels),
        cmocka_unit_test(test_gradients),
        cmocka_unit_test(test_loss_matches_inference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
