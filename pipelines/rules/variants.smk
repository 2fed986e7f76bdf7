# Variant effects: each VCF is cut into pieces (one contig each, at most
# records_per_piece records), `mambadna variants` runs on every piece and
# `bcftools concat` joins the results, in input order, into one bgzip VCF
# with its index: the records one run over the whole VCF writes.

VARIANTS = config.get("variants", {})
VARIANTS_DIR = os.path.join(OUT, "variants")


def variants_targets():
    return [
        os.path.join(VARIANTS_DIR, name + ext)
        for name in VARIANTS["vcfs"]
        for ext in (".vcf.gz", ".vcf.gz.tbi")
    ]


rule variants_all:
    input:
        variants_targets() if VARIANTS else [],


checkpoint variants_split:
    input:
        lambda w: VARIANTS["vcfs"][w.name],
    output:
        directory(os.path.join(VARIANTS_DIR, "{name}", "split")),
    params:
        records=VARIANTS.get("records_per_piece", 0),
    log:
        log("variants_split", "{name}"),
    threads: 1
    resources:
        **res("light"),
    shell:
        "{PYTHON} {SCRIPTS}/split_vcf.py {input} {params.records} {output} 2> {log}"


rule variants_piece:
    input:
        split=os.path.join(VARIANTS_DIR, "{name}", "split"),
        fai=fai("reference") if VARIANTS else [],
        model=config["model"],
    output:
        temp(os.path.join(VARIANTS_DIR, "{name}", "pieces", "{i}.vcf.gz")),
    params:
        reference=fasta("reference"),
        extra=VARIANTS.get("extra", ""),
        device=device("variants"),
    log:
        log("variants_piece", "{name}.{i}"),
    threads: JOBS["variants"]["threads"]
    resources:
        **res("variants"),
    shell:
        "{MAMBADNA} variants -m {input.model} --reference {params.reference} {params.extra} "
        "{params.device} -t {threads} -o {output} {input.split}/{wildcards.i}.vcf 2> {log}"


def variants_pieces(w):
    split = checkpoints.variants_split.get(name=w.name).output[0]
    with open(os.path.join(split, "count")) as f:
        n = int(f.read())
    return [os.path.join(VARIANTS_DIR, w.name, "pieces", f"{i}.vcf.gz") for i in range(n)]


rule variants_gather:
    input:
        variants_pieces,
    output:
        vcf=os.path.join(VARIANTS_DIR, "{name}.vcf.gz"),
        tbi=os.path.join(VARIANTS_DIR, "{name}.vcf.gz.tbi"),
    log:
        log("variants_gather", "{name}"),
    threads: 1
    resources:
        **res("light"),
    shell:
        "(bcftools concat --no-version -O z -o {output.vcf} {input} && "
        "bcftools index -t -o {output.tbi} {output.vcf}) 2> {log}"
