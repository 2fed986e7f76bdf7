"""Gather the BED calls of scoring pieces into the calls of one run.

Within a unit (a contig, or a BED region), calls of neighbouring pieces
that overlap or touch are one call of the whole run: its windows were split
between the pieces. The span of such a call holds exactly its windows, so
it is scored once more on its own (one `mambadna score` over all such
spans), which gives the line one run writes, maximum and strand included.
A call found whole by several pieces (inside an overlap) is written once.

  gather_calls.py --plan PIECES.tsv --out OUT.bed --rescore 'PROG score OPTIONS'
                  --window-args ARGS --fasta GENOME.fa --tmp DIR PIECE_0.bed ...

ARGS holds the -w/-s options of the pieces (plan_pieces.py); DIR is removed
at the end.
"""
import argparse
import os
import shlex
import shutil
import subprocess
import sys


def read_calls(path):
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def merge_unit(calls):
    """Groups of calls (in order) that overlap or touch: one group per call of the run."""
    groups = []
    # a piece's first calls can lie before its neighbour's last ones (the overlap)
    for c in sorted(calls, key=lambda c: (int(c[1]), int(c[2]))):
        g = groups[-1] if groups else None
        if g and int(c[1]) <= g["end"]:
            g["end"] = max(g["end"], int(c[2]))
            if c not in g["lines"]:
                g["lines"].append(c)
        else:
            groups.append({"contig": c[0], "beg": int(c[1]), "end": int(c[2]), "lines": [c]})
    return groups


def rescore(command, fasta, spans, tmp):
    """The one call of each span, from one scoring run over all spans."""
    os.makedirs(tmp, exist_ok=True)
    bed = os.path.join(tmp, "spans.bed")
    with open(bed, "w") as f:
        for contig, beg, end in spans:
            f.write(f"{contig}\t{beg}\t{end}\n")
    calls = os.path.join(tmp, "spans.calls.bed")
    track = os.path.join(tmp, "spans.bedgraph")
    subprocess.run(shlex.split(command) + ["-R", bed, "--calls", calls, "-o", track, fasta],
                   check=True)
    lines = read_calls(calls)
    if len(lines) != len(spans) or any(
            (l[0], int(l[1]), int(l[2])) != s for l, s in zip(lines, spans)):
        sys.exit(f"gather_calls: rescoring {bed} did not give one call per span: "
                 "were the pieces scored with other options?")
    return lines


def main():
    ap = argparse.ArgumentParser()
    for opt in ("--plan", "--out", "--rescore", "--window-args", "--fasta", "--tmp"):
        ap.add_argument(opt, required=True)
    ap.add_argument("pieces", nargs="+")
    a = ap.parse_args()
    with open(a.plan) as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    if len(rows) != len(a.pieces):
        sys.exit(f"gather_calls: {a.plan} lists {len(rows)} pieces, {len(a.pieces)} BEDs given")
    groups = []
    unit, calls = None, []
    for row, path in zip(rows + [None], a.pieces + [None]):
        if row is None or row[1] != unit:
            groups += merge_unit(calls)
            unit, calls = row and row[1], []
        if path:
            calls += read_calls(path)
    split = [g for g in groups if len(g["lines"]) > 1]
    with open(a.window_args) as f:
        command = a.rescore + " " + f.read().strip()
    fresh = iter(rescore(command, a.fasta, [(g["contig"], g["beg"], g["end"]) for g in split],
                         a.tmp) if split else [])
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        for g in groups:
            f.write("\t".join(next(fresh) if len(g["lines"]) > 1 else g["lines"][0]) + "\n")
    os.replace(tmp, a.out)
    shutil.rmtree(a.tmp, ignore_errors=True)
    print(f"gather_calls: {len(groups)} calls, {len(split)} across pieces scored again",
          file=sys.stderr)


if __name__ == "__main__":
    main()
