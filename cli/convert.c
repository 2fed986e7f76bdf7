/* convert.c: `mambadna convert`, checkpoints to the native model file. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void convert_usage(FILE *fp)
{
    fprintf(fp, "Usage: mambadna convert [options] IN -o OUT.safetensors\n\n"
                "Write a model (a Hugging Face directory of a Caduceus or mamba_ssm\n"
                "checkpoint, or a native file) as a native mambadna model file.\n\n"
                "Options:\n"
                "      --dtype STR     f32|bf16|f16 [f32]\n"
                "      --window INT    record a scoring window (default of `score`)\n"
                "      --stride INT    record a scoring stride [window/4]\n"
                "      --meta KEY=VAL  add a metadata entry (repeatable)\n"
                "  -o, --output FILE   output model file (required)\n");
}

int convert_main(int argc, char **argv)
{
    static const struct option longopts[] = {{"dtype", required_argument, 0, 1},
                                              {"window", required_argument, 0, 2},
                                              {"stride", required_argument, 0, 3},
                                              {"meta", required_argument, 0, 4},
                                              {"output", required_argument, 0, 'o'},
                                              {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *cmd = "convert", *out = NULL;
    int c, dtype = MD_F32, n_meta = 0;
    int64_t window = -1, stride = 0;
    char *meta[64];
    while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) >= 0) {
        switch (c) {
        case 1:
            if ((dtype = cli_parse_dtype(optarg)) < 0) {
                cli_bad_value(cmd, longopts, c, optarg, "f32, bf16 or f16");
                return EXIT_USAGE;
            }
            break;
        case 2:
        case 3:
            if (cli_parse_size(optarg, c == 2 ? &window : &stride) < 0) {
                cli_bad_value(cmd, longopts, c, optarg, "an integer >= 0 (suffixes k, M, G allowed)");
                return EXIT_USAGE;
            }
            break;
        case 4:
            if (!strchr(optarg, '=') || n_meta == 64) {
                cli_error(cmd, "--meta takes KEY=VALUE (at most 64)");
                cli_usage_hint(cmd);
                return EXIT_USAGE;
            }
            meta[n_meta++] = optarg;
            break;
        case 'o': out = optarg; break;
        case 'h': convert_usage(stdout); return cli_close_stdout(cmd);
        default: cli_usage_hint(cmd); return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc || !out) {
        if (optind + 1 != argc) cli_error(cmd, "give one model file or checkpoint directory");
        if (!out) cli_error(cmd, "give the output file with -o");
        cli_usage_hint(cmd);
        return EXIT_USAGE;
    }
    const cli_path outputs[] = {{"-o", out}};
    const cli_path inputs[] = {{"the input model", argv[optind]}};
    if (cli_check_paths(cmd, outputs, 1, inputs, 1) < 0) return EXIT_USAGE;
    md_model *m = md_model_load(argv[optind]);
    if (!m) return cli_fail(cmd);
    int ret = 0;
    if (window >= 0 || stride > 0)
        ret = md_model_set_window(m, window >= 0 ? window : md_model_config(m)->window, stride);
    for (int i = 0; ret == 0 && i < n_meta; i++) {
        char *eq = strchr(meta[i], '=');
        *eq = 0;
        ret = md_model_set_meta(m, meta[i], eq + 1);
        *eq = '=';
    }
    if (ret == 0) ret = md_model_save(m, out, dtype);
    if (ret == 0)
        fprintf(stderr, "mambadna convert: %s model, %lld parameters, %s -> %s\n",
                md_arch_name(md_model_config(m)->arch), (long long)md_model_n_params(m),
                dtype == MD_F32 ? "f32" : dtype == MD_BF16 ? "bf16" : "f16", out);
    md_model_free(m);
    return ret < 0 ? cli_fail(cmd) : EXIT_OK;
}
