"""Cut a VCF/BCF into pieces for `mambadna variants`: each piece is the
header and a run of consecutive records of one contig, at most N of them.
Joined in order (bcftools concat) the pieces give back the input's records.

Writes DIR/I.vcf (plain VCF) and DIR/count (the number of pieces; a VCF
without records gives one piece with the header only).

  split_vcf.py IN.vcf[.gz]|IN.bcf N DIR
"""
import os
import subprocess
import sys


def main():
    path, most, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    os.makedirs(out, exist_ok=True)
    view = subprocess.Popen(["bcftools", "view", "--no-version", path], stdout=subprocess.PIPE,
                            text=True)
    header, piece, n, contig, count = [], None, 0, None, 0
    for line in view.stdout:
        if line.startswith("#"):
            header.append(line)
            continue
        chrom = line.split("\t", 1)[0]
        if piece is None or chrom != contig or count == most:
            if piece:
                piece.close()
            piece = open(os.path.join(out, f"{n}.vcf"), "w")
            piece.writelines(header)
            n, contig, count = n + 1, chrom, 0
        piece.write(line)
        count += 1
    if view.wait() != 0:
        sys.exit(f"split_vcf: bcftools could not read {path}")
    if piece is None:
        with open(os.path.join(out, "0.vcf"), "w") as f:
            f.writelines(header)
        n = 1
    else:
        piece.close()
    with open(os.path.join(out, "count"), "w") as f:
        f.write(f"{n}\n")
    print(f"split_vcf: {path}: {n} pieces", file=sys.stderr)


if __name__ == "__main__":
    main()
