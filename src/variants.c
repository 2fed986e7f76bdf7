/* variants.c: variant effects on the score. Every record of a VCF/BCF is
 * read through htslib and written back in order; records whose alleles can
 * be scored get MD_REF, MD_ALT and MD_DELTA INFO values.
 *
 * For a variant whose REF covers [pos, pos + r) on the reference, the
 * windows are the model's window length W at its stride, placed so that
 * one is centred on the REF bases, and every one that holds them all: starts
 * s = c + k * stride (c = pos - (W - r) / 2, k any integer) with
 * pos + r - W <= s <= pos, inside the contig. In each window the
 * alternative sequence is the alternative haplotype read from the same
 * start: reference bases before pos, the ALT bases, then reference bases
 * after the REF, cut or extended to W. Windows are scored on both strands
 * as `score` does; the reported window is the one where some ALT changes
 * the score most (largest |ALT - REF|, the first on ties), and MD_REF,
 * MD_ALT and MD_DELTA all come from it.
 *
 * Records are batched: the windows of many records go through the model
 * together, then the records are written in input order. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <htslib/bgzf.h>
#include <htslib/hfile.h>
#include <htslib/vcf.h>

#include "pipeline.h"
#include "scoring.h"

/* Records held before their windows are run, at most. */
#define MAX_PENDING 4096
/* Warnings printed per kind of skipped record; the summary counts them all. */
#define MAX_WARNINGS 10

static const char *const skip_names[MD_VSKIP_KINDS] = {
    "REF does not match the reference",
    "no ALT allele",
    "symbolic or breakend ALT",
    "* (spanning deletion) ALT",
    "contig not in the reference",
    "too close to a contig end",
    "REF longer than the window",
    "only N-rich windows",
    "more than 64 ALT alleles",
};

const char *md_variant_skip_name(int reason)
{
    return reason >= 0 && reason < MD_VSKIP_KINDS ? skip_names[reason] : "?";
}

void md_variants_opt_init(md_variants_opt *o)
{
    memset(o, 0, sizeof *o);
    md_score_opt_init(&o->score);
}

int md_variants_opt_resolve(md_variants_opt *o, const md_model *m)
{
    return md_score_opt_resolve(&o->score, m);
}

/* One record between reading and writing. */
typedef struct pending {
    bcf1_t *rec;
    int skip;         /* enum md_variant_skip, or -1 when its windows are queued */
    int n_alt;        /* ALT alleles (rec->n_allele - 1) */
    int n_win;        /* windows */
    int64_t row0;     /* its first row: window k's REF row, then its ALT rows */
    uint64_t scored;  /* bit j: ALT j + 1 is scored */
    int n_scored;
} pending;

typedef struct variants_job {
    md_model *m;
    const md_variants_opt *o;
    md_faidx *fx;
    htsFile *in, *out;
    bcf_hdr_t *hdr;
    md_outfile *outfile;
    const char *in_path, *out_path;
    const md_region *regions;
    size_t n_regions;
    char **contig;          /* [n contigs of the header]: reference name, NULL unresolved */
    int *contig_state;      /* [n]: 0 not looked up, 1 found, -1 absent */
    int n_contig;
    pending *pend;          /* [MAX_PENDING] */
    int n_pend;
    uint8_t *tok;           /* (cap_rows, W) queued windows */
    int64_t n_rows, cap_rows;
    float *row_score;       /* [cap_rows] */
    uint8_t *scratch;       /* (2 batch, W) */
    float *prob;            /* (2 batch, C) */
    md_window_score *ws;    /* [batch] */
    md_record seg;          /* reference bases of the current record */
    char *hap;              /* [W] an alternative window as bases */
    int warned[MD_VSKIP_KINDS];
    md_variants_stats *st;
    double t0, last_progress;
} variants_job;

/* The reference contig of a VCF contig: the same name, else with "chr"
 * removed or added. */
static const char *reference_contig(variants_job *j, int rid)
{
    if (rid < 0 || rid >= j->n_contig) return NULL;
    if (j->contig_state[rid]) return j->contig[rid];
    const char *name = bcf_hdr_id2name(j->hdr, rid);
    char alt[1024];
    if (!strncmp(name, "chr", 3)) snprintf(alt, sizeof alt, "%s", name + 3);
    else snprintf(alt, sizeof alt, "chr%s", name);
    const char *found = NULL;
    for (int pass = 0; pass < 2 && !found; pass++)
        for (int i = 0; i < md_faidx_n_contigs(j->fx) && !found; i++)
            if (!strcmp(md_faidx_contig_name(j->fx, i), pass ? alt : name))
                found = md_faidx_contig_name(j->fx, i);
    j->contig_state[rid] = found ? 1 : -1;
    j->contig[rid] = found ? strdup(found) : NULL;
    if (found && !j->contig[rid]) j->contig_state[rid] = 0;
    return j->contig[rid];
}

static int in_regions(variants_job *j, const bcf1_t *rec)
{
    if (!j->n_regions) return 1;
    const char *name = bcf_hdr_id2name(j->hdr, rec->rid);
    const char *ref = reference_contig(j, rec->rid);
    for (size_t i = 0; i < j->n_regions; i++) {
        const md_region *r = &j->regions[i];
        if (strcmp(r->contig, name) && (!ref || strcmp(r->contig, ref))) continue;
        if (rec->pos < r->end && rec->pos + rec->rlen > r->beg) return 1;
    }
    return 0;
}

static int is_bases(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!strchr("ACGTNacgtn", *s)) return 0;
    return 1;
}

static void warn_skip(variants_job *j, const bcf1_t *rec, int reason, const char *detail)
{
    j->st->skipped[reason]++;
    if (j->warned[reason]++ >= MAX_WARNINGS) return;
    md_log(MD_LOG_WARN, "variants: %s:%lld %s>%s%s: %s%s%s; written unannotated%s",
           bcf_hdr_id2name(j->hdr, rec->rid), (long long)rec->pos + 1,
           rec->n_allele > 0 ? rec->d.allele[0] : ".", rec->n_allele > 1 ? rec->d.allele[1] : ".", rec->n_allele > 2 ? ",..." : "",
           md_variant_skip_name(reason), detail ? " " : "", detail ? detail : "",
           j->warned[reason] == MAX_WARNINGS ? " (further records of this kind are counted, "
                                               "not reported)" : "");
}

static int grow_rows(variants_job *j, int64_t need, int64_t W)
{
    if (need <= j->cap_rows) return 0;
    int64_t cap = j->cap_rows ? j->cap_rows : 1024;
    while (cap < need) cap *= 2;
    uint8_t *t = realloc(j->tok, (size_t)(cap * W));
    if (t) j->tok = t;
    float *s = t ? realloc(j->row_score, (size_t)cap * sizeof *s) : NULL;
    if (s) j->row_score = s;
    if (!t || !s) return md_error(MD_ERR_NOMEM, "out of memory for %lld windows", (long long)cap);
    j->cap_rows = cap;
    return 0;
}

/* Check a record and queue its windows; p->skip says why it was not. */
static int plan_record(variants_job *j, pending *p)
{
    const md_score_opt *so = &j->o->score;
    bcf1_t *rec = p->rec;
    int64_t W = so->window, stride = so->stride;
    p->skip = -1;
    p->n_alt = rec->n_allele - 1;
    p->n_win = 0;
    p->scored = 0;
    p->n_scored = 0;
    if (p->n_alt < 1 || p->n_alt > MD_VARIANTS_MAX_ALT) {
        p->skip = p->n_alt < 1 ? MD_VSKIP_NO_ALT : MD_VSKIP_MANY_ALTS;
        warn_skip(j, rec, p->skip, NULL);
        return 0;
    }
    const char *ref = rec->d.allele[0];
    int64_t r = (int64_t)strlen(ref), pos = rec->pos, ext = 0;
    int first_reason = -1;
    for (int a = 1; a <= p->n_alt; a++) {
        const char *alt = rec->d.allele[a];
        int reason = -1;
        if (!strcmp(alt, "*")) reason = MD_VSKIP_STAR;
        else if (!is_bases(alt)) reason = MD_VSKIP_SYMBOLIC;
        if (reason >= 0) {
            if (first_reason < 0) first_reason = reason;
            continue;
        }
        p->scored |= 1ull << (a - 1);
        p->n_scored++;
        int64_t need = r - (int64_t)strlen(alt);
        if (need > ext) ext = need;
    }
    int reason = -1;
    char detail[160] = "";
    const char *contig = NULL;
    int64_t clen = 0;
    if (!p->n_scored) reason = first_reason >= 0 ? first_reason : MD_VSKIP_SYMBOLIC;
    else if (!is_bases(ref)) reason = MD_VSKIP_SYMBOLIC;
    else if (!(contig = reference_contig(j, rec->rid))) reason = MD_VSKIP_CONTIG;
    else if (pos < 0 || pos + r > (clen = md_faidx_contig_len(j->fx, contig)))
        reason = MD_VSKIP_CONTIG_END;
    else if (r > W) reason = MD_VSKIP_TOO_LONG;
    if (reason < 0) { /* REF against the genome */
        int ret = md_faidx_fetch(j->fx, contig, pos, pos + r, &j->seg);
        if (ret < 0) return ret;
        for (int64_t i = 0; i < r && reason < 0; i++)
            if (toupper((unsigned char)ref[i]) != toupper((unsigned char)j->seg.seq[i])) {
                reason = MD_VSKIP_REF_MISMATCH;
                snprintf(detail, sizeof detail, "(the reference has %.*s%s)",
                         (int)(r < 40 ? r : 40), j->seg.seq, r > 40 ? "..." : "");
            }
    }
    if (reason >= 0) {
        warn_skip(j, rec, reason, detail[0] ? detail : NULL);
        p->skip = reason;
        return 0;
    }
    /* the windows: every start s = c + k stride in [pos + r - W, pos] that
     * keeps [s, s + W + ext) inside the contig */
    int64_t c = pos - (W - r) / 2, lo = pos + r - W, hi = pos;
    int64_t kmin = -((c - lo) / stride), kmax = (hi - c) / stride;
    int64_t smin = INT64_MAX, smax = -1;
    for (int64_t k = kmin; k <= kmax; k++) {
        int64_t s = c + k * stride;
        if (s < 0 || s + W + ext > clen) continue;
        if (s < smin) smin = s;
        smax = s;
    }
    if (smax < 0) {
        warn_skip(j, rec, MD_VSKIP_CONTIG_END, NULL);
        p->skip = MD_VSKIP_CONTIG_END;
        return 0;
    }
    int ret = md_faidx_fetch(j->fx, contig, smin, smax + W + ext, &j->seg);
    if (ret < 0) return ret;
    int rows_per_win = 1 + p->n_scored;
    p->row0 = j->n_rows;
    for (int64_t k = kmin; k <= kmax; k++) {
        int64_t s = c + k * stride;
        if (s < 0 || s + W + ext > clen) continue;
        const char *base = j->seg.seq + (s - smin);
        if ((ret = grow_rows(j, j->n_rows + rows_per_win, W)) < 0) return ret;
        uint8_t *row = j->tok + j->n_rows * W;
        md_tokenize(base, W, row);
        int nrich = (double)md_count_n(row, W) > so->max_n * (double)W;
        for (int a = 1; a <= p->n_alt; a++) {
            if (!(p->scored >> (a - 1) & 1)) continue;
            const char *alt = rec->d.allele[a];
            int64_t before = pos - s, n_alt = (int64_t)strlen(alt), n = 0;
            memcpy(j->hap, base, (size_t)before);
            n = before;
            int64_t take = n_alt < W - n ? n_alt : W - n;
            memcpy(j->hap + n, alt, (size_t)take);
            n += take;
            if (n < W) memcpy(j->hap + n, base + before + r, (size_t)(W - n));
            row += W;
            md_tokenize(j->hap, W, row);
            nrich |= (double)md_count_n(row, W) > so->max_n * (double)W;
        }
        if (nrich) continue; /* not kept: the rows are overwritten */
        j->n_rows += rows_per_win;
        p->n_win++;
    }
    if (!p->n_win) {
        warn_skip(j, rec, MD_VSKIP_N_RICH, NULL);
        p->skip = MD_VSKIP_N_RICH;
    }
    return 0;
}

/* Score every queued row. */
static int run_rows(variants_job *j)
{
    const md_score_opt *so = &j->o->score;
    int64_t W = so->window;
    for (int64_t r0 = 0; r0 < j->n_rows; r0 += so->batch) {
        int n = (int)(j->n_rows - r0 < so->batch ? j->n_rows - r0 : so->batch);
        memcpy(j->scratch, j->tok + r0 * W, (size_t)(n * W));
        int ret = md_classify_windows(j->m, so, j->scratch, n, W, j->prob, j->ws);
        if (ret < 0) return ret;
        for (int i = 0; i < n; i++) j->row_score[r0 + i] = j->ws[i].score;
    }
    j->st->windows += j->n_rows;
    return 0;
}

static int annotate(variants_job *j, pending *p)
{
    bcf1_t *rec = p->rec;
    int rows_per_win = 1 + p->n_scored, best = 0;
    float best_change = -1;
    for (int k = 0; k < p->n_win; k++) {
        const float *s = j->row_score + p->row0 + (int64_t)k * rows_per_win;
        for (int a = 1; a <= p->n_scored; a++)
            if (fabsf(s[a] - s[0]) > best_change) {
                best_change = fabsf(s[a] - s[0]);
                best = k;
            }
    }
    const float *s = j->row_score + p->row0 + (int64_t)best * rows_per_win;
    float ref = s[0], alt[MD_VARIANTS_MAX_ALT], delta[MD_VARIANTS_MAX_ALT];
    int n = p->n_alt, q = 1;
    for (int a = 0; a < n; a++) {
        if (p->scored >> a & 1) {
            alt[a] = s[q];
            delta[a] = s[q] - ref;
            q++;
        } else {
            bcf_float_set_missing(alt[a]);
            bcf_float_set_missing(delta[a]);
        }
    }
    j->st->alleles += p->n_scored;
    j->st->annotated++;
    if (bcf_update_info_float(j->hdr, rec, "MD_REF", &ref, 1) < 0 ||
        bcf_update_info_float(j->hdr, rec, "MD_ALT", alt, n) < 0 ||
        bcf_update_info_float(j->hdr, rec, "MD_DELTA", delta, n) < 0)
        return md_error(MD_ERR_FORMAT, "cannot set the MD_* values of %s:%lld",
                        bcf_hdr_id2name(j->hdr, rec->rid), (long long)rec->pos + 1);
    return 0;
}

static void progress(variants_job *j, int force)
{
    if (!j->o->score.progress) return;
    double now = md_now_s();
    if (!force && now - j->last_progress < 0.5) return;
    j->last_progress = now;
    double dt = now - j->t0;
    fprintf(stderr, "\r\033[Kmambadna variants: %lld records, %lld annotated, %.0f variants/s",
            (long long)j->st->records, (long long)j->st->annotated,
            dt > 0 ? (double)j->st->alleles / dt : 0.0);
    fflush(stderr);
}

/* Run the queued windows, annotate and write every pending record. */
static int flush(variants_job *j)
{
    int ret = run_rows(j);
    for (int i = 0; i < j->n_pend; i++) {
        pending *p = &j->pend[i];
        if (ret == 0 && p->skip < 0) ret = annotate(j, p);
        if (ret == 0 && bcf_write(j->out, j->hdr, p->rec) < 0)
            ret = md_error(MD_ERR_IO, "cannot write %s; check the free space of its directory",
                           j->out_path);
    }
    j->n_pend = 0;
    j->n_rows = 0;
    progress(j, 0);
    return ret;
}

/* The MD_* lines, checked against definitions the input may already have. */
static int add_header_lines(variants_job *j)
{
    static const struct { const char *id, *line; int vl; } tags[3] = {
        {"MD_REF", "##INFO=<ID=MD_REF,Number=1,Type=Float,Description=\"mambadna: score "
                   "(positive-class probability) of the reference sequence in the reported "
                   "window\">", BCF_VL_FIXED},
        {"MD_ALT", "##INFO=<ID=MD_ALT,Number=A,Type=Float,Description=\"mambadna: score of the "
                   "alternative sequence in the reported window, per ALT\">", BCF_VL_A},
        {"MD_DELTA", "##INFO=<ID=MD_DELTA,Number=A,Type=Float,Description=\"mambadna: MD_ALT "
                     "minus MD_REF, per ALT\">", BCF_VL_A},
    };
    for (int i = 0; i < 3; i++) {
        int id = bcf_hdr_id2int(j->hdr, BCF_DT_ID, tags[i].id);
        if (id >= 0 && bcf_hdr_idinfo_exists(j->hdr, BCF_HL_INFO, id)) {
            if (bcf_hdr_id2type(j->hdr, BCF_HL_INFO, id) != BCF_HT_REAL ||
                (int)bcf_hdr_id2length(j->hdr, BCF_HL_INFO, id) != tags[i].vl)
                return md_error(MD_ERR_FORMAT, "%s already defines INFO/%s differently; remove it "
                                "first (bcftools annotate -x INFO/%s)", j->in_path, tags[i].id,
                                tags[i].id);
            continue;
        }
        if (bcf_hdr_append(j->hdr, tags[i].line) < 0)
            return md_error(MD_ERR_FORMAT, "cannot add INFO/%s to the header", tags[i].id);
    }
    if (j->o->command) {
        char line[8192];
        snprintf(line, sizeof line, "##mambadna_command=%s; Version=%s", j->o->command,
                 MAMBADNA_VERSION);
        for (char *c = line; *c; c++)
            if (*c == '\n' || *c == '\r' || *c == '\t') *c = ' ';
        if (bcf_hdr_append(j->hdr, line) < 0)
            return md_error(MD_ERR_FORMAT, "cannot add the command line to the header");
    }
    return bcf_hdr_sync(j->hdr) < 0 ? md_error(MD_ERR_FORMAT, "cannot update the header") : 0;
}

static const char *write_mode(const char *path)
{
    size_t n = strlen(path);
    if (n >= 4 && !strcmp(path + n - 4, ".bcf")) return "wb";
    if ((n >= 3 && !strcmp(path + n - 3, ".gz")) || (n >= 4 && !strcmp(path + n - 4, ".bgz")))
        return "wz";
    return "w";
}

static int open_files(variants_job *j, const char *reference)
{
    if (!(j->fx = md_faidx_open(reference, 0))) return MD_ERR_IO;
    if (!(j->in = hts_open(j->in_path, "r")))
        return md_error(MD_ERR_IO, "cannot open %s: %s", j->in_path, strerror(errno));
    enum htsExactFormat f = hts_get_format(j->in)->format;
    if (f != vcf && f != bcf) {
        char *what = hts_format_description(hts_get_format(j->in));
        int ret = md_error(MD_ERR_FORMAT, "%s is not VCF or BCF (%s)", j->in_path,
                           what ? what : "unknown format");
        free(what);
        return ret;
    }
    if (!(j->hdr = bcf_hdr_read(j->in)))
        return md_error(MD_ERR_FORMAT, "cannot read the VCF header of %s", j->in_path);
    int ret = add_header_lines(j);
    if (ret < 0) return ret;
    j->n_contig = j->hdr->n[BCF_DT_CTG];
    j->contig = calloc((size_t)j->n_contig + 1, sizeof *j->contig);
    j->contig_state = calloc((size_t)j->n_contig + 1, sizeof *j->contig_state);
    if (!j->contig || !j->contig_state) return md_error(MD_ERR_NOMEM, "out of memory");
    if (!(j->outfile = md_outfile_open_raw(j->out_path))) return MD_ERR_IO; /* htslib compresses */
    int fd = dup(fileno(md_outfile_fp(j->outfile)));
    hFILE *hf = fd >= 0 ? hdopen(fd, "w") : NULL;
    if (!hf) {
        if (fd >= 0) close(fd);
        return md_error(MD_ERR_IO, "cannot open %s for writing: %s", j->out_path, strerror(errno));
    }
    if (!(j->out = hts_hopen(hf, j->out_path, write_mode(j->out_path)))) {
        hclose_abruptly(hf);
        return md_error(MD_ERR_IO, "cannot open %s for writing", j->out_path);
    }
    if (bcf_hdr_write(j->out, j->hdr) < 0)
        return md_error(MD_ERR_IO, "cannot write the header of %s", j->out_path);
    return 0;
}

/* At the end of the input: a compressed input that ended inside a block
 * (htslib reads what it can and stops) is truncated, an error. */
static int check_complete(variants_job *j)
{
    BGZF *bg = j->in->is_bgzf ? j->in->fp.bgzf : NULL;
    if (bg && bg->errcode)
        return md_error(MD_ERR_FORMAT, "%s is truncated or corrupt (after %lld records); nothing "
                        "written", j->in_path, (long long)j->st->records);
    return 0;
}

/* A record naming a contig or field its header does not declare: htslib
 * adds the declaration to the header in memory (and warns). VCF output
 * writes such records as they are; a BCF header is already written, so BCF
 * output cannot hold them. */
static int accept_undeclared(variants_job *j, bcf1_t *rec)
{
    if (!strcmp(write_mode(j->out_path), "wb"))
        return md_error(MD_ERR_FORMAT, "%s: record %lld uses a contig, FILTER, INFO or FORMAT "
                        "name that the header does not declare; BCF output needs them declared "
                        "(add them to the header, e.g. bcftools annotate -h) or write VCF",
                        j->in_path, (long long)j->st->records + 1);
    rec->errcode = 0;
    int n = j->hdr->n[BCF_DT_CTG];
    if (n <= j->n_contig) return 0;
    char **names = realloc(j->contig, (size_t)n * sizeof *names);
    if (names) j->contig = names;
    int *state = names ? realloc(j->contig_state, (size_t)n * sizeof *state) : NULL;
    if (state) j->contig_state = state;
    if (!names || !state) return md_error(MD_ERR_NOMEM, "out of memory");
    for (int i = j->n_contig; i < n; i++) {
        j->contig[i] = NULL;
        j->contig_state[i] = 0;
    }
    j->n_contig = n;
    return 0;
}

static int alloc_buffers(variants_job *j)
{
    int B = j->o->score.batch, C = md_model_config(j->m)->n_classes;
    int64_t W = j->o->score.window;
    j->pend = calloc(MAX_PENDING, sizeof *j->pend);
    j->scratch = malloc((size_t)(2 * B * W));
    j->prob = malloc((size_t)(2 * B * C) * sizeof *j->prob);
    j->ws = malloc((size_t)B * sizeof *j->ws);
    j->hap = malloc((size_t)W);
    if (!j->pend || !j->scratch || !j->prob || !j->ws || !j->hap)
        return md_error(MD_ERR_NOMEM, "out of memory");
    for (int i = 0; i < MAX_PENDING; i++)
        if (!(j->pend[i].rec = bcf_init())) return md_error(MD_ERR_NOMEM, "out of memory");
    return 0;
}

int md_variants_run(md_model *m, const char *in_path, const char *reference,
                    const md_region *regions, size_t n_regions, const char *out_path,
                    const md_variants_opt *o, md_variants_stats *stats)
{
    md_variants_stats local;
    variants_job j = {.m = m, .o = o, .in_path = in_path, .out_path = out_path,
                      .regions = regions, .n_regions = n_regions,
                      .st = stats ? stats : &local};
    memset(j.st, 0, sizeof *j.st);
    j.t0 = md_now_s();
    int ret = open_files(&j, reference);
    if (ret == 0) ret = alloc_buffers(&j);
    while (ret == 0) {
        pending *p = &j.pend[j.n_pend];
        int r = bcf_read(j.in, j.hdr, p->rec);
        if (r == -1) {
            ret = check_complete(&j);
            break;
        }
        int undeclared = p->rec->errcode & (BCF_ERR_CTG_UNDEF | BCF_ERR_TAG_UNDEF);
        if (r < 0 || (p->rec->errcode & ~undeclared)) {
            ret = md_error(MD_ERR_FORMAT, "%s: cannot read the record after %lld records "
                           "(truncated or malformed input)", in_path, (long long)j.st->records);
            break;
        }
        if (undeclared && (ret = accept_undeclared(&j, p->rec)) < 0) break;
        if (p->rec->rid >= 0 && p->rec->rid < j.n_contig && !in_regions(&j, p->rec)) {
            j.st->outside++;
            continue;
        }
        j.st->records++;
        if (p->rec->rid < 0 || p->rec->rid >= j.n_contig || bcf_unpack(p->rec, BCF_UN_STR) < 0) {
            ret = md_error(MD_ERR_FORMAT, "%s: cannot unpack record %lld", in_path,
                           (long long)j.st->records);
            break;
        }
        /* values of an earlier run go; annotated records get new ones */
        bcf_update_info_float(j.hdr, p->rec, "MD_REF", NULL, 0);
        bcf_update_info_float(j.hdr, p->rec, "MD_ALT", NULL, 0);
        bcf_update_info_float(j.hdr, p->rec, "MD_DELTA", NULL, 0);
        ret = plan_record(&j, p);
        j.n_pend++;
        if (ret == 0 && (j.n_pend == MAX_PENDING || j.n_rows >= 4 * o->score.batch))
            ret = flush(&j);
    }
    if (ret == 0) ret = flush(&j);
    if (o->score.progress) fputs("\r\033[K", stderr);
    j.st->seconds = md_now_s() - j.t0;
    if (j.out && hts_close(j.out) < 0 && ret == 0)
        ret = md_error(MD_ERR_IO, "cannot write %s; check the free space of its directory",
                       out_path);
    if (j.outfile) {
        if (ret == 0) ret = md_outfile_commit(j.outfile);
        else md_outfile_abort(j.outfile);
    }
    if (j.in) hts_close(j.in);
    if (j.hdr) bcf_hdr_destroy(j.hdr);
    for (int i = 0; j.pend && i < MAX_PENDING; i++)
        if (j.pend[i].rec) bcf_destroy(j.pend[i].rec);
    for (int i = 0; i < j.n_contig; i++) free(j.contig[i]);
    free(j.contig); free(j.contig_state); free(j.pend); free(j.tok); free(j.row_score);
    free(j.scratch); free(j.prob); free(j.ws); free(j.hap);
    md_record_free(&j.seg);
    md_faidx_close(j.fx);
    return ret;
}
