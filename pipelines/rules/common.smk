# Settings, resources and FASTA indexing shared by every section.
import os
import sys

import snakemake

OUT = config["outdir"]
MAMBADNA = config["mambadna"]
PYTHON = sys.executable
SCRIPTS = os.path.join(workflow.basedir, "scripts")
JOB_DEFAULTS = {"threads": 2, "mem_mb": 2000, "runtime": 60, "gpu": 0}
JOBS = {
    kind: {**JOB_DEFAULTS, **config["jobs"].get(kind, {})}
    for kind in ("score", "variants", "finetune", "eval", "embed", "light")
}


def res(kind):
    """Resources of one job of a kind. GPU jobs ask for `gpu` and `nvidia_gpu`
    (the local scheduler counts them; Snakemake 8's SLURM executor turns
    `gpu` into a GPU request) and, under Snakemake 7's SLURM support, for
    --gres in slurm_extra."""
    job = JOBS[kind]
    out = {"mem_mb": job["mem_mb"], "runtime": job["runtime"]}
    if kind != "light" and job["gpu"] > 0:
        out.update(gpu=job["gpu"], nvidia_gpu=job["gpu"])
        if int(snakemake.__version__.split(".")[0]) < 8:
            out["slurm_extra"] = f"'--gres=gpu:{job['gpu']}'"
    return out


def device(kind):
    """--device for a job: cuda only where the job was given a GPU."""
    return "--device cuda" if JOBS[kind]["gpu"] > 0 else "--device cpu"


def log(kind, name):
    return os.path.join(OUT, "logs", kind, name + ".log")


# Every FASTA the config names, by an id: indexed beside a link under OUT
# (or, for a plain-gzip FASTA, which cannot be indexed, a decompressed copy),
# so that input directories stay untouched.
FASTAS = {}
for _name, _g in config.get("score", {}).get("genomes", {}).items():
    FASTAS["score-" + _name] = _g["fasta"]
if "variants" in config:
    FASTAS["reference"] = config["variants"]["reference"]
for _name, _s in config.get("embed", {}).get("sets", {}).items():
    FASTAS["embed-" + _name] = _s["fasta"]
for _name, _d in config.get("finetune", {}).get("datasets", {}).items():
    if "genome" in _d:
        FASTAS["finetune-" + _name] = _d["genome"]


def fasta(fid):
    """The indexed link of a FASTA id; its index is fai(fid)."""
    return os.path.join(OUT, "fasta", fid + ".fa")


def fai(fid):
    return fasta(fid) + ".fai"


wildcard_constraints:
    fid="[^/]+",
    name="[^/]+",
    i="[0-9]+",


rule index_fasta:
    input:
        lambda w: FASTAS[w.fid],
    output:
        os.path.join(OUT, "fasta", "{fid}.fa.fai"),
    log:
        log("index_fasta", "{fid}"),
    threads: 1
    resources:
        **res("light"),
    shell:
        "{PYTHON} {SCRIPTS}/link_fasta.py {input} {OUT}/fasta/{wildcards.fid}.fa 2> {log} && "
        "{MAMBADNA} faidx {OUT}/fasta/{wildcards.fid}.fa 2>> {log}"


def section_targets():
    """The final outputs of every section present in the config."""
    out = [os.path.join(OUT, "report", "parameters.tsv")]
    if "score" in config:
        out += score_targets()
    if "variants" in config:
        out += variants_targets()
    if "finetune" in config:
        out += finetune_targets()
    if "embed" in config:
        out += embed_targets()
    return out


# Targets that only collect others run where Snakemake runs, never as cluster jobs.
localrules:
    all,
    score_all,
    variants_all,
    finetune_all,
    embed_all,
