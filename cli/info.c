/* info.c: `mambadna info`, what a model file holds. */
#include <getopt.h>

#include "cli.h"

void info_usage(FILE *fp)
{
    fprintf(fp, "Usage: mambadna info [options] MODEL\n\n"
                "Print the architecture, sizes, parameter count, tensor table and\n"
                "metadata of a model file or Hugging Face checkpoint directory.\n\n"
                "Options:\n"
                "  -T, --no-tensors   omit the tensor table\n");
}

int info_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"no-tensors", no_argument, 0, 'T'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c, tensors = 1;
    while ((c = getopt_long(argc, argv, "Th", longopts, NULL)) >= 0) {
        if (c == 'T') tensors = 0;
        else if (c == 'h') {
            info_usage(stdout);
            return cli_close_stdout("info");
        } else {
            cli_usage_hint("info");
            return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        cli_error("info", "give one model file or checkpoint directory");
        cli_usage_hint("info");
        return EXIT_USAGE;
    }
    md_model *m = md_model_load(argv[optind]);
    if (!m) return cli_fail("info");
    const md_config *cfg = md_model_config(m);
    printf("model\t%s\n", argv[optind]);
    printf("arch\t%s\n", md_arch_name(cfg->arch));
    printf("d_model\t%d\nn_layer\t%d\nvocab_size\t%d\nd_state\t%d\nd_conv\t%d\nexpand\t%d\n"
           "dt_rank\t%d\nhidden_width\t%d\n",
           cfg->d_model, cfg->n_layer, cfg->vocab_size, cfg->d_state, cfg->d_conv,
           cfg->expand, cfg->dt_rank, md_config_hidden_width(cfg));
    if (cfg->arch != MD_ARCH_MAMBA)
        printf("combine\t%s\n", cfg->combine == MD_COMBINE_ADD ? "add" : "ew_multiply");
    printf("norm\t%s (eps %g)\n", cfg->rms_norm ? "RMSNorm" : "LayerNorm", cfg->norm_eps);
    if (cfg->n_classes) printf("classes\t%d\n", cfg->n_classes);
    if (cfg->window) printf("window\t%lld\nstride\t%lld\n", (long long)cfg->window, (long long)cfg->stride);
    printf("parameters\t%lld\n", (long long)md_model_n_params(m));
    for (int i = 0; i < md_model_n_meta(m); i++)
        printf("meta\t%s\t%s\n", md_model_meta_key(m, i), md_model_meta(m, md_model_meta_key(m, i)));
    for (int i = 0; tensors && i < md_model_n_tensors(m); i++) {
        int ndim;
        int64_t shape[4];
        const char *name = md_model_tensor_name(m, i, &ndim, shape);
        printf("tensor\t%s\t[", name);
        for (int d = 0; d < ndim; d++) printf("%s%lld", d ? "," : "", (long long)shape[d]);
        printf("]\n");
    }
    md_model_free(m);
    return cli_close_stdout("info");
}
