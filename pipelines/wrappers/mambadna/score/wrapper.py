"""Snakemake wrapper for `mambadna score`: a per-base track (bedGraph or
bigWig, from the output's extension) and, with output `calls`, BED calls."""
from snakemake.shell import shell

log = snakemake.log_fmt_shell(stdout=True, stderr=True)
extra = snakemake.params.get("extra", "")
gpus = snakemake.resources.get("gpu", 0) or snakemake.resources.get("nvidia_gpu", 0)
device = "--device cuda" if gpus else "--device cpu"
model = snakemake.input.get("model")
model = f"-m {model}" if model else ""
regions = snakemake.input.get("regions")
regions = f"-R {regions}" if regions else ""
calls = snakemake.output.get("calls")
calls = f"--calls {calls}" if calls else ""
track = snakemake.output.get("track", snakemake.output[0])

shell(
    "mambadna score {model} {regions} {extra} {device} -t {snakemake.threads} --no-progress "
    "-o {track} {calls} {snakemake.input.fasta} {log}"
)
