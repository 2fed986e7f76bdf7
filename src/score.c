/* score.c: sliding-window classification of whole sequences on both
 * strands, and the per-base tracks and calls made from the windows.
 *
 * A pipeline: a reader thread reads and tokenizes the next sequences
 * (pipeline.c) while this thread cuts windows, batches them across
 * sequences and classifies them; the sink gets every sequence in input
 * order once all its windows are scored. Batches depend only on the input
 * order, so the output is the same whatever the timing or thread count. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <htslib/sam.h>

#include "model.h"
#include "pipeline.h"
#include "scoring.h"

/* The reader runs ahead by at most this many sequences and, beyond one
 * sequence, this many bases. */
#define READ_AHEAD_SEQS 1024
#define READ_AHEAD_BASES (64 * 1024 * 1024)

void md_score_opt_init(md_score_opt *o)
{
    memset(o, 0, sizeof *o);
    md_forward_opt_init(&o->fwd);
    o->strands = MD_STRANDS_BOTH;
    o->rc = MD_RC_AVG;
    o->batch = 64;
    o->max_n = 0.5;
    o->positive_class = 1;
}

int md_score_opt_resolve(md_score_opt *o, const md_model *m)
{
    const md_config *c = md_model_config(m);
    if (c->n_classes < 2)
        return md_error(MD_ERR_ARG, "the model has no classification head: give a fine-tuned "
                        "model (mambadna finetune)");
    if (o->positive_class < 0 || o->positive_class >= c->n_classes)
        return md_error(MD_ERR_ARG, "positive class %d outside the model's %d classes",
                        o->positive_class, c->n_classes);
    if (!o->window) o->window = c->window;
    if (!o->window) return md_error(MD_ERR_ARG, "the model records no window length: give -w");
    if (!o->stride) o->stride = c->window == o->window && c->stride ? c->stride : (o->window + 3) / 4;
    if (o->window < 1 || o->stride < 1 || o->batch < 1)
        return md_error(MD_ERR_ARG, "window, stride and batch must be >= 1");
    if (o->window > INT64_MAX / 4 / o->batch)
        return md_error(MD_ERR_ARG, "window %lld times batch %d is too large: lower -w or --batch",
                        (long long)o->window, o->batch);
    if (o->strands < MD_STRANDS_BOTH || o->strands > MD_STRAND_MINUS || o->rc < MD_RC_AVG ||
        o->rc > MD_RC_NONE)
        return md_error(MD_ERR_ARG, "unknown strand or rc mode");
    return 0;
}

/* A sequence whose windows are being or have been queued. */
typedef struct queued_seq {
    char *name;
    int64_t beg, len;
    uint16_t flag;
    bam1_t *bam;        /* the input record, when the source keeps them */
    md_window_score *w; /* [n], allocated for the most windows the length allows */
    int64_t n;
    int closed;         /* every window queued */
} queued_seq;

typedef struct score_job {
    md_model *m;
    const md_score_opt *o;
    int fasta;              /* the input is FASTA: an empty record is worth a warning */
    uint8_t *tok;           /* (batch, window) tokens of the pending windows */
    int64_t *len;           /* [batch] their lengths (short sequences: one short window) */
    md_window_score **dest; /* [batch] where each result goes */
    int n_pending;
    uint8_t *rows;          /* (2 batch, window) forward and reverse-complement rows */
    float *prob;            /* (2 batch, C) */
    md_window_score *scores; /* [batch] results of one group */
    int *idx;               /* [batch] */
    char *done;             /* [batch] */
    queued_seq *seqs;       /* sequences not yet handed to the sink, in order */
    int n_seqs, cap_seqs;
    md_score_sink sink;
    void *ctx;
    md_score_stats *st;
    md_progress progress;
    int64_t bases_before; /* bases of the sequences before the current one */
} score_job;

static void free_queued(queued_seq *q)
{
    free(q->name);
    free(q->w);
    if (q->bam) bam_destroy1(q->bam);
}

int md_classify_windows(md_model *m, const md_score_opt *o, uint8_t *rows, int n, int64_t L,
                        float *prob, md_window_score *out)
{
    int equivariant = md_model_config(m)->arch == MD_ARCH_CADUCEUS_PS;
    int C = md_model_config(m)->n_classes, pc = o->positive_class;
    int both = !equivariant && o->strands == MD_STRANDS_BOTH;
    int minus_only = !equivariant && o->strands == MD_STRAND_MINUS;
    for (int i = 0; i < n; i++) {
        uint8_t *row = rows + (int64_t)i * L;
        if (minus_only) md_revcomp_tokens(row, L);
        if (both) {
            uint8_t *rc = rows + (int64_t)(n + i) * L;
            memcpy(rc, row, (size_t)L);
            md_revcomp_tokens(rc, L);
        }
    }
    int ret = md_model_classify(m, rows, both ? 2 * n : n, L, &o->fwd, prob);
    if (ret < 0) return ret;
    for (int i = 0; i < n; i++) {
        md_window_score *w = &out[i];
        float p = prob[(int64_t)i * C + pc];
        float q = both ? prob[(int64_t)(n + i) * C + pc] : p;
        if (!isfinite(p) || !isfinite(q)) /* never a NaN track or call */
            return md_error(MD_ERR, "the model gave a non-finite probability for a window of "
                            "%lld bases: nothing more is written; check the model's weights",
                            (long long)L);
        if (equivariant || o->strands == MD_STRANDS_BOTH) {
            w->plus = p;
            w->minus = q;
        } else if (o->strands == MD_STRAND_PLUS) {
            w->plus = p;
            w->minus = 0;
        } else {
            w->plus = 0;
            w->minus = p;
        }
        if (!both || o->rc == MD_RC_NONE) w->score = p;
        else w->score = o->rc == MD_RC_MAX ? (p > q ? p : q) : 0.5f * (p + q);
    }
    return 0;
}

/* Classify pending windows idx[k] of length L and fill their scores. */
static int classify_group(score_job *j, int64_t L, int k)
{
    for (int i = 0; i < k; i++)
        memcpy(j->rows + (int64_t)i * L, j->tok + (int64_t)j->idx[i] * j->o->window, (size_t)L);
    int ret = md_classify_windows(j->m, j->o, j->rows, k, L, j->prob, j->scores);
    for (int i = 0; ret == 0 && i < k; i++) {
        md_window_score *w = j->dest[j->idx[i]];
        w->plus = j->scores[i].plus;
        w->minus = j->scores[i].minus;
        w->score = j->scores[i].score;
    }
    return ret;
}

/* Hand every closed sequence at the head of the queue to the sink. */
static int emit_closed(score_job *j)
{
    int k = 0, ret = 0;
    for (; k < j->n_seqs && j->seqs[k].closed; k++) {
        queued_seq *q = &j->seqs[k];
        md_scored_seq seq = {q->name, q->beg, q->len, q->flag, q->w, q->n, q->bam};
        if (ret == 0) ret = j->sink(j->ctx, &seq);
        free_queued(q);
    }
    memmove(j->seqs, j->seqs + k, (size_t)(j->n_seqs - k) * sizeof *j->seqs);
    j->n_seqs -= k;
    return ret;
}

/* Run every pending window, grouped by length, then emit finished sequences. */
static int flush(score_job *j)
{
    int ret = 0;
    memset(j->done, 0, (size_t)j->o->batch);
    for (int i = 0; ret == 0 && i < j->n_pending; i++) {
        if (j->done[i]) continue;
        int k = 0;
        for (int q = i; q < j->n_pending; q++)
            if (!j->done[q] && j->len[q] == j->len[i]) {
                j->idx[k++] = q;
                j->done[q] = 1;
            }
        ret = classify_group(j, j->len[i], k);
    }
    j->n_pending = 0;
    return ret < 0 ? ret : emit_closed(j);
}

/* Cut the windows of one sequence, queue them (classifying every full
 * batch) and queue the sequence for the sink. Takes the name and the record
 * of it. */
static int queue_sequence(score_job *j, md_seqitem *it)
{
    const md_score_opt *o = j->o;
    if (j->n_seqs == j->cap_seqs) {
        int cap = j->cap_seqs ? 2 * j->cap_seqs : 16;
        queued_seq *p = realloc(j->seqs, (size_t)cap * sizeof *p);
        if (!p) return md_error(MD_ERR_NOMEM, "out of memory");
        j->seqs = p;
        j->cap_seqs = cap;
    }
    int scored = !(it->flag & o->unscored_flags);
    if (it->len == 0 && j->fasta)
        md_log(MD_LOG_WARN, "FASTA record '%s' is empty: it has no score", it->name);
    queued_seq *q = &j->seqs[j->n_seqs];
    memset(q, 0, sizeof *q);
    q->beg = it->beg;
    q->len = it->len;
    q->flag = it->flag;
    q->w = malloc((size_t)(scored ? it->len / o->stride + 2 : 1) * sizeof *q->w);
    if (!q->w) return md_error(MD_ERR_NOMEM, "out of memory for the windows of %s", it->name);
    q->name = it->name;
    q->bam = it->bam;
    it->name = NULL;
    it->bam = NULL;
    j->n_seqs++;
    if (!scored) { /* handed to the sink as it is, without windows */
        j->seqs[j->n_seqs - 1].closed = 1;
        return 0;
    }
    const uint8_t *ids = it->ids;
    md_window_iter it_w;
    int ret = md_window_iter_init(&it_w, it->len, o->window, o->stride, MD_LAST_SHIFT);
    int64_t b, e;
    while (ret >= 0 && it->len > 0 && md_window_next(&it_w, &b, &e) == 0) {
        if ((double)md_count_n(ids + b, e - b) > o->max_n * (double)(e - b)) {
            j->st->skipped++;
            continue;
        }
        queued_seq *cur = &j->seqs[j->n_seqs - 1]; /* flushes move the queue */
        md_window_score *w = &cur->w[cur->n++];
        *w = (md_window_score){.beg = b, .end = e};
        memcpy(j->tok + (int64_t)j->n_pending * o->window, ids + b, (size_t)(e - b));
        j->len[j->n_pending] = e - b;
        j->dest[j->n_pending] = w;
        j->st->windows++;
        if (++j->n_pending == o->batch) {
            ret = flush(j);
            md_progress_update(&j->progress, j->st->sequences, j->bases_before + e, 0);
        }
    }
    j->seqs[j->n_seqs - 1].closed = 1;
    j->st->sequences++;
    j->st->bases += it->len;
    j->bases_before += it->len;
    return ret < 0 ? ret : 0;
}

int md_score_run(md_model *m, md_seqsource *src, const md_score_opt *o, md_score_sink sink,
                 void *ctx, md_score_stats *stats)
{
    md_score_stats local;
    score_job j = {.m = m, .o = o, .sink = sink, .ctx = ctx, .st = stats ? stats : &local,
                   .fasta = md_seqsource_format(src) == MD_FMT_FASTA};
    memset(j.st, 0, sizeof *j.st);
    md_progress_start(&j.progress, "score", o->progress,
                      o->progress ? md_seqsource_total_bases(src) : -1);
    int C = md_model_config(m)->n_classes, B = o->batch;
    j.tok = malloc((size_t)(B * o->window));
    j.len = malloc((size_t)B * sizeof *j.len);
    j.dest = malloc((size_t)B * sizeof *j.dest);
    j.rows = malloc((size_t)(2 * B * o->window));
    j.prob = malloc((size_t)(2 * B * C) * sizeof *j.prob);
    j.scores = malloc((size_t)B * sizeof *j.scores);
    j.idx = malloc((size_t)B * sizeof *j.idx);
    j.done = malloc((size_t)B);
    int ret = j.tok && j.len && j.dest && j.rows && j.prob && j.scores && j.idx && j.done
                  ? 0
                  : md_error(MD_ERR_NOMEM, "out of memory for batches of %d windows of %lld: "
                             "lower --batch", B, (long long)o->window);
    md_seqqueue *q = ret == 0 ? md_seqqueue_start(src, READ_AHEAD_SEQS, READ_AHEAD_BASES) : NULL;
    if (ret == 0 && !q) ret = MD_ERR;
    md_seqitem it = {0};
    while (ret == 0 && (ret = md_seqqueue_next(q, &it)) == 0) {
        ret = queue_sequence(&j, &it);
        /* with no window pending every queued sequence is done: hand them
         * over now (reads without a score do not pile up) */
        if (ret == 0 && j.n_pending == 0) ret = emit_closed(&j);
    }
    md_seqitem_clear(&it);
    md_seqqueue_stop(q);
    if (ret == MD_EOF) ret = flush(&j);
    md_progress_end(&j.progress);
    j.st->seconds = md_now_s() - j.progress.t0;
    for (int i = 0; i < j.n_seqs; i++) free_queued(&j.seqs[i]);
    free(j.seqs); free(j.tok); free(j.len); free(j.dest); free(j.rows); free(j.prob);
    free(j.scores); free(j.idx); free(j.done);
    return ret;
}

/* ---- tracks and calls ------------------------------------------------------- */

typedef struct edge { int64_t pos; float value; int delta; } edge;

static int cmp_edge(const void *a, const void *b)
{
    const edge *x = a, *y = b;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

int md_track_from_windows(const md_window_score *w, int64_t n,
                          int (*emit)(void *ctx, int64_t beg, int64_t end, float value), void *ctx)
{
    if (n == 0) return 0;
    edge *ev = malloc((size_t)(2 * n) * sizeof *ev);
    if (!ev) return md_error(MD_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        ev[2 * i] = (edge){w[i].beg, w[i].score, +1};
        ev[2 * i + 1] = (edge){w[i].end, w[i].score, -1};
    }
    qsort(ev, (size_t)(2 * n), sizeof *ev, cmp_edge);
    double sum = 0; /* scores of the open windows, reset at every gap */
    int64_t open = 0;
    int ret = 0;
    for (int64_t i = 0; i < 2 * n && ret == 0;) {
        int64_t pos = ev[i].pos;
        for (; i < 2 * n && ev[i].pos == pos; i++) {
            sum += ev[i].delta * (double)ev[i].value;
            open += ev[i].delta;
        }
        if (open == 0) sum = 0; /* no drift across gaps */
        if (open > 0 && i < 2 * n) ret = emit(ctx, pos, ev[i].pos, (float)(sum / (double)open));
    }
    free(ev);
    return ret;
}

int md_calls_from_windows(const md_window_score *w, int64_t n, double threshold, int equivariant,
                          md_call **calls, int64_t *n_calls)
{
    *calls = NULL;
    *n_calls = 0;
    md_call *out = NULL;
    int64_t k = 0, cap = 0;
    for (int64_t i = 0; i < n; i++) {
        if (w[i].score < threshold) continue;
        char strand = equivariant ? '.' : (w[i].plus >= w[i].minus ? '+' : '-');
        if (k > 0 && w[i].beg <= out[k - 1].end) { /* overlaps or touches the open call */
            md_call *c = &out[k - 1];
            if (w[i].end > c->end) c->end = w[i].end;
            if (w[i].score > c->max_score) {
                c->max_score = w[i].score;
                c->strand = strand;
            }
            continue;
        }
        if (k == cap) {
            cap = cap ? 2 * cap : 64;
            md_call *p = realloc(out, (size_t)cap * sizeof *p);
            if (!p) {
                free(out);
                return md_error(MD_ERR_NOMEM, "out of memory");
            }
            out = p;
        }
        out[k++] = (md_call){w[i].beg, w[i].end, w[i].score, strand};
    }
    *calls = out;
    *n_calls = k;
    return 0;
}
