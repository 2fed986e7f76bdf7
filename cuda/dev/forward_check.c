/* forward_check.c: the GPU inference forward (cuda/forward.cu) against the
 * CPU forward (src/forward.c) on random models of the three architectures.
 *
 * Every case draws a fresh model (md_model_init, then every tensor
 * perturbed so that norms, skips and biases are not their neutral
 * initial values) and fresh tokens, runs md_model_forward_rows on the CPU
 * and on the GPU (output poisoned with NaN before), and compares the hidden
 * states: relative L2 error ||gpu - cpu|| / ||cpu|| and max |gpu - cpu| /
 * max |cpu|. fp32 passes under 1e-4 (L2) with every element written. Then:
 * a parameter change after a GPU call (the cached device copy must follow),
 * two GPU calls giving identical results, the out-of-memory message,
 * md_device_parse, and the TF32 / bf16 modes against loose bounds.
 *
 *   forward_check [--seed N] [--quick]
 * Exit status 0 when every check passes. Built by tests/gpu/run-gpu-tests.sh
 * (needs a CUDA build of the library: make CUDA=1).
 */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"
#include "../cuda/cuda_backend.h"

#include "check_common.h"

typedef struct spec {
    const char *name;
    int arch, D, layers, B;
    int64_t L, chunk;
    int d_state, d_conv, layernorm, mul, unfused; /* 0: defaults */
} spec;

typedef struct result {
    double rel, maxrel, gpu_s, cpu_s;
    int64_t nonfinite;
} result;

static md_model *make_model(const spec *s)
{
    md_config c;
    md_config_init(&c, s->arch, s->D, s->layers);
    if (s->d_state) c.d_state = s->d_state;
    if (s->d_conv) c.d_conv = s->d_conv;
    if (s->layernorm) c.rms_norm = 0;
    if (s->mul) c.combine = MD_COMBINE_MUL;
    if (s->unfused) c.fused_add_norm = 0;
    md_model *m = md_model_init(&c, (uint64_t)(urand() * 1e15));
    if (!m) {
        fprintf(stderr, "md_model_init: %s\n", md_last_error());
        exit(2);
    }
    perturb(m);
    return m;
}

static void compare(const float *g, const float *c, int64_t n, result *r)
{
    double se = 0, sr = 0, mx = 0, mref = 0;
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(g[i])) {
            bad++;
            continue;
        }
        double d = (double)g[i] - c[i];
        se += d * d;
        sr += (double)c[i] * c[i];
        if (fabs(d) > mx) mx = fabs(d);
        if (fabs(c[i]) > mref) mref = fabs(c[i]);
    }
    r->rel = sr > 0 ? sqrt(se / sr) : sqrt(se);
    r->maxrel = mref > 0 ? mx / mref : mx;
    r->nonfinite = bad;
}

/* One forward on a device (0: CPU). */
static int run(md_model *m, const uint8_t *tok, int B, int64_t L, int64_t chunk, int device,
               int precision, float *out, double *secs)
{
    md_forward_opt o;
    md_forward_opt_init(&o);
    o.chunk = chunk;
    o.device = device;
    o.precision = precision;
    double t = omp_get_wtime();
    int ret = md_model_forward_rows(m, tok, B, L, &o, out);
    *secs = omp_get_wtime() - t;
    if (ret < 0) fprintf(stderr, "forward on %s: %s\n", device ? "cuda" : "cpu", md_last_error());
    return ret;
}

static int failures;

static void report(const char *what, const spec *s, const result *r, double bound)
{
    int ok = r->nonfinite == 0 && r->rel < bound;
    if (!ok) failures++;
    printf("%-28s %-12s %3dx%-2d %5dx%-7lld %6lld  %9.2e %9.2e %6lld %8.3f %8.3f  %s\n", what,
           md_arch_name(s->arch), s->D, s->layers, s->B, (long long)s->L, (long long)s->chunk,
           r->rel, r->maxrel, (long long)r->nonfinite, r->gpu_s, r->cpu_s, ok ? "ok" : "FAIL");
    fflush(stdout);
}

/* CPU vs GPU on one case; cpu_out kept for the precision variants. */
static void check_case(const spec *s, int precision, double bound, const char *tag)
{
    md_model *m = make_model(s);
    int64_t n = (int64_t)s->B * s->L * s->D;
    uint8_t *tok = random_tokens((int64_t)s->B * s->L, m->cfg.vocab_size);
    float *c = malloc((size_t)n * sizeof *c), *g = malloc((size_t)n * sizeof *g);
    result r = {0};
    if (run(m, tok, s->B, s->L, s->chunk, 0, precision, c, &r.cpu_s) < 0) failures++;
    poison(g, n);
    if (run(m, tok, s->B, s->L, s->chunk, 1, precision, g, &r.gpu_s) < 0) failures++;
    compare(g, c, n, &r);
    char what[64];
    snprintf(what, sizeof what, "%s%s", s->name, tag);
    report(what, s, &r, bound);
    md_cuda_model_release(m);
    md_model_free(m);
    free(tok);
    free(c);
    free(g);
}

/* The device copy follows the host parameters; two GPU calls agree bit for
 * bit. */
static void check_cache(void)
{
    spec s = {"cache", MD_ARCH_CADUCEUS_PS, 64, 2, 4, 700, 256, 0, 0, 0, 0, 0};
    md_model *m = make_model(&s);
    int64_t n = (int64_t)s.B * s.L * s.D;
    uint8_t *tok = random_tokens((int64_t)s.B * s.L, m->cfg.vocab_size);
    float *c = malloc((size_t)n * sizeof *c), *g = malloc((size_t)n * sizeof *g),
          *g2 = malloc((size_t)n * sizeof *g2);
    result r = {0};
    run(m, tok, s.B, s.L, s.chunk, 1, MD_PRECISION_FP32, g, &r.gpu_s);
    poison(g2, n);
    run(m, tok, s.B, s.L, s.chunk, 1, MD_PRECISION_FP32, g2, &r.gpu_s);
    int same = !memcmp(g, g2, (size_t)n * sizeof *g);
    printf("%-28s %s\n", "repeat GPU call", same ? "bit-identical ok" : "DIFFERS FAIL");
    if (!same) failures++;
    perturb(m); /* training-like change of every tensor */
    run(m, tok, s.B, s.L, s.chunk, 0, MD_PRECISION_FP32, c, &r.cpu_s);
    poison(g, n);
    run(m, tok, s.B, s.L, s.chunk, 1, MD_PRECISION_FP32, g, &r.gpu_s);
    compare(g, c, n, &r);
    report("params changed after upload", &s, &r, 1e-4);
    md_cuda_model_release(m);
    md_model_free(m);
    free(tok);
    free(c);
    free(g);
    free(g2);
}

/* Classification with pooling on the device (only pooled rows come back)
 * against the CPU's, with [PAD] tails, every pooling, post-hoc RC. */
static void check_classify(int arch, int pool, int rc_avg)
{
    spec s = {"classify", arch, 64, 2, 6, 300, 0, 0, 0, 0, 0, 0};
    md_config c;
    md_config_init(&c, arch, s.D, s.layers);
    c.n_classes = 3;
    c.pool = pool;
    md_model *m = md_model_init(&c, (uint64_t)(urand() * 1e15));
    if (!m) {
        fprintf(stderr, "md_model_init: %s\n", md_last_error());
        exit(2);
    }
    perturb(m);
    uint8_t *tok = random_tokens((int64_t)s.B * s.L, 4);
    for (int64_t i = 0; i < (int64_t)s.B * s.L; i++) tok[i] += MD_TOK_A; /* bases only */
    for (int64_t t = 200; t < s.L; t++) tok[t] = MD_TOK_PAD;              /* row 0: a tail */
    float pc[6 * 3], pg[6 * 3];
    poison(pg, 18);
    md_forward_opt o;
    md_forward_opt_init(&o);
    o.rc_avg = rc_avg;
    int ok = md_model_classify(m, tok, s.B, s.L, &o, pc) == 0;
    o.device = 1;
    ok = ok && md_model_classify(m, tok, s.B, s.L, &o, pg) == 0;
    result r = {0};
    compare(pg, pc, 18, &r);
    ok = ok && r.nonfinite == 0 && r.rel < 1e-4;
    if (!ok) failures++;
    printf("%-28s %-12s pool %d rc %d: rel %9.2e  %s\n", "classify, pooled on GPU",
           md_arch_name(arch), pool, rc_avg, r.rel, ok ? "ok" : "FAIL");
    md_model_free(m);
    free(tok);
}

static void check_oom(void)
{
    spec s = {"oom", MD_ARCH_CADUCEUS_PH, 128, 1, 2, 100000000, 0, 0, 0, 0, 0, 0};
    md_model *m = make_model(&s);
    uint8_t *tok = calloc((size_t)(s.B * s.L), 1);
    float dummy[16];
    md_forward_opt o;
    md_forward_opt_init(&o);
    o.device = 1;
    int ret = md_model_forward_rows(m, tok, s.B, s.L, &o, dummy);
    const char *msg = md_last_error();
    int ok = ret == MD_ERR_NOMEM && strstr(msg, "--batch") && strstr(msg, "--chunk");
    printf("%-28s %s\n  message: %s\n", "out of memory (2 x 1e8)", ok ? "ok" : "FAIL", msg);
    if (!ok) failures++;
    md_cuda_model_release(m);
    md_model_free(m);
    free(tok);
}

static void check_parse(void)
{
    int d = -1, ok = 1;
    ok &= md_device_parse("cpu", &d) == 0 && d == 0;
    ok &= md_device_parse("cuda", &d) == 0 && d == 1;
    ok &= md_device_parse("cuda:0", &d) == 0 && d == 1;
    ok &= md_device_parse("cuda:999", &d) < 0;
    ok &= md_device_parse("gpu", &d) < 0;
    ok &= md_device_parse("cuda:", &d) < 0;
    ok &= md_device_parse("cudax", &d) < 0;
    printf("%-28s %s (%d device(s))\n", "md_device_parse", ok ? "ok" : "FAIL", md_device_count());
    if (!ok) failures++;
}

int main(int argc, char **argv)
{
    int quick, status = check_start("forward_check", argc, argv, &quick);
    if (status >= 0) return status;
    uint64_t seed = rng_state;
    const int MB = MD_ARCH_MAMBA, PH = MD_ARCH_CADUCEUS_PH, PS = MD_ARCH_CADUCEUS_PS;
    const spec cases[] = {
        /* name, arch, D, layers, B, L, chunk, d_state, d_conv, layernorm, mul, unfused */
        {"real: 256x16 L4096", MB, 256, 16, 1, 4096, 0, 0, 0, 0, 0, 0},
        {"real: 256x16 L4096", PH, 256, 16, 1, 4096, 0, 0, 0, 0, 0, 0},
        {"real: 256x16 L4096", PS, 256, 16, 2, 4096, 0, 0, 0, 0, 0, 0},
        {"batch: 128x4 64x300", MB, 128, 4, 64, 300, 0, 0, 0, 0, 0, 0},
        {"batch: 128x4 64x300", PH, 128, 4, 64, 300, 0, 0, 0, 0, 0, 0},
        {"batch: 128x4 64x300", PS, 128, 4, 64, 300, 0, 0, 0, 0, 0, 0},
        {"odd L 1000", MB, 128, 4, 3, 1000, 0, 0, 0, 0, 0, 0},
        {"odd L 1000", PH, 128, 4, 2, 1000, 0, 0, 0, 0, 0, 0},
        {"odd L 1000", PS, 128, 4, 2, 1000, 0, 0, 0, 0, 0, 0},
        {"L 1", MB, 128, 4, 3, 1, 0, 0, 0, 0, 0, 0},
        {"L 1", PH, 128, 4, 2, 1, 0, 0, 0, 0, 0, 0},
        {"L 1", PS, 128, 4, 2, 1, 0, 0, 0, 0, 0, 0},
        {"chunked L 1e5 / 16384", MB, 128, 4, 2, 100000, 16384, 0, 0, 0, 0, 0},
        {"chunked L 1e5 / 16384", PH, 128, 4, 2, 100000, 16384, 0, 0, 0, 0, 0},
        {"chunked L 1e5 / 16384", PS, 128, 4, 2, 100000, 16384, 0, 0, 0, 0, 0},
        {"PS unfused, L 777", PS, 128, 2, 2, 777, 0, 0, 0, 0, 0, 0},
        {"LN, mul, D 69, chunk 100", PH, 69, 2, 3, 513, 100, 0, 0, 1, 1, 0},
        {"N 8, K 2, chunk 50", MB, 64, 2, 4, 257, 50, 8, 2, 0, 0, 0},
        {"chunk 2 < K-1", PH, 32, 1, 2, 11, 2, 0, 0, 0, 0, 0},
        {"LN PS N 32 K 3, chunk 333", PS, 96, 3, 4, 1000, 333, 32, 3, 1, 0, 0},
    };
    int n_cases = (int)(sizeof cases / sizeof cases[0]);
    printf("%-28s %-12s %6s %13s %6s  %9s %9s %6s %8s %8s\n", "case", "arch", "DxN", "BxL",
           "chunk", "rel L2", "max rel", "nan", "gpu s", "cpu s");
    double t0 = omp_get_wtime();
    for (int i = 0; i < n_cases; i++) {
        if (quick && cases[i].D == 256) continue;
        check_case(&cases[i], MD_PRECISION_FP32, 1e-4, "");
    }
    check_cache();
    for (int pool = MD_POOL_MEAN; pool <= MD_POOL_LAST; pool++)
        check_classify(MD_ARCH_CADUCEUS_PS, pool, 0);
    check_classify(MD_ARCH_CADUCEUS_PH, MD_POOL_MEAN, 1);
    check_classify(MD_ARCH_MAMBA, MD_POOL_MAX, 0);
    check_oom();
    check_parse();
    /* reduced precision: loose bounds, only to catch wrong wiring */
    const int vi[] = {2, 14, 16};
    for (int k = 0; k < 3; k++) {
        if (quick && cases[vi[k]].D == 256) continue;
        check_case(&cases[vi[k]], MD_PRECISION_TF32, 2e-2, " [tf32]");
        check_case(&cases[vi[k]], MD_PRECISION_BF16, 1e-1, " [bf16]");
    }
    printf("forward_check: %s (%d failure%s, %.1f s, seed %llu)\n", failures ? "FAILED" : "passed",
           failures, failures == 1 ? "" : "s", omp_get_wtime() - t0, (unsigned long long)seed);
    return failures ? 1 : 0;
}
