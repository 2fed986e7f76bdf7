#!/usr/bin/python3
"""Reference values for md_metrics_binary (tests/test_metrics.c).

Writes tests/data/labelled/metrics_golden.tsv: for a few fixed random sets of
(score, label), the inputs and the metrics computed here with numpy only, by
formulas independent of src/metrics.c:

  - AUROC: Mann-Whitney U from average ranks (ties share the mean rank),
    U = sum of the positives' ranks - P (P + 1) / 2, AUROC = U / (P N);
  - AUPRC: average precision as scikit-learn computes it (precision_recall_curve
    + average_precision_score): thresholds at the distinct scores, from the
    highest down, AP = sum_n (R_n - R_{n-1}) P_n;
  - confusion counts at p >= threshold; precision, recall, F1 = 2TP/(2TP+FP+FN)
    and MCC with exact integer arithmetic (0 where a denominator is 0).

Scores are float32 (as the model writes them) so that ties are the same in C;
they are written with repr(float(x)), which reads back exactly.

Run from the repository root:  /usr/bin/python3 tests/reference/metrics_ref.py
"""
import math
import os
import sys

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data",
                   "labelled", "metrics_golden.tsv")


def auroc_mann_whitney(s, y):
    P = int(y.sum())
    N = len(y) - P
    if P == 0 or N == 0:
        return float("nan")
    vals, inv, counts = np.unique(s, return_inverse=True, return_counts=True)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])  # 0-based first rank
    avg_rank = start + (counts + 1) / 2.0                     # 1-based mean rank
    ranks = avg_rank[inv]
    u = ranks[y == 1].sum() - P * (P + 1) / 2.0
    return float(u / (P * N))


def average_precision(s, y):
    order = np.argsort(-s.astype(np.float64), kind="mergesort")
    s_sorted = s[order]
    y_sorted = y[order]
    distinct = np.where(np.diff(s_sorted))[0]
    thr_idx = np.r_[distinct, len(y_sorted) - 1]
    tps = np.cumsum(y_sorted)[thr_idx]
    fps = 1 + thr_idx - tps
    if tps[-1] == 0:
        return float("nan")
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def counts_metrics(s, y, threshold):
    pred = s.astype(np.float64) >= threshold
    tp = int(np.sum(pred & (y == 1)))
    fp = int(np.sum(pred & (y == 0)))
    tn = int(np.sum(~pred & (y == 0)))
    fn = int(np.sum(~pred & (y == 1)))
    n = tp + fp + tn + fn
    acc = (tp + tn) / n
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else 0.0
    den = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)  # exact integers
    mcc = (tp * tn - fp * fn) / math.sqrt(den) if den else 0.0
    return tp, fp, tn, fn, acc, prec, rec, f1, mcc


def sets():
    """(name, threshold, scores float32, labels int) of the golden sets."""
    out = []
    rng = np.random.default_rng(20240501)
    # 1. independent uniform scores and labels
    s = rng.random(50).astype(np.float32)
    y = (rng.random(50) < 0.5).astype(np.int64)
    out.append(("uniform50", 0.5, s, y))
    # 2. informative scores rounded to 0.1: many ties
    s = rng.random(200)
    y = (rng.random(200) < 0.2 + 0.6 * s).astype(np.int64)
    out.append(("ties200", 0.5, np.round(s, 1).astype(np.float32), y))
    # 3. imbalanced: 5% positives, a lower threshold
    y = (rng.random(1000) < 0.05).astype(np.int64)
    s = np.clip(rng.normal(0.3 + 0.25 * y, 0.15), 0, 1).astype(np.float32)
    out.append(("imbalanced1000", 0.3, s, y))
    # 4. scores a few float32 ulps apart around 0.5: ties and order at
    #    float32 precision, the threshold among them
    k = rng.integers(-8, 9, 300)
    s = np.nextafter(np.float32(0.5), np.float32(1), dtype=np.float32)
    s = (np.float32(0.5) + k.astype(np.float32) * (s - np.float32(0.5))).astype(np.float32)
    y = (rng.random(300) < 0.5 + 0.04 * k).astype(np.int64)
    out.append(("ulps300", 0.5, s, y))
    # 5. five score levels only
    s = rng.integers(0, 5, 101).astype(np.float32) / np.float32(4)
    y = (rng.random(101) < 0.15 + 0.15 * s).astype(np.int64)
    out.append(("levels101", 0.75, s, y))
    # 6. two positives, a high threshold that predicts none
    y = np.zeros(40, dtype=np.int64)
    y[[7, 31]] = 1
    s = rng.random(40).astype(np.float32) * np.float32(0.8)
    out.append(("fewpos40", 0.9, s, y))
    return out


def main():
    lines = ["# metrics_golden.tsv: inputs and expected metrics for tests/test_metrics.c,",
             "# written by tests/reference/metrics_ref.py (numpy); do not edit.",
             "# set NAME n threshold tp fp tn fn accuracy precision recall f1 mcc auroc auprc",
             "# then n lines: x score label"]
    for name, thr, s, y in sets():
        tp, fp, tn, fn, acc, prec, rec, f1, mcc = counts_metrics(s, y, thr)
        auroc = auroc_mann_whitney(s, y)
        ap = average_precision(s, y)
        vals = [acc, prec, rec, f1, mcc, auroc, ap]
        lines.append("\t".join(["set", name, str(len(y)), repr(float(thr)), str(tp), str(fp),
                                str(tn), str(fn)] + [repr(float(v)) for v in vals]))
        for si, yi in zip(s, y):
            lines.append("x\t%s\t%d" % (repr(float(si)), int(yi)))
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %s (%d sets)" % (os.path.normpath(OUT), len(sets())), file=sys.stderr)


if __name__ == "__main__":
    main()
