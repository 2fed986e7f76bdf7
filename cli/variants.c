/* variants.c: `mambadna variants`, the effect of VCF/BCF variants on the
 * score, written back into the records as INFO values. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "regions_opt.h"
#include "scoring_opt.h"
#include "train_args.h"

#define GPU_BATCH 256 /* default windows per pass on a GPU */

void variants_usage(FILE *fp)
{
    md_score_opt o;
    md_score_opt_init(&o);
    fprintf(fp,
            "Usage: mambadna variants [options] -T GENOME.fa [-o OUT] IN.vcf[.gz]|IN.bcf|-\n\n"
            "Score the reference and alternative sequences of every variant of IN around\n"
            "it and write every record, in order, with INFO MD_REF (score of the\n"
            "reference), MD_ALT and MD_DELTA (per ALT: score of the alternative, and\n"
            "alternative minus reference). SNVs, MNVs, insertions and deletions are\n"
            "scored; records that cannot be (REF mismatch, symbolic or '*' ALTs, too\n"
            "close to a contig end, ...) are written without the values, with a warning.\n\n"
            "Options:\n"
            "  -m, --model FILE      fine-tuned model [bundled: %s on a CPU,\n"
            "                        %s on a GPU]\n"
            "  -T, --reference FILE  reference FASTA, indexed (samtools faidx) (required);\n"
            "                        VCF contig names match it as they are or with 'chr'\n"
            "                        removed or added\n"
            "  -r, --region STR      only records overlapping chr:beg-end (1-based,\n"
            "                        inclusive); repeatable\n"
            "  -R, --regions FILE    only records overlapping the regions of a BED file\n"
            "  -o, --output FILE     output: .bcf BCF, .vcf.gz bgzipped VCF (tabix can\n"
            "                        index it), else VCF; - for standard output (VCF) [-]\n"
            "  -w, --window INT      window length [the model's]\n"
            "  -s, --stride INT      stride of the windows around a variant [the model's,\n"
            "                        else window/4]\n"
            "      --max-n F         skip windows with a larger N fraction [%.2f]\n"
            "      --batch INT       windows per forward pass [%d; %d on a GPU]\n"
            "      --device STR      cpu|cuda|cuda:N: where the network runs [%s]\n"
            "      --precision STR   GPU arithmetic: fp32|tf32|bf16 [fp32]\n"
            "  -t, --threads INT     threads [all cores]\n"
            "      --no-progress     no progress line (shown only when stderr is a terminal)\n\n"
            "The windows of a variant: the window length at its stride, one centred on\n"
            "the REF bases, keeping every one that holds all of them; the alternative\n"
            "window is the alternative haplotype read from the same start. Each window\n"
            "is scored on both strands as `score` does; the reported window is the one\n"
            "where some ALT changes the score most. A summary line goes to stderr.\n",
            MD_DEFAULT_PROMOTER_MODEL, MD_LARGE_PROMOTER_MODEL, o.max_n, o.batch, GPU_BATCH,
            md_device_count() > 0 ? "cuda" : "cpu");
}

static void print_summary(const md_variants_stats *st, const char *out)
{
    fprintf(stderr, "mambadna variants: %lld records, %lld annotated (%lld ALT alleles scored)",
            (long long)st->records, (long long)st->annotated, (long long)st->alleles);
    int64_t skipped = 0;
    for (int k = 0; k < MD_VSKIP_KINDS; k++) skipped += st->skipped[k];
    fprintf(stderr, ", %lld written unannotated", (long long)skipped);
    const char *sep = " (";
    for (int k = 0; k < MD_VSKIP_KINDS; k++)
        if (st->skipped[k]) {
            fprintf(stderr, "%s%s: %lld", sep, md_variant_skip_name(k), (long long)st->skipped[k]);
            sep = "; ";
        }
    if (skipped) fputc(')', stderr);
    if (st->outside) fprintf(stderr, ", %lld outside the regions", (long long)st->outside);
    fprintf(stderr, ", %lld windows in %.2f s (%.0f variants/s) -> %s\n", (long long)st->windows,
            st->seconds, st->seconds > 0 ? (double)st->alleles / st->seconds : 0.0, out);
}

int variants_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},     {"reference", required_argument, 0, 'T'},
        {"region", required_argument, 0, 'r'},    {"regions", required_argument, 0, 'R'},
        {"output", required_argument, 0, 'o'},    {"window", required_argument, 0, 'w'},
        {"stride", required_argument, 0, 's'},    {"help", no_argument, 0, 'h'}, CLI_SCORING_LONGOPTS,
        {0, 0, 0, 0}};
    const char *cmd = "variants", *model_path = NULL, *out = "-", *reference = NULL;
    md_variants_opt o;
    md_variants_opt_init(&o);
    cli_scoring scoring;
    cli_scoring_init(&scoring, &o.score, GPU_BATCH);
    cli_regions regions = {0};
    int c;
    char *command_line = cli_command_line(argc, argv);
    while ((c = getopt_long(argc, argv, "m:T:r:R:o:w:s:t:h", longopts, NULL)) >= 0) {
        int shared = cli_input_option(c, optarg, &regions, &o.score.window, &o.score.stride);
        if (!shared) shared = cli_scoring_option(&scoring, c, optarg);
        if (shared == CLI_OPT_BAD_VALUE) goto bad_value;
        if (shared == CLI_OPT_REFUSED) goto usage_error_lib;
        if (shared == CLI_OPT_ERROR) goto error_lib;
        if (shared) continue;
        switch (c) {
        case 'm': model_path = optarg; break;
        case 'T': reference = optarg; break;
        case 'o': out = optarg; break;
        case 'h':
            variants_usage(stdout);
            cli_regions_free(&regions);
            free(command_line);
            return cli_close_stdout(cmd);
        default: goto usage_error;
        }
    }
    if (optind + 1 != argc) goto usage_error;
    if (!reference) {
        cli_error(cmd, "give the reference FASTA the variants refer to with -T/--reference");
        goto usage_error;
    }
    cli_scoring_finish(&scoring);
    o.command = command_line;

    if (!model_path) /* as score: the larger bundled model on a GPU */
        model_path = cli_bundled_model(o.score.fwd.device > 0 ? MD_LARGE_PROMOTER_MODEL
                                                              : MD_DEFAULT_PROMOTER_MODEL);
    const cli_path outputs[] = {{"-o", out}};
    const cli_path inputs[] = {{"the input", argv[optind]}, {"the model", model_path},
                               {"the reference (-T)", reference}};
    if (cli_check_paths(cmd, outputs, 1, inputs, 3) < 0) goto usage_error;
    md_model *m = md_model_load(model_path);
    if (!m) goto error_lib;
    if (md_variants_opt_resolve(&o, m) < 0) {
        md_model_free(m);
        goto usage_error_lib;
    }
    md_variants_stats st;
    int status = md_variants_run(m, argv[optind], reference, regions.items, regions.n, out, &o,
                                 &st) == 0
                     ? EXIT_OK
                     : cli_fail(cmd);
    if (status == EXIT_OK) print_summary(&st, out);
    md_model_free(m);
    cli_regions_free(&regions);
    free(command_line);
    if (status == EXIT_OK && !strcmp(out, "-")) status = cli_close_stdout(cmd);
    return status;

bad_value:
    cli_bad_value(cmd, longopts, c, optarg, cli_scoring_expected(c));
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
