/* pipeline.h: the reading side and the progress line of the scoring and
 * embedding drivers (private: not installed).
 *
 * A reader thread takes sequences from an md_seqsource, tokenizes them and
 * hands them over through a bounded queue, in input order, so that reading,
 * decompressing and tokenizing the next sequences overlap the forward passes
 * on the current ones. Only the reader thread touches the source while the
 * queue runs. */
#ifndef MD_PIPELINE_H
#define MD_PIPELINE_H

#include "mambadna.h"

/* One sequence, tokenized, as it leaves the queue. Everything is owned by the
 * item: take a field (and set it to NULL) to keep it past md_seqitem_clear. */
typedef struct md_seqitem {
    char *name;          /* record or contig name */
    int64_t beg, len;    /* start on the contig (regions, else 0) and length */
    uint16_t flag;       /* SAM flag of reads, else 0 */
    char strand;         /* '-' for regions on the minus strand (reverse
                            complemented), else '+' */
    uint8_t *ids;        /* [len] token ids */
    struct bam1_t *bam;  /* the record as stored (md_reader_opt.keep_records) */
} md_seqitem;

void md_seqitem_clear(md_seqitem *it);

typedef struct md_seqqueue md_seqqueue;

/* Start a reader thread on src. The queue holds at most max_items
 * sequences and, unless it is empty, at most max_bases bases: the reader
 * waits before reading more. NULL on error. */
md_seqqueue *md_seqqueue_start(md_seqsource *src, int max_items, int64_t max_bases);
/* Next sequence in input order into *it (cleared first): 0, MD_EOF, or an
 * error with the reader's message. */
int md_seqqueue_next(md_seqqueue *q, md_seqitem *it);
/* Stop the reader (it finishes the record it is reading), join it and free
 * what is left. */
void md_seqqueue_stop(md_seqqueue *q);

/* A progress line on stderr, refreshed at most twice a second:
 * "mambadna WHAT: 12 sequences, 3.40 Mb of 10.00 Mb (34.0%), 1.210 Mb/s, ETA 0:00:05"
 * (without "of ..." and the ETA when the total is unknown). */
typedef struct md_progress {
    const char *what;
    int on;              /* print at all */
    int shown;           /* a line is on the terminal */
    int64_t total;       /* bases, or <= 0 when unknown */
    double t0, last;
} md_progress;

double md_now_s(void);
void md_progress_start(md_progress *p, const char *what, int on, int64_t total);
void md_progress_update(md_progress *p, int64_t sequences, int64_t bases, int force);
/* Clear the line (the caller prints its own summary). */
void md_progress_end(md_progress *p);

#endif
