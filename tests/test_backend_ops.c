/* test_backend_ops.c: every float32 CPU op of the network, one at a time,
 * against a float64 oracle at real Mamba shapes (D 256, E 512, N 16, K 4,
 * two rows of 1100 steps: neither a multiple of the scan chunk nor of the
 * tile), on fresh random inputs, in both time directions. The oracle is the
 * float64 template kernels of cpu/grad_ops.inc where the library exports
 * them (conv and scan) and a plain float64 loop written here for the norms
 * and the matrix products. The inference ops also run on two channel ranges
 * (as their threads do), the first of which must leave the other alone.
 * Every output sits between sentinel guards and starts poisoned (NaN): the
 * op must write all of it and nothing outside it. The small-shape kernel
 * cases of test_grad.c (odd widths, lead dimensions, thread counts) stay
 * there; this file adds the sizes the models run at and the inference ops
 * of cpu/ops.c. */
#include <math.h>
#include <omp.h>

#include "cpu/grad_fast.h"
#include "cpu/ops.h"
#include "testutil.h"

enum { ROWS = 2, LS = 1100, D_MODEL = 256, E_INNER = 512, N_STATE = 16, K_CONV = 4, GUARD = 64 };
static const int64_t S_ALL = (int64_t)ROWS * LS; /* steps of all rows */
#define NORM_EPS 1e-5

static uint64_t seed = 0x9e3779b97f4a7c15ull;

static double urand(double lo, double hi)
{
    seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
    return lo + (hi - lo) * (double)(seed >> 11) / 9007199254740992.0;
}

/* A float32 buffer of n values between GUARD sentinels on each side, and
 * its float64 copy (the oracle's input or output). */
typedef struct gbuf {
    float *base, *f; /* base[GUARD + n + GUARD]; f = base + GUARD */
    double *d;       /* (n) */
    int64_t n;
} gbuf;

/* guard value: a finite float (about -6.3e37) that no op computes, also not
 * from reading a guard (a NaN would come back unchanged through arithmetic) */
static const uint32_t SENTINEL = 0xfe3ebeefu;

static gbuf gb_new(int64_t n, double lo, double hi)
{
    gbuf b = {malloc((size_t)(n + 2 * GUARD) * sizeof(float)), NULL,
              malloc((size_t)n * sizeof(double)), n};
    assert_non_null(b.base);
    assert_non_null(b.d);
    b.f = b.base + GUARD;
    for (int64_t i = 0; i < n + 2 * GUARD; i++) memcpy(b.base + i, &SENTINEL, sizeof SENTINEL);
    for (int64_t i = 0; i < n; i++) b.d[i] = b.f[i] = (float)urand(lo, hi);
    return b;
}

/* An output: every element NaN until the op writes it. */
static gbuf gb_out(int64_t n)
{
    gbuf b = gb_new(n, 0, 1);
    for (int64_t i = 0; i < n; i++) b.f[i] = NAN, b.d[i] = NAN;
    return b;
}

static void gb_free(gbuf *b)
{
    free(b->base);
    free(b->d);
}

static double worst;
static char worst_what[96];

/* Guards intact, every element written (finite), and relative RMS
 * difference from the oracle's float64 values below tol. */
static void gb_check(const char *what, const gbuf *b, double tol)
{
    for (int64_t i = 0; i < GUARD; i++) {
        if (memcmp(b->base + i, &SENTINEL, sizeof SENTINEL))
            fail_msg("%s: written %lld elements before its start", what, (long long)(GUARD - i));
        if (memcmp(b->f + b->n + i, &SENTINEL, sizeof SENTINEL))
            fail_msg("%s: written %lld elements past its end", what, (long long)i + 1);
    }
    double num = 0, den = 0;
    for (int64_t i = 0; i < b->n; i++) {
        if (!isfinite(b->f[i]))
            fail_msg("%s[%lld] is %g (not written?), oracle %g", what, (long long)i, b->f[i], b->d[i]);
        num += (b->f[i] - b->d[i]) * (b->f[i] - b->d[i]);
        den += b->d[i] * b->d[i];
    }
    double err = den > 0 ? sqrt(num / den) : sqrt(num);
    print_message("%-36s rel err %.2e\n", what, err);
    if (err >= tol) fail_msg("%s: relative difference %.2e (tolerance %.0e)", what, err, tol);
    if (err > worst) {
        worst = err;
        snprintf(worst_what, sizeof worst_what, "%s", what);
    }
}

/* "what" with " (reverse)" for dir -1, in a static buffer. */
static const char *named(const char *what, int dir)
{
    static char buf[96];
    snprintf(buf, sizeof buf, "%s%s", what, dir > 0 ? "" : " (reverse)");
    return buf;
}

/* The inference ops run on a range of channels [e0, e1) per thread: the
 * tests split E at E_SPLIT (a multiple of the 16-channel block) and check
 * that the first range leaves the others' columns alone. */
enum { E_SPLIT = 208 };

/* Columns [e1, E) of every row of b (rows of E) still NaN. */
static void check_untouched(const char *what, const gbuf *b, int E, int e1)
{
    for (int64_t i = 0; i < b->n; i++)
        if (i % E >= e1 && !isnan(b->f[i]))
            fail_msg("%s: channel %lld outside the range [0, %d) written", what,
                     (long long)(i % E), e1);
}

/* ---- norms: float64 oracle ------------------------------------------------ */

/* out (T, D) = norm(x) w + b in float64; LayerNorm when b, else RMSNorm. */
static void norm_oracle(const double *x, const double *w, const double *b, int64_t T, int D,
                        double *out)
{
    for (int64_t t = 0; t < T; t++) {
        const double *xt = x + t * D;
        double mu = 0, var = 0;
        if (b) {
            for (int d = 0; d < D; d++) mu += xt[d];
            mu /= D;
        }
        for (int d = 0; d < D; d++) var += (xt[d] - mu) * (xt[d] - mu);
        double r = 1 / sqrt(var / D + NORM_EPS);
        for (int d = 0; d < D; d++) out[t * D + d] = (xt[d] - mu) * r * w[d] + (b ? b[d] : 0);
    }
}

static void test_norms(void **state)
{
    (void)state;
    const int64_t T = S_ALL;
    const int D = D_MODEL;
    /* a mean far from zero, as the residual stream has: RMSNorm and
     * LayerNorm then differ clearly */
    gbuf x = gb_new(T * D, -1.5, 2.5), w = gb_new(D, 0.5, 1.5), b = gb_new(D, -0.5, 0.5);
    gbuf out = gb_out(T * D);
    md_cpu_rmsnorm(x.f, w.f, T, D, (float)NORM_EPS, out.f);
    norm_oracle(x.d, w.d, NULL, T, D, out.d);
    gb_check("rmsnorm", &out, 1e-6);
    gb_free(&out);
    out = gb_out(T * D);
    md_cpu_layernorm(x.f, w.f, b.f, T, D, (float)NORM_EPS, out.f);
    norm_oracle(x.d, w.d, b.d, T, D, out.d);
    gb_check("layernorm", &out, 1e-6);
    /* fused add + norm: residual = residual + h, then the norm; both outputs */
    for (int rms = 0; rms <= 1; rms++) {
        gbuf res = gb_new(T * D, -1, 3), h = gb_new(T * D, -1, 1), o = gb_out(T * D);
        for (int64_t i = 0; i < T * D; i++) res.d[i] += h.d[i];
        md_cpu_add_norm(res.f, h.f, 0, w.f, rms ? NULL : b.f, rms, T, D, (float)NORM_EPS, o.f);
        norm_oracle(res.d, w.d, rms ? NULL : b.d, T, D, o.d);
        gb_check(rms ? "add_norm rms residual" : "add_norm layer residual", &res, 1e-7);
        gb_check(rms ? "add_norm rms out" : "add_norm layer out", &o, 1e-6);
        gb_free(&res); gb_free(&h); gb_free(&o);
    }
    gbuf all[] = {x, w, b, out};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) gb_free(&all[i]);
}

/* ---- GEMM ------------------------------------------------------------------- */

/* C (S, N) = A (S, K; rows of lda) W^T (+ C when beta 1), over sequences of
 * LS rows, against a float64 loop. */
static void gemm_case(const char *what, int64_t N, int64_t K, int64_t lda, float beta)
{
    const int64_t M = S_ALL;
    gbuf a = gb_new(M * lda, -1, 1), w = gb_new(N * K, -0.2, 0.2);
    gbuf c = beta != 0 ? gb_new(M * N, -1, 1) : gb_out(M * N);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double acc = beta != 0 ? c.d[i * N + j] : 0;
            for (int64_t k = 0; k < K; k++) acc += a.d[i * lda + k] * w.d[j * K + k];
            c.d[i * N + j] = acc;
        }
    md_cpu_gemm_nt(M, LS, N, K, a.f, lda, w.f, c.f, N, beta);
    gb_check(what, &c, 1e-6);
    gb_free(&a); gb_free(&w); gb_free(&c);
}

static void test_gemm(void **state)
{
    (void)state;
    gemm_case("gemm in_proj", 2 * E_INNER, D_MODEL, D_MODEL, 0.0f);
    /* x_proj reads the conv output; out_proj adds the second direction */
    gemm_case("gemm x_proj", 16 + 2 * N_STATE, E_INNER, E_INNER, 0.0f);
    gemm_case("gemm out_proj accumulate", D_MODEL, E_INNER, 2 * E_INNER, 1.0f);
}

/* ---- conv ------------------------------------------------------------------ */

/* The mixer's conv input is the x half of in_proj's output: rows of 2E. */
static const int64_t LDX = 2 * E_INNER;

static void conv_case(int dir)
{
    const int E = E_INNER, K = K_CONV;
    gbuf x = gb_new(S_ALL * LDX, -1, 1), w = gb_new(E * K, -0.5, 0.5), b = gb_new(E, -0.5, 0.5);
    gbuf out = gb_out(S_ALL * E), g_u = gb_new(S_ALL * E, -1, 1);
    gbuf g_x = gb_new(S_ALL * LDX, -1, 1), g_w = gb_new(E * K, -1, 1), g_b = gb_new(E, -1, 1);
    md_grad_conv_fwd(x.f, LDX, w.f, b.f, ROWS, LS, E, K, dir, out.f);
    md_grad_ref_conv_fwd(x.d, LDX, w.d, b.d, ROWS, LS, E, K, dir, out.d);
    gb_check(named("train conv fwd", dir), &out, 2e-6);
    md_grad_conv_bwd(x.f, LDX, w.f, b.f, ROWS, LS, E, K, dir, g_u.f, g_x.f, g_w.f, g_b.f);
    md_grad_ref_conv_bwd(x.d, LDX, w.d, b.d, ROWS, LS, E, K, dir, g_u.d, g_x.d, g_w.d, g_b.d);
    gb_check(named("train conv bwd g_x", dir), &g_x, 2e-6);
    gb_check(named("train conv bwd g_w", dir), &g_w, 2e-5);
    gb_check(named("train conv bwd g_b", dir), &g_b, 2e-5);
    /* the inference conv, one row at a time, in two pieces with the state
     * carried across: the same as the training one on whole rows */
    gbuf inf = gb_out(S_ALL * E);
    memcpy(inf.d, out.d, (size_t)inf.n * sizeof(double));
    float *st = malloc((size_t)((K - 1) * E) * sizeof *st); /* (K-1, E) */
    float *wt = malloc((size_t)(K * E) * sizeof *wt);       /* (K, E) */
    for (int e = 0; e < E; e++)
        for (int k = 0; k < K; k++) wt[k * E + e] = w.f[e * K + k];
    for (int tiled = 0; tiled <= 1; tiled++) {
        const char *what = named(tiled ? "inference conv tiled" : "inference conv", dir);
        for (int64_t i = 0; i < inf.n; i++) inf.f[i] = NAN;
        for (int part = 0; part < 2; part++) {
            int e0 = part ? E_SPLIT : 0, e1 = part ? E : E_SPLIT;
            for (int r = 0; r < ROWS; r++) {
                memset(st, 0, (size_t)((K - 1) * E) * sizeof *st);
                const int64_t L1 = 397; /* processed first: the start in time of dir */
                for (int piece = 0; piece < 2; piece++) {
                    int64_t len = piece ? LS - L1 : L1;
                    int64_t t0 = (dir > 0) == (piece == 0) ? 0 : LS - len;
                    const float *xp = x.f + ((int64_t)r * LS + t0) * LDX;
                    float *op = inf.f + ((int64_t)r * LS + t0) * E;
                    if (tiled) md_cpu_conv1d_silu_tiled(xp, LDX, wt, b.f, len, E, K, e0, e1, dir, st, op);
                    else md_cpu_conv1d_silu(xp, LDX, w.f, b.f, len, E, K, e0, e1, dir, st, op);
                }
            }
            if (!part) check_untouched(what, &inf, E, E_SPLIT);
        }
        gb_check(what, &inf, 2e-6);
    }
    free(st);
    free(wt);
    gbuf all[] = {x, w, b, out, g_u, g_x, g_w, g_b, inf};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) gb_free(&all[i]);
}

static void test_conv(void **state)
{
    (void)state;
    conv_case(+1);
    conv_case(-1);
}

/* ---- scan ------------------------------------------------------------------ */

/* x_proj's output holds dt (R), B (N) and C (N) of each step: rows of R + 2N. */
enum { DT_RANK = 16 };
static const int64_t LDBC = DT_RANK + 2 * N_STATE;
/* z is the second half of in_proj's output: rows of 2E. */
static const int64_t LDZ = 2 * E_INNER;

static void scan_case(int dir)
{
    const int E = E_INNER, N = N_STATE;
    int64_t chunks = (LS + MD_SCAN_CHUNK - 1) / MD_SCAN_CHUNK;
    gbuf u = gb_new(S_ALL * E, -1, 1), dtr = gb_new(S_ALL * E, -4, 1), bias = gb_new(E, -4.5, -2);
    gbuf alog = gb_new(E * N, 0, 1), bc = gb_new(S_ALL * LDBC, -1, 1), dv = gb_new(E, 0.5, 1.5);
    gbuf z = gb_new(S_ALL * LDZ, -2, 2), g_y = gb_new(S_ALL * E, -1, 1);
    for (int e = 0; e < E; e++) /* S4D-real A = -(n + 1), perturbed */
        for (int n = 0; n < N; n++)
            alog.d[e * N + n] = alog.f[e * N + n] = (float)(log(n + 1.0) + urand(-0.2, 0.2));
    for (int64_t i = 0; i < S_ALL * E; i += 131) dtr.d[i] = dtr.f[i] = 30; /* softplus(x) = x */
    const float *Bf = bc.f + DT_RANK, *Cf = bc.f + DT_RANK + N;
    const double *Bd = bc.d + DT_RANK, *Cd = bc.d + DT_RANK + N;
    gbuf y = gb_out(S_ALL * E), hsave = gb_out(ROWS * chunks * N * E);
    md_grad_scan_fwd(u.f, dtr.f, bias.f, alog.f, Bf, Cf, LDBC, dv.f, z.f, LDZ, ROWS, LS, E, N, dir,
                     y.f, hsave.f);
    md_grad_ref_scan_fwd(u.d, dtr.d, bias.d, alog.d, Bd, Cd, LDBC, dv.d, z.d, LDZ, ROWS, LS, E, N,
                         dir, y.d, hsave.d);
    gb_check(named("train scan fwd y", dir), &y, 1e-5);
    gb_check(named("train scan fwd states", dir), &hsave, 1e-5);

    /* backward: y again, g_u, g_dtr written; the rest accumulated */
    gbuf y2 = gb_out(S_ALL * E), g_u = gb_out(S_ALL * E), g_dtr = gb_out(S_ALL * E);
    gbuf g_z = gb_new(S_ALL * LDZ, -1, 1), g_bc = gb_new(S_ALL * 2 * N, -1, 1);
    gbuf g_alog = gb_new(E * N, -1, 1), g_d = gb_new(E, -1, 1), g_bias = gb_new(E, -1, 1);
    int64_t n_part = (int64_t)omp_get_max_threads() * S_ALL * 2 * N;
    float *part = malloc((size_t)n_part * sizeof *part);     /* (threads, S, 2N) */
    double *part_d = malloc((size_t)n_part * sizeof *part_d);
    md_grad_scan_bwd(u.f, dtr.f, bias.f, alog.f, Bf, Cf, LDBC, dv.f, z.f, LDZ, ROWS, LS, E, N, dir,
                     hsave.f, g_y.f, y2.f, g_u.f, g_dtr.f, g_z.f, g_bc.f, 2 * N, g_alog.f, g_d.f,
                     g_bias.f, part);
    md_grad_ref_scan_bwd(u.d, dtr.d, bias.d, alog.d, Bd, Cd, LDBC, dv.d, z.d, LDZ, ROWS, LS, E, N,
                         dir, hsave.d, g_y.d, y2.d, g_u.d, g_dtr.d, g_z.d, g_bc.d, 2 * N, g_alog.d,
                         g_d.d, g_bias.d, part_d);
    gb_check(named("train scan bwd y", dir), &y2, 1e-5);
    gb_check(named("train scan bwd g_u", dir), &g_u, 1e-5);
    gb_check(named("train scan bwd g_dtr", dir), &g_dtr, 1e-5);
    gb_check(named("train scan bwd g_z", dir), &g_z, 1e-5);
    gb_check(named("train scan bwd g_B|g_C", dir), &g_bc, 1e-5);
    gb_check(named("train scan bwd g_A_log", dir), &g_alog, 1e-4);
    gb_check(named("train scan bwd g_D", dir), &g_d, 1e-4);
    gb_check(named("train scan bwd g_bias", dir), &g_bias, 1e-4);
    free(part);
    free(part_d);

    /* the inference scans, one row at a time, in two pieces with the state
     * carried across, against the training forward's y */
    float *A = malloc((size_t)(E * N) * sizeof *A);     /* (E, N) -exp(A_log) */
    float *A2t = malloc((size_t)(N * E) * sizeof *A2t); /* (N, E) A log2(e) */
    float *st = malloc((size_t)(N * E) * sizeof *st);   /* (N, E) */
    for (int e = 0; e < E; e++)
        for (int n = 0; n < N; n++) {
            A[e * N + n] = -expf(alog.f[e * N + n]);
            A2t[n * E + e] = A[e * N + n] * MD_LOG2E;
        }
    gbuf inf = gb_out(S_ALL * E);
    memcpy(inf.d, y.d, (size_t)inf.n * sizeof(double));
    for (int mixer = 0; mixer <= 1; mixer++) {
        const char *what = named(mixer ? "inference mixer scan" : "inference selective scan", dir);
        for (int64_t i = 0; i < inf.n; i++) inf.f[i] = NAN;
        for (int part = 0; part < 2; part++) {
            int e0 = part ? E_SPLIT : 0, e1 = part ? E : E_SPLIT;
            for (int r = 0; r < ROWS; r++) {
                memset(st, 0, (size_t)(N * E) * sizeof *st);
                const int64_t L1 = 397;
                for (int piece = 0; piece < 2; piece++) {
                    int64_t len = piece ? LS - L1 : L1;
                    int64_t t0 = (int64_t)r * LS + ((dir > 0) == (piece == 0) ? 0 : LS - len);
                    if (mixer) {
                        md_scan_args a = {.u = u.f + t0 * E, .dt = dtr.f + t0 * E,
                                          .Bm = Bf + t0 * LDBC, .Cm = Cf + t0 * LDBC,
                                          .dt_bias = bias.f, .A2t = A2t, .Dv = dv.f,
                                          .z = z.f + t0 * LDZ, .ldbc = LDBC, .ldz = LDZ,
                                          .S = len, .E = E, .N = N, .R = DT_RANK, .dir = dir,
                                          .accumulate = 0, .state = st, .y = inf.f + t0 * E};
                        md_cpu_mixer_scan(&a, e0, e1);
                    } else {
                        md_cpu_selective_scan(u.f + t0 * E, dtr.f + t0 * E, bias.f, A,
                                              Bf + t0 * LDBC, Cf + t0 * LDBC, LDBC, dv.f,
                                              z.f + t0 * LDZ, LDZ, len, E, N, e0, e1, dir, st,
                                              inf.f + t0 * E);
                    }
                }
            }
            if (!part) check_untouched(what, &inf, E, E_SPLIT);
        }
        gb_check(what, &inf, 1e-5);
    }
    free(A); free(A2t); free(st);
    gbuf all[] = {u, dtr, bias, alog, bc, dv, z, g_y, y, hsave, y2, g_u, g_dtr, g_z, g_bc,
                  g_alog, g_d, g_bias, inf};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) gb_free(&all[i]);
}

static void test_scan(void **state)
{
    (void)state;
    scan_case(+1);
    scan_case(-1);
}

static void test_summary(void **state)
{
    (void)state;
    print_message("every op agrees with its float64 oracle at D %d, E %d, N %d, K %d, %d rows "
                  "of %d steps; worst relative difference %.2e (%s)\n", D_MODEL, E_INNER,
                  N_STATE, K_CONV, ROWS, LS, worst, worst_what);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_norms),
        cmocka_unit_test(test_gemm),
        cmocka_unit_test(test_conv),
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_summary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
