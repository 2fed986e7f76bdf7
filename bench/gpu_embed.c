/* bench/gpu_embed.c: the GPU inference forward on a Caduceus-131k-size model
 * (caduceus-ps, d_model 256, 16 layers, random weights).
 *   build/bench/gpu_embed [--chunk N] [--reps N] [--score-mb LIST] [--precisions LIST]
 *
 * 1. Embed 1,048,576 bases through md_model_embed (PS: both strands, output
 *    [forward | reverse-complement stream] of width 512), as `mambadna
 *    embed` does for one 1 Mb window: seconds (median of --reps after one
 *    warm-up call, which also uploads the model) split into the GPU work
 *    (tokens up, 16 layers, final norm: device events), the copy back and
 *    the host's strand merge; and device memory: what the model's GPU copy
 *    holds (parameters + arena + cuBLAS workspace) and the growth of the
 *    device's used memory (cudaMemGetInfo) over the run. The peer figure is
 *    PyTorch + mamba_ssm on the same task: 5.1 s, 13.2 GB peak.
 * 2. Score throughput: windows of 1024 at stride 512 over S Mb of random
 *    sequence, 128 windows per md_model_classify call (PS: each window and
 *    its reverse complement, 256 rows), as `mambadna score` does; Mb of
 *    sequence per second and the extrapolation to human chr20 (63.0 Mb).
 * Each for the precisions fp32 (default; matches the CPU), tf32, bf16.
 */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mambadna.h"
#include "model.h" /* md_model_forward_rows */
#ifdef MD_HAVE_CUDA
#include "../cuda/cuda_backend.h"
#endif

#ifndef MD_HAVE_CUDA
int main(void)
{
    printf("gpu_embed: this build has no CUDA backend (make CUDA=1 where nvcc is found)\n");
    return 0;
}
#else

static double now(void) { return omp_get_wtime(); }

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

static const char *prec_name(int p)
{
    return p == MD_PRECISION_FP32 ? "fp32" : p == MD_PRECISION_TF32 ? "tf32" : "bf16";
}

static void die(const char *what)
{
    fprintf(stderr, "gpu_embed: %s: %s\n", what, md_last_error());
    exit(1);
}

/* The canonical rows of a PS embed (the sequence and its reverse
 * complement) through md_model_forward_rows, as md_model_embed runs them. */
static int md_model_forward_rows_probe(md_model *m, const uint8_t *tok, int64_t L,
                                       const md_forward_opt *opt)
{
    int64_t D = md_model_config(m)->d_model;
    uint8_t *t2 = malloc((size_t)(2 * L));
    float *h = malloc((size_t)(2 * L * D) * sizeof *h);
    if (!t2 || !h) die("out of memory");
    memcpy(t2, tok, (size_t)L);
    memcpy(t2 + L, tok, (size_t)L);
    md_revcomp_tokens(t2 + L, L);
    int ret = md_model_forward_rows(m, t2, 2, L, opt, h);
    free(t2);
    free(h);
    return ret;
}

static uint8_t *random_bases(int64_t n, uint64_t seed)
{
    uint8_t *t = malloc((size_t)n);
    char *s = malloc((size_t)n);
    if (!t || !s) die("out of memory");
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        s[i] = "ACGT"[seed >> 62];
    }
    md_tokenize(s, n, t);
    free(s);
    return t;
}

int main(int argc, char **argv)
{
    int64_t chunk = 65536; /* mambadna embed's default */
    int reps = 3;
    double score_mb[3] = {1, 2, 8}; /* per precision: fp32, tf32, bf16 */
    int precs[3] = {MD_PRECISION_FP32, MD_PRECISION_TF32, MD_PRECISION_BF16}, n_prec = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--chunk") && i + 1 < argc) chunk = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--score-mb") && i + 1 < argc) {
            char *s = argv[++i];
            for (int k = 0; k < 3 && s && *s; k++) {
                score_mb[k] = strtod(s, &s);
                if (*s == ',') s++;
            }
        } else if (!strcmp(argv[i], "--precisions") && i + 1 < argc) {
            char *s = argv[++i];
            n_prec = 0;
            for (char *tk = strtok(s, ","); tk && n_prec < 3; tk = strtok(NULL, ","))
                precs[n_prec++] = !strcmp(tk, "tf32") ? MD_PRECISION_TF32
                                  : !strcmp(tk, "bf16") ? MD_PRECISION_BF16 : MD_PRECISION_FP32;
        } else {
            fprintf(stderr, "usage: gpu_embed [--chunk N] [--reps N] [--score-mb A,B,C] "
                            "[--precisions fp32,tf32,bf16]\n");
            return 2;
        }
    }
    if (reps < 1) reps = 1;
    if (md_device_count() < 1) {
        printf("gpu_embed: no CUDA device\n");
        return 0;
    }
    size_t free0, total;
    if (md_cuda_mem_info(0, &free0, &total) < 0) die("memory info");
    printf("gpu_embed: device cuda:0, %.1f GB total, %.1f GB free at start; chunk %lld\n",
           total / 1e9, free0 / 1e9, (long long)chunk);

    md_config cfg;
    md_config_init(&cfg, MD_ARCH_CADUCEUS_PS, 256, 16);
    cfg.n_classes = 2;
    md_model *m = md_model_init(&cfg, 42);
    if (!m) die("model");
    printf("model: caduceus-ps, d_model 256, 16 layers, %lld parameters\n",
           (long long)md_model_n_params(m));

    const int64_t L = 1 << 20;
    const int H = md_config_hidden_width(&cfg);
    uint8_t *tok = random_bases(L, 1);
    float *out = malloc((size_t)L * H * sizeof *out);
    if (!out) die("out of memory");
    memset(out, 0, (size_t)L * H * sizeof *out);

    md_forward_opt opt;
    md_forward_opt_init(&opt);
    opt.device = 1;
    opt.chunk = chunk;

    double emb_s[3] = {0}, emb_gpu[3] = {0}, emb_copy[3] = {0};
    size_t emb_mem[3] = {0}, emb_used[3] = {0};
    printf("\n== embed 1,048,576 bases, both strands (md_model_embed) ==\n");
    for (int pi = 0; pi < n_prec; pi++) {
        opt.precision = precs[pi];
        double t = now();
        if (md_model_embed(m, tok, 1, L, &opt, out) < 0) die("embed");
        double first = now() - t;
        double wall[16], gpu[16], cp[16];
        int n = reps > 16 ? 16 : reps;
        for (int r = 0; r < n; r++) {
            t = now();
            if (md_model_embed(m, tok, 1, L, &opt, out) < 0) die("embed");
            wall[r] = now() - t;
            md_cuda_last_times(&gpu[r], &cp[r]);
        }
        size_t fr, tot;
        md_cuda_mem_info(0, &fr, &tot);
        emb_s[pi] = median(wall, n);
        emb_gpu[pi] = median(gpu, n);
        emb_copy[pi] = median(cp, n);
        emb_mem[pi] = md_cuda_model_device_bytes(m);
        emb_used[pi] = free0 - fr;
        printf("%s: first call %.3f s; median of %d: %.3f s = GPU %.3f + copy back %.3f + host "
               "%.3f; model's device memory %.2f GB, device used +%.2f GB\n",
               prec_name(precs[pi]), first, n, emb_s[pi], emb_gpu[pi], emb_copy[pi],
               emb_s[pi] - emb_gpu[pi] - emb_copy[pi], emb_mem[pi] / 1e9, emb_used[pi] / 1e9);
        /* one more call with every operation timed (events add small gaps) */
        md_cuda_set_profiling(1);
        if (md_model_forward_rows_probe(m, tok, L, &opt) < 0) die("profiled forward");
        md_cuda_set_profiling(0);
        double ps[16], ptot = 0;
        const char *pn[16];
        int nk = md_cuda_last_profile(ps, pn, 16);
        for (int k = 0; k < nk; k++) ptot += ps[k];
        printf("  profiled forward of the 2 x 1,048,576 rows: %.3f s\n", ptot);
        for (int k = 0; k < nk; k++)
            printf("    %-26s %8.3f s %5.1f%%\n", pn[k], ps[k], 100 * ps[k] / ptot);
        fflush(stdout);
        /* the arena of this precision does not carry over: measure each alone */
        md_cuda_model_release(m);
    }
    free(out);
    free(tok);

    printf("\n== score: windows 1024 / stride 512, 128 windows per call, both strands ==\n");
    double score_rate[3] = {0}, score_gpu[3] = {0};
    const int64_t W = 1024, S = 512, BW = 128;
    for (int pi = 0; pi < n_prec; pi++) {
        double mb = score_mb[precs[pi]];
        if (mb <= 0) continue;
        int64_t len = (int64_t)(mb * 1e6), nwin = (len - W) / S + 1;
        uint8_t *seq = random_bases(len, 7 + pi);
        uint8_t *batch = malloc((size_t)(BW * W));
        float *prob = malloc((size_t)(BW * cfg.n_classes) * sizeof *prob);
        md_forward_opt so;
        md_forward_opt_init(&so);
        so.device = 1;
        so.precision = precs[pi];
        /* warm-up (upload, arena) */
        for (int64_t k = 0; k < BW; k++) memcpy(batch + k * W, seq + k * S, (size_t)W);
        if (md_model_classify(m, batch, (int)BW, W, &so, prob) < 0) die("classify");
        double t = now(), gsum = 0;
        for (int64_t w0 = 0; w0 < nwin; w0 += BW) {
            int64_t nb = nwin - w0 < BW ? nwin - w0 : BW;
            for (int64_t k = 0; k < nb; k++) memcpy(batch + k * W, seq + (w0 + k) * S, (size_t)W);
            if (md_model_classify(m, batch, (int)nb, W, &so, prob) < 0) die("classify");
            double g, c;
            md_cuda_last_times(&g, &c);
            gsum += g;
        }
        double el = now() - t;
        score_rate[pi] = mb / el;
        score_gpu[pi] = gsum / el;
        printf("%s: %.1f Mb (%lld windows) in %.2f s: %.2f Mb/s (GPU busy %.0f%%); chr20 "
               "(63.0 Mb) both strands: %.0f s (extrapolated)\n",
               prec_name(precs[pi]), mb, (long long)nwin, el, score_rate[pi],
               100 * score_gpu[pi], 63.0 / score_rate[pi]);
        fflush(stdout);
        md_cuda_model_release(m);
        free(seq);
        free(batch);
        free(prob);
    }

    printf("\n%-6s %12s %10s %10s %12s %12s %12s\n", "prec", "embed 1Mb s", "GPU s", "copy s",
           "model GB", "used GB", "score Mb/s");
    for (int pi = 0; pi < n_prec; pi++)
        printf("%-6s %12.3f %10.3f %10.3f %12.2f %12.2f %12.2f\n", prec_name(precs[pi]),
               emb_s[pi], emb_gpu[pi], emb_copy[pi], emb_mem[pi] / 1e9, emb_used[pi] / 1e9,
               score_rate[pi]);
    printf("peer (PyTorch + mamba_ssm): embed 1 Mb 5.1 s, 13.2 GB peak; target <= 0.3 s, <= 4 GB\n");
    md_model_free(m);
    return 0;
}
#endif
