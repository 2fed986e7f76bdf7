/* test_grad_golden.c: whole-model loss and gradients against the
 * independent PyTorch-autograd reference (tests/reference/grad_ref.py) on
 * the golden checkpoints, for every stored tensor: the float64 templates
 * and the float32 training path (vectorised kernels). The checkpoints cover
 * the three layouts with RMSNorm and "add", and with LayerNorm and
 * "ew_multiply". */
#include <math.h>

#include "model.h"
#include "safetensors.h"
#include "testutil.h"

/* Relative RMS difference of grad[offset, offset + numel) (float64 or
 * float32) from the reference tensor want[numel]. */
static double tensor_err(const double *g64, const float *g32, const md_param_entry *e,
                         const double *want)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < e->numel; i++) {
        double got = g64 ? g64[e->offset + i] : (double)g32[e->offset + i];
        if (isnan(got)) return INFINITY;
        num += (got - want[i]) * (got - want[i]);
        den += want[i] * want[i];
    }
    return sqrt(num / (den > 0 ? den : 1));
}

/* Worst relative error over the tensors of the model (and which one). */
static double worst_err(const md_model *m, const md_st_file *g, const double *g64,
                        const float *g32, const char **worst_name)
{
    double worst = 0;
    *worst_name = "";
    for (int k = 0; k < m->n_table; k++) {
        const md_param_entry *e = &m->table[k];
        char key[200];
        snprintf(key, sizeof key, "grad.%s", e->name);
        const md_st_tensor *t = md_st_find(g, key);
        if (!t) fail_msg("reference gradient %s missing", key);
        assert_int_equal(md_st_numel(t), e->numel);
        double *want = malloc((size_t)e->numel * sizeof *want); /* (numel) */
        assert_int_equal(md_st_to_f64(t, want), 0);
        double err = tensor_err(g64, g32, e, want);
        if (err > worst) {
            worst = err;
            *worst_name = e->name;
        }
        free(want);
    }
    return worst;
}

static void check_model(const char *name)
{
    char dir[512], gpath[512];
    snprintf(dir, sizeof dir, "%s/golden/%s", md_test_data_dir(), name);
    snprintf(gpath, sizeof gpath, "%s/golden/grads_%s.safetensors", md_test_data_dir(), name);
    md_model *m = md_model_load(dir);
    if (!m) fail_msg("%s", md_last_error());
    md_st_file g;
    if (md_st_open(gpath, &g) < 0) fail_msg("%s", md_last_error());
    const md_st_tensor *ids = md_st_find(&g, "input_ids"), *tg = md_st_find(&g, "targets");
    assert_non_null(ids);
    assert_non_null(tg);
    int B = (int)ids->shape[0];
    int64_t L = ids->shape[1];
    uint8_t *tok = malloc((size_t)(B * L)), *tgt = malloc((size_t)(B * L)); /* (B, L) */
    for (int64_t i = 0; i < B * L; i++) {
        tok[i] = (uint8_t)((const int64_t *)ids->data)[i];
        tgt[i] = (uint8_t)((const int64_t *)tg->data)[i];
    }
    double want_loss;
    assert_int_equal(md_st_to_f64(md_st_find(&g, "loss"), &want_loss), 0);
    md_batch b = {.B = B, .L = L, .tokens = tok, .targets = tgt};
    const char *worst_name;

    /* float64 templates */
    double *p = malloc((size_t)m->n_params * sizeof *p);          /* (n_params) */
    double *grad = calloc((size_t)m->n_params, sizeof *grad);     /* (n_params) */
    for (int64_t i = 0; i < m->n_params; i++) p[i] = m->params[i];
    double loss;
    assert_int_equal(md_model_loss_grad_f64(m, p, MD_OBJ_MLM, &b, grad, &loss), 0);
    double worst = worst_err(m, &g, grad, NULL, &worst_name);
    print_message("%s float64: loss %.12f, reference %.12f; %d tensors, worst gradient "
                  "relative error %.2e (%s)\n", name, loss, want_loss, m->n_table, worst, worst_name);
    assert_true(fabs(loss - want_loss) < 1e-9 * fabs(want_loss));
    assert_true(worst < 1e-8);

    /* float32 training path */
    float *grad32 = calloc((size_t)m->n_params, sizeof *grad32);  /* (n_params) */
    double loss32;
    assert_int_equal(md_model_loss_grad(m, MD_OBJ_MLM, &b, 0, grad32, &loss32), 0);
    worst = worst_err(m, &g, NULL, grad32, &worst_name);
    print_message("%s float32: loss %.8f; worst gradient relative error %.2e (%s)\n", name,
                  loss32, worst, worst_name);
    assert_true(fabs(loss32 - want_loss) < 1e-5 * fabs(want_loss));
    assert_true(worst < 1e-4);

    free(tok); free(tgt); free(p); free(grad); free(grad32);
    md_st_close(&g);
    md_model_free(m);
}

static void test_mamba(void **state)
{
    (void)state;
    check_model("mamba");
}

static void test_caduceus_ph(void **state)
{
    (void)state;
    check_model("caduceus_ph");
}

static void test_mamba_layernorm(void **state)
{
    (void)state;
    check_model("mamba_ln");
}

static void test_caduceus_ph_layernorm_multiply(void **state)
{
    (void)state;
    check_model("caduceus_ph_ln_mul");
}

static void test_caduceus_ps_layernorm_multiply(void **state)
{
    (void)state;
    check_model("caduceus_ps_ln_mul");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mamba),
        cmocka_unit_test(test_caduceus_ph),
        cmocka_unit_test(test_mamba_layernorm),
        cmocka_unit_test(test_caduceus_ph_layernorm_multiply),
        cmocka_unit_test(test_caduceus_ps_layernorm_multiply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
