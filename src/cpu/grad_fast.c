/* grad_fast.c: vectorised float32 training kernels (conv and selective scan,
 * forward and backward) in place of the scalar template ones of
 * cpu/grad_ops.inc. Blocks of 16 channels run as one md_v16f vector with the
 * vector exp/log/softplus of cpu/ops.h; the last block of E % 16 channels
 * runs with its missing lanes zero (they stay zero and add nothing). */

/* The library builds as ISO C, without contraction; here a*b + c may become
 * an FMA (also in the inlined cpu/ops.h math), which makes the scan forward
 * 1.35x faster. */
#if defined(__clang__)
#pragma clang fp contract(fast)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=fast")
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "cpu/grad_fast.h"
#include "cpu/ops.h"

enum {
    EB = 16,           /* channels per block */
    CH = MD_SCAN_CHUNK,
    PF = 8,            /* steps ahead to prefetch in the conv backward (rows
                          1-2 KB apart, its loads waited on memory) */
};

typedef md_v16f vf;
#define INLINE static inline __attribute__((always_inline))

static void *xmalloc(size_t n)
{
    void *p = aligned_alloc(64, (n + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "mambadna: out of memory (%zu bytes) in a training kernel\n", n);
        abort();
    }
    return p;
}

/* nc (<= EB) channels from p; the other lanes zero. */
INLINE vf vload(const float *p, int nc)
{
    vf v = {0};
    memcpy(&v, p, (size_t)nc * sizeof(float));
    return v;
}

INLINE void vstore(float *p, vf v, int nc) { memcpy(p, &v, (size_t)nc * sizeof(float)); }

INLINE vf vsigmoid(vf x) { return 1.0f / (1.0f + md_fast_expv(-x)); }

static int n_blocks(int E) { return (E + EB - 1) / EB; }

/* ---- depthwise causal conv1d + SiLU ---------------------------------------- */

typedef struct conv_args {
    const float *x, *w, *b, *g_u;
    int64_t ldx, Ls;
    int E, K, dir;
    float *out, *g_x, *chan; /* chan: this thread's g_w (E, K) then g_b (E) */
} conv_args;

INLINE void conv_weights(const conv_args *p, int c0, const int nc, const int K, vf *wk, vf *bias)
{
    for (int k = 0; k < K; k++) wk[k] = (vf){0};
    for (int j = 0; j < nc; j++)
        for (int k = 0; k < K; k++) wk[k][j] = p->w[(int64_t)(c0 + j) * K + k];
    *bias = vload(p->b + c0, nc);
}

/* Row r, channels [c0, c0 + nc); win holds the last K inputs, oldest first. */
INLINE void conv_fwd_block(const conv_args *p, int r, int c0, const int nc, const int K)
{
    vf wk[8], win[8], bias;
    conv_weights(p, c0, nc, K, wk, &bias);
    for (int k = 0; k < K; k++) win[k] = (vf){0};
    const float *xr = p->x + r * p->Ls * p->ldx + c0;
    float *orow = p->out + r * p->Ls * p->E + c0;
    for (int64_t s = 0; s < p->Ls; s++) {
        int64_t t = p->dir > 0 ? s : p->Ls - 1 - s;
        win[K - 1] = vload(xr + t * p->ldx, nc);
        vf c = bias;
        for (int k = 0; k < K; k++) c += wk[k] * win[k];
        vstore(orow + t * p->E, md_siluv(c), nc);
        for (int k = 0; k + 1 < K; k++) win[k] = win[k + 1];
    }
}

/* pend[k]: the gradient gathered so far for the input at step s - (K-1) + k,
 * written out once no later step reaches it. */
INLINE void conv_bwd_block(const conv_args *p, int r, int c0, const int nc, const int K)
{
    vf wk[8], win[8], pend[8], gw[8], bias, gb = {0};
    conv_weights(p, c0, nc, K, wk, &bias);
    for (int k = 0; k < K; k++) win[k] = pend[k] = gw[k] = (vf){0};
    int64_t Ls = p->Ls;
    const float *xr = p->x + r * Ls * p->ldx + c0, *gur = p->g_u + r * Ls * p->E + c0;
    float *gxr = p->g_x + r * Ls * p->ldx + c0;
    for (int64_t s = 0; s < Ls; s++) {
        int64_t t = p->dir > 0 ? s : Ls - 1 - s, src = s - (K - 1);
        if (s + PF < Ls) {
            int64_t tp = p->dir > 0 ? t + PF : t - PF;
            __builtin_prefetch(xr + tp * p->ldx);
            __builtin_prefetch(gxr + tp * p->ldx, 1);
            __builtin_prefetch(gur + tp * p->E);
        }
        win[K - 1] = vload(xr + t * p->ldx, nc);
        vf c = bias;
        for (int k = 0; k < K; k++) c += wk[k] * win[k];
        vf sg = vsigmoid(c), gc = vload(gur + t * p->E, nc) * sg * (1.0f + c * (1.0f - sg));
        gb += gc;
        for (int k = 0; k < K; k++) {
            gw[k] += gc * win[k];
            pend[k] += gc * wk[k];
        }
        if (src >= 0) {
            float *g = gxr + (p->dir > 0 ? src : Ls - 1 - src) * p->ldx;
            vstore(g, vload(g, nc) + pend[0], nc);
        }
        for (int k = 0; k + 1 < K; k++) {
            win[k] = win[k + 1];
            pend[k] = pend[k + 1];
        }
        pend[K - 1] = (vf){0};
    }
    for (int k = 0; k + 1 < K; k++) {
        int64_t src = Ls - (K - 1) + k;
        if (src < 0) continue;
        float *g = gxr + (p->dir > 0 ? src : Ls - 1 - src) * p->ldx;
        vstore(g, vload(g, nc) + pend[k], nc);
    }
    for (int j = 0; j < nc; j++) {
        for (int k = 0; k < K; k++) p->chan[(int64_t)(c0 + j) * K + k] += gw[k][j];
        p->chan[(int64_t)p->E * K + c0 + j] += gb[j];
    }
}

/* Full blocks with the usual K = 4 unrolled, others generic, the tail masked. */
static void conv_fwd_full4(const conv_args *p, int r, int c0) { conv_fwd_block(p, r, c0, EB, 4); }
static void conv_fwd_full(const conv_args *p, int r, int c0) { conv_fwd_block(p, r, c0, EB, p->K); }
static void conv_fwd_part(const conv_args *p, int r, int c0, int nc) { conv_fwd_block(p, r, c0, nc, p->K); }
static void conv_bwd_full4(const conv_args *p, int r, int c0) { conv_bwd_block(p, r, c0, EB, 4); }
static void conv_bwd_full(const conv_args *p, int r, int c0) { conv_bwd_block(p, r, c0, EB, p->K); }
static void conv_bwd_part(const conv_args *p, int r, int c0, int nc) { conv_bwd_block(p, r, c0, nc, p->K); }

void md_grad_conv_fwd(const float *x, int64_t ldx, const float *w, const float *b, int rows,
                      int64_t Ls, int E, int K, int dir, float *out)
{
    conv_args p = {.x = x, .w = w, .b = b, .ldx = ldx, .Ls = Ls, .E = E, .K = K, .dir = dir,
                   .out = out};
    int nb = n_blocks(E);
    #pragma omp parallel for collapse(2) schedule(static)
    for (int r = 0; r < rows; r++)
        for (int blk = 0; blk < nb; blk++) {
            int c0 = blk * EB, nc = E - c0 < EB ? E - c0 : EB;
            if (nc < EB) conv_fwd_part(&p, r, c0, nc);
            else if (K == 4) conv_fwd_full4(&p, r, c0);
            else conv_fwd_full(&p, r, c0);
        }
}

void md_grad_conv_bwd(const float *x, int64_t ldx, const float *w, const float *b, int rows,
                      int64_t Ls, int E, int K, int dir, const float *g_u, float *g_x,
                      float *g_w, float *g_b)
{
    int nb = n_blocks(E), nth = omp_get_max_threads();
    int64_t nchan = (int64_t)E * (K + 1);
    float *chan = xmalloc((size_t)(nth * nchan) * sizeof(float));
    memset(chan, 0, (size_t)(nth * nchan) * sizeof(float));
    #pragma omp parallel num_threads(nth)
    {
        conv_args p = {.x = x, .w = w, .b = b, .g_u = g_u, .ldx = ldx, .Ls = Ls, .E = E, .K = K,
                       .dir = dir, .g_x = g_x, .chan = chan + omp_get_thread_num() * nchan};
        #pragma omp for collapse(2) schedule(static)
        for (int r = 0; r < rows; r++)
            for (int blk = 0; blk < nb; blk++) {
                int c0 = blk * EB, nc = E - c0 < EB ? E - c0 : EB;
                if (nc < EB) conv_bwd_part(&p, r, c0, nc);
                else if (K == 4) conv_bwd_full4(&p, r, c0);
                else conv_bwd_full(&p, r, c0);
            }
    }
    for (int th = 0; th < nth; th++) {
        const float *c = chan + th * nchan;
        for (int64_t i = 0; i < (int64_t)E * K; i++) g_w[i] += c[i];
        for (int e = 0; e < E; e++) g_b[e] += c[(int64_t)E * K + e];
    }
    free(chan);
}

/* ---- selective scan --------------------------------------------------------- */

typedef struct scan_args {
    const float *u, *dtr, *bias, *A, *Bm, *Cm, *Dv, *z, *g_y, *hsave;
    int64_t ldbc, ldz, Ls, n_chunks;
    int E, N, dir;
    float *y, *hsave_out, *g_u, *g_dtr, *g_z;
} scan_args;

/* Per-thread scratch of the backward. */
typedef struct scan_ws {
    vf *hs;     /* (CH + 1, N): states through the current chunk */
    vf *da;     /* (CH, N): exp(delta A) of its steps */
    vf *st;     /* (CH, 3): delta, gradient of the ungated output, softplus' */
    float *out; /* g_B | g_C rows (.., ldo): g_bc or this thread's partial rows */
    int64_t ldo;
    float *chan; /* this thread's g_A_log (E, N), g_D (E), g_bias (E) */
} scan_ws;

INLINE int64_t scan_step(const scan_args *p, int r, int64_t s)
{
    return (int64_t)r * p->Ls + (p->dir > 0 ? s : p->Ls - 1 - s);
}

/* hsave entry of row r, chunk c, state n, channel c0. */
INLINE int64_t hsave_at(const scan_args *p, int r, int64_t c, int n, int c0)
{
    return ((r * p->n_chunks + c) * p->N + n) * p->E + c0;
}

/* A = -exp(A_log) (E, N), once per call. */
static float *neg_exp(const float *A_log, int E, int N)
{
    float *A = xmalloc((size_t)E * N * sizeof(float));
    for (int64_t i = 0; i < (int64_t)E * N; i++) A[i] = -__builtin_expf(A_log[i]);
    return A;
}

/* A, dt bias and D of channels [c0, c0 + nc); lanes past nc zero. */
INLINE void scan_params(const scan_args *p, int c0, const int nc, const int N, vf *a, vf *bias,
                        vf *dskip)
{
    for (int n = 0; n < N; n++) a[n] = (vf){0};
    for (int j = 0; j < nc; j++)
        for (int n = 0; n < N; n++) a[n][j] = p->A[(int64_t)(c0 + j) * N + n];
    *bias = vload(p->bias + c0, nc);
    *dskip = vload(p->Dv + c0, nc);
}

INLINE void scan_fwd_block(const scan_args *p, int r, int c0, const int nc, const int N)
{
    vf a[64], h[64], bias, dskip;
    scan_params(p, c0, nc, N, a, &bias, &dskip);
    for (int n = 0; n < N; n++) h[n] = (vf){0};
    const int64_t E = p->E;
    for (int64_t s = 0; s < p->Ls; s++) {
        if (s % CH == 0)
            for (int n = 0; n < N; n++) vstore(p->hsave_out + hsave_at(p, r, s / CH, n, c0), h[n], nc);
        int64_t t = scan_step(p, r, s);
        const float *Bt = p->Bm + t * p->ldbc, *Ct = p->Cm + t * p->ldbc;
        vf u = vload(p->u + t * E + c0, nc), dl = md_softplusv(vload(p->dtr + t * E + c0, nc) + bias);
        vf du = dl * u, acc = dskip * u;
        #pragma GCC unroll 16
        for (int n = 0; n < N; n++) {
            h[n] = md_fast_expv(dl * a[n]) * h[n] + du * Bt[n];
            acc += h[n] * Ct[n];
        }
        vf zt = vload(p->z + t * p->ldz + c0, nc);
        vstore(p->y + t * E + c0, acc * zt * vsigmoid(zt), nc);
    }
}

/* z = [x lanes folded h apart | y lanes folded h apart] in every 2h lanes. */
INLINE vf fold8(vf x, vf y)
{
    return __builtin_shufflevector(x, y, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
           __builtin_shufflevector(x, y, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
}
INLINE vf fold4(vf x, vf y)
{
    return __builtin_shufflevector(x, y, 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27) +
           __builtin_shufflevector(x, y, 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
}
INLINE vf fold2(vf x, vf y)
{
    return __builtin_shufflevector(x, y, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29) +
           __builtin_shufflevector(x, y, 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);
}
INLINE vf fold1(vf x, vf y)
{
    return __builtin_shufflevector(x, y, 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30) +
           __builtin_shufflevector(x, y, 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
}

/* dst[n] += the sum of the lanes of v[n], n < N: 16 sums at a time by a
 * transposing butterfly (15 adds, 30 shuffles per 16 vectors). */
INLINE void hsum_add(const vf *v, const int N, float *dst)
{
    for (int n0 = 0; n0 < N; n0 += 16) {
        int m = N - n0 < 16 ? N - n0 : 16;
        vf x[16], b[8], c[4];
        #pragma GCC unroll 16
        for (int i = 0; i < 16; i++) x[i] = i < m ? v[n0 + i] : (vf){0};
        #pragma GCC unroll 8
        for (int i = 0; i < 8; i++) b[i] = fold8(x[i], x[i + 8]);
        #pragma GCC unroll 4
        for (int i = 0; i < 4; i++) c[i] = fold4(b[i], b[i + 4]);
        vf sum = fold1(fold2(c[0], c[2]), fold2(c[1], c[3]));
        vstore(dst + n0, vload(dst + n0, m) + sum, m);
    }
}

/* Backward of row r, channels [c0, c0 + nc), chunk by chunk from the last.
 * A pass forwards through the chunk from the state saved at its start
 * recomputes its states and exps, and does what needs no gradient of the
 * states (y, the gate, g_z, g_D); then its steps backwards. */
INLINE void scan_bwd_block(const scan_args *p, int r, int c0, const int nc, const int N,
                           const scan_ws *w)
{
    const int64_t E = p->E, Ls = p->Ls;
    vf a[64], gh[64], gA[64], bias, dskip, gD = {0}, gbias = {0};
    scan_params(p, c0, nc, N, a, &bias, &dskip);
    for (int n = 0; n < N; n++) gh[n] = gA[n] = (vf){0};
    for (int64_t c = p->n_chunks - 1; c >= 0; c--) {
        int64_t s0 = c * CH, s1 = s0 + CH < Ls ? s0 + CH : Ls;
        for (int n = 0; n < N; n++) w->hs[n] = vload(p->hsave + hsave_at(p, r, c, n, c0), nc);
        for (int64_t s = s0; s < s1; s++) {
            int64_t j = s - s0, t = scan_step(p, r, s);
            const float *Bt = p->Bm + t * p->ldbc, *Ct = p->Cm + t * p->ldbc;
            vf u = vload(p->u + t * E + c0, nc), pre = vload(p->dtr + t * E + c0, nc) + bias;
            vf dl = md_softplusv(pre), du = dl * u, acc = dskip * u;
            vf *hp = w->hs + j * N, *da = w->da + j * N, *st = w->st + 3 * j;
            #pragma GCC unroll 16
            for (int n = 0; n < N; n++) {
                da[n] = md_fast_expv(dl * a[n]);
                hp[N + n] = da[n] * hp[n] + du * Bt[n];
                acc += hp[N + n] * Ct[n];
            }
            vf zt = vload(p->z + t * p->ldz + c0, nc), sz = vsigmoid(zt);
            vf gy = vload(p->g_y + t * E + c0, nc), gacc = gy * zt * sz;
            float *gz = p->g_z + t * p->ldz + c0;
            vstore(gz, vload(gz, nc) + gy * acc * sz * (1.0f + zt * (1.0f - sz)), nc);
            vstore(p->y + t * E + c0, acc * zt * sz, nc);
            gD += gacc * u;
            st[0] = dl;
            st[1] = gacc;
            st[2] = vsigmoid(pre); /* softplus' */
            __builtin_prefetch(p->g_u + t * E + c0, 1); /* written by the steps backwards */
            __builtin_prefetch(p->g_dtr + t * E + c0, 1);
        }
        for (int64_t s = s1 - 1; s >= s0; s--) {
            int64_t j = s - s0, t = scan_step(p, r, s);
            const float *Bt = p->Bm + t * p->ldbc, *Ct = p->Cm + t * p->ldbc;
            const vf *hp = w->hs + j * N, *hn = hp + N, *da = w->da + j * N, *st = w->st + 3 * j;
            vf u = vload(p->u + t * E + c0, nc), dl = st[0], gacc = st[1];
            vf dlu = dl * u, gdl = {0}, gBh = {0}, gB[64], gC[64];
            #pragma GCC unroll 16
            for (int n = 0; n < N; n++) {
                gh[n] += gacc * Ct[n];
                gC[n] = gacc * hn[n];
                vf ght = gh[n] * da[n] * hp[n];
                gdl += ght * a[n];
                gA[n] += ght * dl;
                gBh += gh[n] * Bt[n];
                gB[n] = gh[n] * dlu;
                gh[n] *= da[n];
            }
            gdl += gBh * u;
            vstore(p->g_u + t * E + c0, gacc * dskip + gBh * dl, nc);
            vf gpre = gdl * st[2];
            vstore(p->g_dtr + t * E + c0, gpre, nc);
            gbias += gpre;
            hsum_add(gB, N, w->out + t * w->ldo);
            hsum_add(gC, N, w->out + t * w->ldo + N);
        }
    }
    for (int j = 0; j < nc; j++) {
        for (int n = 0; n < N; n++) w->chan[(int64_t)(c0 + j) * N + n] += gA[n][j] * a[n][j];
        w->chan[E * N + c0 + j] += gD[j];
        w->chan[E * N + E + c0 + j] += gbias[j];
    }
}

/* Full blocks with the usual N = 16 unrolled into registers, other N
 * generic, the tail masked. */
static void scan_fwd_full16(const scan_args *p, int r, int c0) { scan_fwd_block(p, r, c0, EB, 16); }
static void scan_fwd_full(const scan_args *p, int r, int c0) { scan_fwd_block(p, r, c0, EB, p->N); }
static void scan_fwd_part(const scan_args *p, int r, int c0, int nc) { scan_fwd_block(p, r, c0, nc, p->N); }
static void scan_bwd_full16(const scan_args *p, int r, int c0, const scan_ws *w) { scan_bwd_block(p, r, c0, EB, 16, w); }
static void scan_bwd_full(const scan_args *p, int r, int c0, const scan_ws *w) { scan_bwd_block(p, r, c0, EB, p->N, w); }
static void scan_bwd_part(const scan_args *p, int r, int c0, int nc, const scan_ws *w) { scan_bwd_block(p, r, c0, nc, p->N, w); }

void md_grad_scan_fwd(const float *u, const float *dtr, const float *bias, const float *A_log,
                      const float *Bm, const float *Cm, int64_t ldbc, const float *Dv,
                      const float *z, int64_t ldz, int rows, int64_t Ls, int E, int N, int dir,
                      float *y, float *hsave)
{
    float *A = neg_exp(A_log, E, N);
    scan_args p = {.u = u, .dtr = dtr, .bias = bias, .A = A, .Bm = Bm, .Cm = Cm, .Dv = Dv, .z = z,
                   .ldbc = ldbc, .ldz = ldz, .Ls = Ls, .n_chunks = (Ls + CH - 1) / CH, .E = E,
                   .N = N, .dir = dir, .y = y, .hsave_out = hsave};
    int nb = n_blocks(E);
    #pragma omp parallel for collapse(2) schedule(static)
    for (int r = 0; r < rows; r++)
        for (int blk = 0; blk < nb; blk++) {
            int c0 = blk * EB, nc = E - c0 < EB ? E - c0 : EB;
            if (nc < EB) scan_fwd_part(&p, r, c0, nc);
            else if (N == 16) scan_fwd_full16(&p, r, c0);
            else scan_fwd_full(&p, r, c0);
        }
    free(A);
}

void md_grad_scan_bwd(const float *u, const float *dtr, const float *bias, const float *A_log,
                      const float *Bm, const float *Cm, int64_t ldbc, const float *Dv,
                      const float *z, int64_t ldz, int rows, int64_t Ls, int E, int N, int dir,
                      const float *hsave, const float *g_y, float *y, float *g_u, float *g_dtr,
                      float *g_z, float *g_bc, int64_t ldg, float *g_A_log, float *g_D,
                      float *g_bias, float *partial)
{
    float *A = neg_exp(A_log, E, N);
    scan_args p = {.u = u, .dtr = dtr, .bias = bias, .A = A, .Bm = Bm, .Cm = Cm, .Dv = Dv, .z = z,
                   .g_y = g_y, .hsave = hsave, .ldbc = ldbc, .ldz = ldz, .Ls = Ls,
                   .n_chunks = (Ls + CH - 1) / CH, .E = E, .N = N, .dir = dir, .y = y, .g_u = g_u,
                   .g_dtr = g_dtr, .g_z = g_z};
    int nb = n_blocks(E), nth = omp_get_max_threads();
    int64_t S = (int64_t)rows * Ls, nchan = (int64_t)E * (N + 2);
    /* Tasks of whole rows when every thread gets several: each adds its rows'
     * g_B / g_C straight into g_bc. Otherwise rows times G groups of channel
     * blocks, with the sums of each thread in its own rows of partial. */
    int G = rows >= 4 * nth ? 1 : (4 * nth + rows - 1) / rows;
    G = G < nb ? G : nb;
    if (G > 1) memset(partial, 0, (size_t)(nth * S * 2 * N) * sizeof(float));
    float *chan = xmalloc((size_t)(nth * nchan) * sizeof(float));
    memset(chan, 0, (size_t)(nth * nchan) * sizeof(float));
    #pragma omp parallel num_threads(nth)
    {
        int th = omp_get_thread_num();
        /* one block: apart, hs and da could start at the same offset in
         * their pages and every store to one hold up loads of the other (4K
         * aliasing); this ran the backward up to 1.4x slower */
        vf *buf = xmalloc((size_t)((CH + 1) * N + CH * N + CH * 3) * sizeof(vf));
        scan_ws w = {.hs = buf,
                     .da = buf + (CH + 1) * N,
                     .st = buf + (2 * CH + 1) * N,
                     .out = G > 1 ? partial + th * S * 2 * N : g_bc,
                     .ldo = G > 1 ? 2 * N : ldg,
                     .chan = chan + th * nchan};
        #pragma omp for schedule(static)
        for (int64_t task = 0; task < (int64_t)rows * G; task++) {
            int r = (int)(task / G), g = (int)(task % G);
            for (int blk = g * nb / G; blk < (g + 1) * nb / G; blk++) {
                int c0 = blk * EB, nc = E - c0 < EB ? E - c0 : EB;
                if (nc < EB) scan_bwd_part(&p, r, c0, nc, &w);
                else if (N == 16) scan_bwd_full16(&p, r, c0, &w);
                else scan_bwd_full(&p, r, c0, &w);
            }
        }
        free(buf);
    }
    if (G > 1) {
        #pragma omp parallel for schedule(static)
        for (int64_t t = 0; t < S; t++)
            for (int j = 0; j < 2 * N; j++) {
                float sum = 0;
                for (int th = 0; th < nth; th++) sum += partial[(th * S + t) * 2 * N + j];
                g_bc[t * ldg + j] += sum;
            }
    }
    for (int th = 0; th < nth; th++) {
        const float *c = chan + th * nchan;
        for (int64_t i = 0; i < (int64_t)E * N; i++) g_A_log[i] += c[i];
        for (int e = 0; e < E; e++) {
            g_D[e] += c[(int64_t)E * N + e];
            g_bias[e] += c[(int64_t)E * N + E + e];
        }
    }
    free(chan);
    free(A);
}
