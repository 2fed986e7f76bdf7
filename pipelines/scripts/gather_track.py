"""Gather the bedGraph tracks of scoring pieces into the track of one run.

Each piece's lines are cut to the bases the piece owns (pieces.tsv of
plan_pieces.py); then neighbouring lines of one contig with the same value
merge, as `mambadna score` merges them (values are printed as the shortest
text that reads back as the same float, so equal text is an equal value).

Pieces are gathered in the plan's order (one run's bedGraph order), or with
--genome-order FAI in the genome's order (contigs as in the index, then by
position): the order in which one run writes its bigWig, since it sorts
regions for a bigWig. OUT - writes to standard output.

  gather_track.py [--genome-order G.fa.fai] PIECES.tsv OUT.bedgraph PIECE_0.bedgraph ...
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


def genome_order(fai, pieces):
    """The (row, path) pairs sorted by the contig's rank in the index, then
    by the first owned base."""
    with open(fai) as f:
        rank = {line.split("\t")[0]: i for i, line in enumerate(f)}
    return sorted(pieces, key=lambda p: (rank[p[0][2]], int(p[0][3])))


def write_track(f, header, pieces):
    f.write(header)
    pending = None
    for row, path in pieces:
        for cur in owned_lines(path, row[2], int(row[3]), int(row[4])):
            if pending and pending[0] == cur[0] and pending[2] == cur[1] and pending[3] == cur[3]:
                pending = (pending[0], pending[1], cur[2], cur[3])
                continue
            if pending:
                f.write("%s\t%d\t%d\t%s\n" % pending)
            pending = cur
    if pending:
        f.write("%s\t%d\t%d\t%s\n" % pending)


def main():
    args = sys.argv[1:]
    fai = None
    if args[:1] == ["--genome-order"]:
        fai, args = args[1], args[2:]
    plan, out, paths = args[0], args[1], args[2:]
    with open(plan) as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    if len(rows) != len(paths):
        sys.exit(f"gather_track: {plan} lists {len(rows)} pieces, {len(paths)} tracks given")
    with open(paths[0]) as f:
        header = f.readline()
    if not header.startswith("track"):
        sys.exit(f"gather_track: {paths[0]}: no track line")
    pieces = list(zip(rows, paths))
    if fai:
        pieces = genome_order(fai, pieces)
    if out == "-":
        write_track(sys.stdout, header, pieces)
        return
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        write_track(f, header, pieces)
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
