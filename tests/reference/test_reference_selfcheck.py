#!/usr/bin/python3
"""Sanity checks of the numpy reference (tests/reference/mamba_ref.py) and of the
golden fixtures it produced. Run with

    /usr/bin/python3 tests/reference/test_reference_selfcheck.py

Prints one line per check and exits non-zero if any check fails.
"""

import json
import os
import sys
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import mamba_ref as ref  # noqa: E402
import make_golden as mg  # noqa: E402
from st_io import load_file, read_header, save_file  # noqa: E402

GOLDEN = os.path.join(HERE, "..", "data", "golden")
CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def close(a, b, atol=1e-12, rtol=1e-10, what=""):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
    err = np.max(np.abs(a - b)) if a.size else 0.0
    assert np.allclose(a, b, atol=atol, rtol=rtol), f"{what}: max abs diff {err:.3e}"


def rand_mixer(rng, D=6, E=10, N=5, K=4, R=2, with_inout=True):
    return mg.init_mixer(rng, D, E, N, K, R, 2, with_inout=with_inout)


# ----------------------------------------------------------------------------
# Ops
# ----------------------------------------------------------------------------

def naive_scan(u, delta, A, Bm, Cm, D, z, delta_bias, h0=None):
    """Scalar triple loop, written independently of ref.selective_scan."""
    Bsz, E, L = u.shape
    N = A.shape[1]
    y = np.zeros((Bsz, E, L))
    hl = np.zeros((Bsz, E, N))
    for b in range(Bsz):
        for e in range(E):
            h = [0.0] * N if h0 is None else list(h0[b, e])
            for t in range(L):
                v = delta[b, e, t] + delta_bias[e]
                dt = v if v > 20 else float(np.log1p(np.exp(v)))
                acc = 0.0
                for n in range(N):
                    h[n] = np.exp(dt * A[e, n]) * h[n] + dt * Bm[b, n, t] * u[b, e, t]
                    acc += h[n] * Cm[b, n, t]
                acc += D[e] * u[b, e, t]
                g = z[b, e, t]
                y[b, e, t] = acc * g / (1.0 + np.exp(-g))
            hl[b, e] = h
    return y, hl


def scan_case(rng, Bsz=2, E=5, N=4, L=17):
    u = rng.standard_normal((Bsz, E, L))
    delta = rng.standard_normal((Bsz, E, L))
    delta[0, 1, 3] = 23.0  # above the softplus threshold
    A = -np.exp(rng.standard_normal((E, N)))
    Bm = rng.standard_normal((Bsz, N, L))
    Cm = rng.standard_normal((Bsz, N, L))
    D = rng.standard_normal(E)
    z = rng.standard_normal((Bsz, E, L))
    bias = rng.standard_normal(E) - 2
    return u, delta, A, Bm, Cm, D, z, bias


@check
def scan_equals_naive_loop():
    rng = np.random.default_rng(1)
    u, delta, A, Bm, Cm, D, z, bias = scan_case(rng)
    y, h = ref.selective_scan(u, delta, A, Bm, Cm, D, z, delta_bias=bias)
    yn, hn = naive_scan(u, delta, A, Bm, Cm, D, z, bias)
    close(y, yn, what="y")
    close(h, hn, what="h_last")
    h0 = rng.standard_normal(h.shape)
    y, h = ref.selective_scan(u, delta, A, Bm, Cm, D, z, delta_bias=bias, h0=h0)
    yn, hn = naive_scan(u, delta, A, Bm, Cm, D, z, bias, h0=h0)
    close(y, yn, what="y (h0)")
    close(h, hn, what="h_last (h0)")


@check
def chunked_scan_with_carried_state_equals_whole():
    rng = np.random.default_rng(2)
    u, delta, A, Bm, Cm, D, z, bias = scan_case(rng, L=41)
    y, h = ref.selective_scan(u, delta, A, Bm, Cm, D, z, delta_bias=bias)
    for cuts in ([0, 1, 41], [0, 7, 8, 20, 41], [0, 13, 26, 39, 41]):
        hc = None
        ys = []
        for a, b in zip(cuts[:-1], cuts[1:]):
            sl = slice(a, b)
            yc, hc = ref.selective_scan(u[..., sl], delta[..., sl], A, Bm[..., sl], Cm[..., sl],
                                        D, z[..., sl], delta_bias=bias, h0=hc)
            ys.append(yc)
        close(np.concatenate(ys, axis=-1), y, what=f"y chunks {cuts}")
        close(hc, h, what=f"h chunks {cuts}")


@check
def scan_without_gate_and_skip():
    rng = np.random.default_rng(3)
    u, delta, A, Bm, Cm, D, z, bias = scan_case(rng)
    y_full, _ = ref.selective_scan(u, delta, A, Bm, Cm, D, z, delta_bias=bias)
    y_core, _ = ref.selective_scan(u, delta, A, Bm, Cm, None, None, delta_bias=bias)
    close(y_full, (y_core + D[None, :, None] * u) * ref.silu(z), what="D and z")
    dsp = ref.softplus(delta + bias[None, :, None])
    y2, _ = ref.selective_scan(u, dsp, A, Bm, Cm, None, None, delta_softplus=False)
    close(y2, y_core, what="pre-softplus delta")


@check
def conv1d_equals_direct_formula_and_chunks():
    rng = np.random.default_rng(4)
    Bsz, E, L, K = 2, 3, 19, 4
    x = rng.standard_normal((Bsz, E, L))
    w = rng.standard_normal((E, K))
    b = rng.standard_normal(E)
    out, st = ref.causal_conv1d(x, w, b)
    direct = np.zeros_like(out)
    for bb in range(Bsz):
        for e in range(E):
            for t in range(L):
                s = b[e]
                for k in range(K):
                    j = t - (K - 1) + k
                    if j >= 0:
                        s += w[e, k] * x[bb, e, j]
                direct[bb, e, t] = s
    close(out, direct, what="conv")
    # numpy convolve (true convolution flips the kernel)
    for e in range(E):
        close(out[0, e], np.convolve(x[0, e], w[e][::-1])[:L] + b[e], what="np.convolve")
    close(st, x[:, :, L - (K - 1):], what="final conv state")
    o1, s1 = ref.causal_conv1d(x[..., :5], w, b, activation="silu")
    o2, s2 = ref.causal_conv1d(x[..., 5:], w, b, activation="silu", state=s1)
    close(np.concatenate([o1, o2], -1), ref.silu(out), what="chunked conv")
    close(s2, st, what="chunked state")
    o, _ = ref.causal_conv1d(x, w[:, None, :], b)   # (E, 1, K) weight layout
    close(o, out, what="(E,1,K) layout")


@check
def elementwise_and_norms():
    x = np.linspace(-40, 40, 801)
    sp = ref.softplus(x)
    close(sp[x <= 20], np.log1p(np.exp(x[x <= 20])), what="softplus low")
    close(sp[x > 20], x[x > 20], atol=0, rtol=0, what="softplus threshold")
    y = np.array([1e-4, 1e-3, 0.01, 0.1, 1.0, 5.0])
    close(ref.softplus(ref.inverse_softplus(y)), y, what="inverse softplus")
    close(ref.silu(x), x / (1 + np.exp(-x)), what="silu")
    rng = np.random.default_rng(5)
    a = rng.standard_normal((3, 4, 9)) * 3 + 1
    r = ref.rmsnorm(a, np.ones(9), eps=0.0)
    close(np.sqrt(np.mean(r ** 2, -1)), np.ones((3, 4)), what="rms 1")
    ln = ref.layernorm(a, np.ones(9), np.zeros(9), eps=0.0)
    close(ln.mean(-1), np.zeros((3, 4)), atol=1e-12, what="ln mean")
    close(ln.var(-1), np.ones((3, 4)), what="ln var")
    w, b = rng.standard_normal(9), rng.standard_normal(9)
    close(ref.layernorm(a, w, b, 1e-5),
          (a - a.mean(-1, keepdims=True)) / np.sqrt(a.var(-1, keepdims=True) + 1e-5) * w + b,
          what="layernorm formula")
    n, res = ref.add_norm(a, None, w)
    close(res, a, what="add_norm first residual")
    n2, res2 = ref.add_norm(a, 2 * a, w)
    close(res2, 3 * a, what="add_norm residual")
    close(n2, ref.rmsnorm(3 * a, w), what="add_norm out")


# ----------------------------------------------------------------------------
# Mixer and models
# ----------------------------------------------------------------------------

@check
def mixer_chunked_and_stepwise_equal_whole():
    rng = np.random.default_rng(6)
    p = rand_mixer(rng)
    h = rng.standard_normal((2, 23, 6))
    out, (cs, ss) = ref.mamba_mixer(h, p, return_state=True)
    state = None
    outs = []
    for a, b in [(0, 2), (2, 3), (3, 15), (15, 23)]:
        o, state = ref.mamba_mixer(h[:, a:b], p, state=state, return_state=True)
        outs.append(o)
    close(np.concatenate(outs, 1), out, what="chunked mixer")
    close(state[0], cs, what="conv state")
    close(state[1], ss, what="ssm state")
    # a token at a time (decoding)
    state = None
    outs = []
    for t in range(h.shape[1]):
        o, state = ref.mamba_mixer(h[:, t:t + 1], p, state=state, return_state=True)
        outs.append(o)
    close(np.concatenate(outs, 1), out, what="stepwise mixer")


@check
def mixer_is_causal():
    rng = np.random.default_rng(7)
    p = rand_mixer(rng)
    h = rng.standard_normal((1, 20, 6))
    h2 = h.copy()
    h2[:, 12:] += rng.standard_normal((1, 8, 6))
    o1, o2 = ref.mamba_mixer(h, p), ref.mamba_mixer(h2, p)
    close(o1[:, :12], o2[:, :12], what="prefix unchanged")
    assert np.max(np.abs(o1[:, 12:] - o2[:, 12:])) > 1e-6, "suffix should change"


def mamba_stepwise_hidden(ids, sd, cfg):
    """Mamba LM hidden states by recurrent decoding, one token at a time."""
    Bsz, L = ids.shape
    W = sd["backbone.embedding.weight"]
    states = [None] * cfg["n_layer"]
    outs = []
    for t in range(L):
        hidden = W[ids[:, t:t + 1]]
        residual = None
        for i in range(cfg["n_layer"]):
            lp = f"backbone.layers.{i}."
            residual = hidden if residual is None else hidden + residual
            normed = ref.rmsnorm(residual, sd[lp + "norm.weight"])
            hidden, states[i] = ref.mamba_mixer(normed, ref.subdict(sd, lp + "mixer."),
                                                state=states[i], return_state=True)
        outs.append(ref.rmsnorm(hidden + residual, sd["backbone.norm_f.weight"]))
    return np.concatenate(outs, 1)


@check
def mamba_lm_recurrent_equals_parallel():
    rng = np.random.default_rng(8)
    sd = mg.make_mamba_sd(rng)
    cfg = mg.mamba_config()
    ids = rng.integers(0, 16, size=(2, 11))
    hidden, logits = ref.mamba_lm_forward(ids, sd, cfg)
    close(mamba_stepwise_hidden(ids, sd, cfg), hidden, what="recurrent vs parallel")
    close(logits, hidden @ sd["backbone.embedding.weight"].T, what="tied head")
    sd2 = dict(sd)
    sd2["lm_head.weight"] = 2 * sd["backbone.embedding.weight"]
    close(ref.mamba_lm_forward(ids, sd2, cfg)[1], 2 * logits, what="explicit lm_head")


def ph_to_mamba(sd):
    """Map a Caduceus-Ph state dict's forward path onto Mamba LM key names."""
    out = {}
    for k, v in sd.items():
        k2 = k.replace("caduceus.backbone.embeddings.word_embeddings.weight",
                       "backbone.embedding.weight").replace("caduceus.backbone.", "backbone.")
        if ".mamba_rev." in k2:
            continue
        out[k2.replace("mixer.mamba_fwd.", "mixer.")] = v
    return out


@check
def bidirectional_with_zero_rev_path_reduces_to_mamba():
    rng = np.random.default_rng(9)
    sd = mg.make_caduceus_sd(rng, rcps=False)
    cfg = mg.caduceus_config(False)
    ids = rng.integers(7, 12, size=(2, 15))
    z = dict(sd)
    for k in sd:
        if ".mamba_rev." in k and (k.endswith("x_proj.weight") or k.endswith(".D")):
            z[k] = np.zeros_like(sd[k])   # B = C = 0 and D = 0 -> rev output 0
    h_bi, l_bi = ref.caduceus_forward(ids, z, cfg)
    h_m, l_m = ref.mamba_lm_forward(ids, ph_to_mamba(sd), mg.mamba_config())
    close(h_bi, h_m, what="hidden")
    close(l_bi, l_m, what="logits")
    # unidirectional config ignores mamba_rev entirely
    cfg_u = dict(cfg, bidirectional=False)
    close(ref.caduceus_forward(ids, sd, cfg_u)[0], h_m, what="bidirectional false")
    # ew_multiply with a zero rev path zeroes every mixer output
    cfg_m = dict(cfg, bidirectional_strategy="ew_multiply")
    h_mul, _ = ref.caduceus_forward(ids, z, cfg_m)
    emb = sd["caduceus.backbone.embeddings.word_embeddings.weight"][ids]
    close(h_mul, ref.rmsnorm(emb, sd["caduceus.backbone.norm_f.weight"]), what="ew_multiply")
    # and the untouched model differs from the unidirectional one
    assert np.max(np.abs(ref.caduceus_forward(ids, sd, cfg)[0] - h_m)) > 1e-3


@check
def bimamba_with_equal_paths_is_flip_equivariant():
    rng = np.random.default_rng(10)
    p = rand_mixer(rng)
    h = rng.standard_normal((2, 13, 6))
    out = ref.bimamba(h, p, p)
    close(ref.bimamba(h[:, ::-1], p, p), out[:, ::-1], what="flip equivariance")
    pr = rand_mixer(rng, with_inout=False)
    prt = ref.tie_rev_params(p, pr)
    assert prt["in_proj.weight"] is p["in_proj.weight"]
    close(ref.bimamba(h, p, prt),
          ref.mamba_mixer(h, p) + ref.mamba_mixer(h[:, ::-1], prt)[:, ::-1], what="add")


# ----------------------------------------------------------------------------
# RCPS
# ----------------------------------------------------------------------------

@check
def reverse_complement_ids():
    ids = ref.encode("ACGTNacgtx")
    assert list(ids) == [7, 8, 9, 10, 11, 7, 8, 9, 10, 6]
    rc = ref.reverse_complement_ids(ids)
    assert list(rc) == [6, 7, 8, 9, 10, 11, 7, 8, 9, 10], rc
    rng = np.random.default_rng(11)
    x = rng.integers(0, 16, size=(3, 9))
    assert np.array_equal(ref.reverse_complement_ids(ref.reverse_complement_ids(x)), x)
    cm = ref.complement_map()
    assert np.array_equal(cm[cm], np.arange(16))
    assert ref.complement_map().tolist() == [0, 1, 2, 3, 4, 5, 6, 10, 9, 8, 7, 11, 12, 13, 14, 15]


@check
def rcps_wrapper_pieces():
    rng = np.random.default_rng(12)
    W = rng.standard_normal((16, 5))
    ids = rng.integers(0, 16, size=(2, 7))
    e = ref.rcps_embedding(ids, W)
    close(e[..., :5], W[ids], what="emb fwd half")
    rc = ref.reverse_complement_ids(ids)
    for t in range(7):
        close(e[:, t, 5:], W[rc[:, 6 - t]][:, ::-1], what="emb rc half")
    close(ref.rcps_embedding(rc, W), ref.flip_lc(e), what="embedding equivariance")
    x = rng.standard_normal((2, 7, 10))
    lg = ref.rcps_lm_head(x, W)
    cm = ref.complement_map()
    close(lg, x[..., :5] @ W.T + np.einsum("blc,vc->blv", x[..., 5:][..., ::-1], W[cm]),
          what="lm head")
    lg_rc = ref.rcps_lm_head(ref.flip_lc(x), W)
    close(lg_rc, lg[:, ::-1][..., cm], what="lm head equivariance")


@check
def rcps_fused_block_is_swapped_nonfused():
    rng = np.random.default_rng(13)
    h = rng.standard_normal((2, 9, 8))
    r = rng.standard_normal((2, 9, 8))
    w = rng.standard_normal(4) + 1

    def swap(a):
        return np.concatenate([a[..., 4:], a[..., :4]], -1)

    for res in (None, r):
        o1, r1 = ref.rcps_block_fused_add_norm(h, res, w)
        o2, r2 = ref.rcps_add_norm(swap(h), None if res is None else swap(res), w)
        close(o1, o2, what="normed")
        close(r1, r2, what="residual")
        # both are RC equivariant
        o3, r3 = ref.rcps_block_fused_add_norm(ref.flip_lc(h),
                                               None if res is None else ref.flip_lc(res), w)
        close(o3, ref.flip_lc(o1), what="fused equivariance")
        close(r3, ref.flip_lc(r1), what="fused residual equivariance")


def ps_nonfused(sd):
    """Rename a fused-layout PS state dict to the non-fused layout (norm.submodule.*)."""
    out = {}
    for k, v in sd.items():
        k = k.replace(".norm.weight", ".norm.submodule.weight")
        k = k.replace("backbone.norm_f.weight", "backbone.norm_f.submodule.weight")
        out[k] = v
    return out


@check
def ps_model_is_rc_equivariant():
    rng = np.random.default_rng(14)
    sd = mg.make_caduceus_sd(rng, rcps=True)
    cfg = mg.caduceus_config(True)
    ids = rng.integers(7, 12, size=(2, 19))
    ids[1, -3:] = ref.PAD_ID
    rc = ref.reverse_complement_ids(ids)
    cm = ref.complement_map()
    for name, c, s in (("fused", cfg, sd), ("non-fused", dict(cfg, fused_add_norm=False), ps_nonfused(sd))):
        h, lg = ref.caduceus_forward(ids, s, c)
        h_rc, lg_rc = ref.caduceus_forward(rc, s, c)
        assert h.shape == (2, 19, 64)
        close(h_rc, ref.flip_lc(h), what=f"{name} hidden")
        close(lg_rc, lg[:, ::-1][..., cm], what=f"{name} logits")
    # without the complement-map buffers the config's map is used: same result
    nobuf = {k: v for k, v in sd.items() if not k.endswith("complement_map")}
    close(ref.caduceus_forward(ids, nobuf, cfg)[1], ref.caduceus_forward(ids, sd, cfg)[1],
          what="buffers vs config map")
    # the half swap of the fused path is not a no-op
    hf = ref.caduceus_forward(ids, sd, cfg)[0]
    hn = ref.caduceus_forward(ids, ps_nonfused(sd), dict(cfg, fused_add_norm=False))[0]
    assert np.max(np.abs(hf - hn)) > 1e-3, "fused and non-fused PS should differ"


@check
def ph_model_is_not_rc_equivariant():
    # Ph is not RC-equivariant in general; sanity: output differs for rc input.
    rng = np.random.default_rng(15)
    sd = mg.make_caduceus_sd(rng, rcps=False)
    cfg = mg.caduceus_config(False)
    ids = rng.integers(7, 12, size=(1, 12))
    h = ref.caduceus_forward(ids, sd, cfg)[0]
    h_rc = ref.caduceus_forward(ref.reverse_complement_ids(ids), sd, cfg)[0]
    assert np.max(np.abs(h_rc - h[:, ::-1])) > 1e-3


@check
def pooling():
    rng = np.random.default_rng(16)
    h = rng.standard_normal((2, 6, 3))
    ids = np.array([[7, 8, 9, 10, 11, 7], [4, 7, 8, 9, 4, 4]])
    close(ref.pool_hidden(h, ids, "mean")[0], h[0].mean(0), what="mean row0")
    close(ref.pool_hidden(h, ids, "mean")[1], h[1, 1:4].mean(0), what="mean row1")
    close(ref.pool_hidden(h, ids, "max")[1], h[1, 1:4].max(0), what="max")
    close(ref.pool_hidden(h, ids, "first")[1], h[1, 1], what="first")
    close(ref.pool_hidden(h, ids, "last")[1], h[1, 3], what="last")
    c = ref.caduceus_ps_conjoin(rng.standard_normal((2, 6, 8)), 4)
    assert c.shape == (2, 6, 4, 2)


# ----------------------------------------------------------------------------
# The golden files on disk
# ----------------------------------------------------------------------------

def check_st_layout(path):
    header, meta, hlen = read_header(path)
    assert hlen % 8 == 0, f"{path}: header length {hlen} not a multiple of 8"
    names = list(header)
    assert names == sorted(names), f"{path}: tensors not sorted"
    off = 0
    for n in names:
        b, e = header[n]["data_offsets"]
        assert b == off, f"{path}: {n} offsets not contiguous"
        item = {"F64": 8, "F32": 4, "I64": 8}[header[n]["dtype"]]
        assert e - b == item * int(np.prod(header[n]["shape"], dtype=np.int64)), n
        off = e
    assert os.path.getsize(path) == 8 + hlen + off, f"{path}: size mismatch"
    return header, meta


@check
def st_io_roundtrip(tmpdir=None):
    import tempfile
    rng = np.random.default_rng(17)
    t = {"b": rng.standard_normal((3, 2)), "a": rng.integers(0, 9, size=(5,)),
         "c": rng.standard_normal(7).astype(np.float32), "s": np.array(2.5)}
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "x.safetensors")
        save_file(t, p, metadata={"k": "v"})
        header, meta = check_st_layout(p)
        assert meta == {"k": "v"}
        back = load_file(p)
        for k in t:
            assert back[k].dtype == t[k].dtype and np.array_equal(back[k], t[k]), k


# name: (hidden width, hidden_rc stored, RMSNorm, classification head stored)
EXPECTED_MODELS = {"mamba": (32, False, True, False), "caduceus_ph": (32, True, True, False),
                   "caduceus_ps": (64, True, True, False), "mamba_ln": (32, False, False, True),
                   "caduceus_ph_ln_mul": (32, True, False, True),
                   "caduceus_ps_ln_mul": (64, True, False, True)}


@check
def golden_models_recompute():
    for name, (dh, with_rc, rms, head) in EXPECTED_MODELS.items():
        d = os.path.join(GOLDEN, name)
        header, meta = check_st_layout(os.path.join(d, "model.safetensors"))
        for k, v in header.items():
            want_dt = "I64" if k.endswith("complement_map") else "F32"
            assert v["dtype"] == want_dt, f"{name}: {k} is {v['dtype']}"
        cfg, sd = ref.load_checkpoint(d)
        assert cfg["rms_norm"] is rms, f"{name}: rms_norm {cfg['rms_norm']}"
        if cfg.get("model_type") != "caduceus":
            expect = ref.mamba_key_names(2, rms_norm=rms)
        else:
            expect = ref.caduceus_key_names(2, rcps=cfg["rcps"], rms_norm=rms)
        assert sorted(sd) == sorted(expect), f"{name}: keys {sorted(set(sd) ^ set(expect))}"
        iohdr, _ = check_st_layout(os.path.join(d, "io.safetensors"))
        io = load_file(os.path.join(d, "io.safetensors"))
        want = {"input_ids", "hidden", "logits", "pooled_mean"} | ({"hidden_rc"} if with_rc else set())
        want |= {"score.weight", "score.bias", "class_probs"} if head else set()
        assert set(io) == want, f"{name}: io tensors {sorted(io)}"
        assert io["input_ids"].dtype == np.int64 and io["input_ids"].shape == (2, 37)
        assert io["hidden"].shape == (2, 37, dh) and io["logits"].shape == (2, 37, 16)
        assert io["pooled_mean"].shape == (2, dh)
        assert all(iohdr[k]["dtype"] == ("F32" if k.startswith("score.") else "F64")
                   for k in want - {"input_ids"})
        h, lg = ref.model_forward(io["input_ids"], cfg, sd)
        close(h, io["hidden"], what=f"{name} hidden")
        close(lg, io["logits"], what=f"{name} logits")
        close(ref.pool_hidden(h, io["input_ids"], "mean"), io["pooled_mean"], what=f"{name} pooled")
        if with_rc:
            h_rc, _ = ref.model_forward(ref.reverse_complement_ids(io["input_ids"]), cfg, sd)
            close(h_rc, io["hidden_rc"], what=f"{name} hidden_rc")
        if head:
            probs = ref.classify_probs(h, io["input_ids"], io["score.weight"].astype(np.float64),
                                       io["score.bias"].astype(np.float64), 32, dh == 64)
            close(probs, io["class_probs"], what=f"{name} class_probs")
            close(probs.sum(axis=-1), np.ones(2), what=f"{name} class_probs sum")
        if dh == 64:
            for k in ("caduceus.backbone.embeddings.word_embeddings.complement_map",
                      "lm_head.complement_map"):
                assert sd[k].dtype == np.int64 and sd[k].tolist() == ref.complement_map().tolist()
            close(io["hidden_rc"], ref.flip_lc(io["hidden"]), atol=1e-12, what="PS equivariance")
        assert (io["input_ids"][1, -4:] == ref.PAD_ID).all()
        assert ((io["input_ids"][0] >= 7) & (io["input_ids"][0] <= 11)).all()


@check
def golden_ops_recompute():
    t = load_file(os.path.join(GOLDEN, "ops.safetensors"))
    check_st_layout(os.path.join(GOLDEN, "ops.safetensors"))
    close(ref.rmsnorm(t["rmsnorm.x"], t["rmsnorm.w"]), t["rmsnorm.out"], what="rmsnorm")
    close(ref.layernorm(t["layernorm.x"], t["layernorm.w"], t["layernorm.b"]),
          t["layernorm.out"], what="layernorm")
    close(ref.causal_conv1d(t["conv1d_silu.x"], t["conv1d_silu.w"], t["conv1d_silu.b"], "silu")[0],
          t["conv1d_silu.out"], what="conv1d_silu")
    close(ref.softplus(t["softplus.x"]), t["softplus.out"], what="softplus")
    close(ref.silu(t["silu.x"]), t["silu.out"], what="silu")
    for p in ("scan", "scan2"):
        y, h = naive_scan(t[p + ".u"], t[p + ".delta"], t[p + ".A"], t[p + ".Bm"], t[p + ".Cm"],
                          t[p + ".Dv"], t[p + ".z"], t[p + ".delta_bias"], t.get(p + ".h0"))
        close(y, t[p + ".y"], atol=1e-11, what=p + ".y (naive)")
        close(h, t[p + ".h_last"], atol=1e-11, what=p + ".h_last (naive)")
    pm = ref.subdict(t, "mixer.")
    out, (cs, ss) = ref.mamba_mixer(t["mixer.x"], pm, return_state=True)
    close(out, t["mixer.out"], what="mixer")
    close(cs, t["mixer.conv_state"], what="mixer conv state")
    close(ss, t["mixer.ssm_state"], what="mixer ssm state")
    pf, pr = ref.subdict(t, "bimamba.fwd."), ref.subdict(t, "bimamba.rev.")
    close(ref.bimamba(t["bimamba.x"], pf, ref.tie_rev_params(pf, pr)), t["bimamba.out"],
          what="bimamba")


@check
def golden_configs_and_size():
    total = 0
    for root, _, files in os.walk(GOLDEN):
        for fn in files:
            total += os.path.getsize(os.path.join(root, fn))
    assert total < 3_000_000, f"fixtures are {total} bytes"
    with open(os.path.join(GOLDEN, "mamba", "config.json")) as f:
        c = json.load(f)
    assert c["d_model"] == 32 and c["n_layer"] == 2 and c["vocab_size"] == 16
    assert c["ssm_cfg"]["d_state"] == 16 and c["tie_embeddings"] is True
    for name, rcps, strategy in (("caduceus_ph", False, "add"), ("caduceus_ps", True, "add"),
                                 ("caduceus_ph_ln_mul", False, "ew_multiply"),
                                 ("caduceus_ps_ln_mul", True, "ew_multiply")):
        with open(os.path.join(GOLDEN, name, "config.json")) as f:
            c = json.load(f)
        assert c["model_type"] == "caduceus" and c["rcps"] is rcps
        assert c["bidirectional"] is True and c["bidirectional_strategy"] == strategy
        assert ref.config_complement_map(c, 16).tolist() == ref.complement_map().tolist()


@check
def golden_grads_loss_matches_numpy():
    """The PyTorch gradient reference (grad_ref.py) and the numpy forward agree on the loss."""
    for name in ("mamba", "caduceus_ph", "mamba_ln", "caduceus_ph_ln_mul", "caduceus_ps_ln_mul"):
        cfg, sd = ref.load_checkpoint(os.path.join(GOLDEN, name))
        g = load_file(os.path.join(GOLDEN, f"grads_{name}.safetensors"))
        _, logits = ref.model_forward(g["input_ids"], cfg, sd)
        logits = logits - logits.max(axis=-1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
        scored = g["targets"] != ref.PAD_ID
        nll = -np.take_along_axis(logp, g["targets"][..., None], axis=-1)[..., 0]
        close(nll[scored].mean(), g["loss"][0], atol=1e-12, what=f"{name} loss")
        want = {"grad." + k for k, v in sd.items() if v.dtype.kind == "f"}
        assert want <= set(g), f"{name}: gradients missing {sorted(want - set(g))}"


@check
def golden_is_reproducible():
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        old = sys.argv
        sys.argv = ["make_golden.py", d]
        try:
            import contextlib
            import io
            with contextlib.redirect_stdout(io.StringIO()):
                mg.main()
        finally:
            sys.argv = old
        for root, _, files in os.walk(d):
            for fn in files:
                p = os.path.join(root, fn)
                rel = os.path.relpath(p, d)
                q = os.path.join(GOLDEN, rel)
                assert os.path.exists(q), f"{rel} missing from {GOLDEN}"
                if not fn.endswith(".safetensors"):
                    with open(p, "rb") as a, open(q, "rb") as b:
                        assert a.read() == b.read(), f"{rel} differs from a fresh generation"
                    continue
                # values, not bytes: float64 results may differ in the last bit
                # between numpy / BLAS builds
                new_t, new_m = load_file(p, with_metadata=True)
                old_t, old_m = load_file(q, with_metadata=True)
                assert new_m == old_m and sorted(new_t) == sorted(old_t), rel
                for k in new_t:
                    a, b = new_t[k], old_t[k]
                    assert a.dtype == b.dtype and a.shape == b.shape, f"{rel}:{k}"
                    if a.dtype == np.float64:
                        close(a, b, atol=1e-12, rtol=1e-10, what=f"{rel}:{k}")
                    else:
                        assert np.array_equal(a, b), f"{rel}:{k} differs from a fresh generation"


def main():
    failed = 0
    for fn in CHECKS:
        try:
            fn()
            print(f"ok   {fn.__name__}")
        except Exception:
            failed += 1
            print(f"FAIL {fn.__name__}")
            traceback.print_exc()
    print(f"{len(CHECKS) - failed} passed, {failed} failed")
    if failed:
        sys.exit(1)
    print("PASSED")


if __name__ == "__main__":
    main()
