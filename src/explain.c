/* explain.c: per-base attributions of a sequence's score: in-silico
 * saturation mutagenesis (every position x every other base, the mutants'
 * windows batched) and the gradient of the score with respect to the
 * one-hot input.
 *
 * The score of a sequence is what `score --per-region` reports for it: the
 * best of its windows (the model's window at its stride, the last one
 * shifted to end at the sequence end, N-rich windows skipped), each window
 * scored on both strands and combined as `score` does. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "pipeline.h"
#include "scoring.h"

/* The reader runs ahead by at most this many sequences and bases. */
#define READ_AHEAD_SEQS 64
#define READ_AHEAD_BASES (16 * 1024 * 1024)

static const uint8_t column_token[4] = {MD_TOK_A, MD_TOK_C, MD_TOK_G, MD_TOK_T};

void md_explain_opt_init(md_explain_opt *o)
{
    memset(o, 0, sizeof *o);
    md_score_opt_init(&o->score);
    o->method = MD_EXPLAIN_ISM;
}

int md_explain_opt_resolve(md_explain_opt *o, const md_model *m)
{
    if (o->method != MD_EXPLAIN_ISM && o->method != MD_EXPLAIN_GRAD)
        return md_error(MD_ERR_ARG, "unknown attribution method %d", o->method);
    return md_score_opt_resolve(&o->score, m);
}

/* The windows of one sequence and their reference scores. */
typedef struct seq_windows {
    int64_t n, L;    /* windows, and their common length */
    int64_t *beg;    /* [n] */
    int *scorable;   /* [n] not N-rich */
    int64_t *n_count;/* [n] N tokens in the window */
    float *score;    /* [n] reference scores (-INFINITY when not scorable) */
    float *pre, *suf;/* [n] running maxima of score from the left and the right */
} seq_windows;

static void windows_free(seq_windows *w)
{
    free(w->beg); free(w->scorable); free(w->n_count); free(w->score); free(w->pre); free(w->suf);
    memset(w, 0, sizeof *w);
}

/* Scratch of the batched forward passes. */
typedef struct explain_job {
    md_model *m;
    const md_explain_opt *o;
    int64_t L;                /* window length of the allocated buffers */
    uint8_t *rows;            /* (2 batch, L) */
    float *prob;              /* (2 batch, C) */
    md_window_score *scores;  /* [batch] */
    int64_t *target;          /* [batch] ISM: the (position * 4 + column) of each row */
    md_explain_stats *st;
} explain_job;

static int job_reserve(explain_job *j, int64_t L)
{
    if (L <= j->L) return 0;
    int B = j->o->score.batch, C = md_model_config(j->m)->n_classes;
    uint8_t *rows = realloc(j->rows, (size_t)(2 * B * L));
    if (rows) j->rows = rows;
    if (!rows) return md_error(MD_ERR_NOMEM, "out of memory for batches of %d windows of %lld",
                               B, (long long)L);
    if (!j->prob) {
        j->prob = malloc((size_t)(2 * B * C) * sizeof *j->prob);
        j->scores = malloc((size_t)B * sizeof *j->scores);
        j->target = malloc((size_t)B * sizeof *j->target);
        if (!j->prob || !j->scores || !j->target) return md_error(MD_ERR_NOMEM, "out of memory");
    }
    j->L = L;
    return 0;
}

/* Cut the windows of ids[len] and score the reference ones. */
static int reference_windows(explain_job *j, const uint8_t *ids, int64_t len, seq_windows *w)
{
    const md_score_opt *o = &j->o->score;
    memset(w, 0, sizeof *w);
    w->L = len < o->window ? len : o->window;
    int64_t cap = len / o->stride + 2;
    w->beg = malloc((size_t)cap * sizeof *w->beg);
    w->scorable = malloc((size_t)cap * sizeof *w->scorable);
    w->n_count = malloc((size_t)cap * sizeof *w->n_count);
    w->score = malloc((size_t)cap * sizeof *w->score);
    w->pre = malloc((size_t)cap * sizeof *w->pre);
    w->suf = malloc((size_t)cap * sizeof *w->suf);
    if (!w->beg || !w->scorable || !w->n_count || !w->score || !w->pre || !w->suf)
        return md_error(MD_ERR_NOMEM, "out of memory for the windows of a sequence of %lld",
                        (long long)len);
    md_window_iter it;
    int ret = md_window_iter_init(&it, len, o->window, o->stride, MD_LAST_SHIFT);
    int64_t b, e;
    while (ret == 0 && md_window_next(&it, &b, &e) == 0) {
        int64_t k = w->n++;
        w->beg[k] = b;
        w->n_count[k] = md_count_n(ids + b, e - b);
        w->scorable[k] = (double)w->n_count[k] <= o->max_n * (double)(e - b);
        w->score[k] = -INFINITY;
    }
    if (ret < 0 || (ret = job_reserve(j, w->L)) < 0) return ret;
    int64_t k = 0;
    while (k < w->n) { /* batches of scorable windows */
        int n = 0;
        int64_t idx[1024];
        for (; k < w->n && n < o->batch && n < 1024; k++) {
            if (!w->scorable[k]) continue;
            memcpy(j->rows + n * w->L, ids + w->beg[k], (size_t)w->L);
            idx[n++] = k;
        }
        if (n == 0) break;
        if ((ret = md_classify_windows(j->m, o, j->rows, n, w->L, j->prob, j->scores)) < 0)
            return ret;
        j->st->windows += n;
        for (int i = 0; i < n; i++) w->score[idx[i]] = j->scores[i].score;
    }
    for (int64_t i = 0; i < w->n; i++)
        w->pre[i] = i ? fmaxf(w->pre[i - 1], w->score[i]) : w->score[i];
    for (int64_t i = w->n - 1; i >= 0; i--)
        w->suf[i] = i + 1 < w->n ? fmaxf(w->suf[i + 1], w->score[i]) : w->score[i];
    return 0;
}

/* Score the n queued mutant windows and raise the mutants' maxima. */
static int flush_mutants(explain_job *j, int n, int64_t L, float *best)
{
    if (n == 0) return 0;
    int ret = md_classify_windows(j->m, &j->o->score, j->rows, n, L, j->prob, j->scores);
    if (ret < 0) return ret;
    j->st->windows += n;
    for (int i = 0; i < n; i++)
        best[j->target[i]] = fmaxf(best[j->target[i]], j->scores[i].score);
    return 0;
}

/* ISM: values (len, 4) = score of the mutant - score of the sequence. */
static int ism(explain_job *j, const uint8_t *ids, int64_t len, const seq_windows *w, float S,
               float *values)
{
    const md_score_opt *o = &j->o->score;
    int64_t L = w->L, lo = 0, hi = -1; /* windows [lo, hi] contain position i */
    float *best = values; /* the mutants' best window scores, turned into changes below */
    int n = 0, ret = 0;
    for (int64_t i = 0; ret == 0 && i < len; i++) {
        while (lo < w->n && w->beg[lo] + L <= i) lo++;
        while (hi + 1 < w->n && w->beg[hi + 1] <= i) hi++;
        /* best of the windows the mutation does not touch */
        float rest = fmaxf(lo > 0 ? w->pre[lo - 1] : -INFINITY,
                           hi + 1 < w->n ? w->suf[hi + 1] : -INFINITY);
        int ref_is_n = ids[i] == MD_TOK_N;
        for (int c = 0; c < 4; c++) best[i * 4 + c] = rest;
        for (int c = 0; ret == 0 && c < 4; c++) {
            if (ids[i] == column_token[c]) continue;
            for (int64_t k = lo; ret == 0 && k <= hi; k++) {
                /* a base in place of an N may make an N-rich window scorable */
                int64_t nn = w->n_count[k] - ref_is_n;
                if ((double)nn > o->max_n * (double)L) continue;
                uint8_t *row = j->rows + n * L;
                memcpy(row, ids + w->beg[k], (size_t)L);
                row[i - w->beg[k]] = column_token[c];
                j->target[n] = i * 4 + c;
                if (++n == o->batch) {
                    ret = flush_mutants(j, n, L, best);
                    n = 0;
                }
            }
        }
    }
    if (ret == 0) ret = flush_mutants(j, n, L, best);
    for (int64_t i = 0; i < len; i++)
        for (int c = 0; c < 4; c++)
            values[i * 4 + c] = ids[i] == column_token[c] ? 0.0f : best[i * 4 + c] - S;
    return ret;
}

/* Gradient of the best window's score (window k) with respect to the
 * one-hot input, relative to the reference base: values (len, 4). */
static int grad(explain_job *j, const uint8_t *ids, int64_t len, const seq_windows *w, int64_t k,
                float *values)
{
    const md_score_opt *o = &j->o->score;
    md_model *m = j->m;
    int equivariant = md_model_config(m)->arch == MD_ARCH_CADUCEUS_PS;
    int C = md_model_config(m)->n_classes, V = md_model_config(m)->vocab_size;
    int64_t L = w->L, b0 = w->beg[k];
    /* rows: the window as read and, for two-strand models, its reverse
     * complement; wp, wq: the weights of their probabilities in the score */
    int both = !equivariant && o->strands == MD_STRANDS_BOTH;
    int minus_only = !equivariant && o->strands == MD_STRAND_MINUS;
    int R = both ? 2 : 1;
    if (C > 64) return md_error(MD_ERR_ARG, "gradients of models with more than 64 classes");
    float prob[2 * 64];                                  /* (R, C) */
    uint8_t *tok = malloc((size_t)(R * L));              /* (R, L) */
    float *g = malloc((size_t)(R * L * V) * sizeof *g);  /* (R, L, V) */
    int ret = tok && g ? 0 : md_error(MD_ERR_NOMEM, "out of memory for a gradient");
    if (ret < 0) goto out;
    memcpy(tok, ids + b0, (size_t)L);
    if (minus_only) md_revcomp_tokens(tok, L);
    if (both) {
        memcpy(tok + L, tok, (size_t)L);
        md_revcomp_tokens(tok + L, L);
    }
    if ((ret = md_model_input_grad(m, tok, R, L, o->positive_class, o->fwd.threads, prob, g)) < 0)
        goto out;
    j->st->windows += R;
    double wp = 1, wq = 0;
    if (both) {
        float p = prob[o->positive_class], q = prob[C + o->positive_class];
        if (o->rc == MD_RC_AVG) wp = wq = 0.5;
        else if (o->rc == MD_RC_MAX) wp = p > q, wq = !(p > q);
    }
    memset(values, 0, (size_t)(len * 4) * sizeof *values);
    for (int64_t t = 0; t < L; t++) {
        /* d score / d x[t, v] on the sequence as read */
        double d[MD_VOCAB_SIZE];
        for (int v = 0; v < V && v < MD_VOCAB_SIZE; v++) {
            int cv = md_complement_token(v);
            if (minus_only) d[v] = g[(L - 1 - t) * V + cv];
            else d[v] = wp * g[t * V + v] + (both ? wq * g[(L + L - 1 - t) * V + cv] : 0);
        }
        int ref = ids[b0 + t] < V ? ids[b0 + t] : MD_TOK_N;
        for (int c = 0; c < 4; c++)
            values[(b0 + t) * 4 + c] = (float)(d[column_token[c]] - d[ref]);
    }
out:
    free(tok);
    free(g);
    return ret;
}

int md_explain_seq(md_model *m, const md_explain_opt *o, const uint8_t *ids, int64_t len,
                   float *values, float *score, md_explain_stats *stats)
{
    md_explain_stats local = {0};
    explain_job j = {.m = m, .o = o, .st = stats ? stats : &local};
    seq_windows w;
    *score = NAN;
    if (len <= 0) return 0;
    int ret = reference_windows(&j, ids, len, &w);
    int64_t k = -1;
    for (int64_t i = 0; ret == 0 && i < w.n; i++)
        if (w.scorable[i] && (k < 0 || w.score[i] > w.score[k])) k = i;
    if (ret == 0 && k < 0) { /* every window N-rich: no score to explain */
        for (int64_t i = 0; i < 4 * len; i++) values[i] = NAN;
    } else if (ret == 0) {
        *score = w.score[k];
        ret = o->method == MD_EXPLAIN_ISM ? ism(&j, ids, len, &w, *score, values)
                                          : grad(&j, ids, len, &w, k, values);
    }
    windows_free(&w);
    free(j.rows); free(j.prob); free(j.scores); free(j.target);
    return ret;
}

int md_explain_run(md_model *m, md_seqsource *src, const md_explain_opt *o, md_explain_sink sink,
                   void *ctx, md_explain_stats *stats)
{
    md_explain_stats local;
    md_explain_stats *st = stats ? stats : &local;
    memset(st, 0, sizeof *st);
    md_progress progress;
    md_progress_start(&progress, "explain", o->score.progress,
                      o->score.progress ? md_seqsource_total_bases(src) : -1);
    md_seqqueue *q = md_seqqueue_start(src, READ_AHEAD_SEQS, READ_AHEAD_BASES);
    int ret = q ? 0 : MD_ERR;
    md_seqitem it = {0};
    float *values = NULL; /* (len, 4) */
    size_t cap = 0;
    while (ret == 0 && (ret = md_seqqueue_next(q, &it)) == 0) {
        if ((size_t)it.len * 4 > cap) {
            cap = (size_t)it.len * 4;
            free(values);
            if (!(values = malloc(cap * sizeof *values))) {
                ret = md_error(MD_ERR_NOMEM, "out of memory for the attributions of %s", it.name);
                break;
            }
        }
        float score;
        if ((ret = md_explain_seq(m, o, it.ids, it.len, values, &score, st)) < 0) break;
        md_attribution a = {it.name, it.beg, it.len, it.strand, it.ids, values, score};
        if ((ret = sink(ctx, &a)) < 0) break;
        st->sequences++;
        st->bases += it.len;
        md_progress_update(&progress, st->sequences, st->bases, 0);
    }
    if (ret == MD_EOF) ret = 0;
    md_seqitem_clear(&it);
    md_seqqueue_stop(q);
    md_progress_end(&progress);
    st->seconds = md_now_s() - progress.t0;
    free(values);
    return ret;
}
