/* test_grad_golden.c: whole-model loss and gradients (float64) against the
 * independent PyTorch-autograd reference (tests/reference/grad_ref.py) on
 * the golden checkpoints, for every stored tensor. */
#include <math.h>

#include "model.h"
#include "safetensors.h"
#include "testutil.h"

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
    uint8_t *tok = malloc((size_t)(B * L)), *tgt = malloc((size_t)(B * L));
    for (int64_t i = 0; i < B * L; i++) {
        tok[i] = (uint8_t)((const int64_t *)ids->data)[i];
        tgt[i] = (uint8_t)((const int64_t *)tg->data)[i];
    }
    double want_loss;
    assert_int_equal(md_st_to_f64(md_st_find(&g, "loss"), &want_loss), 0);
    double *p = malloc((size_t)m->n_params * sizeof *p), *grad = calloc((size_t)m->n_params, sizeof *grad);
    for (int64_t i = 0; i < m->n_params; i++) p[i] = m->params[i];
    md_batch b = {.B = B, .L = L, .tokens = tok, .targets = tgt};
    double loss;
    assert_int_equal(md_model_loss_grad_f64(m, p, MD_OBJ_MLM, &b, grad, &loss), 0);
    print_message("%s: loss %.12f, reference %.12f\n", name, loss, want_loss);
    assert_true(fabs(loss - want_loss) < 1e-9 * fabs(want_loss));
    double worst = 0;
    const char *worst_name = "";
    for (int k = 0; k < m->n_table; k++) {
        const md_param_entry *e = &m->table[k];
        char key[200];
        snprintf(key, sizeof key, "grad.%s", e->name);
        const md_st_tensor *t = md_st_find(&g, key);
        if (!t) fail_msg("reference gradient %s missing", key);
        assert_int_equal(md_st_numel(t), e->numel);
        double *want = malloc((size_t)e->numel * sizeof *want), num = 0, den = 0;
        assert_int_equal(md_st_to_f64(t, want), 0);
        for (int64_t i = 0; i < e->numel; i++) {
            double d = grad[e->offset + i] - want[i];
            num += d * d;
            den += want[i] * want[i];
        }
        double err = sqrt(num / (den > 0 ? den : 1));
        if (err > worst) {
            worst = err;
            worst_name = e->name;
        }
        free(want);
    }
    print_message("%s: %d tensors, worst gradient relative error %.2e (%s)\n", name, m->n_table,
                  worst, worst_name);
    assert_true(worst < 1e-8);
    free(tok); free(tgt); free(p); free(grad);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mamba),
        cmocka_unit_test(test_caduceus_ph),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
