#!/usr/bin/env python3
"""Write the fixtures of tests/data/truncated: BGZF files cut exactly at a
block boundary, which decompress without any error and differ from a whole
file only by the missing end-of-file block.

  tests/make_truncated_fixtures.py SAMTOOLS_EX1_BAM OUT_DIR

  ex1_cut.bam       the first BGZF blocks of the samtools example BAM
                    (header block + first block of records), no EOF block
  ex1_blocks.fa.gz  tests/data/seqio/ex1.fa as BGZF in blocks of 1,000
                    uncompressed bytes, with the EOF block
  ex1_cut.fa.gz     the first two of those blocks, no EOF block (chr1 whole,
                    chr2 cut short)
The BGZF writer here is independent of htslib: one gzip member per block
with the BC extra field (SAM specification, section 4.1).
"""
import struct
import sys
import zlib
from pathlib import Path

EOF_BLOCK = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def blocks(data):
    """(offset, size) of every BGZF block of data."""
    out, off = [], 0
    while off < len(data):
        if data[off:off + 4] != b"\x1f\x8b\x08\x04" or data[off + 12:off + 14] != b"BC":
            raise SystemExit(f"not BGZF at byte {off}")
        bsize = struct.unpack("<H", data[off + 16:off + 18])[0] + 1
        out.append((off, bsize))
        off += bsize
    return out


def bgzf_block(raw):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = c.compress(raw) + c.flush()
    header = b"\x1f\x8b\x08\x04" + b"\0\0\0\0" + b"\0\xff" + b"\x06\0BC\x02\0"
    bsize = len(header) + 2 + len(body) + 8 - 1
    return (header + struct.pack("<H", bsize) + body +
            struct.pack("<II", zlib.crc32(raw), len(raw)))


def main():
    bam_path, out = Path(sys.argv[1]), Path(sys.argv[2])
    root = Path(__file__).resolve().parent
    bam = bam_path.read_bytes()
    bl = blocks(bam)
    assert bam.endswith(EOF_BLOCK) and len(bl) > 3, "expected a multi-block BAM with its EOF block"
    cut = bl[2][0]  # header block and the first block of records
    (out / "ex1_cut.bam").write_bytes(bam[:cut])

    fa = (root / "data/seqio/ex1.fa").read_bytes()
    fa_blocks = [bgzf_block(fa[i:i + 1000]) for i in range(0, len(fa), 1000)]
    (out / "ex1_blocks.fa.gz").write_bytes(b"".join(fa_blocks) + EOF_BLOCK)
    (out / "ex1_cut.fa.gz").write_bytes(b"".join(fa_blocks[:2]))
    print(f"ex1_cut.bam: {cut} of {len(bam)} bytes ({len(bl)} blocks, 2 kept); "
          f"ex1_cut.fa.gz: 2 of {len(fa_blocks)} blocks")


if __name__ == "__main__":
    main()
