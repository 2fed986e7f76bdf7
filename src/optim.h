/* optim.h: the random numbers, the optimizer, the
 * learning-rate schedule and the MLM corruption of training (private). */
#ifndef MD_OPTIM_H
#define MD_OPTIM_H

#include <stdint.h>

#include "mambadna.h"

/** xoshiro256** seeded through splitmix64: reproducible on every platform.
 *  Its whole state is s[4], saved in training-state files. */
typedef struct md_rng {
    uint64_t s[4];
} md_rng;

void md_rng_seed(md_rng *r, uint64_t seed);
uint64_t md_rng_next(md_rng *r);
/** Uniform double in [0, 1) (53 bits). */
double md_rng_uniform(md_rng *r);
/** Uniform integer in [0, n), n >= 1, without modulo bias. */
uint64_t md_rng_below(md_rng *r, uint64_t n);

/** AdamW (Loshchilov & Hutter, as torch.optim.AdamW): decoupled weight decay
 *  p -= lr * wd * p on every tensor not marked no_decay (norms, biases,
 *  A_log, D, as mamba_ssm), then p -= lr * m_hat / (sqrt(v_hat) + eps) with
 *  bias-corrected moments. The moments mirror the parameter buffer: one
 *  allocation each, same layout. */
typedef struct md_adamw {
    int64_t n;      /**< parameters */
    float *m, *v;   /**< [n] first and second moments */
    int64_t t;      /**< steps taken (bias correction) */
} md_adamw;

/** Zeroed moments for n parameters. */
int md_adamw_init(md_adamw *a, int64_t n);
void md_adamw_free(md_adamw *a);
/** One step on the parameters of m (n must be md_model_n_params(m)) with the
 *  gradient g[n] at learning rate lr. Deterministic (no threads). */
int md_adamw_step(md_adamw *a, md_model *m, const float *g, double lr, double beta1,
                  double beta2, double eps, double weight_decay);
/** Global L2 norm of g[n] (accumulated in double); when max_norm > 0 and the
 *  norm exceeds it, g is scaled by max_norm / norm. Returns the norm before
 *  clipping. */
double md_clip_grad_norm(float *g, int64_t n, double max_norm);
/** Learning rate of 0-based step `step` of `total`: linear warm-up from
 *  lr / warmup to lr over the first `warmup` steps, then cosine decay to
 *  lr * min_ratio at step total - 1 (and min_ratio * lr after it). */
double md_lr_at(int64_t step, int64_t total, int64_t warmup, double lr, double min_ratio);

/** MLM corruption as BERT and Caduceus: each A/C/G/T position is chosen with
 *  probability p; a chosen position becomes [MASK] (80 %), a random base
 *  (10 %) or stays (10 %), and its target is the original token. targets[i]
 *  is [PAD] (not scored) at every other position. tokens[n] is modified in
 *  place. Returns the number of chosen positions. */
int64_t md_mlm_mask(md_rng *r, double p, uint8_t *tokens, uint8_t *targets, int64_t n);

#endif
