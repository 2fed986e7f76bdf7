/* pipeline.c: a reader thread feeding tokenized sequences through a bounded
 * queue, and the progress line of the scoring and embedding drivers. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <htslib/sam.h>

#include "pipeline.h"

void md_seqitem_clear(md_seqitem *it)
{
    free(it->name);
    free(it->ids);
    if (it->bam) bam_destroy1(it->bam);
    memset(it, 0, sizeof *it);
}

struct md_seqqueue {
    md_seqsource *src;
    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t changed;  /* an item was added or taken, or stop was set */
    md_seqitem *items;       /* ring of cap items */
    int cap, head, n;
    int64_t bases;           /* bases of the queued items */
    int64_t max_bases;
    int stop;                /* set by md_seqqueue_stop */
    int status;              /* 0 while reading, then MD_EOF or the error code */
    char error[1024];        /* the reader's message for an error status */
};

/* Move the record's buffers into an item: the sequence buffer becomes the
 * token buffer (tokenized in place), so nothing is copied. */
static int take_record(md_record *rec, const md_region *reg, md_seqitem *it)
{
    memset(it, 0, sizeof *it);
    it->beg = rec->beg;
    it->len = rec->len;
    it->flag = rec->flag;
    it->strand = reg && reg->strand == '-' ? '-' : '+';
    it->name = rec->name;
    rec->name = NULL;
    rec->m_name = 0;
    if (!it->name && !(it->name = strdup(""))) return md_error(MD_ERR_NOMEM, "out of memory");
    if (rec->seq) {
        md_tokenize(rec->seq, rec->len, (uint8_t *)rec->seq); /* byte for byte */
        it->ids = (uint8_t *)rec->seq;
        rec->seq = NULL;
        rec->m_seq = 0;
    }
    it->bam = rec->bam;
    rec->bam = NULL;
    return 0;
}

static void *reader_main(void *arg)
{
    md_seqqueue *q = arg;
    md_record rec = {0};
    const md_region *reg;
    for (;;) {
        pthread_mutex_lock(&q->lock);
        while (!q->stop && q->n > 0 && (q->n == q->cap || q->bases >= q->max_bases))
            pthread_cond_wait(&q->changed, &q->lock);
        int stop = q->stop;
        pthread_mutex_unlock(&q->lock);
        if (stop) break;

        md_seqitem it;
        int ret = md_seqsource_next(q->src, &rec, &reg);
        if (ret == 0) ret = take_record(&rec, reg, &it);
        pthread_mutex_lock(&q->lock);
        if (ret < 0) {
            q->status = ret;
            if (ret != MD_EOF) snprintf(q->error, sizeof q->error, "%s", md_last_error());
        } else {
            q->items[(q->head + q->n) % q->cap] = it;
            q->n++;
            q->bases += it.len;
        }
        pthread_cond_broadcast(&q->changed);
        pthread_mutex_unlock(&q->lock);
        if (ret < 0) break;
    }
    md_record_free(&rec);
    return NULL;
}

md_seqqueue *md_seqqueue_start(md_seqsource *src, int max_items, int64_t max_bases)
{
    md_seqqueue *q = calloc(1, sizeof *q);
    if (!q) {
        md_error(MD_ERR_NOMEM, "out of memory");
        return NULL;
    }
    q->src = src;
    q->cap = max_items > 0 ? max_items : 1;
    q->max_bases = max_bases > 0 ? max_bases : 1;
    q->items = calloc((size_t)q->cap, sizeof *q->items);
    if (!q->items) {
        free(q);
        md_error(MD_ERR_NOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->changed, NULL);
    if (pthread_create(&q->thread, NULL, reader_main, q) != 0) {
        md_seqqueue_stop(q);
        md_error(MD_ERR, "cannot start the reader thread");
        return NULL;
    }
    q->started = 1;
    return q;
}

int md_seqqueue_next(md_seqqueue *q, md_seqitem *it)
{
    md_seqitem_clear(it);
    pthread_mutex_lock(&q->lock);
    while (q->n == 0 && q->status == 0) pthread_cond_wait(&q->changed, &q->lock);
    int ret = 0;
    if (q->n > 0) { /* items read before an error or the end still come out */
        *it = q->items[q->head];
        memset(&q->items[q->head], 0, sizeof *it);
        q->head = (q->head + 1) % q->cap;
        q->n--;
        q->bases -= it->len;
        pthread_cond_broadcast(&q->changed);
    } else {
        ret = q->status;
    }
    pthread_mutex_unlock(&q->lock);
    if (ret < 0 && ret != MD_EOF) md_error(ret, "%s", q->error); /* on this thread */
    return ret;
}

void md_seqqueue_stop(md_seqqueue *q)
{
    if (!q) return;
    if (q->started) {
        pthread_mutex_lock(&q->lock);
        q->stop = 1;
        pthread_cond_broadcast(&q->changed);
        pthread_mutex_unlock(&q->lock);
        pthread_join(q->thread, NULL);
    }
    for (int i = 0; i < q->n; i++) md_seqitem_clear(&q->items[(q->head + i) % q->cap]);
    pthread_cond_destroy(&q->changed);
    pthread_mutex_destroy(&q->lock);
    free(q->items);
    free(q);
}

/* ------------------------------------------------------------------ */
/* Progress                                                            */
/* ------------------------------------------------------------------ */

double md_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void md_progress_start(md_progress *p, const char *what, int on, int64_t total)
{
    memset(p, 0, sizeof *p);
    p->what = what;
    p->on = on;
    p->total = total;
    p->t0 = md_now_s();
    p->last = p->t0 - 1; /* the first update shows */
}

/* Bases in a short human unit: "812 b", "3.2 kb", "12.34 Mb", "3.10 Gb". */
static void fmt_bases(double b, char *buf, size_t n)
{
    if (b < 1e3) snprintf(buf, n, "%.0f b", b);
    else if (b < 1e6) snprintf(buf, n, "%.1f kb", b * 1e-3);
    else if (b < 1e9) snprintf(buf, n, "%.2f Mb", b * 1e-6);
    else snprintf(buf, n, "%.2f Gb", b * 1e-9);
}

void md_progress_update(md_progress *p, int64_t sequences, int64_t bases, int force)
{
    if (!p->on) return;
    double now = md_now_s();
    if (!force && now - p->last < 0.5) return;
    p->last = now;
    double dt = now - p->t0, rate = dt > 0 ? (double)bases / dt : 0;
    char done[32], total[32], tail[128] = "";
    fmt_bases((double)bases, done, sizeof done);
    if (p->total > 0) {
        double left = rate > 0 ? (double)(p->total - bases) / rate : NAN;
        int n = snprintf(tail, sizeof tail, " of ");
        fmt_bases((double)p->total, total, sizeof total);
        n += snprintf(tail + n, sizeof tail - (size_t)n, "%s (%.1f%%), %.3f Mb/s", total,
                      100.0 * (double)bases / (double)p->total, rate * 1e-6);
        if (isfinite(left) && left >= 0) {
            long s = (long)(left + 0.5);
            snprintf(tail + n, sizeof tail - (size_t)n, ", ETA %ld:%02ld:%02ld", s / 3600,
                     s / 60 % 60, s % 60);
        }
    } else {
        snprintf(tail, sizeof tail, ", %.3f Mb/s", rate * 1e-6);
    }
    fprintf(stderr, "\r\033[Kmambadna %s: %lld sequences, %s%s", p->what, (long long)sequences,
            done, tail);
    fflush(stderr);
    p->shown = 1;
}

void md_progress_end(md_progress *p)
{
    if (p->on && p->shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    p->shown = 0;
}
