/* test_grad.c: gradients of whole models (every op's backward on the path)
 * against central finite differences in float64, for every architecture,
 * combine mode and objective; and the float32 gradients against float64. */
#include <math.h>

#include "model.h"
#include "testutil.h"

typedef struct grad_case {
    const char *what;
    int arch, combine, fused, objective, pool;
    int64_t L;
} grad_case;

static const grad_case cases[] = {
    {"mamba next-token", MD_ARCH_MAMBA, MD_COMBINE_ADD, 1, MD_OBJ_NEXT_TOKEN, 0, 11},
    {"caduceus-ph MLM", MD_ARCH_CADUCEUS_PH, MD_COMBINE_ADD, 1, MD_OBJ_MLM, 0, 9},
    {"caduceus-ph ew_multiply classify max", MD_ARCH_CADUCEUS_PH, MD_COMBINE_MUL, 1, MD_OBJ_CLASSIFY, MD_POOL_MAX, 8},
    {"caduceus-ps MLM", MD_ARCH_CADUCEUS_PS, MD_COMBINE_ADD, 1, MD_OBJ_MLM, 0, 9},
    {"caduceus-ps unfused classify mean", MD_ARCH_CADUCEUS_PS, MD_COMBINE_ADD, 0, MD_OBJ_CLASSIFY, MD_POOL_MEAN, 10},
    {"caduceus-ps classify last, several scan chunks", MD_ARCH_CADUCEUS_PS, MD_COMBINE_ADD, 1, MD_OBJ_CLASSIFY, MD_POOL_LAST, 150},
};

static md_model *tiny_model(const grad_case *gc, uint64_t seed)
{
    md_config cfg;
    md_config_init(&cfg, gc->arch, 8, 2);
    cfg.d_state = 4;
    cfg.d_conv = 3;
    cfg.dt_rank = 2;
    cfg.combine = gc->combine;
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
        grad_case gc = {"", arch, MD_COMBINE_ADD, 1, MD_OBJ_CLASSIFY, MD_POOL_MEAN, 17};
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradients),
        cmocka_unit_test(test_loss_matches_inference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
