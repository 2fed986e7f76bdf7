"""Gather the bedGraph tracks of scoring pieces into the track of one run.

Each piece's lines are cut to the bases the piece owns (pieces.tsv of
plan_pieces.py); then neighbouring lines of one contig with the same value
merge, as `mambadna score` merges them (values are printed as the shortest
text that reads back as the same float, so equal text is an equal value).

  gather_track.py PIECES.tsv OUT.bedgraph PIECE_0.bedgraph PIECE_1.bedgraph ...
"""
import os
import sys


def owned_lines(path, contig, own_beg, own_end):
    """(contig, beg, end, value) of one piece, cut to [own_beg, own_end)."""
    with open(path) as f:
        for line in f:
            if line.startswith("track"):
                continue
            name, beg, end, value = line.rstrip("\n").split("\t")
            beg, end = max(int(beg), own_beg), min(int(end), own_end)
            if name == contig and beg < end:
                yield name, beg, end, value


def main():
    plan, out, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(plan) as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    if len(rows) != len(paths):
        sys.exit(f"gather_track: {plan} lists {len(rows)} pieces, {len(paths)} tracks given")
    with open(paths[0]) as f:
        header = f.readline()
    if not header.startswith("track"):
        sys.exit(f"gather_track: {paths[0]}: no track line")
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write(header)
        pending = None
        for row, path in zip(rows, paths):
            for cur in owned_lines(path, row[2], int(row[3]), int(row[4])):
                if pending and pending[0] == cur[0] and pending[2] == cur[1] and pending[3] == cur[3]:
                    pending = (pending[0], pending[1], cur[2], cur[3])
                    continue
                if pending:
                    f.write("%s\t%d\t%d\t%s\n" % pending)
                pending = cur
        if pending:
            f.write("%s\t%d\t%d\t%s\n" % pending)
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
