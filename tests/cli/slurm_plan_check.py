"""Check a Snakemake dry run under the SLURM profile (test_pipelines.sh):
every job submitted to SLURM names a partition, memory and a time limit;
jobs of the rules given a GPU (score_*, finetune) ask for one and run
mambadna with --device cuda, every other mambadna job runs with --device cpu;
RULE=N arguments give the number of jobs a rule must have.

  slurm_plan_check.py DRYRUN.log [RULE=N]...
"""
import re
import sys

GPU_RULES = {"score_piece", "score_gather_calls", "finetune"}


def jobs(text):
    """(rule, block text) of every job of the dry run."""
    parts = re.split(r"^(?:local)?rule (\w+):$", text, flags=re.M)
    return list(zip(parts[1::2], parts[2::2]))


def main():
    text = open(sys.argv[1]).read()
    planned = jobs(text)
    bad = []
    counts = {}
    for rule, block in planned:
        counts[rule] = counts.get(rule, 0) + 1
        if rule.endswith("_all") or rule == "all":
            continue
        line = re.search(r"^\s+resources: (.*)$", block, flags=re.M)
        res = dict(kv.split("=", 1) for kv in line.group(1).split(", ")) if line else {}
        for key in ("slurm_partition", "mem_mb", "runtime"):
            if key not in res:
                bad.append(f"{rule}: no {key} in its resources ({res})")
        device = re.search(r"--device (\w+)", block)
        if rule in GPU_RULES:
            if (res.get("gpu") != "1" or res.get("slurm_partition") != "gpu" or not device
                    or device.group(1) != "cuda"):
                bad.append(f"{rule}: a GPU job without gpu=1, the GPU partition or --device cuda")
        elif device and (device.group(1) != "cpu" or "gpu" in res):
            bad.append(f"{rule}: a CPU job with a GPU or --device {device.group(1)}")
    for want in sys.argv[2:]:
        rule, n = want.split("=")
        if counts.get(rule, 0) != int(n):
            bad.append(f"{rule}: {counts.get(rule, 0)} jobs planned, {n} expected")
    if not planned:
        bad.append("no job planned")
    for b in sorted(set(bad)):
        print("slurm plan:", b)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
