/* labelled.c: labelled sequences for fine-tuning and evaluation.
 *
 *  - CSV/TSV "sequence,label" (the GUE layout): read line by line through
 *    htslib (plain, gzip or bgzip). The delimiter is a tab when the first
 *    line has one, else a comma. The first line is a header when its label
 *    field is not an integer and it does not look like a data row (see
 *    csv_header below); a header naming "sequence" and "label" columns picks
 *    them in any order, otherwise the sequence is column 1 and the label
 *    column 2. Fields may be quoted ("ACGT" as R's write.csv writes it).
 *  - FASTA (or anything md_reader reads) with "label=K" in the header line.
 *  - One file per class (positives 1, negatives 0).
 *  - BED intervals of an indexed genome with the class in the 5th column.
 *
 * Every error names the file and the line (or the record) and says what to
 * do. On error the output is left empty (all freed). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <htslib/hfile.h>
#include <htslib/hts.h>
#include <htslib/kstring.h>

#include "bgzf_eof.h"
#include "mambadna.h"

/* Largest class id accepted: far beyond any classification head, small
 * enough that per-class tables stay small. */
#define MD_LABEL_MAX 65535

/* ------------------------------------------------------------------ */
/* Building the output                                                 */
/* ------------------------------------------------------------------ */

void md_labelled_free(md_labelled *d)
{
    if (!d) return;
    for (int64_t i = 0; i < d->n; i++) {
        if (d->names) free(d->names[i]);
        if (d->seqs) free(d->seqs[i]);
    }
    free(d->names);
    free(d->seqs);
    free(d->lens);
    free(d->labels);
    memset(d, 0, sizeof *d);
}

typedef struct builder {
    md_labelled *d;
    int64_t cap;
} builder;

static int nomem(const char *path)
{
    return md_error(MD_ERR_NOMEM, "out of memory reading %s", path);
}

/* Append a sequence; name and seq are taken over (freed on failure). */
static int push(builder *b, char *name, char *seq, int64_t len, int32_t label,
                const char *path)
{
    md_labelled *d = b->d;
    if (!name || !seq) goto fail;
    if (d->n == b->cap) {
        int64_t cap = b->cap ? 2 * b->cap : 1024;
        char **nm = realloc(d->names, (size_t)cap * sizeof *nm);
        if (nm) d->names = nm;
        char **sq = realloc(d->seqs, (size_t)cap * sizeof *sq);
        if (sq) d->seqs = sq;
        int64_t *ln = realloc(d->lens, (size_t)cap * sizeof *ln);
        if (ln) d->lens = ln;
        int32_t *lb = realloc(d->labels, (size_t)cap * sizeof *lb);
        if (lb) d->labels = lb;
        if (!nm || !sq || !ln || !lb) goto fail;
        b->cap = cap;
    }
    d->names[d->n] = name;
    d->seqs[d->n] = seq;
    d->lens[d->n] = len;
    d->labels[d->n] = label;
    d->n++;
    if (label + 1 > d->n_classes) d->n_classes = label + 1;
    return 0;
fail:
    free(name);
    free(seq);
    return nomem(path);
}

/* A copy of s[0..n) as a NUL-terminated string, or NULL. */
static char *dupn(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static const char *shown(const char *path)
{
    return strcmp(path, "-") == 0 ? "stdin" : path;
}

/* Parse a class id: 0 and *v set; 1 not an integer; 2 negative; 3 too large. */
static int parse_label(const char *s, size_t n, int32_t *v)
{
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    if (i == n) return 1;
    int64_t x = 0;
    int big = 0;
    for (; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return 1;
        if (x <= MD_LABEL_MAX) x = x * 10 + (s[i] - '0');
        else big = 1;
    }
    if (neg && x != 0) return 2;
    if (big || x > MD_LABEL_MAX) return 3;
    *v = (int32_t)x;
    return 0;
}

/* Error for a label field that parse_label refused with code r. */
static int label_error(const char *where, int64_t line, const char *s, size_t n, int r)
{
    int w = n > 40 ? 40 : (int)n;
    const char *more = n > 40 ? "..." : "";
    if (r == 2)
        return md_error(MD_ERR_FORMAT,
                        "%s line %" PRId64 ": label '%.*s' is negative: class "
                        "labels are 0, 1, ... (0 for negatives)",
                        where, line, w, s);
    if (r == 3)
        return md_error(MD_ERR_FORMAT,
                        "%s line %" PRId64 ": label '%.*s%s' is too large (at "
                        "most %d): class labels are 0, 1, ...",
                        where, line, w, s, more, MD_LABEL_MAX);
    return md_error(MD_ERR_FORMAT,
                    "%s line %" PRId64 ": label '%.*s%s' is not an integer: "
                    "class labels are 0, 1, ... (is the label the second "
                    "column, or named \"label\" in the header?)",
                    where, line, w, s, more);
}

/* ------------------------------------------------------------------ */
/* CSV / TSV                                                           */
/* ------------------------------------------------------------------ */

#define CSV_MAX_FIELDS 64 /* fields looked at per row; more are ignored */

typedef struct csv_row {
    char *f[CSV_MAX_FIELDS];
    size_t len[CSV_MAX_FIELDS];
    int n; /* fields in the row (may exceed CSV_MAX_FIELDS) */
} csv_row;

/* Split line (modified in place) at delim; fields are trimmed of blanks and
 * unquoted ("a""b" -> a"b). 0, or 1 for an unterminated quote. */
static int csv_split(char *line, int delim, csv_row *row)
{
    row->n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || (*p == '\t' && delim != '\t')) p++;
        char *start = p, *end;
        if (*p == '"') {
            char *w = p;
            p++;
            for (;;) {
                if (!*p) return 1;
                if (*p == '"') {
                    if (p[1] == '"') {
                        *w++ = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                *w++ = *p++;
            }
            end = w;
            while (*p && *p != delim) p++; /* blanks after the closing quote */
        } else {
            while (*p && *p != delim) p++;
            end = p;
            while (end > start && isspace((unsigned char)end[-1])) end--;
        }
        int last = *p == '\0';
        *end = '\0';
        if (row->n < CSV_MAX_FIELDS) {
            row->f[row->n] = start;
            row->len[row->n] = (size_t)(end - start);
        }
        row->n++;
        if (last) return 0;
        p++;
    }
}

/* Could s[0..n) be a sequence of bases (so a row holding it is data, not a
 * header)? Only A, C, G, T, U, N in either case. */
static int looks_like_bases(const char *s, size_t n)
{
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("ACGTUNacgtun", s[i])) return 0;
    return 1;
}

static int find_field(const csv_row *row, const char *name)
{
    int n = row->n < CSV_MAX_FIELDS ? row->n : CSV_MAX_FIELDS;
    for (int i = 0; i < n; i++)
        if (strcasecmp(row->f[i], name) == 0) return i;
    return -1;
}

/* Decide from the first row whether it is a header and which columns hold
 * the sequence and the label. 1 header, 0 data, < -1 error. */
static int csv_header(const char *path, const csv_row *row, int *seq_col,
                      int *label_col)
{
    *seq_col = 0;
    *label_col = 1;
    int32_t v;
    int r = parse_label(row->f[1], row->len[1], &v);
    if (r != 1) return 0; /* an integer (even a bad one): a data row */
    int s = find_field(row, "sequence"), l = find_field(row, "label");
    if (s < 0 && l < 0 && row->n == 2) { /* "seq,label"-like names */
        if (looks_like_bases(row->f[0], row->len[0]))
            return label_error(path, 1, row->f[1], row->len[1], r);
        return 1;
    }
    if (row->n == 2) { /* one name given: the other column is the other one */
        if (s < 0) s = 1 - l;
        if (l < 0) l = 1 - s;
    }
    if (s < 0 || l < 0) {
        if (looks_like_bases(row->f[0], row->len[0]))
            return label_error(path, 1, row->f[1], row->len[1], r);
        if (s >= 0 || l >= 0)
            return md_error(MD_ERR_FORMAT,
                            "%s line 1: the header names a \"%s\" column but no "
                            "\"%s\" column: name the columns \"sequence\" and "
                            "\"label\"", path, s >= 0 ? "sequence" : "label",
                            s >= 0 ? "label" : "sequence");
        return 1; /* a header without the names: columns 1 and 2 */
    }
    if (s == l)
        return md_error(MD_ERR_FORMAT, "%s line 1: one column is named both "
                        "sequence and label", path);
    *seq_col = s;
    *label_col = l;
    return 1;
}

static int read_csv(const char *path, htsFile *fp, kstring_t *line, int64_t lineno,
                    builder *b)
{
    const char *name = shown(path);
    int delim = 0, seq_col = 0, label_col = 1, ret = 0, first = 1;
    int64_t row_index = 0;
    csv_row row;
    /* line holds the first non-blank line (number lineno) on entry */
    for (;;) {
        size_t l = line->l;
        while (l && (line->s[l - 1] == '\r' || line->s[l - 1] == '\n')) l--;
        line->s[l] = '\0';
        const char *q = line->s;
        while (*q && isspace((unsigned char)*q)) q++;
        if (*q == '\0') goto next; /* blank line */
        if (!delim) {
            delim = strchr(line->s, '\t') ? '\t' : strchr(line->s, ',') ? ',' : 0;
            if (!delim)
                return md_error(MD_ERR_FORMAT,
                                "%s line %" PRId64 ": one column only: expected "
                                "a sequence and a label separated by a comma "
                                "(CSV) or a tab (TSV), or FASTA with label=K "
                                "in the headers", name, lineno);
        }
        if (csv_split(line->s, delim, &row))
            return md_error(MD_ERR_FORMAT,
                            "%s line %" PRId64 ": a quoted field is not closed "
                            "(quotes cannot span lines)", name, lineno);
        if (first) { /* header or data? */
            first = 0;
            if (row.n < 2)
                return md_error(MD_ERR_FORMAT,
                                "%s line %" PRId64 ": one column only: expected "
                                "a sequence and a label separated by '%s'",
                                name, lineno, delim == '\t' ? "\\t" : ",");
            int h = csv_header(name, &row, &seq_col, &label_col);
            if (h < 0) return h;
            if (h == 1) goto next;
        }
        int need = (seq_col > label_col ? seq_col : label_col) + 1;
        if (row.n < need)
            return md_error(MD_ERR_FORMAT,
                            "%s line %" PRId64 ": missing field: %d field%s "
                            "where %d are needed (the %s in column %d), "
                            "separated by '%s'",
                            name, lineno, row.n, row.n == 1 ? "" : "s", need,
                            seq_col > label_col ? "sequence" : "label", need,
                            delim == '\t' ? "\\t" : ",");
        const char *seq = row.f[seq_col], *lab = row.f[label_col];
        size_t sl = row.len[seq_col], ll = row.len[label_col];
        int32_t label;
        int r = parse_label(lab, ll, &label);
        if (r) return label_error(name, lineno, lab, ll, r);
        if (sl == 0)
            return md_error(MD_ERR_FORMAT, "%s line %" PRId64 ": empty sequence",
                            name, lineno);
        for (size_t i = 0; i < sl; i++)
            if (!isgraph((unsigned char)seq[i]))
                return md_error(MD_ERR_FORMAT,
                                "%s line %" PRId64 ": the sequence has a blank "
                                "or control character at position %zu",
                                name, lineno, i + 1);
        char nm[32];
        snprintf(nm, sizeof nm, "row%" PRId64, row_index);
        if ((ret = push(b, strdup(nm), dupn(seq, sl), (int64_t)sl, label, name)) < 0)
            return ret;
        row_index++;
    next:
        ret = hts_getline(fp, '\n', line);
        if (ret == -1) break;
        if (ret < -1)
            return md_error(MD_ERR_IO,
                            "%s: read error after line %" PRId64
                            " (truncated or corrupt gzip data?)", name, lineno);
        lineno++;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* FASTA                                                               */
/* ------------------------------------------------------------------ */

static int is_word_byte(int c) { return isalnum(c) || c == '_'; }

/* Find "label=K" in s as a word of its own ("x label=1", "x|label=1;...").
 * 0 and *label set, 1 not found, or the parse_label code (>= 2 or 1 with
 * *bad set) for a value that is not a class id. */
static int find_label(const char *s, int32_t *label, const char **bad, size_t *bad_len)
{
    for (const char *p = s; (p = strstr(p, "label=")) != NULL; p += 6) {
        if (p > s && is_word_byte((unsigned char)p[-1])) continue;
        const char *v = p + 6;
        size_t n = 0;
        while (v[n] && !isspace((unsigned char)v[n]) && !strchr("|;,)]}\"'", v[n])) n++;
        *bad = v;
        *bad_len = n;
        int r = parse_label(v, n, label);
        return r == 0 ? 0 : r == 1 ? 4 : r;
    }
    return 1;
}

/* Read every record of a sequence file; label < 0: from "label=K". */
static int read_records(const char *path, int32_t fixed_label, builder *b)
{
    const char *name = shown(path);
    md_reader *r = md_reader_open(path, NULL);
    if (!r) return MD_ERR_IO; /* message set */
    md_record rec = {0};
    int ret, status = 0;
    int64_t k = 0;
    char *hdr = NULL;
    while ((ret = md_reader_next(r, &rec)) == 0) {
        k++;
        int32_t label = fixed_label;
        if (fixed_label < 0) {
            size_t nl = strlen(rec.name), cl = strlen(rec.comment);
            char *h = realloc(hdr, nl + cl + 2);
            if (!h) {
                status = nomem(name);
                break;
            }
            hdr = h;
            memcpy(hdr, rec.name, nl);
            hdr[nl] = ' ';
            memcpy(hdr + nl + 1, rec.comment, cl + 1);
            const char *bad = NULL;
            size_t bad_len = 0;
            int f = find_label(hdr, &label, &bad, &bad_len);
            if (f == 1) {
                status = md_error(MD_ERR_FORMAT,
                                  "%s: record %" PRId64 " ('%.60s') has no "
                                  "label=K in its header line: write label=0, "
                                  "label=1, ... in every header, or give one "
                                  "FASTA per class (positives, negatives)",
                                  name, k, rec.name);
                break;
            }
            if (f) {
                int w = bad_len > 40 ? 40 : (int)bad_len;
                status = md_error(MD_ERR_FORMAT,
                                  "%s: record %" PRId64 " ('%.60s'): label=%.*s "
                                  "is %s: class labels are 0, 1, ...",
                                  name, k, rec.name, w, bad,
                                  f == 2 ? "negative"
                                  : f == 3 ? "too large" : "not an integer");
                break;
            }
        }
        if (rec.len == 0) {
            status = md_error(MD_ERR_FORMAT,
                              "%s: record %" PRId64 " ('%.60s') has an empty "
                              "sequence: remove it", name, k, rec.name);
            break;
        }
        if ((status = push(b, strdup(rec.name), dupn(rec.seq, (size_t)rec.len),
                           rec.len, label, name)) < 0)
            break;
    }
    if (!status && ret < -1) status = ret;
    if (!status && k == 0)
        status = md_error(MD_ERR_FORMAT, "%s contains no sequences", name);
    free(hdr);
    md_record_free(&rec);
    md_reader_close(r);
    return status;
}

/* ------------------------------------------------------------------ */
/* Public readers                                                      */
/* ------------------------------------------------------------------ */

/* Open a text file through htslib (plain or gzip), refusing binary formats. */
static htsFile *open_text(const char *path)
{
    const char *name = shown(path);
    hFILE *hf = hopen(path, "r"); /* hopen first: hts_open logs to stderr */
    if (!hf) {
        md_error(MD_ERR_IO, "cannot open '%s': %s", name, strerror(errno));
        return NULL;
    }
    htsFile *fp = hts_hopen(hf, path, "r");
    if (!fp) {
        int err = errno;
        hclose_abruptly(hf);
        md_error(MD_ERR_IO, "cannot read '%s': %s", name,
                 err ? strerror(err) : "unknown format or compression");
        return NULL;
    }
    switch (hts_get_format(fp)->format) {
    case bam: case cram: case bcf: case binary_format: case bai: case csi:
    case tbi: case crai: case gzi:
        hts_close(fp);
        md_error(MD_ERR_FORMAT,
                 "'%s' is a binary file: labelled sequences are read from CSV/TSV "
                 "(sequence,label), FASTA with label=K in the headers, or BED "
                 "with the label in column 5", name);
        return NULL;
    default:
        if (md_eof_check_hts(fp, name, 0) < 0) { /* a bgzip file must be whole */
            hts_close(fp);
            return NULL;
        }
        return fp;
    }
}

int md_labelled_read(const char *path, md_labelled *out)
{
    if (!out) return md_error(MD_ERR_ARG, "md_labelled_read: NULL argument");
    memset(out, 0, sizeof *out);
    if (!path || !*path) return md_error(MD_ERR_ARG, "md_labelled_read: no file name");
    const char *name = shown(path);
    htsFile *fp = open_text(path);
    if (!fp) return MD_ERR_IO;
    kstring_t line = {0, 0, NULL};
    int64_t lineno = 0;
    int ret, status = 0;
    builder b = {out, 0};
    /* the first non-blank line decides the format */
    while ((ret = hts_getline(fp, '\n', &line)) >= 0) {
        lineno++;
        const char *q = line.s;
        while (*q && isspace((unsigned char)*q)) q++;
        if (*q) break;
    }
    if (ret < -1) {
        status = md_error(MD_ERR_IO, "%s: read error after line %" PRId64
                          " (truncated or corrupt gzip data?)", name, lineno);
    } else if (ret == -1) {
        status = md_error(MD_ERR_FORMAT, "%s is empty: expected CSV/TSV "
                          "(sequence,label) or FASTA with label=K", name);
    } else if (line.s[strspn(line.s, " \t")] == '>') {
        hts_close(fp);
        fp = NULL;
        if (strcmp(path, "-") == 0)
            status = md_error(MD_ERR_ARG, "labelled FASTA cannot be read from "
                              "stdin: give the file name");
        else
            status = read_records(path, -1, &b);
    } else if (line.s[strspn(line.s, " \t")] == '@') {
        status = md_error(MD_ERR_FORMAT,
                          "%s line %" PRId64 " starts with '@' (FASTQ?): labelled "
                          "sequences are read from CSV/TSV (sequence,label) or "
                          "FASTA with label=K in the headers", name, lineno);
    } else {
        status = read_csv(path, fp, &line, lineno, &b);
        if (!status && out->n == 0)
            status = md_error(MD_ERR_FORMAT, "%s has a header but no rows", name);
    }
    free(line.s);
    if (fp) hts_close(fp);
    if (status < 0) md_labelled_free(out);
    return status < 0 ? status : 0;
}

int md_labelled_read_classes(const char *pos_fasta, const char *neg_fasta, md_labelled *out)
{
    if (!out) return md_error(MD_ERR_ARG, "md_labelled_read_classes: NULL argument");
    memset(out, 0, sizeof *out);
    if (!pos_fasta || !neg_fasta)
        return md_error(MD_ERR_ARG, "md_labelled_read_classes: give both files");
    builder b = {out, 0};
    int ret = read_records(pos_fasta, 1, &b);
    if (ret == 0) ret = read_records(neg_fasta, 0, &b);
    if (ret < 0) {
        md_labelled_free(out);
        return ret;
    }
    out->n_classes = 2;
    return 0;
}

/* Column col (0-based) of a BED line split as md_bed_parse_line splits it
 * (tabs, or runs of spaces when the line has no tab): 0 and [*s, *s + *n),
 * or 1 when the line has fewer columns. */
static int bed_column(const char *line, int col, const char **s, size_t *n)
{
    int tab = strchr(line, '\t') != NULL;
    const char *p = line;
    for (int c = 0;; c++) {
        if (!tab) {
            while (*p == ' ') p++;
            if (!*p) return 1;
        }
        const char *e = p;
        while (*e && *e != (tab ? '\t' : ' ') && *e != '\r' && *e != '\n') e++;
        if (c == col) {
            *s = p;
            *n = (size_t)(e - p);
            return 0;
        }
        if (*e != (tab ? '\t' : ' ')) return 1;
        p = e + 1;
    }
}

int md_labelled_read_bed(const char *bed, const char *genome, md_labelled *out)
{
    if (!out) return md_error(MD_ERR_ARG, "md_labelled_read_bed: NULL argument");
    memset(out, 0, sizeof *out);
    if (!bed || !genome)
        return md_error(MD_ERR_ARG, "md_labelled_read_bed: give a BED file and a genome");
    const char *name = shown(bed);
    md_faidx *fx = md_faidx_open(genome, 0);
    if (!fx) return MD_ERR_IO;
    htsFile *fp = open_text(bed);
    if (!fp) {
        md_faidx_close(fx);
        return MD_ERR_IO;
    }
    builder b = {out, 0};
    kstring_t line = {0, 0, NULL};
    md_record rec = {0};
    int64_t lineno = 0;
    int ret, status = 0;
    char msg[768];
    while ((ret = hts_getline(fp, '\n', &line)) >= 0) {
        lineno++;
        md_region reg;
        int r = md_bed_parse_line(line.s, &reg);
        if (r == 1) continue;
        if (r < 0) {
            snprintf(msg, sizeof msg, "%s", md_last_error());
            status = md_error(r, "%s line %" PRId64 ": %s", name, lineno, msg);
            break;
        }
        const char *lab;
        size_t ll;
        int32_t label;
        if (bed_column(line.s, 4, &lab, &ll)) {
            md_region_free(&reg);
            status = md_error(MD_ERR_FORMAT,
                              "%s line %" PRId64 ": no column 5: the label (class "
                              "0, 1, ...) goes in the 5th column (score), after "
                              "chrom, start, end and name", name, lineno);
            break;
        }
        if ((r = parse_label(lab, ll, &label)) != 0) {
            md_region_free(&reg);
            status = label_error(name, lineno, lab, ll, r);
            break;
        }
        if (reg.beg == reg.end) {
            md_region_free(&reg);
            status = md_error(MD_ERR_FORMAT, "%s line %" PRId64 ": empty interval "
                              "(start = end): no sequence to classify", name, lineno);
            break;
        }
        if ((r = md_region_check(fx, &reg)) < 0 ||
            (r = md_faidx_fetch(fx, reg.contig, reg.beg, reg.end, &rec)) < 0) {
            snprintf(msg, sizeof msg, "%s", md_last_error());
            md_region_free(&reg);
            status = md_error(r, "%s line %" PRId64 ": %s", name, lineno, msg);
            break;
        }
        if (reg.strand == '-') md_revcomp_seq(rec.seq, rec.len);
        char *nm;
        if (reg.name && strcmp(reg.name, ".") != 0) {
            nm = strdup(reg.name);
        } else {
            size_t sz = strlen(reg.contig) + 48;
            nm = malloc(sz);
            if (nm)
                snprintf(nm, sz, "%s:%" PRId64 "-%" PRId64 "%s", reg.contig,
                         reg.beg + 1, reg.end,
                         reg.strand == '-' ? "(-)" : reg.strand == '+' ? "(+)" : "");
        }
        md_region_free(&reg);
        if ((status = push(&b, nm, dupn(rec.seq, (size_t)rec.len), rec.len, label,
                           name)) < 0)
            break;
    }
    if (!status && ret < -1)
        status = md_error(MD_ERR_IO, "%s: read error after line %" PRId64
                          " (truncated or corrupt gzip data?)", name, lineno);
    if (!status && out->n == 0)
        status = md_error(MD_ERR_FORMAT, "%s has no intervals", name);
    free(line.s);
    md_record_free(&rec);
    hts_close(fp);
    md_faidx_close(fx);
    if (status < 0) md_labelled_free(out);
    return status < 0 ? status : 0;
}
