"""Independent float64 gradients of whole models, by PyTorch autograd, for
the gradient test of the C training code (tests/test_grad_golden.c).

The model is written here from the published equations (mamba_ssm's Mamba
block with its reference selective scan; RMSNorm, or nn.LayerNorm with
weight and bias when the config says rms_norm false; Caduceus's BiMamba with
tied in/out projections, combined by "add" or "ew_multiply"; Caduceus-PS's
RCPS embedding, wrappers, fused add+norm half swap and LM head), not from
the C code. It reads the golden checkpoints
of tests/data/golden/ (written by make_golden.py), computes the masked-LM
cross-entropy (tied LM head, [PAD] targets ignored) on fixed inputs and
writes the loss and the gradient of every stored tensor to
tests/data/golden/grads_<model>.safetensors.

Run with Debian's PyTorch (python3-torch), for all models or the ones named:
    /usr/bin/python3 tests/reference/grad_ref.py [MODEL...]
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import st_io  # noqa: E402

GOLDEN = os.path.join(os.path.dirname(__file__), "..", "data", "golden")
PAD = 4
torch.set_default_dtype(torch.float64)


def mamba_mixer(x, p, E, N, R, K):
    """One Mamba direction. x (B, L, D) -> (B, L, D)."""
    B, L, _ = x.shape
    xz = x @ p["in_proj.weight"].T
    xs, z = xz[..., :E], xz[..., E:]
    u = F.conv1d(xs.transpose(1, 2), p["conv1d.weight"], p["conv1d.bias"], padding=K - 1, groups=E)
    u = F.silu(u[..., :L]).transpose(1, 2)                     # (B, L, E)
    xdbl = u @ p["x_proj.weight"].T
    dt, Bm, Cm = xdbl[..., :R], xdbl[..., R:R + N], xdbl[..., R + N:]
    delta = F.softplus(dt @ p["dt_proj.weight"].T + p["dt_proj.bias"])  # (B, L, E)
    A = -torch.exp(p["A_log"])                                 # (E, N)
    h = torch.zeros(B, E, N)
    ys = []
    for t in range(L):
        dA = torch.exp(delta[:, t, :, None] * A)
        h = dA * h + delta[:, t, :, None] * Bm[:, t, None, :] * u[:, t, :, None]
        ys.append((h * Cm[:, t, None, :]).sum(-1))
    y = torch.stack(ys, 1) + u * p["D"]
    return (y * F.silu(z)) @ p["out_proj.weight"].T


def rmsnorm(x, w, eps=1e-5):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


def flip_lc(x):
    """(B, L, C): reversed over length and channels (the RC frame of PS models)."""
    return x.flip(1).flip(2)


def run(name):
    d = os.path.join(GOLDEN, name)
    cfg = json.load(open(os.path.join(d, "config.json")))
    raw = st_io.load_file(os.path.join(d, "model.safetensors"))
    params = {k: torch.tensor(np.asarray(v, dtype=np.float64), requires_grad=True)
              for k, v in raw.items() if np.asarray(v).dtype.kind == "f"}
    D, n_layer = cfg["d_model"], cfg["n_layer"]
    ssm = cfg["ssm_cfg"]
    E, N, K = ssm["expand"] * D, ssm["d_state"], ssm["d_conv"]
    R = ssm.get("dt_rank", math.ceil(D / 16))
    bidirectional = cfg.get("model_type") == "caduceus"
    rcps = bidirectional and cfg.get("rcps", False)
    multiply = cfg.get("bidirectional_strategy") == "ew_multiply"
    if rcps and not cfg.get("fused_add_norm", True):
        raise ValueError(f"{name}: PS gradients are written for fused_add_norm true")
    eps = cfg.get("norm_epsilon", 1e-5)
    if bidirectional:
        pre = "caduceus.backbone."
        emb = params[pre + ("embeddings.word_embeddings.embedding.weight" if rcps
                            else "embeddings.word_embeddings.weight")]
    else:
        pre = "backbone."
        emb = params[pre + "embedding.weight"]

    def norm(x, prefix):
        """RMSNorm, or nn.LayerNorm (weight and bias) when rms_norm is false."""
        w = params[prefix + "weight"]
        if cfg.get("rms_norm", True):
            return rmsnorm(x, w, eps)
        return F.layer_norm(x, (x.shape[-1],), w, params[prefix + "bias"], eps)

    rng = np.random.default_rng(7)
    Bsz, L = 2, 23
    ids = rng.integers(7, 12, size=(Bsz, L))
    targets = np.where(rng.random((Bsz, L)) < 0.4, rng.integers(7, 11, size=(Bsz, L)), PAD)
    targets[0, 0] = 8  # at least one scored position per row
    targets[1, 3] = 10

    def mixer(i, direction):
        base = f"{pre}layers.{i}.mixer." + ("submodule." if rcps else "")
        if not bidirectional:
            return {k[len(base):]: v for k, v in params.items() if k.startswith(base)}
        fwd = base + "mamba_fwd."
        p = {k[len(fwd):]: v for k, v in params.items() if k.startswith(fwd)}
        if direction == "rev":
            rev = base + "mamba_rev."
            q = {k[len(rev):]: v for k, v in params.items() if k.startswith(rev)}
            q["in_proj.weight"] = p["in_proj.weight"]     # tied
            q["out_proj.weight"] = p["out_proj.weight"]
            return q
        return p

    def block_mixer(i, x):
        """The mixer of layer i on x (B, L, D): Mamba, or BiMamba combined by add / multiply."""
        out = mamba_mixer(x, mixer(i, "fwd"), E, N, R, K)
        if not bidirectional:
            return out
        rev = mamba_mixer(x.flip(1), mixer(i, "rev"), E, N, R, K).flip(1)
        return out * rev if multiply else out + rev

    tok = torch.tensor(ids)
    if rcps:
        cmap = torch.tensor(np.asarray(raw[pre + "embeddings.word_embeddings.complement_map"]))
        # RCPSEmbedding: [E[x] | flip_LC(E[rc(x)])], rc(x) = complement(flip_L(x))
        h = torch.cat([emb[tok], flip_lc(emb[cmap[tok.flip(1)]])], -1)   # (B, L, 2D)
    else:
        h = emb[tok]                                                     # (B, L, D)
    residual = None
    for i in range(n_layer):
        npre = f"{pre}layers.{i}.norm."
        residual = h if residual is None else h + residual
        if rcps:
            # RCPSMambaBlock with fused add+norm: the second half enters the
            # "forward" norm, the first half (RC frame) the "rc" one, and the
            # residual keeps the halves so swapped
            fwd_in, rc_in = residual[..., D:], flip_lc(residual[..., :D])
            residual = torch.cat([fwd_in, flip_lc(rc_in)], -1)
            x = torch.cat([norm(fwd_in, npre), flip_lc(norm(rc_in, npre))], -1)
            # RCPSWrapper around the mixer
            h = torch.cat([block_mixer(i, x[..., :D]),
                           flip_lc(block_mixer(i, flip_lc(x[..., D:])))], -1)
        else:
            h = block_mixer(i, norm(residual, npre))
    s = h + residual
    if rcps:  # final norm without swap, then RCPSLMHead (tied)
        hidden = torch.cat([norm(s[..., :D], pre + "norm_f."),
                            flip_lc(norm(flip_lc(s[..., D:]), pre + "norm_f."))], -1)
        head_cmap = torch.tensor(np.asarray(raw["lm_head.complement_map"]))
        logits = hidden[..., :D] @ emb.T + hidden[..., D:].flip(2) @ emb[head_cmap].T
    else:
        hidden = norm(s, pre + "norm_f.")
        logits = hidden @ emb.T
    tgt = torch.tensor(targets)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), ignore_index=PAD)
    loss.backward()

    out = {"input_ids": ids.astype(np.int64), "targets": targets.astype(np.int64),
           "loss": np.array([loss.item()])}
    for k, v in params.items():
        out["grad." + k] = v.grad.detach().numpy().copy()
    path = os.path.join(GOLDEN, f"grads_{name}.safetensors")
    st_io.save_file(out, path, metadata={"generator": "tests/reference/grad_ref.py (PyTorch autograd, float64)"})
    print(f"{name}: loss {loss.item():.12f}, {len(params)} gradients -> {path}")


MODELS = ("mamba", "caduceus_ph", "mamba_ln", "caduceus_ph_ln_mul", "caduceus_ps_ln_mul")

if __name__ == "__main__":
    for model in sys.argv[1:] or MODELS:
        run(model)
