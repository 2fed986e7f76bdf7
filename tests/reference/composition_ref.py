#!/usr/bin/env python3
"""Independent reference for the composition baselines of `mambadna eval
--baselines`: GC content and CpG observed/expected of each sequence, and
their AUROC (Mann-Whitney, ties half) and AUPRC (average precision) against
the labels.

Usage: composition_ref.py DATA.csv      prints 'gc_auroc V' ... lines and,
                                        per sequence, 'row NAME GC CPG_OE'."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from metrics_ref import auroc_mann_whitney, average_precision  # noqa: E402

import numpy as np  # noqa: E402


def composition(seq):
    """GC fraction and CpG o/e over the A/C/G/T bases; a CG pair split by any
    other character does not count."""
    s = seq.upper()
    acgt = sum(s.count(b) for b in "ACGT")
    c, g = s.count("C"), s.count("G")
    cpg = s.count("CG")
    gc = (c + g) / acgt if acgt else 0.0
    oe = cpg * acgt / (c * g) if c and g else 0.0
    return gc, oe


def main():
    rows = []
    with open(sys.argv[1]) as f:
        lines = [l.strip() for l in f if l.strip()]
    for i, line in enumerate(lines[1:]):
        seq, label = line.split(",")
        rows.append((f"row{i}", seq, int(label)))
    y = np.array([r[2] == 1 for r in rows], dtype=int)
    comp = np.array([composition(r[1]) for r in rows])
    for k, name in enumerate(("gc", "cpg_oe")):
        print(f"{name}_auroc {auroc_mann_whitney(comp[:, k], y):.10f}")
        print(f"{name}_auprc {average_precision(comp[:, k], y):.10f}")
    for (name, _, _), (gc, oe) in zip(rows, comp):
        print(f"row {name} {gc:.10f} {oe:.10f}")


if __name__ == "__main__":
    main()
