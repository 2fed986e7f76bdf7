"""Put a FASTA where the workflow indexes it: a link to a plain or bgzip
FASTA; a plain-gzip FASTA (as NCBI and Ensembl ship genomes), which cannot
be indexed, decompressed beside it instead (to a temporary name, renamed
when complete).

  link_fasta.py IN.fa[.gz] OUT.fa
"""
import gzip
import os
import shutil
import sys


def is_plain_gzip(path):
    """gzip without BGZF's extra field (its 'BC' subfield)."""
    with open(path, "rb") as f:
        head = f.read(18)
    if head[:2] != b"\x1f\x8b":
        return False
    has_extra = len(head) > 3 and head[3] & 4
    return not (has_extra and head[12:14] == b"BC")


def main():
    src, dest = sys.argv[1], sys.argv[2]
    if os.path.lexists(dest):
        os.remove(dest)
    if not is_plain_gzip(src):
        os.symlink(os.path.realpath(src), dest)
        return
    tmp = dest + ".tmp"
    with gzip.open(src, "rb") as f, open(tmp, "wb") as out:
        shutil.copyfileobj(f, out, 1 << 20)
    os.replace(tmp, dest)


if __name__ == "__main__":
    main()
