/* embed.c: the embedding driver: sequences -> windows -> batches -> hidden
 * states -> pooled rows in an NPY file with a TSV sidecar. */
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "pipeline.h"

void md_embed_opt_init(md_embed_opt *o)
{
    memset(o, 0, sizeof *o);
    md_forward_opt_init(&o->fwd);
    o->fwd.chunk = 65536;
    o->pool = MD_EMBED_POOL_NONE;
    o->last = MD_LAST_PARTIAL;
    o->batch = 8;
    o->dtype = MD_F32;
}

int md_embed_opt_check(const md_embed_opt *o)
{
    if (o->pool < MD_EMBED_POOL_NONE || o->pool > MD_EMBED_POOL_BIN)
        return md_error(MD_ERR_ARG, "unknown pooling %d", o->pool);
    if (o->pool == MD_EMBED_POOL_BIN && o->bin < 1)
        return md_error(MD_ERR_ARG, "bin pooling needs a bin size >= 1");
    if (o->window < 0 || o->stride < 0 || (o->stride && !o->window))
        return md_error(MD_ERR_ARG, "--stride needs --window");
    if (o->last < MD_LAST_SHIFT || o->last > MD_LAST_PAD)
        return md_error(MD_ERR_ARG, "unknown last-window policy %d", o->last);
    if (o->batch < 1) return md_error(MD_ERR_ARG, "batch must be >= 1");
    if (o->dtype != MD_F32 && o->dtype != MD_F16)
        return md_error(MD_ERR_ARG, "embeddings are written as f32 or f16");
    if (o->fwd.chunk < 0) return md_error(MD_ERR_ARG, "chunk must be >= 0");
    return 0;
}

/* The reader runs ahead by at most this many sequences and, beyond one
 * sequence, this many bases. */
#define READ_AHEAD_SEQS 1024
#define READ_AHEAD_BASES (64 * 1024 * 1024)

/* A window waiting for its forward pass. */
typedef struct pending_window {
    char *name;      /* shared by the windows of a sequence: owned by the last */
    int64_t beg;     /* start on the forward strand of the contig */
    int64_t len;     /* bases, before the [PAD] tokens of a padded window */
    char strand;
    int owns_name;
} pending_window;

typedef struct embed_job {
    md_model *m;
    const md_embed_opt *o;
    int64_t H;         /* hidden width */
    md_npy *npy;
    md_outfile *tsv;
    float *hidden;     /* (batch, L, H) */
    float *rows;       /* (n_rows, H) pooled rows of one window */
    size_t hidden_cap, rows_cap;
    uint8_t *tok;      /* (batch, L) tokens of the pending windows */
    size_t tok_cap;
    pending_window *pend; /* [batch] */
    int n_pend;
    int64_t L;         /* length of the pending windows */
    md_embed_stats *st;
    int fasta;         /* the input is FASTA: an empty record is worth a warning */
    md_progress progress;
    int64_t bases_before; /* bases of the sequences before the current one */
    int64_t pos;          /* bases before the window being added, for progress */
} embed_job;

static int grow(float **p, size_t *cap, size_t n)
{
    if (n <= *cap) return 0;
    float *q = realloc(*p, n * sizeof *q);
    if (!q) return md_error(MD_ERR_NOMEM, "out of memory for %zu floats", n);
    *p = q;
    *cap = n;
    return 0;
}

/* Pool one window's hidden states h (L, H) and write its rows. beg is the
 * window's start on the forward strand, strand its orientation. */
static int write_window(embed_job *j, const float *h, int64_t L, const char *name, int64_t beg,
                        char strand)
{
    const md_embed_opt *o = j->o;
    int64_t H = j->H;
    FILE *fp = md_outfile_fp(j->tsv);
    if (o->pool == MD_EMBED_POOL_NONE) {
        fprintf(fp, "%lld\t%lld\t%s\t%lld\t%lld\t%c\n", (long long)j->st->rows, (long long)L, name,
                (long long)beg, (long long)(beg + L), strand);
        j->st->rows += L;
        return md_npy_append_f32(j->npy, h, L);
    }
    int64_t bin = o->pool == MD_EMBED_POOL_MEAN ? L : o->bin, n_rows = (L + bin - 1) / bin;
    int ret = grow(&j->rows, &j->rows_cap, (size_t)(n_rows * H));
    if (ret < 0) return ret;
    for (int64_t r = 0; r < n_rows; r++) {
        int64_t t0 = r * bin, t1 = t0 + bin < L ? t0 + bin : L;
        float *row = j->rows + r * H;
        memset(row, 0, (size_t)H * sizeof *row);
        for (int64_t t = t0; t < t1; t++)
            for (int64_t d = 0; d < H; d++) row[d] += h[t * H + d];
        for (int64_t d = 0; d < H; d++) row[d] /= (float)(t1 - t0);
        /* coordinates of the bin on the forward strand */
        int64_t b0 = strand == '-' ? beg + L - t1 : beg + t0, b1 = b0 + (t1 - t0);
        fprintf(fp, "%lld\t1\t%s\t%lld\t%lld\t%c\n", (long long)(j->st->rows + r), name,
                (long long)b0, (long long)b1, strand);
    }
    j->st->rows += n_rows;
    return md_npy_append_f32(j->npy, j->rows, n_rows);
}

/* Run the pending windows (all of length j->L) and write their rows in
 * order. */
static int flush(embed_job *j)
{
    int n = j->n_pend, ret = 0;
    int64_t L = j->L;
    if (n == 0) return 0;
    ret = grow(&j->hidden, &j->hidden_cap, (size_t)(n * L * j->H));
    if (ret == 0) ret = md_model_embed(j->m, j->tok, n, L, &j->o->fwd, j->hidden);
    for (int i = 0; ret == 0 && i < n; i++) {
        pending_window *p = &j->pend[i];
        /* a padded window's rows are its bases', the [PAD] positions follow them */
        ret = write_window(j, j->hidden + i * L * j->H, p->len, p->name, p->beg, p->strand);
    }
    for (int i = 0; i < n; i++) {
        if (j->pend[i].owns_name) free(j->pend[i].name);
        j->st->bases += j->pend[i].len;
    }
    j->st->windows += n;
    j->n_pend = 0;
    return ret;
}

/* Positions of one forward pass beyond which windows are not batched: the
 * activations grow with them (a 1 Mb window runs alone). */
#define EMBED_MAX_POSITIONS ((int64_t)1 << 20)

/* Queue one window of L tokens: the n bases of ids, then L - n [PAD]
 * tokens; runs the pending ones first when the length differs, the batch is
 * full or would exceed EMBED_MAX_POSITIONS. */
static int add_window(embed_job *j, const uint8_t *ids, int64_t n, int64_t L, const char *name,
                      int64_t beg, char strand)
{
    int ret = 0;
    if (j->n_pend > 0 && (L != j->L || j->n_pend == j->o->batch ||
                          (j->n_pend + 1) * L > EMBED_MAX_POSITIONS)) {
        if ((ret = flush(j)) < 0) return ret;
        md_progress_update(&j->progress, j->st->sequences, j->pos, 0);
    }
    size_t need = (size_t)((j->n_pend + 1) * L);
    if (need > j->tok_cap) { /* doubling, up to a full batch: one long window takes its size */
        size_t cap = 2 * j->tok_cap, full = (size_t)j->o->batch * (size_t)L;
        if (full > (size_t)EMBED_MAX_POSITIONS && need <= (size_t)EMBED_MAX_POSITIONS)
            full = (size_t)EMBED_MAX_POSITIONS;
        if (cap > full) cap = full;
        if (cap < need) cap = need;
        uint8_t *p = realloc(j->tok, cap);
        if (!p) return md_error(MD_ERR_NOMEM, "out of memory for windows of %lld bases",
                                (long long)L);
        j->tok = p;
        j->tok_cap = cap;
    }
    uint8_t *tok = j->tok + (size_t)j->n_pend * (size_t)L; /* (L) */
    memcpy(tok, ids, (size_t)n);
    memset(tok + n, MD_TOK_PAD, (size_t)(L - n));
    j->pend[j->n_pend++] = (pending_window){(char *)name, beg, n, strand, 0};
    j->L = L;
    return 0;
}

/* Queue every window of one sequence. Takes its name. */
static int embed_sequence(embed_job *j, md_seqitem *it)
{
    const md_embed_opt *o = j->o;
    if (it->len == 0) {
        if (j->fasta) md_log(MD_LOG_WARN, "FASTA record '%s' is empty: it has no rows", it->name);
        return 0;
    }
    int64_t window = o->window ? o->window : it->len;
    md_window_iter w;
    int ret = md_window_iter_init(&w, it->len, window, o->stride ? o->stride : window, o->last);
    int64_t b, e;
    int last = -1; /* pending slot of this sequence's latest window */
    while (ret >= 0 && md_window_next(&w, &b, &e) == 0) {
        int64_t fb = it->strand == '-' ? it->len - e : b;
        int64_t L = o->last == MD_LAST_PAD ? window : e - b;
        j->pos = j->bases_before + b;
        if ((ret = add_window(j, it->ids + b, e - b, L, it->name, it->beg + fb, it->strand)) < 0)
            break;
        last = j->n_pend - 1;
    }
    if (last >= 0 && ret >= 0) { /* the name goes with the last window queued */
        j->pend[last].owns_name = 1;
        it->name = NULL;
    }
    j->st->sequences++;
    j->bases_before += it->len;
    return ret < 0 ? ret : 0;
}

int md_embed_run(md_model *m, md_seqsource *src, const md_embed_opt *o, const char *npy_path,
                 const char *tsv_path, md_embed_stats *stats)
{
    int ret = md_embed_opt_check(o);
    if (ret < 0) return ret;
    md_embed_stats local;
    embed_job j = {.m = m, .o = o, .H = md_config_hidden_width(&m->cfg), .st = stats ? stats : &local,
                   .fasta = md_seqsource_format(src) == MD_FMT_FASTA};
    memset(j.st, 0, sizeof *j.st);
    md_progress_start(&j.progress, "embed", o->progress,
                      o->progress ? md_seqsource_total_bases(src) : -1);
    j.pend = calloc((size_t)o->batch, sizeof *j.pend);
    if (!j.pend) return md_error(MD_ERR_NOMEM, "out of memory");
    j.npy = md_npy_open(npy_path, o->dtype, &j.H, 1);
    j.tsv = j.npy ? md_outfile_open(tsv_path) : NULL;
    if (!j.npy || !j.tsv) {
        if (j.npy) md_npy_close(j.npy, 0);
        free(j.pend);
        return MD_ERR_IO;
    }
    md_seqqueue *q = md_seqqueue_start(src, READ_AHEAD_SEQS, READ_AHEAD_BASES);
    ret = q ? 0 : MD_ERR;
    md_seqitem it = {0};
    while (ret == 0 && (ret = md_seqqueue_next(q, &it)) == 0)
        ret = embed_sequence(&j, &it);
    md_seqitem_clear(&it);
    md_seqqueue_stop(q);
    if (ret == MD_EOF) {
        int r = flush(&j);
        if (r < 0) ret = r;
    }
    for (int i = 0; i < j.n_pend; i++) /* left by an error */
        if (j.pend[i].owns_name) free(j.pend[i].name);
    md_progress_end(&j.progress);
    j.st->seconds = md_now_s() - j.progress.t0;
    int ok = ret == MD_EOF;
    if (ok && fflush(md_outfile_fp(j.tsv)) != 0) ok = 0;
    if (md_npy_close(j.npy, ok) < 0) ok = 0;
    if (ok) ok = md_outfile_commit(j.tsv) == 0;
    else md_outfile_abort(j.tsv);
    free(j.hidden);
    free(j.rows);
    free(j.tok);
    free(j.pend);
    return ok ? 0 : (ret < -1 ? ret : MD_ERR);
}
