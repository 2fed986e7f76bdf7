/* test_model_golden.c: the CPU engine against golden values of the
 * independent float64 numpy reference (tests/reference/make_golden.py):
 * single ops, whole models of the three layouts (RMSNorm with the "add"
 * combine, and LayerNorm with the "ew_multiply" combine) through every
 * inference entry point, RC equivariance, chunked against whole-sequence
 * inference, and the native file round trip. */
#include <math.h>

#include "cpu/ops.h"
#include "model.h"
#include "safetensors.h"
#include "testutil.h"

/* float32 arithmetic over two layers: relative error bound. */
#define TOL 2e-5

/* Where the whole-model fixtures run: 0 the CPU; MD_TEST_DEVICE=cuda[:N]
 * runs them on a GPU instead (tests/gpu/run-gpu-tests.sh). */
static int golden_device;

static double rel_err(const float *got, const double *want, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = got[i] - want[i];
        if (isnan(got[i])) return INFINITY;
        num += d * d;
        den += want[i] * want[i];
    }
    return sqrt(num / (den > 0 ? den : 1));
}

static double rel_err_f(const float *got, const float *want, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)got[i] - want[i];
        if (isnan(got[i])) return INFINITY;
        num += d * d;
        den += (double)want[i] * want[i];
    }
    return sqrt(num / (den > 0 ? den : 1));
}

/* A tensor of a golden file as float64 (and its element count). */
static double *golden64(const md_st_file *f, const char *name, int64_t *n)
{
    const md_st_tensor *t = md_st_find(f, name);
    if (!t) fail_msg("golden tensor %s missing", name);
    double *d = malloc((size_t)md_st_numel(t) * sizeof *d);
    assert_non_null(d);
    assert_int_equal(md_st_to_f64(t, d), 0);
    if (n) *n = md_st_numel(t);
    return d;
}

static float *golden32(const md_st_file *f, const char *name, int64_t *n)
{
    const md_st_tensor *t = md_st_find(f, name);
    if (!t) fail_msg("golden tensor %s missing", name);
    float *d = malloc((size_t)md_st_numel(t) * sizeof *d);
    assert_non_null(d);
    assert_int_equal(md_st_to_f32(t, d), 0);
    if (n) *n = md_st_numel(t);
    return d;
}

/* (B, C, L) -> (B, L, C) */
static float *to_time_major(const float *x, int B, int C, int64_t L)
{
    float *y = malloc((size_t)(B * C * L) * sizeof *y);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int64_t t = 0; t < L; t++) y[((int64_t)b * L + t) * C + c] = x[((int64_t)b * C + c) * L + t];
    return y;
}

static void open_golden(const char *rel, md_st_file *f)
{
    char path[1024];
    md_test_path(path, sizeof path, md_test_data_dir(), rel);
    if (md_st_open(path, f) < 0) fail_msg("%s", md_last_error());
}

/* ---- ops ----------------------------------------------------------------- */

static void test_norms(void **state)
{
    (void)state;
    md_st_file f;
    open_golden("golden/ops.safetensors", &f);
    int64_t n;
    float *x = golden32(&f, "rmsnorm.x", &n), *w = golden32(&f, "rmsnorm.w", NULL);
    double *want = golden64(&f, "rmsnorm.out", NULL);
    float *out = malloc((size_t)n * sizeof *out);
    md_cpu_rmsnorm(x, w, n / 12, 12, 1e-5f, out);
    assert_true(rel_err(out, want, n) < 1e-6);
    free(x); free(w); free(want);
    x = golden32(&f, "layernorm.x", &n);
    w = golden32(&f, "layernorm.w", NULL);
    float *b = golden32(&f, "layernorm.b", NULL);
    want = golden64(&f, "layernorm.out", NULL);
    md_cpu_layernorm(x, w, b, n / 12, 12, 1e-5f, out);
    assert_true(rel_err(out, want, n) < 1e-6);
    free(x); free(w); free(b); free(want); free(out);
    md_st_close(&f);
}

static void test_conv1d_silu(void **state)
{
    (void)state;
    md_st_file f;
    open_golden("golden/ops.safetensors", &f);
    const int B = 2, E = 24, K = 4;
    int64_t n;
    float *xc = golden32(&f, "conv1d_silu.x", &n), *w = golden32(&f, "conv1d_silu.w", NULL),
          *bias = golden32(&f, "conv1d_silu.b", NULL);
    double *want = golden64(&f, "conv1d_silu.out", NULL);
    int64_t L = n / (B * E);
    float *x = to_time_major(xc, B, E, L), *out = malloc((size_t)n * sizeof *out);
    float *ref = malloc((size_t)n * sizeof *ref), *state3 = calloc((size_t)((K - 1) * E), sizeof(float));
    for (int b = 0; b < B; b++) {
        memset(state3, 0, (size_t)((K - 1) * E) * sizeof(float));
        md_cpu_conv1d_silu(x + b * L * E, E, w, bias, L, E, K, 0, E, +1, state3, out + b * L * E);
    }
    for (int b = 0; b < B; b++)
        for (int e = 0; e < E; e++)
            for (int64_t t = 0; t < L; t++) ref[(b * L + t) * E + e] = (float)want[(b * E + e) * L + t];
    assert_true(rel_err_f(out, ref, n) < 1e-6);
    free(xc); free(w); free(bias); free(want); free(x); free(out); free(ref); free(state3);
    md_st_close(&f);
}

/* One scan case: prefix "scan" (zero initial state) or "scan2" (h0 given). */
static void check_scan(const md_st_file *f, const char *prefix, int with_h0)
{
    const int B = 2, E = 24, N = 16;
    char name[64];
#define G32(s) (snprintf(name, sizeof name, "%s.%s", prefix, s), golden32(f, name, NULL))
#define G64(s) (snprintf(name, sizeof name, "%s.%s", prefix, s), golden64(f, name, NULL))
    snprintf(name, sizeof name, "%s.u", prefix);
    int64_t n = md_st_numel(md_st_find(f, name)), L = n / (B * E);
    float *uc = G32("u"), *dc = G32("delta"), *zc = G32("z"), *A_in = G32("A"), *Bc = G32("Bm"),
          *Cc = G32("Cm"), *Dv = G32("Dv"), *bias = G32("delta_bias");
    double *y_want = G64("y"), *h_want = G64("h_last");
    float *h0 = with_h0 ? G32("h0") : NULL;
#undef G32
#undef G64
    float *u = to_time_major(uc, B, E, L), *dt = to_time_major(dc, B, E, L),
          *z = to_time_major(zc, B, E, L), *Bm = to_time_major(Bc, B, N, L),
          *Cm = to_time_major(Cc, B, N, L);
    float *y = malloc((size_t)n * sizeof *y), *yref = malloc((size_t)n * sizeof *yref);
    float *st = malloc((size_t)(N * E) * sizeof *st), *hs = malloc((size_t)(B * E * N) * sizeof *hs);
    for (int i = 0; i < n; i++) y[i] = NAN; /* poisoned */
    for (int b = 0; b < B; b++) {
        for (int e = 0; e < E; e++)
            for (int k = 0; k < N; k++) st[k * E + e] = h0 ? h0[(b * E + e) * N + k] : 0.0f;
        /* two pieces with the state carried: chunked equals whole */
        int64_t L1 = L / 3;
        md_cpu_selective_scan(u + b * L * E, dt + b * L * E, bias, A_in, Bm + b * L * N,
                              Cm + b * L * N, N, Dv, z + b * L * E, E, L1, E, N, 0, E, +1, st,
                              y + b * L * E);
        md_cpu_selective_scan(u + (b * L + L1) * E, dt + (b * L + L1) * E, bias, A_in,
                              Bm + (b * L + L1) * N, Cm + (b * L + L1) * N, N, Dv,
                              z + (b * L + L1) * E, E, L - L1, E, N, 0, E, +1, st,
                              y + (b * L + L1) * E);
        for (int e = 0; e < E; e++)
            for (int k = 0; k < N; k++) hs[(b * E + e) * N + k] = st[k * E + e];
    }
    for (int b = 0; b < B; b++)
        for (int e = 0; e < E; e++)
            for (int64_t t = 0; t < L; t++) yref[(b * L + t) * E + e] = (float)y_want[(b * E + e) * L + t];
    double ey = rel_err_f(y, yref, n), eh = rel_err(hs, h_want, B * E * N);
    print_message("%s: y rel err %.2e, final state rel err %.2e\n", prefix, ey, eh);
    assert_true(ey < 1e-5);
    assert_true(eh < 1e-5);
    free(uc); free(dc); free(zc); free(A_in); free(Bc); free(Cc); free(Dv); free(bias);
    free(y_want); free(h_want); free(h0); free(u); free(dt); free(z); free(Bm); free(Cm);
    free(y); free(yref); free(st); free(hs);
}

static void test_selective_scan(void **state)
{
    (void)state;
    md_st_file f;
    open_golden("golden/ops.safetensors", &f);
    /* the golden A is -exp(A_log) already */
    check_scan(&f, "scan", 0);
    check_scan(&f, "scan2", 1);
    md_st_close(&f);
}

static void test_fast_exp(void **state)
{
    (void)state;
    double worst = 0;
    for (float x = -80.0f; x < 80.0f; x += 0.0137f) {
        double r = fabs(md_fast_expf(x) - exp(x)) / exp(x);
        md_v16f v = (md_v16f){0} + x;
        double rv = fabs(md_fast_expv(v)[3] - exp(x)) / exp(x);
        if (r > worst) worst = r;
        if (rv > worst) worst = rv;
    }
    double worst_sp = 0;
    for (float x = -30.0f; x < 30.0f; x += 0.0071f) {
        double want = x > 20 ? x : log1p(exp((double)x));
        double got = md_softplusv((md_v16f){0} + x)[5];
        double r = fabs(got - want) / want;
        if (r > worst_sp) worst_sp = r;
    }
    print_message("fast exp: worst relative error %.2e; softplus %.2e\n", worst, worst_sp);
    assert_true(worst_sp < 1e-6);
    assert_true(worst < 3e-7);
    assert_true(md_fast_expv((md_v16f){0} - 200.0f)[0] < 1e-37f);
}

/* ---- whole models ---------------------------------------------------------- */

typedef struct golden_model {
    const char *dir;
    int arch;
    int rms_norm, combine; /* what the checkpoint's config.json must give */
    int has_head;          /* io.safetensors has a classification head and its
                              expected class probabilities */
} golden_model;

static const golden_model golden_models[] = {
    {"mamba", MD_ARCH_MAMBA, 1, MD_COMBINE_ADD, 0},
    {"caduceus_ph", MD_ARCH_CADUCEUS_PH, 1, MD_COMBINE_ADD, 0},
    {"caduceus_ps", MD_ARCH_CADUCEUS_PS, 1, MD_COMBINE_ADD, 0},
    {"mamba_ln", MD_ARCH_MAMBA, 0, MD_COMBINE_ADD, 1},
    {"caduceus_ph_ln_mul", MD_ARCH_CADUCEUS_PH, 0, MD_COMBINE_MUL, 1},
    {"caduceus_ps_ln_mul", MD_ARCH_CADUCEUS_PS, 0, MD_COMBINE_MUL, 1},
};

static md_model *load_golden_model(const golden_model *g, md_st_file *io, uint8_t **tok, int *B,
                                   int64_t *L)
{
    char path[1024], rel[256];
    snprintf(rel, sizeof rel, "golden/%s", g->dir);
    md_test_path(path, sizeof path, md_test_data_dir(), rel);
    md_model *m = md_model_load(path);
    if (!m) fail_msg("%s", md_last_error());
    assert_int_equal(md_model_config(m)->arch, g->arch);
    assert_int_equal(md_model_config(m)->rms_norm, g->rms_norm);
    if (g->arch != MD_ARCH_MAMBA) assert_int_equal(md_model_config(m)->combine, g->combine);
    snprintf(rel, sizeof rel, "golden/%s/io.safetensors", g->dir);
    open_golden(rel, io);
    const md_st_tensor *ids = md_st_find(io, "input_ids");
    assert_non_null(ids);
    *B = (int)ids->shape[0];
    *L = ids->shape[1];
    *tok = malloc((size_t)(*B * *L));
    for (int64_t i = 0; i < *B * *L; i++) (*tok)[i] = (uint8_t)((const int64_t *)ids->data)[i];
    return m;
}

/* Hidden states of embed (whole sequences, or in chunks of `chunk` positions
 * carrying the states) against the golden `name`; the relative error. */
static double embed_err(md_model *m, const uint8_t *tok, int B, int64_t L, int64_t chunk,
                        const md_st_file *io, const char *name)
{
    int64_t H = md_config_hidden_width(md_model_config(m));
    float *h = malloc((size_t)(B * L * H) * sizeof *h); /* (B, L, H) */
    for (int64_t i = 0; i < B * L * H; i++) h[i] = NAN;
    md_forward_opt opt;
    md_forward_opt_init(&opt);
    opt.chunk = chunk;
    opt.device = golden_device;
    assert_int_equal(md_model_embed(m, tok, B, L, &opt, h), 0);
    double *want = golden64(io, name, NULL);
    double e = rel_err(h, want, B * L * H);
    free(want);
    free(h);
    return e;
}

/* The golden model with the classification head of its io.safetensors: a
 * model of the same config with n_classes set, every tensor copied by name. */
static md_model *with_class_head(const md_model *m, const md_st_file *io)
{
    const md_st_tensor *w = md_st_find(io, "score.weight"), *b = md_st_find(io, "score.bias");
    assert_non_null(w);
    assert_non_null(b);
    md_config cfg = *md_model_config(m);
    cfg.n_classes = (int)w->shape[0];
    cfg.pool = MD_POOL_MEAN;
    md_model *h = md_model_alloc(&cfg);
    assert_non_null(h);
    for (int k = 0; k < m->n_table; k++) {
        const md_param_entry *e = &m->table[k], *d = md_model_find_param(h, e->name);
        assert_non_null(d);
        memcpy(h->params + d->offset, m->params + e->offset, (size_t)e->numel * sizeof(float));
    }
    assert_int_equal(md_st_numel(w), (int64_t)cfg.n_classes * cfg.d_model);
    assert_int_equal(md_st_to_f32(w, h->head_w), 0);
    assert_int_equal(md_st_to_f32(b, h->head_b), 0);
    return h;
}

static void test_models_golden(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof golden_models / sizeof *golden_models; k++) {
        const golden_model *g = &golden_models[k];
        md_st_file io;
        uint8_t *tok;
        int B;
        int64_t L;
        md_model *m = load_golden_model(g, &io, &tok, &B, &L);
        const md_config *c = md_model_config(m);
        int64_t V = c->vocab_size;
        float *logits = malloc((size_t)(B * L * V) * sizeof *logits);
        md_forward_opt opt;
        md_forward_opt_init(&opt);
        opt.device = golden_device;
        double e = embed_err(m, tok, B, L, 0, &io, "hidden");
        assert_int_equal(md_model_logits(m, tok, B, L, &opt, logits), 0);
        double *want_logits = golden64(&io, "logits", NULL);
        double el = rel_err(logits, want_logits, B * L * V);
        print_message("%s: hidden rel err %.2e, logits rel err %.2e\n", g->dir, e, el);
        assert_true(e < TOL);
        assert_true(el < TOL);
        /* chunks that do not divide the length, states carried across them */
        double ec = embed_err(m, tok, B, L, 10, &io, "hidden");
        print_message("%s: hidden in chunks of 10 rel err %.2e\n", g->dir, ec);
        assert_true(ec < TOL);
        if (g->arch != MD_ARCH_MAMBA) { /* hidden states of the reverse complements */
            uint8_t *rc = malloc((size_t)(B * L));
            memcpy(rc, tok, (size_t)(B * L));
            for (int b = 0; b < B; b++) md_revcomp_tokens(rc + b * L, L);
            double er = embed_err(m, rc, B, L, 0, &io, "hidden_rc");
            print_message("%s: hidden of the reverse complement rel err %.2e\n", g->dir, er);
            assert_true(er < TOL);
            free(rc);
        }
        if (g->has_head) {
            md_model *mh = with_class_head(m, &io);
            int C = md_model_config(mh)->n_classes;
            float *prob = malloc((size_t)(B * C) * sizeof *prob); /* (B, C) */
            assert_int_equal(md_model_classify(mh, tok, B, L, &opt, prob), 0);
            double *want_prob = golden64(&io, "class_probs", NULL);
            double ep = rel_err(prob, want_prob, B * C);
            print_message("%s: class probabilities rel err %.2e\n", g->dir, ep);
            assert_true(ep < TOL);
            free(prob);
            free(want_prob);
            md_model_free(mh);
        }
        free(want_logits); free(logits); free(tok);
        md_st_close(&io);
        md_model_free(m);
    }
}

/* PS: the output on the reverse complement equals the output flipped over
 * length and channels, on fresh random sequences. */
static void test_ps_equivariance(void **state)
{
    (void)state;
    md_config cfg;
    md_config_init(&cfg, MD_ARCH_CADUCEUS_PS, 24, 3);
    md_model *m = md_model_init(&cfg, 7);
    assert_non_null(m);
    const int B = 3;
    const int64_t L = 41, H = 48;
    uint8_t *tok = malloc(B * L), *rc = malloc(B * L);
    srand(11);
    for (int64_t i = 0; i < B * L; i++) tok[i] = (uint8_t)(MD_TOK_A + rand() % 5);
    memcpy(rc, tok, B * L);
    for (int b = 0; b < B; b++) md_revcomp_tokens(rc + b * L, L);
    float *h = malloc(B * L * H * sizeof *h), *hr = malloc(B * L * H * sizeof *hr),
          *flip = malloc(B * L * H * sizeof *flip);
    assert_int_equal(md_model_embed(m, tok, B, L, NULL, h), 0);
    assert_int_equal(md_model_embed(m, rc, B, L, NULL, hr), 0);
    for (int b = 0; b < B; b++)
        for (int64_t t = 0; t < L; t++)
            for (int64_t c = 0; c < H; c++)
                flip[(b * L + t) * H + c] = h[(b * L + (L - 1 - t)) * H + (H - 1 - c)];
    double e = rel_err_f(hr, flip, B * L * H);
    print_message("PS equivariance rel err %.2e\n", e);
    assert_true(e < 1e-5);
    free(tok); free(rc); free(h); free(hr); free(flip);
    md_model_free(m);
}

/* Chunked inference equals whole-sequence inference for every architecture
 * and for chunks that do not divide the length. */
static void test_chunked_equals_whole(void **state)
{
    (void)state;
    for (int arch = MD_ARCH_MAMBA; arch <= MD_ARCH_CADUCEUS_PS; arch++) {
        md_config cfg;
        md_config_init(&cfg, arch, 32, 2);
        md_model *m = md_model_init(&cfg, 100 + arch);
        assert_non_null(m);
        const int B = 2;
        const int64_t L = 301, H = md_config_hidden_width(&cfg);
        uint8_t *tok = malloc(B * L);
        for (int64_t i = 0; i < B * L; i++) tok[i] = (uint8_t)(MD_TOK_A + (i * 7 + i / 3) % 4);
        float *whole = malloc(B * L * H * sizeof(float)), *chunked = malloc(B * L * H * sizeof(float));
        md_forward_opt opt;
        md_forward_opt_init(&opt);
        assert_int_equal(md_model_embed(m, tok, B, L, &opt, whole), 0);
        for (int64_t chunk = 1; chunk <= 128; chunk = chunk * 5 + 2) {
            opt.chunk = chunk;
            for (int64_t i = 0; i < B * L * H; i++) chunked[i] = NAN;
            assert_int_equal(md_model_embed(m, tok, B, L, &opt, chunked), 0);
            double e = rel_err_f(chunked, whole, B * L * H);
            if (e >= 1e-5) fail_msg("%s chunk %lld: rel err %.2e", md_arch_name(arch), (long long)chunk, e);
        }
        free(tok); free(whole); free(chunked);
        md_model_free(m);
    }
}

/* Native save -> load keeps every parameter (F32 exactly) and the metadata. */
static void test_native_round_trip(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/rt.safetensors", md_test_tmpdir());
    for (int arch = MD_ARCH_MAMBA; arch <= MD_ARCH_CADUCEUS_PS; arch++) {
        md_config cfg;
        md_config_init(&cfg, arch, 16, 2);
        cfg.n_classes = 2;
        cfg.window = 300;
        md_model *m = md_model_init(&cfg, 5);
        assert_int_equal(md_model_set_meta(m, "mambadna.data", "test"), 0);
        assert_int_equal(md_model_save(m, path, MD_F32), 0);
        md_model *r = md_model_load(path);
        if (!r) fail_msg("%s", md_last_error());
        assert_memory_equal(md_model_config(r), md_model_config(m), sizeof(md_config));
        assert_int_equal(r->n_params, m->n_params);
        assert_memory_equal(r->params, m->params, (size_t)m->n_params * sizeof(float));
        assert_string_equal(md_model_meta(r, "mambadna.data"), "test");
        assert_string_equal(md_model_meta(r, "mambadna.seed"), "5");
        md_model_free(r);
        assert_int_equal(md_model_save(m, path, MD_BF16), 0);
        r = md_model_load(path);
        assert_non_null(r);
        assert_true(rel_err_f(r->params, m->params, m->n_params) < 4e-3);
        md_model_free(r);
        md_model_free(m);
    }
    unlink(path);
}

/* Initialisation follows mamba_ssm: A_log = log(1..N), D = 1, softplus of
 * the dt bias in [1e-3, 1e-1]; reproducible from the seed. */
static void test_init(void **state)
{
    (void)state;
    md_config cfg;
    md_config_init(&cfg, MD_ARCH_CADUCEUS_PH, 64, 2);
    md_model *a = md_model_init(&cfg, 42), *b = md_model_init(&cfg, 42), *c = md_model_init(&cfg, 43);
    assert_memory_equal(a->params, b->params, (size_t)a->n_params * sizeof(float));
    assert_memory_not_equal(a->params, c->params, (size_t)a->n_params * sizeof(float));
    const md_mixer_params *p = &a->layers[1].rev;
    int E = 128, N = 16;
    for (int e = 0; e < E; e++) {
        assert_float_equal(p->A_log[e * N + 3], logf(4.0f), 1e-6);
        assert_float_equal(p->D[e], 1.0f, 0);
        float dt = md_softplusf(p->dt_proj_b[e]);
        assert_true(dt >= 0.9e-3f && dt <= 1.01e-1f);
    }
    assert_ptr_equal(a->layers[1].rev.in_proj, a->layers[1].fwd.in_proj);
    md_model_free(a); md_model_free(b); md_model_free(c);
}

int main(void)
{
    const char *device = getenv("MD_TEST_DEVICE");
    if (device && *device) { /* the whole-model fixtures on that device only */
        if (md_device_parse(device, &golden_device) < 0) {
            fprintf(stderr, "test_model_golden: MD_TEST_DEVICE: %s\n", md_last_error());
            return 1;
        }
        const struct CMUnitTest on_device[] = {cmocka_unit_test(test_models_golden)};
        return cmocka_run_group_tests(on_device, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_norms),
        cmocka_unit_test(test_conv1d_silu),
        cmocka_unit_test(test_selective_scan),
        cmocka_unit_test(test_fast_exp),
        cmocka_unit_test(test_models_golden),
        cmocka_unit_test(test_ps_equivariance),
        cmocka_unit_test(test_chunked_equals_whole),
        cmocka_unit_test(test_native_round_trip),
        cmocka_unit_test(test_init),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
