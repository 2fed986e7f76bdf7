/* model.h: the model struct shared by the model files of the library
 * (private: not installed). */
#ifndef MD_MODEL_H
#define MD_MODEL_H

#include "mambadna.h"

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

/* Serialise / parse the config as the JSON stored in model metadata. */
char *md_config_to_json(const md_config *cfg);
int md_config_from_json(const char *json, md_config *cfg);

#endif
