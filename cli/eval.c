/* eval.c: `mambadna eval`, classification metrics of a model on labelled
 * sequences. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"

typedef struct eval_opt {
    md_forward_opt fwd;      /* threads, rc_avg */
    int batch;               /* sequences run together */
    double threshold;        /* class 1 where p1 >= threshold */
    int json;                /* print one JSON object instead of the table */
    int baselines;           /* also rank the sequences by GC content and CpG o/e */
    const char *predictions; /* TSV of per-sequence predictions, or NULL */
} eval_opt;

static void eval_opt_init(eval_opt *o)
{
    memset(o, 0, sizeof *o);
    md_forward_opt_init(&o->fwd);
    o->fwd.chunk = 65536;
    o->fwd.device = md_device_count() > 0 ? 1 : 0; /* the first GPU when there is one */
    o->batch = 64;
    o->threshold = 0.5;
}

void eval_usage(FILE *fp)
{
    eval_opt o;
    eval_opt_init(&o);
    fprintf(fp,
            "Usage: mambadna eval -m MODEL [options] DATA\n"
            "       mambadna eval -m MODEL [options] --pos POS.fa --neg NEG.fa\n"
            "       mambadna eval -m MODEL [options] --bed LABELLED.bed --genome GENOME.fa\n\n"
            "Classify labelled sequences with a model's classification head and print\n"
            "accuracy, precision, recall, F1, MCC, AUROC, AUPRC and per-class counts.\n"
            "DATA is CSV or TSV \"sequence,label\" (GUE layout; header optional) or\n"
            "FASTA with label=K in the header lines. --pos/--neg: one FASTA per class\n"
            "(label 1 and 0). --bed: intervals of an indexed FASTA with the label in\n"
            "column 5 ('-' strand intervals are reverse complemented).\n\n"
            "Options:\n"
            "  -m, --model FILE       model file or checkpoint directory (required)\n"
            "      --pos FILE         sequences of class 1 (with --neg)\n"
            "      --neg FILE         sequences of class 0 (with --pos)\n"
            "      --bed FILE         BED intervals, label in column 5 (with --genome)\n"
            "      --genome FILE      indexed FASTA the BED refers to\n"
            "      --threshold FLOAT  class 1 when its probability is >= FLOAT [%g]\n"
            "      --rc STR           none|avg: average with the reverse-complement pass\n"
            "                         (RC-equivariant PS models always use both) [none]\n"
            "      --batch INT        sequences run together (equal lengths together;\n"
            "                         mixed lengths padded with [PAD]) [%d]\n"
            "  -t, --threads INT      threads [all cores]\n"
            "      --device STR       cpu|cuda|cuda:N: where the network runs [%s]\n"
            "      --precision STR    GPU arithmetic: fp32|tf32|bf16 [fp32]\n"
            "  -p, --predictions FILE write name, label, p1, predicted per sequence (TSV)\n"
            "      --json             print the metrics as one JSON object\n"
            "      --baselines        also the AUROC and AUPRC of two trivial baselines\n"
            "                         on the same sequences: GC content, CpG o/e\n\n"
            "Models with more than 2 classes: accuracy and per-class counts from the\n"
            "most probable class; the other metrics for class 1 against the rest.\n",
            o.threshold, o.batch, md_device_count() > 0 ? "cuda" : "cpu");
}

/* ------------------------------------------------------------------ */
/* Progress                                                            */
/* ------------------------------------------------------------------ */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct progress_state {
    double start, last;
    int shown;
} progress_state;

static void show_progress(int64_t done, int64_t n, void *arg)
{
    progress_state *p = arg;
    double t = now_s();
    if (done < n && t - p->last < 0.5) return;
    p->last = t;
    p->shown = 1;
    double rate = t > p->start ? (double)done / (t - p->start) : 0;
    fprintf(stderr, "\rmambadna eval: %lld/%lld sequences (%.0f/s)  ", (long long)done,
            (long long)n, rate);
    fflush(stderr);
}

/* ------------------------------------------------------------------ */
/* Results                                                             */
/* ------------------------------------------------------------------ */

typedef struct class_counts {
    int64_t n, tp, fp, tn, fn;
} class_counts;

typedef struct eval_result {
    int C;                /* model classes */
    md_metrics bin;       /* class 1 against the rest */
    double accuracy;      /* threshold accuracy (C = 2) or argmax accuracy */
    class_counts *counts; /* [C] */
    int32_t *pred;        /* [n] predicted class */
    md_composition *comp; /* [n] base composition (--baselines), or NULL */
    md_metrics gc, cpg;   /* the sequences ranked by GC content, by CpG o/e */
} eval_result;

/* Predicted classes, per-class counts and metrics from probs[n * C]. */
static int compute_result(const md_labelled *d, const float *probs, int C, double threshold,
                          eval_result *r)
{
    int64_t n = d->n;
    r->C = C;
    r->counts = calloc((size_t)C, sizeof *r->counts);
    r->pred = malloc((size_t)n * sizeof *r->pred);
    float *p1 = malloc((size_t)n * sizeof *p1);
    int32_t *y1 = malloc((size_t)n * sizeof *y1);
    if (!r->counts || !r->pred || !p1 || !y1) {
        free(p1);
        free(y1);
        return md_error(MD_ERR_NOMEM, "out of memory");
    }
    int64_t correct = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *p = probs + i * C;
        int k = 0;
        if (C == 2) {
            k = (double)p[1] >= threshold;
        } else {
            for (int c = 1; c < C; c++)
                if (p[c] > p[k]) k = c;
        }
        r->pred[i] = k;
        p1[i] = p[1];
        y1[i] = d->labels[i] == 1;
        correct += k == d->labels[i];
    }
    for (int c = 0; c < C; c++) {
        class_counts *cc = &r->counts[c];
        for (int64_t i = 0; i < n; i++) {
            int is = d->labels[i] == c, pr = r->pred[i] == c;
            cc->n += is;
            if (is) pr ? cc->tp++ : cc->fn++;
            else pr ? cc->fp++ : cc->tn++;
        }
    }
    int ret = md_metrics_binary(p1, y1, n, threshold, &r->bin);
    r->accuracy = C == 2 ? r->bin.accuracy : (double)correct / (double)n;
    free(p1);
    free(y1);
    return ret;
}

static void result_free(eval_result *r)
{
    free(r->counts);
    free(r->pred);
    free(r->comp);
}

/* The trivial baselines: class 1 against the rest ranked by GC content and
 * by CpG observed/expected. Only their AUROC and AUPRC are reported. */
static int compute_baselines(const md_labelled *d, eval_result *r)
{
    int64_t n = d->n;
    r->comp = malloc((size_t)n * sizeof *r->comp);
    float *gc = malloc((size_t)n * sizeof *gc), *cpg = malloc((size_t)n * sizeof *cpg);
    int32_t *y1 = malloc((size_t)n * sizeof *y1);
    int ret = MD_ERR_NOMEM;
    if (!r->comp || !gc || !cpg || !y1) {
        md_error(ret, "out of memory");
        goto done;
    }
    for (int64_t i = 0; i < n; i++) {
        md_seq_composition(d->seqs[i], d->lens[i], &r->comp[i]);
        gc[i] = (float)r->comp[i].gc;
        cpg[i] = (float)r->comp[i].cpg_oe;
        y1[i] = d->labels[i] == 1;
    }
    ret = md_metrics_binary(gc, y1, n, 0.5, &r->gc);
    if (ret >= 0) ret = md_metrics_binary(cpg, y1, n, 0.5, &r->cpg);
done:
    free(gc);
    free(cpg);
    free(y1);
    return ret;
}

static void print_value(const char *key, double v)
{
    if (isnan(v)) printf("%s\tNA\n", key);
    else printf("%s\t%.4f\n", key, v);
}

static void print_table(const char *model, const char *data, const md_labelled *d,
                        const eval_opt *o, const eval_result *r)
{
    printf("model\t%s\ndata\t%s\n", model, data);
    printf("n\t%lld\nclasses\t%d\nthreshold\t%g\n", (long long)d->n, r->C, o->threshold);
    print_value("accuracy", r->accuracy);
    if (r->C > 2) printf("binary\tclass 1 vs rest\n");
    print_value("precision", r->bin.precision);
    print_value("recall", r->bin.recall);
    print_value("f1", r->bin.f1);
    print_value("mcc", r->bin.mcc);
    print_value("auroc", r->bin.auroc);
    print_value("auprc", r->bin.auprc);
    if (r->comp) {
        print_value("gc_auroc", r->gc.auroc);
        print_value("gc_auprc", r->gc.auprc);
        print_value("cpg_oe_auroc", r->cpg.auroc);
        print_value("cpg_oe_auprc", r->cpg.auprc);
    }
    printf("class\tn\tTP\tFP\tTN\tFN\n");
    for (int c = 0; c < r->C; c++) {
        const class_counts *cc = &r->counts[c];
        printf("%d\t%lld\t%lld\t%lld\t%lld\t%lld\n", c, (long long)cc->n, (long long)cc->tp,
               (long long)cc->fp, (long long)cc->tn, (long long)cc->fn);
    }
}

static json_t *jreal(double v) { return isnan(v) ? json_null() : json_real(v); }

static int print_json(const char *model, const char *data, const md_labelled *d,
                      const eval_opt *o, const eval_result *r)
{
    json_t *root = json_object(), *classes = json_array();
    if (!root || !classes) {
        json_decref(root);
        json_decref(classes);
        return md_error(MD_ERR_NOMEM, "out of memory");
    }
    json_object_set_new(root, "model", json_string(model));
    json_object_set_new(root, "data", json_string(data));
    json_object_set_new(root, "n", json_integer(d->n));
    json_object_set_new(root, "classes", json_integer(r->C));
    json_object_set_new(root, "threshold", json_real(o->threshold));
    json_object_set_new(root, "accuracy", jreal(r->accuracy));
    json_object_set_new(root, "precision", jreal(r->bin.precision));
    json_object_set_new(root, "recall", jreal(r->bin.recall));
    json_object_set_new(root, "f1", jreal(r->bin.f1));
    json_object_set_new(root, "mcc", jreal(r->bin.mcc));
    json_object_set_new(root, "auroc", jreal(r->bin.auroc));
    json_object_set_new(root, "auprc", jreal(r->bin.auprc));
    if (r->comp) {
        json_t *b = json_object();
        const char *names[2] = {"gc", "cpg_oe"};
        const md_metrics *m[2] = {&r->gc, &r->cpg};
        for (int k = 0; k < 2; k++) {
            json_t *j = json_object();
            json_object_set_new(j, "auroc", jreal(m[k]->auroc));
            json_object_set_new(j, "auprc", jreal(m[k]->auprc));
            json_object_set_new(b, names[k], j);
        }
        json_object_set_new(root, "baselines", b);
    }
    for (int c = 0; c < r->C; c++) {
        const class_counts *cc = &r->counts[c];
        json_t *j = json_object();
        json_object_set_new(j, "class", json_integer(c));
        json_object_set_new(j, "n", json_integer(cc->n));
        json_object_set_new(j, "tp", json_integer(cc->tp));
        json_object_set_new(j, "fp", json_integer(cc->fp));
        json_object_set_new(j, "tn", json_integer(cc->tn));
        json_object_set_new(j, "fn", json_integer(cc->fn));
        json_array_append_new(classes, j);
    }
    json_object_set_new(root, "per_class", classes);
    char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(root);
    if (!s) return md_error(MD_ERR_NOMEM, "out of memory");
    printf("%s\n", s);
    free(s);
    return 0;
}

/* Write the predictions and commit out (abort it on failure). */
static int write_predictions(md_outfile *out, const char *path, const md_labelled *d,
                             const float *probs, const eval_result *r)
{
    FILE *fp = md_outfile_fp(out);
    fprintf(fp, "name\tlabel\tp1\tpredicted%s\n", r->comp ? "\tgc\tcpg_oe" : "");
    for (int64_t i = 0; i < d->n; i++) {
        fprintf(fp, "%s\t%d\t%.9g\t%d", d->names[i], (int)d->labels[i],
                (double)probs[i * r->C + 1], (int)r->pred[i]);
        if (r->comp) fprintf(fp, "\t%.9g\t%.9g", r->comp[i].gc, r->comp[i].cpg_oe);
        fputc('\n', fp);
    }
    if (ferror(fp)) {
        md_outfile_abort(out);
        return md_error(MD_ERR_IO, "cannot write %s", path);
    }
    return md_outfile_commit(out);
}

/* ------------------------------------------------------------------ */
/* main                                                                */
/* ------------------------------------------------------------------ */

int eval_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},     {"pos", required_argument, 0, 1},
        {"neg", required_argument, 0, 2},         {"bed", required_argument, 0, 3},
        {"genome", required_argument, 0, 4},      {"threshold", required_argument, 0, 5},
        {"rc", required_argument, 0, 6},          {"batch", required_argument, 0, 7},
        {"json", no_argument, 0, 8},              {"threads", required_argument, 0, 't'},
        {"predictions", required_argument, 0, 'p'}, {"help", no_argument, 0, 'h'},
        {"device", required_argument, 0, 9},      {"precision", required_argument, 0, 10},
        {"baselines", no_argument, 0, 11},        {0, 0, 0, 0}};
    const char *cmd = "eval", *model_path = NULL, *pos = NULL, *neg = NULL, *bed = NULL,
               *genome = NULL;
    eval_opt o;
    eval_opt_init(&o);
    int c;
    int64_t v;
    char *end;
    while ((c = getopt_long(argc, argv, "m:t:p:h", longopts, NULL)) >= 0) {
        switch (c) {
        case 'm': model_path = optarg; break;
        case 1: pos = optarg; break;
        case 2: neg = optarg; break;
        case 3: bed = optarg; break;
        case 4: genome = optarg; break;
        case 5:
            o.threshold = strtod(optarg, &end);
            if (end == optarg || *end || !(o.threshold >= 0 && o.threshold <= 1))
                goto bad_value;
            break;
        case 6:
            if (!strcmp(optarg, "none")) o.fwd.rc_avg = 0;
            else if (!strcmp(optarg, "avg")) o.fwd.rc_avg = 1;
            else goto bad_value;
            break;
        case 7:
            if (cli_parse_size(optarg, &v) < 0 || v < 1 || v > 4096) goto bad_value;
            o.batch = (int)v;
            break;
        case 8: o.json = 1; break;
        case 11: o.baselines = 1; break;
        case 9:
        case 10:
            if ((c == 9 ? md_device_parse(optarg, &o.fwd.device)
                        : (o.fwd.precision = md_precision_parse(optarg))) < 0) {
                cli_error(cmd, "%s", md_last_error());
                goto usage_error;
            }
            break;
        case 't':
            if (cli_parse_size(optarg, &v) < 0 || v < 1 || v > 4096) goto bad_value;
            o.fwd.threads = (int)v;
            break;
        case 'p': o.predictions = optarg; break;
        case 'h':
            eval_usage(stdout);
            return cli_close_stdout(cmd);
        default: goto usage_error;
        }
    }
    int n_pos = argc - optind;
    if (!model_path) {
        cli_error(cmd, "give a model with -m");
        goto usage_error;
    }
    if ((pos || neg) && (!pos || !neg)) {
        cli_error(cmd, "--pos and --neg go together");
        goto usage_error;
    }
    if ((bed || genome) && (!bed || !genome)) {
        cli_error(cmd, "--bed and --genome go together");
        goto usage_error;
    }
    if ((pos != NULL) + (bed != NULL) + (n_pos > 0) != 1 || n_pos > 1) {
        cli_error(cmd, "give the data once: a labelled file, --pos/--neg, or --bed/--genome");
        goto usage_error;
    }
    if (o.predictions && !strcmp(o.predictions, "-")) {
        cli_error(cmd, "--predictions needs a file name (the metrics go to stdout)");
        goto usage_error;
    }
    const cli_path outputs[] = {{"--predictions", o.predictions}};
    const cli_path inputs[] = {{"the model", model_path}, {"the data", n_pos ? argv[optind] : NULL},
                               {"--pos", pos}, {"--neg", neg}, {"--bed", bed}, {"--genome", genome}};
    if (cli_check_paths(cmd, outputs, 1, inputs, 6) < 0) return EXIT_USAGE;

    double t0 = now_s();
    md_labelled d;
    char data_desc[8192];
    if (n_pos) snprintf(data_desc, sizeof data_desc, "%s", argv[optind]);
    else if (pos) snprintf(data_desc, sizeof data_desc, "%s (class 1) + %s (class 0)", pos, neg);
    else snprintf(data_desc, sizeof data_desc, "%s on %s", bed, genome);
    int ret = n_pos ? md_labelled_read(argv[optind], &d)
              : pos ? md_labelled_read_classes(pos, neg, &d)
                    : md_labelled_read_bed(bed, genome, &d);
    if (ret < 0) return cli_fail(cmd);
    md_model *m = md_model_load(model_path);
    if (!m) {
        md_labelled_free(&d);
        return cli_fail(cmd);
    }
    int status = EXIT_ERROR;
    float *probs = NULL;
    md_outfile *pred_out = NULL;
    eval_result r = {0};
    const md_config *cfg = md_model_config(m);
    int C = cfg->n_classes;
    if (C < 2) {
        if (C == 0)
            cli_error(cmd, "%s has no classification head: fine-tune it first (or "
                      "create one with `mambadna init --classes 2`)", model_path);
        else
            cli_error(cmd, "%s has a classification head of 1 class: eval needs 2 or more",
                      model_path);
        goto done;
    }
    if (d.n_classes > C) {
        int64_t i = 0;
        while (i < d.n && d.labels[i] < C) i++;
        cli_error(cmd, "%s: sequence '%s' has label %d but the model has %d classes "
                  "(0..%d)", data_desc, d.names[i], (int)d.labels[i], C, C - 1);
        goto done;
    }
    int64_t n_by_class[2] = {0, 0};
    for (int64_t i = 0; i < d.n; i++)
        if (d.labels[i] < 2) n_by_class[d.labels[i]]++;
    if (!n_by_class[0] || !n_by_class[1])
        cli_error(cmd, "warning: %s has no sequences of class %d: AUROC is undefined (NA)",
                  data_desc, n_by_class[0] ? 1 : 0);
    probs = malloc((size_t)d.n * (size_t)C * sizeof *probs);
    if (!probs) {
        cli_error(cmd, "out of memory for %lld x %d probabilities", (long long)d.n, C);
        goto done;
    }
    /* the predictions file is created first: a bad path fails before the work */
    if (o.predictions && !(pred_out = md_outfile_open(o.predictions))) {
        cli_fail(cmd);
        goto done;
    }
    progress_state ps = {now_s(), 0, 0};
    int tty = isatty(STDERR_FILENO);
    ret = md_eval_classify(m, &d, o.batch, &o.fwd, probs, tty ? show_progress : NULL, &ps);
    if (ps.shown) fprintf(stderr, "\r%60s\r", "");
    if (ret < 0 || compute_result(&d, probs, C, o.threshold, &r) < 0 ||
        (o.baselines && compute_baselines(&d, &r) < 0)) {
        cli_fail(cmd);
        goto done;
    }
    if (pred_out) {
        md_outfile *po = pred_out;
        pred_out = NULL;
        if (write_predictions(po, o.predictions, &d, probs, &r) < 0) {
            cli_fail(cmd);
            goto done;
        }
    }
    if (o.json) {
        if (print_json(model_path, data_desc, &d, &o, &r) < 0) {
            cli_fail(cmd);
            goto done;
        }
    } else {
        print_table(model_path, data_desc, &d, &o, &r);
    }
    status = cli_close_stdout(cmd);
    if (status == EXIT_OK) {
        double dt = now_s() - t0;
        char auroc[32];
        if (isnan(r.bin.auroc)) snprintf(auroc, sizeof auroc, "NA");
        else snprintf(auroc, sizeof auroc, "%.4f", r.bin.auroc);
        fprintf(stderr, "mambadna eval: %lld sequences in %.1f s (%.0f/s): accuracy %.4f, "
                "MCC %.4f, AUROC %s%s%s\n", (long long)d.n, dt, dt > 0 ? d.n / dt : 0.0,
                r.accuracy, r.bin.mcc, auroc, o.predictions ? ", predictions in " : "",
                o.predictions ? o.predictions : "");
    }
done:
    if (pred_out) md_outfile_abort(pred_out);
    free(probs);
    result_free(&r);
    md_model_free(m);
    md_labelled_free(&d);
    return status;

bad_value:
    cli_bad_value(cmd, longopts, c, optarg,
                  c == 5 ? "a probability from 0 to 1"
                  : c == 6 ? "none or avg" : "an integer from 1 to 4096");
    return EXIT_USAGE;
usage_error:
    cli_usage_hint(cmd);
    return EXIT_USAGE;
}
