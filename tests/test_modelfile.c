/* test_modelfile.c: bad model files get an error naming the tensor or the
 * field; checkpoint directories with tied aliases and RC buffers load. */
#include "model.h"
#include "safetensors.h"
#include "testutil.h"
#include <math.h>
#include <sys/stat.h>

/* Write the tensors of m under their names, with changes: skip one tensor,
 * add one, change a shape, or store one as I64. */
typedef struct edit {
    const char *skip, *extra, *reshape, *as_int;
    const char *config; /* mambadna.config value, NULL: the model's */
} edit;

static void write_edited(const md_model *m, const char *path, const edit *ed)
{
    md_st_entry *e = calloc((size_t)m->n_table + 1, sizeof *e);
    int64_t *ints = calloc(4096, sizeof *ints);
    int n = 0;
    for (int i = 0; i < m->n_table; i++) {
        const md_param_entry *p = &m->table[i];
        if (ed->skip && !strcmp(p->name, ed->skip)) continue;
        e[n] = (md_st_entry){.name = p->name, .dtype = MD_F32, .ndim = p->ndim,
                             .data = m->params + p->offset, .src_is_f32 = 1};
        memcpy(e[n].shape, p->shape, sizeof p->shape);
        if (ed->reshape && !strcmp(p->name, ed->reshape)) {
            e[n].ndim = 1;
            e[n].shape[0] = p->numel;
        }
        if (ed->as_int && !strcmp(p->name, ed->as_int)) {
            e[n].dtype = MD_I64;
            e[n].src_is_f32 = 0;
            e[n].data = ints;
            assert_true(p->numel <= 4096);
        }
        n++;
    }
    if (ed->extra) {
        e[n] = (md_st_entry){.name = ed->extra, .dtype = MD_F32, .ndim = 1, .shape = {4},
                             .data = m->params, .src_is_f32 = 1};
        n++;
    }
    char *cfg = md_config_to_json(&m->cfg);
    char *keys[2] = {"mambadna.config", "mambadna.tokenizer"};
    char *vals[2] = {ed->config ? (char *)ed->config : cfg, MD_TOKENIZER_ID};
    assert_int_equal(md_st_write(path, e, n, keys, vals, 2), 0);
    free(cfg);
    free(e);
    free(ints);
}

static void expect_error(const md_model *m, const edit *ed, const char *needle)
{
    char path[512];
    snprintf(path, sizeof path, "%s/bad.safetensors", md_test_tmpdir());
    write_edited(m, path, ed);
    md_model *r = md_model_load(path);
    assert_null(r);
    if (!strstr(md_last_error(), needle))
        fail_msg("error '%s' does not name '%s'", md_last_error(), needle);
    unlink(path);
}

static void test_bad_files(void **state)
{
    (void)state;
    md_config cfg;
    md_config_init(&cfg, MD_ARCH_CADUCEUS_PH, 16, 2);
    md_model *m = md_model_init(&cfg, 1);
    const char *t = "caduceus.backbone.layers.1.mixer.mamba_rev.x_proj.weight";
    expect_error(m, &(edit){.skip = t}, t);
    expect_error(m, &(edit){.skip = t}, "missing");
    expect_error(m, &(edit){.extra = "something.else"}, "something.else");
    expect_error(m, &(edit){.reshape = t}, t);
    expect_error(m, &(edit){.reshape = t}, "shape");
    expect_error(m, &(edit){.as_int = "caduceus.backbone.norm_f.weight"}, "I64");
    /* config inconsistent with the tensors: a layer too many */
    char *json = md_config_to_json(&cfg);
    char *bad = malloc(strlen(json) + 8);
    strcpy(bad, json);
    char *p = strstr(bad, "\"n_layer\":2");
    assert_non_null(p);
    p[10] = '3';
    expect_error(m, &(edit){.config = bad}, "caduceus.backbone.layers.2.");
    expect_error(m, &(edit){.config = "{\"arch\": \"transformer\", \"d_model\": 16, \"n_layer\": 2}"},
                 "transformer");
    expect_error(m, &(edit){.config = "not json"}, "JSON");
    free(bad);
    free(json);
    /* truncated file */
    char path[512];
    snprintf(path, sizeof path, "%s/trunc.safetensors", md_test_tmpdir());
    assert_int_equal(md_model_save(m, path, MD_F32), 0);
    assert_int_equal(truncate(path, 1000), 0);
    assert_null(md_model_load(path));
    assert_non_null(strstr(md_last_error(), "trunc.safetensors"));
    unlink(path);
    assert_null(md_model_load("/nonexistent/model.safetensors"));
    assert_non_null(strstr(md_last_error(), "/nonexistent/model.safetensors"));
    md_model_free(m);
}

/* A Caduceus directory whose file also stores the tied reverse projections
 * and the LM head (as some checkpoints do) loads to the same model. */
static void test_tied_aliases_present(void **state)
{
    (void)state;
    char src[512], dir[512], st[600], cfgp[600];
    md_test_path(src, sizeof src, md_test_data_dir(), "golden/caduceus_ph");
    md_model *m = md_model_load(src);
    assert_non_null(m);
    snprintf(dir, sizeof dir, "%s/ph_aliases", md_test_tmpdir());
    mkdir(dir, 0755);
    snprintf(cfgp, sizeof cfgp, "%s/config.json", dir);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp %s/config.json %s", src, cfgp);
    assert_int_equal(system(cmd), 0);
    md_st_entry *e = calloc((size_t)m->n_table + 8, sizeof *e);
    int n = 0;
    for (int i = 0; i < m->n_table; i++) {
        const md_param_entry *p = &m->table[i];
        e[n] = (md_st_entry){.name = p->name, .dtype = MD_BF16, .ndim = p->ndim,
                             .data = m->params + p->offset, .src_is_f32 = 1};
        memcpy(e[n].shape, p->shape, sizeof p->shape);
        n++;
    }
    char names[4][128];
    const float *ptrs[4] = {m->layers[0].fwd.in_proj, m->layers[0].fwd.out_proj, m->embedding, NULL};
    int64_t E = 64, D = 32;
    snprintf(names[0], 128, "caduceus.backbone.layers.0.mixer.mamba_rev.in_proj.weight");
    snprintf(names[1], 128, "caduceus.backbone.layers.0.mixer.mamba_rev.out_proj.weight");
    snprintf(names[2], 128, "lm_head.weight");
    int64_t shapes[3][2] = {{2 * E, D}, {D, E}, {16, D}};
    for (int k = 0; k < 3; k++) {
        e[n] = (md_st_entry){.name = names[k], .dtype = MD_BF16, .ndim = 2,
                             .shape = {shapes[k][0], shapes[k][1]}, .data = ptrs[k], .src_is_f32 = 1};
        n++;
    }
    snprintf(st, sizeof st, "%s/model.safetensors", dir);
    assert_int_equal(md_st_write(st, e, n, NULL, NULL, 0), 0);
    md_model *r = md_model_load(dir);
    if (!r) fail_msg("%s", md_last_error());
    assert_int_equal(r->n_params, m->n_params);
    for (int64_t i = 0; i < m->n_params; i++)
        assert_float_equal(r->params[i], m->params[i], 1e-2 * (1 + fabsf(m->params[i])));
    md_model_free(r);
    md_model_free(m);
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_tied_aliases_present),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
