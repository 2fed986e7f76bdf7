#!/usr/bin/env python3
"""Per-base track check and call calibration of a genome-scan model.

Reads a bedGraph track written by `mambadna score` over a region, the TSS
positions of the region (BED, one base each) and the gene annotation, and
reports:
  - the AUROC of the track value at TSS positions against background
    positions (every 100th base at least 5 kb from any annotated TSS);
  - for a range of thresholds: calls per Mb (merged runs of bases at or
    above the threshold), their precision (calls within 1 kb of an annotated
    TSS) and the TSS recall (TSSs within 1 kb of a call);
  - with --precision P: the lowest threshold whose calls reach precision P;
  - with --fasta F --window W: the same AUROC for the trivial baselines, GC
    content and CpG o/e of the W bases centred on each position.

Usage: track_auroc.py --track T.bedgraph --tss TSS.bed --region CONTIG:BEG-END
                      [--all-tss ALL_TSS.bed] [--precision P] [--fasta F --window W]
                      [--json OUT]"""

import argparse
import gzip
import json
import sys

import numpy as np

NEAR = 1_000
BACKGROUND_MIN_DIST = 5_000


def read_track(path, contig, beg, end):
    """Values per base of [beg, end), NaN where the track has none."""
    v = np.full(end - beg, np.nan, dtype=np.float32)
    with open(path) as f:
        for line in f:
            if line.startswith(("track", "browser", "#")):
                continue
            c, s, e, x = line.split()[:4]
            if c != contig:
                continue
            s, e = max(int(s), beg), min(int(e), end)
            if s < e:
                v[s - beg : e - beg] = float(x)
    return v


def read_points(path, contig):
    with open(path) as f:
        return np.array(sorted(int(l.split()[1]) for l in f if l.split()[0] == contig), dtype=np.int64)


def read_contig(path, contig):
    opener = gzip.open if path.endswith((".gz", ".bgz")) else open
    parts, keep = [], False
    with opener(path, "rt") as f:
        for line in f:
            if line.startswith(">"):
                if keep:
                    break
                keep = line[1:].split()[0] == contig
            elif keep:
                parts.append(line.strip().upper())
    return "".join(parts)


def composition_at(seq, points, w):
    """GC fraction and CpG o/e of the w bases centred on each point."""
    a = np.frombuffer(seq.encode(), dtype=np.uint8)
    def csum(mask):
        return np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])
    acgt = csum(np.isin(a, np.frombuffer(b"ACGT", dtype=np.uint8)))
    c, g = csum(a == ord("C")), csum(a == ord("G"))
    cg = csum(np.concatenate([(a[:-1] == ord("C")) & (a[1:] == ord("G")), [False]]))
    s = np.clip(points - w // 2, 0, len(a) - w)
    e = s + w
    n, nc, ng, ncg = acgt[e] - acgt[s], c[e] - c[s], g[e] - g[s], cg[e - 1] - cg[s]
    gc = np.where(n > 0, (nc + ng) / np.maximum(n, 1), 0.0)
    oe = np.where(nc * ng > 0, ncg * n / np.maximum(nc * ng, 1), 0.0)
    return gc, oe


def auroc(pos, neg):
    x = np.concatenate([pos, neg])
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    xs = x[order]
    i = 0
    while i < len(xs):  # average ranks of ties
        j = i
        while j + 1 < len(xs) and xs[j + 1] == xs[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return (ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


def dist_to(points, x):
    i = np.searchsorted(points, x)
    left = np.abs(x - points[np.clip(i - 1, 0, len(points) - 1)])
    right = np.abs(points[np.clip(i, 0, len(points) - 1)] - x)
    return np.minimum(left, right)


def calls(v, beg, threshold):
    """Merged runs of bases >= threshold: arrays of starts and ends."""
    above = np.concatenate([[False], np.nan_to_num(v, nan=-1) >= threshold, [False]])
    d = np.diff(above.astype(np.int8))
    return np.flatnonzero(d == 1) + beg, np.flatnonzero(d == -1) + beg


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--track", required=True)
    ap.add_argument("--tss", required=True, help="TSS positions of the evaluated genes")
    ap.add_argument("--all-tss", help="every annotated TSS (for the background and precision) [--tss]")
    ap.add_argument("--region", required=True, help="CONTIG:BEG-END, 1-based inclusive")
    ap.add_argument("--precision", type=float, help="report the lowest threshold reaching this precision")
    ap.add_argument("--fasta", help="the genome, for the GC and CpG o/e baselines")
    ap.add_argument("--window", type=int, default=300, help="baseline window [300]")
    ap.add_argument("--json")
    a = ap.parse_args()
    contig, span = a.region.rsplit(":", 1)
    beg, end = (int(x.replace(",", "")) for x in span.split("-"))
    beg -= 1
    v = read_track(a.track, contig, beg, end)
    tss = read_points(a.tss, contig)
    tss = tss[(tss >= beg) & (tss < end)]
    all_tss = read_points(a.all_tss or a.tss, contig)
    grid = np.arange(beg, end, 100)
    bg = grid[dist_to(all_tss, grid) >= BACKGROUND_MIN_DIST]
    tss, bg = tss[~np.isnan(v[tss - beg])], bg[~np.isnan(v[bg - beg])]
    pos, neg = v[tss - beg], v[bg - beg]
    out = {"region": a.region, "tss": int(len(pos)), "background_positions": int(len(neg)),
           "track_auroc": float(auroc(pos, neg)), "thresholds": []}
    if a.fasta:
        seq = read_contig(a.fasta, contig)
        (gp, op), (gn, on) = composition_at(seq, tss, a.window), composition_at(seq, bg, a.window)
        out["gc_auroc"], out["cpg_oe_auroc"] = float(auroc(gp, gn)), float(auroc(op, on))
    mb = (end - beg) / 1e6
    for t in np.round(np.arange(0.05, 1.0, 0.05), 2):
        s, e = calls(v, beg, t)
        if len(s) == 0:
            out["thresholds"].append({"threshold": float(t), "calls_per_mb": 0.0, "precision": None, "tss_recall": 0.0})
            continue
        mid = (s + e) // 2
        near = dist_to(all_tss, mid) <= NEAR + (e - s) // 2 if len(all_tss) else np.zeros(len(s), bool)
        hit = np.zeros(len(tss), bool)
        for i, x in enumerate(tss):
            k = np.searchsorted(e, x - NEAR)
            hit[i] = k < len(s) and s[k] <= x + NEAR
        out["thresholds"].append({"threshold": float(t), "calls_per_mb": len(s) / mb,
                                  "precision": float(near.mean()), "tss_recall": float(hit.mean())})
    if a.precision is not None:
        ok = [r for r in out["thresholds"] if r["precision"] is not None and r["precision"] >= a.precision]
        out["calibrated"] = ok[0] if ok else None
    print(f"{a.region}: track AUROC {out['track_auroc']:.4f} ({out['tss']} TSS, {out['background_positions']} background positions)")
    if a.fasta:
        print(f"baselines on the same positions ({a.window}-base windows): GC {out['gc_auroc']:.4f}, CpG o/e {out['cpg_oe_auroc']:.4f}")
    print("threshold\tcalls/Mb\tprecision\tTSS recall")
    for r in out["thresholds"]:
        p = "NA" if r["precision"] is None else f"{r['precision']:.3f}"
        print(f"{r['threshold']:.2f}\t{r['calls_per_mb']:.1f}\t{p}\t{r['tss_recall']:.3f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
