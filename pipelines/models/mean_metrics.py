"""Mean and standard deviation of metrics over cross-validation folds.
usage: mean_metrics.py FOLD.json... > cv.json"""
import json
import statistics
import sys

folds = [json.load(open(p)) for p in sys.argv[1:]]
keys = ["accuracy", "mcc", "auroc", "auprc", "f1"]
out = {"folds": len(folds)}
for k in keys:
    vals = [f[k] for f in folds if f.get(k) is not None]
    if vals:
        out[k] = statistics.mean(vals)
        out[k + "_sd"] = statistics.stdev(vals) if len(vals) > 1 else 0.0
json.dump(out, sys.stdout, indent=1)
print()
