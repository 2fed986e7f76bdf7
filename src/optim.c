/* optim.c: the optimizer side of training: a reproducible RNG, AdamW with
 * decoupled weight decay, global-norm gradient clipping, the learning-rate
 * schedule (linear warm-up, cosine decay to a floor) and MLM corruption.
 * Everything here is sequential and deterministic: the same inputs give the
 * same bits on every run, which bit-exact resume relies on. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

/* ---- RNG: xoshiro256** seeded by splitmix64 ------------------------------ */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void md_rng_seed(md_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t md_rng_next(md_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double md_rng_uniform(md_rng *r) { return (double)(md_rng_next(r) >> 11) * 0x1.0p-53; }

uint64_t md_rng_below(md_rng *r, uint64_t n)
{
    if (n <= 1) return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* reject the biased tail */
    uint64_t x;
    do x = md_rng_next(r);
    while (x >= limit);
    return x % n;
}

/* ---- AdamW ----------------------------------------------------------------- */

int md_adamw_init(md_adamw *a, int64_t n)
{
    memset(a, 0, sizeof *a);
    if (n < 1) return md_error(MD_ERR_ARG, "AdamW: no parameters");
    a->m = calloc((size_t)n, sizeof *a->m);
    a->v = calloc((size_t)n, sizeof *a->v);
    if (!a->m || !a->v) {
        md_adamw_free(a);
        return md_error(MD_ERR_NOMEM, "out of memory for the optimizer moments of %lld "
                        "parameters", (long long)n);
    }
    a->n = n;
    return 0;
}

void md_adamw_free(md_adamw *a)
{
    if (!a) return;
    free(a->m);
    free(a->v);
    memset(a, 0, sizeof *a);
}

/* One tensor [n] of the update; wd 0 for no_decay tensors. */
static void adamw_span(float *p, const float *g, float *m, float *v, int64_t n, float lr,
                       float b1, float b2, float eps, float wd, float c1, float c2)
{
    float decay = 1.0f - lr * wd;
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i];
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float mhat = mi / c1, vhat = vi / c2;
        p[i] = p[i] * decay - lr * mhat / (sqrtf(vhat) + eps);
    }
}

int md_adamw_step(md_adamw *a, md_model *m, const float *g, double lr, double beta1,
                  double beta2, double eps, double weight_decay)
{
    if (a->n != m->n_params)
        return md_error(MD_ERR_ARG, "AdamW moments of %lld parameters for a model of %lld",
                        (long long)a->n, (long long)m->n_params);
    a->t++;
    float c1 = (float)(1.0 - pow(beta1, (double)a->t));
    float c2 = (float)(1.0 - pow(beta2, (double)a->t));
    int64_t covered = 0;
    for (int i = 0; i < m->n_table; i++) {
        const md_param_entry *e = &m->table[i];
        adamw_span(m->params + e->offset, g + e->offset, a->m + e->offset, a->v + e->offset,
                   e->numel, (float)lr, (float)beta1, (float)beta2, (float)eps,
                   e->no_decay ? 0.0f : (float)weight_decay, c1, c2);
        covered += e->numel;
    }
    if (covered != m->n_params) /* the table tiles the buffer; never expected */
        return md_error(MD_ERR_ARG, "parameter table covers %lld of %lld parameters",
                        (long long)covered, (long long)m->n_params);
    return 0;
}

double md_clip_grad_norm(float *g, int64_t n, double max_norm)
{
    double ss = 0;
    for (int64_t i = 0; i < n; i++) ss += (double)g[i] * g[i];
    double norm = sqrt(ss);
    if (max_norm > 0 && norm > max_norm && isfinite(norm)) {
        float scale = (float)(max_norm / (norm + 1e-6)); /* as torch clip_grad_norm_ */
        for (int64_t i = 0; i < n; i++) g[i] *= scale;
    }
    return norm;
}

double md_lr_at(int64_t step, int64_t total, int64_t warmup, double lr, double min_ratio)
{
    if (warmup < 0) warmup = 0;
    if (step < warmup) return lr * (double)(step + 1) / (double)warmup;
    int64_t span = total - 1 - warmup;
    double frac = span > 0 ? (double)(step - warmup) / (double)span : 0;
    if (frac > 1) frac = 1;
    return lr * (min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + cos(M_PI * frac)));
}

/* ---- MLM corruption ---------------------------------------------------------- */

int64_t md_mlm_mask(md_rng *r, double p, uint8_t *tokens, uint8_t *targets, int64_t n)
{
    int64_t chosen = 0;
    for (int64_t i = 0; i < n; i++) {
        uint8_t t = tokens[i];
        targets[i] = MD_TOK_PAD;
        if (t < MD_TOK_A || t > MD_TOK_T) continue;
        if (md_rng_uniform(r) >= p) continue;
        targets[i] = t;
        chosen++;
        double u = md_rng_uniform(r);
        if (u < 0.8) tokens[i] = MD_TOK_MASK;
        else if (u < 0.9) tokens[i] = (uint8_t)(MD_TOK_A + md_rng_below(r, 4));
        /* else unchanged */
    }
    return chosen;
}
