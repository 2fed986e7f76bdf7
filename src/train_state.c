/* train_state.c: checkpoints of training runs, as llm.c keeps them.
 *
 * A checkpoint of the run writing OUT is three files:
 *   OUT                      the model (native safetensors, F32), usable as is
 *   OUT.state.safetensors    the training state: AdamW moments "adam.m" and
 *                            "adam.v" (F32, laid out as the parameter buffer),
 *                            for fine-tuning also the current weights "params"
 *                            (OUT keeps the best ones) and the order of the
 *                            epoch "data.perm" (I64); metadata: step, RNG
 *                            state, data position, options, data files
 *   OUT.done                 the completion marker, written last
 * Both big files are written under temporary names and renamed only when
 * complete; the old marker is removed just before the renames and the new
 * one written after them, so a crash at any point leaves either a whole
 * checkpoint with its marker or no marker, which --resume refuses. The
 * marker and both files carry the step, checked against each other. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "model.h"
#include "safetensors.h"
#include "tmpname.h"

#define STATE_FORMAT "mambadna-train-state-1"
#define MARKER_FORMAT "mambadna-checkpoint-1"
#define META_STEP "mambadna.train.step"

void md_train_ckpt_free(md_train_ckpt *ck)
{
    if (!ck) return;
    free(ck->perm);
    free(ck->params);
    free(ck->options);
    free(ck->data);
    memset(ck, 0, sizeof *ck);
}

static char *with_suffix(const char *out, const char *suffix)
{
    size_t n = strlen(out) + strlen(suffix) + 1;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s", out, suffix);
    else md_error(MD_ERR_NOMEM, "out of memory");
    return p;
}

char *md_ckpt_state_path(const char *out) { return with_suffix(out, ".state.safetensors"); }
char *md_ckpt_marker_path(const char *out) { return with_suffix(out, ".done"); }

/* ---- sha256 (libcrypto) ------------------------------------------------- */

int md_sha256_file(const char *path, char hex[65])
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return md_error(MD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char buf[1 << 16], md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    int ret = 0;
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        ret = md_error(MD_ERR_NOMEM, "sha256: cannot start a digest");
        goto out;
    }
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0)
        if (EVP_DigestUpdate(ctx, buf, n) != 1) {
            ret = md_error(MD_ERR_IO, "sha256 of %s failed", path);
            goto out;
        }
    if (ferror(fp)) {
        ret = md_error(MD_ERR_IO, "%s: read error: %s", path, strerror(errno));
        goto out;
    }
    if (EVP_DigestFinal_ex(ctx, md, &md_len) != 1 || md_len != 32) {
        ret = md_error(MD_ERR_IO, "sha256 of %s failed", path);
        goto out;
    }
    for (unsigned i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
out:
    EVP_MD_CTX_free(ctx);
    fclose(fp);
    return ret;
}

/* ---- writing -------------------------------------------------------------- */

#define N_META 16

typedef struct meta_list {
    char *keys[N_META], *values[N_META];
    int n;
} meta_list;

static int meta_add(meta_list *l, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int meta_add(meta_list *l, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *v = NULL;
    int n = vasprintf(&v, fmt, ap);
    va_end(ap);
    if (n < 0 || l->n == N_META) {
        if (n >= 0) free(v);
        return md_error(MD_ERR_NOMEM, "out of memory");
    }
    l->keys[l->n] = (char *)key;
    l->values[l->n++] = v;
    return 0;
}

static void meta_free(meta_list *l)
{
    for (int i = 0; i < l->n; i++) free(l->values[i]);
    l->n = 0;
}

/* Write the state as safetensors to an open output (not committed). */
static int write_state(md_outfile *of, const char *path, const md_model *m, const md_adamw *a,
                       const md_train_ckpt *ck)
{
    md_st_entry e[4];
    int n = 0;
    e[n++] = (md_st_entry){.name = "adam.m", .dtype = MD_F32, .ndim = 1, .shape = {a->n},
                           .data = a->m, .src_is_f32 = 1};
    e[n++] = (md_st_entry){.name = "adam.v", .dtype = MD_F32, .ndim = 1, .shape = {a->n},
                           .data = a->v, .src_is_f32 = 1};
    if (ck->params)
        e[n++] = (md_st_entry){.name = "params", .dtype = MD_F32, .ndim = 1,
                               .shape = {m->n_params}, .data = ck->params, .src_is_f32 = 1};
    if (ck->perm)
        e[n++] = (md_st_entry){.name = "data.perm", .dtype = MD_I64, .ndim = 1,
                               .shape = {ck->n_perm}, .data = ck->perm};
    meta_list l = {0};
    int ret = 0;
    ret |= meta_add(&l, "format", "%s", STATE_FORMAT);
    ret |= meta_add(&l, "step", "%" PRId64, ck->step);
    ret |= meta_add(&l, "model_step", "%" PRId64, ck->model_step);
    ret |= meta_add(&l, "adam.t", "%" PRId64, a->t);
    ret |= meta_add(&l, "rng", "%016" PRIx64 " %016" PRIx64 " %016" PRIx64 " %016" PRIx64,
                    ck->rng.s[0], ck->rng.s[1], ck->rng.s[2], ck->rng.s[3]);
    ret |= meta_add(&l, "data.epoch", "%" PRId64, ck->epoch);
    ret |= meta_add(&l, "data.pos", "%" PRId64, ck->pos);
    ret |= meta_add(&l, "tokens", "%" PRId64, ck->tokens);
    ret |= meta_add(&l, "skipped", "%" PRId64, ck->skipped);
    ret |= meta_add(&l, "evals", "%d", ck->evals);
    ret |= meta_add(&l, "bad_evals", "%d", ck->bad_evals);
    ret |= meta_add(&l, "best_score", "%.17g", ck->best_score);
    ret |= meta_add(&l, "finished", "%d", ck->finished);
    ret |= meta_add(&l, "options", "%s", ck->options ? ck->options : "{}");
    ret |= meta_add(&l, "data", "%s", ck->data ? ck->data : "[]");
    if (ret == 0) ret = md_st_write_fp(md_outfile_fp(of), path, e, n, l.keys, l.values, l.n);
    meta_free(&l);
    return ret;
}

static int write_marker(const char *marker, const md_train_ckpt *ck)
{
    md_outfile *of = md_outfile_open(marker);
    if (!of) return MD_ERR_IO;
    fprintf(md_outfile_fp(of), "{\"format\": \"%s\", \"step\": %" PRId64 ", \"model_step\": %" PRId64
            "}\n", MARKER_FORMAT, ck->step, ck->model_step);
    return md_outfile_commit(of);
}

int md_ckpt_write(const char *out, md_model *m, int write_model, const md_adamw *a,
                  const md_train_ckpt *ck)
{
    char *state = md_ckpt_state_path(out), *marker = md_ckpt_marker_path(out), *tmp_model = NULL;
    md_outfile *of = NULL;
    int ret = 0;
    if (!state || !marker) {
        ret = MD_ERR_NOMEM;
        goto out;
    }
    if (!(of = md_outfile_open(state))) {
        ret = MD_ERR_IO;
        goto out;
    }
    if ((ret = write_state(of, state, m, a, ck)) < 0) goto out;
    if (write_model) {
        if (!(tmp_model = md_tmpname_reserve(out))) {
            ret = MD_ERR_IO;
            goto out;
        }
        char step[32];
        snprintf(step, sizeof step, "%" PRId64, ck->model_step);
        if ((ret = md_model_set_meta(m, META_STEP, step)) < 0 ||
            (ret = md_model_save(m, tmp_model, MD_F32)) < 0)
            goto out;
    }
    /* the point of no return: from here the marker is absent until the
     * renames are done */
    if (unlink(marker) != 0 && errno != ENOENT) {
        ret = md_error(MD_ERR_IO, "cannot remove the old checkpoint marker %s: %s", marker,
                       strerror(errno));
        goto out;
    }
    if (tmp_model) {
        ret = md_tmpname_commit(tmp_model, out);
        tmp_model = NULL;
        if (ret < 0) goto out;
    }
    ret = md_outfile_commit(of);
    of = NULL;
    if (ret < 0) goto out;
    ret = write_marker(marker, ck);
out:
    if (of) md_outfile_abort(of);
    if (tmp_model) md_tmpname_abort(tmp_model);
    free(state);
    free(marker);
    return ret;
}

/* ---- reading ----------------------------------------------------------------- */

static int meta_i64(const md_st_file *f, const char *path, const char *key, int64_t *v)
{
    const char *s = md_st_meta(f, key);
    char *end;
    if (!s) return md_error(MD_ERR_FORMAT, "%s: no '%s' in the metadata", path, key);
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return md_error(MD_ERR_FORMAT, "%s: metadata '%s' is not an integer: '%s'", path, key, s);
    *v = x;
    return 0;
}

static int read_f32(const md_st_file *f, const char *path, const char *name, int64_t n, float *dst)
{
    const md_st_tensor *t = md_st_find(f, name);
    if (!t) return md_error(MD_ERR_FORMAT, "%s: tensor %s is missing", path, name);
    if (t->dtype != MD_F32 || t->ndim != 1 || t->shape[0] != n)
        return md_error(MD_ERR_FORMAT, "%s: tensor %s is not F32 [%lld] (the model has %lld "
                        "parameters)", path, name, (long long)n, (long long)n);
    memcpy(dst, t->data, (size_t)n * sizeof *dst); /* exact: bit-exact resume */
    return 0;
}

static int read_marker(const char *marker, const char *out, int64_t *step, int64_t *model_step)
{
    json_error_t err;
    json_t *o = json_load_file(marker, 0, &err);
    if (!o) {
        if (access(marker, F_OK) != 0)
            return md_error(MD_ERR_IO, "%s: no complete checkpoint to resume (the marker %s is "
                            "missing: the run wrote none, or stopped while writing one)", out,
                            marker);
        return md_error(MD_ERR_FORMAT, "%s: unreadable checkpoint marker: %s", marker, err.text);
    }
    json_t *s = json_object_get(o, "step"), *ms = json_object_get(o, "model_step");
    const char *fmt = json_string_value(json_object_get(o, "format"));
    int ret = 0;
    if (!fmt || strcmp(fmt, MARKER_FORMAT) || !json_is_integer(s) || !json_is_integer(ms))
        ret = md_error(MD_ERR_FORMAT, "%s: not a mambadna checkpoint marker", marker);
    else {
        *step = json_integer_value(s);
        *model_step = json_integer_value(ms);
    }
    json_decref(o);
    return ret;
}

int md_ckpt_read(const char *out, md_model **mp, md_adamw *a, md_train_ckpt *ck)
{
    char *state = md_ckpt_state_path(out), *marker = md_ckpt_marker_path(out);
    md_st_file f = {0};
    md_model *m = NULL;
    int64_t mk_step = 0, mk_model_step = 0, v;
    int ret;
    memset(ck, 0, sizeof *ck);
    memset(a, 0, sizeof *a);
    *mp = NULL;
    if (!state || !marker) {
        ret = MD_ERR_NOMEM;
        goto fail;
    }
    if ((ret = read_marker(marker, out, &mk_step, &mk_model_step)) < 0) goto fail;
    if (!(m = md_model_load(out))) {
        ret = MD_ERR_IO;
        goto fail;
    }
    const char *ms = md_model_meta(m, META_STEP);
    if (!ms || strtoll(ms, NULL, 10) != mk_model_step) {
        ret = md_error(MD_ERR_FORMAT, "%s: the model is of step %s but the checkpoint marker "
                       "says %lld: the files do not belong together", out, ms ? ms : "(none)",
                       (long long)mk_model_step);
        goto fail;
    }
    if ((ret = md_st_open(state, &f)) < 0) goto fail;
    const char *fmt = md_st_meta(&f, "format");
    if (!fmt || strcmp(fmt, STATE_FORMAT) != 0) {
        ret = md_error(MD_ERR_FORMAT, "%s: not a mambadna training state (format %s)", state,
                       fmt ? fmt : "missing");
        goto fail;
    }
    if ((ret = meta_i64(&f, state, "step", &ck->step)) < 0 ||
        (ret = meta_i64(&f, state, "model_step", &ck->model_step)) < 0)
        goto fail;
    if (ck->step != mk_step || ck->model_step != mk_model_step) {
        ret = md_error(MD_ERR_FORMAT, "%s: the state is of step %lld but the checkpoint marker "
                       "says %lld: the files do not belong together", state,
                       (long long)ck->step, (long long)mk_step);
        goto fail;
    }
    int64_t n = m->n_params;
    if ((ret = md_adamw_init(a, n)) < 0) goto fail;
    if ((ret = read_f32(&f, state, "adam.m", n, a->m)) < 0 ||
        (ret = read_f32(&f, state, "adam.v", n, a->v)) < 0 ||
        (ret = meta_i64(&f, state, "adam.t", &a->t)) < 0)
        goto fail;
    if (md_st_find(&f, "params")) {
        if (!(ck->params = malloc((size_t)n * sizeof *ck->params))) {
            ret = md_error(MD_ERR_NOMEM, "out of memory");
            goto fail;
        }
        if ((ret = read_f32(&f, state, "params", n, ck->params)) < 0) goto fail;
    }
    const md_st_tensor *perm = md_st_find(&f, "data.perm");
    if (perm) {
        if (perm->dtype != MD_I64 || perm->ndim != 1) {
            ret = md_error(MD_ERR_FORMAT, "%s: tensor data.perm is not I64 [n]", state);
            goto fail;
        }
        ck->n_perm = perm->shape[0];
        if (!(ck->perm = malloc((size_t)(ck->n_perm ? ck->n_perm : 1) * sizeof *ck->perm))) {
            ret = md_error(MD_ERR_NOMEM, "out of memory");
            goto fail;
        }
        memcpy(ck->perm, perm->data, (size_t)ck->n_perm * sizeof *ck->perm);
    }
    const char *rng = md_st_meta(&f, "rng");
    if (!rng || sscanf(rng, "%16" SCNx64 " %16" SCNx64 " %16" SCNx64 " %16" SCNx64, &ck->rng.s[0],
                       &ck->rng.s[1], &ck->rng.s[2], &ck->rng.s[3]) != 4) {
        ret = md_error(MD_ERR_FORMAT, "%s: no valid 'rng' state in the metadata", state);
        goto fail;
    }
    if ((ret = meta_i64(&f, state, "data.epoch", &ck->epoch)) < 0 ||
        (ret = meta_i64(&f, state, "data.pos", &ck->pos)) < 0 ||
        (ret = meta_i64(&f, state, "tokens", &ck->tokens)) < 0 ||
        (ret = meta_i64(&f, state, "skipped", &ck->skipped)) < 0)
        goto fail;
    if ((ret = meta_i64(&f, state, "evals", &v)) < 0) goto fail;
    ck->evals = (int)v;
    if ((ret = meta_i64(&f, state, "bad_evals", &v)) < 0) goto fail;
    ck->bad_evals = (int)v;
    if ((ret = meta_i64(&f, state, "finished", &v)) < 0) goto fail;
    ck->finished = (int)v;
    const char *best = md_st_meta(&f, "best_score");
    ck->best_score = best ? strtod(best, NULL) : 0;
    const char *opts = md_st_meta(&f, "options"), *data = md_st_meta(&f, "data");
    ck->options = strdup(opts ? opts : "{}");
    ck->data = strdup(data ? data : "[]");
    if (!ck->options || !ck->data) {
        ret = md_error(MD_ERR_NOMEM, "out of memory");
        goto fail;
    }
    md_st_close(&f);
    free(state);
    free(marker);
    *mp = m;
    return 0;
fail:
    md_st_close(&f);
    md_model_free(m);
    md_adamw_free(a);
    md_train_ckpt_free(ck);
    free(state);
    free(marker);
    return ret;
}
