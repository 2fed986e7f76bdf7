#!/usr/bin/python3
"""bench/torch_cpu.py: the peer of build/bench/cpu. Runs the same models in
PyTorch on the CPU the way users run them there: mamba_ssm's Mamba.forward
"slow path" (no causal_conv1d, no CUDA) with the reference selective scan
(selective_scan_ref: a Python loop over time steps), inside Caduceus's
BiMamba wrapper and the pre-norm residual blocks.

    bench/torch_cpu.py [-t THREADS] [--repeat R] [--max-steps S] [--tsv FILE]
                       [--workload MODEL:B:L:NAME ...]

With no --workload, creates the four models of build/bench/cpu with
`mambadna init` in a temporary directory and times its four workloads.

Weights come from a mambadna model file (safetensors, read with json + numpy).
Before any timing, every model is checked against `mambadna embed` on a short
sequence (relative error of the final hidden states < 1e-4), so the timing is
of the same model. The forward is then timed in float32 under
torch.inference_mode() with torch.set_num_threads(THREADS), best of R runs
after one warm-up. The reference scan is a Python loop over time steps, run
once per layer and direction; where layers x directions x L would exceed
--max-steps (default 131072) the sequence is timed at the longest power-of-two
L within it, and tokens/s are those of that length (said in the output).
Beyond a few thousand steps the reference's cost per token no longer falls
with L (it rises slowly: 141-144 tokens/s at L=4096 against 108 at L=16384
for the d256 x16 model on a 2-core machine), so timing at L >= 4096 does not
understate PyTorch; --max-steps 0 times every full length.

Needs Debian's python3-torch (`apt-get install python3-torch`) and numpy.
Written from the published mamba_ssm (state-spaces/mamba: mamba_simple.py,
ops/selective_scan_interface.py) and Caduceus (modeling_caduceus.py) sources;
no mamba_ssm or einops import is needed.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit("bench/torch_cpu.py: PyTorch is not installed (Debian: apt-get install python3-torch)")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# The workloads of bench/cpu.c (same names, so that rows can be joined).
DEFAULT_WORKLOADS = [
    ("caduceus-ph", 256, 16, 1, 16384, "Caduceus-131k size (BiMamba d256 x16), B=1 L=16384"),
    ("caduceus-ph", 128, 4, 1, 16384, "small (BiMamba d128 x4), B=1 L=16384"),
    ("caduceus-ph", 128, 4, 64, 300, "small (BiMamba d128 x4), B=64 L=300 windows"),
    ("mamba", 128, 4, 1, 16384, "small causal (Mamba d128 x4), B=1 L=16384"),
]

TOKENS = {"A": 7, "C": 8, "G": 9, "T": 10, "N": 11}

# ---------------------------------------------------------------------------
# Model file (safetensors: u64le header length, JSON header, raw data)
# ---------------------------------------------------------------------------


def load_model_file(path):
    """Returns (config dict, {name: float32 torch tensor})."""
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError as e:
        raise SystemExit(f"bench/torch_cpu.py: {e}")
    hlen = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + hlen].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    if "mambadna.config" not in meta:
        raise SystemExit(f"{path}: not a mambadna model file (no mambadna.config metadata)")
    cfg = json.loads(meta["mambadna.config"])
    data = memoryview(blob)[8 + hlen:]
    tensors = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        raw = data[b:e]
        dt = info["dtype"]
        if dt == "F32":
            a = np.frombuffer(raw, dtype="<f4")
        elif dt == "F64":
            a = np.frombuffer(raw, dtype="<f8").astype(np.float32)
        elif dt == "F16":
            a = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif dt == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise SystemExit(f"{path}: tensor {name}: unsupported dtype {dt}")
        tensors[name] = torch.from_numpy(a.astype(np.float32).reshape(info["shape"]).copy())
    return cfg, tensors


class MambaParams:
    """The tensors of one mamba_ssm Mamba module (mixer)."""

    def __init__(self, t, prefix, tied=None):
        g = lambda n: t[prefix + n]
        self.in_proj = tied.in_proj if tied else g("in_proj.weight")      # (2E, D)
        self.out_proj = tied.out_proj if tied else g("out_proj.weight")   # (D, E)
        self.conv_w = g("conv1d.weight")                                  # (E, 1, K)
        self.conv_b = t.get(prefix + "conv1d.bias")                       # (E)
        self.x_proj = g("x_proj.weight")                                  # (R + 2N, E)
        self.dt_proj_w = g("dt_proj.weight")                              # (E, R)
        self.dt_proj_b = g("dt_proj.bias")                                # (E)
        self.A_log = g("A_log")                                           # (E, N)
        self.D = g("D")                                                   # (E)


class Model:
    def __init__(self, path):
        self.cfg, t = load_model_file(path)
        c = self.cfg
        arch = c["arch"]
        if arch not in ("mamba", "caduceus-ph"):
            raise SystemExit(f"{path}: arch {arch}: this benchmark runs mamba and caduceus-ph models")
        self.arch = arch
        self.d_state, self.dt_rank = c.get("d_state", 16), c["dt_rank"]
        self.rms = c.get("rms_norm", True)
        self.eps = c.get("norm_eps", 1e-5)
        self.combine = c.get("combine", "add")
        pre = "backbone." if arch == "mamba" else "caduceus.backbone."
        self.embedding = t[pre + ("embedding.weight" if arch == "mamba" else
                                  "embeddings.word_embeddings.weight")]
        self.layers = []
        for i in range(c["n_layer"]):
            lp = f"{pre}layers.{i}."
            norm = (t[lp + "norm.weight"], t.get(lp + "norm.bias"))
            if arch == "mamba":
                mix = (MambaParams(t, lp + "mixer."), None)
            else:
                fwd = MambaParams(t, lp + "mixer.mamba_fwd.")
                # mamba_rev's in_proj / out_proj are tied to mamba_fwd's (absent in the file)
                mix = (fwd, MambaParams(t, lp + "mixer.mamba_rev.", tied=fwd))
            self.layers.append((norm, mix))
        self.norm_f = (t[pre + "norm_f.weight"], t.get(pre + "norm_f.bias"))


# ---------------------------------------------------------------------------
# The forward, as mamba_ssm / Caduceus compute it on a CPU
# ---------------------------------------------------------------------------

SCAN_TIME = [0.0]  # seconds inside the reference scan's time loop


def selective_scan_ref(u, delta, A, B, C, D, z, delta_bias, delta_softplus=True):
    """mamba_ssm's reference scan, variable B and C (b, n, l), real A.
    u, delta, z: (b, d, l); A: (d, n); D, delta_bias: (d). Returns (b, d, l)."""
    u = u.float()
    delta = delta.float() + delta_bias[..., None].float()
    if delta_softplus:
        delta = F.softplus(delta)
    B, C = B.float(), C.float()
    batch, dim, dstate = u.shape[0], A.shape[0], A.shape[1]
    x = A.new_zeros((batch, dim, dstate))
    deltaA = torch.exp(torch.einsum("bdl,dn->bdln", delta, A))
    deltaB_u = torch.einsum("bdl,bnl,bdl->bdln", delta, B, u)
    ys = []
    t0 = time.perf_counter()
    for i in range(u.shape[2]):
        x = deltaA[:, :, i] * x + deltaB_u[:, :, i]
        ys.append(torch.einsum("bdn,bn->bd", x, C[:, :, i]))
    SCAN_TIME[0] += time.perf_counter() - t0
    y = torch.stack(ys, dim=2)  # (b, d, l)
    out = y + u * D[:, None]
    return out * F.silu(z)


def mamba_forward(p, h, d_state, dt_rank):
    """mamba_ssm Mamba.forward without the fused kernels. h: (b, l, D) -> (b, l, D)."""
    batch, seqlen, dim = h.shape
    # in_proj as one matmul with the (b l) -> (b, d, l) layout of the reference
    xz = (p.in_proj @ h.reshape(batch * seqlen, dim).t()).reshape(-1, batch, seqlen).permute(1, 0, 2)
    A = -torch.exp(p.A_log.float())
    x, z = xz.chunk(2, dim=1)
    E, K = p.conv_w.shape[0], p.conv_w.shape[-1]
    # nn.Conv1d(E, E, K, groups=E, padding=K-1), truncated to seqlen, then SiLU
    x = F.silu(F.conv1d(x, p.conv_w, p.conv_b, padding=K - 1, groups=E)[..., :seqlen])
    x_dbl = F.linear(x.permute(0, 2, 1).reshape(batch * seqlen, E), p.x_proj)  # (b l, R + 2N)
    dt, Bm, Cm = torch.split(x_dbl, [dt_rank, d_state, d_state], dim=-1)
    dt = (p.dt_proj_w @ dt.t()).reshape(E, batch, seqlen).permute(1, 0, 2)   # (b, E, l)
    Bm = Bm.reshape(batch, seqlen, d_state).permute(0, 2, 1).contiguous()    # (b, N, l)
    Cm = Cm.reshape(batch, seqlen, d_state).permute(0, 2, 1).contiguous()
    y = selective_scan_ref(x, dt, A, Bm, Cm, p.D.float(), z, p.dt_proj_b.float(), True)
    return F.linear(y.permute(0, 2, 1), p.out_proj)


def norm(m, x, w, b):
    if m.rms:  # mamba_ssm rms_norm_ref
        out = x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + m.eps) * w
        return out + b if b is not None else out
    return F.layer_norm(x, (x.shape[-1],), w, b, m.eps)


def model_forward(m, tokens):
    """tokens: (b, l) int64 -> final hidden states (b, l, D)."""
    hidden, residual = F.embedding(tokens, m.embedding), None
    for (nw, nb), (fwd, rev) in m.layers:
        # mamba_ssm Block (prenorm, residual_in_fp32): residual += hidden; hidden = mixer(norm(residual))
        residual = hidden if residual is None else hidden + residual
        h = norm(m, residual, nw, nb)
        out = mamba_forward(fwd, h, m.d_state, m.dt_rank)
        if rev is not None:  # Caduceus BiMambaWrapper
            out_rev = mamba_forward(rev, h.flip(dims=(1,)), m.d_state, m.dt_rank).flip(dims=(1,))
            out = out + out_rev if m.combine == "add" else out * out_rev
        hidden = out
    residual = hidden + residual
    return norm(m, residual, *m.norm_f)


# ---------------------------------------------------------------------------
# Correctness against mambadna, timing
# ---------------------------------------------------------------------------


def check_against_mambadna(mambadna, model, path, threads, length, tmp):
    rng = np.random.default_rng(12345)
    seq = "".join(rng.choice(list("ACGT"), size=length))
    seq = seq[:100] + "NNNNN" + seq[105:]
    fa = os.path.join(tmp, "check.fa")
    out = os.path.join(tmp, "check.npy")
    with open(fa, "w") as f:
        f.write(">check\n")
        for i in range(0, len(seq), 60):
            f.write(seq[i:i + 60] + "\n")
    r = subprocess.run([mambadna, "embed", "-m", path, "-t", str(threads), "-o", out, fa],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{mambadna} embed failed on {path}:\n{r.stderr}")
    ref = np.load(out).astype(np.float64)
    tok = torch.tensor([[TOKENS[c] for c in seq]], dtype=torch.int64)
    with torch.inference_mode():
        got = model_forward(model, tok)[0].double().numpy()
    if ref.shape != got.shape:
        raise SystemExit(f"{path}: shapes differ: mambadna {ref.shape}, PyTorch {got.shape}")
    diff = got - ref
    rel_max = float(np.abs(diff).max() / np.abs(ref).max())
    rel_fro = float(np.linalg.norm(diff) / np.linalg.norm(ref))
    return rel_max, rel_fro


def bench_tokens(B, L):
    """The token pattern of bench/cpu.c: A + (i * 2654435761 >> 7) % 4."""
    i = np.arange(B * L, dtype=np.int64)
    return torch.from_numpy((7 + ((i * 2654435761) >> 7) % 4).reshape(B, L))


def time_forward(model, B, L, repeat):
    tok = bench_tokens(B, L)
    best, best_scan = float("inf"), 0.0
    with torch.inference_mode():
        model_forward(model, bench_tokens(B, min(L, 512)))  # warm-up (one-time set-up costs)
        for _ in range(repeat):
            SCAN_TIME[0] = 0.0
            t = time.perf_counter()
            model_forward(model, tok)
            t = time.perf_counter() - t
            if t < best:
                best, best_scan = t, SCAN_TIME[0]
    return best, best_scan


def timed_len(model, L, max_steps):
    """L, or the longest power of two whose loop steps fit in max_steps."""
    per_l = len(model.layers) * (1 if model.arch == "mamba" else 2)
    if max_steps <= 0 or per_l * L <= max_steps:
        return L
    Lt = 1
    while per_l * Lt * 2 <= max_steps and Lt * 2 < L:
        Lt *= 2
    return Lt


def parse_workload(s):
    parts = s.split(":", 3)
    if len(parts) != 4:
        raise argparse.ArgumentTypeError("expected MODEL:B:L:NAME")
    return parts[0], int(parts[1]), int(parts[2]), parts[3]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-t", "--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per workload (best taken) [3]")
    ap.add_argument("--max-steps", type=int, default=131072,
                    help="Python-loop steps per forward (layers x directions x L) above which "
                    "a shorter L is timed [131072]; 0: always the full length")
    ap.add_argument("--check-len", type=int, default=600, help="length of the check sequence [600]")
    ap.add_argument("--no-check", action="store_true", help="skip the check against mambadna")
    ap.add_argument("--mambadna", default=os.path.join(ROOT, "mambadna"))
    ap.add_argument("--workload", type=parse_workload, action="append", default=[],
                    metavar="MODEL:B:L:NAME")
    ap.add_argument("--tsv", help="also write name, tokens/s, timed B, timed L, threads to this file")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    tmp = tempfile.mkdtemp(prefix="torch_cpu.")
    try:
        work = list(a.workload)
        if not work:
            for arch, d, n, B, L, name in DEFAULT_WORKLOADS:
                path = os.path.join(tmp, f"{arch}-d{d}-l{n}.safetensors")
                if not os.path.exists(path):
                    subprocess.run([a.mambadna, "init", "-a", arch, "-d", str(d), "-l", str(n),
                                    "-o", path], check=True, stdout=subprocess.DEVNULL)
                work.append((path, B, L, name))
        print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, float32, "
              f"mamba_ssm slow path + selective_scan_ref; load average "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        models = {}
        for path, _, _, _ in work:
            if path in models:
                continue
            models[path] = Model(path)
            if not a.no_check:
                rel_max, rel_fro = check_against_mambadna(a.mambadna, models[path], path,
                                                          a.threads, a.check_len, tmp)
                ok = rel_max < 1e-4 and rel_fro < 1e-4
                print(f"check {os.path.basename(path)} vs mambadna embed (L={a.check_len}): "
                      f"max|diff|/max|ref| {rel_max:.2e}, ||diff||/||ref|| {rel_fro:.2e}: "
                      f"{'ok' if ok else 'FAILED'}")
                if not ok:
                    sys.exit("bench/torch_cpu.py: PyTorch and mambadna disagree; not timing")
        print()
        print("| workload | timed B x L | tokens/s | time s | scan loop s |")
        print("|---|---|---|---|---|")
        rows = []
        for path, B, L, name in work:
            Lt = timed_len(models[path], L, a.max_steps)
            t, scan = time_forward(models[path], B, Lt, a.repeat)
            tps = B * Lt / t
            print(f"| {name} | {B} x {Lt}{'' if Lt == L else ' (of ' + str(L) + ')'} | "
                  f"{tps:.0f} | {t:.3f} | {scan:.3f} |", flush=True)
            rows.append((name, tps, B, Lt))
        if any(Lt < L for (_, _, L, _), (_, _, _, Lt) in zip(work, rows)):
            print("\nRows marked (of L) were timed at the shorter L shown and report tokens/s "
                  "at that length: the reference scan is a Python loop over time steps, whose "
                  "cost per token stops falling once L reaches a few thousand (fixed per-call "
                  "costs amortised) and then rises slowly with L, so from L=4096 on the shorter "
                  "timing does not understate PyTorch (--max-steps 0: full length).")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if a.tsv:
            with open(a.tsv, "w") as f:
                for name, tps, B, Lt in rows:
                    f.write(f"{name}\t{tps:.1f}\t{B}\t{Lt}\t{torch.get_num_threads()}\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
