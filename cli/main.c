/* main.c: `mambadna <command> [options]` dispatch. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const cli_command commands[] = {
    {"score", "promoter scores along genomes: tracks, calls, regions, reads", score_main, score_usage},
    {"variants", "effects of VCF/BCF variants on the score (INFO tags)", variants_main, variants_usage},
    {"bigwig", "write a bedGraph track as bigWig (as score -o OUT.bw writes it)", bigwig_main, bigwig_usage},
    {"explain", "per-base attributions of scores: ISM or gradients", explain_main, explain_usage},
    {"embed", "hidden states of sequences, per position or pooled (NPY)", embed_main, embed_usage},
    {"eval", "classification metrics on labelled sequences", eval_main, eval_usage},
    {"tokenize", "tokenize sequences (TSV or NPY)", tokenize_main, tokenize_usage},
    {"faidx", "index a FASTA file for random access", faidx_main, faidx_usage},
    {"pretrain", "pretrain a model on genomes (MLM or next-token)", pretrain_main, pretrain_usage},
    {"finetune", "train a sequence classifier on labelled data", finetune_main, finetune_usage},
    {"init", "create a randomly initialised model", init_main, init_usage},
    {"convert", "write a checkpoint as a native model file", convert_main, convert_usage},
    {"info", "describe a model file", info_main, info_usage},
};
static const int n_commands = (int)(sizeof commands / sizeof commands[0]);

static void usage(FILE *fp)
{
    fprintf(fp,
            "\nProgram: mambadna (long-context Mamba models for DNA)\n"
            "Version: %s (htslib %s)\n\n"
            "Usage:   mambadna <command> [options]\n\nCommands:\n",
            MAMBADNA_VERSION, md_htslib_version());
    for (int i = 0; i < n_commands; i++)
        fprintf(fp, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(fp, "\n  help CMD   options of one command\n"
                "  --version  versions of mambadna and htslib\n\n");
}

static const cli_command *find_command(const char *name)
{
    for (int i = 0; i < n_commands; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
        usage(stdout);
        return cli_close_stdout("mambadna");
    }
    if (!strcmp(name, "--version")) {
        printf("mambadna %s\nhtslib %s\n", MAMBADNA_VERSION, md_htslib_version());
        return cli_close_stdout("mambadna");
    }
    if (!strcmp(name, "help")) {
        if (argc < 3) {
            usage(stdout);
            return cli_close_stdout("mambadna");
        }
        const cli_command *cmd = find_command(argv[2]);
        if (!cmd) {
            cli_error("help", "unknown command '%s'", argv[2]);
            return EXIT_USAGE;
        }
        cmd->usage(stdout);
        return cli_close_stdout("mambadna");
    }
    const cli_command *cmd = find_command(name);
    if (!cmd) {
        cli_error("mambadna", "unknown command '%s' (see 'mambadna --help')", name);
        return EXIT_USAGE;
    }
    cli_install_signal_handlers();
    return cmd->main(argc - 1, argv + 1);
}
