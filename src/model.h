/* model.h: the model struct shared by the model files of the library
 * (private: not installed). */
#ifndef MD_MODEL_H
#define MD_MODEL_H

#include "mambadna.h"
#include "optim.h"

/* The training scan forward saves the states entering every chunk of this
 * many steps, (rows, chunks, N, E) with chunks = ceil(Ls / MD_SCAN_CHUNK),
 * from which the backward recomputes the states of one chunk at a time: a
 * layout every backend's training scan shares. */
#define MD_SCAN_CHUNK 64

/* One direction of a Mamba mixer. E inner width, N state size, R dt rank,
 * K conv width. In bidirectional models the reverse direction's in_proj and
 * out_proj alias the forward ones (tied). */
typedef struct md_mixer_params {
    float *in_proj;   /* (2E, D) */
    float *conv_w;    /* (E, K), stored (E, 1, K) in files */
    float *conv_b;    /* (E) */
    float *x_proj;    /* (R + 2N, E) */
    float *dt_proj_w; /* (E, R) */
    float *dt_proj_b; /* (E) */
    float *A_log;     /* (E, N) */
    float *D;         /* (E) */
    float *out_proj;  /* (D, E) */
} md_mixer_params;

typedef struct md_layer_params {
    float *norm_w;            /* (D) */
    float *norm_b;            /* (D), LayerNorm only */
    md_mixer_params fwd, rev; /* rev: bidirectional models only */
} md_layer_params;

/* One named parameter tensor carved out of the single parameter buffer. */
typedef struct md_param_entry {
    char name[160];   /* tensor name in model files */
    int ndim;
    int64_t shape[4];
    int64_t offset;   /* in floats from the start of the buffer */
    int64_t numel;
    int no_decay;     /* excluded from weight decay (norms, biases, A_log, D) */
} md_param_entry;

struct md_model {
    md_config cfg;
    float *params;           /* [n_params]: every parameter, one allocation */
    int64_t n_params;
    md_param_entry *table;   /* [n_table], in file order */
    int n_table;
    float *embedding;        /* (V, D) */
    md_layer_params *layers; /* [n_layer] */
    float *norm_f_w;         /* (D) */
    float *norm_f_b;         /* (D), LayerNorm only */
    float *head_w;           /* (C, D) classification head, n_classes > 0 */
    float *head_b;           /* (C) */
    char **meta_keys, **meta_values;
    int n_meta;
    void *gpu;               /* the accelerator backend's copy of the model (its
                                model_release frees it, backend.h), or NULL */
};

/* Build the parameter table and the buffer (zeroed) for cfg. NULL on error. */
md_model *md_model_alloc(const md_config *cfg);

/* Find a table entry by tensor name, or NULL. */
const md_param_entry *md_model_find_param(const md_model *m, const char *name);

/* Canonical hidden states of rows of tokens: the network without any
 * reverse-complement wrapper. tokens[B*L]; out[B*L*D]. For PS models B is
 * even and rows [B/2, B) are the reverse complements of rows [0, B/2): under
 * the fused add+norm convention the two streams swap at every block. */
int md_model_forward_rows(md_model *m, const uint8_t *tokens, int B, int64_t L,
                          const md_forward_opt *opt, float *out);

/* The loss and gradient in float64 on a float64 copy of the parameters
 * (same layout as m->params), for finite-difference checks. */
int md_model_loss_grad_f64(const md_model *m, const double *params, int objective,
                           const md_batch *batch, double *grads, double *loss);

/* Gradient of class cls's probability of each row of tokens (B, L) with
 * respect to the row's one-hot input x (B, L, V), the embedded input being
 * sum_v x[b,t,v] * embedding[v]: grad[b,t,v] = d p_cls(row b) / d x[b,t,v]
 * for every vocabulary entry v (PS models: through both strands). prob (B,
 * C) gets the class probabilities. On the CPU in float32; threads as
 * md_model_loss_grad. */
int md_model_input_grad(md_model *m, const uint8_t *tokens, int B, int64_t L, int cls,
                        int threads, float *prob, float *grad);

/* A training step on accelerator device `device` (0-based; through the
 * backend table, backend.h) in the arithmetic of `precision` (enum
 * md_precision): loss, gradient, clipping and AdamW on the device; the
 * updated parameters copied back into m, the moments kept on the device
 * until md_device_sync_moments copies them into a. */
int md_device_train_step(md_model *m, int device, int precision, int objective,
                         const md_batch *batch, md_adamw *a, double lr, double beta1,
                         double beta2, double eps, double weight_decay, double clip, double *loss,
                         double *grad_norm);
int md_device_sync_moments(md_model *m, md_adamw *a);

/* Serialise / parse the config as the JSON stored in model metadata. */
char *md_config_to_json(const md_config *cfg);
int md_config_from_json(const char *json, md_config *cfg);
/* Map the config.json of a Caduceus or mamba_ssm checkpoint, text[len]
 * (name for messages), onto md_config: 0 or an error naming the field. */
int md_config_from_hf_json(const char *text, size_t len, const char *name, md_config *cfg);

/* ---- training internals (train.c, train_state.c) ----------------------- */

/* What a checkpoint holds besides the model file: written to
 * OUT.state.safetensors, then the marker OUT.done, last. */
typedef struct md_train_ckpt {
    int64_t step;         /* optimizer steps done */
    int64_t model_step;   /* step at which the model file was written */
    md_rng rng;           /* data, masking and augmentation draws */
    int64_t epoch;        /* fine-tuning: current epoch (0-based) */
    int64_t pos;          /* fine-tuning: sequences of the epoch consumed;
                             pretraining: windows drawn */
    int64_t *perm;        /* [n_perm] fine-tuning: order of the epoch */
    int64_t n_perm;
    float *params;        /* [n_params] current weights when the model file
                             holds others (fine-tuning keeps the best), or NULL */
    int64_t tokens;       /* input tokens so far */
    int64_t skipped;      /* N-rich windows skipped so far */
    int evals, bad_evals; /* fine-tuning: evaluations, and since the best */
    double best_score;    /* fine-tuning: best value of the metric (larger is
                             better: the loss is stored negated) */
    int finished;         /* the run ended (steps done or stopped early) */
    char *options;        /* JSON of the options that fix the trajectory */
    char *data;           /* JSON of the data files and their sha256 */
} md_train_ckpt;

void md_train_ckpt_free(md_train_ckpt *ck);
/* Paths of the state file and the marker of a model path (malloc'ed). */
char *md_ckpt_state_path(const char *out);
char *md_ckpt_marker_path(const char *out);
/* Write a checkpoint: the model (when write_model; F32, with metadata
 * mambadna.train.step = ck->model_step) and the state under temporary names,
 * then the old marker removed, both renamed, the new marker written last. */
int md_ckpt_write(const char *out, md_model *m, int write_model, const md_adamw *a,
                  const md_train_ckpt *ck);
/* Read a whole checkpoint: *m the model file (with ck->params set when the
 * state carries the current weights), a's moments, ck. Refuses a checkpoint
 * whose marker is missing or does not match the files. */
int md_ckpt_read(const char *out, md_model **m, md_adamw *a, md_train_ckpt *ck);

#endif
