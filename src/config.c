/* config.c: model configurations: defaults, checks, JSON form. */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "model.h"

static const char *arch_names[] = {"mamba", "caduceus-ph", "caduceus-ps"};
static const char *pool_names[] = {"mean", "max", "first", "last"};
static const char *combine_names[] = {"add", "ew_multiply"};

const char *md_arch_name(int arch)
{
    return arch >= 0 && arch <= MD_ARCH_CADUCEUS_PS ? arch_names[arch] : "?";
}

static int parse_name(const char *name, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (name && strcmp(name, names[i]) == 0) return i;
    return -1;
}

int md_arch_parse(const char *name) { return parse_name(name, arch_names, 3); }

void md_config_init(md_config *cfg, int arch, int d_model, int n_layer)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->arch = arch;
    cfg->d_model = d_model;
    cfg->n_layer = n_layer;
    cfg->vocab_size = MD_VOCAB_SIZE;
    cfg->d_state = 16;
    cfg->d_conv = 4;
    cfg->expand = 2;
    cfg->dt_rank = (d_model + 15) / 16;
    cfg->combine = MD_COMBINE_ADD;
    cfg->rms_norm = 1;
    cfg->residual_in_fp32 = 1;
    cfg->fused_add_norm = 1;
    cfg->norm_eps = 1e-5f;
    cfg->pool = MD_POOL_MEAN;
}

int md_config_hidden_width(const md_config *cfg)
{
    return cfg->arch == MD_ARCH_CADUCEUS_PS ? 2 * cfg->d_model : cfg->d_model;
}

int md_config_check(const md_config *c)
{
#define CHECK(cond, ...) if (!(cond)) return md_error(MD_ERR_ARG, __VA_ARGS__)
    CHECK(c->arch >= MD_ARCH_MAMBA && c->arch <= MD_ARCH_CADUCEUS_PS, "config: unknown arch %d", c->arch);
    CHECK(c->d_model >= 1 && c->d_model <= 65536, "config: d_model %d out of range", c->d_model);
    CHECK(c->n_layer >= 1 && c->n_layer <= 1024, "config: n_layer %d out of range", c->n_layer);
    CHECK(c->vocab_size >= MD_TOK_N + 1 && c->vocab_size <= 1 << 20,
          "config: vocab_size %d must hold the %d tokenizer ids", c->vocab_size, MD_TOK_N + 1);
    CHECK(c->d_state >= 1 && c->d_state <= 64, "config: d_state %d must be in 1..64", c->d_state);
    CHECK(c->d_conv >= 1 && c->d_conv <= 8, "config: d_conv %d must be in 1..8", c->d_conv);
    CHECK(c->expand >= 1 && c->expand <= 16, "config: expand %d out of range", c->expand);
    CHECK(c->dt_rank >= 1 && c->dt_rank <= c->d_model * c->expand, "config: dt_rank %d out of range", c->dt_rank);
    CHECK(c->combine == MD_COMBINE_ADD || c->combine == MD_COMBINE_MUL, "config: unknown combine %d", c->combine);
    CHECK(c->norm_eps > 0 && c->norm_eps < 1, "config: norm_eps %g out of range", c->norm_eps);
    CHECK(c->n_classes >= 0 && c->n_classes <= 65536, "config: n_classes %d out of range", c->n_classes);
    CHECK(c->pool >= MD_POOL_MEAN && c->pool <= MD_POOL_LAST, "config: unknown pool %d", c->pool);
    CHECK(c->window >= 0 && c->stride >= 0, "config: negative window or stride");
#undef CHECK
    return 0;
}

char *md_config_to_json(const md_config *c)
{
    json_t *o = json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:b, s:b, s:b, s:f, s:i, s:s, s:I, s:I}",
                          "arch", md_arch_name(c->arch), "d_model", c->d_model,
                          "n_layer", c->n_layer, "vocab_size", c->vocab_size,
                          "d_state", c->d_state, "d_conv", c->d_conv, "expand", c->expand,
                          "dt_rank", c->dt_rank, "combine", combine_names[c->combine],
                          "rms_norm", c->rms_norm, "residual_in_fp32", c->residual_in_fp32,
                          "fused_add_norm", c->fused_add_norm,
                          "norm_eps", (double)c->norm_eps, "n_classes", c->n_classes,
                          "pool", pool_names[c->pool], "window", (json_int_t)c->window,
                          "stride", (json_int_t)c->stride);
    if (!o) return NULL;
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

int md_config_from_json(const char *text, md_config *c)
{
    json_error_t err;
    json_t *o = json_loads(text, 0, &err);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return md_error(MD_ERR_FORMAT, "model config: invalid JSON (%s, column %d)", err.text, err.column);
    }
    const char *arch = NULL, *combine = "add", *pool = "mean";
    int d_model = 0, n_layer = 0, rms = 1, resid = 1, fused = 1;
    double eps = 1e-5;
    json_int_t window = 0, stride = 0;
    int ret = 0;
    if (json_unpack_ex(o, &err, 0, "{s:s, s:i, s:i}", "arch", &arch, "d_model", &d_model,
                       "n_layer", &n_layer) < 0) {
        ret = md_error(MD_ERR_FORMAT, "model config: %s", err.text);
        goto out;
    }
    int a = md_arch_parse(arch);
    if (a < 0) {
        ret = md_error(MD_ERR_FORMAT, "model config: unknown arch '%s'", arch);
        goto out;
    }
    md_config_init(c, a, d_model, n_layer);
    if (json_unpack_ex(o, &err, 0, "{s?i, s?i, s?i, s?i, s?i, s?s, s?b, s?b, s?b, s?F, s?i, s?s, s?I, s?I}",
                       "vocab_size", &c->vocab_size, "d_state", &c->d_state,
                       "d_conv", &c->d_conv, "expand", &c->expand, "dt_rank", &c->dt_rank,
                       "combine", &combine, "rms_norm", &rms, "residual_in_fp32", &resid, "fused_add_norm", &fused,
                       "norm_eps", &eps, "n_classes", &c->n_classes, "pool", &pool,
                       "window", &window, "stride", &stride) < 0) {
        ret = md_error(MD_ERR_FORMAT, "model config: %s", err.text);
        goto out;
    }
    c->combine = parse_name(combine, combine_names, 2);
    c->pool = parse_name(pool, pool_names, 4);
    if (c->combine < 0 || c->pool < 0) {
        ret = md_error(MD_ERR_FORMAT, "model config: unknown combine '%s' or pool '%s'", combine, pool);
        goto out;
    }
    c->rms_norm = rms;
    c->residual_in_fp32 = resid;
    c->fused_add_norm = fused;
    c->norm_eps = (float)eps;
    c->window = window;
    c->stride = stride;
    ret = md_config_check(c);
out:
    json_decref(o);
    return ret;
}
