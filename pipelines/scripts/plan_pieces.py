"""Cut a genome (or its regions) into scoring pieces whose gathered outputs
equal one `mambadna score` run.

A unit is a contig, or a BED region when regions are given; its windows
start at the unit's start, every stride S, plus one window ending at the
unit's end. Each piece owns the bases [own_beg, own_end) of one unit, with
own_beg a multiple of S from the unit's start, and scores the region
[reg_beg, reg_end): reg_beg is the last window start at or before
own_beg - W (one window of overlap), reg_end the end of the last window
that starts before own_end. A piece other than the last ends at least one
window before the unit's end, so that the unit's last window (shifted to
end at the unit's end) belongs to the last piece. So every window covering an owned base is
scored in that piece, exactly where one run would put it.

Writes OUT/pieces.tsv (piece, unit, contig, own_beg, own_end, reg_beg,
reg_end), OUT/I.bed (the region of piece I) and OUT/args (-w W -s S).

  plan_pieces.py --mambadna PROG --model M --fai G.fa.fai [--regions R.bed]
                 --window W --stride S --piece-length L --out DIR
"""
import argparse
import os
import subprocess
import sys


def model_windows(mambadna, model):
    """The window and stride a model records (mambadna info)."""
    info = subprocess.run([mambadna, "info", "-T", model], check=True, capture_output=True,
                          text=True).stdout
    fields = dict(line.split("\t", 1) for line in info.splitlines() if "\t" in line)
    return int(fields.get("window", "0")), int(fields.get("stride", "0"))


def resolve(window, stride, model_window, model_stride):
    """The window and stride `mambadna score` uses for -w/-s of 0 (none)."""
    w = window or model_window
    if not w:
        sys.exit("plan_pieces: the model records no window length: set score.window")
    if stride:
        return w, stride
    return w, model_stride if w == model_window and model_stride else (w + 3) // 4


def units(fai, regions):
    """(contig, beg, end) in the order one run scores them."""
    lengths = {}
    order = []
    with open(fai) as f:
        for line in f:
            name, length = line.split("\t")[:2]
            lengths[name] = int(length)
            order.append(name)
    if not regions:
        return [(name, 0, lengths[name]) for name in order]
    out = []
    with open(regions) as f:
        for n, line in enumerate(f, 1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            contig, beg, end = line.rstrip("\n").split("\t")[:3]
            if contig not in lengths:
                sys.exit(f"plan_pieces: {regions} line {n}: contig {contig} is not in {fai}")
            out.append((contig, int(beg), min(int(end), lengths[contig])))
    return out


def pieces(beg, end, window, stride, piece_length):
    """(own_beg, own_end, reg_beg, reg_end) of one unit, in unit order."""
    length = end - beg
    step = max(stride, piece_length // stride * stride)
    out = []
    own = 0
    while True:
        nxt = own + step
        reg = max(0, (own - window) // stride * stride) if own else 0
        # a piece that is not the last scores no base past the unit's last
        # window, which one run may shift to end at the unit's end
        if nxt + window > length:
            out.append((beg + own, end, beg + reg, end))
            return out
        out.append((beg + own, beg + nxt, beg + reg, beg + nxt - stride + window))
        own = nxt


def main():
    ap = argparse.ArgumentParser()
    for opt in ("--mambadna", "--model", "--fai", "--out"):
        ap.add_argument(opt, required=True)
    ap.add_argument("--regions")
    for opt in ("--window", "--stride", "--piece-length"):
        ap.add_argument(opt, type=int, required=True)
    a = ap.parse_args()
    window, stride = resolve(a.window, a.stride, *model_windows(a.mambadna, a.model))
    os.makedirs(a.out, exist_ok=True)
    rows = []
    for u, (contig, beg, end) in enumerate(units(a.fai, a.regions)):
        for p in pieces(beg, end, window, stride, a.piece_length):
            rows.append((len(rows), u, contig) + p)
    with open(os.path.join(a.out, "args"), "w") as f:
        f.write(f"-w {window} -s {stride}\n")
    with open(os.path.join(a.out, "pieces.tsv"), "w") as f:
        f.write("piece\tunit\tcontig\town_beg\town_end\treg_beg\treg_end\n")
        for r in rows:
            f.write("\t".join(map(str, r)) + "\n")
            with open(os.path.join(a.out, f"{r[0]}.bed"), "w") as bed:
                bed.write(f"{r[2]}\t{r[5]}\t{r[6]}\n")
    print(f"plan_pieces: {len(rows)} pieces, window {window}, stride {stride}", file=sys.stderr)


if __name__ == "__main__":
    main()
