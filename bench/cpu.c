/* bench/cpu.c: CPU forward throughput of mambadna models next to the floor
 * set by this machine's measured SGEMM rate and vectorised exp rate.
 *   build/bench/cpu [threads [reps [workload]]]
 * Prints one table row per workload: tokens/s, the time split (GEMM / scan /
 * conv / other) and the ratio of the measured time to the floor. Each
 * workload is run once to warm up, then reps times (default 3); the row is
 * the fastest run. workload (1-4) runs one row only (for profilers). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include <omp.h>

#include "cpu/ops.h"
#include "mambadna.h"

static double now(void) { return omp_get_wtime(); }

/* Best-of-5 SGEMM rate (FLOP/s) on 2048^3. */
static double measure_sgemm(void)
{
    const int n = 2048;
    float *a = malloc((size_t)n * n * sizeof *a), *b = malloc((size_t)n * n * sizeof *b),
          *c = malloc((size_t)n * n * sizeof *c);
    for (int i = 0; i < n * n; i++) {
        a[i] = (float)(i % 17) * 0.01f;
        b[i] = (float)(i % 13) * 0.02f;
    }
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        double t = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        t = now() - t;
        if (t < best) best = t;
    }
    free(a); free(b); free(c);
    return 2.0 * n * n * (double)n / best;
}

/* Vectorised exp rate (exp/s) with all threads, on data resident in
 * registers: the scan's exponential (md_exp2_nonposv, 2^x for x <= 0), 16
 * independent ones per iteration as the scan has one per state. Measured
 * before any threaded SGEMM, whose spinning OpenBLAS workers would otherwise
 * share the cores. Best of 5. */
static double measure_exp(void)
{
    const int64_t reps = 1 << 18;
    double best = 1e30;
    float sink = 0;
    for (int r = 0; r < 5; r++) {
        double t = now();
        #pragma omp parallel reduction(+ : sink)
        {
            md_v16f x[16], a[16];
            for (int k = 0; k < 16; k++) {
                a[k] = (md_v16f){0};
                for (int j = 0; j < 16; j++)
                    x[k][j] = -0.001f * (float)(j + 1 + omp_get_thread_num()) * (float)(k + 1);
            }
            for (int64_t i = 0; i < reps; i++) {
                #pragma GCC unroll 16
                for (int k = 0; k < 16; k++) {
                    a[k] += md_exp2_nonposv(x[k]);
                    x[k] *= 1.0000001f;
                }
            }
            md_v16f acc = {0};
            for (int k = 0; k < 16; k++) acc += a[k];
            for (int j = 0; j < 16; j++) sink += acc[j];
        }
        t = now() - t;
        if (t < best) best = t;
    }
    if (sink == 42) printf(" ");
    return (double)reps * 16 * 16 * omp_get_max_threads() / best;
}

typedef struct workload {
    const char *name;
    int arch, d_model, n_layer, B;
    int64_t L;
} workload;

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : omp_get_max_threads();
    int reps = argc > 2 ? atoi(argv[2]) : 3, only = argc > 3 ? atoi(argv[3]) : 0;
    if (threads < 1 || reps < 1) {
        fprintf(stderr, "usage: %s [threads [reps [workload 1-4]]]\n", argv[0]);
        return 2;
    }
    omp_set_num_threads(threads);
    double exp_rate = measure_exp();
    openblas_set_num_threads(threads);
    double gemm_rate = measure_sgemm();
    printf("machine: %d threads, SGEMM %.1f GFLOP/s, vectorised exp %.2f Gexp/s\n\n", threads,
           gemm_rate / 1e9, exp_rate / 1e9);
    const workload work[] = {
        {"Caduceus-131k size (BiMamba d256 x16), B=1 L=16384", MD_ARCH_CADUCEUS_PH, 256, 16, 1, 16384},
        {"small (BiMamba d128 x4), B=1 L=16384", MD_ARCH_CADUCEUS_PH, 128, 4, 1, 16384},
        {"small (BiMamba d128 x4), B=64 L=300 windows", MD_ARCH_CADUCEUS_PH, 128, 4, 64, 300},
        {"small causal (Mamba d128 x4), B=1 L=16384", MD_ARCH_MAMBA, 128, 4, 1, 16384},
    };
    printf("| workload | tokens/s | time s | GEMM s | scan s | conv s | other s | floor s | time/floor |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    for (size_t w = 0; w < sizeof work / sizeof *work; w++) {
        const workload *k = &work[w];
        if (only && (size_t)only != w + 1) continue;
        md_config cfg;
        md_config_init(&cfg, k->arch, k->d_model, k->n_layer);
        md_model *m = md_model_init(&cfg, 1);
        int64_t T = k->B * k->L, D = cfg.d_model, E = (int64_t)cfg.expand * D, N = cfg.d_state,
                R = cfg.dt_rank, dirs = k->arch == MD_ARCH_MAMBA ? 1 : 2;
        uint8_t *tok = malloc((size_t)T);
        for (int64_t i = 0; i < T; i++) tok[i] = (uint8_t)(MD_TOK_A + (i * 2654435761u >> 7) % 4);
        float *out = malloc((size_t)(T * D) * sizeof *out);
        md_forward_opt opt;
        md_forward_opt_init(&opt);
        opt.threads = threads;
        md_model_embed(m, tok, k->B, k->L, &opt, out); /* warm-up */
        md_profile prof = {0};
        double t = 1e30;
        for (int r = 0; r < reps; r++) {
            md_profile p = {0};
            opt.profile = &p;
            double tr = now();
            md_model_embed(m, tok, k->B, k->L, &opt, out);
            tr = now() - tr;
            if (tr < t) {
                t = tr;
                prof = p;
            }
        }
        prof.other = t - prof.gemm - prof.scan - prof.conv;
        /* the least work: GEMM FLOPs (in_proj once, x/dt_proj per direction,
         * out_proj once) and one exp per state element per direction */
        double flops = 2.0 * T * k->n_layer * (D * 2 * E + dirs * (E * (R + 2 * N) + R * E) + E * D);
        double exps = (double)T * k->n_layer * dirs * E * N;
        double floor_s = flops / gemm_rate + exps / exp_rate;
        printf("| %s | %.0f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.2f |\n", k->name, T / t, t,
               prof.gemm, prof.scan, prof.conv, prof.other, floor_s, t / floor_s);
        fflush(stdout);
        free(tok);
        free(out);
        md_model_free(m);
    }
    return 0;
}
