/* seqio.c: sequence input.
 *
 *  - FASTA/FASTQ, plain, gzip or bgzip: htslib detects the format and the
 *    compression (hts_detect_format2), the bytes come through htslib's hFILE
 *    (plain) or BGZF (gzip and bgzip, with decompression threads for bgzip),
 *    and a small line reader below splits records. Memory is one input
 *    buffer plus the current record, whatever the line length.
 *    kseq.h is not used because of behaviours this reader must not have: a
 *    blank CRLF line right after a header leaves a '\r' in the sequence, a
 *    header ending in " \r" leaves '\r' in the comment, a FASTA line starting
 *    with '+' or '@' ends the record, and lengths are int.
 *  - SAM/BAM/CRAM through sam_read1.
 *  - Indexed FASTA (.fai, .gzi) through htslib's faidx.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <htslib/bgzf.h>
#include <htslib/faidx.h>
#include <htslib/hfile.h>
#include <htslib/hts.h>
#include <htslib/khash_str2int.h>
#include <htslib/sam.h>

#include "bgzf_eof.h"
#include "mambadna.h"

#define MD_INBUF_SIZE (256 * 1024) /* bytes read from the stream at a time */

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

#define MD_HUGE_PAGE ((size_t)2 << 20)

/* n bytes (a multiple of MD_HUGE_PAGE) aligned to a huge page and marked for
 * transparent huge pages, to be released with free(). The first touch of a
 * fresh 4 kB page costs microseconds on virtual machines: a chromosome read
 * into 4 kB pages spends more time in page faults than in decompression. */
static char *alloc_huge(size_t n)
{
    void *p;
    if (posix_memalign(&p, MD_HUGE_PAGE, n) != 0) return NULL;
    madvise(p, n, MADV_HUGEPAGE); /* advice: without it the pages are 4 kB */
    return p;
}

/* Make *p hold at least need bytes (capacity *m), doubling; from
 * MD_HUGE_PAGE bytes on, in huge pages. 0 or -1. */
static int grow(char **p, size_t *m, size_t need)
{
    if (need <= *m && *p) return 0;
    size_t n = *m > 64 ? *m : 64;
    while (n < need) n = n > SIZE_MAX / 2 ? need : n * 2;
    char *q;
    if (n < MD_HUGE_PAGE) {
        q = realloc(*p, n);
    } else {
        if (n > SIZE_MAX - MD_HUGE_PAGE) return -1;
        n = (n + MD_HUGE_PAGE - 1) & ~(MD_HUGE_PAGE - 1);
        q = alloc_huge(n);
        if (q && *p) memcpy(q, *p, *m);
        if (q) free(*p);
    }
    if (!q) return -1;
    *p = q;
    *m = n;
    return 0;
}

/* Copy s[0..l) into *p as a NUL-terminated string. */
static int set_str(char **p, size_t *m, const char *s, size_t l)
{
    if (grow(p, m, l + 1) < 0) return -1;
    if (l) memmove(*p, s, l);
    (*p)[l] = '\0';
    return 0;
}

static int nomem(const char *what)
{
    return md_error(MD_ERR_NOMEM, "out of memory (%s)", what);
}

void md_record_free(md_record *rec)
{
    if (!rec) return;
    free(rec->name);
    free(rec->comment);
    free(rec->seq);
    if (rec->bam) bam_destroy1(rec->bam);
    memset(rec, 0, sizeof *rec);
}

/* Name and comment from a header line h[0..l) without its '>' or '@': the
 * name is the first word, the comment the rest without leading blanks. */
static int set_header(md_record *rec, const char *h, size_t l)
{
    size_t i = 0;
    while (i < l && !isspace((unsigned char)h[i])) i++;
    if (set_str(&rec->name, &rec->m_name, h, i) < 0) return nomem("record name");
    while (i < l && isspace((unsigned char)h[i])) i++;
    if (set_str(&rec->comment, &rec->m_comment, h + i, l - i) < 0)
        return nomem("record comment");
    return 0;
}

/* ------------------------------------------------------------------ */
/* Reader                                                              */
/* ------------------------------------------------------------------ */

struct md_reader {
    char *path;         /* as given, for messages ("-" shown as "stdin") */
    int format;         /* enum md_format */
    md_reader_opt opt;

    /* SAM/BAM/CRAM */
    htsFile *hts;
    sam_hdr_t *hdr;
    bam1_t *b;

    /* FASTA/FASTQ: exactly one of hf and bgzf is set */
    hFILE *hf;
    BGZF *bgzf;
    unsigned char *buf; /* buf[beg..end) not yet consumed */
    size_t beg, end;
    int eof;            /* the stream has nothing after buf[end] */
    int64_t line;       /* lines consumed so far */
    char *s;            /* scratch line (header, '+' line, quality) */
    size_t sl, sm;

    int eof_at_end;     /* BGZF from a pipe: check the end-of-file marker at the end */
    int64_t nrec;       /* records returned or read so far */
    int failed;         /* a read error happened: later calls repeat it */
};

static const char *rd_name(const md_reader *r)
{
    return strcmp(r->path, "-") == 0 ? "stdin" : r->path;
}

void md_reader_opt_init(md_reader_opt *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->restore_orientation = 1; /* reads as sequenced, as samtools fastq */
    opt->primary_only = 1;        /* one record per read, as samtools fastq */
    opt->piece_names = 1;         /* coordinates on the chromosome of a piece */
    opt->reference = NULL;
    opt->threads = 0;
}

/* Refill buf: the byte count, 0 at end of input, < -1 on error. */
static int lin_fill(md_reader *r)
{
    ssize_t n = r->bgzf ? bgzf_read(r->bgzf, r->buf, MD_INBUF_SIZE)
                        : hread(r->hf, r->buf, MD_INBUF_SIZE);
    if (n < 0) {
        r->failed = 1;
        if (r->bgzf)
            return md_error(MD_ERR_IO,
                            "%s: cannot decompress after line %" PRId64
                            ": the gzip data is truncated or corrupt "
                            "(check the file with `gzip -t`)",
                            rd_name(r), r->line);
        return md_error(MD_ERR_IO, "%s: read error after line %" PRId64 ": %s",
                        rd_name(r), r->line, strerror(errno));
    }
    r->beg = 0;
    r->end = (size_t)n;
    if (n == 0) {
        r->eof = 1;
        if (r->eof_at_end && md_eof_check_at_end(r->bgzf, rd_name(r), r->opt.allow_no_eof) < 0) {
            r->failed = 1;
            return MD_ERR_FORMAT;
        }
    }
    return (int)(n > 0);
}

/* Next byte without consuming it: the byte, MD_EOF, or < -1. */
static int lin_peek(md_reader *r)
{
    if (r->beg == r->end) {
        if (r->eof) return MD_EOF;
        int ret = lin_fill(r);
        if (ret < 0) return ret;
        if (ret == 0) return MD_EOF;
    }
    return r->buf[r->beg];
}

/* Consume white space (blank lines included): the next byte, MD_EOF, < -1. */
static int lin_skip_space(md_reader *r)
{
    for (;;) {
        int c = lin_peek(r);
        if (c < 0 || !isspace(c)) return c;
        if (c == '\n') r->line++;
        r->beg++;
    }
}

/* Append the rest of the current line, without its line end, to
 * (*dst)[*l...] and NUL-terminate; trailing white space ('\r' of CRLF
 * included) is dropped. 0, MD_EOF when nothing was left, or < -1. */
static int lin_read(md_reader *r, char **dst, size_t *l, size_t *m)
{
    size_t start = *l;
    int got = 0;
    for (;;) {
        if (r->beg == r->end) {
            if (r->eof) break;
            int ret = lin_fill(r);
            if (ret < 0) return ret;
            if (ret == 0) break;
        }
        got = 1;
        const unsigned char *p = r->buf + r->beg;
        size_t avail = r->end - r->beg;
        const unsigned char *nl = memchr(p, '\n', avail);
        size_t k = nl ? (size_t)(nl - p) : avail;
        if (grow(dst, m, *l + k + 1) < 0) return nomem("input line");
        memcpy(*dst + *l, p, k);
        *l += k;
        r->beg += k + (nl != NULL);
        if (nl) break;
    }
    if (!got) return MD_EOF;
    r->line++;
    while (*l > start && isspace((unsigned char)(*dst)[*l - 1])) (*l)--;
    if (grow(dst, m, *l + 1) < 0) return nomem("input line");
    (*dst)[*l] = '\0';
    return 0;
}

/* Describe the byte found where a record should start. */
static int expected_header(md_reader *r, int want, int c)
{
    r->failed = 1;
    return md_error(MD_ERR_FORMAT,
                    "%s line %" PRId64 ": expected a '%c' header line, found "
                    "'%c'%s: is this %s?",
                    rd_name(r), r->line + 1, want, isprint(c) ? c : '?',
                    r->nrec ? "" : " at the start of the file",
                    want == '>' ? "FASTA" : "FASTQ");
}

static int fasta_next(md_reader *r, md_record *rec)
{
    int c = lin_skip_space(r);
    if (c < 0) return c;
    if (c != '>') return expected_header(r, '>', c);
    r->sl = 0;
    if ((c = lin_read(r, &r->s, &r->sl, &r->sm)) < 0) return c;
    if ((c = set_header(rec, r->s + 1, r->sl - 1)) < 0) return c;
    size_t l = 0;
    for (;;) {
        c = lin_peek(r);
        if (c == MD_EOF || c == '>') break;
        if (c < 0) return c;
        if ((c = lin_read(r, &rec->seq, &l, &rec->m_seq)) < 0) return c;
    }
    if (grow(&rec->seq, &rec->m_seq, l + 1) < 0) return nomem("sequence");
    rec->seq[l] = '\0';
    rec->len = (int64_t)l;
    rec->flag = 0;
    rec->beg = 0;
    r->nrec++;
    return 0;
}

static int fastq_next(md_reader *r, md_record *rec)
{
    int c = lin_skip_space(r);
    if (c < 0) return c;
    if (c != '@') return expected_header(r, '@', c);
    r->sl = 0;
    if ((c = lin_read(r, &r->s, &r->sl, &r->sm)) < 0) return c;
    if ((c = set_header(rec, r->s + 1, r->sl - 1)) < 0) return c;
    int64_t hdr_line = r->line;
    size_t l = 0;
    for (;;) { /* sequence lines up to the '+' line */
        c = lin_peek(r);
        if (c == '+') break;
        if (c == MD_EOF) {
            r->failed = 1;
            return md_error(MD_ERR_FORMAT,
                            "%s: FASTQ record '%s' (line %" PRId64 ") has no "
                            "'+' line: the file is truncated or not FASTQ",
                            rd_name(r), rec->name, hdr_line);
        }
        if (c < 0) return c;
        if ((c = lin_read(r, &rec->seq, &l, &rec->m_seq)) < 0) return c;
    }
    r->sl = 0;
    if ((c = lin_read(r, &r->s, &r->sl, &r->sm)) < 0) return c; /* '+' line */
    r->sl = 0;
    while (r->sl < l) { /* quality lines until as long as the sequence */
        c = lin_read(r, &r->s, &r->sl, &r->sm);
        if (c == MD_EOF) break;
        if (c < 0) return c;
    }
    if (r->sl != l) {
        r->failed = 1;
        return md_error(MD_ERR_FORMAT,
                        "%s line %" PRId64 ": FASTQ record '%s' has %zu quality "
                        "values for %zu bases%s",
                        rd_name(r), r->line, rec->name, r->sl, l,
                        r->sl < l ? ": the file is truncated" : "");
    }
    if (grow(&rec->seq, &rec->m_seq, l + 1) < 0) return nomem("sequence");
    rec->seq[l] = '\0';
    rec->len = (int64_t)l;
    rec->flag = 0;
    rec->beg = 0;
    r->nrec++;
    return 0;
}

static int sam_next(md_reader *r, md_record *rec)
{
    bam1_t *b = r->b;
    for (;;) {
        int ret = sam_read1(r->hts, r->hdr, b);
        if (ret == -1 && r->eof_at_end &&
            md_eof_check_at_end(r->hts->fp.bgzf, rd_name(r), r->opt.allow_no_eof) < 0) {
            r->failed = 1;
            return MD_ERR_FORMAT;
        }
        if (ret == -1) return MD_EOF;
        if (ret < -1) {
            r->failed = 1;
            if (r->nrec)
                return md_error(MD_ERR_FORMAT,
                                "%s: cannot read record %" PRId64 " (after read "
                                "'%s'): the file is truncated or corrupt",
                                rd_name(r), r->nrec + 1, rec->name ? rec->name : "");
            return md_error(MD_ERR_FORMAT,
                            "%s: cannot read the first record: the file is "
                            "truncated or corrupt%s",
                            rd_name(r),
                            r->format == MD_FMT_CRAM
                                ? " (or the CRAM reference is missing: give it "
                                  "with the reference option)"
                                : "");
        }
        r->nrec++;
        if (r->opt.primary_only &&
            (b->core.flag & (BAM_FSECONDARY | BAM_FSUPPLEMENTARY)))
            continue;
        break;
    }
    const char *qname = bam_get_qname(b);
    if (set_str(&rec->name, &rec->m_name, qname, strlen(qname)) < 0 ||
        set_str(&rec->comment, &rec->m_comment, "", 0) < 0)
        return nomem("record name");
    size_t len = b->core.l_qseq > 0 ? (size_t)b->core.l_qseq : 0;
    if (grow(&rec->seq, &rec->m_seq, len + 1) < 0) return nomem("sequence");
    const uint8_t *s = bam_get_seq(b);
    for (size_t i = 0; i < len; i++) rec->seq[i] = seq_nt16_str[bam_seqi(s, i)];
    rec->seq[len] = '\0';
    rec->len = (int64_t)len;
    rec->flag = b->core.flag;
    rec->beg = 0;
    if (r->opt.restore_orientation && (b->core.flag & BAM_FREVERSE))
        md_revcomp_seq(rec->seq, rec->len);
    if (r->opt.keep_records) {
        if (!rec->bam && !(rec->bam = bam_init1())) return nomem("BAM record");
        if (!bam_copy1(rec->bam, b)) return nomem("BAM record");
    }
    return 0;
}

int md_reader_next(md_reader *r, md_record *rec)
{
    if (!r || !rec) return md_error(MD_ERR_ARG, "md_reader_next: NULL argument");
    if (r->failed)
        return md_error(MD_ERR_IO, "%s: reading stopped at an earlier error",
                        rd_name(r));
    switch (r->format) {
    case MD_FMT_FASTA: return fasta_next(r, rec);
    case MD_FMT_FASTQ: return fastq_next(r, rec);
    default: return sam_next(r, rec);
    }
}

int md_reader_format(const md_reader *r) { return r ? r->format : MD_FMT_UNKNOWN; }

const struct sam_hdr_t *md_reader_sam_header(const md_reader *r) { return r ? r->hdr : NULL; }

void md_reader_close(md_reader *r)
{
    if (!r) return;
    if (r->b) bam_destroy1(r->b);
    if (r->hdr) sam_hdr_destroy(r->hdr);
    if (r->hts) hts_close(r->hts);
    if (r->bgzf) bgzf_close(r->bgzf);
    if (r->hf) hclose_abruptly(r->hf); /* read only: nothing to flush */
    free(r->buf);
    free(r->s);
    free(r->path);
    free(r);
}

static int open_sam(md_reader *r, hFILE *hf, const htsFormat *fmt)
{
    r->format = fmt->format == bam ? MD_FMT_BAM
              : fmt->format == cram ? MD_FMT_CRAM : MD_FMT_SAM;
    r->hts = hts_hopen(hf, r->path, "r");
    if (!r->hts) {
        hclose_abruptly(hf);
        return md_error(MD_ERR_FORMAT, "%s: cannot open as %s", rd_name(r),
                        r->format == MD_FMT_BAM ? "BAM"
                        : r->format == MD_FMT_CRAM ? "CRAM" : "SAM");
    }
    int eof = md_eof_check_hts(r->hts, rd_name(r), r->opt.allow_no_eof);
    if (eof < 0) return eof;
    r->eof_at_end = eof == MD_EOF_CHECK_AT_END;
    if (r->format == MD_FMT_CRAM && r->opt.reference &&
        hts_set_fai_filename(r->hts, r->opt.reference) < 0)
        return md_error(MD_ERR_IO,
                        "%s: cannot use '%s' as the CRAM reference (is it an "
                        "indexed FASTA? run `samtools faidx %s`)",
                        rd_name(r), r->opt.reference, r->opt.reference);
    /* threads only where the end-of-file marker was checked up front: the
     * threaded reader does not say whether the last block was the marker */
    if (r->opt.threads > 0 && !r->eof_at_end && hts_set_threads(r->hts, r->opt.threads) < 0)
        md_log(MD_LOG_WARN, "%s: cannot start %d decompression threads",
               rd_name(r), r->opt.threads);
    r->hdr = sam_hdr_read(r->hts);
    if (!r->hdr)
        return md_error(MD_ERR_FORMAT,
                        "%s: cannot read the %s header: the file is truncated "
                        "or corrupt", rd_name(r),
                        r->format == MD_FMT_BAM ? "BAM"
                        : r->format == MD_FMT_CRAM ? "CRAM" : "SAM");
    r->b = bam_init1();
    if (!r->b) return nomem("BAM record");
    return 0;
}

static const char *compression_name(int c)
{
    switch (c) {
    case bzip2_compression: return "bzip2";
    case xz_compression: return "xz";
    case zstd_compression: return "zstd";
    case razf_compression: return "RAZF";
    default: return "an unsupported compression";
    }
}

static int open_text(md_reader *r, hFILE *hf, const htsFormat *fmt)
{
    if (fmt->compression == gzip || fmt->compression == bgzf) {
        r->bgzf = bgzf_hopen(hf, "r");
        if (!r->bgzf) {
            hclose_abruptly(hf);
            return md_error(MD_ERR_IO, "%s: cannot open the gzip stream",
                            rd_name(r));
        }
        int eof = md_eof_check_bgzf(r->bgzf, rd_name(r), r->opt.allow_no_eof);
        if (eof < 0) return eof;
        r->eof_at_end = eof == MD_EOF_CHECK_AT_END;
        if (fmt->compression == bgzf && r->opt.threads > 0 && !r->eof_at_end &&
            bgzf_mt(r->bgzf, r->opt.threads, 256) < 0)
            md_log(MD_LOG_WARN, "%s: cannot start %d decompression threads",
                   rd_name(r), r->opt.threads);
    } else if (fmt->compression == no_compression) {
        r->hf = hf;
    } else {
        hclose_abruptly(hf);
        return md_error(MD_ERR_FORMAT,
                        "%s is compressed with %s: mambadna reads plain, gzip "
                        "or bgzip files; recompress it with bgzip",
                        rd_name(r), compression_name(fmt->compression));
    }
    r->buf = malloc(MD_INBUF_SIZE);
    if (!r->buf) return nomem("input buffer");
    if (fmt->format == fasta_format) {
        r->format = MD_FMT_FASTA;
        return 0;
    }
    if (fmt->format == fastq_format) {
        r->format = MD_FMT_FASTQ;
        return 0;
    }
    /* htslib's test wants the second line to be bases: a first record that
     * is empty, has blank lines or other letters ends up here. Decide from
     * the first byte that is not white space. */
    int c = lin_skip_space(r);
    if (c < -1) return c;
    if (c == '>' || c == MD_EOF) {
        if (c == MD_EOF)
            md_log(MD_LOG_WARN, "%s contains no sequences", rd_name(r));
        r->format = MD_FMT_FASTA;
        return 0;
    }
    if (c == '@') {
        r->format = MD_FMT_FASTQ;
        return 0;
    }
    return md_error(MD_ERR_FORMAT,
                    "%s: unknown format (text that is not FASTA, FASTQ or SAM: "
                    "the first line should start with '>' or '@')",
                    rd_name(r));
}

md_reader *md_reader_open(const char *path, const md_reader_opt *opt)
{
    if (!path || !*path) {
        md_error(MD_ERR_ARG, "md_reader_open: no file name");
        return NULL;
    }
    md_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        nomem("reader");
        return NULL;
    }
    if (opt)
        r->opt = *opt;
    else
        md_reader_opt_init(&r->opt);

    hFILE *hf = hopen(path, "r");
    if (!hf) {
        md_error(MD_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
        goto fail;
    }
    htsFormat fmt;
    if (hts_detect_format2(hf, path, &fmt) < 0) {
        md_error(MD_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
        hclose_abruptly(hf);
        goto fail;
    }
    int ret;
    switch (fmt.format) {
    case sam:
    case bam:
    case cram:
        ret = open_sam(r, hf, &fmt);
        break;
    case fasta_format:
    case fastq_format:
    case text_format:
    case empty_format:
        ret = open_text(r, hf, &fmt);
        break;
    default: {
        char *desc = hts_format_description(&fmt);
        if (fmt.format == unknown_format && fmt.compression != no_compression &&
            fmt.compression != gzip && fmt.compression != bgzf)
            md_error(MD_ERR_FORMAT,
                     "%s is compressed with %s: mambadna reads plain, gzip or "
                     "bgzip files; recompress it with bgzip",
                     rd_name(r), compression_name(fmt.compression));
        else if (fmt.format == unknown_format)
            md_error(MD_ERR_FORMAT,
                     "%s: unknown format: mambadna reads FASTA or FASTQ (plain, "
                     "gzip or bgzip), SAM, BAM or CRAM", rd_name(r));
        else
            md_error(MD_ERR_FORMAT,
                     "%s: unsupported format (%s): mambadna reads FASTA, "
                     "FASTQ, SAM, BAM or CRAM", rd_name(r), desc ? desc : "?");
        free(desc);
        hclose_abruptly(hf);
        ret = MD_ERR_FORMAT;
    }
    }
    if (ret < 0) goto fail;
    return r;
fail:
    md_reader_close(r);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Indexed FASTA                                                       */
/* ------------------------------------------------------------------ */

struct md_faidx {
    faidx_t *fai;
    char *path;
    int n;
    int64_t *lens; /* by contig index; from the .fai (faidx_seq_len is int) */
    void *ids;     /* name -> index (khash_str2int; keys owned by fai) */
};

/* Compression of a FASTA to be indexed: 0 plain, 1 bgzip, or < -1 with a
 * message for files that cannot be indexed. */
static int faidx_check_file(const char *fasta)
{
    hFILE *hf = hopen(fasta, "r");
    if (!hf)
        return md_error(MD_ERR_IO, "cannot open FASTA '%s': %s", fasta,
                        strerror(errno));
    htsFormat fmt;
    int ret = hts_detect_format2(hf, fasta, &fmt);
    int err = errno;
    hclose_abruptly(hf);
    if (ret < 0)
        return md_error(MD_ERR_IO, "cannot read FASTA '%s': %s", fasta,
                        strerror(err));
    if (fmt.compression == gzip)
        return md_error(MD_ERR_FORMAT,
                        "%s is compressed with plain gzip, which cannot be "
                        "indexed for random access: recompress with bgzip "
                        "(zcat %s | bgzip > NEW.fa.gz)", fasta, fasta);
    if (fmt.compression != no_compression && fmt.compression != bgzf)
        return md_error(MD_ERR_FORMAT,
                        "%s is compressed with %s, which cannot be indexed: "
                        "recompress with bgzip", fasta,
                        compression_name(fmt.compression));
    switch (fmt.format) {
    case fastq_format:
        return md_error(MD_ERR_FORMAT, "%s is FASTQ: only FASTA can be indexed",
                        fasta);
    case sam: case bam: case cram: case bcf: case vcf:
        return md_error(MD_ERR_FORMAT, "%s is not a FASTA file", fasta);
    default: break;
    }
    if (fmt.compression == bgzf) {
        BGZF *fp = bgzf_open(fasta, "r");
        if (!fp)
            return md_error(MD_ERR_IO, "cannot open FASTA '%s': %s", fasta, strerror(errno));
        ret = md_eof_check_bgzf(fp, fasta, 0);
        bgzf_close(fp);
        if (ret < 0) return ret;
    }
    return fmt.compression == bgzf;
}

static int faidx_build_checked(const char *fasta)
{
    if (fai_build3(fasta, NULL, NULL) < 0)
        return md_error(MD_ERR_FORMAT,
                        "cannot index %s (the FASTA must have lines of equal "
                        "length within each record, no blank lines inside a "
                        "record, and a writable directory for %s.fai)",
                        fasta, fasta);
    return 0;
}

int md_faidx_build(const char *fasta)
{
    if (!fasta) return md_error(MD_ERR_ARG, "md_faidx_build: no file name");
    int ret = faidx_check_file(fasta);
    if (ret < 0) return ret;
    return faidx_build_checked(fasta);
}

/* Contig lengths as int64 from the .fai. */
static int faidx_read_lengths(md_faidx *fx, const char *fai_path)
{
    FILE *f = fopen(fai_path, "r");
    if (!f)
        return md_error(MD_ERR_IO, "cannot open index '%s': %s", fai_path,
                        strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int64_t lineno = 0, nset = 0;
    int ret = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = '\0';
        int id;
        if (khash_str2int_get(fx->ids, line, &id) < 0) continue;
        char *end;
        errno = 0;
        long long len = strtoll(tab + 1, &end, 10);
        if (errno || len < 0 || end == tab + 1) {
            ret = md_error(MD_ERR_FORMAT,
                           "%s line %" PRId64 ": bad length: rebuild the index "
                           "with `mambadna faidx`", fai_path, lineno);
            break;
        }
        fx->lens[id] = len;
        nset++;
    }
    free(line);
    fclose(f);
    if (ret == 0 && nset != fx->n)
        ret = md_error(MD_ERR_FORMAT,
                       "%s does not list the lengths of all %d contigs: rebuild "
                       "the index with `mambadna faidx`", fai_path, fx->n);
    return ret;
}

void md_faidx_close(md_faidx *fx)
{
    if (!fx) return;
    if (fx->ids) khash_str2int_destroy(fx->ids);
    if (fx->fai) fai_destroy(fx->fai);
    free(fx->lens);
    free(fx->path);
    free(fx);
}

static int file_exists(const char *path, struct stat *st)
{
    return stat(path, st) == 0;
}

md_faidx *md_faidx_open(const char *fasta, int build)
{
    if (!fasta || !*fasta) {
        md_error(MD_ERR_ARG, "md_faidx_open: no file name");
        return NULL;
    }
    if (strcmp(fasta, "-") == 0) {
        md_error(MD_ERR_ARG, "random access needs a FASTA file, not stdin");
        return NULL;
    }
    int is_bgzf = faidx_check_file(fasta);
    if (is_bgzf < 0) return NULL;

    size_t pl = strlen(fasta) + 5;
    char *fai_path = malloc(pl), *gzi_path = malloc(pl);
    md_faidx *fx = calloc(1, sizeof *fx);
    if (!fai_path || !gzi_path || !fx || !(fx->path = strdup(fasta))) {
        nomem("FASTA index");
        goto fail;
    }
    snprintf(fai_path, pl, "%s.fai", fasta);
    snprintf(gzi_path, pl, "%s.gzi", fasta);
    struct stat st_fa, st_fai, st_gzi;
    int have_fai = file_exists(fai_path, &st_fai);
    int have_gzi = !is_bgzf || file_exists(gzi_path, &st_gzi);
    if (!have_fai || !have_gzi) {
        if (!build) {
            md_error(MD_ERR_IO,
                     "%s has no index (%s not found): run `mambadna faidx %s` "
                     "or `samtools faidx %s`",
                     fasta, have_fai ? gzi_path : fai_path, fasta, fasta);
            goto fail;
        }
        if (faidx_build_checked(fasta) < 0) goto fail;
    } else if (stat(fasta, &st_fa) == 0 && st_fai.st_mtime < st_fa.st_mtime) {
        md_log(MD_LOG_WARN,
               "%s is older than %s: if the FASTA has changed, rebuild the "
               "index with `mambadna faidx %s`", fai_path, fasta, fasta);
    }
    fx->fai = fai_load3(fasta, NULL, NULL, 0);
    if (!fx->fai) {
        md_error(MD_ERR_FORMAT,
                 "cannot load the index of %s (%s corrupt?): rebuild it with "
                 "`mambadna faidx %s`", fasta, fai_path, fasta);
        goto fail;
    }
    fx->n = faidx_nseq(fx->fai);
    fx->lens = calloc(fx->n > 0 ? (size_t)fx->n : 1, sizeof *fx->lens);
    fx->ids = khash_str2int_init();
    if (!fx->lens || !fx->ids) {
        nomem("FASTA index");
        goto fail;
    }
    for (int i = 0; i < fx->n; i++)
        if (khash_str2int_set(fx->ids, faidx_iseq(fx->fai, i), i) < 0) {
            nomem("FASTA index");
            goto fail;
        }
    if (faidx_read_lengths(fx, fai_path) < 0) goto fail;
    free(fai_path);
    free(gzi_path);
    return fx;
fail:
    free(fai_path);
    free(gzi_path);
    md_faidx_close(fx);
    return NULL;
}

int md_faidx_n_contigs(const md_faidx *fx) { return fx ? fx->n : 0; }

const char *md_faidx_contig_name(const md_faidx *fx, int i)
{
    return fx && i >= 0 && i < fx->n ? faidx_iseq(fx->fai, i) : NULL;
}

int64_t md_faidx_contig_len(const md_faidx *fx, const char *name)
{
    if (!fx || !name) return md_error(MD_ERR_ARG, "md_faidx_contig_len: NULL argument");
    int id;
    if (khash_str2int_get(fx->ids, name, &id) == 0) return fx->lens[id];
    char some[256] = "";
    size_t o = 0;
    for (int i = 0; i < fx->n && i < 5 && o < sizeof some; i++)
        o += (size_t)snprintf(some + o, sizeof some - o, "%s%s", i ? ", " : "",
                              faidx_iseq(fx->fai, i));
    return md_error(MD_ERR_ARG,
                    "contig '%s' is not in %s (its %d contig%s: %s%s); if the "
                    "FASTA has changed, rebuild its index with `mambadna "
                    "faidx %s`",
                    name, fx->path, fx->n, fx->n == 1 ? "" : "s", some,
                    fx->n > 5 ? ", ..." : "", fx->path);
}

int md_faidx_fetch(md_faidx *fx, const char *contig, int64_t beg, int64_t end,
                   md_record *rec)
{
    if (!fx || !contig || !rec)
        return md_error(MD_ERR_ARG, "md_faidx_fetch: NULL argument");
    int64_t len = md_faidx_contig_len(fx, contig);
    if (len < 0) return (int)len;
    if (end == INT64_MAX) end = len;
    if (beg < 0 || beg > end || end > len)
        return md_error(MD_ERR_ARG,
                        "%s: [%" PRId64 ", %" PRId64 ") is out of range for "
                        "contig %s of length %" PRId64,
                        fx->path, beg, end, contig, len);
    if (set_str(&rec->name, &rec->m_name, contig, strlen(contig)) < 0 ||
        set_str(&rec->comment, &rec->m_comment, "", 0) < 0)
        return nomem("record name");
    rec->flag = 0;
    rec->beg = beg;
    rec->len = 0;
    if (beg == end) {
        if (set_str(&rec->seq, &rec->m_seq, "", 0) < 0) return nomem("sequence");
        return 0;
    }
    hts_pos_t got = 0;
    char *s = faidx_fetch_seq64(fx->fai, contig, beg, end - 1, &got);
    if (!s || got != end - beg) {
        int64_t n = s ? (int64_t)got : 0;
        free(s);
        if (set_str(&rec->seq, &rec->m_seq, "", 0) < 0) return nomem("sequence");
        return md_error(MD_ERR_IO,
                        "%s: cannot read %s:%" PRId64 "-%" PRId64 " (got %" PRId64
                        " bases): the file may have changed since it was "
                        "indexed; rebuild the index with `mambadna faidx %s`",
                        fx->path, contig, beg + 1, end, n, fx->path);
    }
    free(rec->seq);
    rec->seq = s;
    rec->m_seq = (size_t)got + 1;
    rec->len = got;
    return 0;
}
