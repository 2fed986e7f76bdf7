/* test_train.c: AdamW against hand computations, weight decay only where it
 * belongs, the learning-rate schedule, gradient clipping, MLM corruption
 * statistics, the genome sampler, checkpoints (bit-exact resume of
 * pretraining and fine-tuning, refusal of incomplete checkpoints), and
 * "the loss falls" on real sequences. */
#include <jansson.h>
#include <math.h>
#include <sys/stat.h>

#include "genome_sampler.h"
#include "model.h"
#include "testutil.h"

static md_model *tiny_model(int arch, int d_model, int n_layer, int n_classes, uint64_t seed)
{
    md_config cfg;
    md_config_init(&cfg, arch, d_model, n_layer);
    cfg.n_classes = n_classes;
    md_model *m = md_model_init(&cfg, seed);
    assert_non_null(m);
    return m;
}

static int is_no_decay_name(const char *name)
{
    size_t n = strlen(name);
#define ENDS(s) (n >= strlen(s) && !strcmp(name + n - strlen(s), s))
    return strstr(name, "norm") || ENDS(".bias") || ENDS("A_log") || ENDS(".D");
#undef ENDS
}

/* ---- optimizer ------------------------------------------------------------------- */

static void test_adamw_by_hand(void **state)
{
    (void)state;
    md_model *m = tiny_model(MD_ARCH_MAMBA, 8, 1, 0, 3);
    int64_t n = m->n_params;
    float *p0 = malloc((size_t)n * sizeof *p0), *g = malloc((size_t)n * sizeof *g);
    double *pd = malloc((size_t)n * sizeof *pd), *md = calloc((size_t)n, sizeof *md),
           *vd = calloc((size_t)n, sizeof *vd);
    for (int64_t i = 0; i < n; i++) {
        p0[i] = m->params[i];
        pd[i] = p0[i];
    }
    md_adamw a;
    assert_int_equal(md_adamw_init(&a, n), 0);
    const double lr = 1e-2, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1;
    for (int t = 1; t <= 3; t++) {
        for (int64_t i = 0; i < n; i++) g[i] = (float)(0.01 * ((i * 7 + t * 13) % 23) - 0.11);
        assert_int_equal(md_adamw_step(&a, m, g, lr, b1, b2, eps, wd), 0);
        /* by hand, in double: p *= 1 - lr wd (decayed tensors); Adam update */
        for (int e = 0; e < m->n_table; e++) {
            const md_param_entry *pe = &m->table[e];
            for (int64_t i = pe->offset; i < pe->offset + pe->numel; i++) {
                md[i] = b1 * md[i] + (1 - b1) * g[i];
                vd[i] = b2 * vd[i] + (1 - b2) * (double)g[i] * g[i];
                double mhat = md[i] / (1 - pow(b1, t)), vhat = vd[i] / (1 - pow(b2, t));
                pd[i] = pd[i] * (1 - lr * (pe->no_decay ? 0 : wd)) - lr * mhat / (sqrt(vhat) + eps);
            }
        }
    }
    assert_int_equal(a.t, 3);
    double worst = 0;
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs(m->params[i] - pd[i]));
    print_message("AdamW 3 steps: largest difference from the hand computation %.3g\n", worst);
    assert_true(worst < 1e-5);
    /* the first step of Adam moves every parameter by about lr */
    md_adamw_free(&a);
    free(p0); free(g); free(pd); free(md); free(vd);
    md_model_free(m);
}

static void test_no_decay_entries(void **state)
{
    (void)state;
    md_model *m = tiny_model(MD_ARCH_CADUCEUS_PS, 8, 2, 2, 5);
    int64_t n = m->n_params;
    float *p0 = malloc((size_t)n * sizeof *p0), *g = calloc((size_t)n, sizeof *g);
    memcpy(p0, m->params, (size_t)n * sizeof *p0);
    md_adamw a;
    assert_int_equal(md_adamw_init(&a, n), 0);
    /* zero gradient: only the decay moves parameters */
    assert_int_equal(md_adamw_step(&a, m, g, 0.5, 0.9, 0.95, 1e-8, 0.2), 0);
    int n_decay = 0, n_keep = 0;
    for (int e = 0; e < m->n_table; e++) {
        const md_param_entry *pe = &m->table[e];
        assert_int_equal(pe->no_decay, is_no_decay_name(pe->name));
        for (int64_t i = pe->offset; i < pe->offset + pe->numel; i++) {
            if (pe->no_decay) {
                assert_memory_equal(&m->params[i], &p0[i], sizeof(float));
            } else {
                assert_float_equal(m->params[i], p0[i] * (1.0f - 0.5f * 0.2f), 1e-7);
            }
        }
        if (pe->no_decay) n_keep++;
        else n_decay++;
    }
    assert_true(n_decay > 0 && n_keep > 0);
    md_adamw_free(&a);
    free(p0);
    free(g);
    md_model_free(m);
}

static void test_schedule(void **state)
{
    (void)state;
    const double lr = 1e-3;
    /* 101 steps, 10 of warm-up, floor 0.1 */
    assert_float_equal(md_lr_at(0, 101, 10, lr, 0.1), 1e-4, 1e-12);
    assert_float_equal(md_lr_at(4, 101, 10, lr, 0.1), 5e-4, 1e-12);
    assert_float_equal(md_lr_at(9, 101, 10, lr, 0.1), 1e-3, 1e-12);
    assert_float_equal(md_lr_at(10, 101, 10, lr, 0.1), 1e-3, 1e-12);
    assert_float_equal(md_lr_at(55, 101, 10, lr, 0.1), 0.55e-3, 1e-12); /* half way */
    assert_float_equal(md_lr_at(100, 101, 10, lr, 0.1), 1e-4, 1e-12);
    assert_float_equal(md_lr_at(500, 101, 10, lr, 0.1), 1e-4, 1e-12);
    /* a quarter of the cosine: 0.1 + 0.9 * (1 + cos(pi/4)) / 2 */
    assert_float_equal(md_lr_at(32, 101, 10, lr, 0.1) / lr,
                       0.1 + 0.9 * 0.5 * (1 + cos(M_PI * 22.0 / 90.0)), 1e-12);
    /* no warm-up, floor 0 */
    assert_float_equal(md_lr_at(0, 11, 0, lr, 0), lr, 1e-15);
    assert_float_equal(md_lr_at(10, 11, 0, lr, 0), 0, 1e-15);
    /* monotone after the warm-up */
    for (int s = 10; s < 100; s++) assert_true(md_lr_at(s + 1, 101, 10, lr, 0.1) <= md_lr_at(s, 101, 10, lr, 0.1));
}

static void test_clipping(void **state)
{
    (void)state;
    float g[4] = {3, 0, -4, 0};
    assert_float_equal(md_clip_grad_norm(g, 4, 0), 5.0, 1e-9);
    assert_float_equal(g[0], 3, 0);
    assert_float_equal(md_clip_grad_norm(g, 4, 10), 5.0, 1e-9);
    assert_float_equal(g[2], -4, 0);
    assert_float_equal(md_clip_grad_norm(g, 4, 1), 5.0, 1e-9);
    assert_float_equal(g[0], 0.6f, 1e-6);
    assert_float_equal(g[2], -0.8f, 1e-6);
    assert_float_equal(md_clip_grad_norm(g, 4, 0), 1.0, 1e-6);
}

static void test_rng(void **state)
{
    (void)state;
    md_rng a, b;
    md_rng_seed(&a, 42);
    md_rng_seed(&b, 42);
    for (int i = 0; i < 100; i++) assert_true(md_rng_next(&a) == md_rng_next(&b));
    md_rng_seed(&b, 43);
    assert_true(md_rng_next(&a) != md_rng_next(&b));
    int64_t cnt[5] = {0};
    for (int i = 0; i < 50000; i++) cnt[md_rng_below(&a, 5)]++;
    for (int k = 0; k < 5; k++) assert_true(cnt[k] > 9500 && cnt[k] < 10500);
    for (int i = 0; i < 1000; i++) {
        double u = md_rng_uniform(&a);
        assert_true(u >= 0 && u < 1);
    }
}

/* ---- MLM corruption ------------------------------------------------------------------ */

static void test_mlm_mask_statistics(void **state)
{
    (void)state;
    const int64_t n = 200000;
    uint8_t *orig = malloc((size_t)n), *tok = malloc((size_t)n), *tgt = malloc((size_t)n);
    md_rng r;
    md_rng_seed(&r, 7);
    for (int64_t i = 0; i < n; i++) {
        /* bases, with some N and specials that must never be chosen */
        orig[i] = i % 50 == 0 ? MD_TOK_N : i % 77 == 0 ? MD_TOK_PAD : (uint8_t)(MD_TOK_A + md_rng_below(&r, 4));
    }
    memcpy(tok, orig, (size_t)n);
    md_rng_seed(&r, 11);
    int64_t chosen = md_mlm_mask(&r, 0.15, tok, tgt, n);
    int64_t bases = 0, n_mask = 0, n_same = 0, n_other = 0, n_tgt = 0;
    for (int64_t i = 0; i < n; i++) {
        int base = orig[i] >= MD_TOK_A && orig[i] <= MD_TOK_T;
        bases += base;
        if (tgt[i] == MD_TOK_PAD) {
            assert_int_equal(tok[i], orig[i]); /* untouched */
            continue;
        }
        n_tgt++;
        assert_true(base);
        assert_int_equal(tgt[i], orig[i]);
        if (tok[i] == MD_TOK_MASK) n_mask++;
        else if (tok[i] == orig[i]) n_same++;
        else {
            assert_true(tok[i] >= MD_TOK_A && tok[i] <= MD_TOK_T);
            n_other++;
        }
    }
    assert_int_equal(chosen, n_tgt);
    double f = (double)chosen / bases, fm = (double)n_mask / chosen,
           fs = (double)n_same / chosen, fo = (double)n_other / chosen;
    print_message("MLM: %.4f of bases chosen; [MASK] %.4f, same %.4f, other base %.4f\n", f, fm, fs, fo);
    assert_true(fabs(f - 0.15) < 0.004);
    assert_true(fabs(fm - 0.80) < 0.01);
    assert_true(fabs(fs - 0.125) < 0.01);  /* 10 % kept + 10 % x 1/4 random = same base */
    assert_true(fabs(fo - 0.075) < 0.01);
    /* the same seed gives the same corruption */
    uint8_t *tok2 = malloc((size_t)n), *tgt2 = malloc((size_t)n);
    memcpy(tok2, orig, (size_t)n);
    md_rng_seed(&r, 11);
    md_mlm_mask(&r, 0.15, tok2, tgt2, n);
    assert_memory_equal(tok, tok2, (size_t)n);
    assert_memory_equal(tgt, tgt2, (size_t)n);
    free(orig); free(tok); free(tgt); free(tok2); free(tgt2);
}

/* ---- genome sampler ---------------------------------------------------------------- */

static const char *write_file(const char *name, const char *text)
{
    static char path[4][512];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 512, "%s/%s", md_test_tmpdir(), name);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    return p;
}

static void test_genome_sampler_skips_n(void **state)
{
    (void)state;
    /* contig a: 600 N then 400 bases; contig b: 50 bases (shorter than the
     * windows: never drawn) */
    char *text = malloc(4096), *p = text;
    p += sprintf(p, ">a\n");
    for (int i = 0; i < 600; i++) *p++ = 'N';
    for (int i = 0; i < 400; i++) *p++ = "ACGT"[(i * 7 + i / 3) % 4];
    p += sprintf(p, "\n>b\n");
    for (int i = 0; i < 50; i++) *p++ = 'G';
    p += sprintf(p, "\n");
    *p = 0;
    const char *path = write_file("n_rich.fa", text);
    free(text);
    md_genome *g = md_genome_load(&path, 1);
    assert_non_null(g);
    assert_int_equal(md_genome_n_contigs(g), 2);
    assert_int_equal(md_genome_bases(g), 1050);
    md_genome_set_max_n(g, 0.1);
    md_rng r;
    md_rng_seed(&r, 1);
    uint8_t w[100];
    int64_t skipped = 0;
    for (int i = 0; i < 500; i++) {
        assert_int_equal(md_genome_sample(g, &r, 100, 0, w, &skipped), 0);
        assert_true(md_count_n(w, 100) <= 10);
        assert_true(w[99] != MD_TOK_N); /* ends inside the bases */
    }
    print_message("sampler: %lld N-rich windows skipped for 500 kept\n", (long long)skipped);
    assert_true(skipped > 500); /* most starts fall in the N run */
    /* windows longer than every contig: an error, not a hang */
    uint8_t big[2000];
    assert_true(md_genome_sample(g, &r, 1500, 0, big, NULL) < 0);
    /* only N: an error after bounded tries */
    md_genome_set_max_n(g, 0.0);
    const char *allN = write_file("all_n.fa", ">n\nNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN\n");
    md_genome *gn = md_genome_load(&allN, 1);
    assert_non_null(gn);
    md_genome_set_max_n(gn, 0.1);
    assert_true(md_genome_sample(gn, &r, 10, 0, w, NULL) < 0);
    md_genome_free(gn);
    md_genome_free(g);
}

static void test_genome_sampler_weights_and_rc(void **state)
{
    (void)state;
    /* contig x: 1000 A; contig y: 3000 C; windows of 1: drawn 1:3 */
    char *text = malloc(8192), *p = text;
    p += sprintf(p, ">x\n");
    for (int i = 0; i < 1000; i++) *p++ = 'A';
    p += sprintf(p, "\n>y\n");
    for (int i = 0; i < 3000; i++) *p++ = 'C';
    p += sprintf(p, "\n");
    *p = 0;
    const char *path = write_file("weights.fa", text);
    free(text);
    md_genome *g = md_genome_load(&path, 1);
    assert_non_null(g);
    md_rng r;
    md_rng_seed(&r, 2);
    int64_t cnt[16] = {0};
    uint8_t w[4];
    for (int i = 0; i < 40000; i++) {
        assert_int_equal(md_genome_sample(g, &r, 1, 0, w, NULL), 0);
        cnt[w[0]]++;
    }
    double fa = (double)cnt[MD_TOK_A] / 40000;
    assert_true(fabs(fa - 0.25) < 0.01);
    /* reverse complement with p = 0.5: A windows come back as T half the time */
    memset(cnt, 0, sizeof cnt);
    for (int i = 0; i < 40000; i++) {
        assert_int_equal(md_genome_sample(g, &r, 4, 1, w, NULL), 0);
        cnt[w[0]]++;
    }
    double ft = (double)cnt[MD_TOK_T] / (cnt[MD_TOK_A] + cnt[MD_TOK_T]);
    assert_true(fabs(ft - 0.5) < 0.03);
    md_genome_free(g);
    const char *missing = "/nonexistent/genome.fa";
    assert_null(md_genome_load(&missing, 1));
    assert_non_null(strstr(md_last_error(), "genome.fa"));
}

/* ---- checkpoints and resume ------------------------------------------------------------- */

static const char *tmp_path(const char *name)
{
    static char path[8][512];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, 512, "%s/%s", md_test_tmpdir(), name);
    return p;
}

static const char *fixture_genome(void)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/seqio/ex1.fa", md_test_data_dir());
    return path;
}

static void pretrain_opts(md_train_opt *o, const char *const *files)
{
    md_train_opt_init(o, MD_OBJ_MLM);
    o->steps = 10;
    o->batch = 2;
    o->length = 48;
    o->lr = 5e-3;
    o->threads = 2;
    o->seed = 9;
    o->rc_aug = 1;
    o->len_start = 16;
    o->len_steps = 6;
    o->data_files = files;
    o->n_data_files = 1;
}

static void test_pretrain_resume_bit_exact(void **state)
{
    (void)state;
    const char *files[1] = {fixture_genome()};
    md_genome *g = md_genome_load(files, 1);
    assert_non_null(g);
    md_train_opt o;
    md_train_stats st;
    const char *straight = tmp_path("straight.safetensors"), *sliced = tmp_path("sliced.safetensors");
    /* 10 steps straight */
    pretrain_opts(&o, files);
    md_model *m = tiny_model(MD_ARCH_CADUCEUS_PS, 16, 2, 0, 4);
    assert_int_equal(md_pretrain(m, g, &o, straight, &st), 0);
    assert_int_equal(st.steps, 10);
    md_model_free(m);
    /* 5 steps, stop, resume, 5 more */
    m = tiny_model(MD_ARCH_CADUCEUS_PS, 16, 2, 0, 4);
    o.stop_after = 5;
    assert_int_equal(md_pretrain(m, g, &o, sliced, &st), 0);
    assert_int_equal(st.steps, 5);
    assert_true(st.stopped_at);
    md_model_free(m);
    md_model *half = md_model_load(sliced);
    assert_non_null(half);
    assert_string_equal(md_model_meta(half, "mambadna.train.step"), "5");
    md_model_free(half);
    o.stop_after = 0;
    o.resume = 1;
    assert_int_equal(md_pretrain(NULL, g, &o, sliced, &st), 0);
    assert_int_equal(st.steps, 10);
    /* the same weights, bit for bit, and the same optimizer state */
    md_model *a = md_model_load(straight), *b = md_model_load(sliced);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(a->n_params, b->n_params);
    assert_memory_equal(a->params, b->params, (size_t)a->n_params * sizeof(float));
    md_model *ma, *mb;
    md_adamw aa, ab;
    md_train_ckpt ca, cb;
    assert_int_equal(md_ckpt_read(straight, &ma, &aa, &ca), 0);
    assert_int_equal(md_ckpt_read(sliced, &mb, &ab, &cb), 0);
    assert_memory_equal(aa.m, ab.m, (size_t)aa.n * sizeof(float));
    assert_memory_equal(aa.v, ab.v, (size_t)aa.n * sizeof(float));
    assert_memory_equal(&ca.rng, &cb.rng, sizeof ca.rng);
    assert_int_equal(ca.step, 10);
    assert_int_equal(ca.finished, 1);
    /* and the training moved the weights */
    md_model *init = tiny_model(MD_ARCH_CADUCEUS_PS, 16, 2, 0, 4);
    assert_memory_not_equal(init->params, a->params, (size_t)a->n_params * sizeof(float));
    /* provenance */
    assert_string_equal(md_model_meta(a, "mambadna.seed"), "9");
    const char *data = md_model_meta(a, "mambadna.data");
    assert_non_null(data);
    assert_non_null(strstr(data, "\"sha256\":\""));
    assert_non_null(md_model_meta(a, "mambadna.metrics"));
    /* resuming a finished run does nothing */
    assert_int_equal(md_pretrain(NULL, g, &o, sliced, &st), 0);
    assert_true(st.already_done);
    md_model_free(init);
    md_model_free(a); md_model_free(b); md_model_free(ma); md_model_free(mb);
    md_adamw_free(&aa); md_adamw_free(&ab);
    md_train_ckpt_free(&ca); md_train_ckpt_free(&cb);
    md_genome_free(g);
}

static void test_incomplete_checkpoint_refused(void **state)
{
    (void)state;
    const char *files[1] = {fixture_genome()};
    md_genome *g = md_genome_load(files, 1);
    assert_non_null(g);
    md_train_opt o;
    md_train_stats st;
    const char *out = tmp_path("marker.safetensors");
    pretrain_opts(&o, files);
    o.steps = 4;
    o.len_start = 0;
    o.stop_after = 2;
    md_model *m = tiny_model(MD_ARCH_CADUCEUS_PH, 8, 1, 0, 4);
    assert_int_equal(md_pretrain(m, g, &o, out, &st), 0);
    md_model_free(m);
    char marker[600], state_path[600];
    snprintf(marker, sizeof marker, "%s.done", out);
    snprintf(state_path, sizeof state_path, "%s.state.safetensors", out);
    struct stat sb;
    assert_int_equal(stat(marker, &sb), 0);
    assert_int_equal(stat(state_path, &sb), 0);
    o.stop_after = 0;
    o.resume = 1;
    /* other options than the checkpoint's: refused, naming the option */
    o.lr = 1e-2;
    assert_true(md_pretrain(NULL, g, &o, out, &st) < 0);
    assert_non_null(strstr(md_last_error(), "lr"));
    o.lr = 5e-3;
    /* a marker of another step: the files do not belong together */
    FILE *fp = fopen(marker, "w");
    fprintf(fp, "{\"format\": \"mambadna-checkpoint-1\", \"step\": 3, \"model_step\": 3}\n");
    fclose(fp);
    assert_true(md_pretrain(NULL, g, &o, out, &st) < 0);
    print_message("refused: %s\n", md_last_error());
    /* no marker: a checkpoint cut short is never taken for a whole one */
    assert_int_equal(unlink(marker), 0);
    assert_true(md_pretrain(NULL, g, &o, out, &st) < 0);
    assert_non_null(strstr(md_last_error(), "marker"));
    md_genome_free(g);
}

/* A small labelled set: class 1 sequences rich in GC, class 0 in AT. */
static void make_labelled(md_labelled *d, int64_t n, uint64_t seed)
{
    md_rng r;
    md_rng_seed(&r, seed);
    d->n = n;
    d->n_classes = 2;
    d->names = calloc((size_t)n, sizeof *d->names);
    d->seqs = calloc((size_t)n, sizeof *d->seqs);
    d->lens = calloc((size_t)n, sizeof *d->lens);
    d->labels = calloc((size_t)n, sizeof *d->labels);
    for (int64_t i = 0; i < n; i++) {
        int y = (int)(i % 2);
        int64_t L = 20 + (int64_t)md_rng_below(&r, 8);
        d->labels[i] = y;
        d->lens[i] = L;
        d->seqs[i] = malloc((size_t)L + 1);
        d->names[i] = malloc(24);
        snprintf(d->names[i], 24, "s%lld", (long long)i);
        for (int64_t t = 0; t < L; t++) {
            int gc = md_rng_uniform(&r) < (y ? 0.8 : 0.2);
            d->seqs[i][t] = gc ? "GC"[md_rng_below(&r, 2)] : "AT"[md_rng_below(&r, 2)];
        }
        d->seqs[i][L] = 0;
    }
}

static void finetune_opts(md_train_opt *o)
{
    md_train_opt_init(o, MD_OBJ_CLASSIFY);
    o->epochs = 3;
    o->batch = 4;
    o->lr = 5e-3;
    o->threads = 2;
    o->seed = 5;
    o->rc_aug = 1;
    o->patience = 0;
    o->metric = MD_METRIC_AUROC;
}

static void test_finetune_resume_bit_exact(void **state)
{
    (void)state;
    md_labelled tr = {0}, dv = {0};
    make_labelled(&tr, 18, 1); /* 5 batches an epoch, the last of 2 */
    make_labelled(&dv, 10, 2);
    md_train_opt o;
    md_train_stats st;
    const char *straight = tmp_path("ft_straight.safetensors"), *sliced = tmp_path("ft_sliced.safetensors"),
               *log = tmp_path("ft.jsonl");
    finetune_opts(&o);
    o.log_path = log;
    md_model *m = tiny_model(MD_ARCH_CADUCEUS_PS, 8, 2, 2, 6);
    assert_int_equal(md_finetune(m, &tr, &dv, &o, straight, &st), 0);
    assert_int_equal(st.steps, 15);
    assert_int_equal(st.evals, 3);
    md_model_free(m);
    /* stop in the middle of the second epoch, resume */
    o.log_path = NULL;
    o.stop_after = 7;
    m = tiny_model(MD_ARCH_CADUCEUS_PS, 8, 2, 2, 6);
    assert_int_equal(md_finetune(m, &tr, &dv, &o, sliced, &st), 0);
    assert_int_equal(st.steps, 7);
    md_model_free(m);
    o.stop_after = 0;
    o.resume = 1;
    assert_int_equal(md_finetune(NULL, &tr, &dv, &o, sliced, &st), 0);
    assert_int_equal(st.steps, 15);
    /* the kept (best) models and the current weights agree bit for bit */
    md_model *ma, *mb;
    md_adamw aa, ab;
    md_train_ckpt ca, cb;
    assert_int_equal(md_ckpt_read(straight, &ma, &aa, &ca), 0);
    assert_int_equal(md_ckpt_read(sliced, &mb, &ab, &cb), 0);
    assert_memory_equal(ma->params, mb->params, (size_t)ma->n_params * sizeof(float));
    assert_non_null(ca.params);
    assert_non_null(cb.params);
    assert_memory_equal(ca.params, cb.params, (size_t)ma->n_params * sizeof(float));
    assert_memory_equal(aa.m, ab.m, (size_t)aa.n * sizeof(float));
    assert_int_equal(ca.model_step, cb.model_step);
    /* the kept model is the one of the last evaluation marked best in the log */
    FILE *fp = fopen(log, "r");
    assert_non_null(fp);
    char line[4096];
    int64_t best_step = -1;
    int n_eval = 0;
    while (fgets(line, sizeof line, fp)) {
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        const char *type = json_string_value(json_object_get(j, "type"));
        assert_non_null(type);
        if (!strcmp(type, "eval")) {
            n_eval++;
            assert_true(json_is_object(json_object_get(j, "dev")));
            assert_true(json_is_number(json_object_get(json_object_get(j, "dev"), "auroc")));
            if (json_is_true(json_object_get(j, "best"))) best_step = json_integer_value(json_object_get(j, "step"));
        } else if (!strcmp(type, "step")) {
            assert_true(json_is_number(json_object_get(j, "loss")));
            assert_true(json_is_number(json_object_get(j, "lr")));
            assert_true(json_is_number(json_object_get(j, "tokens_per_s")));
        }
        json_decref(j);
    }
    fclose(fp);
    assert_int_equal(n_eval, 3);
    assert_int_equal(best_step, ca.model_step);
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)best_step);
    assert_string_equal(md_model_meta(ma, "mambadna.train.step"), buf);
    assert_non_null(strstr(md_model_meta(ma, "mambadna.metrics"), "\"auroc\""));
    md_model_free(ma); md_model_free(mb);
    md_adamw_free(&aa); md_adamw_free(&ab);
    md_train_ckpt_free(&ca); md_train_ckpt_free(&cb);
    md_labelled_free(&tr);
    md_labelled_free(&dv);
}

static void test_model_with_head(void **state)
{
    (void)state;
    md_model *m = tiny_model(MD_ARCH_CADUCEUS_PS, 8, 2, 0, 3);
    md_model *h = md_model_with_head(m, 3, 3);
    assert_non_null(h);
    assert_int_equal(md_model_config(h)->n_classes, 3);
    assert_int_equal(h->n_params, m->n_params + 3 * 8 + 3);
    /* the backbone is kept: the first n_params floats (the head comes last) */
    assert_memory_equal(h->params, m->params, (size_t)m->n_params * sizeof(float));
    /* the head as md_model_init makes it */
    md_config cfg = m->cfg;
    cfg.n_classes = 3;
    md_model *ref = md_model_init(&cfg, 3);
    assert_memory_equal(h->head_w, ref->head_w, 3 * 8 * sizeof(float));
    md_model_free(ref);
    md_model_free(h);
    md_model_free(m);
}

/* ---- the loss falls ------------------------------------------------------------------ */

/* Mean losses of the first and last k steps of a JSON-lines log. */
static void log_losses(const char *log, int k, double *first, double *last)
{
    FILE *fp = fopen(log, "r");
    assert_non_null(fp);
    double loss[1000];
    int n = 0;
    char line[4096];
    while (fgets(line, sizeof line, fp) && n < 1000) {
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        if (!strcmp(json_string_value(json_object_get(j, "type")), "step"))
            loss[n++] = json_number_value(json_object_get(j, "loss"));
        json_decref(j);
    }
    fclose(fp);
    assert_true(n >= 2 * k);
    *first = *last = 0;
    for (int i = 0; i < k; i++) {
        *first += loss[i] / k;
        *last += loss[n - 1 - i] / k;
    }
}

static void loss_falls(const char *genome, const char *name)
{
    const char *files[1] = {genome};
    md_genome *g = md_genome_load(files, 1);
    assert_non_null(g);
    md_train_opt o;
    md_train_opt_init(&o, MD_OBJ_MLM);
    o.steps = 30;
    o.batch = 4;
    o.length = 128;
    o.lr = 4e-3;
    o.warmup = 3;
    o.threads = 2;
    o.data_files = files;
    o.n_data_files = 1;
    char out[64], log[64];
    snprintf(out, sizeof out, "%s.safetensors", name);
    snprintf(log, sizeof log, "%s.jsonl", name);
    o.log_path = tmp_path(log);
    md_model *m = tiny_model(MD_ARCH_CADUCEUS_PS, 32, 2, 0, 1);
    md_train_stats st;
    assert_int_equal(md_pretrain(m, g, &o, tmp_path(out), &st), 0);
    double first, last;
    log_losses(o.log_path, 5, &first, &last);
    print_message("%s: MLM loss %.4f (first 5 steps) -> %.4f (last 5), %.0f tokens/s\n", name,
                  first, last, st.tokens_per_s);
    assert_true(last < first);
    md_model_free(m);
    md_genome_free(g);
}

static void test_loss_falls_fixture(void **state)
{
    (void)state;
    loss_falls(fixture_genome(), "fixture");
}

static void test_loss_falls_ecoli(void **state)
{
    (void)state;
    MD_REQUIRE_SHARED(shared);
    char path[512];
    loss_falls(md_test_path(path, sizeof path, shared, "genomes/ecoli_k12_mg1655_NC_000913.3.fna.gz"), "ecoli");
}

static void test_opt_check(void **state)
{
    (void)state;
    md_train_opt o;
    md_train_opt_init(&o, MD_OBJ_MLM);
    assert_int_equal(md_train_opt_check(&o), 0);
    assert_float_equal(o.weight_decay, 0.1, 0);
    assert_float_equal(o.beta2, 0.95, 0);
    o.lr = 0;
    assert_true(md_train_opt_check(&o) < 0);
    assert_non_null(strstr(md_last_error(), "lr"));
    md_train_opt_init(&o, MD_OBJ_CLASSIFY);
    assert_int_equal(md_train_opt_check(&o), 0);
    o.len_start = 8;
    assert_true(md_train_opt_check(&o) < 0);
    md_train_opt_init(&o, MD_OBJ_MLM);
    o.len_start = 2048; /* longer than the windows */
    o.len_steps = 10;
    assert_true(md_train_opt_check(&o) < 0);
    assert_int_equal(md_train_metric_parse("auroc"), MD_METRIC_AUROC);
    assert_int_equal(md_train_metric_parse("f2"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adamw_by_hand),
        cmocka_unit_test(test_no_decay_entries),
        cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_clipping),
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_opt_check),
        cmocka_unit_test(test_mlm_mask_statistics),
        cmocka_unit_test(test_genome_sampler_skips_n),
        cmocka_unit_test(test_genome_sampler_weights_and_rc),
        cmocka_unit_test(test_model_with_head),
        cmocka_unit_test(test_pretrain_resume_bit_exact),
        cmocka_unit_test(test_incomplete_checkpoint_refused),
        cmocka_unit_test(test_finetune_resume_bit_exact),
        cmocka_unit_test(test_loss_falls_fixture),
        cmocka_unit_test(test_loss_falls_ecoli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
