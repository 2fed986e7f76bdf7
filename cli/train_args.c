/* train_args.c: the options that pretrain and finetune share. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "train_args.h"

/* Long-option codes of the shared options (values above any short option). */
enum {
    OPT_SEED = 1000, OPT_LOG, OPT_RESUME, OPT_STEPS, OPT_LR, OPT_MIN_LR, OPT_WARMUP, OPT_WD,
    OPT_BETA1, OPT_BETA2, OPT_EPS, OPT_CLIP, OPT_RC_AUG, OPT_CKPT, OPT_NO_PROGRESS,
    OPT_STOP_AFTER, OPT_ARCH, OPT_D_MODEL, OPT_N_LAYER, OPT_D_STATE, OPT_D_CONV, OPT_EXPAND,
    OPT_DEVICE, OPT_PRECISION, OPT_SHARED_END
};

/* The shared long options; the caller appends its own and the terminator. */
const struct option cli_train_longopts[] = {
    {"output", required_argument, 0, 'o'},     {"threads", required_argument, 0, 't'},
    {"batch", required_argument, 0, 'b'},      {"model", required_argument, 0, 'm'},
    {"seed", required_argument, 0, OPT_SEED},  {"log", required_argument, 0, OPT_LOG},
    {"resume", no_argument, 0, OPT_RESUME},    {"steps", required_argument, 0, OPT_STEPS},
    {"lr", required_argument, 0, OPT_LR},      {"min-lr-ratio", required_argument, 0, OPT_MIN_LR},
    {"warmup", required_argument, 0, OPT_WARMUP}, {"weight-decay", required_argument, 0, OPT_WD},
    {"beta1", required_argument, 0, OPT_BETA1}, {"beta2", required_argument, 0, OPT_BETA2},
    {"eps", required_argument, 0, OPT_EPS},    {"clip", required_argument, 0, OPT_CLIP},
    {"rc-aug", no_argument, 0, OPT_RC_AUG},    {"checkpoint-every", required_argument, 0, OPT_CKPT},
    {"no-progress", no_argument, 0, OPT_NO_PROGRESS}, {"stop-after", required_argument, 0, OPT_STOP_AFTER},
    {"arch", required_argument, 0, OPT_ARCH},  {"d-model", required_argument, 0, OPT_D_MODEL},
    {"n-layer", required_argument, 0, OPT_N_LAYER}, {"d-state", required_argument, 0, OPT_D_STATE},
    {"d-conv", required_argument, 0, OPT_D_CONV}, {"expand", required_argument, 0, OPT_EXPAND},
    {"device", required_argument, 0, OPT_DEVICE}, {"precision", required_argument, 0, OPT_PRECISION},
    {"help", no_argument, 0, 'h'},
};
const int cli_train_n_longopts = (int)(sizeof cli_train_longopts / sizeof cli_train_longopts[0]);


void cli_train_args_init(cli_train_args *a)
{
    memset(a, 0, sizeof *a);
    a->arch = -1;
    a->d_model = 128;
    a->n_layer = 4;
    a->d_state = 16;
    a->d_conv = 4;
    a->expand = 2;
}

void cli_train_opt_defaults(md_train_opt *o)
{
    o->device = md_device_count() > 0 ? 1 : 0; /* the first GPU when there is one */
}

static int parse_double(const char *s, double *v)
{
    char *end;
    *v = strtod(s, &end);
    return end != s && !*end ? 0 : -1;
}

static int parse_int(const char *s, int64_t lo, int64_t hi, int64_t *v)
{
    return cli_parse_size(s, v) == 0 && *v >= lo && *v <= hi ? 0 : -1;
}

/* Apply one shared option: 1 handled, 0 not a shared option, -1 bad value. */
int cli_train_option(int c, const char *arg, md_train_opt *o, cli_train_args *a)
{
    int64_t v;
    double d;
    switch (c) {
    case 'o': a->out = arg; return 1;
    case 'm': a->model = arg; return 1;
    case 't':
        if (parse_int(arg, 1, 4096, &v) < 0) return -1;
        o->threads = (int)v;
        return 1;
    case 'b':
        if (parse_int(arg, 1, 65536, &v) < 0) return -1;
        o->batch = (int)v;
        return 1;
    case OPT_SEED:
        if (cli_parse_size(arg, &v) < 0) return -1;
        o->seed = (uint64_t)v;
        return 1;
    case OPT_LOG: o->log_path = arg; return 1;
    case OPT_RESUME: o->resume = 1; return 1;
    case OPT_STEPS:
        if (parse_int(arg, 0, INT64_MAX / 2, &o->steps) < 0) return -1;
        return 1;
    case OPT_LR: return parse_double(arg, &o->lr) < 0 || !(o->lr > 0) ? -1 : 1;
    case OPT_MIN_LR: return parse_double(arg, &o->min_lr_ratio) < 0 ? -1 : 1;
    case OPT_WARMUP: return parse_int(arg, 0, INT64_MAX / 2, &o->warmup) < 0 ? -1 : 1;
    case OPT_WD: return parse_double(arg, &o->weight_decay) < 0 ? -1 : 1;
    case OPT_BETA1: return parse_double(arg, &o->beta1) < 0 ? -1 : 1;
    case OPT_BETA2: return parse_double(arg, &o->beta2) < 0 ? -1 : 1;
    case OPT_EPS: return parse_double(arg, &o->eps) < 0 ? -1 : 1;
    case OPT_CLIP: return parse_double(arg, &d) < 0 || d < 0 ? -1 : (o->clip = d, 1);
    case OPT_RC_AUG: o->rc_aug = 1; return 1;
    case OPT_CKPT: return parse_int(arg, 0, INT64_MAX / 2, &o->ckpt_every) < 0 ? -1 : 1;
    case OPT_NO_PROGRESS: a->no_progress = 1; return 1;
    case OPT_STOP_AFTER: return parse_int(arg, 0, INT64_MAX / 2, &o->stop_after) < 0 ? -1 : 1;
    case OPT_ARCH: return (a->arch = md_arch_parse(arg)) < 0 ? -1 : 1;
    case OPT_D_MODEL: return parse_int(arg, 1, 1 << 16, &v) < 0 ? -1 : (a->d_model = (int)v, 1);
    case OPT_N_LAYER: return parse_int(arg, 1, 1 << 12, &v) < 0 ? -1 : (a->n_layer = (int)v, 1);
    case OPT_D_STATE: return parse_int(arg, 1, 64, &v) < 0 ? -1 : (a->d_state = (int)v, 1);
    case OPT_D_CONV: return parse_int(arg, 1, 64, &v) < 0 ? -1 : (a->d_conv = (int)v, 1);
    case OPT_EXPAND: return parse_int(arg, 1, 64, &v) < 0 ? -1 : (a->expand = (int)v, 1);
    case OPT_DEVICE: return md_device_parse(arg, &o->device) < 0 ? -2 : 1;
    case OPT_PRECISION: return (o->precision = md_precision_parse(arg)) < 0 ? -2 : 1;
    default: return 0;
    }
}

const char *cli_train_expected(int c)
{
    switch (c) {
    case 't': return "an integer from 1 to 4096";
    case 'b': return "an integer from 1 to 65536";
    case OPT_SEED: return "an integer >= 0";
    case OPT_STEPS: case OPT_WARMUP: case OPT_CKPT: case OPT_STOP_AFTER:
        return "an integer >= 0 (suffixes k, M, G allowed)";
    case OPT_LR: return "a number > 0";
    case OPT_MIN_LR: case OPT_WD: case OPT_BETA1: case OPT_BETA2: case OPT_EPS:
        return "a number";
    case OPT_CLIP: return "a number >= 0 (0: no clipping)";
    case OPT_ARCH: return "mamba, caduceus-ph or caduceus-ps";
    case OPT_D_MODEL: return "an integer from 1 to 65536";
    case OPT_N_LAYER: return "an integer from 1 to 4096";
    case OPT_D_STATE: case OPT_D_CONV: case OPT_EXPAND: return "an integer from 1 to 64";
    default: return NULL;
    }
}

/* Usage lines of the shared options, with the live defaults of o. */
void cli_train_usage(FILE *fp, const md_train_opt *o)
{
    fprintf(fp,
            "Optimizer (AdamW, linear warm-up then cosine decay):\n"
            "      --lr FLOAT            peak learning rate [%g]\n"
            "      --min-lr-ratio FLOAT  final learning rate as a fraction of --lr [%g]\n"
            "      --warmup INT          warm-up steps [10%% of the steps]\n"
            "      --weight-decay FLOAT  decoupled weight decay (not on norms, biases,\n"
            "                            A_log, D) [%g]\n"
            "      --beta1 FLOAT         [%g]\n"
            "      --beta2 FLOAT         [%g]\n"
            "      --eps FLOAT           [%g]\n"
            "      --clip FLOAT          clip the global gradient norm, 0 for none [%g]\n"
            "Run:\n"
            "  -b, --batch INT           sequences per step [%d]\n"
            "      --rc-aug              reverse-complement inputs with probability 0.5\n"
            "      --seed INT            data order, masking, augmentation, new weights [%llu]\n"
            "      --checkpoint-every N  write a checkpoint every N steps [%s]\n"
            "      --resume              continue the run that writes -o from its last\n"
            "                            checkpoint (same options and data; bit-exact\n"
            "                            with the same thread count)\n"
            "      --stop-after INT      write a checkpoint and stop once INT steps are\n"
            "                            done (train in slices with --resume) [0: run to the end]\n"
            "      --log FILE            JSON lines: one object per step and evaluation\n"
            "      --no-progress         no progress line (shown only on a terminal)\n"
            "  -t, --threads INT         threads [all cores]\n"
            "      --device STR          cpu|cuda|cuda:N: where the steps run [%s]; the GPU\n"
            "                            agrees with the CPU within float32 rounding, the\n"
            "                            CPU alone is bit-reproducible\n"
            "      --precision STR       GPU matrix products: fp32|tf32|bf16 (bf16 tensor\n"
            "                            cores, float32 weights and optimizer) [fp32]\n"
            "  -o, --output FILE         output model (required); the training state goes\n"
            "                            to FILE.state.safetensors, the marker FILE.done\n",
            o->lr, o->min_lr_ratio, o->weight_decay, o->beta1, o->beta2, o->eps, o->clip,
            o->batch, (unsigned long long)o->seed,
            o->objective == MD_OBJ_CLASSIFY ? "after each evaluation" : "at the end",
            md_device_count() > 0 ? "cuda" : "cpu");
}

void cli_train_model_usage(FILE *fp)
{
    fprintf(fp,
            "New model (instead of -m):\n"
            "      --arch STR            mamba|caduceus-ph|caduceus-ps\n"
            "      --d-model INT         width [128]\n"
            "      --n-layer INT         layers [4]\n"
            "      --d-state INT         SSM state size [16]\n"
            "      --d-conv INT          convolution width [4]\n"
            "      --expand INT          inner width factor [2]\n");
}

/* The exact command line, as "mambadna CMD ARGS", shell-quoted where needed. */
char *cli_command_line(int argc, char **argv)
{
    size_t n = 16;
    for (int i = 0; i < argc; i++) n += 4 * strlen(argv[i]) + 3;
    char *s = malloc(n), *p = s;
    if (!s) return NULL;
    p += sprintf(p, "mambadna");
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int plain = *a != 0;
        for (const char *q = a; *q; q++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%", *q))
                plain = 0;
        *p++ = ' ';
        if (plain) {
            p += sprintf(p, "%s", a);
            continue;
        }
        *p++ = '\'';
        for (const char *q = a; *q; q++) {
            if (*q == '\'') p += sprintf(p, "'\\''");
            else *p++ = *q;
        }
        *p++ = '\'';
    }
    *p = 0;
    return s;
}

/* A new model from the --arch options, or the -m file. NULL with a message. */
md_model *cli_train_model(const cli_train_args *a, int n_classes, uint64_t seed)
{
    if (a->model) return md_model_load(a->model);
    md_config cfg;
    md_config_init(&cfg, a->arch, a->d_model, a->n_layer);
    cfg.d_state = a->d_state;
    cfg.d_conv = a->d_conv;
    cfg.expand = a->expand;
    cfg.n_classes = n_classes;
    if (md_config_check(&cfg) < 0) return NULL;
    return md_model_init(&cfg, seed);
}
