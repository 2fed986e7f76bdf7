/* forward.c: the CPU forward pass of every architecture: layers, chunked
 * bidirectional mixers with carried states, reverse-complement wrappers and
 * heads. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include <omp.h>

#include "backend.h"
#include "cpu/ops.h"
#include "model.h"

void md_forward_opt_init(md_forward_opt *opt)
{
    memset(opt, 0, sizeof *opt);
}

/* Time spent in a section, added to a profile slot when profiling. */
#define TIMED(prof, slot, stmt)                                      \
    do {                                                             \
        double t0_ = (prof) ? omp_get_wtime() : 0;                   \
        stmt;                                                        \
        if (prof) (prof)->slot += omp_get_wtime() - t0_;             \
    } while (0)

/* The forward's memory: one block carved into the residual stream and the
 * scratch arrays, kept between calls on the same thread (up to
 * ARENA_KEEP_MB): every fresh page costs a page fault, and faulting in the
 * ~90 MB of a d128 forward at L = 16k took 11% of its time on the 2-core
 * development machine (a virtual machine, where faults are slow). */
enum { ARENA_KEEP_MB = 1024 };

typedef struct arena {
    void *p;
    size_t n;
} arena;

static pthread_key_t arena_key;
static pthread_once_t arena_once = PTHREAD_ONCE_INIT;
static int arena_key_ok;

static void arena_destroy(void *p)
{
    arena *a = p;
    free(a->p);
    free(a);
}

static void arena_key_init(void)
{
    arena_key_ok = pthread_key_create(&arena_key, arena_destroy) == 0;
}

/* n bytes, 64-byte aligned, valid until the next arena_take on this thread
 * (or its exit); NULL when out of memory. */
static void *arena_take(size_t n)
{
    pthread_once(&arena_once, arena_key_init);
    arena *a = arena_key_ok ? pthread_getspecific(arena_key) : NULL;
    if (!a && arena_key_ok && (a = calloc(1, sizeof *a)) && pthread_setspecific(arena_key, a)) {
        free(a);
        a = NULL;
    }
    if (!a) return NULL;
    if (a->n < n) {
        free(a->p);
        a->n = 0;
        if (!(a->p = aligned_alloc(64, (n + 63) / 64 * 64))) return NULL;
        a->n = n;
    }
    return a->p;
}

/* After a call: an arena larger than is worth keeping goes back. */
static void arena_trim(void)
{
    arena *a = arena_key_ok ? pthread_getspecific(arena_key) : NULL;
    if (a && a->n > (size_t)ARENA_KEEP_MB << 20) {
        free(a->p);
        a->p = NULL;
        a->n = 0;
    }
}

/* Scratch of one forward call, sized once for the largest segment. */
typedef struct scratch {
    int64_t S;         /* positions per segment */
    int rows;          /* sequences per segment */
    float *residual;   /* (B, L, D) the residual stream */
    float *normed;     /* (B, L, D) its norm, the mixer's input */
    float *xz;         /* (S, 2E) in_proj output: x then z */
    float *u;          /* (S, E) conv + SiLU output */
    float *xdbl;       /* (S, R + 2N) x_proj output: dt, B, C */
    float *y;          /* (S, E) scan output (both directions added, for add) */
    float *y2;         /* (S, E) the other direction (whole-sequence mode, combine mul) */
    float *o;          /* (S, D) out_proj output */
    float *conv_state; /* (rows, K-1, E) */
    float *ssm_state;  /* (rows, N, E) */
    float *conv_wt;    /* (K, E) conv weight of one direction, transposed */
    float *dtw_t;      /* (R, E) dt_proj weight, transposed */
    float *A2t;        /* (N, E) -exp(A_log) log2(e), transposed */
} scratch;

/* Carves s from this thread's arena: T positions in all, segments of S. */
static int scratch_alloc(scratch *s, const md_config *c, int64_t T, int rows, int64_t S,
                         int need_y2)
{
    int64_t D = c->d_model, E = (int64_t)c->expand * D, N = c->d_state, R = c->dt_rank,
            K = c->d_conv;
    memset(s, 0, sizeof *s);
    s->S = S;
    s->rows = rows;
    float **part[] = {&s->residual, &s->normed, &s->xz, &s->u, &s->xdbl, &s->y, &s->y2, &s->o,
                      &s->conv_state, &s->ssm_state, &s->conv_wt, &s->dtw_t, &s->A2t};
    int64_t len[] = {T * D, T * D, S * 2 * E, S * E, S * (R + 2 * N), S * E,
                     need_y2 ? S * E : 0, S * D, rows * (K > 1 ? K - 1 : 1) * E, rows * N * E,
                     K * E, R * E, N * E};
    enum { NP = sizeof len / sizeof *len };
    size_t total = 0;
    for (int i = 0; i < NP; i++) total += ((size_t)len[i] + 15) / 16 * 16;
    float *p = arena_take(total * sizeof(float));
    if (!p)
        return md_error(MD_ERR_NOMEM, "out of memory for a forward pass over %lld "
                        "positions (use a smaller batch or --chunk)", (long long)T);
    for (int i = 0; i < NP; i++) {
        *part[i] = len[i] ? p : NULL;
        p += ((size_t)len[i] + 15) / 16 * 16;
    }
    return 0;
}

/* Work items of the conv and the scan: rows x groups of contiguous channel
 * blocks, enough groups per row for every thread to have one. Each channel
 * is computed the same way whatever the split, so results do not depend on
 * the thread count. */
typedef struct work_split {
    int groups, n_blocks; /* groups per row; 16-channel blocks per row */
} work_split;

static work_split split_work(int rows, int E)
{
    work_split w;
    int nth = omp_get_max_threads();
    w.n_blocks = (E + 15) / 16;
    w.groups = rows >= nth ? 1 : (nth + rows - 1) / rows;
    if (w.groups > w.n_blocks) w.groups = w.n_blocks;
    return w;
}

/* Channels [*e0, *e1) of group g. */
static void group_channels(const work_split *w, int g, int E, int *e0, int *e1)
{
    *e0 = (int)((int64_t)w->n_blocks * g / w->groups) * 16;
    *e1 = (int)((int64_t)w->n_blocks * (g + 1) / w->groups) * 16;
    if (*e1 > E) *e1 = E;
}

/* One direction of a mixer over a segment of `rows` sequences of Ls
 * positions each, whose in_proj output is already in s->xz. Carries the
 * conv and SSM states in s (zero them before the first segment). Writes the
 * gated scan output to y (rows*Ls, E), or adds it to y when accumulate. */
static void mixer_direction(const md_config *c, const md_mixer_params *p, scratch *s,
                            int rows, int64_t Ls, int dir, float *y, int accumulate,
                            md_profile *prof)
{
    int E = c->expand * c->d_model, N = c->d_state, R = c->dt_rank, K = c->d_conv;
    int64_t S = rows * Ls, ldx = R + 2 * N;
    for (int e = 0; e < E; e++) {
        for (int k = 0; k < K; k++) s->conv_wt[(int64_t)k * E + e] = p->conv_w[(int64_t)e * K + k];
        for (int r = 0; r < R; r++) s->dtw_t[(int64_t)r * E + e] = p->dt_proj_w[(int64_t)e * R + r];
        for (int n = 0; n < N; n++)
            s->A2t[(int64_t)n * E + e] = -expf(p->A_log[(int64_t)e * N + n]) * MD_LOG2E;
    }
    work_split w = split_work(rows, E);
    int items = rows * w.groups;
    double t0 = prof ? omp_get_wtime() : 0;
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < items; i++) {
        int r = i / w.groups, e0, e1;
        group_channels(&w, i % w.groups, E, &e0, &e1);
        md_cpu_conv1d_silu_tiled(s->xz + r * Ls * 2 * E, 2 * E, s->conv_wt, p->conv_b, Ls, E, K,
                                 e0, e1, dir, s->conv_state + (int64_t)r * (K - 1) * E,
                                 s->u + r * Ls * E);
    }
    if (prof) prof->conv += omp_get_wtime() - t0;
    TIMED(prof, gemm, md_cpu_gemm_nt(S, Ls, ldx, E, s->u, E, p->x_proj, s->xdbl, ldx, 0.0f));
    t0 = prof ? omp_get_wtime() : 0;
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < items; i++) {
        int r = i / w.groups, e0, e1;
        group_channels(&w, i % w.groups, E, &e0, &e1);
        const float *xd = s->xdbl + r * Ls * ldx;
        md_scan_args a = {
            .u = s->u + r * Ls * E, .xdt = xd, .dtw_t = s->dtw_t, .Bm = xd + R, .Cm = xd + R + N,
            .dt_bias = p->dt_proj_b, .A2t = s->A2t, .Dv = p->D, .z = s->xz + r * Ls * 2 * E + E,
            .ldbc = ldx, .ldz = 2 * E, .S = Ls, .E = E, .N = N, .R = R, .dir = dir,
            .accumulate = accumulate, .state = s->ssm_state + (int64_t)r * N * E,
            .y = y + r * Ls * E};
        md_cpu_mixer_scan(&a, e0, e1);
    }
    if (prof) prof->scan += omp_get_wtime() - t0;
}

static void zero_states(const md_config *c, scratch *s, int rows)
{
    int64_t E = (int64_t)c->expand * c->d_model;
    memset(s->conv_state, 0, (size_t)(rows * (c->d_conv - 1) * E) * sizeof(float));
    memset(s->ssm_state, 0, (size_t)(rows * c->d_state * E) * sizeof(float));
}

/* Mixer of one layer: x (B, L, D) normed input -> out (B, L, D). */
static void mixer_forward(const md_model *m, const md_layer_params *l, const float *x,
                          int B, int64_t L, int64_t chunk, scratch *s, float *out,
                          md_profile *prof)
{
    const md_config *c = &m->cfg;
    int64_t D = c->d_model, E = (int64_t)c->expand * D;
    int bidir = c->arch != MD_ARCH_MAMBA;
    if (chunk <= 0 || chunk >= L) { /* whole sequences, all rows at once */
        int64_t S = (int64_t)B * L;
        TIMED(prof, gemm, md_cpu_gemm_nt(S, L, 2 * E, D, x, D, l->fwd.in_proj, s->xz, 2 * E, 0.0f));
        zero_states(c, s, B);
        mixer_direction(c, &l->fwd, s, B, L, +1, s->y, 0, prof);
        if (!bidir) {
            TIMED(prof, gemm, md_cpu_gemm_nt(S, L, D, E, s->y, E, l->fwd.out_proj, out, D, 0.0f));
            return;
        }
        zero_states(c, s, B);
        if (c->combine == MD_COMBINE_ADD) { /* out_proj(y_f) + out_proj(y_r) in one GEMM */
            mixer_direction(c, &l->rev, s, B, L, -1, s->y, 1, prof);
            TIMED(prof, gemm, md_cpu_gemm_nt(S, L, D, E, s->y, E, l->fwd.out_proj, out, D, 0.0f));
        } else {
            mixer_direction(c, &l->rev, s, B, L, -1, s->y2, 0, prof);
            TIMED(prof, gemm, md_cpu_gemm_nt(S, L, D, E, s->y, E, l->fwd.out_proj, out, D, 0.0f));
            TIMED(prof, gemm, md_cpu_gemm_nt(S, L, D, E, s->y2, E, l->rev.out_proj, s->o, D, 0.0f));
            for (int64_t i = 0; i < S * D; i++) out[i] *= s->o[i];
        }
        return;
    }
    /* Chunks of one row at a time; each direction walks the chunks in its own
     * time order and carries its states across them. */
    int64_t n_chunks = (L + chunk - 1) / chunk;
    for (int b = 0; b < B; b++) {
        for (int d = 0; d < 1 + bidir; d++) {
            const md_mixer_params *p = d ? &l->rev : &l->fwd;
            zero_states(c, s, 1);
            for (int64_t k = 0; k < n_chunks; k++) {
                int64_t ci = d ? n_chunks - 1 - k : k;
                int64_t t0 = ci * chunk, Ls = t0 + chunk < L ? chunk : L - t0;
                const float *xc = x + ((int64_t)b * L + t0) * D;
                float *oc = out + ((int64_t)b * L + t0) * D;
                TIMED(prof, gemm, md_cpu_gemm_nt(Ls, Ls, 2 * E, D, xc, D, p->in_proj, s->xz, 2 * E, 0.0f));
                mixer_direction(c, p, s, 1, Ls, d ? -1 : +1, s->y, 0, prof);
                if (d == 0) {
                    TIMED(prof, gemm, md_cpu_gemm_nt(Ls, Ls, D, E, s->y, E, p->out_proj, oc, D, 0.0f));
                } else if (c->combine == MD_COMBINE_ADD) {
                    TIMED(prof, gemm, md_cpu_gemm_nt(Ls, Ls, D, E, s->y, E, p->out_proj, oc, D, 1.0f));
                } else {
                    TIMED(prof, gemm, md_cpu_gemm_nt(Ls, Ls, D, E, s->y, E, p->out_proj, s->o, D, 0.0f));
                    for (int64_t i = 0; i < Ls * D; i++) oc[i] *= s->o[i];
                }
            }
        }
    }
}

/* a += b over n floats, in parallel. */
static void add_rows(float *a, const float *b, int64_t n)
{
    #pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) a[i] += b[i];
}

static void norm(const md_config *c, const float *x, const float *w, const float *b,
                 int64_t T, float *out)
{
    if (c->rms_norm) md_cpu_rmsnorm(x, w, T, c->d_model, c->norm_eps, out);
    else md_cpu_layernorm(x, w, b, T, c->d_model, c->norm_eps, out);
}

/* PS models with Caduceus's fused add+norm: the halves of the reference
 * layout swap at every block. In the canonical form (forward rows [0, P),
 * their reverse-complement partners [P, 2P)) each row takes its partner's
 * values flipped over length and channels. tmp has the size of x. */
static void swap_strands(float *x, int P, int64_t L, int64_t D, float *tmp)
{
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < 2 * P * L; i++) {
        int64_t row = i / L, t = i % L, partner = row < P ? row + P : row - P;
        const float *src = x + (partner * L + (L - 1 - t)) * D;
        float *dst = tmp + i * D;
        for (int64_t d = 0; d < D; d++) dst[d] = src[D - 1 - d];
    }
    memcpy(x, tmp, (size_t)(2 * P * L * D) * sizeof(float));
}

static void set_threads(const md_forward_opt *opt)
{
    if (opt && opt->threads > 0) omp_set_num_threads(opt->threads);
    openblas_set_num_threads(1); /* md_cpu_gemm_nt threads over row blocks */
}

int md_model_forward_rows(md_model *m, const uint8_t *tokens, int B, int64_t L,
                          const md_forward_opt *opt, float *out)
{
    const md_config *c = &m->cfg;
    int64_t D = c->d_model, T = (int64_t)B * L;
    int swap = c->arch == MD_ARCH_CADUCEUS_PS && c->fused_add_norm;
    if (B < 1 || L < 1) return md_error(MD_ERR_ARG, "empty batch (%d x %lld)", B, (long long)L);
    if (c->arch == MD_ARCH_CADUCEUS_PS && B % 2)
        return md_error(MD_ERR_ARG, "PS models run rows paired with their reverse complements");
    for (int64_t i = 0; i < T; i++)
        if (tokens[i] >= c->vocab_size)
            return md_error(MD_ERR_ARG, "token id %d outside the vocabulary (%d)", tokens[i],
                            c->vocab_size);
    if (opt && opt->device > 0) { /* accelerator device opt->device - 1 */
        const md_backend *b = md_device_backend(opt->device);
        return b ? b->forward_rows(m, tokens, B, L, opt, out) : MD_ERR_ARG;
    }
    set_threads(opt);
    int64_t chunk = opt ? opt->chunk : 0;
    int whole = chunk <= 0 || chunk >= L;
    scratch s;
    int need_y2 = whole && c->arch != MD_ARCH_MAMBA && c->combine != MD_COMBINE_ADD;
    int ret = scratch_alloc(&s, c, T, whole ? B : 1, whole ? T : chunk, need_y2);
    if (ret < 0) return ret;
    float *residual = s.residual, *normed = s.normed;
    float *hidden = out; /* (B, L, D) */
    #pragma omp parallel for schedule(static) if (T * D > 65536)
    for (int64_t i = 0; i < T; i++) memcpy(hidden + i * D, m->embedding + tokens[i] * D, D * sizeof(float));
    for (int li = 0; li < c->n_layer; li++) {
        const md_layer_params *l = &m->layers[li];
        if (swap) { /* the halves swap between the add and the norm */
            if (li == 0) memcpy(residual, hidden, (size_t)(T * D) * sizeof(float));
            else add_rows(residual, hidden, T * D);
            swap_strands(residual, B / 2, L, D, normed);
            norm(c, residual, l->norm_w, l->norm_b, T, normed);
        } else {
            md_cpu_add_norm(residual, hidden, li == 0, l->norm_w, l->norm_b, c->rms_norm, T,
                            (int)D, c->norm_eps, normed);
        }
        mixer_forward(m, l, normed, B, L, chunk, &s, hidden, opt ? opt->profile : NULL);
    }
    md_cpu_add_norm(residual, hidden, 0, m->norm_f_w, m->norm_f_b, c->rms_norm, T, (int)D,
                    c->norm_eps, out);
    arena_trim();
    return 0;
}

/* Rows [tokens; reverse complement of tokens] for the RC passes. */
static uint8_t *with_revcomp(const uint8_t *tokens, int B, int64_t L)
{
    uint8_t *t2 = malloc((size_t)(2 * B * L));
    if (!t2) return NULL;
    memcpy(t2, tokens, (size_t)(B * L));
    memcpy(t2 + B * L, tokens, (size_t)(B * L));
    for (int b = 0; b < B; b++) md_revcomp_tokens(t2 + (B + b) * L, L);
    return t2;
}

int md_model_embed(md_model *m, const uint8_t *tokens, int B, int64_t L,
                   const md_forward_opt *opt, float *out)
{
    const md_config *c = &m->cfg;
    int64_t D = c->d_model, T = (int64_t)B * L;
    int ps = c->arch == MD_ARCH_CADUCEUS_PS;
    if (!ps && !(opt && opt->rc_avg)) return md_model_forward_rows(m, tokens, B, L, opt, out);
    uint8_t *t2 = with_revcomp(tokens, B, L);
    float *h = malloc((size_t)(2 * T * D) * sizeof(float)); /* (2B, L, D) */
    int ret = t2 && h ? md_model_forward_rows(m, t2, 2 * B, L, opt, h)
                      : md_error(MD_ERR_NOMEM, "out of memory for %lld positions", (long long)T);
    if (ret == 0) {
        const float *hr = h + T * D; /* canonical outputs of the reverse complements */
        #pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < T; i++) {
            int64_t b = i / L, t = i % L;
            const float *f = h + i * D, *r = hr + (b * L + (L - 1 - t)) * D;
            if (ps) { /* [forward | reverse stream flipped over channels] */
                float *o = out + i * 2 * D;
                memcpy(o, f, D * sizeof(float));
                for (int64_t d = 0; d < D; d++) o[D + d] = r[D - 1 - d];
            } else {
                float *o = out + i * D;
                for (int64_t d = 0; d < D; d++) o[d] = 0.5f * (f[d] + r[d]);
            }
        }
    }
    free(t2);
    free(h);
    return ret;
}

int md_model_logits(md_model *m, const uint8_t *tokens, int B, int64_t L,
                    const md_forward_opt *opt, float *out)
{
    const md_config *c = &m->cfg;
    int64_t D = c->d_model, V = c->vocab_size, T = (int64_t)B * L;
    int64_t H = md_config_hidden_width(c);
    float *h = malloc((size_t)(T * H) * sizeof(float)); /* (B, L, H) */
    if (!h) return md_error(MD_ERR_NOMEM, "out of memory for %lld positions", (long long)T);
    int ret = md_model_embed(m, tokens, B, L, opt, h);
    if (ret == 0 && H == D) {
        md_cpu_gemm_nt(T, L, V, D, h, D, m->embedding, out, V, 0.0f);
    } else if (ret == 0) {
        /* PS head: first half against W, channel-flipped second half against
         * W with complemented rows */
        float *wc = malloc((size_t)(V * D) * sizeof(float));    /* (V, D) */
        float *hs = malloc((size_t)(T * D) * sizeof(float));    /* (T, D) */
        if (!wc || !hs) {
            ret = md_error(MD_ERR_NOMEM, "out of memory for %lld positions", (long long)T);
        } else {
            for (int64_t v = 0; v < V; v++)
                memcpy(wc + v * D, m->embedding + (int64_t)md_complement_token((int)v) * D,
                       D * sizeof(float));
            for (int64_t i = 0; i < T; i++)
                for (int64_t d = 0; d < D; d++) hs[i * D + d] = h[i * H + 2 * D - 1 - d];
            md_cpu_gemm_nt(T, L, V, D, h, H, m->embedding, out, V, 0.0f);
            md_cpu_gemm_nt(T, L, V, D, hs, D, wc, out, V, 1.0f);
        }
        free(wc);
        free(hs);
    }
    free(h);
    return ret;
}

/* Pool rows of canonical hidden states h (R, L, D) over non-[PAD] positions
 * of their tokens into f (R, D). */
static void pool_rows(const md_config *c, const float *h, const uint8_t *tokens, int R,
                      int64_t L, float *f)
{
    int64_t D = c->d_model;
    for (int r = 0; r < R; r++) {
        const uint8_t *tok = tokens + (int64_t)r * L;
        float *fr = f + (int64_t)r * D;
        int64_t first = -1, last = -1, n = 0;
        for (int64_t t = 0; t < L; t++)
            if (tok[t] != MD_TOK_PAD) {
                if (first < 0) first = t;
                last = t;
                n++;
            }
        memset(fr, 0, D * sizeof(float));
        if (n == 0) continue;
        if (c->pool == MD_POOL_FIRST || c->pool == MD_POOL_LAST) {
            int64_t t = c->pool == MD_POOL_FIRST ? first : last;
            memcpy(fr, h + ((int64_t)r * L + t) * D, D * sizeof(float));
            continue;
        }
        if (c->pool == MD_POOL_MAX)
            for (int64_t d = 0; d < D; d++) fr[d] = -INFINITY;
        for (int64_t t = 0; t < L; t++) {
            if (tok[t] == MD_TOK_PAD) continue;
            const float *ht = h + ((int64_t)r * L + t) * D;
            for (int64_t d = 0; d < D; d++)
                fr[d] = c->pool == MD_POOL_MAX ? fmaxf(fr[d], ht[d]) : fr[d] + ht[d];
        }
        if (c->pool == MD_POOL_MEAN)
            for (int64_t d = 0; d < D; d++) fr[d] /= (float)n;
    }
}

/* The GPU forward of R rows pooled on the device into f (R, D). */
static int forward_pooled(md_model *m, const uint8_t *tokens, int R, int64_t L,
                          const md_forward_opt *opt, float *f)
{
    for (int64_t i = 0; i < (int64_t)R * L; i++)
        if (tokens[i] >= m->cfg.vocab_size)
            return md_error(MD_ERR_ARG, "token id %d outside the vocabulary (%d)", tokens[i],
                            m->cfg.vocab_size);
    const md_backend *b = md_device_backend(opt->device);
    return b ? b->forward_pooled(m, tokens, R, L, opt, m->cfg.pool, f) : MD_ERR_ARG;
}

int md_model_classify(md_model *m, const uint8_t *tokens, int B, int64_t L,
                      const md_forward_opt *opt, float *out)
{
    const md_config *c = &m->cfg;
    int64_t D = c->d_model, C = c->n_classes;
    if (C < 1) return md_error(MD_ERR_ARG, "the model has no classification head "
                               "(fine-tune it first)");
    int rc = c->arch == MD_ARCH_CADUCEUS_PS || (opt && opt->rc_avg);
    int R = rc ? 2 * B : B;
    uint8_t *t2 = rc ? with_revcomp(tokens, B, L) : NULL;
    int gpu = opt && opt->device > 0; /* pooled on the device: only (R, D) comes back */
    float *h = gpu ? NULL : malloc((size_t)((int64_t)R * L * D) * sizeof(float)); /* (R, L, D) */
    float *f = malloc((size_t)((int64_t)R * D) * sizeof(float));                  /* (R, D) */
    int ret = (!rc || t2) && (h || gpu) && f
                  ? (gpu ? forward_pooled(m, rc ? t2 : tokens, R, L, opt, f)
                         : md_model_forward_rows(m, rc ? t2 : tokens, R, L, opt, h))
                  : md_error(MD_ERR_NOMEM, "out of memory for a batch of %d x %lld", B, (long long)L);
    if (ret == 0) {
        if (!gpu) pool_rows(c, h, rc ? t2 : tokens, R, L, f);
        if (rc) /* RC-invariant features: mean of both strands */
            for (int64_t i = 0; i < (int64_t)B * D; i++) f[i] = 0.5f * (f[i] + f[B * D + i]);
        for (int b = 0; b < B; b++) {
            float *o = out + (int64_t)b * C, mx = -INFINITY, sum = 0;
            for (int64_t k = 0; k < C; k++) {
                float z = m->head_b[k];
                for (int64_t d = 0; d < D; d++) z += m->head_w[k * D + d] * f[(int64_t)b * D + d];
                o[k] = z;
                mx = fmaxf(mx, z);
            }
            for (int64_t k = 0; k < C; k++) sum += (o[k] = expf(o[k] - mx));
            for (int64_t k = 0; k < C; k++) o[k] /= sum;
        }
    }
    free(t2);
    free(h);
    free(f);
    return ret;
}
