/* writers.c: bedGraph, bigWig, NPY and BAM outputs (and the bedGraph line
 * parser, to read a track back).
 *
 * Every writer goes through outfile.c: the output is written under a
 * temporary name and renamed on a successful close with commit, so a failed
 * or interrupted run never leaves a file that looks complete. bedGraph and
 * bigWig merge runs of equal values on adjacent intervals and reject
 * intervals out of order. NPY rows are streamed and the row count is
 * written into the header at the end. BAM copies of an input go through
 * htslib on a duplicate of the output's file descriptor. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <bigWig.h>
#include <bwCommon.h>
#include <htslib/hfile.h>
#include <htslib/sam.h>

#include "half.h"
#include "mambadna.h"
#include "tmpname.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the NPY and bigWig writers assume a little-endian host"
#endif

/* Values merge when they have the same bits (so 0 and -0 stay apart), and
 * NaNs merge with NaNs. */
static int same_value(float a, float b)
{
    uint32_t ua, ub;
    memcpy(&ua, &a, sizeof ua);
    memcpy(&ub, &b, sizeof ub);
    return ua == ub || (isnan(a) && isnan(b));
}

/* ------------------------------------------------------------------ */
/* bedGraph                                                            */
/* ------------------------------------------------------------------ */

struct md_bedgraph {
    md_outfile *out;
    char *path;
    char *contig; /* contig of the pending interval */
    size_t m_contig;
    int64_t beg, end; /* the pending (not yet printed) interval */
    float value;
    int pending;
    int failed; /* a write failed: nothing more is written */
};

/* Shortest "%.Pg" (P >= 6) that reads back as the same float32; %.9g always
 * does. Shorter values come out short anyway, as %g drops trailing zeros. */
static void format_value(float v, char *buf, size_t size)
{
    if (isnan(v)) {
        snprintf(buf, size, "nan");
        return;
    }
    for (int p = 6; p <= 9; p++) {
        snprintf(buf, size, "%.*g", p, (double)v);
        if (strtof(buf, NULL) == v) return;
    }
}

static int bedgraph_flush(md_bedgraph *bg)
{
    char val[32];
    if (!bg->pending) return 0;
    format_value(bg->value, val, sizeof val);
    if (fprintf(md_outfile_fp(bg->out), "%s\t%lld\t%lld\t%s\n", bg->contig, (long long)bg->beg,
                (long long)bg->end, val) < 0) {
        bg->failed = 1;
        return md_error(MD_ERR_IO, "cannot write bedGraph %s: %s", bg->path, strerror(errno));
    }
    bg->pending = 0;
    return 0;
}

md_bedgraph *md_bedgraph_open(const char *path, const char *track_line)
{
    md_bedgraph *bg = calloc(1, sizeof *bg);
    if (!bg || !(bg->path = strdup(path ? path : ""))) {
        md_error(MD_ERR_NOMEM, "out of memory opening bedGraph %s", path ? path : "");
        free(bg);
        return NULL;
    }
    bg->out = md_outfile_open(path);
    if (!bg->out) goto fail;
    if (track_line && *track_line) {
        size_t len = strlen(track_line);
        while (len > 0 && (track_line[len - 1] == '\n' || track_line[len - 1] == '\r')) len--;
        if (fprintf(md_outfile_fp(bg->out), "%.*s\n", (int)len, track_line) < 0) {
            md_error(MD_ERR_IO, "cannot write bedGraph %s: %s", path, strerror(errno));
            md_outfile_abort(bg->out);
            goto fail;
        }
    }
    return bg;

fail:
    free(bg->path);
    free(bg);
    return NULL;
}

int md_bedgraph_add(md_bedgraph *bg, const char *contig, int64_t beg, int64_t end, float value)
{
    if (!bg || !contig || !*contig) return md_error(MD_ERR_ARG, "md_bedgraph_add: no contig");
    if (bg->failed) return md_error(MD_ERR_IO, "bedGraph %s: an earlier write failed", bg->path);
    if (beg < 0 || end <= beg)
        return md_error(MD_ERR_ARG, "bedGraph %s: invalid interval %s:%lld-%lld (need 0 <= beg < end)",
                        bg->path, contig, (long long)beg, (long long)end);
    int same_contig = bg->pending && strcmp(contig, bg->contig) == 0;
    if (same_contig) {
        if (beg < bg->end)
            return md_error(MD_ERR_ARG,
                            "bedGraph %s: interval %s:%lld-%lld starts before the end (%lld) of "
                            "the previous one: intervals must be sorted and must not overlap",
                            bg->path, contig, (long long)beg, (long long)end, (long long)bg->end);
        if (beg == bg->end && same_value(value, bg->value)) {
            bg->end = end;
            return 0;
        }
    } else if (strpbrk(contig, "\t\n\r ")) {
        return md_error(MD_ERR_ARG, "bedGraph %s: contig name \"%s\" contains white space",
                        bg->path, contig);
    }
    int rc = bedgraph_flush(bg);
    if (rc < 0) return rc;
    if (!same_contig) {
        size_t len = strlen(contig) + 1;
        if (len > bg->m_contig) {
            char *p = realloc(bg->contig, len);
            if (!p) return md_error(MD_ERR_NOMEM, "out of memory writing bedGraph %s", bg->path);
            bg->contig = p;
            bg->m_contig = len;
        }
        memcpy(bg->contig, contig, len);
    }
    bg->beg = beg;
    bg->end = end;
    bg->value = value;
    bg->pending = 1;
    return 0;
}

int md_bedgraph_close(md_bedgraph *bg, int commit)
{
    int rc = 0;
    if (!bg) return 0;
    if (commit) {
        if (bg->failed)
            rc = md_error(MD_ERR_IO, "bedGraph %s: an earlier write failed", bg->path);
        else
            rc = bedgraph_flush(bg);
        if (rc == 0)
            rc = md_outfile_commit(bg->out);
        else
            md_outfile_abort(bg->out);
    } else {
        md_outfile_abort(bg->out);
    }
    free(bg->contig);
    free(bg->path);
    free(bg);
    return rc;
}

/* A bedGraph coordinate: digits only, no larger than INT64_MAX. */
static int bedgraph_pos(const char *s, int col, const char *what, int64_t *v)
{
    if (!*s) return md_error(MD_ERR_FORMAT, "bedGraph column %d (%s) is empty", col, what);
    int64_t x = 0;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return md_error(MD_ERR_FORMAT,
                            "bedGraph column %d (%s) '%.40s' is not a non-negative integer", col,
                            what, s);
        int d = *p - '0';
        if (x > (INT64_MAX - d) / 10)
            return md_error(MD_ERR_FORMAT, "bedGraph column %d (%s) '%.40s' is too large", col,
                            what, s);
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

static int starts_word(const char *s, const char *w)
{
    size_t n = strlen(w);
    return strncmp(s, w, n) == 0 && (s[n] == '\0' || isspace((unsigned char)s[n]));
}

#define BEDGRAPH_COLS 4

int md_bedgraph_parse_line(char *line, md_bedgraph_interval *out)
{
    if (!line || !out) return md_error(MD_ERR_ARG, "md_bedgraph_parse_line: NULL argument");
    memset(out, 0, sizeof *out);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    const char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (!*p || *p == '#' || starts_word(p, "track") || starts_word(p, "browser")) return 1;

    /* Columns are separated by tabs; a line without any tab is split at runs
     * of spaces. */
    char *col[BEDGRAPH_COLS];
    int ncol = 0;
    char *s = line;
    if (strchr(line, '\t')) {
        for (;;) {
            char *t = strchr(s, '\t');
            if (ncol < BEDGRAPH_COLS) col[ncol] = s;
            ncol++;
            if (!t) break;
            *t = '\0';
            s = t + 1;
        }
    } else {
        for (;;) {
            while (*s == ' ') s++;
            if (!*s) break;
            if (ncol < BEDGRAPH_COLS) col[ncol] = s;
            ncol++;
            while (*s && *s != ' ') s++;
            if (!*s) break;
            *s++ = '\0';
        }
    }
    if (ncol != BEDGRAPH_COLS)
        return md_error(MD_ERR_FORMAT,
                        "bedGraph line has %d column%s: expected 4 (chrom, start, end, value) "
                        "separated by tabs",
                        ncol, ncol == 1 ? "" : "s");
    if (!*col[0]) return md_error(MD_ERR_FORMAT, "bedGraph column 1 (chrom) is empty");
    for (const char *c = col[0]; *c; c++)
        if (isspace((unsigned char)*c) || !isprint((unsigned char)*c))
            return md_error(MD_ERR_FORMAT,
                            "bedGraph column 1 (chrom) '%.40s' contains white space or a control "
                            "character",
                            col[0]);
    int64_t beg, end;
    int ret = bedgraph_pos(col[1], 2, "start", &beg);
    if (ret == 0) ret = bedgraph_pos(col[2], 3, "end", &end);
    if (ret < 0) return ret;
    if (beg >= end)
        return md_error(MD_ERR_FORMAT,
                        "bedGraph interval %lld-%lld is empty: the start must be below the end",
                        (long long)beg, (long long)end);
    /* strtof reads back exactly the float32 a printed value came from */
    char *stop;
    errno = 0;
    float v = strtof(col[3], &stop);
    if (!*col[3] || isspace((unsigned char)*col[3]) || *stop)
        return md_error(MD_ERR_FORMAT, "bedGraph column 4 (value) '%.40s' is not a number",
                        col[3]);
    if (errno == ERANGE && isinf(v))
        return md_error(MD_ERR_FORMAT,
                        "bedGraph column 4 (value) '%.40s' is beyond the range of a float",
                        col[3]);
    out->contig = col[0];
    out->beg = beg;
    out->end = end;
    out->value = v;
    return 0;
}

/* ------------------------------------------------------------------ */
/* bigWig                                                              */
/* ------------------------------------------------------------------ */

#define BW_BATCH 4096 /* intervals handed to libBigWig at once */

struct md_bigwig {
    bigWigFile_t *bw;
    char *path, *tmp;
    int n_contigs;
    int cur;          /* contig of the pending interval, -1 before the first */
    int block_started; /* bwAddIntervals was called for contig cur */
    uint32_t beg, end; /* the pending interval */
    float value;
    int pending;
    uint32_t nb;        /* intervals in the batch, all on contig cur */
    uint32_t bs[BW_BATCH], be[BW_BATCH];
    float bv[BW_BATCH];
    int64_t n_written; /* intervals handed to libBigWig */
    int failed;
};

static pthread_once_t bw_once = PTHREAD_ONCE_INIT;
static int bw_init_rc;
static void bw_init(void) { bw_init_rc = bwInit(1 << 17); }

static int bigwig_flush_batch(md_bigwig *w)
{
    uint32_t i0 = 0;
    if (!w->nb) return 0;
    if (!w->block_started) {
        const char *name = w->bw->cl->chrom[w->cur];
        if (bwAddIntervals(w->bw, &name, w->bs, w->be, w->bv, 1) != 0) goto fail;
        w->block_started = 1;
        i0 = 1;
    }
    if (w->nb > i0 &&
        bwAppendIntervals(w->bw, w->bs + i0, w->be + i0, w->bv + i0, w->nb - i0) != 0)
        goto fail;
    w->n_written += w->nb;
    w->nb = 0;
    return 0;
fail:
    w->failed = 1;
    return md_error(MD_ERR_IO, "cannot write bigWig %s (libBigWig failed adding intervals on %s)",
                    w->path, w->bw->cl->chrom[w->cur]);
}

static int bigwig_push_pending(md_bigwig *w)
{
    if (!w->pending) return 0;
    if (w->nb == BW_BATCH) {
        int rc = bigwig_flush_batch(w);
        if (rc < 0) return rc;
    }
    w->bs[w->nb] = w->beg;
    w->be[w->nb] = w->end;
    w->bv[w->nb] = w->value;
    w->nb++;
    w->pending = 0;
    return 0;
}

/* Close the libBigWig handle without letting bwClose() finalize (or
 * re-finalize) the file. */
static void bigwig_discard(md_bigwig *w)
{
    if (w->bw) {
        w->bw->isWrite = 0;
        bwClose(w->bw);
        w->bw = NULL;
    }
}

static void bigwig_free(md_bigwig *w)
{
    free(w->path);
    free(w);
}

md_bigwig *md_bigwig_open(const char *path, char *const *contigs, const int64_t *lengths,
                          int n_contigs)
{
    md_bigwig *w = NULL;
    uint32_t *len32 = NULL;
    if (!path || !*path) {
        md_error(MD_ERR_ARG, "empty bigWig output path");
        return NULL;
    }
    if (n_contigs <= 0 || !contigs || !lengths) {
        md_error(MD_ERR_ARG, "bigWig %s: no contigs given (the header needs the contig list)",
                 path);
        return NULL;
    }
    for (int i = 0; i < n_contigs; i++) {
        if (!contigs[i] || !*contigs[i] || lengths[i] <= 0 || lengths[i] > (int64_t)UINT32_MAX) {
            md_error(MD_ERR_ARG,
                     "bigWig %s: contig %d (%s) has an invalid name or length %lld "
                     "(bigWig needs 1 to 4294967295)",
                     path, i, contigs[i] ? contigs[i] : "(null)", (long long)lengths[i]);
            return NULL;
        }
        for (int j = 0; j < i; j++) {
            if (strcmp(contigs[i], contigs[j]) == 0) {
                md_error(MD_ERR_ARG, "bigWig %s: contig %s is listed twice", path, contigs[i]);
                return NULL;
            }
        }
    }
    pthread_once(&bw_once, bw_init);
    if (bw_init_rc != 0) {
        md_error(MD_ERR_IO, "bigWig %s: libBigWig failed to initialize (bwInit)", path);
        return NULL;
    }
    w = calloc(1, sizeof *w);
    len32 = malloc(sizeof *len32 * (size_t)n_contigs);
    if (!w || !len32 || !(w->path = strdup(path))) {
        md_error(MD_ERR_NOMEM, "out of memory opening bigWig %s", path);
        goto fail;
    }
    w->n_contigs = n_contigs;
    w->cur = -1;
    w->tmp = md_tmpname_reserve(path);
    if (!w->tmp) goto fail;
    w->bw = bwOpen(w->tmp, NULL, "w");
    if (!w->bw) {
        md_error(MD_ERR_IO, "cannot open bigWig %s for writing (temporary %s)", path, w->tmp);
        goto fail;
    }
    for (int i = 0; i < n_contigs; i++) len32[i] = (uint32_t)lengths[i];
    if (bwCreateHdr(w->bw, 10) != 0) {
        md_error(MD_ERR_NOMEM, "bigWig %s: cannot create the header", path);
        goto fail;
    }
    w->bw->cl = bwCreateChromList((const char *const *)contigs, len32, n_contigs);
    if (!w->bw->cl) {
        md_error(MD_ERR_NOMEM, "bigWig %s: cannot create the contig list", path);
        goto fail;
    }
    if (bwWriteHdr(w->bw) != 0) {
        md_error(MD_ERR_IO, "cannot write the header of bigWig %s", path);
        goto fail;
    }
    free(len32);
    return w;

fail:
    free(len32);
    if (w) {
        bigwig_discard(w);
        md_tmpname_abort(w->tmp);
        bigwig_free(w);
    }
    return NULL;
}

/* Index of contig at or after the current one, or < 0 with an error. */
static int bigwig_contig(md_bigwig *w, const char *contig)
{
    char **names = w->bw->cl->chrom;
    int from = w->cur < 0 ? 0 : w->cur;
    for (int i = from; i < w->n_contigs; i++)
        if (strcmp(names[i], contig) == 0) return i;
    for (int i = 0; i < from; i++)
        if (strcmp(names[i], contig) == 0)
            return md_error(MD_ERR_ARG,
                            "bigWig %s: contig %s comes after %s: add intervals in the order of "
                            "the contig list",
                            w->path, contig, names[w->cur]);
    return md_error(MD_ERR_ARG, "bigWig %s: contig %s is not in the contig list", w->path, contig);
}

int md_bigwig_add(md_bigwig *w, const char *contig, int64_t beg, int64_t end, float value)
{
    if (!w || !contig) return md_error(MD_ERR_ARG, "md_bigwig_add: no contig");
    if (w->failed) return md_error(MD_ERR_IO, "bigWig %s: an earlier write failed", w->path);
    int tid = w->cur;
    if (tid < 0 || strcmp(w->bw->cl->chrom[tid], contig) != 0) {
        tid = bigwig_contig(w, contig);
        if (tid < 0) return tid;
    }
    int64_t len = w->bw->cl->len[tid];
    if (beg < 0 || end <= beg || end > len)
        return md_error(MD_ERR_ARG,
                        "bigWig %s: invalid interval %s:%lld-%lld (contig length %lld; need "
                        "0 <= beg < end <= length)",
                        w->path, contig, (long long)beg, (long long)end, (long long)len);
    if (tid == w->cur && w->pending) {
        if (beg < w->end)
            return md_error(MD_ERR_ARG,
                            "bigWig %s: interval %s:%lld-%lld starts before the end (%lu) of the "
                            "previous one: intervals must be sorted and must not overlap",
                            w->path, contig, (long long)beg, (long long)end,
                            (unsigned long)w->end);
        if (beg == w->end && same_value(value, w->value)) {
            w->end = (uint32_t)end;
            return 0;
        }
    }
    int rc = bigwig_push_pending(w);
    if (rc == 0 && tid != w->cur) {
        rc = bigwig_flush_batch(w);
        w->cur = tid;
        w->block_started = 0;
    }
    if (rc < 0) return rc;
    w->beg = (uint32_t)beg;
    w->end = (uint32_t)end;
    w->value = value;
    w->pending = 1;
    return 0;
}

int md_bigwig_close(md_bigwig *w, int commit)
{
    int rc = 0;
    if (!w) return 0;
    if (!commit) {
        bigwig_discard(w);
        md_tmpname_abort(w->tmp);
        bigwig_free(w);
        return 0;
    }
    if (w->failed) rc = md_error(MD_ERR_IO, "bigWig %s: an earlier write failed", w->path);
    if (rc == 0) rc = bigwig_push_pending(w);
    if (rc == 0) rc = bigwig_flush_batch(w);
    if (rc == 0 && w->n_written == 0)
        rc = md_error(MD_ERR_ARG,
                      "bigWig %s: no intervals were added, and libBigWig cannot write a valid "
                      "empty bigWig; nothing was written",
                      w->path);
    if (rc == 0 && bwFinalize(w->bw) != 0)
        rc = md_error(MD_ERR_IO,
                      "cannot write bigWig %s (libBigWig failed writing the index); check the "
                      "free space of its directory",
                      w->path);
    if (rc == 0) { /* catch write errors libBigWig does not check */
        FILE *fp = w->bw->URL->x.fp;
        errno = 0;
        if (fflush(fp) != 0 || ferror(fp) || fsync(fileno(fp)) != 0)
            rc = md_error(MD_ERR_IO, "cannot write bigWig %s: %s; check the free space of its "
                          "directory",
                          w->path, errno ? strerror(errno) : "a write failed");
    }
    bigwig_discard(w); /* finalized above, or abandoned */
    if (rc == 0)
        rc = md_tmpname_commit(w->tmp, w->path);
    else
        md_tmpname_abort(w->tmp);
    bigwig_free(w);
    return rc;
}

/* ------------------------------------------------------------------ */
/* NPY                                                                 */
/* ------------------------------------------------------------------ */

#define NPY_MAX_NDIM 32
#define NPY_COUNT_DIGITS 20 /* room kept in the header for the row count */
#define NPY_CHUNK 4096      /* elements converted at once by append_f32 */

struct md_npy {
    md_outfile *out;
    char *path;
    int dtype;
    int row_ndim;
    int64_t row_shape[NPY_MAX_NDIM];
    int64_t row_elems; /* elements per row */
    size_t elem_size;
    int64_t row_bytes;
    int64_t n_rows;
    size_t header_size; /* bytes before the data, a multiple of 64 */
    int failed;
    unsigned char buf[NPY_CHUNK * 8];
};

static const char *npy_descr(int dtype, size_t *size)
{
    switch (dtype) {
    case MD_F32: *size = 4; return "<f4";
    case MD_F16: *size = 2; return "<f2";
    case MD_F64: *size = 8; return "<f8";
    case MD_I32: *size = 4; return "<i4";
    case MD_I64: *size = 8; return "<i8";
    case MD_U8: *size = 1; return "|u1";
    default: *size = 0; return NULL;
    }
}

/* The header dict for n_rows, unpadded ("(N,)" or "(N, a, b)" as Python
 * writes tuples): its length, or < 0 if it does not fit. */
static int npy_dict(const md_npy *npy, int64_t n_rows, char *dst, size_t size)
{
    size_t el;
    int len = snprintf(dst, size, "{'descr': '%s', 'fortran_order': False, 'shape': (%lld",
                       npy_descr(npy->dtype, &el), (long long)n_rows);
    for (int i = 0; i < npy->row_ndim && len > 0 && (size_t)len < size; i++)
        len += snprintf(dst + len, size - (size_t)len, ", %lld", (long long)npy->row_shape[i]);
    if (len > 0 && (size_t)len < size)
        len += snprintf(dst + len, size - (size_t)len, "%s), }", npy->row_ndim ? "" : ",");
    if (len < 0 || (size_t)len >= size) return -1;
    return len;
}

/* Full header (magic, version, length, dict, spaces, '\n') for n_rows into
 * buf[npy->header_size]. */
static int npy_header(const md_npy *npy, int64_t n_rows, char *buf)
{
    char dict[1024];
    int len = npy_dict(npy, n_rows, dict, sizeof dict);
    size_t hlen = npy->header_size - 10;
    if (len < 0 || (size_t)len + 1 > hlen) return -1;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (char)(hlen & 0xff);
    buf[9] = (char)(hlen >> 8);
    memcpy(buf + 10, dict, (size_t)len);
    memset(buf + 10 + len, ' ', hlen - (size_t)len - 1);
    buf[npy->header_size - 1] = '\n';
    return 0;
}

md_npy *md_npy_open(const char *path, int dtype, const int64_t *row_shape, int row_ndim)
{
    size_t el;
    if (!path || !*path) {
        md_error(MD_ERR_ARG, "empty NPY output path");
        return NULL;
    }
    if (strcmp(path, "-") == 0) {
        md_error(MD_ERR_ARG, "NPY output cannot go to standard output (its header is rewritten "
                             "at the end): give a file name");
        return NULL;
    }
    if (dtype == MD_BF16) {
        md_error(MD_ERR_ARG, "NPY %s: bfloat16 is not an NPY dtype; write float32 or float16",
                 path);
        return NULL;
    }
    if (!npy_descr(dtype, &el)) {
        md_error(MD_ERR_ARG, "NPY %s: unknown dtype %d", path, dtype);
        return NULL;
    }
    if (row_ndim < 0 || row_ndim > NPY_MAX_NDIM || (row_ndim > 0 && !row_shape)) {
        md_error(MD_ERR_ARG, "NPY %s: a row must have 0 to %d dimensions (got %d)", path,
                 NPY_MAX_NDIM, row_ndim);
        return NULL;
    }
    md_npy *npy = calloc(1, sizeof *npy);
    if (!npy || !(npy->path = strdup(path))) {
        md_error(MD_ERR_NOMEM, "out of memory opening NPY %s", path);
        free(npy);
        return NULL;
    }
    npy->dtype = dtype;
    npy->elem_size = el;
    npy->row_ndim = row_ndim;
    npy->row_elems = 1;
    for (int i = 0; i < row_ndim; i++) {
        if (row_shape[i] < 0 ||
            (row_shape[i] > 0 && npy->row_elems > INT64_MAX / 8 / row_shape[i])) {
            md_error(MD_ERR_ARG, "NPY %s: invalid row dimension %d: %lld", path, i,
                     (long long)row_shape[i]);
            goto fail;
        }
        npy->row_shape[i] = row_shape[i];
        npy->row_elems *= row_shape[i];
    }
    npy->row_bytes = npy->row_elems * (int64_t)el;

    /* Size the header for a 20-digit row count; the dict is rewritten with
     * the real count at the end, padded to the same length. */
    char dict[1024];
    int len = npy_dict(npy, 0, dict, sizeof dict);
    if (len < 0) {
        md_error(MD_ERR_ARG, "NPY %s: the header is too long", path);
        goto fail;
    }
    size_t need = 10 + (size_t)len + (NPY_COUNT_DIGITS - 1) + 1;
    npy->header_size = (need + 63) / 64 * 64;

    size_t plen = strlen(path);
    if (plen > 3 && !strcasecmp(path + plen - 3, ".gz")) {
        md_error(MD_ERR_ARG, "NPY output %s: NPY files are written uncompressed (their header is "
                 "rewritten at the end); drop the .gz", path);
        goto fail;
    }
    npy->out = md_outfile_open(path);
    if (!npy->out) goto fail;
    FILE *fp = md_outfile_fp(npy->out);
    if (fseek(fp, 0, SEEK_CUR) != 0) {
        md_error(MD_ERR_ARG, "NPY output %s is not seekable (its header is rewritten at the end): "
                             "give a regular file",
                 path);
        md_outfile_abort(npy->out);
        goto fail;
    }
    char header[2048];
    if (npy_header(npy, 0, header) < 0 || fwrite(header, 1, npy->header_size, fp) != npy->header_size) {
        md_error(MD_ERR_IO, "cannot write NPY %s: %s", path, strerror(errno));
        md_outfile_abort(npy->out);
        goto fail;
    }
    return npy;

fail:
    free(npy->path);
    free(npy);
    return NULL;
}

static int npy_write(md_npy *npy, const void *data, size_t bytes)
{
    if (bytes && fwrite(data, 1, bytes, md_outfile_fp(npy->out)) != bytes) {
        npy->failed = 1;
        return md_error(MD_ERR_IO, "cannot write NPY %s: %s; check the free space of its "
                        "directory",
                        npy->path, strerror(errno));
    }
    return 0;
}

static int npy_check_append(md_npy *npy, const void *rows, int64_t n)
{
    if (!npy) return md_error(MD_ERR_ARG, "md_npy_append: no file");
    if (npy->failed) return md_error(MD_ERR_IO, "NPY %s: an earlier write failed", npy->path);
    if (n < 0 || (n > 0 && !rows && npy->row_bytes > 0))
        return md_error(MD_ERR_ARG, "NPY %s: invalid rows to append", npy->path);
    if (n > (INT64_MAX - npy->n_rows) ||
        (npy->row_bytes > 0 && npy->n_rows + n > INT64_MAX / npy->row_bytes))
        return md_error(MD_ERR_ARG, "NPY %s: too many rows", npy->path);
    return 0;
}

int md_npy_append_raw(md_npy *npy, const void *rows, int64_t n)
{
    int rc = npy_check_append(npy, rows, n);
    if (rc < 0) return rc;
    rc = npy_write(npy, rows, (size_t)(n * npy->row_bytes));
    if (rc < 0) return rc;
    npy->n_rows += n;
    return 0;
}

/* Convert n floats to dtype into dst; for integer dtypes values are rounded
 * to nearest and must be finite and in range: else the index of the first
 * bad one. */
static int64_t npy_convert(int dtype, const float *src, size_t n, unsigned char *dst)
{
    for (size_t i = 0; i < n; i++) {
        float v = src[i];
        switch (dtype) {
        case MD_F32: memcpy(dst + 4 * i, &v, 4); break;
        case MD_F16: {
            uint16_t h = md_f32_to_f16(v);
            memcpy(dst + 2 * i, &h, 2);
            break;
        }
        case MD_F64: {
            double d = v;
            memcpy(dst + 8 * i, &d, 8);
            break;
        }
        case MD_I32: {
            float r = rintf(v);
            if (!(r >= -2147483648.0f && r < 2147483648.0f)) return (int64_t)i;
            int32_t x = (int32_t)r;
            memcpy(dst + 4 * i, &x, 4);
            break;
        }
        case MD_I64: {
            float r = rintf(v);
            if (!(r >= -9223372036854775808.0f && r < 9223372036854775808.0f)) return (int64_t)i;
            int64_t x = (int64_t)r;
            memcpy(dst + 8 * i, &x, 8);
            break;
        }
        case MD_U8: {
            float r = rintf(v);
            if (!(r >= 0.0f && r <= 255.0f)) return (int64_t)i;
            dst[i] = (unsigned char)r;
            break;
        }
        }
    }
    return -1;
}

int md_npy_append_f32(md_npy *npy, const float *rows, int64_t n)
{
    int rc = npy_check_append(npy, rows, n);
    if (rc < 0) return rc;
    int64_t total = n * npy->row_elems;
    if (npy->dtype == MD_F32) {
        rc = npy_write(npy, rows, (size_t)total * 4);
    } else {
        for (int64_t off = 0; off < total && rc == 0; off += NPY_CHUNK) {
            size_t k = (size_t)(total - off < NPY_CHUNK ? total - off : NPY_CHUNK);
            int64_t bad = npy_convert(npy->dtype, rows + off, k, npy->buf);
            if (bad >= 0) {
                /* Rows before the bad one's row may be written: poison the file. */
                npy->failed = off > 0;
                return md_error(MD_ERR_ARG,
                                "NPY %s: value %g (row %lld) does not fit the integer dtype %s",
                                npy->path, (double)rows[off + bad],
                                (long long)(npy->n_rows + (off + bad) / npy->row_elems),
                                npy_descr(npy->dtype, &(size_t){0}));
            }
            rc = npy_write(npy, npy->buf, k * npy->elem_size);
        }
    }
    if (rc < 0) return rc;
    npy->n_rows += n;
    return 0;
}

int md_npy_close(md_npy *npy, int commit)
{
    int rc = 0;
    if (!npy) return 0;
    if (!commit) {
        md_outfile_abort(npy->out);
        goto done;
    }
    FILE *fp = md_outfile_fp(npy->out);
    char header[2048];
    if (npy->failed) rc = md_error(MD_ERR_IO, "NPY %s: an earlier write failed", npy->path);
    if (rc == 0 && npy_header(npy, npy->n_rows, header) < 0)
        rc = md_error(MD_ERR_ARG, "NPY %s: the header is too long", npy->path);
    if (rc == 0) {
        errno = 0;
        if (fflush(fp) != 0 || fseek(fp, 0, SEEK_SET) != 0 ||
            fwrite(header, 1, npy->header_size, fp) != npy->header_size)
            rc = md_error(MD_ERR_IO, "cannot write NPY %s: %s", npy->path,
                          errno ? strerror(errno) : "a write failed");
    }
    if (rc == 0)
        rc = md_outfile_commit(npy->out);
    else
        md_outfile_abort(npy->out);
done:
    free(npy->path);
    free(npy);
    return rc;
}

/* ------------------------------------------------------------------ */
/* BAM copies with a score tag                                         */
/* ------------------------------------------------------------------ */

struct md_bamout {
    md_outfile *out; /* the file (temporary, stdout or direct) */
    htsFile *hts;    /* htslib's stream on a duplicate of out's descriptor */
    sam_hdr_t *hdr;  /* the input's header, with our @PG line */
    bam1_t *b;       /* scratch copy of the record being written */
    char tag[3];
    char *path;
    int failed;
};

int md_bam_tag_check(const char *tag)
{
    if (!tag || strlen(tag) != 2 ||
        !((tag[0] >= 'A' && tag[0] <= 'Z') || (tag[0] >= 'a' && tag[0] <= 'z')) ||
        !((tag[1] >= 'A' && tag[1] <= 'Z') || (tag[1] >= 'a' && tag[1] <= 'z') ||
          (tag[1] >= '0' && tag[1] <= '9')))
        return md_error(MD_ERR_ARG,
                        "invalid tag '%s': a SAM tag is two characters, a letter then a letter "
                        "or digit ([A-Za-z][A-Za-z0-9])",
                        tag ? tag : "");
    return 0;
}

static void bamout_free(md_bamout *w)
{
    if (w->b) bam_destroy1(w->b);
    if (w->hdr) sam_hdr_destroy(w->hdr);
    free(w->path);
    free(w);
}

md_bamout *md_bamout_open(const char *path, const struct sam_hdr_t *hdr, const char *tag,
                          const char *command_line)
{
    if (md_bam_tag_check(tag) < 0) return NULL;
    if (!hdr) {
        md_error(MD_ERR_ARG, "BAM output %s: the input has no SAM header (BAM output needs "
                 "SAM, BAM or CRAM input)", path ? path : "");
        return NULL;
    }
    md_bamout *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path ? path : ""))) {
        free(w);
        md_error(MD_ERR_NOMEM, "out of memory opening BAM %s", path ? path : "");
        return NULL;
    }
    memcpy(w->tag, tag, 3);
    hFILE *hf = NULL;
    int fd = -1;
    if (!(w->hdr = sam_hdr_dup(hdr)) || !(w->b = bam_init1())) {
        md_error(MD_ERR_NOMEM, "out of memory opening BAM %s", path);
        goto fail;
    }
    if (command_line &&
        sam_hdr_add_pg(w->hdr, "mambadna", "PN", "mambadna", "VN", MAMBADNA_VERSION, "CL",
                       command_line, NULL) < 0) {
        md_error(MD_ERR_FORMAT, "BAM %s: cannot add the @PG line to the input's header", path);
        goto fail;
    }
    if (!(w->out = md_outfile_open(path))) goto fail;
    /* htslib closes its own descriptor; the outfile keeps the original to
     * sync, close and rename */
    if ((fd = dup(fileno(md_outfile_fp(w->out)))) < 0 || !(hf = hdopen(fd, "w"))) {
        md_error(MD_ERR_IO, "cannot open BAM %s for writing: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        goto fail;
    }
    if (!(w->hts = hts_hopen(hf, path, "wb"))) {
        md_error(MD_ERR_IO, "cannot open BAM %s for writing", path);
        hclose_abruptly(hf);
        goto fail;
    }
    if (sam_hdr_write(w->hts, w->hdr) < 0) {
        md_error(MD_ERR_IO, "cannot write the header of BAM %s; check the free space of its "
                 "directory", path);
        goto fail;
    }
    return w;

fail:
    if (w->hts) hts_close(w->hts);
    md_outfile_abort(w->out);
    bamout_free(w);
    return NULL;
}

int md_bamout_write(md_bamout *w, const struct bam1_t *rec, const float *score)
{
    if (!w || !rec) return md_error(MD_ERR_ARG, "md_bamout_write: NULL argument");
    if (w->failed) return md_error(MD_ERR_IO, "BAM %s: an earlier write failed", w->path);
    if (!bam_copy1(w->b, rec)) {
        w->failed = 1;
        return md_error(MD_ERR_NOMEM, "out of memory writing BAM %s", w->path);
    }
    uint8_t *old = bam_aux_get(w->b, w->tag); /* a tag of an earlier run goes */
    if ((old && bam_aux_del(w->b, old) < 0) ||
        (score && bam_aux_update_float(w->b, w->tag, *score) < 0)) {
        w->failed = 1;
        return md_error(MD_ERR_FORMAT, "BAM %s: cannot set tag %s on read %s (corrupt aux data?)",
                        w->path, w->tag, bam_get_qname(rec));
    }
    if (sam_write1(w->hts, w->hdr, w->b) < 0) {
        w->failed = 1;
        return md_error(MD_ERR_IO, "cannot write BAM %s (read %s); check the free space of its "
                        "directory", w->path, bam_get_qname(rec));
    }
    return 0;
}

int md_bamout_close(md_bamout *w, int commit)
{
    if (!w) return 0;
    int rc = 0;
    if (commit && w->failed) rc = md_error(MD_ERR_IO, "BAM %s: an earlier write failed", w->path);
    if (hts_close(w->hts) < 0 && commit && rc == 0)
        rc = md_error(MD_ERR_IO, "cannot write BAM %s; check the free space of its directory",
                      w->path);
    if (commit && rc == 0)
        rc = md_outfile_commit(w->out);
    else
        md_outfile_abort(w->out);
    bamout_free(w);
    return rc;
}
