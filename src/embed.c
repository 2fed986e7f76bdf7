/* embed.c: the embedding driver: sequences -> windows -> batches -> hidden
 * states -> pooled rows in an NPY file with a TSV sidecar. */
#include <stdlib.h>
#include <string.h>

#include "model.h"

void md_embed_opt_init(md_embed_opt *o)
{
    memset(o, 0, sizeof *o);
    md_forward_opt_init(&o->fwd);
    o->fwd.chunk = 65536;
    o->pool = MD_EMBED_POOL_NONE;
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
    if (o->batch < 1) return md_error(MD_ERR_ARG, "batch must be >= 1");
    if (o->dtype != MD_F32 && o->dtype != MD_F16)
        return md_error(MD_ERR_ARG, "embeddings are written as f32 or f16");
    if (o->fwd.chunk < 0) return md_error(MD_ERR_ARG, "chunk must be >= 0");
    return 0;
}

typedef struct embed_job {
    md_model *m;
    const md_embed_opt *o;
    int64_t H;         /* hidden width */
    md_npy *npy;
    md_outfile *tsv;
    float *hidden;     /* (batch, L, H) */
    float *rows;       /* (n_rows, H) pooled rows of one window */
    size_t hidden_cap, rows_cap;
    md_embed_stats *st;
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

/* Run windows [k0, k1) of equal length L of one tokenized sequence. */
static int run_batch(embed_job *j, const uint8_t *ids, const int64_t *begs, int n, int64_t L,
                     const md_record *rec, char strand)
{
    int ret = grow(&j->hidden, &j->hidden_cap, (size_t)(n * L * j->H));
    if (ret < 0) return ret;
    uint8_t *tok = malloc((size_t)(n * L));
    if (!tok) return md_error(MD_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) memcpy(tok + i * L, ids + begs[i], (size_t)L);
    ret = md_model_embed(j->m, tok, n, L, &j->o->fwd, j->hidden);
    free(tok);
    for (int i = 0; ret == 0 && i < n; i++) {
        int64_t fb = strand == '-' ? rec->len - begs[i] - L : begs[i];
        ret = write_window(j, j->hidden + i * L * j->H, L, rec->name, rec->beg + fb, strand);
    }
    j->st->windows += n;
    j->st->bases += n * L;
    return ret;
}

static int embed_sequence(embed_job *j, const md_record *rec, char strand, uint8_t *ids)
{
    const md_embed_opt *o = j->o;
    if (rec->len == 0) return 0;
    md_tokenize(rec->seq, rec->len, ids);
    int64_t window = o->window ? o->window : rec->len;
    md_window_iter it;
    int ret = md_window_iter_init(&it, rec->len, window, o->stride ? o->stride : window, MD_LAST_SHIFT);
    int64_t begs[256], b, e, L = 0;
    int n = 0;
    while (ret >= 0 && md_window_next(&it, &b, &e) == 0) {
        if (n > 0 && (e - b != L || n == o->batch || n == 256)) {
            ret = run_batch(j, ids, begs, n, L, rec, strand);
            n = 0;
        }
        L = e - b;
        begs[n++] = b;
    }
    if (ret >= 0 && n > 0) ret = run_batch(j, ids, begs, n, L, rec, strand);
    j->st->sequences++;
    return ret < 0 ? ret : 0;
}

int md_embed_run(md_model *m, md_seqsource *src, const md_embed_opt *o, const char *npy_path,
                 const char *tsv_path, md_embed_stats *stats)
{
    int ret = md_embed_opt_check(o);
    if (ret < 0) return ret;
    md_embed_stats local;
    embed_job j = {.m = m, .o = o, .H = md_config_hidden_width(&m->cfg), .st = stats ? stats : &local};
    memset(j.st, 0, sizeof *j.st);
    j.npy = md_npy_open(npy_path, o->dtype, &j.H, 1);
    j.tsv = j.npy ? md_outfile_open(tsv_path) : NULL;
    if (!j.npy || !j.tsv) {
        if (j.npy) md_npy_close(j.npy, 0);
        return MD_ERR_IO;
    }
    md_record rec = {0};
    uint8_t *ids = NULL;
    size_t ids_cap = 0;
    const md_region *reg;
    while ((ret = md_seqsource_next(src, &rec, &reg)) == 0) {
        if ((size_t)rec.len > ids_cap) {
            uint8_t *p = realloc(ids, (size_t)rec.len);
            if (!p) {
                ret = md_error(MD_ERR_NOMEM, "out of memory for %s (%lld bases)", rec.name, (long long)rec.len);
                break;
            }
            ids = p;
            ids_cap = (size_t)rec.len;
        }
        char strand = reg && reg->strand == '-' ? '-' : '+';
        if ((ret = embed_sequence(&j, &rec, strand, ids)) < 0) break;
    }
    int ok = ret == MD_EOF;
    if (ok && fflush(md_outfile_fp(j.tsv)) != 0) ok = 0;
    if (md_npy_close(j.npy, ok) < 0) ok = 0;
    if (ok) ok = md_outfile_commit(j.tsv) == 0;
    else md_outfile_abort(j.tsv);
    free(ids);
    free(j.hidden);
    free(j.rows);
    md_record_free(&rec);
    return ok ? 0 : (ret < -1 ? ret : MD_ERR);
}
