"""Labelled sequences as CSV `sequence,label`, the layout `mambadna
finetune` and `eval` read, from CSV/TSV (GUE layout), FASTA with `label=K`
in the headers, or BED intervals of an indexed genome with the label in
column 5 (`-` strand intervals reverse complemented).

  prep_labelled.py IN OUT.csv [--genome G.fa] [--max-rows N]
"""
import argparse
import csv
import gzip
import os
import re
import sys

COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")


def opener(path):
    return gzip.open(path, "rt") if path.endswith(".gz") else open(path)


def from_table(path):
    with opener(path) as f:
        first = f.readline()
        delim = "\t" if "\t" in first else ","
        f.seek(0)
        rows = csv.reader(f, delimiter=delim)
        head = [c.strip() for c in next(rows, [])]
        if "sequence" in head and "label" in head:
            s, l = head.index("sequence"), head.index("label")
        else:
            s, l = 0, 1
            if head and re.fullmatch(r"-?\d+", head[1] if len(head) > 1 else ""):
                yield head[0].strip(), int(head[1])
        for n, r in enumerate(rows, 2):
            if r and any(c.strip() for c in r):
                yield r[s].strip(), int(r[l])


def from_fasta(path):
    name, seq = None, []
    with opener(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith(">"):
                if name is not None:
                    yield "".join(seq), name
                m = re.search(r"(?:^|[\s|])label=(\d+)(?:$|[\s|])", line)
                if not m:
                    sys.exit(f"prep_labelled: {path}: header {line!r} has no label=K")
                name, seq = int(m.group(1)), []
            elif line:
                seq.append(line)
    if name is not None:
        yield "".join(seq), name


def read_fai(genome):
    index = {}
    with open(genome + ".fai") as f:
        for line in f:
            name, length, offset, bases, width = line.split("\t")[:5]
            index[name] = (int(length), int(offset), int(bases), int(width))
    return index


def fetch(fh, entry, beg, end):
    """Bases [beg, end) of one record (plain FASTA, by its .fai)."""
    length, offset, bases, width = entry
    end = min(end, length)
    if beg >= end:
        return ""
    first = offset + beg // bases * width + beg % bases
    last = offset + (end - 1) // bases * width + (end - 1) % bases + 1
    fh.seek(first)
    return fh.read(last - first).replace("\n", "").replace("\r", "")


def from_bed(path, genome):
    if not genome:
        sys.exit(f"prep_labelled: {path}: BED data needs the dataset's genome")
    index = read_fai(genome)
    with open(genome) as fh, opener(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            c = line.rstrip("\n").split("\t")
            if len(c) < 5 or c[0] not in index:
                sys.exit(f"prep_labelled: {path} line {n}: need contig, start, end, name, label "
                         f"with a contig of {genome}")
            seq = fetch(fh, index[c[0]], int(c[1]), int(c[2]))
            if len(c) > 5 and c[5] == "-":
                seq = seq.translate(COMPLEMENT)[::-1]
            yield seq, int(c[4])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("--genome")
    ap.add_argument("--max-rows", type=int, default=0)
    a = ap.parse_args()
    name = a.data[:-3] if a.data.endswith(".gz") else a.data
    ext = os.path.splitext(name)[1].lower()
    if ext in (".csv", ".tsv", ".txt"):
        rows = from_table(a.data)
    elif ext in (".fa", ".fasta", ".fna"):
        rows = from_fasta(a.data)
    elif ext == ".bed":
        rows = from_bed(a.data, a.genome)
    else:
        sys.exit(f"prep_labelled: {a.data}: give .csv, .tsv, .fa/.fasta or .bed")
    tmp = a.out + ".tmp"
    n = 0
    with open(tmp, "w") as f:
        f.write("sequence,label\n")
        for seq, label in rows:
            if a.max_rows and n == a.max_rows:
                break
            f.write(f"{seq},{label}\n")
            n += 1
    os.replace(tmp, a.out)
    print(f"prep_labelled: {n} sequences from {a.data}", file=sys.stderr)


if __name__ == "__main__":
    main()
