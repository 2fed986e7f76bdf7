#!/usr/bin/env python3
"""Attributions and TATA-box variants on real human TATA promoters.

    attribution_logo.py --promoters hs_promoter_tata.fa [--mambadna ./mambadna]
        [--model MODEL] [--n 100] [--work DIR] [--out docs/figures/attribution_logo.png]

Takes the first N EPDnew TATA promoters (-249..+50 around the TSS) whose
TATA box (TATAWAW) starts between -35 and -26, writes them as a FASTA
"genome" (one contig each, indexed), and runs through the mambadna program:

  * `mambadna variants` on a VCF of TATA-breaking mutations (the TATA core
    to GCGC, and the single SNV TATA -> TAGA) and of a control (the same
    GCGC MNV at -150): the change of the promoter score per variant;
  * `mambadna explain` (ISM): the mean drop of the score over the three
    substitutions of every base, averaged over the promoters by position.

Prints the figures as a Markdown table and draws OUT: the mean ISM
importance by position, and an attribution logo over -60..+20 of one
promoter (letter height = the drop of the score when that base is
replaced), TATA box and TSS marked.
"""
import argparse
import math
import os
import re
import subprocess

import numpy as np


def read_fasta(path):
    out, name, seq = [], None, []
    for line in open(path):
        line = line.strip()
        if line.startswith(">"):
            if name is not None:
                out.append((name, "".join(seq)))
            name, seq = line[1:].split()[0], []
        elif line:
            seq.append(line)
    if name is not None:
        out.append((name, "".join(seq)))
    return out


TSS = 249  # index of the TSS (+1) in the -249..+50 sequences
TATA = re.compile(r"(?=TATA[AT]A[AT])")


def pick(promoters, n):
    chosen = []
    for name, seq in promoters:
        seq = seq.upper()
        hits = [m.start() for m in TATA.finditer(seq) if TSS - 35 <= m.start() <= TSS - 26]
        if len(seq) == 300 and hits and "N" not in seq:
            chosen.append((name, seq, hits[0]))
        if len(chosen) == n:
            break
    return chosen


def sign_test_p(k, n):
    """Two-sided binomial sign test: P(at least as extreme as k of n | p = 1/2)."""
    k = max(k, n - k)
    tail = sum(math.comb(n, i) for i in range(k, n + 1)) / 2.0 ** n
    return min(1.0, 2 * tail)


def change_row(what, d):
    """A table row: n, mean, median, lower / higher / unchanged, sign test
    on the changed ones."""
    lo, hi = int((d < 0).sum()), int((d > 0).sum())
    return (f"| {what} | {len(d)} | {d.mean():+.4f} | {np.median(d):+.4f} | {lo} / {hi} / "
            f"{len(d) - lo - hi} | {sign_test_p(lo, lo + hi):.1e} |")


def run(cmd):
    subprocess.run(cmd, check=True, stderr=subprocess.PIPE)


def variants(args, chosen, work):
    vcf = os.path.join(work, "tata_variants.vcf")
    with open(vcf, "w") as f:
        f.write("##fileformat=VCFv4.2\n")
        for i, _ in enumerate(chosen):
            f.write(f"##contig=<ID=p{i},length=300>\n")
        f.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for i, (_, seq, t) in enumerate(chosen):
            f.write(f"p{i}\t{t + 1}\ttata_gcgc\t{seq[t:t + 4]}\tGCGC\t.\t.\t.\n")
            f.write(f"p{i}\t{t + 3}\ttata_snv\tT\tG\t.\t.\t.\n")
            c = TSS - 150
            if seq[c:c + 4] != "GCGC":
                f.write(f"p{i}\t{c + 1}\tcontrol_gcgc\t{seq[c:c + 4]}\tGCGC\t.\t.\t.\n")
    out = os.path.join(work, "tata_variants.out.vcf")
    cmd = [args.mambadna, "variants", "-T", os.path.join(work, "promoters.fa"), "-o", out,
           "--no-progress", vcf]
    if args.model:
        cmd[2:2] = ["-m", args.model]
    run(cmd)
    deltas = {}
    for line in open(out):
        if line.startswith("#"):
            continue
        cols = line.split("\t")
        info = dict(kv.split("=", 1) for kv in cols[7].split(";") if "=" in kv)
        if "MD_DELTA" in info:
            deltas.setdefault(cols[2], []).append(float(info["MD_DELTA"]))
    return deltas


def promoter_scores(args, chosen, work, beg=0, end=300):
    """Score of bases [beg, end) of each promoter (its best window, as `score
    --per-region`) as it is and with each mutation: {kind: (n,)}."""
    fa = os.path.join(work, f"mutants_{beg}_{end}.fa")
    kinds = ("ref", "tata_gcgc", "tata_snv", "control_gcgc")
    with open(fa, "w") as f:
        for i, (_, seq, t) in enumerate(chosen):
            c = TSS - 150
            mutants = (seq, seq[:t] + "GCGC" + seq[t + 4:], seq[:t + 2] + "G" + seq[t + 3:],
                       seq[:c] + "GCGC" + seq[c + 4:])
            for kind, m in zip(kinds, mutants):
                f.write(f">{kind}.{i}\n{m[beg:end]}\n")
    cmd = [args.mambadna, "score", "-f", "tsv", "--no-progress", fa]
    if args.model:
        cmd[2:2] = ["-m", args.model]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    best = {}
    for line in out.splitlines():
        name, score = line.split("\t")[0], float(line.split("\t")[5])
        best[name] = max(best.get(name, -1.0), score)
    return {k: np.array([best[f"{k}.{i}"] for i in range(len(chosen))]) for k in kinds}


def ism(args, work):
    """ISM of every promoter (n, 300, 4); an earlier run's output in the work
    directory is reused."""
    npy = os.path.join(work, "ism.npy")
    fa = os.path.join(work, "promoters.fa")
    if not (os.path.exists(npy) and os.path.getmtime(npy) > os.path.getmtime(fa)):
        cmd = [args.mambadna, "explain", "-o", npy, "--no-progress", fa]
        if args.model:
            cmd[2:2] = ["-m", args.model]
        run(cmd)
    return np.load(npy).reshape(-1, 300, 4)


def draw_logo(ax, seq, heights, x0):
    from matplotlib.font_manager import FontProperties
    from matplotlib.patches import PathPatch
    from matplotlib.textpath import TextPath
    from matplotlib.transforms import Affine2D

    colours = {"A": "#109648", "C": "#255C99", "G": "#F7B32B", "T": "#D62839"}
    font = FontProperties(family="DejaVu Sans", weight="bold")
    for i, (b, h) in enumerate(zip(seq, heights)):
        path = TextPath((0, 0), b, size=1, prop=font)
        ext = path.get_extents()
        y0, sy = (0, h) if h >= 0 else (h, -h)
        t = (Affine2D().translate(-ext.x0, -ext.y0)
             .scale(0.9 / ext.width, sy / ext.height)
             .translate(x0 + i - 0.45, y0))
        ax.add_patch(PathPatch(t.transform_path(path), color=colours.get(b, "grey"), lw=0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--promoters", required=True)
    ap.add_argument("--mambadna", default="./mambadna")
    ap.add_argument("--model", default=None)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--work", default="results/attribution")
    ap.add_argument("--out", default="docs/figures/attribution_logo.png")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    chosen = pick(read_fasta(args.promoters), args.n)
    fa = os.path.join(args.work, "promoters.fa")
    text = "".join(f">p{i}\n{seq}\n" for i, (_, seq, _) in enumerate(chosen))
    if not os.path.exists(fa) or open(fa).read() != text:  # kept as it is for reuse
        with open(fa, "w") as f:
            f.write(text)
        run([args.mambadna, "faidx", fa])

    print(f"{len(chosen)} EPDnew human TATA promoters (TATA box starting at -35..-26)\n")
    for beg, end, what in ((0, 300, "the 300 bases -249..+50"),
                           (TSS - 150, TSS + 51, "the 201 bases -150..+51"),
                           (TSS - 34, TSS + 36, "the 70-base core -34..+36")):
        scores = promoter_scores(args, chosen, args.work, beg, end)
        print(f"Promoter score of {what} (its best window, as score --per-region), "
              f"mean {scores['ref'].mean():.4f} as they are:\n")
        print("| mutation | n | mean change | median | lower / higher / same | sign test p |")
        print("|---|---|---|---|---|---|")
        for kind, label in (("tata_gcgc", "TATA core -> GCGC"), ("tata_snv", "TATA -> TAGA (SNV)"),
                            ("control_gcgc", "GCGC at -150 (control)")):
            if kind == "control_gcgc" and beg > TSS - 150:
                continue
            print(change_row(label, scores[kind] - scores["ref"]))
        print()

    deltas = variants(args, chosen, args.work)
    print("`mambadna variants` (MD_DELTA: the window around the variant where it changes "
          "the score most):\n")
    print("| variants | n | mean MD_DELTA | median | lower / higher / same | sign test p |")
    print("|---|---|---|---|---|---|")
    for kind, what in (("tata_gcgc", "TATA core -> GCGC"), ("tata_snv", "TATA -> TAGA (SNV)"),
                       ("control_gcgc", "GCGC at -150 (control)")):
        print(change_row(what, np.array(deltas.get(kind, []))))

    a = ism(args, args.work)                       # (n, 300, 4)
    ref = np.array([["ACGT".index(b) for b in s] for _, s, _ in chosen])
    onehot = np.eye(4, dtype=bool)[ref]
    drop = -(np.where(onehot, 0, a).sum(-1) / 3)   # (n, 300) mean drop per base
    mean = drop.mean(0)
    pos = np.arange(300) - TSS                     # -249..+50 (0 is the TSS)
    pos[pos >= 0] += 1                             # no position 0: +1 is the TSS
    tata_rel = np.array([t for _, _, t in chosen])
    aligned = np.array([drop[i, t - 10:t + 18] for i, t in enumerate(tata_rel)]).mean(0)
    order = np.argsort(-mean)[:10]
    print("\nMean ISM importance (mean drop of the score over the 3 substitutions), "
          "averaged over the promoters:\n")
    print("| window | mean importance per base |")
    print("|---|---|")
    for what, lo, hi in (("TATA box (-33..-24)", TSS - 33, TSS - 23), ("around the TSS (-10..+10)", TSS - 10, TSS + 10),
                         ("upstream (-249..-60)", 0, TSS - 60), ("between (-23..-11)", TSS - 23, TSS - 10),
                         ("downstream (+11..+50)", TSS + 10, 300)):
        print(f"| {what} | {mean[lo:hi].mean():.5f} |")
    print("\nTop 10 positions:", ", ".join(f"{pos[i]:+d}" for i in order))
    print("TATA-aligned (box start = 0), mean importance -10..+17:",
          " ".join(f"{v:.4f}" for v in aligned))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11, 6.5), gridspec_kw={"height_ratios": [1, 1.3]})
    ax1.plot(pos, mean, lw=1.2, color="black")
    ax1.axvspan(-33, -24, color="#D62839", alpha=0.2, label="TATA box (-33..-24)")
    ax1.axvline(1, color="#255C99", ls="--", lw=1, label="TSS (+1)")
    ax1.set_xlim(-250, 51)
    ax1.set_xlabel("position relative to the TSS")
    ax1.set_ylabel("mean ISM importance")
    ax1.set_title(f"{len(chosen)} EPDnew human TATA promoters: mean drop of the promoter score "
                  "when a base is replaced")
    ax1.legend(loc="upper left", frameon=False)
    # the logo of the promoter with the largest importance in its TATA box
    i = int(np.argmax([drop[k, t:t + 8].sum() for k, t in enumerate(tata_rel)]))
    lo, hi = TSS - 60, TSS + 20
    seq = chosen[i][1]
    draw_logo(ax2, seq[lo:hi], drop[i, lo:hi], lo - TSS)
    ymax = max(1e-4, drop[i, lo:hi].max()) * 1.15
    ymin = min(0.0, drop[i, lo:hi].min()) * 1.15
    t = tata_rel[i] - TSS
    ax2.axvspan(t - 0.5, t + 6.5, color="#D62839", alpha=0.12)
    ax2.text(t + 3, ymax * 0.95, "TATA box", ha="center", va="top", color="#D62839")
    ax2.axvline(-0.5, color="#255C99", ls="--", lw=1)
    ax2.text(0, ymax * 0.95, " TSS", ha="left", va="top", color="#255C99")
    ax2.set_xlim(lo - TSS - 1, hi - TSS)
    ax2.set_ylim(ymin, ymax)
    ax2.axhline(0, color="grey", lw=0.5)
    ticks = list(range(-60, 20, 10))
    ax2.set_xticks(ticks)
    ax2.set_xticklabels([f"{x:+d}" if x < 0 else f"+{x + 1}" for x in ticks])
    ax2.set_ylabel("ISM importance of the base")
    ax2.set_title(f"{chosen[i][0]}: attribution logo, -60..+20")
    fig.tight_layout()
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    fig.savefig(args.out, dpi=130)
    print(f"\nLogo of {chosen[i][0]}; figure written to {args.out}")


if __name__ == "__main__":
    main()
