/* tokenize.c: `mambadna tokenize`, the tokenizer and window iterator made
 * visible for inspection. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "regions_opt.h"

typedef struct tokenize_opt {
    int64_t window, stride; /* 0: whole sequences */
    int last;               /* enum md_last_window */
    int format;             /* 0 tsv, 1 npy */
    int revcomp;
    const char *out;
} tokenize_opt;

static void tokenize_opt_init(tokenize_opt *o)
{
    memset(o, 0, sizeof *o);
    o->last = MD_LAST_SHIFT;
    o->out = "-";
}

void tokenize_usage(FILE *fp)
{
    tokenize_opt o;
    tokenize_opt_init(&o);
    fprintf(fp,
            "Usage: mambadna tokenize [options] IN\n\n"
            "Tokenize FASTA/FASTQ/SAM/BAM/CRAM records (or regions of an indexed\n"
            "FASTA) with the character tokenizer of Caduceus/HyenaDNA\n"
            "([PAD]=4 A=7 C=8 G=9 T=10 N=11).\n\n"
            "Options:\n"
            "  -r, --region STR     region chr:beg-end (1-based, inclusive); repeatable\n"
            "  -R, --regions FILE   BED file of regions (0-based; strand column honoured)\n"
            "  -w, --window INT     cut sequences into windows of INT bases [whole records]\n"
            "  -s, --stride INT     distance between window starts [window]\n"
            "      --last STR       the end of a sequence that whole strides leave over:\n"
            "                       shift: one full window ends at the sequence end [default]\n"
            "                       short: one shorter window covers it (also 'partial')\n"
            "                       pad: as short, padded with [PAD] to the window length\n"
            "                       drop: left out\n"
            "      --rc             reverse complement every sequence\n"
            "      --allow-no-eof   read a BGZF/CRAM input without its end-of-file marker\n"
            "                       (it is refused: such a file is usually truncated)\n"
            "      --literal-names  keep FASTA record names of the form chr:beg-end as they\n"
            "                       are (default: such a record of end-beg+1 bases is that\n"
            "                       piece of chr, and coordinates are written on chr)\n"
            "  -f, --format STR     tsv|npy [tsv]; npy needs -o and writes OUT.tsv beside it\n"
            "  -o, --output FILE    output file [-]\n\n"
            "TSV columns: name, start (0-based), end, strand, N fraction, soft-masked\n"
            "fraction, token ids. NPY: uint8 matrix (windows x window), short rows\n"
            "padded with [PAD]; OUT.tsv maps rows to name, start, end, strand.\n");
    (void)o;
}

typedef struct tokenize_out {
    md_outfile *tsv; /* the TSV, or the NPY sidecar */
    md_npy *npy;     /* NULL for TSV output */
    int64_t width;   /* NPY row width */
    uint8_t *row;    /* [width] */
} tokenize_out;

/* One line (and NPY row) for [beg, end): its ids and mask, then pad
 * [PAD] tokens. */
static int emit(tokenize_out *out, const char *name, int64_t beg, int64_t end,
                char strand, const uint8_t *ids, const uint8_t *mask, int64_t pad)
{
    int64_t len = end - beg;
    FILE *fp = md_outfile_fp(out->tsv);
    if (out->npy) {
        memset(out->row, MD_TOK_PAD, (size_t)out->width);
        memcpy(out->row, ids, (size_t)len);
        fprintf(fp, "%s\t%lld\t%lld\t%c\n", name, (long long)beg, (long long)end, strand);
        return md_npy_append_raw(out->npy, out->row, 1);
    }
    int64_t masked = 0;
    for (int64_t i = 0; i < len; i++) masked += mask[i];
    fprintf(fp, "%s\t%lld\t%lld\t%c\t%.4f\t%.4f\t", name, (long long)beg,
            (long long)end, strand, len ? (double)md_count_n(ids, len) / len : 0.0,
            len ? (double)masked / len : 0.0);
    for (int64_t i = 0; i < len; i++) {
        if (i) fputc(' ', fp);
        fprintf(fp, "%d", ids[i]);
    }
    for (int64_t i = 0; i < pad; i++) fprintf(fp, len + i ? " %d" : "%d", MD_TOK_PAD);
    fputc('\n', fp);
    return ferror(fp) ? md_error(MD_ERR_IO, "cannot write output") : 0;
}

/* Tokenize one sequence (already reverse complemented for '-' regions) and
 * emit it whole or as windows. Coordinates are on the forward strand. */
static int tokenize_sequence(const tokenize_opt *o, tokenize_out *out,
                             md_record *rec, char strand, uint8_t **ids,
                             uint8_t **mask, int64_t *cap)
{
    if (rec->len > *cap) {
        uint8_t *a = realloc(*ids, (size_t)rec->len), *b = realloc(*mask, (size_t)rec->len);
        if (a) *ids = a;
        if (b) *mask = b;
        if (!a || !b) return md_error(MD_ERR_NOMEM, "out of memory for %lld bases", (long long)rec->len);
        *cap = rec->len;
    }
    if (o->revcomp) {
        md_revcomp_seq(rec->seq, rec->len);
        strand = strand == '-' ? '+' : '-';
    }
    md_tokenize(rec->seq, rec->len, *ids);
    md_softmask(rec->seq, rec->len, *mask);
    int64_t window = o->window ? o->window : rec->len;
    if (out->npy && window > out->width)
        return md_error(MD_ERR_ARG, "record %s is longer than the NPY row width "
                        "(%lld); give --window", rec->name, (long long)out->width);
    if (window == 0) return emit(out, rec->name, rec->beg, rec->beg, strand, *ids, *mask, 0);
    md_window_iter it;
    int ret = md_window_iter_init(&it, rec->len, window, o->stride ? o->stride : window, o->last);
    int64_t b, e;
    while (ret >= 0 && md_window_next(&it, &b, &e) == 0) {
        /* windows of a reverse-complemented sequence map back to the forward strand */
        int64_t fb = strand == '-' ? rec->len - e : b, fe = strand == '-' ? rec->len - b : e;
        ret = emit(out, rec->name, rec->beg + fb, rec->beg + fe, strand, *ids + b, *mask + b,
                   o->last == MD_LAST_PAD ? window - (e - b) : 0);
    }
    return ret;
}

/* The valid values of an option, for usage errors. */
static const char *tokenize_expected(int c)
{
    switch (c) {
    case 1: return "shift, short, pad or drop";
    case 'f': return "tsv or npy";
    default: return cli_input_expected(c);
    }
}

int tokenize_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"region", required_argument, 0, 'r'}, {"regions", required_argument, 0, 'R'},
        {"window", required_argument, 0, 'w'}, {"stride", required_argument, 0, 's'},
        {"last", required_argument, 0, 1},     {"rc", no_argument, 0, 2},
        {"format", required_argument, 0, 'f'}, {"output", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},         {"allow-no-eof", no_argument, 0, 3},
        {"literal-names", no_argument, 0, 4},
        {0, 0, 0, 0}};
    const char *cmd = "tokenize";
    tokenize_opt o;
    tokenize_opt_init(&o);
    cli_regions regions = {0};
    int c, status = EXIT_ERROR, allow_no_eof = 0, literal_names = 0;
    while ((c = getopt_long(argc, argv, "r:R:w:s:f:o:h", longopts, NULL)) >= 0) {
        int shared = cli_input_option(c, optarg, &regions, &o.window, &o.stride);
        if (shared == CLI_OPT_BAD_VALUE) goto bad_value;
        if (shared == CLI_OPT_REFUSED) goto usage_error_lib;
        if (shared == CLI_OPT_ERROR) goto error_lib;
        if (shared) continue;
        switch (c) {
        case 1:
            if ((o.last = cli_parse_last(optarg)) < 0) goto bad_value;
            break;
        case 2: o.revcomp = 1; break;
        case 3: allow_no_eof = 1; break;
        case 4: literal_names = 1; break;
        case 'f':
            if (!strcmp(optarg, "tsv")) o.format = 0;
            else if (!strcmp(optarg, "npy")) o.format = 1;
            else goto bad_value;
            break;
        case 'o': o.out = optarg; break;
        case 'h':
            tokenize_usage(stdout);
            cli_regions_free(&regions);
            return cli_close_stdout(cmd);
        default: goto usage_error;
        }
    }
    if (optind + 1 != argc) {
        cli_error(cmd, "give one input file (FASTA, FASTQ, SAM, BAM or CRAM)");
        goto usage_error;
    }
    if (o.stride && !o.window) {
        cli_error(cmd, "--stride needs --window");
        goto usage_error;
    }
    if (o.format == 1 && (!o.window || !strcmp(o.out, "-"))) {
        cli_error(cmd, "NPY output needs --window and -o FILE");
        goto usage_error;
    }

    char sidecar[4096];
    snprintf(sidecar, sizeof sidecar, "%s.tsv", o.out);
    const cli_path outputs[] = {{"-o", o.out}, {"the sidecar of -o", o.format == 1 ? sidecar : NULL}};
    const cli_path inputs[] = {{"the input", argv[optind]}};
    if (cli_check_paths(cmd, outputs, 2, inputs, 1) < 0) goto usage_error;
    md_reader_opt ropt;
    md_reader_opt_init(&ropt);
    ropt.restore_orientation = 1;
    ropt.allow_no_eof = allow_no_eof;
    ropt.piece_names = !literal_names;
    md_seqsource *src = md_seqsource_open(argv[optind], regions.items, regions.n, &ropt);
    if (!src) goto error_lib;

    tokenize_out out = {0};
    if (o.format == 1) {
        int64_t row_shape[1] = {o.window};
        out.width = o.window;
        out.npy = md_npy_open(o.out, MD_U8, row_shape, 1);
        out.row = malloc((size_t)o.window);
        out.tsv = out.npy && out.row ? md_outfile_open(sidecar) : NULL;
    } else {
        out.tsv = md_outfile_open(o.out);
    }
    md_record rec = {0};
    uint8_t *ids = NULL, *mask = NULL;
    int64_t cap = 0;
    int ret = out.tsv ? 0 : MD_ERR;
    const md_region *reg;
    while (ret >= 0 && (ret = md_seqsource_next(src, &rec, &reg)) == 0)
        ret = tokenize_sequence(&o, &out, &rec, reg ? (reg->strand == '-' ? '-' : '+') : '+',
                                &ids, &mask, &cap);
    int ok = ret == MD_EOF;
    if (out.npy && md_npy_close(out.npy, ok) < 0) ok = 0;
    if (out.tsv) {
        if (ok) ok = md_outfile_commit(out.tsv) == 0;
        else md_outfile_abort(out.tsv);
    }
    status = ok ? EXIT_OK : cli_fail(cmd);
    free(ids);
    free(mask);
    free(out.row);
    md_record_free(&rec);
    md_seqsource_close(src);
    cli_regions_free(&regions);
    if (status == EXIT_OK && !strcmp(o.out, "-")) status = cli_close_stdout(cmd);
    return status;

bad_value:
    cli_bad_value(cmd, longopts, c, optarg, tokenize_expected(c));
    goto usage_cleanup;
usage_error_lib:
    cli_fail(cmd);
usage_error:
    cli_usage_hint(cmd);
usage_cleanup:
    cli_regions_free(&regions);
    return EXIT_USAGE;
error_lib:
    cli_regions_free(&regions);
    return cli_fail(cmd);
}
