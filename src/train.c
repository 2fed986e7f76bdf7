/* train.c: the training loops. Pretraining draws random genome windows
 * (MLM or next-token); fine-tuning runs shuffled epochs of labelled
 * sequences through the classification head, evaluates on dev, stops early
 * and keeps the best model. Both share one step (loss and gradient of the
 * batch, clipping, schedule, AdamW), one checkpoint format (train_state.c)
 * and one JSON-lines log.
 *
 * Determinism: every random draw comes from one md_rng saved in the state;
 * the learning rate is a function of the step; the fine-tuning order of the
 * current epoch is saved. With the same thread count, a run stopped at a
 * checkpoint and resumed gives the same bits as one that never stopped. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "genome_sampler.h"
#include "model.h"
#include "tmpname.h"

#define JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(17))
#define N_LOSS_AVG 10 /* steps averaged for the first and last loss */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- options ------------------------------------------------------------------ */

static const char *const metric_names[] = {"mcc", "auroc", "loss", "accuracy"};

int md_train_metric_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, metric_names[i])) return i;
    return -1;
}

const char *md_train_metric_name(int metric)
{
    return metric >= 0 && metric < 4 ? metric_names[metric] : "?";
}

static const char *objective_name(int obj)
{
    return obj == MD_OBJ_MLM ? "mlm" : obj == MD_OBJ_NEXT_TOKEN ? "next-token"
         : obj == MD_OBJ_CLASSIFY ? "classify" : "?";
}

void md_train_opt_init(md_train_opt *o, int objective)
{
    memset(o, 0, sizeof *o);
    o->objective = objective;
    o->lr = 1e-3;
    o->min_lr_ratio = 0.1;
    o->warmup = -1;
    o->weight_decay = 0.1;
    o->beta1 = 0.9;
    o->beta2 = 0.95;
    o->eps = 1e-8;
    o->clip = 1.0;
    o->seed = 1;
    o->mask_prob = 0.15;
    o->max_n_frac = 0.1;
    o->eval_batch = 64;
    o->metric = MD_METRIC_MCC;
    if (objective == MD_OBJ_CLASSIFY) {
        o->epochs = 10;
        o->batch = 32;
        o->patience = 3;
    } else {
        o->steps = 1000;
        o->batch = 8;
        o->length = 1024;
    }
}

int md_train_opt_check(const md_train_opt *o)
{
#define BAD(...) return md_error(MD_ERR_ARG, __VA_ARGS__)
    int ft = o->objective == MD_OBJ_CLASSIFY;
    if (o->objective < MD_OBJ_NEXT_TOKEN || o->objective > MD_OBJ_CLASSIFY) BAD("unknown objective");
    if (!ft && o->steps < 1) BAD("steps must be >= 1 (got %lld)", (long long)o->steps);
    if (ft && o->steps < 0) BAD("steps must be >= 0 (got %lld)", (long long)o->steps);
    if (ft && o->epochs < 1) BAD("epochs must be >= 1 (got %d)", o->epochs);
    if (o->batch < 1 || o->batch > 65536) BAD("batch must be in [1, 65536] (got %d)", o->batch);
    if (!ft && o->length < 2) BAD("length must be >= 2 (got %lld)", (long long)o->length);
    if (o->length < 0 || o->length > ((int64_t)1 << 31)) BAD("length out of range");
    if (!(o->lr > 0) || !isfinite(o->lr)) BAD("lr must be positive (got %g)", o->lr);
    if (!(o->min_lr_ratio >= 0 && o->min_lr_ratio <= 1)) BAD("min-lr ratio must be in [0, 1] (got %g)", o->min_lr_ratio);
    if (o->warmup < -1) BAD("warmup must be >= 0 (got %lld)", (long long)o->warmup);
    if (!(o->weight_decay >= 0 && o->weight_decay < 1e3)) BAD("weight decay must be >= 0 (got %g)", o->weight_decay);
    if (!(o->beta1 >= 0 && o->beta1 < 1)) BAD("beta1 must be in [0, 1) (got %g)", o->beta1);
    if (!(o->beta2 >= 0 && o->beta2 < 1)) BAD("beta2 must be in [0, 1) (got %g)", o->beta2);
    if (!(o->eps > 0)) BAD("eps must be positive (got %g)", o->eps);
    if (!(o->clip >= 0)) BAD("clip must be >= 0 (got %g)", o->clip);
    if (o->threads < 0) BAD("threads must be >= 0");
    if (o->device < 0) BAD("device must be >= 0");
    if (!(o->mask_prob > 0 && o->mask_prob <= 1) && o->objective == MD_OBJ_MLM)
        BAD("mask probability must be in (0, 1] (got %g)", o->mask_prob);
    if (!(o->max_n_frac >= 0 && o->max_n_frac <= 1)) BAD("N fraction must be in [0, 1] (got %g)", o->max_n_frac);
    if (o->len_start < 0 || o->len_steps < 0) BAD("sequence-length warm-up values must be >= 0");
    if (o->len_start > 0 && !ft && (o->len_start > o->length || o->len_steps < 1))
        BAD("sequence-length warm-up needs a start length <= %lld and a number of steps >= 1",
            (long long)o->length);
    if (o->len_start > 0 && ft) BAD("sequence-length warm-up is for pretraining");
    if (o->ckpt_every < 0 || o->eval_every < 0 || o->eval_max < 0 || o->stop_after < 0)
        BAD("intervals must be >= 0");
    if (o->eval_batch < 1) BAD("evaluation batch must be >= 1");
    if (o->metric < 0 || o->metric > MD_METRIC_ACCURACY) BAD("unknown metric");
    if (o->patience < 0) BAD("patience must be >= 0");
    if (o->n_class_weights < 0 || (o->n_class_weights > 0 && !o->class_weights)) BAD("class weights");
    for (int k = 0; k < o->n_class_weights; k++)
        if (!(o->class_weights[k] > 0) || !isfinite(o->class_weights[k]))
            BAD("class weights must be positive (class %d: %g)", k, o->class_weights[k]);
    if (o->n_data_files < 0 || (o->n_data_files > 0 && !o->data_files)) BAD("data files");
    return 0;
#undef BAD
}

/* JSON of the options that fix the trajectory: a resumed run must match. */
static char *options_json(const md_train_opt *o)
{
    json_t *j = json_object();
    json_object_set_new(j, "objective", json_string(objective_name(o->objective)));
    json_object_set_new(j, "steps", json_integer(o->steps));
    json_object_set_new(j, "epochs", json_integer(o->epochs));
    json_object_set_new(j, "batch", json_integer(o->batch));
    json_object_set_new(j, "length", json_integer(o->length));
    json_object_set_new(j, "lr", json_real(o->lr));
    json_object_set_new(j, "min_lr_ratio", json_real(o->min_lr_ratio));
    json_object_set_new(j, "warmup", json_integer(o->warmup));
    json_object_set_new(j, "weight_decay", json_real(o->weight_decay));
    json_object_set_new(j, "beta1", json_real(o->beta1));
    json_object_set_new(j, "beta2", json_real(o->beta2));
    json_object_set_new(j, "eps", json_real(o->eps));
    json_object_set_new(j, "clip", json_real(o->clip));
    char seed[32];
    snprintf(seed, sizeof seed, "%" PRIu64, o->seed);
    json_object_set_new(j, "seed", json_string(seed));
    json_object_set_new(j, "rc_aug", json_integer(o->rc_aug));
    if (o->objective == MD_OBJ_MLM) json_object_set_new(j, "mask_prob", json_real(o->mask_prob));
    if (o->objective == MD_OBJ_CLASSIFY) {
        json_t *w = json_array();
        for (int k = 0; k < o->n_class_weights; k++) json_array_append_new(w, json_real(o->class_weights[k]));
        json_object_set_new(j, "class_weights", w);
        json_object_set_new(j, "metric", json_string(md_train_metric_name(o->metric)));
        json_object_set_new(j, "patience", json_integer(o->patience));
        json_object_set_new(j, "eval_every", json_integer(o->eval_every));
        json_object_set_new(j, "eval_max", json_integer(o->eval_max));
    } else {
        json_object_set_new(j, "max_n_frac", json_real(o->max_n_frac));
        json_object_set_new(j, "len_start", json_integer(o->len_start));
        json_object_set_new(j, "len_steps", json_integer(o->len_steps));
    }
    char *s = json_dumps(j, JSON_FLAGS | JSON_SORT_KEYS);
    json_decref(j);
    if (!s) md_error(MD_ERR_NOMEM, "out of memory");
    return s;
}

/* A resumed run: options must be those of the checkpoint, except the run's
 * length (steps, epochs, patience), which may be changed. */
static int options_match(const char *saved, const char *now, const char *out)
{
    json_t *a = json_loads(saved, 0, NULL), *b = json_loads(now, 0, NULL);
    int ret = 0;
    if (!a || !b) {
        ret = md_error(MD_ERR_FORMAT, "%s: unreadable options in the training state", out);
        goto out;
    }
    const char *key;
    json_t *va;
    json_object_foreach(a, key, va) {
        json_t *vb = json_object_get(b, key);
        if (vb && json_equal(va, vb)) continue;
        char *sa = json_dumps(va, JSON_ENCODE_ANY | JSON_FLAGS);
        char *sb = vb ? json_dumps(vb, JSON_ENCODE_ANY | JSON_FLAGS) : NULL;
        if (!strcmp(key, "steps") || !strcmp(key, "epochs") || !strcmp(key, "patience")) {
            md_log(MD_LOG_WARN, "resuming with %s %s instead of the checkpoint's %s (the "
                   "learning-rate schedule follows the new length)", key, sb ? sb : "?",
                   sa ? sa : "?");
        } else if (!ret) {
            ret = md_error(MD_ERR_ARG, "%s: option %s is %s but the checkpoint was made with %s: "
                           "resume with the same options", out, key, sb ? sb : "(unset)",
                           sa ? sa : "?");
        }
        free(sa);
        free(sb);
    }
out:
    json_decref(a);
    json_decref(b);
    return ret;
}

/* JSON list of the data files with their sha256. */
static char *data_json(const md_train_opt *o)
{
    json_t *arr = json_array();
    char *s = NULL;
    for (int i = 0; i < o->n_data_files; i++) {
        char hex[65];
        if (md_sha256_file(o->data_files[i], hex) < 0) goto out;
        json_t *e = json_object();
        json_object_set_new(e, "path", json_string(o->data_files[i]));
        json_object_set_new(e, "sha256", json_string(hex));
        json_array_append_new(arr, e);
    }
    if (!(s = json_dumps(arr, JSON_FLAGS))) md_error(MD_ERR_NOMEM, "out of memory");
out:
    json_decref(arr);
    return s;
}

/* The data must be the same files (by content) as the checkpoint's. */
static int data_match(const char *saved, const char *now, const char *out)
{
    json_t *a = json_loads(saved, 0, NULL), *b = json_loads(now, 0, NULL);
    int ret = 0;
    if (!a || !b || json_array_size(a) != json_array_size(b)) {
        ret = md_error(MD_ERR_ARG, "%s: the data files differ from the checkpoint's "
                       "(%zu files then, %zu now)", out, json_array_size(a), json_array_size(b));
    } else {
        for (size_t i = 0; i < json_array_size(a) && !ret; i++) {
            json_t *sa = json_object_get(json_array_get(a, i), "sha256");
            json_t *sb = json_object_get(json_array_get(b, i), "sha256");
            if (!json_equal(sa, sb))
                ret = md_error(MD_ERR_ARG, "%s: data file %s differs from the checkpoint's %s "
                               "(sha256)", out,
                               json_string_value(json_object_get(json_array_get(b, i), "path")),
                               json_string_value(json_object_get(json_array_get(a, i), "path")));
        }
    }
    json_decref(a);
    json_decref(b);
    return ret;
}

static json_t *jreal(double x) { return isfinite(x) ? json_real(x) : json_null(); }

/* ---- the trainer shared by both loops ------------------------------------------ */

typedef struct trainer {
    md_model *m;
    const md_train_opt *o;
    const char *out;
    const char *what;     /* "pretrain" or "finetune", for messages */
    md_adamw adam;
    float *grads;         /* [n_params] */
    md_train_ckpt ck;
    int64_t total;        /* steps of the schedule */
    int64_t warmup;       /* resolved */
    FILE *log;
    double t_start, t_last_progress;
    int64_t steps_run, tokens_run;
    double first[N_LOSS_AVG], last[N_LOSS_AVG];
    int n_first, n_last;
    md_train_stats *stats;
} trainer;

static int trainer_open_log(trainer *t)
{
    if (!t->o->log_path) return 0;
    t->log = fopen(t->o->log_path, t->o->resume ? "a" : "w");
    if (!t->log)
        return md_error(MD_ERR_IO, "%s: cannot open the log for writing: %s", t->o->log_path,
                        strerror(errno));
    return 0;
}

static int log_json(trainer *t, json_t *j)
{
    int ret = 0;
    if (t->log) {
        char *s = json_dumps(j, JSON_FLAGS);
        if (!s || fprintf(t->log, "%s\n", s) < 0 || fflush(t->log) != 0)
            ret = md_error(MD_ERR_IO, "%s: cannot write the log: %s", t->o->log_path,
                           strerror(errno));
        free(s);
    }
    json_decref(j);
    return ret;
}

static void fmt_hms(double s, char *buf, size_t n)
{
    if (!isfinite(s) || s < 0) s = 0;
    long x = (long)(s + 0.5);
    snprintf(buf, n, "%ld:%02ld:%02ld", x / 3600, x / 60 % 60, x % 60);
}

static void progress_line(trainer *t, double loss, double lr, double tps, int force)
{
    if (!t->o->progress) return;
    double now = now_s();
    if (!force && now - t->t_last_progress < 0.5) return;
    t->t_last_progress = now;
    double per_step = t->steps_run ? (now - t->t_start) / (double)t->steps_run : 0;
    char eta[32];
    fmt_hms(per_step * (double)(t->total - t->ck.step), eta, sizeof eta);
    fprintf(stderr, "\r\033[K%s: step %" PRId64 "/%" PRId64 "  loss %.4f  lr %.2e  %.0f tokens/s  ETA %s",
            t->what, t->ck.step, t->total, loss, lr, tps, eta);
    fflush(stderr);
}

static void progress_end(trainer *t)
{
    if (t->o->progress && t->steps_run) fputc('\n', stderr);
}

/* One optimizer step on batch b (the gradient buffer is zeroed here). */
static int trainer_step(trainer *t, const md_batch *b, int64_t n_tokens, json_t *extra)
{
    const md_train_opt *o = t->o;
    int64_t n = t->m->n_params;
    double t0 = now_s(), loss = 0;
    double lr = md_lr_at(t->ck.step, t->total, t->warmup, o->lr, o->min_lr_ratio), norm = 0;
    int ret;
    if (o->device > 0)
        ret = md_device_train_step(t->m, o->device - 1, o->precision, o->objective, b, &t->adam,
                                   lr, o->beta1, o->beta2, o->eps, o->weight_decay, o->clip,
                                   &loss, &norm);
    else {
        memset(t->grads, 0, (size_t)n * sizeof *t->grads);
        ret = md_model_loss_grad(t->m, o->objective, b, o->threads, t->grads, &loss);
        if (ret == 0 && isfinite(loss)) norm = md_clip_grad_norm(t->grads, n, o->clip);
    }
    if (ret < 0) {
        json_decref(extra);
        return ret;
    }
    if (!isfinite(loss)) {
        json_decref(extra);
        return md_error(MD_ERR_ARG, "the loss is not finite at step %" PRId64 ": lower the "
                        "learning rate (--lr) or keep gradient clipping on", t->ck.step + 1);
    }
    if (!isfinite(norm)) {
        json_decref(extra);
        return md_error(MD_ERR_ARG, "the gradient is not finite at step %" PRId64 ": lower "
                        "the learning rate (--lr)", t->ck.step + 1);
    }
    if (o->device == 0 && (ret = md_adamw_step(&t->adam, t->m, t->grads, lr, o->beta1, o->beta2,
                                                o->eps, o->weight_decay)) < 0) {
        json_decref(extra);
        return ret;
    }
    t->ck.step++;
    t->ck.tokens += n_tokens;
    t->steps_run++;
    t->tokens_run += n_tokens;
    if (t->n_first < N_LOSS_AVG) t->first[t->n_first++] = loss;
    t->last[t->n_last++ % N_LOSS_AVG] = loss;
    double dt = now_s() - t0, tps = dt > 0 ? (double)n_tokens / dt : 0;
    progress_line(t, loss, lr, tps, 0);
    json_t *j = json_object();
    json_object_set_new(j, "type", json_string("step"));
    json_object_set_new(j, "step", json_integer(t->ck.step));
    json_object_set_new(j, "loss", jreal(loss));
    json_object_set_new(j, "lr", jreal(lr));
    json_object_set_new(j, "grad_norm", jreal(norm));
    json_object_set_new(j, "tokens", json_integer(t->ck.tokens));
    json_object_set_new(j, "tokens_per_s", jreal(tps));
    json_object_set_new(j, "elapsed_s", jreal(now_s() - t->t_start));
    if (extra) {
        json_object_update(j, extra);
        json_decref(extra);
    }
    return log_json(t, j);
}

static void trainer_free(trainer *t)
{
    if (t->log) fclose(t->log);
    t->log = NULL;
    md_adamw_free(&t->adam);
    free(t->grads);
    t->grads = NULL;
    md_train_ckpt_free(&t->ck);
}

static double mean(const double *x, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += x[i];
    return n ? s / n : NAN;
}

static void trainer_stats(trainer *t)
{
    md_train_stats *st = t->stats;
    if (!st) return;
    st->steps = t->ck.step;
    st->tokens = t->tokens_run;
    st->seconds = now_s() - t->t_start;
    st->tokens_per_s = st->seconds > 0 ? (double)t->tokens_run / st->seconds : 0;
    /* over the first and last k steps run, k up to N_LOSS_AVG and at most
     * half of them, so that the two do not overlap */
    int k = (int)(t->steps_run / 2 < N_LOSS_AVG ? t->steps_run / 2 : N_LOSS_AVG);
    if (k < 1) k = 1;
    double sum = 0;
    for (int i = 0; i < k; i++) sum += t->last[((t->n_last - 1 - i) % N_LOSS_AVG + N_LOSS_AVG) % N_LOSS_AVG];
    st->first_loss = t->n_first ? mean(t->first, k < t->n_first ? k : t->n_first) : NAN;
    st->last_loss = t->n_last ? sum / k : NAN;
}

/* Set up a fresh run on m, or (o->resume) load the checkpoint of out. */
static int trainer_start(trainer *t, md_model **mp, const md_train_opt *o, const char *out,
                         const char *what, md_train_stats *stats)
{
    int ret;
    memset(t, 0, sizeof *t);
    t->o = o;
    t->out = out;
    t->what = what;
    t->stats = stats;
    if (stats) {
        memset(stats, 0, sizeof *stats);
        stats->best_step = -1;
        stats->best_score = NAN;
        stats->best_dev_loss = NAN;
    }
    if ((ret = md_train_opt_check(o)) < 0) return ret;
    /* a run must not find out at its first checkpoint that it cannot write */
    char *probe = md_tmpname_reserve(out);
    if (!probe) return MD_ERR_IO;
    md_tmpname_abort(probe);
    char *opts = options_json(o), *data = NULL;
    if (!opts) return MD_ERR_NOMEM;
    if (!(data = data_json(o))) {
        free(opts);
        return MD_ERR_IO;
    }
    if (o->resume) {
        md_model *m = NULL;
        if ((ret = md_ckpt_read(out, &m, &t->adam, &t->ck)) < 0) goto fail;
        *mp = m;
        if ((ret = options_match(t->ck.options, opts, out)) < 0 ||
            (ret = data_match(t->ck.data, data, out)) < 0)
            goto fail;
        if (t->ck.params) { /* the current weights, not the model file's */
            memcpy(m->params, t->ck.params, (size_t)m->n_params * sizeof *m->params);
        }
        free(t->ck.options);
        free(t->ck.data);
    } else {
        if (!*mp) {
            ret = md_error(MD_ERR_ARG, "no model to train");
            goto fail;
        }
        if ((ret = md_adamw_init(&t->adam, (*mp)->n_params)) < 0) goto fail;
        md_rng_seed(&t->ck.rng, o->seed);
        t->ck.best_score = -INFINITY;
        t->ck.model_step = -1;
    }
    t->ck.options = opts;
    t->ck.data = data;
    t->m = *mp;
    if (!(t->grads = malloc((size_t)t->m->n_params * sizeof *t->grads))) {
        ret = md_error(MD_ERR_NOMEM, "out of memory for the gradients of %lld parameters",
                       (long long)t->m->n_params);
        goto fail2;
    }
    /* provenance, written with every model file of the run; that of the
     * training that made the starting model is kept under
     * mambadna.pretrained.* */
    static const char *const inherited[] = {"command", "data", "metrics", "objective",
                                            "train.options"};
    for (size_t i = 0; !o->resume && i < sizeof inherited / sizeof *inherited; i++) {
        char key[64], pkey[80];
        snprintf(key, sizeof key, "mambadna.%s", inherited[i]);
        snprintf(pkey, sizeof pkey, "mambadna.pretrained.%s", inherited[i]);
        const char *v = md_model_meta(t->m, key);
        if (v && !md_model_meta(t->m, pkey) && (ret = md_model_set_meta(t->m, pkey, v)) < 0)
            goto fail2;
    }
    if (!o->resume && md_model_meta(t->m, "mambadna.metrics") &&
        (ret = md_model_set_meta(t->m, "mambadna.metrics", "{}")) < 0) /* not yet measured */
        goto fail2;
    const char *prev_seed = md_model_meta(t->m, "mambadna.seed");
    char seed[32];
    snprintf(seed, sizeof seed, "%" PRIu64, o->seed);
    if (!o->resume && prev_seed && strcmp(prev_seed, seed) != 0 &&
        (ret = md_model_set_meta(t->m, "mambadna.init_seed", prev_seed)) < 0)
        goto fail2;
    if ((ret = md_model_set_meta(t->m, "mambadna.seed", seed)) < 0 ||
        (ret = md_model_set_meta(t->m, "mambadna.data", data)) < 0 ||
        (ret = md_model_set_meta(t->m, "mambadna.train.options", opts)) < 0 ||
        (ret = md_model_set_meta(t->m, "mambadna.objective", objective_name(o->objective))) < 0 ||
        (o->command && (ret = md_model_set_meta(t->m, "mambadna.command", o->command)) < 0))
        goto fail2;
    if ((ret = trainer_open_log(t)) < 0) goto fail2;
    t->t_start = now_s();
    return 0;
fail:
    free(opts);
    free(data);
    if (o->resume) {
        md_model_free(*mp);
        *mp = NULL;
    }
    md_train_ckpt_free(&t->ck);
    md_adamw_free(&t->adam);
    return ret;
fail2:
    trainer_free(t);
    if (o->resume) {
        md_model_free(*mp);
        *mp = NULL;
    }
    return ret;
}

/* ---- pretraining ------------------------------------------------------------------ */

static int64_t length_at(const md_train_opt *o, int64_t step)
{
    if (o->len_start <= 0 || step >= o->len_steps) return o->length;
    int64_t L = o->len_start + (o->length - o->len_start) * step / o->len_steps;
    L -= L % 8;
    return L < o->len_start ? o->len_start : L;
}

static int pretrain_checkpoint(trainer *t)
{
    t->ck.model_step = t->ck.step;
    int ret = md_device_sync_moments(t->m, &t->adam);
    return ret < 0 ? ret : md_ckpt_write(t->out, t->m, 1, &t->adam, &t->ck);
}

int md_pretrain(md_model *m0, md_genome *g, const md_train_opt *o, const char *out,
                md_train_stats *stats)
{
    trainer t;
    md_model *m = o->resume ? NULL : m0;
    if (o->objective == MD_OBJ_CLASSIFY)
        return md_error(MD_ERR_ARG, "pretraining objectives are mlm and next-token");
    int ret = trainer_start(&t, &m, o, out, "pretrain", stats);
    if (ret < 0) return ret;
    if (o->objective == MD_OBJ_NEXT_TOKEN && m->cfg.arch != MD_ARCH_MAMBA) {
        ret = md_error(MD_ERR_ARG, "next-token prediction needs a causal model: %s models see "
                       "the whole sequence (use the mlm objective)", md_arch_name(m->cfg.arch));
        goto out;
    }
    t.total = o->steps;
    t.warmup = o->warmup >= 0 ? o->warmup : o->steps / 10;
    md_genome_set_max_n(g, o->max_n_frac);
    int64_t L = o->length, B = o->batch;
    int next = o->objective == MD_OBJ_NEXT_TOKEN;
    uint8_t *win = malloc((size_t)(L + 1)), *tok = malloc((size_t)(B * L)), *tgt = malloc((size_t)(B * L));
    if (!win || !tok || !tgt) {
        ret = md_error(MD_ERR_NOMEM, "out of memory for a batch of %lld x %lld", (long long)B,
                       (long long)L);
        goto free_bufs;
    }
    if (o->resume && t.ck.step >= t.total) {
        md_log(MD_LOG_INFO, "%s: the run is complete (%" PRId64 " steps)", out, t.ck.step);
        if (stats) stats->already_done = 1;
        goto free_bufs;
    }
    while (t.ck.step < t.total) {
        int64_t Ls = length_at(o, t.ck.step);
        for (int64_t b = 0; b < B; b++) {
            if ((ret = md_genome_sample(g, &t.ck.rng, Ls + next, o->rc_aug, win, &t.ck.skipped)) < 0)
                goto free_bufs;
            t.ck.pos++;
            uint8_t *tb = tok + b * Ls, *yb = tgt + b * Ls;
            if (next) {
                memcpy(tb, win, (size_t)Ls);
                for (int64_t i = 0; i < Ls; i++)
                    yb[i] = win[i + 1] == MD_TOK_N ? MD_TOK_PAD : win[i + 1];
            } else {
                memcpy(tb, win, (size_t)Ls);
                md_mlm_mask(&t.ck.rng, o->mask_prob, tb, yb, Ls);
            }
        }
        md_batch batch = {.B = (int)B, .L = Ls, .tokens = tok, .targets = tgt};
        json_t *extra = json_object();
        json_object_set_new(extra, "length", json_integer(Ls));
        if ((ret = trainer_step(&t, &batch, B * Ls, extra)) < 0) goto free_bufs;
        int pause = o->stop_after > 0 && t.ck.step >= o->stop_after && t.ck.step < t.total;
        if ((pause || (o->ckpt_every > 0 && t.ck.step % o->ckpt_every == 0 && t.ck.step < t.total)) &&
            (ret = pretrain_checkpoint(&t)) < 0)
            goto free_bufs;
        if (pause) {
            if (stats) stats->stopped_at = 1;
            progress_end(&t);
            goto free_bufs;
        }
    }
    progress_end(&t);
    trainer_stats(&t);
    {
        json_t *mt = json_object();
        json_object_set_new(mt, "objective", json_string(objective_name(o->objective)));
        json_object_set_new(mt, "steps", json_integer(t.ck.step));
        json_object_set_new(mt, "tokens", json_integer(t.ck.tokens));
        json_object_set_new(mt, "loss_last_step", jreal(t.n_last ? t.last[(t.n_last - 1) % N_LOSS_AVG] : NAN));
        json_object_set_new(mt, "windows_skipped", json_integer(t.ck.skipped));
        char *s = json_dumps(mt, JSON_FLAGS | JSON_SORT_KEYS);
        json_decref(mt);
        if (!s || (ret = md_model_set_meta(m, "mambadna.metrics", s)) < 0) {
            free(s);
            ret = ret < 0 ? ret : md_error(MD_ERR_NOMEM, "out of memory");
            goto free_bufs;
        }
        free(s);
    }
    t.ck.finished = 1;
    if ((ret = pretrain_checkpoint(&t)) < 0) goto free_bufs;
    {
        json_t *j = json_object();
        json_object_set_new(j, "type", json_string("end"));
        json_object_set_new(j, "step", json_integer(t.ck.step));
        json_object_set_new(j, "tokens", json_integer(t.ck.tokens));
        json_object_set_new(j, "loss_last", jreal(stats ? stats->last_loss : NAN));
        json_object_set_new(j, "tokens_per_s", jreal((double)t.tokens_run / (now_s() - t.t_start)));
        json_object_set_new(j, "elapsed_s", jreal(now_s() - t.t_start));
        ret = log_json(&t, j);
    }
free_bufs:
    if (ret < 0) progress_end(&t);
    free(win);
    free(tok);
    free(tgt);
out:
    trainer_stats(&t);
    trainer_free(&t);
    if (o->resume) md_model_free(m);
    return ret;
}

/* ---- fine-tuning ------------------------------------------------------------------- */

/* Labelled sequences as tokens, cut to their central max_len bases. */
typedef struct token_set {
    uint8_t *tok;   /* all sequences back to back */
    int64_t *off, *len;
    int64_t n;
} token_set;

static void token_set_free(token_set *s)
{
    free(s->tok);
    free(s->off);
    free(s->len);
}

static int64_t cut_len(int64_t len, int64_t max_len) { return max_len > 0 && len > max_len ? max_len : len; }

static int token_set_make(const md_labelled *d, int64_t max_len, token_set *s)
{
    memset(s, 0, sizeof *s);
    int64_t total = 0;
    for (int64_t i = 0; i < d->n; i++) total += cut_len(d->lens[i], max_len);
    s->tok = malloc((size_t)(total ? total : 1));
    s->off = malloc((size_t)(d->n ? d->n : 1) * sizeof *s->off);
    s->len = malloc((size_t)(d->n ? d->n : 1) * sizeof *s->len);
    if (!s->tok || !s->off || !s->len) {
        token_set_free(s);
        return md_error(MD_ERR_NOMEM, "out of memory for %lld training sequences", (long long)d->n);
    }
    int64_t at = 0;
    for (int64_t i = 0; i < d->n; i++) {
        int64_t L = cut_len(d->lens[i], max_len);
        md_tokenize(d->seqs[i] + (d->lens[i] - L) / 2, L, s->tok + at);
        s->off[i] = at;
        s->len[i] = L;
        at += L;
    }
    s->n = d->n;
    return 0;
}

/* Dev metrics of the current model. */
typedef struct dev_eval {
    md_metrics bin;   /* binary metrics (2 classes) */
    double loss, accuracy, score;
    int64_t n;
} dev_eval;

static int evaluate(trainer *t, const md_labelled *dev, float *probs, dev_eval *ev)
{
    const md_train_opt *o = t->o;
    int C = t->m->cfg.n_classes;
    md_forward_opt fo;
    md_forward_opt_init(&fo);
    fo.threads = o->threads;
    fo.device = o->device;
    fo.precision = o->precision;
    if (o->progress) {
        fprintf(stderr, "\r\033[K%s: step %" PRId64 ": evaluating on %lld dev sequences", t->what,
                t->ck.step, (long long)dev->n);
        fflush(stderr);
    }
    int ret = md_eval_classify(t->m, dev, o->eval_batch, &fo, probs, NULL, NULL);
    if (ret < 0) return ret;
    double loss = 0;
    int64_t right = 0;
    for (int64_t i = 0; i < dev->n; i++) {
        const float *p = probs + i * C;
        int y = dev->labels[i], best = 0;
        for (int k = 1; k < C; k++)
            if (p[k] > p[best]) best = k;
        right += best == y;
        loss -= log(p[y] > 1e-12f ? (double)p[y] : 1e-12);
    }
    memset(ev, 0, sizeof *ev);
    ev->n = dev->n;
    ev->loss = loss / (double)dev->n;
    ev->accuracy = (double)right / (double)dev->n;
    ev->bin.mcc = ev->bin.auroc = NAN;
    if (C == 2) {
        float *p1 = malloc((size_t)dev->n * sizeof *p1);
        if (!p1) return md_error(MD_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; i < dev->n; i++) p1[i] = probs[i * 2 + 1];
        ret = md_metrics_binary(p1, dev->labels, dev->n, 0.5, &ev->bin);
        free(p1);
        if (ret < 0) return ret;
    }
    switch (o->metric) {
    case MD_METRIC_MCC: ev->score = ev->bin.mcc; break;
    case MD_METRIC_AUROC: ev->score = ev->bin.auroc; break;
    case MD_METRIC_LOSS: ev->score = -ev->loss; break;
    default: ev->score = ev->accuracy; break;
    }
    return 0;
}

static json_t *dev_json(const dev_eval *ev, int binary)
{
    json_t *d = json_object();
    json_object_set_new(d, "n", json_integer(ev->n));
    json_object_set_new(d, "loss", jreal(ev->loss));
    json_object_set_new(d, "accuracy", jreal(ev->accuracy));
    if (binary) {
        json_object_set_new(d, "mcc", jreal(ev->bin.mcc));
        json_object_set_new(d, "auroc", jreal(ev->bin.auroc));
        json_object_set_new(d, "auprc", jreal(ev->bin.auprc));
        json_object_set_new(d, "f1", jreal(ev->bin.f1));
        json_object_set_new(d, "precision", jreal(ev->bin.precision));
        json_object_set_new(d, "recall", jreal(ev->bin.recall));
    }
    return d;
}

md_model *md_model_with_head(const md_model *m, int n_classes, uint64_t seed)
{
    if (n_classes < 1) {
        md_error(MD_ERR_ARG, "a classification head needs at least 1 class");
        return NULL;
    }
    md_config cfg = m->cfg;
    cfg.n_classes = n_classes;
    md_model *h = md_model_init(&cfg, seed); /* the head as md_model_init makes it */
    if (!h) return NULL;
    for (int i = 0; i < h->n_table; i++) {
        const md_param_entry *e = &h->table[i];
        const md_param_entry *src = md_model_find_param(m, e->name);
        int head = !strcmp(e->name, "score.weight") || !strcmp(e->name, "score.bias");
        if (head && m->cfg.n_classes != n_classes) continue;
        if (!src || src->numel != e->numel) {
            md_error(MD_ERR_ARG, "tensor %s of the model does not fit the new one", e->name);
            md_model_free(h);
            return NULL;
        }
        memcpy(h->params + e->offset, m->params + src->offset, (size_t)e->numel * sizeof(float));
    }
    for (int i = 0; i < m->n_meta; i++)
        if (strcmp(m->meta_keys[i], "mambadna.seed") &&
            md_model_set_meta(h, m->meta_keys[i], m->meta_values[i]) < 0) {
            md_model_free(h);
            return NULL;
        }
    return h;
}

int md_finetune(md_model *m0, const md_labelled *train, const md_labelled *dev,
                const md_train_opt *o, const char *out, md_train_stats *stats)
{
    trainer t;
    md_model *m = o->resume ? NULL : m0;
    token_set ts = {0};
    md_labelled dv = {0};
    uint8_t *tok = NULL;
    int32_t *lab = NULL;
    float *probs = NULL;
    int ret;
    if (o->objective != MD_OBJ_CLASSIFY)
        return md_error(MD_ERR_ARG, "fine-tuning trains the classification objective");
    if (!train || train->n < 1) return md_error(MD_ERR_ARG, "no training sequences");
    if (!dev || dev->n < 1) return md_error(MD_ERR_ARG, "no dev sequences");
    if ((ret = trainer_start(&t, &m, o, out, "finetune", stats)) < 0) return ret;
    int C = m->cfg.n_classes;
    if (C < 1) {
        ret = md_error(MD_ERR_ARG, "the model has no classification head (md_model_with_head "
                       "adds one)");
        goto out;
    }
    for (int pass = 0; pass < 2; pass++) {
        const md_labelled *d = pass ? dev : train;
        for (int64_t i = 0; i < d->n; i++)
            if (d->labels[i] < 0 || d->labels[i] >= C) {
                ret = md_error(MD_ERR_ARG, "%s sequence %s has label %d but the model has %d "
                               "classes", pass ? "dev" : "training",
                               d->names ? d->names[i] : "?", d->labels[i], C);
                goto out;
            }
    }
    if (o->n_class_weights && o->n_class_weights != C) {
        ret = md_error(MD_ERR_ARG, "%d class weights given for %d classes", o->n_class_weights, C);
        goto out;
    }
    if (C != 2 && (o->metric == MD_METRIC_MCC || o->metric == MD_METRIC_AUROC)) {
        ret = md_error(MD_ERR_ARG, "metric %s is for 2 classes; with %d use loss or accuracy",
                       md_train_metric_name(o->metric), C);
        goto out;
    }
    if ((ret = token_set_make(train, o->length, &ts)) < 0) goto out;
    /* dev: the first eval_max sequences, cut as the training ones */
    dv = *dev;
    if (o->eval_max > 0 && o->eval_max < dv.n) dv.n = o->eval_max;
    dv.seqs = malloc((size_t)dv.n * sizeof *dv.seqs);
    dv.lens = malloc((size_t)dv.n * sizeof *dv.lens);
    probs = malloc((size_t)dv.n * C * sizeof *probs);
    int64_t B = o->batch, n = ts.n, maxlen = 0;
    for (int64_t i = 0; i < n; i++) maxlen = ts.len[i] > maxlen ? ts.len[i] : maxlen;
    tok = malloc((size_t)(B * maxlen));
    lab = malloc((size_t)B * sizeof *lab);
    if (!dv.seqs || !dv.lens || !probs || !tok || !lab) {
        ret = md_error(MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int64_t i = 0; i < dv.n; i++) {
        dv.lens[i] = cut_len(dev->lens[i], o->length);
        dv.seqs[i] = dev->seqs[i] + (dev->lens[i] - dv.lens[i]) / 2;
    }
    int64_t per_epoch = (n + B - 1) / B;
    t.total = (int64_t)o->epochs * per_epoch;
    if (o->steps > 0 && o->steps < t.total) t.total = o->steps;
    t.warmup = o->warmup >= 0 ? o->warmup : t.total / 10;
    if (!t.ck.perm) {
        if (!(t.ck.perm = malloc((size_t)n * sizeof *t.ck.perm))) {
            ret = md_error(MD_ERR_NOMEM, "out of memory");
            goto out;
        }
        t.ck.n_perm = n;
        t.ck.pos = 0;
    } else if (t.ck.n_perm != n) {
        ret = md_error(MD_ERR_ARG, "%s: the checkpoint is of a training set of %lld sequences, "
                       "not %lld", out, (long long)t.ck.n_perm, (long long)n);
        goto out;
    }
    /* the state carries the current weights: the model file keeps the best */
    if (!t.ck.params && !(t.ck.params = malloc((size_t)m->n_params * sizeof *t.ck.params))) {
        ret = md_error(MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (o->resume && (t.ck.step >= t.total || (o->patience > 0 && t.ck.bad_evals >= o->patience))) {
        md_log(MD_LOG_INFO, "%s: the run is complete (%" PRId64 " steps)", out, t.ck.step);
        if (stats) stats->already_done = 1;
        goto out;
    }
    double train_loss_sum = 0;
    int64_t train_loss_n = 0;
    int stop = 0;
    dev_eval ev;
    while (!stop && t.ck.step < t.total) {
        if (t.ck.pos == 0) { /* a new epoch: Fisher-Yates shuffle */
            for (int64_t i = 0; i < n; i++) t.ck.perm[i] = i;
            for (int64_t i = n - 1; i > 0; i--) {
                int64_t j = (int64_t)md_rng_below(&t.ck.rng, (uint64_t)i + 1), x = t.ck.perm[i];
                t.ck.perm[i] = t.ck.perm[j];
                t.ck.perm[j] = x;
            }
        }
        int64_t nb = n - t.ck.pos < B ? n - t.ck.pos : B, Lb = 1;
        if (t.ck.pos < 0 || nb < 1) {
            ret = md_error(MD_ERR_FORMAT, "%s: invalid data position %lld in the training state",
                           out, (long long)t.ck.pos);
            goto out;
        }
        for (int64_t b = 0; b < nb; b++) {
            int64_t L = ts.len[t.ck.perm[t.ck.pos + b]];
            if (L > Lb) Lb = L;
        }
        memset(tok, MD_TOK_PAD, (size_t)(nb * Lb));
        for (int64_t b = 0; b < nb; b++) {
            int64_t i = t.ck.perm[t.ck.pos + b];
            memcpy(tok + b * Lb, ts.tok + ts.off[i], (size_t)ts.len[i]);
            if (o->rc_aug && md_rng_uniform(&t.ck.rng) < 0.5) md_revcomp_tokens(tok + b * Lb, ts.len[i]);
            lab[b] = train->labels[i];
        }
        int64_t n_tok = 0;
        for (int64_t b = 0; b < nb; b++) n_tok += ts.len[t.ck.perm[t.ck.pos + b]];
        md_batch batch = {.B = (int)nb, .L = Lb, .tokens = tok, .labels = lab,
                          .class_weights = o->n_class_weights ? o->class_weights : NULL};
        json_t *extra = json_object();
        json_object_set_new(extra, "epoch", json_integer(t.ck.epoch + 1));
        if ((ret = trainer_step(&t, &batch, n_tok, extra)) < 0) goto out;
        train_loss_sum += t.last[(t.n_last - 1) % N_LOSS_AVG];
        train_loss_n++;
        t.ck.pos += nb;
        int epoch_end = t.ck.pos >= n;
        if (epoch_end) {
            t.ck.epoch++;
            t.ck.pos = 0;
        }
        int last = t.ck.step >= t.total;
        int do_eval = o->eval_every > 0 ? t.ck.step % o->eval_every == 0 || last : epoch_end || last;
        int pause = o->stop_after > 0 && t.ck.step >= o->stop_after && !last;
        if (!do_eval) {
            if (pause || (o->ckpt_every > 0 && t.ck.step % o->ckpt_every == 0)) {
                /* before the first evaluation there is no model file yet:
                 * the current weights stand in for the best */
                int first = t.ck.model_step < 0;
                if (first) t.ck.model_step = t.ck.step;
                memcpy(t.ck.params, m->params, (size_t)m->n_params * sizeof *m->params);
                if ((ret = md_device_sync_moments(m, &t.adam)) < 0 ||
                    (ret = md_ckpt_write(out, m, first, &t.adam, &t.ck)) < 0)
                    goto out;
            }
            if (pause) break;
            continue;
        }
        if ((ret = evaluate(&t, &dv, probs, &ev)) < 0) goto out;
        t.ck.evals++;
        int improved = isfinite(ev.score) && ev.score > t.ck.best_score;
        if (improved) {
            t.ck.best_score = ev.score;
            t.ck.bad_evals = 0;
        } else {
            t.ck.bad_evals++;
        }
        if (o->patience > 0 && t.ck.bad_evals >= o->patience) stop = 1;
        if (last || stop) t.ck.finished = 1;
        json_t *j = json_object();
        json_object_set_new(j, "type", json_string("eval"));
        json_object_set_new(j, "step", json_integer(t.ck.step));
        json_object_set_new(j, "epoch", json_real((double)t.ck.epoch + (double)t.ck.pos / (double)n));
        json_object_set_new(j, "train_loss", jreal(train_loss_sum / (double)train_loss_n));
        json_object_set_new(j, "dev", dev_json(&ev, C == 2));
        json_object_set_new(j, "metric", json_string(md_train_metric_name(o->metric)));
        json_object_set_new(j, "score", jreal(ev.score));
        json_object_set_new(j, "best", json_boolean(improved));
        train_loss_sum = 0;
        train_loss_n = 0;
        if ((ret = log_json(&t, j)) < 0) goto out;
        if (improved) {
            json_t *mt = json_object();
            json_object_set_new(mt, "metric", json_string(md_train_metric_name(o->metric)));
            json_object_set_new(mt, "step", json_integer(t.ck.step));
            json_object_set_new(mt, "epoch", json_real((double)t.ck.epoch + (double)t.ck.pos / (double)n));
            json_object_set_new(mt, "dev", dev_json(&ev, C == 2));
            char *s = json_dumps(mt, JSON_FLAGS | JSON_SORT_KEYS);
            json_decref(mt);
            if (!s || (ret = md_model_set_meta(m, "mambadna.metrics", s)) < 0) {
                free(s);
                ret = ret < 0 ? ret : md_error(MD_ERR_NOMEM, "out of memory");
                goto out;
            }
            free(s);
            t.ck.model_step = t.ck.step;
            if (stats) {
                stats->best_step = t.ck.step;
                stats->best_score = ev.score;
                stats->best_dev = ev.bin;
                stats->best_dev_loss = ev.loss;
                stats->best_dev_accuracy = ev.accuracy;
            }
        }
        if (t.ck.finished && t.ck.model_step < 0) { /* no finite score ever: keep the last */
            t.ck.model_step = t.ck.step;
            improved = 1;
        }
        memcpy(t.ck.params, m->params, (size_t)m->n_params * sizeof *m->params);
        if ((ret = md_device_sync_moments(m, &t.adam)) < 0 ||
            (ret = md_ckpt_write(out, m, improved, &t.adam, &t.ck)) < 0)
            goto out;
        if (stats) {
            stats->evals = t.ck.evals;
            stats->stopped_early = stop && !last;
        }
        if (pause && !stop) break;
    }
    progress_end(&t);
    if (stats && !t.ck.finished && t.ck.step < t.total) stats->stopped_at = 1;
    if (stats && stats->best_step < 0 && t.ck.model_step >= 0) { /* resumed: best from the file */
        stats->best_step = t.ck.model_step;
        stats->best_score = t.ck.best_score;
    }
    {
        json_t *j = json_object();
        json_object_set_new(j, "type", json_string("end"));
        json_object_set_new(j, "step", json_integer(t.ck.step));
        json_object_set_new(j, "best_step", json_integer(t.ck.model_step));
        json_object_set_new(j, "best_score", jreal(t.ck.best_score));
        json_object_set_new(j, "stopped_early", json_boolean(stats && stats->stopped_early));
        json_object_set_new(j, "tokens_per_s", jreal((double)t.tokens_run / (now_s() - t.t_start)));
        json_object_set_new(j, "elapsed_s", jreal(now_s() - t.t_start));
        ret = log_json(&t, j);
    }
out:
    if (ret < 0) progress_end(&t);
    if (stats) {
        stats->epochs = (int)t.ck.epoch + (t.ck.pos > 0);
        if (stats->evals == 0) stats->evals = t.ck.evals;
    }
    trainer_stats(&t);
    trainer_free(&t);
    token_set_free(&ts);
    free(dv.seqs);
    free(dv.lens);
    free(probs);
    free(tok);
    free(lab);
    if (o->resume) md_model_free(m);
    return ret;
}
