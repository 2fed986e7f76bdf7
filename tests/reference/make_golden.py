#!/usr/bin/python3
"""Generate the golden fixtures under tests/data/golden/ from the numpy reference.

    /usr/bin/python3 tests/reference/make_golden.py [OUT_DIR]

Deterministic: every random draw comes from numpy default_rng with a fixed seed.
Weights are drawn in float64, stored as float32 (F32) in model.safetensors, and
the expected outputs are computed in float64 FROM THE STORED float32 VALUES, so
the fixtures are self-consistent.
"""

import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import mamba_ref as ref  # noqa: E402
from st_io import save_file  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
DEFAULT_OUT = os.path.join(REPO, "tests", "data", "golden")

# Model hyper-parameters shared by the three checkpoints.
D_MODEL, N_LAYER, D_STATE, D_CONV, EXPAND, DT_RANK, VOCAB = 32, 2, 16, 4, 2, 2, 16
E_INNER = EXPAND * D_MODEL
BATCH, SEQLEN, N_PAD = 2, 37, 4

SEED_IDS, SEED_MAMBA, SEED_PH, SEED_PS, SEED_OPS = 11, 101, 202, 303, 404
SEED_MAMBA_LN, SEED_PH_LN_MUL, SEED_PS_LN_MUL = 505, 606, 707
N_CLASSES = 3  # classification head of the LayerNorm / ew_multiply checkpoints
GENERATOR = "tests/reference/make_golden.py (numpy float64 reference)"


# ----------------------------------------------------------------------------
# Parameter initialisation (mamba_ssm style, then perturbed)
# ----------------------------------------------------------------------------

def uniform(rng, bound, shape):
    return rng.uniform(-bound, bound, size=shape)


# in_proj / out_proj are scaled up from their initial bound by this factor, as in a
# trained model, so that the mixers contribute ~30-45% of the final hidden states
# (at the plain initial scale they contribute ~10-15%, which makes weak fixtures).
PROJ_SCALE = 1.5


def init_mixer(rng, D, E, N, K, R, n_layer, with_inout=True):
    """Mamba mixer parameters (float64), mamba_ssm initialisation + perturbations."""
    p = {}
    if with_inout:
        p["in_proj.weight"] = PROJ_SCALE * uniform(rng, 1 / np.sqrt(D), (2 * E, D))
        # out_proj: kaiming-uniform(a=sqrt 5) bound 1/sqrt(fan_in), rescaled by 1/sqrt(n_layer)
        p["out_proj.weight"] = (PROJ_SCALE * uniform(rng, 1 / np.sqrt(E), (D, E))
                                / np.sqrt(n_layer))
    p["conv1d.weight"] = uniform(rng, 1 / np.sqrt(K), (E, 1, K))
    p["conv1d.bias"] = uniform(rng, 1 / np.sqrt(K), (E,))
    p["x_proj.weight"] = uniform(rng, 1 / np.sqrt(E), (R + 2 * N, E))
    p["dt_proj.weight"] = uniform(rng, R ** -0.5, (E, R))
    dt = np.exp(rng.uniform(0, 1, E) * (np.log(0.1) - np.log(1e-3)) + np.log(1e-3))
    dt = np.maximum(dt, 1e-4)
    p["dt_proj.bias"] = ref.inverse_softplus(dt) + 0.05 * rng.standard_normal(E)
    p["A_log"] = (np.log(np.tile(np.arange(1, N + 1, dtype=np.float64), (E, 1)))
                  + 0.05 * rng.standard_normal((E, N)))
    p["D"] = 1.0 + 0.1 * rng.standard_normal(E)
    return p


def init_norm(rng, C):
    return 1.0 + 0.1 * rng.standard_normal(C)


def init_norm_bias(rng, C):
    # LayerNorm bias: zero at initialisation in mamba_ssm, perturbed as after training
    return 0.2 * rng.standard_normal(C)


def add_norm_params(sd, rng, prefix, C, rms):
    """prefix + "weight" (and + "bias" for LayerNorm); RMSNorm draws no bias, so the
    random stream of the RMSNorm checkpoints is unchanged."""
    sd[prefix + "weight"] = init_norm(rng, C)
    if not rms:
        sd[prefix + "bias"] = init_norm_bias(rng, C)


def init_embedding(rng, V, D):
    # nn.init.normal_(std=0.02) scaled by 20 so that activations are not tiny
    return 0.02 * 20.0 * rng.standard_normal((V, D))


def make_mamba_sd(rng, rms=True):
    sd = {"backbone.embedding.weight": init_embedding(rng, VOCAB, D_MODEL)}
    for i in range(N_LAYER):
        lp = f"backbone.layers.{i}."
        add_norm_params(sd, rng, lp + "norm.", D_MODEL, rms)
        for k, v in init_mixer(rng, D_MODEL, E_INNER, D_STATE, D_CONV, DT_RANK, N_LAYER).items():
            sd[lp + "mixer." + k] = v
    add_norm_params(sd, rng, "backbone.norm_f.", D_MODEL, rms)
    return sd


def make_caduceus_sd(rng, rcps, rms=True):
    pfx = "caduceus.backbone."
    emb_key = pfx + ("embeddings.word_embeddings.embedding.weight" if rcps
                     else "embeddings.word_embeddings.weight")
    sd = {emb_key: init_embedding(rng, VOCAB, D_MODEL)}
    for i in range(N_LAYER):
        lp = f"{pfx}layers.{i}."
        add_norm_params(sd, rng, lp + "norm.", D_MODEL, rms)  # fused_add_norm: plain norm module
        mp = lp + ("mixer.submodule." if rcps else "mixer.")
        for k, v in init_mixer(rng, D_MODEL, E_INNER, D_STATE, D_CONV, DT_RANK, N_LAYER).items():
            sd[mp + "mamba_fwd." + k] = v
        # mamba_rev: in_proj / out_proj tied to mamba_fwd (bidirectional_weight_tie) -> not stored
        for k, v in init_mixer(rng, D_MODEL, E_INNER, D_STATE, D_CONV, DT_RANK, N_LAYER,
                               with_inout=False).items():
            sd[mp + "mamba_rev." + k] = v
    add_norm_params(sd, rng, pfx + "norm_f.", D_MODEL, rms)
    if rcps:
        # persistent int64 buffers registered by RCPSEmbedding and RCPSLMHead
        cmap = ref.complement_map(VOCAB)
        sd[pfx + "embeddings.word_embeddings.complement_map"] = cmap.copy()
        sd["lm_head.complement_map"] = cmap.copy()
    return sd


def round_f32(sd):
    """float tensors -> float32 (storage); other dtypes kept."""
    return {k: (v.astype(np.float32) if v.dtype.kind == "f" else v) for k, v in sd.items()}


# ----------------------------------------------------------------------------
# Configs
# ----------------------------------------------------------------------------

def ssm_cfg():
    return {"d_state": D_STATE, "d_conv": D_CONV, "expand": EXPAND, "dt_rank": DT_RANK,
            "dt_min": 0.001, "dt_max": 0.1, "dt_init": "random", "dt_scale": 1.0,
            "dt_init_floor": 0.0001, "conv_bias": True, "bias": False, "use_fast_path": True}


def mamba_config(rms=True):
    return {
        "d_model": D_MODEL,
        "d_intermediate": 0,
        "n_layer": N_LAYER,
        "vocab_size": VOCAB,
        "ssm_cfg": {"layer": "Mamba1", "d_state": D_STATE, "d_conv": D_CONV,
                    "expand": EXPAND, "dt_rank": DT_RANK},
        "attn_layer_idx": [],
        "attn_cfg": {},
        "rms_norm": rms,
        "residual_in_fp32": True,
        "fused_add_norm": True,
        "pad_vocab_size_multiple": 8,
        "tie_embeddings": True,
    }


def caduceus_config(rcps, rms=True, strategy="add"):
    cmap = ref.complement_map(VOCAB)
    variant = "" if rms and strategy == "add" else "-ln-mul"
    return {
        "_name_or_path": f"mambadna-golden/caduceus-{'ps' if rcps else 'ph'}{variant}-tiny",
        "architectures": ["CaduceusForMaskedLM"],
        "auto_map": {
            "AutoConfig": "configuration_caduceus.CaduceusConfig",
            "AutoModel": "modeling_caduceus.Caduceus",
            "AutoModelForMaskedLM": "modeling_caduceus.CaduceusForMaskedLM",
            "AutoModelForSequenceClassification": "modeling_caduceus.CaduceusForSequenceClassification",
        },
        "bidirectional": True,
        "bidirectional_strategy": strategy,
        "bidirectional_weight_tie": True,
        "complement_map": {str(i): int(cmap[i]) for i in range(VOCAB)},
        "d_model": D_MODEL,
        "fused_add_norm": True,
        "gradient_checkpointing_stride": 1,
        "initializer_cfg": {"initializer_range": 0.02, "n_residuals_per_layer": 1,
                            "rescale_prenorm_residual": True},
        "model_type": "caduceus",
        "n_layer": N_LAYER,
        "norm_epsilon": 1e-05,
        "pad_vocab_size_multiple": 8,
        "rcps": bool(rcps),
        "residual_in_fp32": True,
        "rms_norm": rms,
        "ssm_cfg": ssm_cfg(),
        "torch_dtype": "float32",
        "transformers_version": "4.38.1",
        "vocab_size": VOCAB,
    }


# ----------------------------------------------------------------------------
# Writers
# ----------------------------------------------------------------------------

def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def make_input_ids():
    rng = np.random.default_rng(SEED_IDS)
    ids = rng.integers(7, 12, size=(BATCH, SEQLEN)).astype(np.int64)  # A C G T N
    ids[1, SEQLEN - N_PAD:] = ref.PAD_ID
    return ids


def make_class_head(rng, C, D):
    """Classification head (score.weight (C, D), score.bias (C)), uniform(+-1/sqrt(D)) scaled
    up so that the class probabilities differ clearly."""
    return 4.0 * uniform(rng, 1 / np.sqrt(D), (C, D)), 0.3 * rng.standard_normal(C)


def write_model_dir(out, name, cfg, sd64, ids, with_rc, head_rng=None):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    write_json(os.path.join(d, "config.json"), cfg)
    sd32 = round_f32(sd64)
    save_file(sd32, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    # expected outputs from the stored float32 weights, in float64
    sd = {k: (v.astype(np.float64) if v.dtype.kind == "f" else v) for k, v in sd32.items()}
    hidden, logits = ref.model_forward(ids, cfg, sd)
    io = {"input_ids": ids, "hidden": hidden, "logits": logits,
          "pooled_mean": ref.pool_hidden(hidden, ids, "mean")}
    if with_rc:
        io["hidden_rc"], _ = ref.model_forward(ref.reverse_complement_ids(ids), cfg, sd)
    meta = {"generator": GENERATOR, "pad_id": str(ref.PAD_ID),
            "hidden_width": str(hidden.shape[-1]),
            "pooled_mean": "mean of hidden over positions where input_ids != pad_id"}
    if head_rng is not None:
        w, b = (x.astype(np.float32) for x in make_class_head(head_rng, N_CLASSES, D_MODEL))
        rcps = bool(cfg.get("rcps", False))
        io["score.weight"], io["score.bias"] = w, b
        io["class_probs"] = ref.classify_probs(hidden, ids, w.astype(np.float64),
                                               b.astype(np.float64), D_MODEL, rcps)
        meta["class_probs"] = ("softmax(score.weight @ f + score.bias), f the mean of hidden over "
                               "non-pad positions (PS: of both strands)")
    save_file(io, os.path.join(d, "io.safetensors"), metadata=meta)
    return {k: v.shape for k, v in io.items()}


def make_ops(path):
    rng = np.random.default_rng(SEED_OPS)
    Bsz, L, E, N, R, D, K = 2, 50, 24, 16, 3, 12, 4
    t = {}

    x = rng.standard_normal((Bsz, L, D)) * 1.5 + 0.3
    w = init_norm(rng, D)
    t.update({"rmsnorm.x": x, "rmsnorm.w": w, "rmsnorm.out": ref.rmsnorm(x, w, 1e-5)})

    x = rng.standard_normal((Bsz, L, D)) * 2.0 - 0.7
    w, b = init_norm(rng, D), 0.1 * rng.standard_normal(D)
    t.update({"layernorm.x": x, "layernorm.w": w, "layernorm.b": b,
              "layernorm.out": ref.layernorm(x, w, b, 1e-5)})

    x = rng.standard_normal((Bsz, E, L))
    w, b = uniform(rng, 0.5, (E, K)), uniform(rng, 0.5, (E,))
    out, _ = ref.causal_conv1d(x, w, b, activation="silu")
    t.update({"conv1d_silu.x": x, "conv1d_silu.w": w, "conv1d_silu.b": b,
              "conv1d_silu.out": out})

    x = np.concatenate([np.linspace(-30.0, 30.0, 121), [19.999, 20.0, 20.001, 25.0, -50.0],
                        rng.standard_normal(45) * 5.0])
    t.update({"softplus.x": x, "softplus.out": ref.softplus(x)})
    x = np.concatenate([np.linspace(-30.0, 30.0, 61), rng.standard_normal(39) * 4.0])
    t.update({"silu.x": x, "silu.out": ref.silu(x)})

    def scan_inputs():
        u = ref.silu(rng.standard_normal((Bsz, E, L)))
        delta = 0.5 * rng.standard_normal((Bsz, E, L))
        dt = np.exp(rng.uniform(0, 1, E) * (np.log(0.1) - np.log(1e-3)) + np.log(1e-3))
        delta_bias = ref.inverse_softplus(dt)
        A = -np.exp(np.log(np.tile(np.arange(1, N + 1, dtype=np.float64), (E, 1)))
                    + 0.05 * rng.standard_normal((E, N)))
        Bm = rng.standard_normal((Bsz, N, L))
        Cm = rng.standard_normal((Bsz, N, L))
        Dv = 1.0 + 0.1 * rng.standard_normal(E)
        z = rng.standard_normal((Bsz, E, L))
        return dict(u=u, delta=delta, A=A, Bm=Bm, Cm=Cm, Dv=Dv, z=z, delta_bias=delta_bias)

    s = scan_inputs()
    # a few steps with large dt (exercise the softplus threshold and fast decay)
    s["delta"][0, 3, 10] = 24.0
    s["delta"][1, 7, 20] = 21.5
    s["delta"][1, 0, 0] = 6.0
    y, h = ref.selective_scan(s["u"], s["delta"], s["A"], s["Bm"], s["Cm"], s["Dv"], s["z"],
                              delta_bias=s["delta_bias"], delta_softplus=True)
    t.update({"scan." + k: v for k, v in s.items()})
    t.update({"scan.y": y, "scan.h_last": h})

    s = scan_inputs()
    h0 = 0.5 * rng.standard_normal((Bsz, E, N))
    y, h = ref.selective_scan(s["u"], s["delta"], s["A"], s["Bm"], s["Cm"], s["Dv"], s["z"],
                              delta_bias=s["delta_bias"], delta_softplus=True, h0=h0)
    t.update({"scan2." + k: v for k, v in s.items()})
    t.update({"scan2.h0": h0, "scan2.y": y, "scan2.h_last": h})

    # whole Mamba mixer (mamba_ssm parameter names after "mixer.")
    p = init_mixer(rng, D, E, N, K, R, 2)
    x = rng.standard_normal((Bsz, L, D))
    out, (cs, ss) = ref.mamba_mixer(x, p, return_state=True)
    t.update({"mixer." + k: v for k, v in p.items()})
    t.update({"mixer.x": x, "mixer.out": out, "mixer.conv_state": cs, "mixer.ssm_state": ss})

    # Caduceus BiMamba (add), rev path with tied in/out projections
    pf = init_mixer(rng, D, E, N, K, R, 2)
    pr = init_mixer(rng, D, E, N, K, R, 2, with_inout=False)
    x = rng.standard_normal((Bsz, L, D))
    out = ref.bimamba(x, pf, ref.tie_rev_params(pf, pr), "add")
    t.update({"bimamba.fwd." + k: v for k, v in pf.items()})
    t.update({"bimamba.rev." + k: v for k, v in pr.items()})
    t.update({"bimamba.x": x, "bimamba.out": out})

    t = {k: np.asarray(v, dtype=np.float64) for k, v in t.items()}
    meta = {"generator": GENERATOR, "eps": "1e-5", "softplus_threshold": "20",
            "shapes": f"B={Bsz} L={L} E={E} N={N} R={R} D={D} K={K}"}
    save_file(t, path, metadata=meta)
    return {k: v.shape for k, v in t.items()}


README = """\
# Golden fixtures (generated; do not edit by hand)

Generated by `tests/reference/make_golden.py` from the independent numpy
reference `tests/reference/mamba_ref.py`, computing everything in float64.
Deterministic (numpy `default_rng` with fixed seeds). Regenerate with

    /usr/bin/python3 tests/reference/make_golden.py

and check the reference itself with

    /usr/bin/python3 tests/reference/test_reference_selfcheck.py

All `.safetensors` files: 8-byte little-endian header length, JSON header
(padded with spaces to a multiple of 8, with `__metadata__`), tensors sorted by
name with contiguous offsets. Model weights are F32; the expected outputs were
computed in float64 from those F32 values (so a float64 implementation that
reads the F32 weights should match to ~1e-12; a float32 implementation needs a
correspondingly looser tolerance).

Sizes of all six models: d_model 32, n_layer 2, d_state 16, d_conv 4,
expand 2 (E = 64), dt_rank 2, vocab 16 (12 tokens padded to 16), norm eps
1e-5, fused_add_norm true, residual_in_fp32 true. `mamba/`, `caduceus_ph/`
and `caduceus_ps/` use RMSNorm and the "add" combine; `mamba_ln/`,
`caduceus_ph_ln_mul/` and `caduceus_ps_ln_mul/` use LayerNorm and (Caduceus)
the "ew_multiply" combine. Tokens:
[CLS]=0 [SEP]=1 [BOS]=2 [MASK]=3 [PAD]=4 [RESERVED]=5 [UNK]=6 A=7 C=8 G=9 T=10
N=11, 12..15 padding; complement map 7<->10, 8<->9, others fixed.

## Checkpoint directories (`config.json` + `model.safetensors`)

- `mamba/`: mamba_ssm `MambaLMHeadModel` layout (`backbone.embedding.weight`,
  `backbone.layers.{i}.norm.weight`, `backbone.layers.{i}.mixer.*`,
  `backbone.norm_f.weight`); `lm_head.weight` is tied to the embedding and
  not stored. MambaConfig-style config.json.
- `caduceus_ph/`: `CaduceusForMaskedLM`, bidirectional ("add", weight tie),
  rcps false. Keys `caduceus.backbone.embeddings.word_embeddings.weight`,
  `caduceus.backbone.layers.{i}.norm.weight`,
  `caduceus.backbone.layers.{i}.mixer.mamba_fwd.*`,
  `caduceus.backbone.layers.{i}.mixer.mamba_rev.*` (without the tied
  `in_proj.weight` / `out_proj.weight`), `caduceus.backbone.norm_f.weight`.
  LM head tied to the embedding (not stored).
- `caduceus_ps/`: same with rcps true (hidden width 2*d_model = 64). Keys
  `caduceus.backbone.embeddings.word_embeddings.embedding.weight` (RCPSEmbedding),
  `caduceus.backbone.layers.{i}.mixer.submodule.mamba_{fwd,rev}.*` (RCPSWrapper),
  `caduceus.backbone.layers.{i}.norm.weight` and `caduceus.backbone.norm_f.weight`
  (plain norms because fused_add_norm is true), plus the two persistent I64 [16]
  buffers `caduceus.backbone.embeddings.word_embeddings.complement_map` and
  `lm_head.complement_map` that RCPSEmbedding / RCPSLMHead register. RCPS LM head
  (`lm_head.lm_head.weight` when present) tied to the embedding, not stored.
  NOTE: with fused_add_norm the Caduceus RCPSMambaBlock swaps the two channel
  halves of hidden and residual at every block's add+norm (source-exact; see
  `rcps_block_fused_add_norm` in mamba_ref.py); the fixtures include this.

- `mamba_ln/`, `caduceus_ph_ln_mul/`, `caduceus_ps_ln_mul/`: the same three
  layouts with `rms_norm: false` (mamba_ssm's `nn.LayerNorm` with weight and
  bias: every `norm.weight` / `norm_f.weight` has a `norm.bias` /
  `norm_f.bias` beside it, biased variance, eps 1e-5) and, for the two
  Caduceus ones, `bidirectional_strategy: "ew_multiply"` (the forward and the
  flipped reverse mixer outputs multiplied elementwise instead of added).
  Their own seeds; the layer-norm biases are N(0, 0.2^2).

config.json files are written with sorted keys (as transformers does), so the
`complement_map` object keys are strings in lexicographic order ("0", "1", "10", ...).

Weights follow the mamba_ssm initialisation (A_log = log(1..N), D = 1, dt bias =
inverse softplus of log-uniform dt in [1e-3, 1e-1], uniform(+-1/sqrt(fan_in))
linears, out_proj / sqrt(n_layer), embedding N(0, 0.4^2)) with small random
perturbations of A_log, D, dt bias and the norm weights, and in_proj / out_proj
scaled by 1.5 so that the mixers contribute a sizeable part of the output.

Each directory also has `io.safetensors`:

| name | dtype | shape | content |
|---|---|---|---|
| input_ids | I64 | [2, 37] | ids in 7..11; row 1 ends with 4 [PAD] |
| hidden | F64 | [2, 37, Dh] | hidden states after norm_f (Dh 32; 64 for PS) |
| logits | F64 | [2, 37, 16] | LM head logits |
| hidden_rc | F64 | [2, 37, Dh] | (Ph, PS only) hidden of the reverse-complemented ids |
| pooled_mean | F64 | [2, Dh] | mean of hidden over positions with id != 4 |

For PS, `hidden_rc == hidden[:, ::-1, ::-1]` (RC equivariance).

The `io.safetensors` of the LayerNorm / ew_multiply checkpoints also hold a
classification head of 3 classes and what it gives:

| name | dtype | shape | content |
|---|---|---|---|
| score.weight | F32 | [3, 32] | head weights (C, D) |
| score.bias | F32 | [3] | head bias |
| class_probs | F64 | [2, 3] | softmax(score.weight @ f + score.bias) |

with f (D) the mean of `hidden` over the positions whose id is not [PAD]; for
PS the mean of both strands, (f1 + f2[::-1]) / 2 with f1, f2 the pooled first
and second halves (`classify_probs` in mamba_ref.py).

## `ops.safetensors` (single ops, all F64; B 2, L 50, E 24, N 16, R 3, D 12, K 4)

- `rmsnorm.{x (B,L,D), w (D), out}`: x / sqrt(mean(x^2) + 1e-5) * w
- `layernorm.{x, w, b, out}`: biased-variance LayerNorm, eps 1e-5
- `conv1d_silu.{x (B,E,L), w (E,K), b (E), out (B,E,L)}`: silu(causal depthwise conv, left pad K-1)
- `softplus.{x, out}` (threshold 20: out = x for x > 20), `silu.{x, out}`
- `scan.{u (B,E,L), delta (B,E,L) raw, delta_bias (E), A (E,N), Bm (B,N,L), Cm (B,N,L),
  Dv (E), z (B,E,L), y (B,E,L), h_last (B,E,N)}`: selective scan with
  dt = softplus(delta + delta_bias), y = (C.h + Dv*u) * silu(z), zero initial state
- `scan2.*`: same with an initial state `scan2.h0 (B,E,N)`
- `mixer.*`: one Mamba mixer: `mixer.x (B,L,D)`, parameters under mamba_ssm names
  (`mixer.in_proj.weight (2E,D)`, `mixer.conv1d.weight (E,1,K)`, `mixer.conv1d.bias`,
  `mixer.x_proj.weight (R+2N,E)`, `mixer.dt_proj.weight (E,R)`, `mixer.dt_proj.bias`,
  `mixer.A_log (E,N)`, `mixer.D`, `mixer.out_proj.weight (D,E)`), `mixer.out (B,L,D)`,
  final states `mixer.conv_state (B,E,K-1)` (last K-1 conv inputs, oldest first) and
  `mixer.ssm_state (B,E,N)`
- `bimamba.*`: Caduceus BiMamba ("add"): `bimamba.x`, `bimamba.fwd.*` (all mixer
  parameters), `bimamba.rev.*` (without in_proj/out_proj, tied to fwd), `bimamba.out`

## Gradients (`grads_<model>.safetensors`)

For `mamba`, `caduceus_ph`, `mamba_ln`, `caduceus_ph_ln_mul` and
`caduceus_ps_ln_mul`. Written by `tests/reference/grad_ref.py`, an
independent PyTorch (float64, autograd) implementation of the same models:
fixed `input_ids` and `targets` (I64 [2, 23]; [PAD] = 4 targets are not
scored), the masked-LM cross-entropy with the tied LM head (`loss`; for PS
the RCPS head), and `grad.<tensor>` for every stored float tensor (tied
in/out projections accumulate both directions). Regenerate with
`/usr/bin/python3 tests/reference/grad_ref.py [MODEL...]` after
make_golden.py (needs Debian's python3-torch; the test itself needs only the
committed files). The losses agree with the numpy forward of mamba_ref.py to
1e-14 (checked by test_reference_selfcheck.py).
"""


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    os.makedirs(out, exist_ok=True)
    ids = make_input_ids()
    report = {}
    report["mamba"] = write_model_dir(out, "mamba", mamba_config(),
                                      make_mamba_sd(np.random.default_rng(SEED_MAMBA)), ids, False)
    report["caduceus_ph"] = write_model_dir(out, "caduceus_ph", caduceus_config(False),
                                            make_caduceus_sd(np.random.default_rng(SEED_PH), False),
                                            ids, True)
    report["caduceus_ps"] = write_model_dir(out, "caduceus_ps", caduceus_config(True),
                                            make_caduceus_sd(np.random.default_rng(SEED_PS), True),
                                            ids, True)
    report["mamba_ln"] = write_model_dir(
        out, "mamba_ln", mamba_config(rms=False),
        make_mamba_sd(np.random.default_rng(SEED_MAMBA_LN), rms=False), ids, False,
        head_rng=np.random.default_rng(SEED_MAMBA_LN + 1))
    report["caduceus_ph_ln_mul"] = write_model_dir(
        out, "caduceus_ph_ln_mul", caduceus_config(False, rms=False, strategy="ew_multiply"),
        make_caduceus_sd(np.random.default_rng(SEED_PH_LN_MUL), False, rms=False), ids, True,
        head_rng=np.random.default_rng(SEED_PH_LN_MUL + 1))
    report["caduceus_ps_ln_mul"] = write_model_dir(
        out, "caduceus_ps_ln_mul", caduceus_config(True, rms=False, strategy="ew_multiply"),
        make_caduceus_sd(np.random.default_rng(SEED_PS_LN_MUL), True, rms=False), ids, True,
        head_rng=np.random.default_rng(SEED_PS_LN_MUL + 1))
    report["ops"] = make_ops(os.path.join(out, "ops.safetensors"))
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(README)
    total = 0
    for root, _, files in os.walk(out):
        for fn in files:
            total += os.path.getsize(os.path.join(root, fn))
    for k, v in report.items():
        print(k, {n: list(s) for n, s in v.items()})
    print(f"wrote {out} ({total} bytes)")


if __name__ == "__main__":
    main()
