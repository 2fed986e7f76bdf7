/* score.c: `mambadna score`, promoter (or any class) scores along genomes:
 * per-base tracks, calls, per-region and per-read scores. */
#include <ctype.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "regions_opt.h"
#include "scoring_opt.h"
#include "train_args.h"

enum out_format { FMT_AUTO = 0, FMT_BEDGRAPH, FMT_BIGWIG, FMT_BED, FMT_TSV, FMT_BAM };

#define DEFAULT_TAG "ms"
#define UNSCORED_FLAGS 0x900 /* secondary, supplementary */

#define GPU_BATCH 256 /* default windows per pass on a GPU */

void score_usage(FILE *fp)
{
    md_score_opt o;
    md_score_opt_init(&o);
    fprintf(fp,
            "Usage: mambadna score [options] IN\n\n"
            "Slide windows over every sequence of IN (FASTA, or regions of an indexed\n"
            "FASTA; FASTQ/SAM/BAM/CRAM reads get one score each), classify both strands\n"
            "and write a per-base track, BED calls, one score per region or read, or a\n"
            "copy of a SAM/BAM/CRAM input with each read's score in a tag.\n\n"
            "Options:\n"
            "  -m, --model FILE      fine-tuned model [bundled: %s on a CPU,\n"
            "                        %s on a GPU]\n"
            "      --model-size STR  small|large: the bundled model to use [by device]\n"
            "  -r, --region STR      region chr:beg-end (1-based, inclusive); repeatable\n"
            "  -R, --regions FILE    BED file of regions\n"
            "  -w, --window INT      window length [the model's]\n"
            "  -s, --stride INT      window stride [the model's, else window/4]\n"
            "      --strand STR      both|+|- [both]\n"
            "      --rc STR          both-strand score: avg|max|none (+ only) [avg];\n"
            "                        RC-equivariant (PS) models score both strands at once\n"
            "  -f, --format STR      bedgraph|bigwig|bed|tsv|bam [from the output's\n"
            "                        extension: .bedgraph .bg .bdg .bed .tsv .txt, each\n"
            "                        optionally .gz (BGZF-compressed), .bw .bigwig .bam;\n"
            "                        bedgraph for -o -; reads: tsv, or bam for SAM/BAM/CRAM]\n"
            "  -o, --output FILE     output, - for stdout [-]; BAM needs -o FILE or -o -\n"
            "      --tag XX          BAM: the float tag holding each read's score [%s]\n"
            "      --calls FILE      also write BED calls (windows >= threshold, merged)\n"
            "      --threshold P     probability for calls [the model's calibrated\n"
            "                        threshold, else 0.5]\n"
            "      --max-n F         skip windows with a larger N fraction [%.2f]\n"
            "      --batch INT       windows per forward pass [%d; %d on a GPU]\n"
            "      --per-region      with -r/-R: one line per region (its best window),\n"
            "                        as BED (-f bed) or TSV\n"
            "      --all             reads: score secondary and supplementary too\n"
            "  -T, --reference FILE  CRAM input: the reference FASTA (indexed)\n"
            "      --device STR      cpu|cuda|cuda:N: where the network runs [%s]\n"
            "      --precision STR   GPU arithmetic: fp32|tf32|bf16 [fp32]\n"
            "  -t, --threads INT     threads [all cores]\n"
            "      --allow-no-eof    read a BGZF/CRAM input without its end-of-file marker\n"
            "                        (it is refused: such a file is usually truncated)\n"
            "      --literal-names   keep FASTA record names of the form chr:beg-end as they\n"
            "                        are (default: such a record of end-beg+1 bases is that\n"
            "                        piece of chr, and coordinates are written on chr)\n"
            "      --no-progress     no progress line (shown only when stderr is a terminal)\n\n"
            "bedGraph/bigWig: each base gets the mean score of the windows covering it;\n"
            "bases only N-rich windows cover are left out. bigWig needs IN.fai.\n"
            "BED calls: name 'p=<max probability>', score 1000*max, strand of the higher\n"
            "scoring strand ('.' for PS models). TSV of windows: contig, start, end,\n"
            "plus, minus, score. Reads: name, flag, length, score (the best window).\n"
            "BAM: every record of IN in order, header kept (plus an @PG line); reads with\n"
            "a score carry it as a float tag; secondary and supplementary records (unless\n"
            "--all), empty reads and reads with only N-rich windows are copied untagged.\n"
            "A summary line goes to stderr at the end.\n",
            MD_DEFAULT_PROMOTER_MODEL, MD_LARGE_PROMOTER_MODEL, DEFAULT_TAG, o.max_n, o.batch, GPU_BATCH,
            md_device_count() > 0 ? "cuda" : "cpu");
}

typedef struct score_out {
    int format, per_region, reads;
    int equivariant;
    double threshold;
    md_bedgraph *bg;
    md_bigwig *bw;
    md_bamout *bam;
    md_outfile *main;   /* BED or TSV */
    md_outfile *calls;  /* --calls */
    const char *contig; /* for the track emitters */
    int64_t offset;
    int64_t n_calls;
    int64_t n_records, n_tagged; /* BAM */
} score_out;

static int emit_bedgraph(void *ctx, int64_t beg, int64_t end, float v)
{
    score_out *so = ctx;
    return md_bedgraph_add(so->bg, so->contig, so->offset + beg, so->offset + end, v);
}

static int emit_bigwig(void *ctx, int64_t beg, int64_t end, float v)
{
    score_out *so = ctx;
    return md_bigwig_add(so->bw, so->contig, so->offset + beg, so->offset + end, v);
}

static int write_calls(FILE *fp, const char *name, int64_t off, const md_window_score *w,
                       int64_t n, double threshold, int equivariant, int64_t *count)
{
    md_call *calls;
    int64_t k;
    int ret = md_calls_from_windows(w, n, threshold, equivariant, &calls, &k);
    for (int64_t i = 0; ret == 0 && i < k; i++)
        fprintf(fp, "%s\t%lld\t%lld\tp=%.4f\t%d\t%c\n", name, (long long)(off + calls[i].beg),
                (long long)(off + calls[i].end), calls[i].max_score,
                (int)(calls[i].max_score * 1000 + 0.5f), calls[i].strand);
    *count += k;
    free(calls);
    return ret;
}

static int sink(void *ctx, const md_scored_seq *seq)
{
    score_out *so = ctx;
    const char *name = seq->name;
    int64_t beg = seq->beg, len = seq->len, n = seq->n;
    const md_window_score *w = seq->w;
    so->contig = name;
    so->offset = beg;
    int ret = 0;
    if (so->calls)
        ret = write_calls(md_outfile_fp(so->calls), name, beg, w, n, so->threshold, so->equivariant,
                          &so->n_calls);
    if (ret < 0) return ret;
    if (so->reads || so->per_region) { /* one score: the best window */
        float best = -1, plus = 0, minus = 0;
        for (int64_t i = 0; i < n; i++)
            if (w[i].score > best) {
                best = w[i].score;
                plus = w[i].plus;
                minus = w[i].minus;
            }
        if (so->format == FMT_BAM) {
            if (!seq->bam) return md_error(MD_ERR, "BAM output: record %s was not kept", name);
            so->n_records++;
            so->n_tagged += n > 0;
            return md_bamout_write(so->bam, seq->bam, n > 0 ? &best : NULL);
        }
        FILE *fp = md_outfile_fp(so->main);
        if (n == 0) return 0; /* all N: no score */
        if (so->reads) fprintf(fp, "%s\t%u\t%lld\t%.6f\n", name, seq->flag, (long long)len, best);
        else if (so->format == FMT_BED)
            fprintf(fp, "%s\t%lld\t%lld\t%s:%lld-%lld\t%.6f\t%c\n", name, (long long)beg,
                    (long long)(beg + len), name, (long long)beg + 1, (long long)(beg + len), best,
                    so->equivariant ? '.' : (plus >= minus ? '+' : '-'));
        else
            fprintf(fp, "%s\t%lld\t%lld\t%.6f\t%.6f\t%.6f\n", name, (long long)beg,
                    (long long)(beg + len), plus, minus, best);
        return 0;
    }
    if (n == 0 && len > 0 && (so->format == FMT_BEDGRAPH || so->format == FMT_BIGWIG))
        md_log(MD_LOG_WARN, "%s:%lld-%lld has no window with at most the --max-n fraction of N: "
               "it has no interval in the track", name, (long long)beg + 1, (long long)(beg + len));
    switch (so->format) {
    case FMT_BEDGRAPH: return md_track_from_windows(w, n, emit_bedgraph, so);
    case FMT_BIGWIG: return md_track_from_windows(w, n, emit_bigwig, so);
    case FMT_BED:
        return write_calls(md_outfile_fp(so->main), name, beg, w, n, so->threshold,
                           so->equivariant, &so->n_calls);
    default:
        for (int64_t i = 0; i < n; i++)
            fprintf(md_outfile_fp(so->main), "%s\t%lld\t%lld\t%.6f\t%.6f\t%.6f\n", name,
                    (long long)(beg + w[i].beg), (long long)(beg + w[i].end), w[i].plus,
                    w[i].minus, w[i].score);
        return 0;
    }
}

/* The valid values of an option, for usage errors. */
static const char *score_expected(int c)
{
    switch (c) {
    case 1: return "both, + or -";
    case 2: return "avg, max or none";
    case 'f': return "bedgraph, bigwig, bed, tsv or bam";
    case 4: return "a probability from 0 to 1";
    case 15: return "small or large";
    default: return cli_scoring_expected(c);
    }
}

static int format_from_name(const char *s)
{
    if (!strcmp(s, "bedgraph")) return FMT_BEDGRAPH;
    if (!strcmp(s, "bigwig")) return FMT_BIGWIG;
    if (!strcmp(s, "bed")) return FMT_BED;
    if (!strcmp(s, "tsv")) return FMT_TSV;
    if (!strcmp(s, "bam")) return FMT_BAM;
    return -1;
}

/* The format an output's extension names (a text format may end in .gz:
 * BGZF-compressed), FMT_AUTO for an existing file that is not a regular one
 * (/dev/stdout, a FIFO), or -1. */
static int format_from_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) return FMT_AUTO;
    size_t n = strlen(path);
    int gz = n > 3 && !strcasecmp(path + n - 3, ".gz");
    char *name = strndup(path, gz ? n - 3 : n);
    const char *slash = name ? strrchr(name, '/') : NULL;
    const char *dot = name ? strrchr(slash ? slash : name, '.') : NULL;
    int f = -1;
    if (!dot)
        ; /* no extension */
    else if (!strcasecmp(dot, ".bedgraph") || !strcasecmp(dot, ".bg") || !strcasecmp(dot, ".bdg"))
        f = FMT_BEDGRAPH;
    else if (!strcasecmp(dot, ".bed")) f = FMT_BED;
    else if (!strcasecmp(dot, ".tsv") || !strcasecmp(dot, ".txt")) f = FMT_TSV;
    else if (!gz && (!strcasecmp(dot, ".bw") || !strcasecmp(dot, ".bigwig"))) f = FMT_BIGWIG;
    else if (!gz && !strcasecmp(dot, ".bam")) f = FMT_BAM;
    free(name);
    return f;
}

static int open_outputs(score_out *so, md_seqsource *src, const char *out, const char *calls,
                        const char *tag, const char *command_line)
{
    if (so->format == FMT_BAM) {
        if (!(so->bam = md_bamout_open(out, md_seqsource_sam_header(src), tag, command_line)))
            return MD_ERR_IO;
    } else if (so->format == FMT_BIGWIG) {
        char **names;
        int64_t *lengths;
        int n;
        if (md_seqsource_contigs(src, &names, &lengths, &n) < 0) return MD_ERR;
        if (n == 0) { /* the message of the failed index lookup says which file */
            char why[768];
            snprintf(why, sizeof why, "%s", md_last_error());
            return md_error(MD_ERR_ARG, "bigWig output takes the contig sizes from the FASTA "
                            "index: %s", why);
        }
        so->bw = md_bigwig_open(out, names, lengths, n);
        free(names);
        free(lengths);
        if (!so->bw) return MD_ERR_IO;
    } else if (so->format == FMT_BEDGRAPH) {
        if (!(so->bg = md_bedgraph_open(out, "track type=bedGraph name=mambadna")))
            return MD_ERR_IO;
    } else if (!(so->main = md_outfile_open(out))) {
        return MD_ERR_IO;
    }
    if (calls && !(so->calls = md_outfile_open(calls))) return MD_ERR_IO;
    return 0;
}

static int close_outputs(score_out *so, int ok)
{
    int ret = ok ? 0 : MD_ERR;
    if (so->bg && md_bedgraph_close(so->bg, ret == 0) < 0) ret = MD_ERR_IO;
    if (so->bw && md_bigwig_close(so->bw, ret == 0) < 0) ret = MD_ERR_IO;
    if (so->bam && md_bamout_close(so->bam, ret == 0) < 0) ret = MD_ERR_IO;
    md_outfile *files[2] = {so->main, so->calls};
    for (int i = 0; i < 2; i++) {
        if (!files[i]) continue;
        if (ret == 0) {
            if (md_outfile_commit(files[i]) < 0) ret = MD_ERR_IO;
        } else {
            md_outfile_abort(files[i]);
        }
    }
    return ret;
}

/* A SAM tag a user may choose freely: X?, Y?, Z? or one with a lowercase
 * letter (the SAM specification reserves the others). */
static int tag_is_local(const char *t)
{
    return strchr("XYZ", t[0]) || islower((unsigned char)t[0]) || islower((unsigned char)t[1]);
}

int score_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},   {"region", required_argument, 0, 'r'},
        {"regions", required_argument, 0, 'R'}, {"window", required_argument, 0, 'w'},
        {"stride", required_argument, 0, 's'},  {"strand", required_argument, 0, 1},
        {"rc", required_argument, 0, 2},        {"format", required_argument, 0, 'f'},
        {"output", required_argument, 0, 'o'},  {"calls", required_argument, 0, 3},
        {"threshold", required_argument, 0, 4}, {"all", no_argument, 0, 7},
        {"per-region", no_argument, 0, 9},      {"tag", required_argument, 0, 10},
        {"reference", required_argument, 0, 'T'}, {"help", no_argument, 0, 'h'},
        {"allow-no-eof", no_argument, 0, 13},   {"literal-names", no_argument, 0, 14},
        {"model-size", required_argument, 0, 15}, CLI_SCORING_LONGOPTS, {0, 0, 0, 0}};
    const char *cmd = "score", *model_path = NULL, *out = "-", *calls = NULL, *tag = DEFAULT_TAG;
    const char *reference = NULL;
    md_score_opt o;
    md_score_opt_init(&o);
    cli_scoring scoring;
    cli_scoring_init(&scoring, &o, GPU_BATCH);
    cli_regions regions = {0};
    int c, format = FMT_AUTO, all = 0, per_region = 0, out_given = 0;
    int allow_no_eof = 0, literal_names = 0;
    double threshold = -1; /* not given: the model's calibrated one, else 0.5 */
    const char *model_size = NULL;
    char *end, *command_line = cli_command_line(argc, argv); /* before getopt permutes argv */
    for (char *p = command_line; p && *p; p++)
        if (*p == '\t' || *p == '\n' || *p == '\r') *p = ' '; /* one SAM header field */
    while ((c = getopt_long(argc, argv, "m:r:R:w:s:f:o:t:T:h", longopts, NULL)) >= 0) {
        int shared = cli_input_option(c, optarg, &regions, &o.window, &o.stride);
        if (!shared) shared = cli_scoring_option(&scoring, c, optarg);
        if (shared == CLI_OPT_BAD_VALUE) goto bad_value;
        if (shared == CLI_OPT_REFUSED) goto usage_error_lib;
        if (shared == CLI_OPT_ERROR) goto error_lib;
        if (shared) continue;
        switch (c) {
        case 'm': model_path = optarg; break;
        case 1:
            if (!strcmp(optarg, "both")) o.strands = MD_STRANDS_BOTH;
            else if (!strcmp(optarg, "+")) o.strands = MD_STRAND_PLUS;
            else if (!strcmp(optarg, "-")) o.strands = MD_STRAND_MINUS;
            else goto bad_value;
            break;
        case 2:
            if (!strcmp(optarg, "avg")) o.rc = MD_RC_AVG;
            else if (!strcmp(optarg, "max")) o.rc = MD_RC_MAX;
            else if (!strcmp(optarg, "none")) o.rc = MD_RC_NONE;
            else goto bad_value;
            break;
        case 'f':
            if ((format = format_from_name(optarg)) < 0) goto bad_value;
            break;
        case 'o':
            out = optarg;
            out_given = 1;
            break;
        case 3: calls = optarg; break;
        case 4:
            threshold = strtod(optarg, &end);
            if (*end || threshold < 0 || threshold > 1) goto bad_value;
            break;
        case 7: all = 1; break;
        case 9: per_region = 1; break;
        case 10:
            if (md_bam_tag_check(optarg) < 0) goto usage_error_lib;
            tag = optarg;
            break;
        case 13: allow_no_eof = 1; break;
        case 14: literal_names = 1; break;
        case 'T': reference = optarg; break;
        case 15:
            if (strcmp(optarg, "small") && strcmp(optarg, "large")) goto bad_value;
            model_size = optarg;
            break;
        case 'h':
            score_usage(stdout);
            cli_regions_free(&regions);
            free(command_line);
            return cli_close_stdout(cmd);
        default: goto usage_error;
        }
    }
    if (optind + 1 != argc) {
        cli_error(cmd, "give one input file (FASTA, FASTQ, SAM, BAM or CRAM)");
        goto usage_error;
    }
    cli_scoring_finish(&scoring);
    int format_given = format != FMT_AUTO;
    if (format == FMT_AUTO && strcmp(out, "-") != 0 && (format = format_from_path(out)) < 0) {
        cli_error(cmd, "cannot tell the output format from the name %s: end it in .bedgraph, .bg, "
                  ".bed, .tsv (each optionally .gz, compressed with BGZF), .bw or .bam, or give "
                  "-f", out);
        goto usage_error;
    }
    if (format == FMT_AUTO) format = FMT_BEDGRAPH;
    size_t out_len = strlen(out);
    if ((format == FMT_BIGWIG || format == FMT_BAM) && out_len > 3 &&
        !strcasecmp(out + out_len - 3, ".gz")) {
        cli_error(cmd, "%s output is compressed already: drop the .gz of %s",
                  format == FMT_BIGWIG ? "bigWig" : "BAM", out);
        goto usage_error;
    }
    if (per_region && (regions.n == 0 || (format != FMT_BED && format != FMT_TSV))) {
        cli_error(cmd, "--per-region needs -r or -R and -f bed or tsv");
        goto usage_error;
    }
    if (format == FMT_BIGWIG && !strcmp(out, "-")) {
        cli_error(cmd, "bigWig output needs -o FILE");
        goto usage_error;
    }
    if (format == FMT_BAM && regions.n > 0) {
        cli_error(cmd, "BAM output copies SAM/BAM/CRAM input: it cannot be used with -r or -R");
        goto usage_error;
    }
    if (format == FMT_BAM && !out_given) {
        cli_error(cmd, "BAM output needs -o FILE (or -o - for standard output)");
        goto usage_error;
    }
    if (format == FMT_BIGWIG && regions.n > 1 && cli_regions_sort(&regions, argv[optind]) < 0)
        goto usage_error_lib;
    if (format == FMT_BAM && !tag_is_local(tag))
        fprintf(stderr, "mambadna score: warning: the SAM specification reserves tag %s for a "
                        "defined meaning; tags with a lowercase letter, or X?, Y?, Z?, are free\n",
                tag);

    if (model_path && model_size) {
        cli_error(cmd, "give -m or --model-size, not both");
        goto usage_error;
    }
    if (!model_path) {
        int large = model_size ? !strcmp(model_size, "large") : o.fwd.device > 0;
        model_path = cli_bundled_model(large ? MD_LARGE_PROMOTER_MODEL : MD_DEFAULT_PROMOTER_MODEL);
    }
    const cli_path outputs[] = {{"-o", out}, {"--calls", calls}};
    const cli_path inputs[] = {{"the input", argv[optind]}, {"the model", model_path},
                               {"the reference (-T)", reference}};
    if (cli_check_paths(cmd, outputs, 2, inputs, 3) < 0) goto usage_error;
    md_model *m = md_model_load(model_path);
    if (!m) {
        goto error_lib;
    }
    if (md_model_config(m)->n_classes < 2) {
        cli_error(cmd, "%s has no classification head: give a fine-tuned model (mambadna finetune)",
                  model_path);
        md_model_free(m);
        cli_regions_free(&regions);
        free(command_line);
        return EXIT_ERROR;
    }
    if (md_score_opt_resolve(&o, m) < 0) {
        md_model_free(m);
        goto usage_error_lib;
    }
    md_reader_opt ropt;
    md_reader_opt_init(&ropt);
    ropt.restore_orientation = 1;
    ropt.primary_only = !all;
    ropt.reference = reference;
    ropt.allow_no_eof = allow_no_eof;
    ropt.piece_names = !literal_names;
    if (format == FMT_BAM) { /* every record goes to the copy; 0x900 ones unscored */
        ropt.primary_only = 0;
        ropt.keep_records = 1;
        o.unscored_flags = all ? 0 : UNSCORED_FLAGS;
    }
    md_seqsource *src = md_seqsource_open(argv[optind], regions.items, regions.n, &ropt);
    if (!src) {
        md_model_free(m);
        goto error_lib;
    }
    int reads = md_seqsource_format(src) != MD_FMT_FASTA;
    if (format == FMT_BAM && !(md_seqsource_format(src) == MD_FMT_SAM ||
                               md_seqsource_format(src) == MD_FMT_BAM ||
                               md_seqsource_format(src) == MD_FMT_CRAM)) {
        cli_error(cmd, "BAM output (-f bam or -o *.bam) needs SAM, BAM or CRAM input; %s is %s",
                  argv[optind], reads ? "FASTQ" : "FASTA");
        md_seqsource_close(src);
        md_model_free(m);
        goto usage_error;
    }
    if (reads && format != FMT_BAM) {
        if (format_given && format != FMT_TSV) {
            cli_error(cmd, "reads get one score each: give -f tsv or, for SAM/BAM/CRAM input, "
                           "-f bam");
            md_seqsource_close(src);
            md_model_free(m);
            goto usage_error;
        }
        format = FMT_TSV;
    }

    if (threshold < 0) {
        const char *calibrated = md_model_meta(m, MD_META_THRESHOLD);
        threshold = calibrated ? strtod(calibrated, &end) : 0.5;
        if (calibrated && (end == calibrated || *end || !(threshold >= 0 && threshold <= 1))) {
            cli_error(cmd, "%s: metadata %s='%s' is not a probability", model_path,
                      MD_META_THRESHOLD, calibrated);
            md_seqsource_close(src);
            md_model_free(m);
            cli_regions_free(&regions);
            free(command_line);
            return EXIT_ERROR;
        }
    }
    score_out so = {.format = format, .threshold = threshold, .reads = reads,
                    .per_region = !reads && per_region,
                    .equivariant = md_model_config(m)->arch == MD_ARCH_CADUCEUS_PS};
    int status = EXIT_OK;
    md_score_stats st;
    if (open_outputs(&so, src, out, calls, tag, command_line) < 0) {
        status = cli_fail(cmd);
        close_outputs(&so, 0);
    } else {
        int ok = md_score_run(m, src, &o, sink, &so, &st) == MD_OK;
        if (!ok) cli_fail(cmd);
        if (close_outputs(&so, ok) < 0) {
            if (ok) cli_fail(cmd);
            ok = 0;
        }
        status = ok ? EXIT_OK : EXIT_ERROR;
        if (ok) {
            char what[128] = "";
            int k = 0;
            if (so.format == FMT_BAM)
                k = snprintf(what, sizeof what, ", %lld records written, %lld tagged %s",
                             (long long)so.n_records, (long long)so.n_tagged, tag);
            if (so.format == FMT_BED || calls)
                snprintf(what + k, sizeof what - (size_t)k, ", %lld calls", (long long)so.n_calls);
            fprintf(stderr, "mambadna score: %lld sequences, %lld windows scored, %lld skipped "
                            "(N), %lld bases in %.2f s (%.3f Mb/s)%s -> %s\n",
                    (long long)st.sequences, (long long)st.windows, (long long)st.skipped,
                    (long long)st.bases, st.seconds,
                    st.seconds > 0 ? (double)st.bases * 1e-6 / st.seconds : 0.0, what, out);
        }
    }
    md_seqsource_close(src);
    md_model_free(m);
    cli_regions_free(&regions);
    free(command_line);
    if (status == EXIT_OK && !strcmp(out, "-")) status = cli_close_stdout(cmd);
    return status;

bad_value:
    cli_bad_value(cmd, longopts, c, optarg, score_expected(c));
    goto usage_cleanup;
usage_error_lib:
    cli_fail(cmd);
usage_error:
    cli_usage_hint(cmd);
usage_cleanup:
    cli_regions_free(&regions);
    free(command_line);
    return EXIT_USAGE;
error_lib:
    cli_regions_free(&regions);
    free(command_line);
    return cli_fail(cmd);
}
