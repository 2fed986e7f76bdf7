"""Figures of docs/: ROC curves of the genome-scan models and the GC / CpG
o/e baselines on the dev and held-out test windows, ROC curves of the GUE
test predictions, the promoter track of the bundled human models over a
known promoter (EPDnew HIC2_2, whose TSS lies in the bundled chr22
sequence), and training curves.

usage: figures.py --results DIR --mambadna PROGRAM --docs OUTDIR
"""
import argparse
import glob
import json
import os
import subprocess
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

# EPDnew FP002887 (HIC2_2, minus strand): its -249..+50 sequence occurs
# reverse complemented at offset 424484 of data/genomes/22_20-21M.fa, so the
# TSS is base 424534 of that sequence (0-based), GRCh37 chr22:20,424,535.
HIC2_TSS = 424534
CONTIG = "22:20000001-21000000"


def roc(labels, scores):
    order = np.argsort(-scores, kind="mergesort")
    y = labels[order]
    tps = np.cumsum(y)
    fps = np.cumsum(1 - y)
    tpr = np.concatenate([[0], tps / max(tps[-1], 1)])
    fpr = np.concatenate([[0], fps / max(fps[-1], 1)])
    return fpr, tpr


def read_predictions(path):
    """labels, p1 and, when present, the gc and cpg_oe columns of eval -p."""
    rows = [line.rstrip("\n").split("\t") for line in open(path) if line.strip()]
    head, rows = rows[0], [r for r in rows[1:] if r[1] in ("0", "1")]
    cols = {k: np.array([float(r[head.index(k)]) for r in rows]) for k in head if k in ("p1", "gc", "cpg_oe")}
    return np.array([int(r[1]) for r in rows]), cols


def roc_genome_scan(results, out):
    splits = [s for s in ("dev", "test") if glob.glob(os.path.join(results, "genome_scan", f"*.{s}.tsv"))]
    if not splits:
        return
    fig, axes = plt.subplots(1, len(splits), figsize=(5 * len(splits), 5), squeeze=False)
    for ax, split in zip(axes[0], splits):
        baselines = None
        for path in sorted(glob.glob(os.path.join(results, "genome_scan", f"*.{split}.tsv"))):
            labels, cols = read_predictions(path)
            fpr, tpr = roc(labels, cols["p1"])
            name = os.path.basename(path).split(".")[0]
            ax.plot(fpr, tpr, label=f"{name} (AUROC {np.trapz(tpr, fpr):.3f})")
            baselines = (labels, cols)
        labels, cols = baselines
        for key, style in (("gc", "--"), ("cpg_oe", ":")):
            if key in cols:
                fpr, tpr = roc(labels, cols[key])
                ax.plot(fpr, tpr, "k" + style, lw=1, label=f"{key} baseline (AUROC {np.trapz(tpr, fpr):.3f})")
        ax.plot([0, 1], [0, 1], color="0.7", lw=0.6)
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        where = "chr20:1-5 Mb + chr22 piece" if split == "dev" else "chr20 from 30,000,001 (held out)"
        ax.set_title(f"RefSeq TSS vs background windows, {split}\n{where}", fontsize=9)
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "roc_genome_scan.png"), dpi=120)
    plt.close(fig)


def roc_figure(results, out):
    files = sorted(glob.glob(os.path.join(results, "gue", "*.test.tsv")))
    if not files:
        return
    fig, ax = plt.subplots(figsize=(5, 5))
    for path in files:
        rows = [line.rstrip("\n").split("\t") for line in open(path) if line.strip()]
        rows = [r for r in rows if r[1] in ("0", "1")]
        labels = np.array([int(r[1]) for r in rows])
        scores = np.array([float(r[2]) for r in rows])
        fpr, tpr = roc(labels, scores)
        auc = np.trapz(tpr, fpr)
        name = os.path.basename(path)[: -len(".test.tsv")]
        ax.plot(fpr, tpr, label=f"{name} (AUROC {auc:.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("GUE promoter tasks, test splits")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "roc_gue.png"), dpi=120)
    plt.close(fig)


def track_figure(mambadna, out):
    beg, end = HIC2_TSS - 5000, HIC2_TSS + 5000
    fig, ax = plt.subplots(figsize=(8, 3))
    for model in ("promoter-human", "promoter-human-large"):
        path = f"data/models/{model}.safetensors"
        if not os.path.exists(path):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            track = os.path.join(tmp, "t.bedgraph")
            region = "{%s}:%d-%d" % (CONTIG, beg + 1, end)
            subprocess.run([mambadna, "score", "--device", "cpu", "-m", path, "-s", "10", "-r", region,
                            "-o", track, "data/genomes/22_20-21M.fa"], check=True)
            rows = [line.split("\t") for line in open(track)
                    if line.strip() and not line.startswith(("track", "browser", "#"))]
        # coordinates on chr22 itself, or on the piece when its name is kept
        offset = 20000000 if rows[0][0] == "22" else 0
        x = np.array([[int(r[1]), int(r[2])] for r in rows]).ravel() - offset - HIC2_TSS
        y = np.repeat([float(r[3]) for r in rows], 2)
        ax.plot(x, y, lw=1, label=model)
    ax.axvline(0, color="k", ls="--", lw=0.8, label="EPDnew TSS (HIC2, - strand)")
    ax.set_xlabel("position relative to the TSS (bp), GRCh37 chr22:%d" % (20000000 + HIC2_TSS + 1))
    ax.set_ylabel("promoter probability")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title("mambadna score: per-base track of the bundled genome-scan models (300 bp windows)")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "track_hic2.png"), dpi=120)
    plt.close(fig)


def curves_figure(results, out):
    logs = sorted(glob.glob(os.path.join(results, "logs", "*.jsonl")))
    if not logs:
        return
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for path in logs:
        name = os.path.basename(path)[:-6]
        steps, losses, evs, mccs = [], [], [], []
        for line in open(path):
            o = json.loads(line)
            if o.get("type") == "step":
                steps.append(o["step"])
                losses.append(o["loss"])
            elif o.get("type") == "eval" and "dev" in o:
                evs.append(o["step"])
                mccs.append(o["dev"].get("mcc"))
        if steps:
            k = max(1, len(losses) // 50)
            smooth = np.convolve(losses, np.ones(k) / k, mode="valid")
            axes[0].plot(steps[k - 1:], smooth, lw=1, label=name)
        if evs:
            axes[1].plot(evs, mccs, marker="o", ms=3, lw=1, label=name)
    axes[0].set_xlabel("step")
    axes[0].set_ylabel("training loss (moving mean)")
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("dev MCC")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "training_curves.png"), dpi=120)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--mambadna", required=True)
    ap.add_argument("--docs", required=True)
    a = ap.parse_args()
    os.makedirs(a.docs, exist_ok=True)
    roc_genome_scan(a.results, a.docs)
    roc_figure(a.results, a.docs)
    track_figure(a.mambadna, a.docs)
    curves_figure(a.results, a.docs)


if __name__ == "__main__":
    main()
