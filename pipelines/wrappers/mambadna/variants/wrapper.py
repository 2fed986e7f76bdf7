"""Snakemake wrapper for `mambadna variants`: the input VCF/BCF with each
record's scores (INFO MD_REF, MD_ALT, MD_DELTA); the output's format comes
from its extension (.vcf, .vcf.gz, .bcf)."""
from snakemake.shell import shell

log = snakemake.log_fmt_shell(stdout=True, stderr=True)
extra = snakemake.params.get("extra", "")
gpus = snakemake.resources.get("gpu", 0) or snakemake.resources.get("nvidia_gpu", 0)
device = "--device cuda" if gpus else "--device cpu"
model = snakemake.input.get("model")
model = f"-m {model}" if model else ""
regions = snakemake.input.get("regions")
regions = f"-R {regions}" if regions else ""

shell(
    "mambadna variants {model} --reference {snakemake.input.reference} {regions} {extra} "
    "{device} -t {snakemake.threads} -o {snakemake.output[0]} {snakemake.input.vcf} {log}"
)
