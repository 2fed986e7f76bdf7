"""Join the NPY files of `mambadna embed` pieces and their sidecars
(PIECE.npy.tsv) into OUT.npy and OUT.npy.tsv, as one run writes them: the
rows in piece order under the first piece's header with the total row
count, and the sidecar's first_row column shifted by the rows before.

  gather_npy.py OUT.npy PIECE_0.npy PIECE_1.npy ...
"""
import ast
import os
import sys


def read_header(path):
    """(raw header bytes, header dict) of an NPY version 1 file."""
    with open(path, "rb") as f:
        start = f.read(10)
        if start[:6] != b"\x93NUMPY" or start[6] != 1:
            sys.exit(f"gather_npy: {path} is not an NPY version 1.0 file")
        size = 10 + int.from_bytes(start[8:10], "little")
        raw = start + f.read(size - 10)
    return raw, ast.literal_eval(raw[10:].decode("latin-1").strip())


def header_text(d, rows):
    """The dict as mambadna writes it (Python's tuple spelling)."""
    shape = (rows,) + tuple(d["shape"][1:])
    text = ", ".join(str(x) for x in shape) + ("," if len(shape) == 1 else "")
    return "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (
        d["descr"], d["fortran_order"], text)


def main():
    out, pieces = sys.argv[1], sys.argv[2:]
    headers = [read_header(p) for p in pieces]
    first_raw, first = headers[0]
    rows = sum(d["shape"][0] for _, d in headers)
    if any(d["descr"] != first["descr"] or d["shape"][1:] != first["shape"][1:] for _, d in headers):
        sys.exit("gather_npy: the pieces differ in dtype or row shape")
    text = header_text(first, rows).encode("latin-1")
    room = len(first_raw) - 10 - 1
    if len(text) > room:
        sys.exit("gather_npy: the total row count does not fit the pieces' header")
    tmp_npy, tmp_tsv = out + ".tmp", out + ".tsv.tmp"
    with open(tmp_npy, "wb") as f:
        f.write(first_raw[:10] + text + b" " * (room - len(text)) + b"\n")
        for path, (raw, _) in zip(pieces, headers):
            with open(path, "rb") as p:
                p.seek(len(raw))
                while chunk := p.read(1 << 20):
                    f.write(chunk)
    before = 0
    with open(tmp_tsv, "w") as f:
        for path, (_, d) in zip(pieces, headers):
            with open(path + ".tsv") as p:
                for line in p:
                    c = line.split("\t", 1)
                    f.write(f"{int(c[0]) + before}\t{c[1]}")
            before += d["shape"][0]
    os.replace(tmp_npy, out)
    os.replace(tmp_tsv, out + ".tsv")
    print(f"gather_npy: {rows} rows from {len(pieces)} pieces", file=sys.stderr)


if __name__ == "__main__":
    main()
