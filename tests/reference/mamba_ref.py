"""Independent float64 numpy reference of Mamba-1 (mamba_ssm) and Caduceus (Ph / PS).

Written from the published equations (Gu & Dao 2023, "Mamba"; Schiff et al. 2024,
"Caduceus") and the public conventions of the mamba_ssm and Caduceus sources
(parameter names, layouts, the order of operations). Everything is computed in
float64; nothing here depends on torch.

Shape letters used throughout:
    B  batch                 L  sequence length
    D  model width (d_model) E  inner width (expand * d_model)
    N  SSM state size        R  dt rank
    K  conv kernel width     V  (padded) vocabulary size
    Dh hidden width of the residual stream: D, or 2*D for Caduceus-PS (RCPS)

Conventions shared with mamba_ssm:
  * Linear weights are (out_features, in_features): y = x @ W.T (+ b).
  * conv1d.weight is (E, 1, K) (depthwise); tap K-1 multiplies the current step.
  * in_proj output is split in halves: x = first E channels, z = last E channels.
  * x_proj output is split (R, N, N) -> dt, B, C.
  * The residual stream uses pre-norm with "fused add+norm" semantics: each
    block receives (hidden, residual), forms residual = hidden + residual
    (residual = hidden at the first block), normalises it and runs the mixer.
    After the last block: hidden = norm_f(hidden + residual).
  * softplus uses torch's threshold: softplus(x) = x for x > 20.

Conventions of Caduceus (kuleshov-group/caduceus, modeling_caduceus.py / modeling_rcps.py):
  * BiMamba: out = fwd(h) (+ or *) flip_L(rev(flip_L(h))); rev.in_proj / rev.out_proj
    are tied to fwd's when bidirectional_weight_tie is true.
  * RCPS (PS): the residual stream has 2*D channels [first half | second half].
    flip_LC(a) = a reversed over length AND channels. The embedding is
    [E[x] | flip_LC(E[rc(x)])], rc(x) = complement(flip_L(x)); every wrapped
    module f is applied as [f(a) | flip_LC(f(flip_LC(b)))] for input [a | b].
  * PS with fused_add_norm=True (what the published checkpoints use): inside each
    RCPSMambaBlock the source feeds the SECOND half to the "forward" add+norm call
    and the FIRST half (flipped) to the "rc" call, then concatenates
    [fwd result | flip_LC(rc result)]: i.e. the two halves of both hidden and
    residual are swapped at every block's add+norm (see rcps_block_fused_add_norm).
    The final norm_f of the mixer model does not swap. With fused_add_norm=False
    (RCPSAddNormWrapper) nothing is swapped. Both are implemented.
"""

import json
import os
import sys

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

# ----------------------------------------------------------------------------
# Tokens (Caduceus character tokenizer)
# ----------------------------------------------------------------------------

TOKENS = {"[CLS]": 0, "[SEP]": 1, "[BOS]": 2, "[MASK]": 3, "[PAD]": 4,
          "[RESERVED]": 5, "[UNK]": 6, "A": 7, "C": 8, "G": 9, "T": 10, "N": 11}
PAD_ID = 4
VOCAB_PADDED = 16


def complement_map(vocab_size=VOCAB_PADDED):
    """int64 array (V,): token id -> complement id (A<->T, C<->G, others fixed)."""
    cm = np.arange(vocab_size, dtype=np.int64)
    cm[7], cm[10] = 10, 7
    cm[8], cm[9] = 9, 8
    return cm


def reverse_complement_ids(ids, cmap=None):
    """Reverse complement of token ids: complement(flip over length).

    ids: (B, L) or (L,) integer array. Returns the same shape, int64.
    """
    ids = np.asarray(ids, dtype=np.int64)
    cmap = complement_map() if cmap is None else np.asarray(cmap, dtype=np.int64)
    return cmap[ids[..., ::-1]]


def encode(seq):
    """Upper-cased DNA string -> int64 token ids (unknown characters -> [UNK])."""
    return np.array([TOKENS.get(c, TOKENS["[UNK]"]) for c in seq.upper()], dtype=np.int64)


# ----------------------------------------------------------------------------
# Elementwise ops and norms
# ----------------------------------------------------------------------------

def silu(x):
    """x * sigmoid(x), numerically safe for large |x|. Any shape."""
    x = np.asarray(x, dtype=np.float64)
    return x * _sigmoid(x)


def _sigmoid(x):
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


def softplus(x, threshold=20.0):
    """log(1 + exp(x)), returning x itself where x > threshold (torch / CUDA kernel rule).

    Any shape. The threshold matters only at the 1e-9 relative level.
    """
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > threshold, x, np.log1p(np.exp(np.minimum(x, threshold))))


def inverse_softplus(y):
    """Inverse of softplus for y > 0: y + log(-expm1(-y)) (as mamba_ssm's dt init)."""
    y = np.asarray(y, dtype=np.float64)
    return y + np.log(-np.expm1(-y))


def rmsnorm(x, w, eps=1e-5, b=None):
    """RMSNorm over the last axis: x / sqrt(mean(x^2) + eps) * w (+ b).

    x: (..., C); w: (C,); b: (C,) or None. Returns (..., C).
    """
    x = np.asarray(x, dtype=np.float64)
    rstd = 1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)
    out = x * rstd * w
    return out + b if b is not None else out


def layernorm(x, w, b=None, eps=1e-5):
    """LayerNorm over the last axis with biased variance: (x - mu) / sqrt(var + eps) * w + b.

    x: (..., C); w, b: (C,). Returns (..., C).
    """
    x = np.asarray(x, dtype=np.float64)
    mu = np.mean(x, axis=-1, keepdims=True)
    xc = x - mu
    var = np.mean(xc * xc, axis=-1, keepdims=True)
    out = xc / np.sqrt(var + eps) * w
    return out + b if b is not None else out


def norm(x, w, b=None, eps=1e-5, rms=True):
    """RMSNorm when rms else LayerNorm (bias b optional for both)."""
    return rmsnorm(x, w, eps, b) if rms else layernorm(x, w, b, eps)


def add_norm(hidden, residual, w, b=None, eps=1e-5, rms=True):
    """Fused add + norm of mamba_ssm (prenorm=True).

    hidden, residual: (B, L, C) (residual may be None -> residual = hidden).
    Returns (normed (B, L, C), new_residual (B, L, C)).
    """
    residual = hidden if residual is None else hidden + residual
    return norm(residual, w, b, eps, rms), residual


# ----------------------------------------------------------------------------
# Causal depthwise conv1d and the selective scan
# ----------------------------------------------------------------------------

def causal_conv1d(x, w, b=None, activation=None, state=None):
    """Depthwise causal conv over length, as nn.Conv1d(groups=E, padding=K-1)[..., :L].

    out[b, e, t] = bias[e] + sum_{k=0}^{K-1} w[e, k] * x[b, e, t - (K-1) + k]
    with x[b, e, t<0] = 0, or taken from `state` when given.

    x: (B, E, L); w: (E, K) or (E, 1, K); b: (E,) or None;
    activation: None or "silu"; state: (B, E, K-1) inputs preceding x (oldest first) or None.
    Returns (out (B, E, L), new_state (B, E, K-1) = the last K-1 inputs, oldest first).
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    if w.ndim == 3:
        w = w[:, 0, :]
    Bsz, E, L = x.shape
    K = w.shape[1]
    if state is None:
        state = np.zeros((Bsz, E, K - 1))
    xp = np.concatenate([state, x], axis=2)  # (B, E, K-1+L)
    out = np.zeros((Bsz, E, L))
    for k in range(K):
        out += w[None, :, k:k + 1] * xp[:, :, k:k + L]
    if b is not None:
        out += np.asarray(b, dtype=np.float64)[None, :, None]
    if activation == "silu":
        out = silu(out)
    elif activation is not None:
        raise ValueError(activation)
    new_state = xp[:, :, xp.shape[2] - (K - 1):].copy() if K > 1 else np.zeros((Bsz, E, 0))
    return out, new_state


def selective_scan(u, delta, A, Bm, Cm, D=None, z=None, delta_bias=None,
                   delta_softplus=True, h0=None):
    """Selective scan of mamba_ssm (selective_scan_ref semantics), optionally from a state.

        delta' = softplus(delta + delta_bias)          (each step (b, e, t))
        h_t    = exp(delta'_t * A) * h_{t-1} + delta'_t * B_t * u_t     (per (b, e, n))
        y_t    = sum_n h_t[n] * C_t[n] + D * u_t
        y_t    = y_t * silu(z_t)                        (when z is given)

    u, delta: (B, E, L); A: (E, N) (already negative, A = -exp(A_log));
    Bm, Cm: (B, N, L); D: (E,) or None; z: (B, E, L) or None; delta_bias: (E,) or None;
    h0: (B, E, N) initial state or None (zeros).
    Returns (y (B, E, L), h_last (B, E, N)).
    """
    u = np.asarray(u, dtype=np.float64)
    delta = np.asarray(delta, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64)
    Bm = np.asarray(Bm, dtype=np.float64)
    Cm = np.asarray(Cm, dtype=np.float64)
    if delta_bias is not None:
        delta = delta + np.asarray(delta_bias, dtype=np.float64)[None, :, None]
    if delta_softplus:
        delta = softplus(delta)
    Bsz, E, L = u.shape
    N = A.shape[1]
    h = np.zeros((Bsz, E, N)) if h0 is None else np.array(h0, dtype=np.float64)
    y = np.empty((Bsz, E, L))
    for t in range(L):
        dt = delta[:, :, t][:, :, None]                       # (B, E, 1)
        h = np.exp(dt * A[None]) * h + dt * Bm[:, None, :, t] * u[:, :, t][:, :, None]
        y[:, :, t] = np.einsum("ben,bn->be", h, Cm[:, :, t])
    if D is not None:
        y = y + np.asarray(D, dtype=np.float64)[None, :, None] * u
    if z is not None:
        y = y * silu(z)
    return y, h


# ----------------------------------------------------------------------------
# Mamba mixer (mamba_ssm Mamba, v1)
# ----------------------------------------------------------------------------

MIXER_KEYS = ("in_proj.weight", "conv1d.weight", "conv1d.bias", "x_proj.weight",
              "dt_proj.weight", "dt_proj.bias", "A_log", "D", "out_proj.weight")


def mamba_mixer(h, p, state=None, return_state=False):
    """One Mamba-1 mixer. h: (B, L, D). Returns out (B, L, D) [, state].

    p: dict with the mamba_ssm parameter names (suffixes after "mixer."):
        in_proj.weight (2E, D)        [in_proj.bias (2E,) optional]
        conv1d.weight  (E, 1, K)      conv1d.bias (E,)
        x_proj.weight  (R + 2N, E)
        dt_proj.weight (E, R)         dt_proj.bias (E,)
        A_log (E, N)   D (E,)
        out_proj.weight (D, E)        [out_proj.bias (D,) optional]
    state: None or (conv_state (B, E, K-1), ssm_state (B, E, N)) carried from a
    previous chunk; with return_state=True the final state is returned likewise.

    Steps: xz = in_proj(h); x, z = halves; x = silu(conv(x)); (dt, B, C) = x_proj(x);
    dt = dt_proj.weight @ dt; y = scan(x, dt, -exp(A_log), B, C, D, z,
    delta_bias=dt_proj.bias, softplus); out = out_proj(y).
    """
    h = np.asarray(h, dtype=np.float64)
    W_in = p["in_proj.weight"]
    E = W_in.shape[0] // 2
    xz = h @ W_in.T
    if p.get("in_proj.bias") is not None:
        xz = xz + p["in_proj.bias"]
    x = np.transpose(xz[..., :E], (0, 2, 1))     # (B, E, L)
    z = np.transpose(xz[..., E:], (0, 2, 1))     # (B, E, L)
    conv_state, ssm_state = (None, None) if state is None else state
    x, conv_state = causal_conv1d(x, p["conv1d.weight"], p.get("conv1d.bias"),
                                  activation="silu", state=conv_state)
    A_log = p["A_log"]
    N = A_log.shape[1]
    W_dt = p["dt_proj.weight"]
    R = W_dt.shape[1]
    x_dbl = np.transpose(x, (0, 2, 1)) @ p["x_proj.weight"].T   # (B, L, R+2N)
    dt = x_dbl[..., :R] @ W_dt.T                                # (B, L, E)
    Bm = np.transpose(x_dbl[..., R:R + N], (0, 2, 1))           # (B, N, L)
    Cm = np.transpose(x_dbl[..., R + N:R + 2 * N], (0, 2, 1))   # (B, N, L)
    A = -np.exp(A_log)
    y, ssm_state = selective_scan(x, np.transpose(dt, (0, 2, 1)), A, Bm, Cm, p["D"], z,
                                  delta_bias=p["dt_proj.bias"], delta_softplus=True,
                                  h0=ssm_state)
    out = np.transpose(y, (0, 2, 1)) @ p["out_proj.weight"].T
    if p.get("out_proj.bias") is not None:
        out = out + p["out_proj.bias"]
    return (out, (conv_state, ssm_state)) if return_state else out


def bimamba(h, p_fwd, p_rev, strategy="add"):
    """Caduceus BiMambaWrapper. h: (B, L, D) -> (B, L, D).

    out = mamba(h; p_fwd)  combined with  flip_L(mamba(flip_L(h); p_rev))
    by "add" or "ew_multiply". p_rev=None means unidirectional (fwd only).
    Tied in/out projections must already be filled into p_rev (see tie_rev_params).
    """
    out = mamba_mixer(h, p_fwd)
    if p_rev is None:
        return out
    rev = mamba_mixer(h[:, ::-1, :], p_rev)[:, ::-1, :]
    if strategy == "add":
        return out + rev
    if strategy == "ew_multiply":
        return out * rev
    raise ValueError(strategy)


def tie_rev_params(p_fwd, p_rev):
    """Copy of p_rev with in_proj/out_proj (weight, bias) taken from p_fwd where p_rev lacks them."""
    q = dict(p_rev)
    for k in ("in_proj.weight", "in_proj.bias", "out_proj.weight", "out_proj.bias"):
        if k not in q and k in p_fwd:
            q[k] = p_fwd[k]
    return q


# ----------------------------------------------------------------------------
# RCPS (reverse-complement parameter sharing) pieces
# ----------------------------------------------------------------------------

def flip_lc(a):
    """Reverse over length and channels: (B, L, C) -> (B, L, C), a[:, ::-1, ::-1]."""
    return a[:, ::-1, ::-1]


def rcps_embedding(ids, W, cmap=None):
    """RCPSEmbedding. ids: (B, L) int; W: (V, D). Returns (B, L, 2D).

    out = [W[ids] | flip_LC(W[rc(ids)])].
    """
    fwd = W[ids]
    rc = W[reverse_complement_ids(ids, cmap)]
    return np.concatenate([fwd, flip_lc(rc)], axis=-1)


def rcps_apply(f, x):
    """RCPSWrapper: x (B, L, 2C) -> [f(x[..., :C]) | flip_LC(f(flip_LC(x[..., C:])))].

    f maps (B, L, C) -> (B, L, C') (e.g. the BiMamba mixer).
    """
    C = x.shape[-1] // 2
    fwd = f(x[..., :C])
    rc = f(flip_lc(x[..., C:]))
    return np.concatenate([fwd, flip_lc(rc)], axis=-1)


def rcps_add_norm(hidden, residual, w, b=None, eps=1e-5, rms=True):
    """RCPSAddNormWrapper (prenorm=True), used when fused_add_norm is False.

    hidden, residual: (B, L, 2C) (residual None -> hidden). w: (C,).
    Per half: first half r1 = h1 + res1, out1 = norm(r1); second half handled in
    the RC frame: r2 = flip_LC(h2) + flip_LC(res2), out2 = norm(r2), both flipped back.
    Returns (normed (B, L, 2C), residual (B, L, 2C)); no half swap.
    """
    C = hidden.shape[-1] // 2
    if residual is None:
        residual = hidden
        o1 = norm(hidden[..., :C], w, b, eps, rms)
        o2 = norm(flip_lc(hidden[..., C:]), w, b, eps, rms)
        return np.concatenate([o1, flip_lc(o2)], axis=-1), residual
    r1 = hidden[..., :C] + residual[..., :C]
    r2 = flip_lc(hidden[..., C:]) + flip_lc(residual[..., C:])
    o1 = norm(r1, w, b, eps, rms)
    o2 = norm(r2, w, b, eps, rms)
    return (np.concatenate([o1, flip_lc(o2)], axis=-1),
            np.concatenate([r1, flip_lc(r2)], axis=-1))


def rcps_block_fused_add_norm(hidden, residual, w, b=None, eps=1e-5, rms=True):
    """Add+norm of RCPSMambaBlock when fused_add_norm is True (source-exact).

    hidden, residual: (B, L, 2C) (residual None allowed). w: (C,).
    The Caduceus source calls the fused kernel on the SECOND half as "fwd" and on
    flip_LC(FIRST half) as "rc", then returns [fwd | flip_LC(rc)] for both the
    normed output and the residual. Net effect:
        s = hidden + residual (or hidden)
        residual_out = [s[..., C:] | s[..., :C]]                 (halves swapped)
        normed       = [norm_w(s[..., C:]) | flip_LC(norm_w(flip_LC(s[..., :C])))]
    Equals rcps_add_norm(swap(hidden), swap(residual)). Returns (normed, residual_out).
    """
    C = hidden.shape[-1] // 2
    s = hidden if residual is None else hidden + residual
    fwd_in = s[..., C:]
    rc_in = flip_lc(s[..., :C])
    o_f = norm(fwd_in, w, b, eps, rms)
    o_r = norm(rc_in, w, b, eps, rms)
    return (np.concatenate([o_f, flip_lc(o_r)], axis=-1),
            np.concatenate([fwd_in, flip_lc(rc_in)], axis=-1))


def rcps_final_fused_add_norm(hidden, residual, w, b=None, eps=1e-5, rms=True):
    """Final norm_f of the Caduceus mixer model for RCPS with fused_add_norm (no swap).

    hidden, residual: (B, L, 2C). Returns (B, L, 2C):
        [norm(h1 + r1) | flip_LC(norm(flip_LC(h2 + r2)))]
    """
    C = hidden.shape[-1] // 2
    s = hidden + residual
    o1 = norm(s[..., :C], w, b, eps, rms)
    o2 = norm(flip_lc(s[..., C:]), w, b, eps, rms)
    return np.concatenate([o1, flip_lc(o2)], axis=-1)


def rcps_lm_head(x, W, cmap=None):
    """RCPSLMHead. x: (B, L, 2D); W: (V, D) (tied to the embedding). Returns (B, L, V).

    logits = x[..., :D] @ W.T + flip_C(x[..., D:]) @ W[cmap].T   (sum, no averaging).
    """
    D = W.shape[1]
    cmap = complement_map(W.shape[0]) if cmap is None else np.asarray(cmap, dtype=np.int64)
    return x[..., :D] @ W.T + x[..., D:][..., ::-1] @ W[cmap].T


# ----------------------------------------------------------------------------
# Full models
# ----------------------------------------------------------------------------

def subdict(sd, prefix):
    """{suffix: value} of the entries of sd whose key starts with prefix."""
    n = len(prefix)
    return {k[n:]: v for k, v in sd.items() if k.startswith(prefix)}


def _f64(sd):
    return {k: np.asarray(v, dtype=np.float64) if np.asarray(v).dtype.kind == "f" else np.asarray(v)
            for k, v in sd.items()}


def _ssm_get(cfg, key, default):
    return (cfg.get("ssm_cfg") or {}).get(key, default)


def mamba_lm_forward(ids, sd, cfg):
    """mamba_ssm MambaLMHeadModel forward.

    ids: (B, L) int; sd: state dict with keys backbone.embedding.weight (V, D),
    backbone.layers.{i}.norm.weight [/.bias], backbone.layers.{i}.mixer.<MIXER_KEYS>,
    backbone.norm_f.weight [/.bias], optional lm_head.weight (else tied to the embedding).
    cfg: MambaConfig-like dict (n_layer, rms_norm, norm_epsilon default 1e-5).
    Returns (hidden (B, L, D) after norm_f, logits (B, L, V)).
    """
    sd = _f64(sd)
    eps = cfg.get("norm_epsilon", 1e-5)
    rms = cfg.get("rms_norm", True)
    W_emb = sd["backbone.embedding.weight"]
    hidden = W_emb[np.asarray(ids, dtype=np.int64)]
    residual = None
    for i in range(cfg["n_layer"]):
        lp = f"backbone.layers.{i}."
        hidden, residual = add_norm(hidden, residual, sd[lp + "norm.weight"],
                                    sd.get(lp + "norm.bias"), eps, rms)
        hidden = mamba_mixer(hidden, subdict(sd, lp + "mixer."))
    hidden, _ = add_norm(hidden, residual, sd["backbone.norm_f.weight"],
                         sd.get("backbone.norm_f.bias"), eps, rms)
    W_out = sd.get("lm_head.weight", W_emb)
    return hidden, hidden @ W_out.T


def caduceus_forward(ids, sd, cfg, prefix="caduceus.backbone."):
    """Caduceus (CaduceusForMaskedLM) forward, Ph (rcps false) or PS (rcps true).

    ids: (B, L) int. sd: state dict with the Caduceus key names (see
    caduceus_key_names). cfg: CaduceusConfig-like dict (n_layer, rcps,
    bidirectional, bidirectional_strategy, bidirectional_weight_tie, fused_add_norm,
    rms_norm, norm_epsilon, complement_map).
    Returns (hidden (B, L, Dh) after norm_f, logits (B, L, V)); Dh = 2D for PS.
    """
    sd = _f64(sd)
    eps = cfg.get("norm_epsilon", 1e-5)
    rms = cfg.get("rms_norm", True)
    rcps = bool(cfg.get("rcps", False))
    fused = bool(cfg.get("fused_add_norm", True))
    bidir = bool(cfg.get("bidirectional", True))
    strategy = cfg.get("bidirectional_strategy") or "add"
    tie = bool(cfg.get("bidirectional_weight_tie", True))
    ids = np.asarray(ids, dtype=np.int64)
    if rcps:
        W_emb = sd[prefix + "embeddings.word_embeddings.embedding.weight"]
        # RCPSEmbedding / RCPSLMHead keep the map as an int64 buffer in the state dict;
        # fall back to config.json's "complement_map" when the buffer is absent.
        cmap = sd.get(prefix + "embeddings.word_embeddings.complement_map")
        cmap = (config_complement_map(cfg, W_emb.shape[0]) if cmap is None
                else np.asarray(cmap, dtype=np.int64))
        hidden = rcps_embedding(ids, W_emb, cmap)
    else:
        W_emb = sd[prefix + "embeddings.word_embeddings.weight"]
        hidden = W_emb[ids]
    residual = None
    for i in range(cfg["n_layer"]):
        lp = f"{prefix}layers.{i}."
        npfx = lp + ("norm.submodule." if (rcps and not fused) else "norm.")
        mpfx = lp + ("mixer.submodule." if rcps else "mixer.")
        w, b = sd[npfx + "weight"], sd.get(npfx + "bias")
        p_fwd = subdict(sd, mpfx + "mamba_fwd.")
        p_rev = None
        if bidir:
            p_rev = subdict(sd, mpfx + "mamba_rev.")
            if tie:
                p_rev = tie_rev_params(p_fwd, p_rev)

        def mix(h, p_fwd=p_fwd, p_rev=p_rev):
            return bimamba(h, p_fwd, p_rev, strategy)

        if rcps:
            if fused:
                hidden, residual = rcps_block_fused_add_norm(hidden, residual, w, b, eps, rms)
            else:
                hidden, residual = rcps_add_norm(hidden, residual, w, b, eps, rms)
            hidden = rcps_apply(mix, hidden)
        else:
            hidden, residual = add_norm(hidden, residual, w, b, eps, rms)
            hidden = mix(hidden)
    if rcps:
        fpfx = prefix + ("norm_f." if fused else "norm_f.submodule.")
        w, b = sd[fpfx + "weight"], sd.get(fpfx + "bias")
        if fused:
            hidden = rcps_final_fused_add_norm(hidden, residual, w, b, eps, rms)
        else:
            hidden, _ = rcps_add_norm(hidden, residual, w, b, eps, rms)
        W_head = sd.get("lm_head.lm_head.weight", W_emb)
        head_cmap = sd.get("lm_head.complement_map")
        logits = rcps_lm_head(hidden, W_head, cmap if head_cmap is None else head_cmap)
    else:
        hidden, _ = add_norm(hidden, residual, sd[prefix + "norm_f.weight"],
                             sd.get(prefix + "norm_f.bias"), eps, rms)
        W_head = sd.get("lm_head.weight", W_emb)
        logits = hidden @ W_head.T
    return hidden, logits


def config_complement_map(cfg, vocab_size):
    """Complement map (V,) int64 from a config's "complement_map" ({"id": id}), identity-padded."""
    cm = np.arange(vocab_size, dtype=np.int64)
    src = cfg.get("complement_map")
    if src is None:
        return complement_map(vocab_size)
    for k, v in src.items():
        if int(k) < vocab_size:
            cm[int(k)] = int(v)
    return cm


def caduceus_key_names(n_layer, rcps, fused_add_norm=True, bidirectional=True,
                       weight_tie=True, rms_norm=True, prefix="caduceus.backbone.",
                       buffers=True):
    """Key names of CaduceusForMaskedLM's state dict minus the tied lm_head weight and
    the tied mamba_rev in/out projections. For rcps, buffers=True adds the two int64
    (V,) complement-map buffers of RCPSEmbedding and RCPSLMHead."""
    keys = []
    if rcps:
        keys.append(prefix + "embeddings.word_embeddings.embedding.weight")
        if buffers:
            keys += [prefix + "embeddings.word_embeddings.complement_map",
                     "lm_head.complement_map"]
    else:
        keys.append(prefix + "embeddings.word_embeddings.weight")
    nb = ["weight"] + ([] if rms_norm else ["bias"])
    for i in range(n_layer):
        lp = f"{prefix}layers.{i}."
        npfx = lp + ("norm.submodule." if (rcps and not fused_add_norm) else "norm.")
        keys += [npfx + s for s in nb]
        mpfx = lp + ("mixer.submodule." if rcps else "mixer.")
        keys += [mpfx + "mamba_fwd." + k for k in MIXER_KEYS]
        if bidirectional:
            for k in MIXER_KEYS:
                if weight_tie and k in ("in_proj.weight", "out_proj.weight"):
                    continue
                keys.append(mpfx + "mamba_rev." + k)
    fpfx = prefix + ("norm_f.submodule." if (rcps and not fused_add_norm) else "norm_f.")
    keys += [fpfx + s for s in nb]
    return keys


def mamba_key_names(n_layer, rms_norm=True):
    """Parameter key names of MambaLMHeadModel's state dict without the tied lm_head.weight."""
    nb = ["weight"] + ([] if rms_norm else ["bias"])
    keys = ["backbone.embedding.weight"]
    for i in range(n_layer):
        lp = f"backbone.layers.{i}."
        keys += [lp + "norm." + s for s in nb]
        keys += [lp + "mixer." + k for k in MIXER_KEYS]
    keys += ["backbone.norm_f." + s for s in nb]
    return keys


# ----------------------------------------------------------------------------
# Pooling for sequence classification
# ----------------------------------------------------------------------------

def pool_hidden(hidden, ids, mode="mean", pad_id=PAD_ID):
    """Pool (B, L, C) hidden states over the non-pad positions of ids (B, L) -> (B, C).

    mode: "mean" (average), "max" (elementwise max), "first" (first non-pad
    position), "last" (last non-pad position). Rows with no non-pad token give zeros.
    Note: Caduceus's CaduceusForSequenceClassification pools over ALL positions
    (no mask); with no padding both agree.
    """
    hidden = np.asarray(hidden, dtype=np.float64)
    mask = np.asarray(ids) != pad_id
    Bsz, L, C = hidden.shape
    out = np.zeros((Bsz, C))
    for b in range(Bsz):
        pos = np.nonzero(mask[b])[0]
        if pos.size == 0:
            continue
        if mode == "mean":
            out[b] = hidden[b, pos].mean(axis=0)
        elif mode == "max":
            out[b] = hidden[b, pos].max(axis=0)
        elif mode == "first":
            out[b] = hidden[b, pos[0]]
        elif mode == "last":
            out[b] = hidden[b, pos[-1]]
        else:
            raise ValueError(mode)
    return out


def caduceus_ps_conjoin(hidden, d_model):
    """CaduceusForSequenceClassification's view of PS hidden states.

    hidden: (B, L, 2D) -> (B, L, D, 2) stacking [h[..., :D], flip_LC(h[..., D:])]; the
    classifier pools over L, scores both channels with the same head and averages.
    """
    return np.stack([hidden[..., :d_model], flip_lc(hidden[..., d_model:])], axis=-1)


def classify_probs(hidden, ids, W, b, d_model, rcps, pad_id=PAD_ID):
    """Class probabilities of a linear head over mean-pooled hidden states.

    hidden: (B, L, Dh); ids: (B, L); W: (C, D); b: (C,). Features f (B, D) are the
    mean of hidden over the non-pad positions; for PS (Dh = 2D) the mean of both
    strands, [f1 + flip_C(f2)] / 2 (caduceus_ps_conjoin pooled over the non-pad
    positions, then averaged over its last axis: for a linear head the same as
    averaging the two strands' scores as CaduceusForSequenceClassification does).
    Returns softmax(f @ W.T + b) (B, C).
    """
    if rcps:  # second strand: reverse-complement frame flipped back over channels
        f = 0.5 * (pool_hidden(hidden[..., :d_model], ids, "mean", pad_id)
                   + pool_hidden(hidden[..., d_model:], ids, "mean", pad_id)[:, ::-1])
    else:
        f = pool_hidden(hidden, ids, "mean", pad_id)
    z = f @ np.asarray(W, dtype=np.float64).T + np.asarray(b, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


# ----------------------------------------------------------------------------
# Checkpoint loading
# ----------------------------------------------------------------------------

def load_checkpoint(path):
    """Read an HF-style directory (config.json + model.safetensors).

    Returns (config dict, state dict with float tensors widened to float64).
    """
    from st_io import load_file
    with open(os.path.join(path, "config.json")) as f:
        cfg = json.load(f)
    sd = _f64(load_file(os.path.join(path, "model.safetensors")))
    return cfg, sd


def model_forward(ids, cfg, sd):
    """Dispatch on config: model_type "caduceus" -> caduceus_forward, else Mamba LM."""
    if cfg.get("model_type") == "caduceus":
        return caduceus_forward(ids, sd, cfg)
    return mamba_lm_forward(ids, sd, cfg)
