"""One table of test metrics (mambadna eval --json), a row per dataset.

  metrics_table.py OUT.tsv NAME... -- METRICS.json...
"""
import json
import sys

COLUMNS = ["n", "accuracy", "precision", "recall", "f1", "mcc", "auroc", "auprc"]


def main():
    out, rest = sys.argv[1], sys.argv[2:]
    cut = rest.index("--")
    names, paths = rest[:cut], rest[cut + 1:]
    with open(out, "w") as f:
        f.write("\t".join(["dataset"] + COLUMNS) + "\n")
        for name, path in zip(names, paths):
            with open(path) as j:
                m = json.load(j)
            cells = [str(m["n"])] + ["NA" if m[c] is None else f"{m[c]:.4f}" for c in COLUMNS[1:]]
            f.write("\t".join([name] + cells) + "\n")


if __name__ == "__main__":
    main()
