/* bench/gpu_train.c: GPU training on a Caduceus-131k-size model
 * (caduceus-ps, d_model 256, 16 layers, random weights), float32.
 *   build/bench/gpu_train [--reps N] [--long L] [--longest L] [--scan-L L]
 *
 * 1. Fine-tune step: batch 256 x 300 bp, classification loss, AdamW
 *    (md_cuda_train_step: loss, gradient, clipping, AdamW on the device,
 *    weights copied back): seconds (median of --reps after a warm-up) and
 *    input tokens per second; peer: PyTorch + mamba_ssm 392 ms (0.196 M
 *    tokens/s), target >= 1.0 M tokens/s.
 * 2. Train step: batch 1 x 131,072 (--long), masked-LM loss: seconds and
 *    device memory; peer 0.53 s and 37 GB, target <= 0.15 s, <= 12 GB.
 * 3. Long context, bf16 GEMMs: the 131,072 step again with the layers in
 *    time chunks of 65,536 (md_cuda_set_train_chunk), and batch 1 x
 *    1,048,576 (--longest; 0 skips it) with the layer plan chosen by the
 *    library (whole layers need ~145 GB there, so time chunks): seconds
 *    and device memory (the bar: fits on one 80 GB GPU).
 * 4. The selective-scan kernels of training alone, B=1, E=512, N=16,
 *    L=2^20 (--scan-L), fp32: forward saving chunk states, and backward;
 *    with the minimal bytes over the measured device copy bandwidth.
 * Device memory: growth of the device's used memory (cudaMemGetInfo) from
 * before the model was uploaded to after the steps (the arena is sized
 * once and kept, so this is the peak of the step).
 */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mambadna.h"
#include "model.h"
#include "cpu/grad_fast.h"
#ifdef MD_HAVE_CUDA
#include <cuda_runtime.h>
#include "../cuda/cuda_backend.h"
#endif

#ifndef MD_HAVE_CUDA
int main(void)
{
    printf("gpu_train: this build has no CUDA backend (make CUDA=1 where nvcc is found)\n");
    return 0;
}
#else

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void die(const char *what)
{
    fprintf(stderr, "gpu_train: %s: %s\n", what, md_last_error());
    exit(1);
}

static void check(cudaError_t e, const char *what)
{
    if (e != cudaSuccess) {
        fprintf(stderr, "gpu_train: CUDA %s: %s\n", what, cudaGetErrorString(e));
        exit(1);
    }
}

static uint64_t lcg = 12345;
static double urand(void)
{
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg >> 11) * (1.0 / 9007199254740992.0);
}

static void random_bases(uint8_t *t, int64_t n)
{
    const uint8_t dna[4] = {MD_TOK_A, MD_TOK_C, MD_TOK_G, MD_TOK_T};
    for (int64_t i = 0; i < n; i++) t[i] = dna[(int)(urand() * 4)];
}

static md_model *new_model(int n_classes)
{
    md_config cfg;
    md_config_init(&cfg, MD_ARCH_CADUCEUS_PS, 256, 16);
    cfg.n_classes = n_classes;
    md_model *m = md_model_init(&cfg, 42);
    if (!m) die("model");
    return m;
}

/* Median seconds of reps training steps on batch b; device memory growth. */
static double time_steps(md_model *m, int precision, int objective, const md_batch *b, int reps,
                         double *used_gb)
{
    size_t fr0, fr, tot;
    if (md_cuda_mem_info(0, &fr0, &tot) < 0) die("memory info");
    md_adamw a;
    if (md_adamw_init(&a, md_model_n_params(m)) < 0) die("AdamW");
    double loss, norm, t[32];
    if (reps > 32) reps = 32;
    if (md_cuda_train_step(m, 0, precision, objective, b, &a, 1e-4, 0.9, 0.95, 1e-8, 0.1, 1.0, &loss, &norm) < 0)
        die("training step");
    for (int r = 0; r < reps; r++) {
        double t0 = omp_get_wtime();
        if (md_cuda_train_step(m, 0, precision, objective, b, &a, 1e-4, 0.9, 0.95, 1e-8, 0.1, 1.0, &loss,
                               &norm) < 0)
            die("training step");
        t[r] = omp_get_wtime() - t0;
    }
    md_cuda_mem_info(0, &fr, &tot);
    *used_gb = (double)(fr0 - fr) / 1e9;
    printf("  loss %.4f, gradient norm %.3g\n", loss, norm);
    /* one more step with every operation timed (events add small gaps) */
    md_cuda_set_profiling(1);
    if (md_cuda_train_step(m, 0, precision, objective, b, &a, 1e-4, 0.9, 0.95, 1e-8, 0.1, 1.0, &loss, &norm) < 0)
        die("training step");
    md_cuda_set_profiling(0);
    double ps[16], tot_s = 0;
    const char *pn[16];
    int nk = md_cuda_train_profile(ps, pn, 16);
    for (int k = 0; k < nk; k++) tot_s += ps[k];
    printf("  profiled step: %.1f ms\n", tot_s * 1e3);
    for (int k = 0; k < nk; k++)
        printf("    %-28s %8.1f ms %5.1f%%\n", pn[k], ps[k] * 1e3, 100 * ps[k] / tot_s);
    md_adamw_free(&a);
    return median(t, reps);
}

/* time_steps on a fresh model, batch 1 x L of random bases, 15% of them
 * masked-LM targets. */
static double time_mlm(int64_t L, int precision, int reps, double *used_gb)
{
    md_model *m = new_model(0);
    uint8_t *tok = malloc((size_t)L), *tgt = malloc((size_t)L);
    if (!tok || !tgt) die("batch");
    random_bases(tok, L);
    for (int64_t i = 0; i < L; i++) tgt[i] = urand() < 0.15 ? tok[i] : MD_TOK_PAD;
    md_batch lb = {.B = 1, .L = L, .tokens = tok, .targets = tgt};
    double t = time_steps(m, precision, MD_OBJ_MLM, &lb, reps, used_gb);
    md_model_free(m);
    free(tok);
    free(tgt);
    return t;
}

static float *dev_rand(int64_t n, double lo, double hi)
{
    float *h = malloc((size_t)n * sizeof *h), *d;
    for (int64_t i = 0; i < n; i++) h[i] = (float)(lo + (hi - lo) * urand());
    check(cudaMalloc((void **)&d, (size_t)n * sizeof *d), "malloc");
    check(cudaMemcpy(d, h, (size_t)n * sizeof *d, cudaMemcpyHostToDevice), "upload");
    free(h);
    return d;
}

/* Milliseconds of the device copy of n bytes (read + write), median of 5. */
static double copy_bw_gbs(void)
{
    size_t n = (size_t)1 << 30;
    void *a, *b;
    check(cudaMalloc(&a, n), "malloc");
    check(cudaMalloc(&b, n), "malloc");
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    double v[5];
    for (int r = 0; r < 5; r++) {
        cudaEventRecord(e0, 0);
        cudaMemcpyAsync(b, a, n, cudaMemcpyDeviceToDevice, 0);
        cudaEventRecord(e1, 0);
        check(cudaEventSynchronize(e1), "copy");
        float ms;
        cudaEventElapsedTime(&ms, e0, e1);
        v[r] = 2.0 * n / (ms * 1e-3) / 1e9;
    }
    cudaFree(a);
    cudaFree(b);
    return median(v, 5);
}

static void bench_scan(int64_t L, double bw)
{
    const int E = 512, N = 16, R = 16, X = R + 2 * N;
    int64_t chunks = (L + MD_SCAN_CHUNK - 1) / MD_SCAN_CHUNK;
    float *u = dev_rand(L * E, -1, 1), *dtr = dev_rand(L * E, -3, 1), *bias = dev_rand(E, -1, 0),
          *A_log = dev_rand((int64_t)E * N, 0, 1), *xdbl = dev_rand(L * X, -1, 1),
          *Dv = dev_rand(E, 0.5, 1.5), *z = dev_rand(L * 2 * E, -2, 2), *gy = dev_rand(L * E, -1, 1);
    float *y, *hs, *gu, *gdtr, *gz, *gbc, *gA, *gD, *gb, *work, *fwd_work, *A;
    size_t fwd_ws = md_cuda_selective_scan_workspace(1, (long)L, E, N);
    check(cudaMalloc((void **)&work, md_cuda_train_scan_workspace(1, L, E, N)), "malloc");
    check(cudaMalloc((void **)&fwd_work, fwd_ws + 4), "malloc");
    check(cudaMalloc((void **)&A, (size_t)E * N * 4), "malloc");
    if (md_cuda_neg_exp(A_log, A, (long long)E * N, NULL) < 0) die("A");
    check(cudaMalloc((void **)&y, (size_t)L * E * 4), "malloc");
    check(cudaMalloc((void **)&hs, (size_t)chunks * N * E * 4), "malloc");
    check(cudaMalloc((void **)&gu, (size_t)L * E * 4), "malloc");
    check(cudaMalloc((void **)&gdtr, (size_t)L * E * 4), "malloc");
    check(cudaMalloc((void **)&gz, (size_t)L * 2 * E * 4), "malloc");
    check(cudaMalloc((void **)&gbc, (size_t)L * X * 4), "malloc");
    check(cudaMalloc((void **)&gA, (size_t)E * N * 4), "malloc");
    check(cudaMalloc((void **)&gD, (size_t)E * 4), "malloc");
    check(cudaMalloc((void **)&gb, (size_t)E * 4), "malloc");
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    double tf[5], tb[5];
    for (int r = 0; r < 6; r++) {
        float ms;
        cudaEventRecord(e0, 0);
        if (md_cuda_scan_fwd_save(u, dtr, bias, A, xdbl + R, xdbl + R + N, X, Dv, z + E, 2 * E,
                                  1, L, E, N, 1, NULL, NULL, y, hs, fwd_work, fwd_ws, NULL) < 0)
            die("scan forward");
        cudaEventRecord(e1, 0);
        check(cudaEventSynchronize(e1), "scan forward");
        cudaEventElapsedTime(&ms, e0, e1);
        if (r) tf[r - 1] = ms;
        cudaEventRecord(e0, 0);
        if (md_cuda_scan_bwd(u, dtr, bias, A_log, xdbl + R, xdbl + R + N, X, Dv, z + E, 2 * E, 1, L,
                             E, N, 1, hs, NULL, NULL, gy, y, gu, gdtr, gz + E, gbc + R, X, gA, gD, gb, work, NULL) < 0)
            die("scan backward");
        cudaEventRecord(e1, 0);
        check(cudaEventSynchronize(e1), "scan backward");
        cudaEventElapsedTime(&ms, e0, e1);
        if (r) tb[r - 1] = ms;
    }
    /* minimal bytes: fwd reads u, dt, B, C, z (L x (3E + 2N)) and writes y;
     * bwd reads those and g_y, writes y, g_u, g_dt, g_z and g_B, g_C */
    double fwd_bytes = (double)L * (4.0 * E + 2 * N) * 4, bwd_bytes = (double)L * (9.0 * E + 4 * N) * 4;
    double mf = median(tf, 5), mb = median(tb, 5);
    printf("  scan forward (saving states), B=1 E=%d N=%d L=%lld fp32: %.2f ms (memory floor %.2f ms)\n",
           E, N, (long long)L, mf, fwd_bytes / (bw * 1e9) * 1e3);
    printf("  scan backward,                B=1 E=%d N=%d L=%lld fp32: %.2f ms (memory floor %.2f ms; "
           "peer 60 ms bf16, target 8 ms)\n", E, N, (long long)L, mb, bwd_bytes / (bw * 1e9) * 1e3);
    float *all[] = {u, dtr, bias, A_log, xdbl, Dv, z, gy, y, hs, gu, gdtr, gz, gbc, gA, gD, gb, work,
                    fwd_work, A};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) cudaFree(all[i]);
}

int main(int argc, char **argv)
{
    int reps = 5;
    int64_t long_L = 131072, longest_L = 1 << 20, scan_L = 1 << 20;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--long") && i + 1 < argc) long_L = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--longest") && i + 1 < argc) longest_L = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--scan-L") && i + 1 < argc) scan_L = atoll(argv[++i]);
        else {
            fprintf(stderr, "usage: gpu_train [--reps N] [--long L] [--longest L] [--scan-L L]\n");
            return 2;
        }
    }
    if (reps < 1) reps = 1;
    if (md_device_count() < 1) {
        printf("gpu_train: no CUDA device\n");
        return 0;
    }
    struct cudaDeviceProp prop;
    check(cudaGetDeviceProperties(&prop, 0), "device properties");
    double bw = copy_bw_gbs();
    printf("gpu_train: %s, device copy %.0f GB/s; Caduceus-131k size (caduceus-ps, d_model 256, "
           "16 layers), float32\n", prop.name, bw);

    const int precs[2] = {MD_PRECISION_FP32, MD_PRECISION_BF16};
    const char *pnames[2] = {"fp32", "bf16 GEMMs"};
    double t_ft[2], t_tr[2], used_ft[2], used_tr[2];
    for (int pi = 0; pi < 2; pi++) {
        printf("\n== fine-tune step, batch 256 x 300, AdamW, %s ==\n", pnames[pi]);
        md_model *m = new_model(2);
        const int B = 256, L = 300;
        uint8_t *tok = malloc((size_t)B * L);
        int32_t *labels = malloc(B * sizeof *labels);
        random_bases(tok, (int64_t)B * L);
        for (int b = 0; b < B; b++) labels[b] = b % 2;
        md_batch fb = {.B = B, .L = L, .tokens = tok, .labels = labels};
        t_ft[pi] = time_steps(m, precs[pi], MD_OBJ_CLASSIFY, &fb, reps, &used_ft[pi]);
        printf("  %.1f ms per step: %.3f M tokens/s; device memory +%.2f GB (peer 392 ms, 0.196 M "
               "tokens/s; target >= 1.0 M tokens/s)\n", t_ft[pi] * 1e3, B * L / t_ft[pi] / 1e6,
               used_ft[pi]);
        md_model_free(m);
        free(tok);
        free(labels);

        printf("\n== train step, batch 1 x %lld, masked LM, %s ==\n", (long long)long_L, pnames[pi]);
        t_tr[pi] = time_mlm(long_L, precs[pi], reps < 3 ? reps : 3, &used_tr[pi]);
        printf("  %.3f s per step; device memory +%.2f GB (peer 0.53 s, 37 GB; target <= 0.15 s, "
               "<= 12 GB)\n", t_tr[pi], used_tr[pi]);
    }

    printf("\n== train step, batch 1 x %lld, masked LM, bf16 GEMMs, layers in time chunks of "
           "65536 ==\n", (long long)long_L);
    double t_ch, used_ch, t_1m = 0, used_1m = 0;
    md_cuda_set_train_chunk(65536);
    t_ch = time_mlm(long_L, MD_PRECISION_BF16, reps < 3 ? reps : 3, &used_ch);
    md_cuda_set_train_chunk(0);
    printf("  %.3f s per step; device memory +%.2f GB\n", t_ch, used_ch);
    if (longest_L > 0) {
        printf("\n== train step, batch 1 x %lld, masked LM, bf16 GEMMs, the library's layer plan "
               "==\n", (long long)longest_L);
        t_1m = time_mlm(longest_L, MD_PRECISION_BF16, 1, &used_1m);
        printf("  %.3f s per step; device memory +%.2f GB (bar: fits in 80 GB)\n", t_1m, used_1m);
    }

    printf("\n== selective scan of training ==\n");
    bench_scan(scan_L, bw);

    printf("\n%-44s %12s %12s %10s %10s\n", "work", "fp32", "bf16 GEMMs", "peer", "target");
    printf("%-44s %9.1f ms %9.1f ms %10s %10s\n", "fine-tune step 256 x 300", t_ft[0] * 1e3,
           t_ft[1] * 1e3, "392 ms", "77 ms");
    printf("%-44s %10.3f M %10.3f M %10s %10s\n", "  tokens/s", 76800 / t_ft[0] / 1e6,
           76800 / t_ft[1] / 1e6, "0.196 M", "1.0 M");
    printf("%-44s %10.3f s %10.3f s %10s %10s\n", "train step 1 x 131072", t_tr[0], t_tr[1],
           "0.53 s", "0.15 s");
    printf("%-44s %9.2f GB %9.2f GB %10s %10s\n", "  its device memory", used_tr[0], used_tr[1],
           "37 GB", "12 GB");
    printf("%-44s %12s %10.3f s %10s %10s\n", "  layers in time chunks of 65536", "", t_ch,
           "0.53 s", "0.15 s");
    printf("%-44s %12s %9.2f GB %10s %10s\n", "  its device memory", "", used_ch, "37 GB", "12 GB");
    if (longest_L > 0) {
        char what[64];
        snprintf(what, sizeof what, "train step 1 x %lld", (long long)longest_L);
        printf("%-44s %12s %10.3f s %10s %10s\n", what, "", t_1m, "OOM", "");
        printf("%-44s %12s %9.2f GB %10s %10s\n", "  its device memory", "", used_1m, "", "80 GB");
    }
    return 0;
}
#endif
