/* pretrain.c: `mambadna pretrain`, MLM or next-token training on random
 * windows of genomes. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "train_args.h"

/* Options of pretrain alone (codes above the shared ones). */
enum { OPT_OBJECTIVE = 1100, OPT_MASK_PROB, OPT_MAX_N, OPT_LEN_WARMUP };

void pretrain_usage(FILE *fp)
{
    md_train_opt o;
    md_train_opt_init(&o, MD_OBJ_MLM);
    fprintf(fp,
            "Usage: mambadna pretrain (-m INIT | --arch STR [...]) -o OUT.safetensors [options]\n"
            "                         GENOME.fa [GENOME.fa ...]\n\n"
            "Pretrain a model on random windows of genomes (FASTA, plain or gzip, held in\n"
            "memory at 1 byte per base): masked-language modelling (Caduceus, BERT\n"
            "80/10/10 corruption) or next-token prediction (causal Mamba).\n\n"
            "Model:\n"
            "  -m, --model FILE          model to start from (file or checkpoint directory)\n");
    cli_train_model_usage(fp);
    fprintf(fp,
            "Data and objective:\n"
            "      --objective STR       mlm|next-token [mlm; next-token for mamba]\n"
            "  -L, --length INT          window length [%lld]\n"
            "      --steps INT           optimizer steps [%lld]\n"
            "      --mask-prob FLOAT     MLM: fraction of bases chosen [%g]\n"
            "      --max-n FLOAT         skip windows with a larger fraction of N [%g]\n"
            "      --len-warmup S:N      sequence-length warm-up: start at S bases and grow\n"
            "                            linearly to --length over N steps [off]\n",
            (long long)o.length, (long long)o.steps, o.mask_prob, o.max_n_frac);
    cli_train_usage(fp, &o);
}

/* The valid values of an option, for usage errors. */
static const char *pretrain_expected(int c)
{
    switch (c) {
    case OPT_OBJECTIVE: return "mlm or next-token";
    case 'L': return "an integer >= 2";
    case OPT_MASK_PROB: case OPT_MAX_N: return "a number";
    case OPT_LEN_WARMUP: return "START:STEPS, two integers >= 1";
    default: return cli_train_expected(c);
    }
}

int pretrain_main(int argc, char **argv)
{
    const char *cmd = "pretrain";
    struct option longopts[64];
    memcpy(longopts, cli_train_longopts, (size_t)cli_train_n_longopts * sizeof *longopts);
    int k = cli_train_n_longopts;
    longopts[k++] = (struct option){"objective", required_argument, 0, OPT_OBJECTIVE};
    longopts[k++] = (struct option){"length", required_argument, 0, 'L'};
    longopts[k++] = (struct option){"mask-prob", required_argument, 0, OPT_MASK_PROB};
    longopts[k++] = (struct option){"max-n", required_argument, 0, OPT_MAX_N};
    longopts[k++] = (struct option){"len-warmup", required_argument, 0, OPT_LEN_WARMUP};
    longopts[k++] = (struct option){0, 0, 0, 0};
    md_train_opt o;
    md_train_opt_init(&o, MD_OBJ_MLM);
    cli_train_opt_defaults(&o);
    cli_train_args a;
    cli_train_args_init(&a);
    int objective = -1, c, r;
    char *end;
    while ((c = getopt_long(argc, argv, "m:o:t:b:L:h", longopts, NULL)) >= 0) {
        if ((r = cli_train_option(c, optarg, &o, &a)) == -2) {
            cli_error(cmd, "%s", md_last_error());
            goto usage_error;
        }
        if (r < 0) goto bad_value;
        if (r > 0) continue;
        switch (c) {
        case OPT_OBJECTIVE:
            if (!strcmp(optarg, "mlm")) objective = MD_OBJ_MLM;
            else if (!strcmp(optarg, "next-token")) objective = MD_OBJ_NEXT_TOKEN;
            else goto bad_value;
            break;
        case 'L':
            if (cli_parse_size(optarg, &o.length) < 0 || o.length < 2) goto bad_value;
            break;
        case OPT_MASK_PROB:
            o.mask_prob = strtod(optarg, &end);
            if (end == optarg || *end) goto bad_value;
            break;
        case OPT_MAX_N:
            o.max_n_frac = strtod(optarg, &end);
            if (end == optarg || *end) goto bad_value;
            break;
        case OPT_LEN_WARMUP: {
            char *colon = strchr(optarg, ':');
            if (!colon) goto bad_value;
            *colon = 0;
            int bad = cli_parse_size(optarg, &o.len_start) < 0 || o.len_start < 1 ||
                      cli_parse_size(colon + 1, &o.len_steps) < 0 || o.len_steps < 1;
            *colon = ':';
            if (bad) goto bad_value;
            break;
        }
        case 'h':
            pretrain_usage(stdout);
            return cli_close_stdout(cmd);
        default: goto usage_error;
        }
    }
    if (optind >= argc || !a.out || (!o.resume && !a.model && a.arch < 0)) {
        if (!a.out) cli_error(cmd, "give the output model with -o");
        if (!o.resume && !a.model && a.arch < 0)
            cli_error(cmd, "give a model to start from with -m, or a new one with --arch");
        if (optind >= argc) cli_error(cmd, "give one or more genome FASTA files");
        goto usage_error;
    }
    if (a.model && a.arch >= 0 && !o.resume) {
        cli_error(cmd, "give -m or --arch, not both");
        goto usage_error;
    }
    if (!strcmp(a.out, "-")) {
        cli_error(cmd, "the output model must be a file");
        goto usage_error;
    }
    o.objective = objective < 0 ? MD_OBJ_MLM : objective; /* checked again below */
    o.data_files = (const char *const *)(argv + optind);
    o.n_data_files = argc - optind;
    cli_path outputs[] = {{"-o", a.out}, {"--log", o.log_path}};
    cli_path *inputs = malloc((size_t)(argc - optind + 1) * sizeof *inputs);
    if (!inputs) return cli_fail(cmd);
    inputs[0] = (cli_path){"the model (-m)", a.model};
    for (int i = optind; i < argc; i++) inputs[i - optind + 1] = (cli_path){"a genome", argv[i]};
    int clash = cli_check_paths(cmd, outputs, 2, inputs, argc - optind + 1);
    free(inputs);
    if (clash < 0) return EXIT_USAGE;
    if (md_train_opt_check(&o) < 0) {
        cli_fail(cmd);
        goto usage_error;
    }
    o.progress = !a.no_progress && isatty(STDERR_FILENO);

    int status = EXIT_OK;
    char *command = cli_command_line(argc, argv);
    o.command = command;
    md_model *m = NULL;
    md_genome *g = md_genome_load(o.data_files, o.n_data_files);
    if (!g) {
        status = cli_fail(cmd);
        goto out;
    }
    /* the model: a new or given one, or (--resume) the checkpoint's, which
     * md_pretrain loads itself; here only its architecture is needed for
     * the default objective */
    if (!(m = o.resume ? md_model_load(a.out) : cli_train_model(&a, 0, o.seed))) {
        status = cli_fail(cmd);
        goto out;
    }
    if (objective < 0)
        o.objective = md_model_config(m)->arch == MD_ARCH_MAMBA ? MD_OBJ_NEXT_TOKEN : MD_OBJ_MLM;
    if (o.objective == MD_OBJ_NEXT_TOKEN && md_model_config(m)->arch != MD_ARCH_MAMBA) {
        cli_error(cmd, "next-token prediction needs a causal model: %s models see the whole "
                  "sequence (use --objective mlm)", md_arch_name(md_model_config(m)->arch));
        status = EXIT_USAGE;
        goto out;
    }
    if (o.resume) {
        md_model_free(m);
        m = NULL;
    }
    md_train_stats st;
    if (md_pretrain(m, g, &o, a.out, &st) < 0) {
        status = cli_fail(cmd);
        goto out;
    }
    if (st.already_done) {
        fprintf(stderr, "mambadna pretrain: %s is already complete (%lld steps)\n", a.out,
                (long long)st.steps);
    } else {
        if (st.stopped_at)
            fprintf(stderr, "mambadna pretrain: stopped after step %lld as asked; continue with "
                    "--resume\n", (long long)st.steps);
        long secs = (long)(st.seconds + 0.5);
        fprintf(stderr, "mambadna pretrain: %lld steps, %lld tokens in %ld:%02ld:%02ld (%.0f "
                "tokens/s), loss %.4f -> %.4f; model %s\n", (long long)st.steps,
                (long long)st.tokens, secs / 3600, secs / 60 % 60, secs % 60, st.tokens_per_s,
                st.first_loss, st.last_loss, a.out);
    }
out:
    md_model_free(m);
    md_genome_free(g);
    free(command);
    return status;

bad_value:
    cli_bad_value(cmd, longopts, c, optarg, pretrain_expected(c));
    return EXIT_USAGE;
usage_error:
    cli_usage_hint(cmd);
    return EXIT_USAGE;
}
