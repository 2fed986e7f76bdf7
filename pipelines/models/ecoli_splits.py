"""Deterministic splits of the E. coli promoter benchmark (iPromoter-2L):
k folds for cross-validation (each: train, dev = one tenth of the training
part, test = the held-out fold) and one split of everything into train and
dev for the bundled model. Output: TSV "sequence<TAB>label" files.

usage: ecoli_splits.py POSITIVE.fa NEGATIVE.fa FOLDS SEED OUTDIR
"""
import os
import random
import sys


def read_fasta(path):
    seqs, cur = [], None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith(">"):
                if cur is not None:
                    seqs.append("".join(cur).upper())
                cur = []
            elif line and cur is not None:
                cur.append(line)
    if cur is not None:
        seqs.append("".join(cur).upper())
    return seqs


def write(path, items):
    with open(path + ".tmp", "w") as f:
        for s, y in items:
            f.write(f"{s}\t{y}\n")
    os.replace(path + ".tmp", path)


def main():
    pos, neg, folds, seed, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    os.makedirs(out, exist_ok=True)
    items = [(s, 1) for s in read_fasta(pos)] + [(s, 0) for s in read_fasta(neg)]
    rng = random.Random(seed)
    rng.shuffle(items)
    for k in range(folds):
        test = items[k::folds]
        rest = [it for i, it in enumerate(items) if i % folds != k]
        n_dev = len(rest) // 10
        write(f"{out}/fold{k}.test.tsv", test)
        write(f"{out}/fold{k}.dev.tsv", rest[:n_dev])
        write(f"{out}/fold{k}.train.tsv", rest[n_dev:])
    n_dev = len(items) // 10
    write(f"{out}/all.dev.tsv", items[:n_dev])
    write(f"{out}/all.train.tsv", items[n_dev:])


if __name__ == "__main__":
    main()
