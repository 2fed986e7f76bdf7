/* region.c: region strings ("chr:beg-end", 1-based inclusive, as samtools)
 * and BED lines (0-based half-open), both to md_region (0-based half-open).
 *
 * md_region_parse follows htslib's hts_parse_reg64 / hts_parse_region
 * conventions ("chr", "chr:100" to the end, "chr:100-200", "chr:-200",
 * "chr:100-", commas in numbers, "{name}" braces for names that look like
 * ranges) but is stricter: position 0, reversed ranges and overflowing
 * numbers are errors, and a name whose part after the last ':' is not a range
 * ("HLA-A*01:01:x") is taken whole as the contig. It is reimplemented rather
 * than wrapped because htslib needs the contig names up front to split such
 * names, logs to stderr, does not check for overflow, and in 1.16 turns
 * "chr:0-5" into a start of -1. Numbers take commas and k/M/G multipliers
 * ("1,000", "2.5k") as in htslib; E notation is not accepted. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <htslib/hfile.h>
#include <htslib/hts.h>
#include <htslib/kstring.h>

#include "mambadna.h"

/* Largest accepted coordinate; INT64_MAX itself means "to the contig end". */
#define MD_POS_LIMIT (INT64_MAX - 1)

void md_region_free(md_region *reg)
{
    if (!reg) return;
    free(reg->contig);
    free(reg->name);
    reg->contig = reg->name = NULL;
}

void md_regions_free(md_region *regs, size_t n)
{
    if (!regs) return;
    for (size_t i = 0; i < n; i++) md_region_free(&regs[i]);
    free(regs);
}

static void region_clear(md_region *out)
{
    out->contig = NULL;
    out->name = NULL;
    out->beg = 0;
    out->end = INT64_MAX;
    out->strand = '.';
}

/* ------------------------------------------------------------------ */
/* Region strings                                                      */
/* ------------------------------------------------------------------ */

/* A position as hts_parse_decimal reads it in samtools regions: digits with
 * optional commas, and an optional k/M/G multiplier that may follow a
 * decimal fraction ("2.5k"). 0 and *v set, 1 when s[0..n) is not a
 * position, < -1 (message names the region str) for overflow or a value that
 * is not a whole number. */
static int parse_pos(const char *str, const char *s, size_t n, int64_t *v)
{
    size_t i = 0;
    int64_t x = 0, frac = 0, fscale = 1;
    int ndig = 0, nfrac = 0, overflow = 0, inexact = 0;
    for (; i < n && (isdigit((unsigned char)s[i]) || (s[i] == ',' && ndig)); i++) {
        if (s[i] == ',') continue;
        int d = s[i] - '0';
        if (x > (MD_POS_LIMIT - d) / 10) overflow = 1;
        else x = x * 10 + d;
        ndig++;
    }
    if (!ndig || s[i - 1] == ',') return 1;
    if (i < n && s[i] == '.') {
        for (i++; i < n && isdigit((unsigned char)s[i]); i++, nfrac++)
            if (nfrac < 9) {
                frac = frac * 10 + (s[i] - '0');
                fscale *= 10;
            } else if (s[i] != '0') {
                inexact = 1;
            }
        if (!nfrac) return 1;
    }
    int64_t mult = 1;
    if (i < n) {
        switch (s[i]) {
        case 'k': case 'K': mult = 1000; break;
        case 'm': case 'M': mult = 1000000; break;
        case 'g': case 'G': mult = 1000000000; break;
        default: return 1;
        }
        i++;
    }
    if (i != n || (nfrac && mult == 1)) return 1;
    if (overflow || x > MD_POS_LIMIT / mult)
        return md_error(MD_ERR_ARG,
                        "region '%s': position too large (at most %" PRId64 ")",
                        str, (int64_t)MD_POS_LIMIT);
    x *= mult;
    if (frac || inexact) {
        if (inexact || (frac * mult) % fscale)
            return md_error(MD_ERR_ARG, "region '%s': '%.*s' is not a whole "
                            "position", str, (int)n, s);
        x += frac * mult / fscale; /* < mult: no overflow past the limit */
        if (x > MD_POS_LIMIT)
            return md_error(MD_ERR_ARG,
                            "region '%s': position too large (at most %" PRId64 ")",
                            str, (int64_t)MD_POS_LIMIT);
    }
    *v = x;
    return 0;
}

/* Parse a range "A", "A-", "A-B", "-B" (1-based inclusive) into [beg, end).
 * 1 when r[0..n) is not range syntax at all, 0 on success, < -1 when it is a
 * range with bad values (message names the region str). */
static int parse_range(const char *str, const char *r, size_t n, int64_t *beg,
                       int64_t *end)
{
    const char *dash = memchr(r, '-', n);
    size_t na = dash ? (size_t)(dash - r) : n;
    size_t nb = dash ? n - na - 1 : 0;
    const char *b = dash ? dash + 1 : NULL;
    if (na == 0 && nb == 0) return 1;            /* "" or "-" */
    int64_t a = 1, e = INT64_MAX;
    int ra = na ? parse_pos(str, r, na, &a) : 0;
    int rb = nb ? parse_pos(str, b, nb, &e) : 0;
    if (ra == 1 || rb == 1) return 1;
    if (ra < 0) return ra;
    if (rb < 0) return rb;
    if (a < 1 || (nb && e < 1))
        return md_error(MD_ERR_ARG,
                        "region '%s': positions are 1-based and must be >= 1",
                        str);
    if (a > e)
        return md_error(MD_ERR_ARG,
                        "region '%s': the start %" PRId64 " is after the end %" PRId64,
                        str, a, e);
    *beg = a - 1;
    *end = e;
    return 0;
}

int md_region_parse(const char *str, md_region *out)
{
    if (!out) return md_error(MD_ERR_ARG, "md_region_parse: NULL argument");
    region_clear(out);
    if (!str) return md_error(MD_ERR_ARG, "md_region_parse: NULL argument");
    size_t n = strlen(str);
    if (n == 0) return md_error(MD_ERR_ARG, "empty region");
    for (size_t i = 0; i < n; i++)
        if (isspace((unsigned char)str[i]) || !isprint((unsigned char)str[i]))
            return md_error(MD_ERR_ARG,
                            "region '%s' contains white space or a control "
                            "character", str);

    const char *name = str;
    size_t nl = n;
    int64_t beg = 0, end = INT64_MAX;
    if (str[0] == '{') { /* "{name}" or "{name}:range" */
        const char *close = strchr(str + 1, '}');
        if (!close)
            return md_error(MD_ERR_ARG, "region '%s': unbalanced braces", str);
        name = str + 1;
        nl = (size_t)(close - name);
        if (close[1] == ':') {
            const char *r = close + 2;
            size_t rn = strlen(r);
            int ret = rn ? parse_range(str, r, rn, &beg, &end) : 0;
            if (ret < 0) return ret;
            if (ret == 1)
                return md_error(MD_ERR_ARG,
                                "region '%s': '%s' is not a range (use "
                                "BEG-END, 1-based)", str, r);
        } else if (close[1] != '\0') {
            return md_error(MD_ERR_ARG,
                            "region '%s': expected ':' or the end after '}'",
                            str);
        }
    } else {
        const char *colon = strrchr(str, ':');
        if (colon) {
            const char *r = colon + 1;
            size_t rn = n - (size_t)(r - str);
            int ret = rn ? parse_range(str, r, rn, &beg, &end) : 0;
            if (ret < 0) return ret;
            if (ret == 0) nl = (size_t)(colon - str);
            /* ret == 1: not a range, the whole string names the contig */
        }
    }
    if (nl == 0) return md_error(MD_ERR_ARG, "region '%s': empty contig name", str);
    out->contig = strndup(name, nl);
    if (!out->contig) return md_error(MD_ERR_NOMEM, "out of memory (region)");
    out->beg = beg;
    out->end = end;
    return 0;
}

/* ------------------------------------------------------------------ */
/* BED                                                                 */
/* ------------------------------------------------------------------ */

/* A BED coordinate: digits only, at most MD_POS_LIMIT. */
static int bed_pos(const char *s, int col, const char *what, int64_t *v)
{
    if (!*s)
        return md_error(MD_ERR_FORMAT, "BED column %d (%s) is empty", col, what);
    int64_t x = 0;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return md_error(MD_ERR_FORMAT,
                            "BED column %d (%s) '%.40s' is not a non-negative "
                            "integer", col, what, s);
        int d = *p - '0';
        if (x > (MD_POS_LIMIT - d) / 10)
            return md_error(MD_ERR_FORMAT, "BED column %d (%s) '%.40s' is too large",
                            col, what, s);
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

#define BED_MAX_COLS 6 /* columns used; more (BED12 etc.) are ignored */

int md_bed_parse_line(const char *line, md_region *out)
{
    if (!out) return md_error(MD_ERR_ARG, "md_bed_parse_line: NULL argument");
    region_clear(out);
    out->end = 0;
    if (!line) return md_error(MD_ERR_ARG, "md_bed_parse_line: NULL argument");

    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
    const char *p = line;
    while (p < line + n && (*p == ' ' || *p == '\t')) p++;
    if (p == line + n || *p == '#' || starts_word(p, "track") ||
        starts_word(p, "browser"))
        return 1;

    char *buf = strndup(line, n);
    if (!buf) return md_error(MD_ERR_NOMEM, "out of memory (BED line)");
    /* Columns are separated by tabs; a line without any tab is split at runs
     * of spaces (space-separated BED as some tools write it). */
    char *col[BED_MAX_COLS];
    int ncol = 0;
    if (strchr(buf, '\t')) {
        char *s = buf;
        for (;;) {
            char *t = strchr(s, '\t');
            if (ncol < BED_MAX_COLS) col[ncol] = s;
            ncol++;
            if (!t) break;
            *t = '\0';
            s = t + 1;
        }
    } else {
        char *s = buf;
        for (;;) {
            while (*s == ' ') s++;
            if (!*s) break;
            if (ncol < BED_MAX_COLS) col[ncol] = s;
            ncol++;
            while (*s && *s != ' ') s++;
            if (!*s) break;
            *s++ = '\0';
        }
    }
    int ret = 0;
    int64_t beg = 0, end = 0;
    char strand = '.';
    if (ncol < 3) {
        ret = md_error(MD_ERR_FORMAT,
                       "BED line has %d column%s: expected at least 3 (chrom, "
                       "start, end) separated by tabs", ncol, ncol == 1 ? "" : "s");
        goto done;
    }
    if (!*col[0]) {
        ret = md_error(MD_ERR_FORMAT, "BED column 1 (chrom) is empty");
        goto done;
    }
    for (const char *c = col[0]; *c; c++)
        if (isspace((unsigned char)*c) || !isprint((unsigned char)*c)) {
            ret = md_error(MD_ERR_FORMAT,
                           "BED column 1 (chrom) '%.40s' contains white space "
                           "or a control character", col[0]);
            goto done;
        }
    if ((ret = bed_pos(col[1], 2, "start", &beg)) < 0) goto done;
    if ((ret = bed_pos(col[2], 3, "end", &end)) < 0) goto done;
    if (beg > end) {
        ret = md_error(MD_ERR_FORMAT,
                       "BED start %" PRId64 " is greater than end %" PRId64, beg, end);
        goto done;
    }
    if (ncol >= 6) {
        const char *s = col[5];
        if (!((s[0] == '+' || s[0] == '-' || s[0] == '.') && s[1] == '\0')) {
            ret = md_error(MD_ERR_FORMAT,
                           "BED column 6 (strand) '%.40s' must be '+', '-' or '.'",
                           s);
            goto done;
        }
        strand = s[0];
    }
    out->contig = strdup(col[0]);
    if (ncol >= 4 && *col[3]) out->name = strdup(col[3]);
    if (!out->contig || (ncol >= 4 && *col[3] && !out->name)) {
        md_region_free(out);
        ret = md_error(MD_ERR_NOMEM, "out of memory (BED line)");
        goto done;
    }
    out->beg = beg;
    out->end = end;
    out->strand = strand;
done:
    free(buf);
    return ret;
}

int md_bed_read(const char *path, md_region **regions, size_t *n)
{
    if (!path || !regions || !n)
        return md_error(MD_ERR_ARG, "md_bed_read: NULL argument");
    *regions = NULL;
    *n = 0;
    const char *shown = strcmp(path, "-") == 0 ? "stdin" : path;
    hFILE *hf = hopen(path, "r");
    if (!hf)
        return md_error(MD_ERR_IO, "cannot open BED file '%s': %s", shown,
                        strerror(errno));
    htsFile *fp = hts_hopen(hf, path, "r");
    if (!fp) {
        int err = errno;
        hclose_abruptly(hf);
        if (err == EISDIR || err == EIO)
            return md_error(MD_ERR_IO, "cannot read BED file '%s': %s", shown,
                            strerror(err));
        return md_error(MD_ERR_FORMAT,
                        "cannot read '%s' as BED (a binary or unknown format? "
                        "BED is tab-separated text, plain or gzip)", shown);
    }
    switch (hts_get_format(fp)->format) {
    case bam: case cram: case bcf: case binary_format: case bai: case csi:
    case tbi: case crai: case gzi:
        hts_close(fp);
        return md_error(MD_ERR_FORMAT, "'%s' is a binary file, not BED", shown);
    default: break;
    }
    kstring_t line = {0, 0, NULL};
    md_region *regs = NULL;
    size_t nr = 0, mr = 0;
    int64_t lineno = 0;
    int ret, status = 0;
    while ((ret = hts_getline(fp, '\n', &line)) >= 0) {
        lineno++;
        md_region reg;
        int r = md_bed_parse_line(line.s, &reg);
        if (r == 1) continue;
        if (r < 0) {
            char msg[768];
            snprintf(msg, sizeof msg, "%s", md_last_error());
            status = md_error(r, "%s line %" PRId64 ": %s", shown, lineno, msg);
            break;
        }
        if (nr == mr) {
            size_t m2 = mr ? mr * 2 : 64;
            md_region *t = realloc(regs, m2 * sizeof *t);
            if (!t) {
                md_region_free(&reg);
                status = md_error(MD_ERR_NOMEM, "out of memory reading %s", shown);
                break;
            }
            regs = t;
            mr = m2;
        }
        regs[nr++] = reg;
    }
    if (status == 0 && ret < -1)
        status = md_error(MD_ERR_IO,
                          "%s: read error after line %" PRId64
                          " (truncated or corrupt gzip data?)", shown, lineno);
    free(line.s);
    hts_close(fp);
    if (status < 0) {
        md_regions_free(regs, nr);
        return status;
    }
    *regions = regs;
    *n = nr;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Checks against an index                                             */
/* ------------------------------------------------------------------ */

int md_region_check(const md_faidx *fx, md_region *reg)
{
    if (!fx || !reg || !reg->contig)
        return md_error(MD_ERR_ARG, "md_region_check: NULL argument");
    int64_t len = md_faidx_contig_len(fx, reg->contig);
    if (len < 0) return (int)len; /* message names the contig and the fix */
    if (reg->beg < 0 || reg->end < reg->beg)
        return md_error(MD_ERR_ARG,
                        "region %s:[%" PRId64 ", %" PRId64 ") is not a valid interval",
                        reg->contig, reg->beg, reg->end);
    if (reg->end == INT64_MAX) {
        if (reg->beg > len || (reg->beg == len && len > 0))
            return md_error(MD_ERR_ARG,
                            "region %s:%" PRId64 "- starts beyond the end of "
                            "contig %s (length %" PRId64 ")",
                            reg->contig, reg->beg + 1, reg->contig, len);
        reg->end = len;
        return 0;
    }
    if (reg->end > len)
        return md_error(MD_ERR_ARG,
                        "region %s:%" PRId64 "-%" PRId64 " (0-based [%" PRId64
                        ", %" PRId64 ")) is out of range: contig %s has length %"
                        PRId64, reg->contig, reg->beg + 1, reg->end, reg->beg,
                        reg->end, reg->contig, len);
    return 0;
}
