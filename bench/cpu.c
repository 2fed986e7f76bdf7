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

/* SGEMM rate (FLOP/s) on 2048^3 with all threads, the way the forward uses
 * OpenBLAS: each OpenMP thread one single-threaded SGEMM on its share of the
 * rows (no OpenBLAS worker threads left spinning). Best of 3. */
static double measure_sgemm(void)
{
    const int n = 2048;
    float *a = malloc((size_t)n * n * sizeof *a), *b = malloc((size_t)n * n * sizeof *b),
          *c = malloc((size_t)n * n * sizeof *c);
    for (int i = 0; i < n * n; i++) {
        a[i] = (float)(i % 17) * 0.01f;
        b[i] = (float)(i % 13) * 0.02f;
    }
    openblas_set_num_threads(1);
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        double t = now();
        #pragma omp parallel
        {
            int nt = omp_get_num_threads(), id = omp_get_thread_num();
            int r0 = n * id / nt, r1 = n * (id + 1) / nt;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, n, n, 1, a + (size_t)r0 * n,
                        n, b, n, 0, c + (size_t)r0 * n, n);
        }
        t = now() - t;
        if (t < best) best = t;
    }
    free(a); free(b); free(c);
    return 2.0 * n * n * (double)n / best;
}

/* Vectorised exp rate (exp/s) with all threads, on data resident in
 * registers: the scan's exponential (md_exp2_nonposv, 2^x for x <= 0), 16
 * independent ones per iteration as the scan has one per state. Best of 5. */
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

typedef struct row {
    double t, flops, exps;
    md_profile prof;
    int64_t tokens;
} row;

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : omp_get_max_threads();
    int reps = argc > 2 ? atoi(argv[2]) : 3, only = argc > 3 ? atoi(argv[3]) : 0;
    if (threads < 1 || reps < 1) {
        fprintf(stderr, "usage: %s [threads [reps [workload 1-4]]]\n", argv[0]);
        return 2;
    }
    omp_set_num_threads(threads);
    const workload work[] = {
        {"Caduceus-131k size (BiMamba d256 x16), B=1 L=16384", MD_ARCH_CADUCEUS_PH, 256, 16, 1, 16384},
        {"small (BiMamba d128 x4), B=1 L=16384", MD_ARCH_CADUCEUS_PH, 128, 4, 1, 16384},
        {"small (BiMamba d128 x4), B=64 L=300 windows", MD_ARCH_CADUCEUS_PH, 128, 4, 64, 300},
        {"small causal (Mamba d128 x4), B=1 L=16384", MD_ARCH_MAMBA, 128, 4, 1, 16384},
    };
    enum { NW = sizeof work / sizeof *work };
    row rows[NW] = {{0}};
    /* The rates are measured again before every workload and the best kept,
     * so that a moment of load from other jobs does not lower the floor. */
    double exp_rate = 0, gemm_rate = 0;
    for (size_t w = 0; w < NW; w++) {
        const workload *k = &work[w];
        if (only && (size_t)only != w + 1) continue;
        double er = measure_exp(), gr = measure_sgemm();
        if (er > exp_rate) exp_rate = er;
        if (gr > gemm_rate) gemm_rate = gr;
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
        row *rw = &rows[w];
        rw->t = 1e30;
        for (int r = 0; r < reps; r++) {
            md_profile p = {0};
            opt.profile = &p;
            double tr = now();
            md_model_embed(m, tok, k->B, k->L, &opt, out);
            tr = now() - tr;
            if (tr < rw->t) {
                rw->t = tr;
                rw->prof = p;
            }
        }
        rw->prof.other = rw->t - rw->prof.gemm - rw->prof.scan - rw->prof.conv;
        rw->tokens = T;
        /* the least work: GEMM FLOPs (in_proj once, x/dt_proj per direction,
         * out_proj once) and one exp per state element per direction */
        rw->flops = 2.0 * T * k->n_layer * (D * 2 * E + dirs * (E * (R + 2 * N) + R * E) + E * D);
        rw->exps = (double)T * k->n_layer * dirs * E * N;
        free(tok);
        free(out);
        md_model_free(m);
    }
    printf("machine: %d threads, SGEMM %.1f GFLOP/s, vectorised exp %.2f Gexp/s (best seen)\n\n",
           threads, gemm_rate / 1e9, exp_rate / 1e9);
    printf("| workload | tokens/s | time s | GEMM s | scan s | conv s | other s | floor s | time/floor |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    for (size_t w = 0; w < NW; w++) {
        const row *rw = &rows[w];
        if (only && (size_t)only != w + 1) continue;
        double floor_s = rw->flops / gemm_rate + rw->exps / exp_rate;
        printf("| %s | %.0f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.2f |\n", work[w].name,
               rw->tokens / rw->t, rw->t, rw->prof.gemm, rw->prof.scan, rw->prof.conv,
               rw->prof.other, floor_s, rw->t / floor_s);
    }
    return 0;
}
