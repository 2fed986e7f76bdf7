/* explain.c: `mambadna explain`, per-base attributions of the score of
 * sequences or regions: an NPY matrix (bases x 4) with a TSV sidecar, or a
 * per-base track of the mean drop. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "regions_opt.h"
#include "scoring_opt.h"

#define GPU_BATCH 1024 /* default windows per pass on a GPU: the mutants of a 300-base
                         * sequence in about one pass */

enum out_format { FMT_NPY = 0, FMT_BIGWIG, FMT_BEDGRAPH };

void explain_usage(FILE *fp)
{
    md_score_opt o;
    md_score_opt_init(&o);
    fprintf(fp,
            "Usage: mambadna explain [options] -o OUT.npy|OUT.bw|OUT.bedgraph IN\n\n"
            "Which bases the score of each sequence of IN (FASTA records, or regions\n"
            "of an indexed FASTA) rests on. The score of a sequence is its best window,\n"
            "as `score --per-region` reports it.\n\n"
            "Options:\n"
            "  -m, --model FILE      fine-tuned model [bundled %s]\n"
            "      --method STR      ism|grad [ism]: ism: score change when each base is\n"
            "                        replaced by each other base (in-silico saturation\n"
            "                        mutagenesis); grad: its first-order estimate from the\n"
            "                        gradient of the score (one backward pass, on the CPU)\n"
            "  -r, --region STR      region chr:beg-end (1-based, inclusive); repeatable\n"
            "  -R, --regions FILE    BED file of regions ('-' strand: reverse complement)\n"
            "  -o, --output FILE     .npy: float32 (bases, 4), columns A C G T, and the\n"
            "                        sidecar FILE.tsv; .bw/.bigwig or .bedgraph/.bg: per-base\n"
            "                        mean drop over the substitutions, genome coordinates\n"
            "                        (required)\n"
            "  -w, --window INT      window length [the model's]\n"
            "  -s, --stride INT      window stride [the model's, else window/4]\n"
            "      --max-n F         skip windows with a larger N fraction [%.2f]\n"
            "      --batch INT       windows per forward pass [%d; %d on a GPU]\n"
            "      --device STR      cpu|cuda|cuda:N: where the forward passes run [%s]\n"
            "      --precision STR   GPU arithmetic: fp32|tf32|bf16 [fp32]\n"
            "  -t, --threads INT     threads [all cores]\n"
            "      --no-progress     no progress line (shown only when stderr is a terminal)\n\n"
            "NPY row i of a sequence is its base i (regions on '-': of the reverse\n"
            "complement); value = score with the other base - score, 0 at the reference\n"
            "base. Sidecar lines: first_row, n_rows, name, start, end, strand.\n"
            "A summary line goes to stderr at the end.\n",
            MD_DEFAULT_PROMOTER_MODEL, o.max_n, o.batch, GPU_BATCH,
            md_device_count() > 0 ? "cuda" : "cpu");
}

typedef struct explain_out {
    int format;
    md_npy *npy;
    md_outfile *tsv;
    md_bigwig *bw;
    md_bedgraph *bg;
    int64_t rows;
} explain_out;

static int format_from_path(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot && (!strcasecmp(dot, ".bw") || !strcasecmp(dot, ".bigwig"))) return FMT_BIGWIG;
    if (dot && (!strcasecmp(dot, ".bedgraph") || !strcasecmp(dot, ".bg"))) return FMT_BEDGRAPH;
    if (dot && !strcasecmp(dot, ".npy")) return FMT_NPY;
    return -1;
}

/* Mean drop of the score over the substitutions of base i (NaN: no score). */
static float mean_drop(const md_attribution *a, int64_t i)
{
    static const uint8_t tok[4] = {MD_TOK_A, MD_TOK_C, MD_TOK_G, MD_TOK_T};
    double sum = 0;
    int n = 0;
    for (int c = 0; c < 4; c++)
        if (a->ids[i] != tok[c]) {
            sum -= a->values[i * 4 + c];
            n++;
        }
    return (float)(sum / n);
}

static int sink(void *ctx, const md_attribution *a)
{
    explain_out *eo = ctx;
    if (eo->format == FMT_NPY) {
        if (fprintf(md_outfile_fp(eo->tsv), "%lld\t%lld\t%s\t%lld\t%lld\t%c\n",
                    (long long)eo->rows, (long long)a->len, a->name, (long long)a->beg,
                    (long long)(a->beg + a->len), a->strand) < 0)
            return md_error(MD_ERR_IO, "cannot write the sidecar %s", md_outfile_tmp_path(eo->tsv));
        eo->rows += a->len;
        return md_npy_append_f32(eo->npy, a->values, a->len);
    }
    for (int64_t k = 0; k < a->len; k++) { /* in genome order */
        int64_t i = a->strand == '-' ? a->len - 1 - k : k;
        float v = mean_drop(a, i);
        if (isnan(v)) continue;
        int64_t pos = a->beg + k;
        int ret = eo->format == FMT_BIGWIG ? md_bigwig_add(eo->bw, a->name, pos, pos + 1, v)
                                           : md_bedgraph_add(eo->bg, a->name, pos, pos + 1, v);
        if (ret < 0) return ret;
    }
    return 0;
}

static int open_outputs(explain_out *eo, md_seqsource *src, const char *out)
{
    if (eo->format == FMT_NPY) {
        int64_t row[1] = {4};
        char *tsv = malloc(strlen(out) + 5);
        if (!tsv) return md_error(MD_ERR_NOMEM, "out of memory");
        sprintf(tsv, "%s.tsv", out);
        eo->npy = md_npy_open(out, MD_F32, row, 1);
        eo->tsv = eo->npy ? md_outfile_open(tsv) : NULL;
        free(tsv);
        return eo->tsv ? 0 : MD_ERR_IO;
    }
    if (eo->format == FMT_BEDGRAPH)
        return (eo->bg = md_bedgraph_open(out, "track type=bedGraph name=mambadna_attribution"))
                   ? 0
                   : MD_ERR_IO;
    char **names;
    int64_t *lengths;
    int n;
    if (md_seqsource_contigs(src, &names, &lengths, &n) < 0) return MD_ERR;
    if (n == 0) {
        char why[768];
        snprintf(why, sizeof why, "%s", md_last_error());
        return md_error(MD_ERR_ARG, "bigWig output takes the contig sizes from the FASTA index: %s",
                        why);
    }
    eo->bw = md_bigwig_open(out, names, lengths, n);
    free(names);
    free(lengths);
    return eo->bw ? 0 : MD_ERR_IO;
}

static int close_outputs(explain_out *eo, int ok)
{
    int ret = ok ? 0 : MD_ERR;
    if (eo->npy && md_npy_close(eo->npy, ret == 0) < 0) ret = MD_ERR_IO;
    if (eo->tsv) {
        if (ret == 0) ret = md_outfile_commit(eo->tsv);
        else md_outfile_abort(eo->tsv);
    }
    if (eo->bw && md_bigwig_close(eo->bw, ret == 0) < 0) ret = MD_ERR_IO;
    if (eo->bg && md_bedgraph_close(eo->bg, ret == 0) < 0) ret = MD_ERR_IO;
    return ret;
}

/* The valid values of an option, for the message of an invalid one. */
static const char *expected_value(int c)
{
    if (c == 1) return "ism or grad";
    return cli_scoring_expected(c);
}

int explain_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},     {"method", required_argument, 0, 1},
        {"region", required_argument, 0, 'r'},    {"regions", required_argument, 0, 'R'},
        {"output", required_argument, 0, 'o'},    {"window", required_argument, 0, 'w'},
        {"stride", required_argument, 0, 's'},    {"help", no_argument, 0, 'h'},
        CLI_SCORING_LONGOPTS,                     {0, 0, 0, 0}};
    const char *cmd = "explain", *model_path = NULL, *out = NULL;
    md_explain_opt o;
    md_explain_opt_init(&o);
    cli_scoring scoring;
    cli_scoring_init(&scoring, &o.score, GPU_BATCH);
    cli_regions regions = {0};
    int c;
    while ((c = getopt_long(argc, argv, "m:r:R:o:w:s:t:h", longopts, NULL)) >= 0) {
        int shared = cli_input_option(c, optarg, &regions, &o.score.window, &o.score.stride);
        if (!shared) shared = cli_scoring_option(&scoring, c, optarg);
        if (shared == CLI_OPT_BAD_VALUE) goto bad_value;
        if (shared == CLI_OPT_REFUSED) goto usage_error_lib;
        if (shared == CLI_OPT_ERROR) goto error_lib;
        if (shared) continue;
        switch (c) {
        case 'm': model_path = optarg; break;
        case 1:
            if (!strcmp(optarg, "ism")) o.method = MD_EXPLAIN_ISM;
            else if (!strcmp(optarg, "grad")) o.method = MD_EXPLAIN_GRAD;
            else goto bad_value;
            break;
        case 'o': out = optarg; break;
        case 'h':
            explain_usage(stdout);
            cli_regions_free(&regions);
            return cli_close_stdout(cmd);
        default: goto usage_error;
        }
    }
    if (optind + 1 != argc) goto usage_error;
    if (!out || !strcmp(out, "-")) {
        cli_error(cmd, "give the output file with -o (.npy, .bw or .bedgraph)");
        goto usage_error;
    }
    int format = format_from_path(out);
    if (format < 0) {
        cli_error(cmd, "cannot tell the output format of %s: name it .npy, .bw/.bigwig or "
                       ".bedgraph/.bg", out);
        goto usage_error;
    }
    cli_scoring_finish(&scoring);

    if (!model_path) model_path = cli_bundled_model(MD_DEFAULT_PROMOTER_MODEL);
    const cli_path outputs[] = {{"-o", out}};
    const cli_path inputs[] = {{"the input", argv[optind]}, {"the model", model_path}};
    if (cli_check_paths(cmd, outputs, 1, inputs, 2) < 0) goto usage_error;
    md_model *m = md_model_load(model_path);
    if (!m) goto error_lib;
    if (md_explain_opt_resolve(&o, m) < 0) {
        md_model_free(m);
        goto usage_error_lib;
    }
    md_reader_opt ropt;
    md_reader_opt_init(&ropt);
    md_seqsource *src = md_seqsource_open(argv[optind], regions.items, regions.n, &ropt);
    if (!src) {
        md_model_free(m);
        goto error_lib;
    }
    if (md_seqsource_format(src) != MD_FMT_FASTA) {
        cli_error(cmd, "%s: explain takes FASTA records or regions of an indexed FASTA",
                  argv[optind]);
        md_seqsource_close(src);
        md_model_free(m);
        goto usage_error;
    }
    explain_out eo = {.format = format};
    md_explain_stats st;
    int ok = open_outputs(&eo, src, out) == 0 && md_explain_run(m, src, &o, sink, &eo, &st) == 0;
    if (!ok) cli_fail(cmd);
    if (close_outputs(&eo, ok) < 0 && ok) {
        cli_fail(cmd);
        ok = 0;
    }
    if (ok)
        fprintf(stderr, "mambadna explain: %lld sequences, %lld bases, %lld windows (%s) in "
                        "%.2f s -> %s\n",
                (long long)st.sequences, (long long)st.bases, (long long)st.windows,
                o.method == MD_EXPLAIN_ISM ? "ism" : "grad", st.seconds, out);
    md_seqsource_close(src);
    md_model_free(m);
    cli_regions_free(&regions);
    return ok ? EXIT_OK : EXIT_ERROR;

bad_value:
    cli_bad_value(cmd, longopts, c, optarg, expected_value(c));
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
