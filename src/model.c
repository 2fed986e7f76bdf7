/* model.c: the parameter table of every architecture, initialisation as
 * mamba_ssm does it, and model metadata. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "model.h"

/* Tensor names follow the checkpoints users bring: mamba_ssm's
 * MambaLMHeadModel for causal models, Caduceus for bidirectional ones. */
typedef struct name_scheme {
    const char *embedding;   /* embedding tensor */
    const char *layer;       /* printf prefix of layer i */
    const char *mixer_fwd;   /* printf prefix of the forward mixer of layer i */
    const char *mixer_rev;   /* ... reverse mixer, NULL if causal */
    const char *norm_f;
} name_scheme;

static const name_scheme schemes[] = {
    [MD_ARCH_MAMBA] = {"backbone.embedding.weight", "backbone.layers.%d.",
                       "backbone.layers.%d.mixer.", NULL, "backbone.norm_f."},
    [MD_ARCH_CADUCEUS_PH] = {"caduceus.backbone.embeddings.word_embeddings.weight",
                             "caduceus.backbone.layers.%d.",
                             "caduceus.backbone.layers.%d.mixer.mamba_fwd.",
                             "caduceus.backbone.layers.%d.mixer.mamba_rev.",
                             "caduceus.backbone.norm_f."},
    [MD_ARCH_CADUCEUS_PS] = {"caduceus.backbone.embeddings.word_embeddings.embedding.weight",
                             "caduceus.backbone.layers.%d.",
                             "caduceus.backbone.layers.%d.mixer.submodule.mamba_fwd.",
                             "caduceus.backbone.layers.%d.mixer.submodule.mamba_rev.",
                             "caduceus.backbone.norm_f."},
};

/* Builds the table in two passes: count (params == NULL), then assign. */
typedef struct table_builder {
    md_model *m;
    int64_t offset;
    int n;
} table_builder;

static float *add_param(table_builder *tb, int no_decay, int ndim, const int64_t *shape,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static float *add_param(table_builder *tb, int no_decay, int ndim, const int64_t *shape,
                        const char *fmt, ...)
{
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) numel *= shape[i];
    if (tb->m->table) {
        md_param_entry *e = &tb->m->table[tb->n];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->name, sizeof e->name, fmt, ap);
        va_end(ap);
        e->ndim = ndim;
        memcpy(e->shape, shape, (size_t)ndim * sizeof *shape);
        e->offset = tb->offset;
        e->numel = numel;
        e->no_decay = no_decay;
    }
    float *p = tb->m->params ? tb->m->params + tb->offset : NULL;
    tb->offset += numel;
    tb->n++;
    return p;
}

static void add_mixer(table_builder *tb, const md_config *c, const char *prefix, int tied,
                      md_mixer_params *p, const md_mixer_params *fwd)
{
    int64_t D = c->d_model, E = (int64_t)c->expand * D, N = c->d_state, R = c->dt_rank,
            K = c->d_conv;
    if (tied) { /* in_proj/out_proj shared with the forward mixer, absent from files */
        p->in_proj = fwd->in_proj;
    } else {
        p->in_proj = add_param(tb, 0, 2, (int64_t[]){2 * E, D}, "%sin_proj.weight", prefix);
    }
    p->conv_w = add_param(tb, 0, 3, (int64_t[]){E, 1, K}, "%sconv1d.weight", prefix);
    p->conv_b = add_param(tb, 1, 1, (int64_t[]){E}, "%sconv1d.bias", prefix);
    p->x_proj = add_param(tb, 0, 2, (int64_t[]){R + 2 * N, E}, "%sx_proj.weight", prefix);
    p->dt_proj_w = add_param(tb, 0, 2, (int64_t[]){E, R}, "%sdt_proj.weight", prefix);
    p->dt_proj_b = add_param(tb, 1, 1, (int64_t[]){E}, "%sdt_proj.bias", prefix);
    p->A_log = add_param(tb, 1, 2, (int64_t[]){E, N}, "%sA_log", prefix);
    p->D = add_param(tb, 1, 1, (int64_t[]){E}, "%sD", prefix);
    if (tied) p->out_proj = fwd->out_proj;
    else p->out_proj = add_param(tb, 0, 2, (int64_t[]){D, E}, "%sout_proj.weight", prefix);
}

static void build_table(table_builder *tb)
{
    md_model *m = tb->m;
    const md_config *c = &m->cfg;
    const name_scheme *s = &schemes[c->arch];
    int64_t D = c->d_model, V = c->vocab_size;
    char prefix[160];
    /* PS norms without the fused add+norm sit inside an RCPS wrapper */
    const char *wrapped = c->arch == MD_ARCH_CADUCEUS_PS && !c->fused_add_norm ? "submodule." : "";
    tb->offset = 0;
    tb->n = 0;
    m->embedding = add_param(tb, 0, 2, (int64_t[]){V, D}, "%s", s->embedding);
    for (int i = 0; i < c->n_layer; i++) {
        md_layer_params *l = &m->layers[i];
        snprintf(prefix, sizeof prefix, s->layer, i);
        l->norm_w = add_param(tb, 1, 1, &D, "%snorm.%sweight", prefix, wrapped);
        l->norm_b = c->rms_norm ? NULL : add_param(tb, 1, 1, &D, "%snorm.%sbias", prefix, wrapped);
        snprintf(prefix, sizeof prefix, s->mixer_fwd, i);
        add_mixer(tb, c, prefix, 0, &l->fwd, NULL);
        if (s->mixer_rev) {
            snprintf(prefix, sizeof prefix, s->mixer_rev, i);
            add_mixer(tb, c, prefix, 1, &l->rev, &l->fwd);
        }
    }
    m->norm_f_w = add_param(tb, 1, 1, &D, "%s%sweight", s->norm_f, wrapped);
    m->norm_f_b = c->rms_norm ? NULL : add_param(tb, 1, 1, &D, "%s%sbias", s->norm_f, wrapped);
    if (c->n_classes > 0) {
        int64_t C = c->n_classes;
        m->head_w = add_param(tb, 0, 2, (int64_t[]){C, D}, "score.weight");
        m->head_b = add_param(tb, 1, 1, &C, "score.bias");
    }
}

md_model *md_model_alloc(const md_config *cfg)
{
    if (md_config_check(cfg) < 0) return NULL;
    md_model *m = calloc(1, sizeof *m);
    if (!m) goto nomem;
    m->cfg = *cfg;
    if (!(m->layers = calloc((size_t)cfg->n_layer, sizeof *m->layers))) goto nomem;
    table_builder tb = {.m = m};
    build_table(&tb); /* count */
    m->n_params = tb.offset;
    m->n_table = tb.n;
    m->table = calloc((size_t)tb.n, sizeof *m->table);
    m->params = calloc((size_t)m->n_params, sizeof *m->params);
    if (!m->table || !m->params) goto nomem;
    build_table(&tb); /* assign */
    return m;
nomem:
    md_model_free(m);
    md_error(MD_ERR_NOMEM, "out of memory for a model of %d layers, d_model %d",
             cfg->n_layer, cfg->d_model);
    return NULL;
}

void md_model_free(md_model *m)
{
    if (!m) return;
    const md_backend *b = md_backend_accelerator();
    if (b) b->model_release(m); /* the parameters' device copy, if any */
    for (int i = 0; i < m->n_meta; i++) {
        free(m->meta_keys[i]);
        free(m->meta_values[i]);
    }
    free(m->meta_keys);
    free(m->meta_values);
    free(m->params);
    free(m->table);
    free(m->layers);
    free(m);
}

const md_config *md_model_config(const md_model *m) { return &m->cfg; }
int64_t md_model_n_params(const md_model *m) { return m->n_params; }
int md_model_n_tensors(const md_model *m) { return m->n_table; }

const char *md_model_tensor_name(const md_model *m, int i, int *ndim, int64_t shape[4])
{
    if (i < 0 || i >= m->n_table) return NULL;
    *ndim = m->table[i].ndim;
    memcpy(shape, m->table[i].shape, sizeof m->table[i].shape);
    return m->table[i].name;
}

const md_param_entry *md_model_find_param(const md_model *m, const char *name)
{
    for (int i = 0; i < m->n_table; i++)
        if (strcmp(m->table[i].name, name) == 0) return &m->table[i];
    return NULL;
}

const char *md_model_meta(const md_model *m, const char *key)
{
    for (int i = 0; i < m->n_meta; i++)
        if (strcmp(m->meta_keys[i], key) == 0) return m->meta_values[i];
    return NULL;
}

int md_model_set_meta(md_model *m, const char *key, const char *value)
{
    char *v = strdup(value);
    if (!v) return md_error(MD_ERR_NOMEM, "out of memory");
    for (int i = 0; i < m->n_meta; i++) {
        if (strcmp(m->meta_keys[i], key) == 0) {
            free(m->meta_values[i]);
            m->meta_values[i] = v;
            return 0;
        }
    }
    char **k = realloc(m->meta_keys, (size_t)(m->n_meta + 1) * sizeof *k);
    if (k) m->meta_keys = k;
    char **vs = realloc(m->meta_values, (size_t)(m->n_meta + 1) * sizeof *vs);
    if (vs) m->meta_values = vs;
    char *kc = strdup(key);
    if (!k || !vs || !kc) {
        free(v);
        free(kc);
        return md_error(MD_ERR_NOMEM, "out of memory");
    }
    m->meta_keys[m->n_meta] = kc;
    m->meta_values[m->n_meta] = v;
    m->n_meta++;
    return 0;
}

int md_model_set_window(md_model *m, int64_t window, int64_t stride)
{
    if (window < 0 || stride < 0) return md_error(MD_ERR_ARG, "negative window or stride");
    m->cfg.window = window;
    m->cfg.stride = window ? (stride ? stride : (window + 3) / 4) : 0;
    return 0;
}

int md_model_n_meta(const md_model *m) { return m->n_meta; }
const char *md_model_meta_key(const md_model *m, int i)
{
    return i >= 0 && i < m->n_meta ? m->meta_keys[i] : NULL;
}

/* ---- initialisation ---------------------------------------------------- */

/* splitmix64: a small, well-mixed, reproducible generator. */
typedef struct rng { uint64_t s; } rng;
static uint64_t rng_next(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static double rng_uniform(rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }
static double rng_normal(rng *r)
{
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
static void fill_uniform(rng *r, float *p, int64_t n, double bound)
{
    for (int64_t i = 0; i < n; i++) p[i] = (float)((2 * rng_uniform(r) - 1) * bound);
}

/* One Mamba mixer as mamba_ssm's Mamba.__init__ and _init_weights do it. */
static void init_mixer(rng *r, const md_config *c, md_mixer_params *p, int own_proj)
{
    int64_t D = c->d_model, E = (int64_t)c->expand * D, N = c->d_state, R = c->dt_rank,
            K = c->d_conv;
    if (own_proj) {
        fill_uniform(r, p->in_proj, 2 * E * D, 1.0 / sqrt((double)D));
        /* out_proj: kaiming-uniform, then rescaled by 1/sqrt(n_layer) */
        fill_uniform(r, p->out_proj, D * E, 1.0 / sqrt((double)E) / sqrt((double)c->n_layer));
    }
    fill_uniform(r, p->conv_w, E * K, 1.0 / sqrt((double)K));
    fill_uniform(r, p->conv_b, E, 1.0 / sqrt((double)K));
    fill_uniform(r, p->x_proj, (R + 2 * N) * E, 1.0 / sqrt((double)E));
    fill_uniform(r, p->dt_proj_w, E * R, 1.0 / sqrt((double)R)); /* dt_scale 1 */
    const double dt_min = 1e-3, dt_max = 1e-1, dt_floor = 1e-4;
    for (int64_t e = 0; e < E; e++) {
        double dt = exp(rng_uniform(r) * (log(dt_max) - log(dt_min)) + log(dt_min));
        if (dt < dt_floor) dt = dt_floor;
        p->dt_proj_b[e] = (float)(dt + log(-expm1(-dt))); /* inverse softplus */
        for (int64_t n = 0; n < N; n++) p->A_log[e * N + n] = (float)log((double)(n + 1));
        p->D[e] = 1.0f;
    }
}

md_model *md_model_init(const md_config *cfg, uint64_t seed)
{
    md_model *m = md_model_alloc(cfg);
    if (!m) return NULL;
    rng r = {seed};
    const md_config *c = &m->cfg;
    for (int64_t i = 0; i < (int64_t)c->vocab_size * c->d_model; i++)
        m->embedding[i] = (float)(0.02 * rng_normal(&r));
    for (int i = 0; i < c->n_layer; i++) {
        md_layer_params *l = &m->layers[i];
        for (int d = 0; d < c->d_model; d++) l->norm_w[d] = 1.0f;
        init_mixer(&r, c, &l->fwd, 1);
        if (c->arch != MD_ARCH_MAMBA) init_mixer(&r, c, &l->rev, 0);
    }
    for (int d = 0; d < c->d_model; d++) m->norm_f_w[d] = 1.0f;
    if (m->head_w) fill_uniform(&r, m->head_w, (int64_t)c->n_classes * c->d_model,
                                1.0 / sqrt((double)c->d_model));
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)seed);
    if (md_model_set_meta(m, "mambadna.seed", buf) < 0) {
        md_model_free(m);
        return NULL;
    }
    return m;
}
