/* faidx.c: `mambadna faidx`, create the .fai (and .gzi) index of a FASTA. */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "cli.h"

void faidx_usage(FILE *fp)
{
    fprintf(fp, "Usage: mambadna faidx FASTA...\n\n"
                "Create FASTA.fai (and FASTA.gzi for bgzip files) for random access\n"
                "with -r/-R. A plain gzip FASTA cannot be indexed: recompress it with\n"
                "bgzip first (zcat IN.fa.gz | bgzip > OUT.fa.gz).\n");
}

int faidx_main(int argc, char **argv)
{
    static const struct option longopts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) >= 0) {
        if (c == 'h') {
            faidx_usage(stdout);
            return cli_close_stdout("faidx");
        }
        cli_usage_hint("faidx");
        return EXIT_USAGE;
    }
    if (optind >= argc) {
        cli_error("faidx", "give the FASTA files to index");
        cli_usage_hint("faidx");
        return EXIT_USAGE;
    }
    for (int i = optind; i < argc; i++) {
        if (md_faidx_build(argv[i]) < 0) return cli_fail("faidx");
        md_faidx *fx = md_faidx_open(argv[i], 0);
        if (!fx) return cli_fail("faidx");
        char gzi[4096];
        snprintf(gzi, sizeof gzi, "%s.gzi", argv[i]);
        fprintf(stderr, "mambadna faidx: %s: %d contigs -> %s.fai%s\n", argv[i],
                md_faidx_n_contigs(fx), argv[i], access(gzi, F_OK) == 0 ? " and .gzi" : "");
        md_faidx_close(fx);
    }
    return EXIT_OK;
}
