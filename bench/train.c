/* bench/train.c: training-step throughput of md_model_loss_grad (forward,
 * loss and backward, float32) on the CPU.
 *   build/bench/train [threads] [reps] [workload]
 * Prints one table row per workload: tokens/s (B x L input tokens per
 * second; PS models also process the reverse-complement rows), wall and
 * process CPU seconds per step (the best of reps steps after a warm-up; on
 * a shared machine the CPU time of a one-thread run is the steadier
 * figure), and the share of a step in the scan and conv kernels, from the
 * kernels (cpu/grad_fast.h) timed alone on the same shapes, times their
 * calls per step; "other" is the rest (GEMMs, norms, heads). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <omp.h>

#include "cpu/grad_fast.h"
#include "mambadna.h"

typedef struct workload {
    const char *name;
    int arch, d_model, n_layer, objective, B;
    int64_t L;
} workload;

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static uint64_t rng = 88172645463325252ull;

static float *filled(int64_t n, float lo, float hi)
{
    float *p = malloc((size_t)n * sizeof *p);
    if (!p) exit(1);
    for (int64_t i = 0; i < n; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        p[i] = lo + (hi - lo) * (float)(rng >> 40) / (float)(1 << 24);
    }
    return p;
}

/* Seconds per step in the scan and conv kernels of one mixer direction of
 * a bidirectional add-combine model, times the directions and layers: per
 * direction a step runs the conv forward twice (forward and recomputation),
 * the conv backward, the scan forward and the scan backward once each. */
static void kernel_split(const md_config *c, int rows, int64_t L, int reps, double *scan,
                         double *conv)
{
    int E = c->expand * c->d_model, N = c->d_state, R = c->dt_rank, K = c->d_conv;
    int64_t S = rows * L, X = R + 2 * N, n_save = rows * ((L + MD_SCAN_CHUNK - 1) / MD_SCAN_CHUNK) * N * E;
    float *xz = filled(S * 2 * E, -1, 1), *u = filled(S * E, -1, 1), *dtr = filled(S * E, -3, 0);
    float *xdbl = filled(S * X, -1, 1), *y = filled(S * E, 0, 1), *hsave = filled(n_save, 0, 1);
    float *g_y = filled(S * E, -1, 1), *g_u = filled(S * E, 0, 1), *g_dtr = filled(S * E, 0, 1);
    float *g_xz = filled(S * 2 * E, 0, 1), *g_xdbl = filled(S * X, 0, 1);
    float *part = filled((int64_t)omp_get_max_threads() * S * 2 * N, 0, 1);
    float *a_log = filled(E * N, 0, 2.7f), *bias = filled(E, -4, -2), *dv = filled(E, 0.5f, 1.5f);
    float *cw = filled(E * K, -0.5f, 0.5f), *cb = filled(E, -0.5f, 0.5f), *g_p = filled(E * N + 4 * E + E * K, 0, 1);
    double best[4] = {1e30, 1e30, 1e30, 1e30};
    for (int r = 0; r <= reps; r++) {
        double t[5];
        t[0] = omp_get_wtime();
        md_grad_conv_fwd(xz, 2 * E, cw, cb, rows, L, E, K, 1, u);
        t[1] = omp_get_wtime();
        md_grad_conv_bwd(xz, 2 * E, cw, cb, rows, L, E, K, 1, g_u, g_xz, g_p, g_p + E * K);
        t[2] = omp_get_wtime();
        md_grad_scan_fwd(u, dtr, bias, a_log, xdbl + R, xdbl + R + N, X, dv, xz + E, 2 * E, rows, L,
                         E, N, 1, y, hsave);
        t[3] = omp_get_wtime();
        md_grad_scan_bwd(u, dtr, bias, a_log, xdbl + R, xdbl + R + N, X, dv, xz + E, 2 * E, rows, L,
                         E, N, 1, hsave, g_y, y, g_u, g_dtr, g_xz + E, g_xdbl + R, X,
                         g_p + E * K + E, g_p + E * K + E + E * N, g_p + E * K + 2 * E + E * N,
                         part);
        t[4] = omp_get_wtime();
        for (int i = 0; r > 0 && i < 4; i++)
            if (t[i + 1] - t[i] < best[i]) best[i] = t[i + 1] - t[i];
    }
    int per_step = 2 * c->n_layer; /* directions x layers */
    *conv = per_step * (2 * best[0] + best[1]);
    *scan = per_step * (best[2] + best[3]);
    float *all[] = {xz, u, dtr, xdbl, y, hsave, g_y, g_u, g_dtr, g_xz, g_xdbl, part, a_log, bias,
                    dv, cw, cb, g_p};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) free(all[i]);
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : omp_get_max_threads();
    int reps = argc > 2 ? atoi(argv[2]) : 5, only = argc > 3 ? atoi(argv[3]) : -1;
    if (threads < 1 || reps < 1) {
        fprintf(stderr, "usage: %s [threads] [reps] [workload index]\n", argv[0]);
        return 2;
    }
    const workload work[] = {
        {"caduceus-ps d128 x4, classify (GUE fine-tuning)", MD_ARCH_CADUCEUS_PS, 128, 4,
         MD_OBJ_CLASSIFY, 32, 70},
        {"caduceus-ps d128 x4, MLM (pretraining)", MD_ARCH_CADUCEUS_PS, 128, 4, MD_OBJ_MLM, 8,
         1024},
    };
    printf("threads %d, best of %d steps\n\n", threads, reps);
    printf("| workload | B x L | tokens/s | s/step | CPU s/step | scan s | conv s | other s |\n"
           "|---|---|---|---|---|---|---|---|\n");
    for (size_t w = 0; w < sizeof work / sizeof *work; w++) {
        if (only >= 0 && (size_t)only != w) continue;
        const workload *k = &work[w];
        md_config cfg;
        md_config_init(&cfg, k->arch, k->d_model, k->n_layer);
        cfg.n_classes = k->objective == MD_OBJ_CLASSIFY ? 2 : 0;
        md_model *m = md_model_init(&cfg, 1);
        if (!m) return 1;
        int64_t T = k->B * k->L, n = md_model_n_params(m);
        uint8_t *tok = malloc((size_t)T), *tgt = malloc((size_t)T);
        int32_t *labels = malloc((size_t)k->B * sizeof *labels);
        float *grads = calloc((size_t)n, sizeof *grads);
        for (int64_t i = 0; i < T; i++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            tok[i] = (uint8_t)(MD_TOK_A + rng % 4);
            /* MLM: 15% of positions scored, their inputs masked */
            tgt[i] = (rng >> 8) % 100 < 15 ? tok[i] : MD_TOK_PAD;
            if (k->objective == MD_OBJ_MLM && tgt[i] != MD_TOK_PAD) tok[i] = MD_TOK_MASK;
        }
        for (int b = 0; b < k->B; b++) labels[b] = b % 2;
        md_batch bt = {.B = k->B, .L = k->L, .tokens = tok, .targets = tgt, .labels = labels};
        double loss, best = 1e30, best_cpu = 1e30;
        for (int r = 0; r <= reps; r++) {
            double t = omp_get_wtime(), c = cpu_now();
            if (md_model_loss_grad(m, k->objective, &bt, threads, grads, &loss) < 0) return 1;
            t = omp_get_wtime() - t;
            c = cpu_now() - c;
            if (r > 0 && t < best) best = t; /* r = 0: warm-up */
            if (r > 0 && c < best_cpu) best_cpu = c;
        }
        double scan = 0, conv = 0;
        int rows = k->arch == MD_ARCH_CADUCEUS_PS ? 2 * k->B : k->B;
        if (k->arch != MD_ARCH_MAMBA) kernel_split(&cfg, rows, k->L, reps, &scan, &conv);
        printf("| %s | %d x %lld | %.0f | %.3f | %.3f | %.3f | %.3f | %.3f |\n", k->name, k->B,
               (long long)k->L, T / best, best, best_cpu, scan, conv, best - scan - conv);
        fflush(stdout);
        free(tok); free(tgt); free(labels); free(grads);
        md_model_free(m);
    }
    return 0;
}
