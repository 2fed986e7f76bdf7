"""Print the comparison tables of docs/benchmarks.md from the results of the
model workflow (pipelines/models/Snakefile).

usage: report.py RESULTS_DIR
"""
import glob
import json
import os
import sys

PUBLISHED = {  # test MCC x 100: DNABERT-2, best published (model), from the GUE paper
    "prom_core_all": (69.37, 70.92, "DNABERT 3-mer"),
    "prom_core_notata": (68.04, 71.58, "NT-2500M-multi"),
    "prom_core_tata": (74.17, 78.15, "DNABERT 3-mer"),
    "prom_300_tata": (71.59, 79.43, "NT-2500M-multi"),
}


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def training_time(log):
    last = None
    try:
        for line in open(log):
            o = json.loads(line)
            if o.get("type") == "step":
                last = o
    except OSError:
        return None
    return last


def fmt(x, scale=100, nd=2):
    return "n/a" if x is None else f"{x * scale:.{nd}f}"


def main():
    res = sys.argv[1]
    print("| task | test n | mambadna MCC | AUROC | accuracy | DNABERT-2 MCC | best published MCC | epochs run | training time |")
    print("|---|---|---|---|---|---|---|---|---|")
    for task, (d2, best, who) in PUBLISHED.items():
        m = load(os.path.join(res, "gue", task + ".test.json"))
        last = training_time(os.path.join(res, "logs", task + ".jsonl"))
        s = last["elapsed_s"] if last else None
        t = "not run" if s is None else f"{s / 60:.0f} min" if s >= 90 else f"{s:.0f} s"
        ep = f"{last.get('epoch', 'n/a')}" if last else "n/a"
        if m:
            print(f"| {task} | {m['n']} | {fmt(m.get('mcc'))} | {fmt(m.get('auroc'), 1, 3)} | "
                  f"{fmt(m.get('accuracy'))} | {d2} | {best} ({who}) | {ep} | {t} |")
        else:
            print(f"| {task} | | not run | | | {d2} | {best} ({who}) | | |")
    print()
    cv = load(os.path.join(res, "ecoli", "cv.json"))
    ind = load(os.path.join(res, "ecoli", "independent.json"))
    print("| E. coli set | n | accuracy | MCC | AUROC |")
    print("|---|---|---|---|---|")
    if cv:
        print(f"| benchmark, {cv['folds']}-fold cross-validation (mean +- sd) | 5,720 | "
              f"{fmt(cv.get('accuracy'))} +- {fmt(cv.get('accuracy_sd'))} | "
              f"{fmt(cv.get('mcc'))} +- {fmt(cv.get('mcc_sd'))} | {fmt(cv.get('auroc'), 1, 3)} |")
    else:
        print("| benchmark, cross-validation | | not run | | |")
    if ind:
        print(f"| independent (promoters only) | {ind['n']} | {fmt(ind.get('accuracy'))} | "
              f"undefined (one class) | undefined |")
    else:
        print("| independent | | not run | | |")


if __name__ == "__main__":
    main()
