/* embed.c: `mambadna embed`, hidden states of sequences as NPY rows. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "regions_opt.h"

void embed_usage(FILE *fp)
{
    md_embed_opt o;
    md_embed_opt_init(&o);
    fprintf(fp,
            "Usage: mambadna embed -m MODEL [options] -o OUT.npy IN\n\n"
            "Hidden states after the final norm for every record of IN (FASTA/FASTQ/\n"
            "SAM/BAM/CRAM) or for regions of an indexed FASTA. No special tokens are\n"
            "added. Writes OUT.npy (rows x hidden width) and OUT.npy.tsv, one line per\n"
            "block of rows: first_row, n_rows, name, start, end, strand (0-based,\n"
            "half-open, forward-strand coordinates). Reads (FASTQ/SAM/BAM/CRAM: primary\n"
            "records, in read orientation) get one mean-pooled row each unless --pool\n"
            "says otherwise; empty reads get no row.\n\n"
            "Options:\n"
            "  -m, --model FILE     model file or checkpoint directory [bundled " MD_DEFAULT_BASE_MODEL "]\n"
            "  -r, --region STR     region chr:beg-end (1-based, inclusive); repeatable\n"
            "  -R, --regions FILE   BED file of regions ('-' strand: reverse complement)\n"
            "  -w, --window INT     cut sequences into windows of INT bases [whole]\n"
            "  -s, --stride INT     distance between window starts [window]\n"
            "      --last STR       the end of a sequence that whole strides leave over:\n"
            "                       short: one shorter window covers it [default]\n"
            "                       shift: one full window ends at the sequence end\n"
            "                       (its overlap with the previous is embedded twice)\n"
            "                       pad: a full window, [PAD] tokens after the bases\n"
            "                       drop: not embedded\n"
            "      --pool STR       none|mean|bin:N: a row per base, per window, or per\n"
            "                       N bases [none; mean for reads]\n"
            "      --rc STR         none|avg: average with the reverse-complement pass\n"
            "                       (RC-equivariant PS models always give both strands) [none]\n"
            "      --dtype STR      f32|f16 [f32]\n"
            "      --batch INT      windows run together [%d]\n"
            "      --chunk INT      positions processed at a time, bounding memory [%lld]\n"
            "      --device STR     cpu|cuda|cuda:N: where the network runs [%s]\n"
            "      --precision STR  GPU arithmetic: fp32|tf32|bf16 [fp32]\n"
            "  -t, --threads INT    threads [all cores]\n"
            "  -T, --reference FILE CRAM input: the reference FASTA (indexed)\n"
            "      --allow-no-eof   read a BGZF/CRAM input without its end-of-file marker\n"
            "                       (it is refused: such a file is usually truncated)\n"
            "      --literal-names  keep FASTA record names of the form chr:beg-end as they\n"
            "                       are (default: such a record of end-beg+1 bases is that\n"
            "                       piece of chr, and coordinates are written on chr)\n"
            "      --no-progress    no progress line (shown only when stderr is a terminal)\n"
            "  -o, --output FILE    output NPY file (required)\n\n"
            "A summary line goes to stderr at the end.\n",
            o.batch, (long long)o.fwd.chunk, md_device_count() > 0 ? "cuda" : "cpu");
}

/* The valid values of an option, for usage errors. */
static const char *embed_expected(int c)
{
    switch (c) {
    case 1: return "none, mean or bin:N (N >= 1)";
    case 2: return "none or avg";
    case 3: return "f32 or f16";
    case 4: return "an integer from 1 to 256";
    case 5: return "an integer >= 0 (0: the whole window at once)";
    case 10: return "short, shift, pad or drop";
    case 't': return "an integer from 1 to 4096";
    default: return cli_input_expected(c);
    }
}

int embed_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},  {"region", required_argument, 0, 'r'},
        {"regions", required_argument, 0, 'R'}, {"window", required_argument, 0, 'w'},
        {"stride", required_argument, 0, 's'}, {"pool", required_argument, 0, 1},
        {"rc", required_argument, 0, 2},       {"dtype", required_argument, 0, 3},
        {"batch", required_argument, 0, 4},    {"chunk", required_argument, 0, 5},
        {"threads", required_argument, 0, 't'}, {"output", required_argument, 0, 'o'},
        {"device", required_argument, 0, 6},   {"help", no_argument, 0, 'h'},
        {"reference", required_argument, 0, 'T'}, {"no-progress", no_argument, 0, 7},
        {"precision", required_argument, 0, 8},  {"allow-no-eof", no_argument, 0, 9},
        {"last", required_argument, 0, 10},     {"literal-names", no_argument, 0, 11},
        {0, 0, 0, 0}};
    const char *cmd = "embed", *model_path = NULL, *out = NULL, *reference = NULL;
    md_embed_opt o;
    md_embed_opt_init(&o);
    o.fwd.device = md_device_count() > 0 ? 1 : 0; /* the first GPU when there is one */
    cli_regions regions = {0};
    int c, pool_given = 0, no_progress = 0, allow_no_eof = 0, literal_names = 0;
    int64_t v;
    while ((c = getopt_long(argc, argv, "m:r:R:w:s:t:o:T:h", longopts, NULL)) >= 0) {
        int shared = cli_input_option(c, optarg, &regions, &o.window, &o.stride);
        if (shared == CLI_OPT_BAD_VALUE) goto bad_value;
        if (shared == CLI_OPT_REFUSED) goto usage_error_lib;
        if (shared == CLI_OPT_ERROR) goto error_lib;
        if (shared) continue;
        switch (c) {
        case 'm': model_path = optarg; break;
        case 1:
            if (!strcmp(optarg, "none")) o.pool = MD_EMBED_POOL_NONE;
            else if (!strcmp(optarg, "mean")) o.pool = MD_EMBED_POOL_MEAN;
            else if (!strncmp(optarg, "bin:", 4) && cli_parse_size(optarg + 4, &o.bin) == 0 && o.bin > 0)
                o.pool = MD_EMBED_POOL_BIN;
            else goto bad_value;
            pool_given = 1;
            break;
        case 2:
            if (!strcmp(optarg, "none")) o.fwd.rc_avg = 0;
            else if (!strcmp(optarg, "avg")) o.fwd.rc_avg = 1;
            else goto bad_value;
            break;
        case 3:
            if (!strcmp(optarg, "f32")) o.dtype = MD_F32;
            else if (!strcmp(optarg, "f16")) o.dtype = MD_F16;
            else goto bad_value;
            break;
        case 4:
            if (cli_parse_size(optarg, &v) < 0 || v < 1 || v > 256) goto bad_value;
            o.batch = (int)v;
            break;
        case 5:
            if (cli_parse_size(optarg, &o.fwd.chunk) < 0) goto bad_value;
            break;
        case 6:
            if (md_device_parse(optarg, &o.fwd.device) < 0) goto usage_error_lib;
            break;
        case 8:
            if ((o.fwd.precision = md_precision_parse(optarg)) < 0) goto usage_error_lib;
            break;
        case 't':
            if (cli_parse_size(optarg, &v) < 0 || v < 1 || v > 4096) goto bad_value;
            o.fwd.threads = (int)v;
            break;
        case 'o': out = optarg; break;
        case 'T': reference = optarg; break;
        case 7: no_progress = 1; break;
        case 9: allow_no_eof = 1; break;
        case 11: literal_names = 1; break;
        case 10:
            if ((o.last = cli_parse_last(optarg)) < 0) goto bad_value;
            break;
        case 'h':
            embed_usage(stdout);
            cli_regions_free(&regions);
            return cli_close_stdout(cmd);
        default: goto usage_error;
        }
    }
    if (!model_path) model_path = cli_bundled_model(MD_DEFAULT_BASE_MODEL);
    if (optind + 1 != argc || !out) {
        if (optind + 1 != argc) cli_error(cmd, "give one input file (FASTA, FASTQ, SAM, BAM or CRAM)");
        if (!out) cli_error(cmd, "give the output NPY file with -o");
        goto usage_error;
    }
    if (!strcmp(out, "-")) {
        cli_error(cmd, "the NPY output and its .tsv sidecar need a file name: give -o FILE.npy");
        goto usage_error;
    }
    char tsv[4096];
    snprintf(tsv, sizeof tsv, "%s.tsv", out);
    const cli_path outputs[] = {{"-o", out}, {"the sidecar of -o", tsv}};
    const cli_path inputs[] = {{"the input", argv[optind]}, {"the model", model_path},
                               {"the reference (-T)", reference}};
    if (cli_check_paths(cmd, outputs, 2, inputs, 3) < 0) goto usage_error;
    if (md_embed_opt_check(&o) < 0) goto usage_error_lib;

    md_model *m = md_model_load(model_path);
    if (!m) goto error_lib;
    md_reader_opt ropt;
    md_reader_opt_init(&ropt);
    ropt.restore_orientation = 1;
    ropt.primary_only = 1;
    ropt.reference = reference;
    ropt.allow_no_eof = allow_no_eof;
    ropt.piece_names = !literal_names;
    o.progress = !no_progress && isatty(STDERR_FILENO);
    md_seqsource *src = md_seqsource_open(argv[optind], regions.items, regions.n, &ropt);
    if (src && !pool_given && md_seqsource_format(src) != MD_FMT_FASTA)
        o.pool = MD_EMBED_POOL_MEAN; /* reads: one row each */
    int status = EXIT_OK;
    md_embed_stats st;
    if (!src || md_embed_run(m, src, &o, out, tsv, &st) < 0) status = cli_fail(cmd);
    else
        fprintf(stderr, "mambadna embed: %lld sequences, %lld windows, %lld bases, %lld rows in "
                        "%.2f s (%.3f Mb/s) -> %s\n",
                (long long)st.sequences, (long long)st.windows, (long long)st.bases,
                (long long)st.rows, st.seconds,
                st.seconds > 0 ? (double)st.bases * 1e-6 / st.seconds : 0.0, out);
    md_seqsource_close(src);
    md_model_free(m);
    cli_regions_free(&regions);
    return status;

bad_value:
    cli_bad_value(cmd, longopts, c, optarg, embed_expected(c));
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
