/* metrics.c: binary classification metrics and the classification of a
 * labelled set in batches.
 *
 * Definitions (those of scikit-learn, checked against the numpy reference
 * tests/reference/metrics_ref.py):
 *  - predicted class 1 when p >= threshold; precision, recall and F1 are 0
 *    where their denominator is 0; F1 = 2 TP / (2 TP + FP + FN);
 *  - MCC = (TP TN - FP FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)), 0 when a
 *    factor of the denominator is 0;
 *  - AUROC = the Mann-Whitney U of the positives over P N: the fraction of
 *    (positive, negative) pairs ranked correctly, ties counting half; NaN
 *    when one class is absent;
 *  - AUPRC = average precision, sum over the distinct scores (thresholds)
 *    from the highest down of (R_n - R_{n-1}) P_n, equal scores taken
 *    together; NaN when there are no positives.
 * Scores are sorted with qsort on (score, label): the result does not depend
 * on the input order. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mambadna.h"

typedef struct scored {
    float s;
    int32_t y;
} scored;

static int cmp_scored(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->s < y->s) return -1;
    if (x->s > y->s) return 1;
    return (x->y > y->y) - (x->y < y->y);
}

static double ratio(double a, double b) { return b > 0 ? a / b : 0.0; }

int md_metrics_binary(const float *p_pos, const int32_t *labels, int64_t n, double threshold,
                      md_metrics *out)
{
    if (!out) return md_error(MD_ERR_ARG, "md_metrics_binary: NULL argument");
    memset(out, 0, sizeof *out);
    if (n < 1) return md_error(MD_ERR_ARG, "md_metrics_binary: no scores");
    if (!p_pos || !labels) return md_error(MD_ERR_ARG, "md_metrics_binary: NULL argument");
    if (isnan(threshold))
        return md_error(MD_ERR_ARG, "md_metrics_binary: the threshold is NaN");
    scored *v = malloc((size_t)n * sizeof *v);
    if (!v) return md_error(MD_ERR_NOMEM, "out of memory for %" PRId64 " scores", n);
    int64_t tp = 0, fp = 0, tn = 0, fn = 0;
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] != 0 && labels[i] != 1) {
            free(v);
            return md_error(MD_ERR_ARG, "md_metrics_binary: label %" PRId32 " of "
                            "sequence %" PRId64 " is not 0 or 1", labels[i], i);
        }
        if (isnan(p_pos[i])) {
            free(v);
            return md_error(MD_ERR_ARG, "md_metrics_binary: the score of sequence %"
                            PRId64 " is NaN", i);
        }
        int pred = (double)p_pos[i] >= threshold;
        if (labels[i]) pred ? tp++ : fn++;
        else pred ? fp++ : tn++;
        v[i].s = p_pos[i];
        v[i].y = labels[i];
    }
    out->n = n;
    out->tp = tp;
    out->fp = fp;
    out->tn = tn;
    out->fn = fn;
    out->accuracy = (double)(tp + tn) / (double)n;
    out->precision = ratio((double)tp, (double)(tp + fp));
    out->recall = ratio((double)tp, (double)(tp + fn));
    out->f1 = ratio(2.0 * (double)tp, (double)(2 * tp + fp + fn));
    double den = (double)(tp + fp) * (double)(tp + fn) * (double)(tn + fp) * (double)(tn + fn);
    out->mcc = den > 0 ? ((double)tp * (double)tn - (double)fp * (double)fn) / sqrt(den) : 0.0;

    qsort(v, (size_t)n, sizeof *v, cmp_scored);
    int64_t P = tp + fn, N = fp + tn;
    /* AUROC: walk tie groups upwards; a positive beats the negatives of
     * lower groups and ties half of the negatives of its own group. */
    double twice_u = 0; /* 2 U: integers, exact in a double up to 2^53 */
    int64_t neg_below = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i, pos = 0, neg = 0;
        for (; j < n && v[j].s == v[i].s; j++) v[j].y ? pos++ : neg++;
        twice_u += 2.0 * (double)pos * (double)neg_below + (double)pos * (double)neg;
        neg_below += neg;
        i = j;
    }
    out->auroc = P > 0 && N > 0 ? twice_u / (2.0 * (double)P * (double)N) : NAN;
    /* Average precision: walk tie groups downwards (thresholds from high to
     * low); each group adds its share of the positives times the precision
     * at its threshold. */
    double ap = 0;
    int64_t ctp = 0, cfp = 0;
    for (int64_t j = n; j > 0;) {
        int64_t i = j, pos = 0;
        for (; i > 0 && v[i - 1].s == v[j - 1].s; i--) v[i - 1].y ? pos++ : cfp++;
        ctp += pos;
        if (pos) ap += (double)pos / (double)P * ((double)ctp / (double)(ctp + cfp));
        j = i;
    }
    out->auprc = P > 0 ? ap : NAN;
    free(v);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Classifying a labelled set                                          */
/* ------------------------------------------------------------------ */

/* Positions per batch at most (bounds the hidden states a batch holds); a
 * sequence longer than this runs alone. */
#define MD_EVAL_BATCH_POSITIONS ((int64_t)1 << 18)

typedef struct len_index {
    int64_t len, i;
} len_index;

static int cmp_len_desc(const void *a, const void *b)
{
    const len_index *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

int md_eval_classify(md_model *m, const md_labelled *d, int batch,
                     const md_forward_opt *opt, float *probs,
                     void (*progress)(int64_t done, int64_t n, void *arg), void *arg)
{
    if (!m || !d || !probs) return md_error(MD_ERR_ARG, "md_eval_classify: NULL argument");
    if (batch < 1) return md_error(MD_ERR_ARG, "md_eval_classify: batch must be >= 1");
    int C = md_model_config(m)->n_classes;
    if (C < 1)
        return md_error(MD_ERR_ARG, "the model has no classification head "
                        "(n_classes 0): fine-tune it, or create one with "
                        "`mambadna init --classes 2`");
    if (d->n == 0) return 0;
    len_index *order = malloc((size_t)d->n * sizeof *order);
    if (!order) return md_error(MD_ERR_NOMEM, "out of memory for %" PRId64 " sequences", d->n);
    int64_t maxlen = 0;
    for (int64_t i = 0; i < d->n; i++) {
        order[i].len = d->lens[i];
        order[i].i = i;
        if (d->lens[i] > maxlen) maxlen = d->lens[i];
    }
    qsort(order, (size_t)d->n, sizeof *order, cmp_len_desc);
    /* a batch of B sequences of length <= L has B = max(1, min(batch,
     * limit / L)), so B L <= max(L, min(batch L, limit)) */
    if (maxlen < 1) maxlen = 1;
    int64_t cap = (int64_t)batch * maxlen;
    if (cap > MD_EVAL_BATCH_POSITIONS) cap = MD_EVAL_BATCH_POSITIONS;
    if (cap < maxlen) cap = maxlen;
    uint8_t *tok = malloc((size_t)cap);                           /* (B, L) */
    float *out = malloc((size_t)batch * (size_t)C * sizeof *out); /* (B, C) */
    int ret = tok && out ? 0 : md_error(MD_ERR_NOMEM, "out of memory for a batch");
    for (int64_t k = 0; ret == 0 && k < d->n;) {
        /* sorted by length, longest first: the batch's length L is its
         * first sequence's; take up to B sequences, all of length L when
         * there are that many, else padding the shorter ones */
        int64_t L = order[k].len > 0 ? order[k].len : 1;
        int64_t B = MD_EVAL_BATCH_POSITIONS / L;
        if (B > batch) B = batch;
        if (B < 1) B = 1;
        if (B > d->n - k) B = d->n - k;
        memset(tok, MD_TOK_PAD, (size_t)(B * L));
        for (int64_t b = 0; b < B; b++) {
            int64_t i = order[k + b].i;
            md_tokenize(d->seqs[i], d->lens[i], tok + b * L);
        }
        ret = md_model_classify(m, tok, (int)B, L, opt, out);
        if (ret < 0) break;
        for (int64_t b = 0; b < B; b++)
            memcpy(probs + order[k + b].i * C, out + b * C, (size_t)C * sizeof *out);
        k += B;
        if (progress) progress(k, d->n, arg);
    }
    free(tok);
    free(out);
    free(order);
    return ret;
}
