/* finetune.c: `mambadna finetune`, sequence classification on labelled
 * data with evaluation on dev, early stopping and the best model kept. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "train_args.h"


enum {
    OPT_TRAIN = 1200, OPT_DEV, OPT_POS, OPT_NEG, OPT_DEV_POS, OPT_DEV_NEG, OPT_CLASSES,
    OPT_EPOCHS, OPT_PATIENCE, OPT_METRIC, OPT_EVAL_EVERY, OPT_EVAL_MAX, OPT_EVAL_BATCH,
    OPT_CLASS_WEIGHTS, OPT_MAX_LEN
};

void finetune_usage(FILE *fp)
{
    md_train_opt o;
    md_train_opt_init(&o, MD_OBJ_CLASSIFY);
    fprintf(fp,
            "Usage: mambadna finetune (-m MODEL | --arch STR [...]) -o OUT.safetensors\n"
            "                         (--train FILE | --pos FA --neg FA)\n"
            "                         (--dev FILE | --dev-pos FA --dev-neg FA) [options]\n\n"
            "Train a sequence classifier: the model's classification head (added, as\n"
            "md_model_init makes it, when the model has none or one of another class\n"
            "count; the backbone is kept) and the whole backbone. Evaluates on dev after\n"
            "each epoch (or --eval-every steps), keeps the best model by --metric in OUT\n"
            "and stops after --patience evaluations without improvement.\n\n"
            "Data: CSV/TSV \"sequence,label\" (GUE layout, header optional) or FASTA with\n"
            "label=K in the headers; or one FASTA per class (positives label 1).\n"
            "      --train FILE          training sequences\n"
            "      --pos FA, --neg FA    training sequences, one FASTA per class\n"
            "      --dev FILE            dev sequences for model selection\n"
            "      --dev-pos FA, --dev-neg FA\n"
            "      --classes INT         classes [from the labels: largest + 1]\n"
            "      --class-weights LIST  loss weights w0,w1,... or 'balanced' [none]\n"
            "      --max-len INT         cut longer sequences to their central INT bases [whole]\n"
            "Model:\n"
            "  -m, --model FILE          pretrained model (file or checkpoint directory)\n");
    cli_train_model_usage(fp);
    fprintf(fp,
            "Schedule and selection:\n"
            "      --epochs INT          passes over the training set [%d]\n"
            "      --steps INT           stop after INT steps, 0 for no cap [0]\n"
            "      --metric STR          mcc|auroc|loss|accuracy [%s]\n"
            "      --patience INT        evaluations without improvement before stopping,\n"
            "                            0 never [%d]\n"
            "      --eval-every INT      evaluate every INT steps [after each epoch]\n"
            "      --eval-max INT        evaluate on the first INT dev sequences [all]\n"
            "      --eval-batch INT      sequences per evaluation batch [%d]\n",
            o.epochs, md_train_metric_name(o.metric), o.patience, o.eval_batch);
    cli_train_usage(fp, &o);
}

/* "w0,w1,..." into weights (malloc'ed); "balanced" gives n / (K * count_k). */
static int parse_weights(const char *s, const md_labelled *d, int K, float **w, int *n)
{
    *w = calloc((size_t)(K > 0 ? K : 1), sizeof **w);
    if (!*w) return -1;
    if (!strcmp(s, "balanced")) {
        int64_t *cnt = calloc((size_t)K, sizeof *cnt);
        if (!cnt) return -1;
        for (int64_t i = 0; i < d->n; i++)
            if (d->labels[i] >= 0 && d->labels[i] < K) cnt[d->labels[i]]++;
        for (int k = 0; k < K; k++)
            (*w)[k] = cnt[k] ? (float)((double)d->n / ((double)K * (double)cnt[k])) : 1.0f;
        free(cnt);
        *n = K;
        return 0;
    }
    int k = 0;
    const char *p = s;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || k == K || !(v > 0) || !isfinite(v)) return -1;
        (*w)[k++] = (float)v;
        if (*end == ',') end++;
        else if (*end) return -1;
        p = end;
    }
    if (k != K) return -1;
    *n = K;
    return 0;
}

static int max_label(const md_labelled *d)
{
    int mx = -1;
    for (int64_t i = 0; i < d->n; i++)
        if (d->labels[i] > mx) mx = d->labels[i];
    return mx;
}

/* The valid values of an option, for usage errors. */
static const char *finetune_expected(int c)
{
    switch (c) {
    case OPT_CLASSES: case OPT_EVAL_BATCH: return "an integer from 1 to 65536";
    case OPT_EPOCHS: return "an integer from 1 to 1000000";
    case OPT_PATIENCE: return "an integer from 0 to 1000000";
    case OPT_METRIC: return "mcc, auroc, loss or accuracy";
    case OPT_EVAL_EVERY: case OPT_EVAL_MAX: case OPT_MAX_LEN: return "an integer >= 0";
    default: return cli_train_expected(c);
    }
}

int finetune_main(int argc, char **argv)
{
    const char *cmd = "finetune";
    struct option longopts[80];
    memcpy(longopts, cli_train_longopts, (size_t)cli_train_n_longopts * sizeof *longopts);
    int k = cli_train_n_longopts;
    static const struct option own[] = {
        {"train", required_argument, 0, OPT_TRAIN},    {"dev", required_argument, 0, OPT_DEV},
        {"pos", required_argument, 0, OPT_POS},        {"neg", required_argument, 0, OPT_NEG},
        {"dev-pos", required_argument, 0, OPT_DEV_POS}, {"dev-neg", required_argument, 0, OPT_DEV_NEG},
        {"classes", required_argument, 0, OPT_CLASSES}, {"epochs", required_argument, 0, OPT_EPOCHS},
        {"patience", required_argument, 0, OPT_PATIENCE}, {"metric", required_argument, 0, OPT_METRIC},
        {"eval-every", required_argument, 0, OPT_EVAL_EVERY},
        {"eval-max", required_argument, 0, OPT_EVAL_MAX},
        {"eval-batch", required_argument, 0, OPT_EVAL_BATCH},
        {"class-weights", required_argument, 0, OPT_CLASS_WEIGHTS},
        {"max-len", required_argument, 0, OPT_MAX_LEN},
    };
    for (size_t i = 0; i < sizeof own / sizeof *own; i++) longopts[k++] = own[i];
    longopts[k] = (struct option){0, 0, 0, 0};

    md_train_opt o;
    md_train_opt_init(&o, MD_OBJ_CLASSIFY);
    cli_train_opt_defaults(&o);
    cli_train_args a;
    cli_train_args_init(&a);
    const char *train = NULL, *dev = NULL, *pos = NULL, *neg = NULL, *dpos = NULL, *dneg = NULL;
    const char *weights = NULL;
    int64_t classes = 0, v;
    int c, r;
    while ((c = getopt_long(argc, argv, "m:o:t:b:h", longopts, NULL)) >= 0) {
        if ((r = cli_train_option(c, optarg, &o, &a)) == -2) {
            cli_error(cmd, "%s", md_last_error());
            goto usage_error;
        }
        if (r < 0) goto bad_value;
        if (r > 0) continue;
        switch (c) {
        case OPT_TRAIN: train = optarg; break;
        case OPT_DEV: dev = optarg; break;
        case OPT_POS: pos = optarg; break;
        case OPT_NEG: neg = optarg; break;
        case OPT_DEV_POS: dpos = optarg; break;
        case OPT_DEV_NEG: dneg = optarg; break;
        case OPT_CLASSES:
            if (cli_parse_size(optarg, &classes) < 0 || classes < 1 || classes > 65536) goto bad_value;
            break;
        case OPT_EPOCHS:
            if (cli_parse_size(optarg, &v) < 0 || v < 1 || v > 1000000) goto bad_value;
            o.epochs = (int)v;
            break;
        case OPT_PATIENCE:
            if (cli_parse_size(optarg, &v) < 0 || v > 1000000) goto bad_value;
            o.patience = (int)v;
            break;
        case OPT_METRIC:
            if ((o.metric = md_train_metric_parse(optarg)) < 0) goto bad_value;
            break;
        case OPT_EVAL_EVERY:
            if (cli_parse_size(optarg, &o.eval_every) < 0) goto bad_value;
            break;
        case OPT_EVAL_MAX:
            if (cli_parse_size(optarg, &o.eval_max) < 0) goto bad_value;
            break;
        case OPT_EVAL_BATCH:
            if (cli_parse_size(optarg, &v) < 0 || v < 1 || v > 65536) goto bad_value;
            o.eval_batch = (int)v;
            break;
        case OPT_CLASS_WEIGHTS: weights = optarg; break;
        case OPT_MAX_LEN:
            if (cli_parse_size(optarg, &o.length) < 0) goto bad_value;
            break;
        case 'h':
            finetune_usage(stdout);
            return cli_close_stdout(cmd);
        default: goto usage_error;
        }
    }
    int ok = 1;
    if (optind != argc) {
        cli_error(cmd, "unexpected argument '%s' (data go in --train/--dev)", argv[optind]);
        ok = 0;
    }
    if (!a.out) {
        cli_error(cmd, "give the output model with -o");
        ok = 0;
    } else if (!strcmp(a.out, "-")) {
        cli_error(cmd, "the output model must be a file");
        ok = 0;
    }
    if (!o.resume && !a.model && a.arch < 0) {
        cli_error(cmd, "give a model with -m, or a new one with --arch");
        ok = 0;
    }
    if (a.model && a.arch >= 0 && !o.resume) {
        cli_error(cmd, "give -m or --arch, not both");
        ok = 0;
    }
    if (!!train + !!(pos || neg) != 1 || (!train && !(pos && neg))) {
        cli_error(cmd, "give the training data with --train, or with --pos and --neg");
        ok = 0;
    }
    if (!!dev + !!(dpos || dneg) != 1 || (!dev && !(dpos && dneg))) {
        cli_error(cmd, "give the dev data with --dev, or with --dev-pos and --dev-neg");
        ok = 0;
    }
    if (!ok) goto usage_error;
    const char *files[4];
    int n_files = 0;
    if (train) files[n_files++] = train;
    else {
        files[n_files++] = pos;
        files[n_files++] = neg;
    }
    if (dev) files[n_files++] = dev;
    else {
        files[n_files++] = dpos;
        files[n_files++] = dneg;
    }
    o.data_files = files;
    o.n_data_files = n_files;
    const cli_path outputs[] = {{"-o", a.out}, {"--log", o.log_path}};
    const cli_path inputs[] = {{"the model (-m)", a.model}, {"a data file", files[0]},
                               {"a data file", files[1]}, {"a data file", n_files > 2 ? files[2] : NULL},
                               {"a data file", n_files > 3 ? files[3] : NULL}};
    if (cli_check_paths(cmd, outputs, 2, inputs, 5) < 0) return EXIT_USAGE;
    if (md_train_opt_check(&o) < 0) {
        cli_fail(cmd);
        goto usage_error;
    }
    o.progress = !a.no_progress && isatty(STDERR_FILENO);

    int status = EXIT_OK;
    md_labelled tr = {0}, dv = {0};
    md_model *m = NULL, *mh = NULL;
    float *w = NULL;
    char *command = cli_command_line(argc, argv);
    o.command = command;
    if ((train ? md_labelled_read(train, &tr) : md_labelled_read_classes(pos, neg, &tr)) < 0 ||
        (dev ? md_labelled_read(dev, &dv) : md_labelled_read_classes(dpos, dneg, &dv)) < 0) {
        status = cli_fail(cmd);
        goto out;
    }
    int K = (int)classes;
    if (!K) {
        int mx = max_label(&tr), md = max_label(&dv);
        K = (mx > md ? mx : md) + 1;
        if (K < 2) K = 2;
    }
    if (max_label(&tr) >= K || max_label(&dv) >= K) {
        cli_error(cmd, "the data have labels up to %d but --classes is %d",
                  max_label(&tr) > max_label(&dv) ? max_label(&tr) : max_label(&dv), K);
        status = EXIT_USAGE;
        goto out;
    }
    if (weights) {
        if (parse_weights(weights, &tr, K, &w, &o.n_class_weights) < 0) {
            cli_error(cmd, "invalid --class-weights '%s': give %d positive numbers separated "
                      "by commas, or 'balanced'", weights, K);
            status = EXIT_USAGE;
            goto out;
        }
        o.class_weights = w;
    }
    if (!o.resume) {
        if (!(m = cli_train_model(&a, K, o.seed))) {
            status = cli_fail(cmd);
            goto out;
        }
        if (md_model_config(m)->n_classes != K) {
            if (md_model_config(m)->n_classes > 0)
                md_log(MD_LOG_WARN, "the model's head has %d classes, the data %d: a new head "
                       "replaces it", md_model_config(m)->n_classes, K);
            if (!(mh = md_model_with_head(m, K, o.seed))) {
                status = cli_fail(cmd);
                goto out;
            }
            if (a.model) md_model_set_meta(mh, "mambadna.pretrained", a.model);
            md_model_free(m);
            m = mh;
            mh = NULL;
        }
    }
    md_train_stats st;
    if (md_finetune(m, &tr, &dv, &o, a.out, &st) < 0) {
        status = cli_fail(cmd);
        goto out;
    }
    if (st.already_done) {
        fprintf(stderr, "mambadna finetune: %s is already complete (%lld steps)\n", a.out,
                (long long)st.steps);
    } else {
        if (st.stopped_at)
            fprintf(stderr, "mambadna finetune: stopped after step %lld as asked; continue with "
                    "--resume\n", (long long)st.steps);
        long secs = (long)(st.seconds + 0.5);
        fprintf(stderr, "mambadna finetune: %lld steps, %d epoch%s, %lld tokens in "
                "%ld:%02ld:%02ld (%.0f tokens/s), train loss %.4f -> %.4f%s\n",
                (long long)st.steps, st.epochs, st.epochs == 1 ? "" : "s", (long long)st.tokens,
                secs / 3600, secs / 60 % 60, secs % 60, st.tokens_per_s, st.first_loss,
                st.last_loss, st.stopped_early ? "; stopped early" : "");
        if (st.best_step >= 0 && isnan(st.best_dev_loss))
            fprintf(stderr, "mambadna finetune: best dev %s %.4f at step %lld; model %s\n",
                    md_train_metric_name(o.metric),
                    o.metric == MD_METRIC_LOSS ? -st.best_score : st.best_score,
                    (long long)st.best_step, a.out);
        else if (st.best_step >= 0 && K == 2)
            fprintf(stderr, "mambadna finetune: best dev %s %.4f at step %lld (mcc %.4f, auroc "
                    "%.4f, accuracy %.4f, loss %.4f); model %s\n", md_train_metric_name(o.metric),
                    o.metric == MD_METRIC_LOSS ? -st.best_score : st.best_score, (long long)st.best_step,
                    st.best_dev.mcc, st.best_dev.auroc, st.best_dev_accuracy, st.best_dev_loss, a.out);
        else if (st.best_step >= 0)
            fprintf(stderr, "mambadna finetune: best dev %s %.4f at step %lld (accuracy %.4f, "
                    "loss %.4f); model %s\n", md_train_metric_name(o.metric),
                    o.metric == MD_METRIC_LOSS ? -st.best_score : st.best_score, (long long)st.best_step,
                    st.best_dev_accuracy, st.best_dev_loss, a.out);
    }
out:
    md_model_free(m);
    md_model_free(mh);
    md_labelled_free(&tr);
    md_labelled_free(&dv);
    free(w);
    free(command);
    return status;

bad_value:
    cli_bad_value(cmd, longopts, c, optarg, finetune_expected(c));
    return EXIT_USAGE;
usage_error:
    cli_usage_hint(cmd);
    return EXIT_USAGE;
}
