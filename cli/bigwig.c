/* bigwig.c: `mambadna bigwig`, a bedGraph track written as bigWig: the
 * file `mambadna score -o OUT.bw` writes for the same track. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <htslib/bgzf.h>

#include "cli.h"

#define READ_CHUNK (1 << 16)   /* bytes read at once */
#define MAX_LINE (1 << 20)     /* longer lines are not bedGraph */

void bigwig_usage(FILE *fp)
{
    fprintf(fp,
            "Usage: mambadna bigwig [options] -g GENOME -o OUT.bw IN\n\n"
            "Write the bedGraph track IN (plain, gzip or bgzip; - for standard input) as\n"
            "bigWig: byte for byte the file `mambadna score -o OUT.bw GENOME` writes for\n"
            "the same track (the header lists every contig of GENOME, in its order).\n\n"
            "Options:\n"
            "  -g, --genome FILE     the FASTA the track is on, indexed (FILE.fai; mambadna\n"
            "                        faidx): contig names and lengths\n"
            "  -o, --output FILE     the bigWig to write\n"
            "      --literal-names   as score --literal-names: FASTA records named chr:beg-end\n"
            "                        keep their names (default: such a record is a piece of\n"
            "                        chr, listed as chr up to the piece's end)\n\n"
            "IN: lines chrom, start, end, value (0-based, half-open; tabs, or spaces in a\n"
            "line without tabs); track, browser, '#' and blank lines are skipped. Contigs\n"
            "in the order of GENOME, intervals sorted and not overlapping, each within its\n"
            "contig; neighbouring intervals with the same value are merged. A malformed,\n"
            "out-of-order or cut-off line stops the command with its line number, and no\n"
            "output is left behind.\n");
}

/* Lines of a plain or compressed text file, with their newline removed. */
typedef struct line_reader {
    BGZF *fp;
    char *buf;
    size_t cap, len, pos; /* buf holds bytes [pos, len) not yet returned */
    int eof;
} line_reader;

/* 1 and the next line (NUL-terminated, *n bytes), 0 at the end of the file,
 * or < 0 with an error: a read failure, a NUL byte, an over-long line, or a
 * last line without its newline (a cut-off file). */
static int next_line(line_reader *r, char **line, size_t *n)
{
    for (;;) {
        char *nl = r->len > r->pos ? memchr(r->buf + r->pos, '\n', r->len - r->pos) : NULL;
        if (nl) {
            *line = r->buf + r->pos;
            *n = (size_t)(nl - *line);
            *nl = '\0';
            r->pos += *n + 1;
            if (memchr(*line, '\0', *n))
                return md_error(MD_ERR_FORMAT, "the line holds a NUL byte: not a bedGraph");
            return 1;
        }
        if (r->eof) {
            if (r->pos == r->len) return 0;
            return md_error(MD_ERR_FORMAT, "the last line has no newline: the file is cut off");
        }
        if (r->len - r->pos > MAX_LINE)
            return md_error(MD_ERR_FORMAT, "a line longer than %d bytes: not a bedGraph",
                            MAX_LINE);
        if (r->pos > 0) { /* keep the unfinished line at the start */
            memmove(r->buf, r->buf + r->pos, r->len - r->pos);
            r->len -= r->pos;
            r->pos = 0;
        }
        if (r->cap - r->len < READ_CHUNK) {
            size_t cap = r->len + 2 * READ_CHUNK;
            char *p = realloc(r->buf, cap);
            if (!p) return md_error(MD_ERR_NOMEM, "out of memory");
            r->buf = p;
            r->cap = cap;
        }
        ssize_t got = bgzf_read(r->fp, r->buf + r->len, READ_CHUNK);
        if (got < 0) return md_error(MD_ERR_IO, "cannot read: corrupt or cut-off compressed data");
        if (got == 0) r->eof = 1;
        r->len += (size_t)got;
    }
}

/* Stream IN's intervals into the bigWig; an error message names IN's line. */
static int convert(const char *cmd, const char *in, line_reader *r, md_bigwig *bw,
                   int64_t *n_intervals)
{
    const char *name = strcmp(in, "-") ? in : "standard input";
    int64_t lineno = 0;
    char *line = NULL;
    size_t len = 0;
    int ret;
    for (;;) {
        lineno++;
        if ((ret = next_line(r, &line, &len)) <= 0) break;
        md_bedgraph_interval iv;
        ret = md_bedgraph_parse_line(line, &iv);
        if (ret == 1) continue;
        if (ret == 0) ret = md_bigwig_add(bw, iv.contig, iv.beg, iv.end, iv.value);
        if (ret < 0) break;
        (*n_intervals)++;
    }
    if (ret < 0) {
        cli_error(cmd, "%s:%lld: %s", name, (long long)lineno, md_last_error());
        return ret;
    }
    return 0;
}

int bigwig_main(int argc, char **argv)
{
    static const struct option longopts[] = {{"genome", required_argument, 0, 'g'},
                                             {"output", required_argument, 0, 'o'},
                                             {"literal-names", no_argument, 0, 1},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    const char *cmd = "bigwig", *genome = NULL, *out = NULL;
    int c, literal_names = 0;
    while ((c = getopt_long(argc, argv, "g:o:h", longopts, NULL)) >= 0) {
        switch (c) {
        case 'g': genome = optarg; break;
        case 'o': out = optarg; break;
        case 1: literal_names = 1; break;
        case 'h': bigwig_usage(stdout); return cli_close_stdout(cmd);
        default: cli_usage_hint(cmd); return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        cli_error(cmd, "give one bedGraph input (- for standard input)");
        cli_usage_hint(cmd);
        return EXIT_USAGE;
    }
    if (!genome || !out || !strcmp(out, "-")) {
        cli_error(cmd, "give the genome (-g FASTA) and the bigWig to write (-o FILE)");
        cli_usage_hint(cmd);
        return EXIT_USAGE;
    }
    const char *in = argv[optind];
    const cli_path outputs[] = {{"-o", out}};
    const cli_path inputs[] = {{"the input", in}, {"the genome (-g)", genome}};
    if (cli_check_paths(cmd, outputs, 1, inputs, 2) < 0) {
        cli_usage_hint(cmd);
        return EXIT_USAGE;
    }

    md_reader_opt ropt;
    md_reader_opt_init(&ropt);
    ropt.piece_names = !literal_names;
    md_seqsource *src = md_seqsource_open(genome, NULL, 0, &ropt);
    if (!src) return cli_fail(cmd);
    char **names = NULL;
    int64_t *lengths = NULL;
    int n_contigs = 0;
    if (md_seqsource_contigs(src, &names, &lengths, &n_contigs) < 0) {
        md_seqsource_close(src);
        return cli_fail(cmd);
    }
    if (n_contigs == 0) { /* the failed index lookup's message says which file */
        cli_error(cmd, "the contig list comes from the FASTA index: %s (index it with mambadna "
                  "faidx)", md_last_error());
        md_seqsource_close(src);
        return EXIT_ERROR;
    }
    line_reader r = {.fp = bgzf_open(in, "r")};
    if (!r.fp) {
        cli_error(cmd, "cannot open %s", in);
        free(names);
        free(lengths);
        md_seqsource_close(src);
        return EXIT_ERROR;
    }
    int status = EXIT_ERROR;
    int64_t n_intervals = 0;
    if (bgzf_compression(r.fp) == 2 && bgzf_check_EOF(r.fp) == 0) {
        cli_error(cmd, "%s has no BGZF end-of-file marker: the file is cut off", in);
    } else {
        md_bigwig *bw = md_bigwig_open(out, names, lengths, n_contigs);
        if (!bw) {
            cli_fail(cmd);
        } else {
            int ok = convert(cmd, in, &r, bw, &n_intervals) == 0;
            if (md_bigwig_close(bw, ok) < 0) cli_fail(cmd);
            else if (ok) status = EXIT_OK;
        }
    }
    bgzf_close(r.fp);
    free(r.buf);
    free(names); /* the names belong to src */
    free(lengths);
    md_seqsource_close(src);
    if (status == EXIT_OK)
        fprintf(stderr, "mambadna bigwig: %lld intervals, %d contig%s in the header -> %s\n",
                (long long)n_intervals, n_contigs, n_contigs == 1 ? "" : "s", out);
    return status;
}
