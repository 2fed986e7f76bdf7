"""Snakemake wrapper for `mambadna embed`: hidden states as NPY rows, with
the sidecar OUT.npy.tsv (one line per block of rows) beside them."""
from snakemake.shell import shell

log = snakemake.log_fmt_shell(stdout=True, stderr=True)
extra = snakemake.params.get("extra", "")
gpus = snakemake.resources.get("gpu", 0) or snakemake.resources.get("nvidia_gpu", 0)
device = "--device cuda" if gpus else "--device cpu"
regions = snakemake.input.get("regions")
regions = f"-R {regions}" if regions else ""
npy = snakemake.output.get("npy", snakemake.output[0])

shell(
    "mambadna embed -m {snakemake.input.model} {regions} {extra} {device} "
    "-t {snakemake.threads} --no-progress -o {npy} {snakemake.input.seqs} {log}"
)
