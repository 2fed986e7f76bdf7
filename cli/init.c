/* init.c: `mambadna init`, a new model initialised as mamba_ssm does. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void init_usage(FILE *fp)
{
    md_config c;
    md_config_init(&c, MD_ARCH_CADUCEUS_PS, 128, 4);
    fprintf(fp,
            "Usage: mambadna init [options] -o MODEL.safetensors\n\n"
            "Create a randomly initialised model (mamba_ssm's initialisation).\n\n"
            "Options:\n"
            "  -a, --arch STR      mamba|caduceus-ph|caduceus-ps [%s]\n"
            "  -d, --d-model INT   model width [%d]\n"
            "  -l, --n-layer INT   layers [%d]\n"
            "      --d-state INT   SSM state size [%d]\n"
            "      --d-conv INT    convolution width [%d]\n"
            "      --expand INT    inner width factor [%d]\n"
            "      --dt-rank INT   dt projection rank [ceil(d_model/16)]\n"
            "      --combine STR   bidirectional combine: add|ew_multiply [add]\n"
            "      --classes INT   add a classification head with INT classes [0]\n"
            "      --window INT    scoring window recorded in the model [none]\n"
            "      --stride INT    scoring stride recorded in the model [window/4]\n"
            "      --seed INT      random seed [1]\n"
            "      --dtype STR     f32|bf16|f16 [f32]\n"
            "  -o, --output FILE   output model file (required)\n",
            md_arch_name(c.arch), c.d_model, c.n_layer, c.d_state, c.d_conv, c.expand);
}

int init_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"arch", required_argument, 0, 'a'},  {"d-model", required_argument, 0, 'd'},
        {"n-layer", required_argument, 0, 'l'}, {"d-state", required_argument, 0, 1},
        {"d-conv", required_argument, 0, 2},  {"expand", required_argument, 0, 3},
        {"dt-rank", required_argument, 0, 4}, {"combine", required_argument, 0, 5},
        {"classes", required_argument, 0, 6}, {"seed", required_argument, 0, 7},
        {"dtype", required_argument, 0, 8},   {"output", required_argument, 0, 'o'},
        {"window", required_argument, 0, 9},  {"stride", required_argument, 0, 10},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    const char *cmd = "init", *out = NULL;
    int arch = MD_ARCH_CADUCEUS_PS, d_model = 128, n_layer = 4, dtype = MD_F32;
    int d_state = 16, d_conv = 4, expand = 2, dt_rank = 0, combine = MD_COMBINE_ADD, classes = 0;
    long window = 0, stride = 0;
    uint64_t seed = 1;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "a:d:l:o:h", longopts, NULL)) >= 0) {
        long v = 0;
        if (c != 'a' && c != 'o' && c != 'h' && c != 5 && c != 8 && c != '?') {
            v = strtol(optarg, &end, 10);
            if (*end || v < 0 || v > 1 << 30) goto bad_value;
        }
        switch (c) {
        case 'a':
            if ((arch = md_arch_parse(optarg)) < 0) goto bad_value;
            break;
        case 'd': d_model = (int)v; break;
        case 'l': n_layer = (int)v; break;
        case 1: d_state = (int)v; break;
        case 2: d_conv = (int)v; break;
        case 3: expand = (int)v; break;
        case 4: dt_rank = (int)v; break;
        case 5:
            if (!strcmp(optarg, "add")) combine = MD_COMBINE_ADD;
            else if (!strcmp(optarg, "ew_multiply")) combine = MD_COMBINE_MUL;
            else goto bad_value;
            break;
        case 6: classes = (int)v; break;
        case 7: seed = (uint64_t)v; break;
        case 9: window = v; break;
        case 10: stride = v; break;
        case 8:
            if ((dtype = cli_parse_dtype(optarg)) < 0) goto bad_value;
            break;
        case 'o': out = optarg; break;
        case 'h':
            init_usage(stdout);
            return cli_close_stdout(cmd);
        default: cli_usage_hint(cmd); return EXIT_USAGE;
        }
    }
    if (optind != argc || !out) {
        if (optind != argc) cli_error(cmd, "unexpected argument '%s'", argv[optind]);
        if (!out) cli_error(cmd, "give the output file with -o");
        cli_usage_hint(cmd);
        return EXIT_USAGE;
    }
    md_config cfg;
    md_config_init(&cfg, arch, d_model, n_layer);
    cfg.d_state = d_state;
    cfg.d_conv = d_conv;
    cfg.expand = expand;
    if (dt_rank) cfg.dt_rank = dt_rank;
    cfg.combine = combine;
    cfg.n_classes = classes;
    cfg.window = window;
    cfg.stride = window ? (stride ? stride : (window + 3) / 4) : 0;
    if (md_config_check(&cfg) < 0) {
        cli_fail(cmd);
        cli_usage_hint(cmd);
        return EXIT_USAGE;
    }
    md_model *m = md_model_init(&cfg, seed);
    if (!m) return cli_fail(cmd);
    int ret = md_model_save(m, out, dtype);
    if (ret == 0)
        fprintf(stderr, "mambadna init: %s model, d_model %d, %d layers, %lld parameters, "
                "seed %llu -> %s\n", md_arch_name(cfg.arch), cfg.d_model, cfg.n_layer,
                (long long)md_model_n_params(m), (unsigned long long)seed, out);
    md_model_free(m);
    if (ret < 0) return cli_fail(cmd);
    return EXIT_OK;
bad_value:
    cli_bad_value(cmd, longopts, c, optarg,
                  c == 'a' ? "mamba, caduceus-ph or caduceus-ps"
                  : c == 5 ? "add or ew_multiply"
                  : c == 8 ? "f32, bf16 or f16" : "an integer from 0 to 1073741824");
    return EXIT_USAGE;
}
