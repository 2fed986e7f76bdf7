"""Read a bigWig's contig list and base-level intervals without libBigWig:
an independent check of what mambadna writes. Only what libBigWig writes is
read: the header, the contig B+ tree and the data blocks (zlib-compressed
or not) of bedGraph, variableStep and fixedStep sections; zoom levels and
the R-tree index are not needed for the intervals.

  bigwig_read.py FILE.bw           prints the contigs (#name<TAB>length),
                                   then the intervals as bedGraph lines
As a module: read(path) -> (contigs [(name, length)], intervals
[(name, beg, end, float32 value)]).
"""
import struct
import sys
import zlib

MAGIC = 0x888FFC26


def contig_tree(data, offset):
    """[(id, name, length)] of the B+ tree at offset."""
    magic, _block, key_size, _val_size, _count = struct.unpack_from("<IIIIQ", data, offset)
    if magic != 0x78CA8C91:
        raise ValueError("bad contig tree magic")
    out = []

    def node(at):
        is_leaf, _, count = struct.unpack_from("<BBH", data, at)
        at += 4
        for _ in range(count):
            key = data[at:at + key_size].rstrip(b"\0").decode()
            at += key_size
            if is_leaf:
                cid, length = struct.unpack_from("<II", data, at)
                out.append((cid, key, length))
                at += 8
            else:
                (child,) = struct.unpack_from("<Q", data, at)
                at += 8
                node(child)

    node(offset + 32)
    return sorted(out)


def sections(data, beg, end, compressed):
    """The uncompressed data blocks stored back to back in [beg, end)."""
    at = beg
    while at < end:
        if not compressed:
            count = struct.unpack_from("<H", data, at + 22)[0]
            kind = data[at + 20]
            size = 24 + count * {1: 12, 2: 8, 3: 4}[kind]
            yield data[at:at + size]
            at += size
            continue
        d = zlib.decompressobj()
        block = d.decompress(data[at:end])
        yield block
        at = end - len(d.unused_data)


def read(path):
    data = open(path, "rb").read()
    (magic, _version, _zooms, tree, full_data, full_index, _fields, _defined, _autosql,
     _summary, buf_size) = struct.unpack_from("<IHHQQQHHQQI", data, 0)
    if magic != MAGIC:
        raise ValueError(f"{path}: not a bigWig (magic {magic:#x})")
    contigs = contig_tree(data, tree)
    names = {cid: name for cid, name, _ in contigs}
    intervals = []
    for block in sections(data, full_data + 8, full_index, buf_size > 0):
        cid, start, _end, step, span, kind, _, count = struct.unpack_from("<IIIIIBBH", block, 0)
        at = 24
        for i in range(count):
            if kind == 1:
                b, e, v = struct.unpack_from("<IIf", block, at)
                at += 12
            elif kind == 2:
                b, v = struct.unpack_from("<If", block, at)
                e = b + span
                at += 8
            else:
                (v,) = struct.unpack_from("<f", block, at)
                b = start + i * step
                e = b + span
                at += 4
            intervals.append((names[cid], b, e, v))
    return [(name, length) for _, name, length in contigs], intervals


def main():
    contigs, intervals = read(sys.argv[1])
    for name, length in contigs:
        print(f"#{name}\t{length}")
    for name, b, e, v in intervals:
        print(f"{name}\t{b}\t{e}\t{v!r}")


if __name__ == "__main__":
    main()
