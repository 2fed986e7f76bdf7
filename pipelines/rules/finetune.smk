# Fine-tuning: labelled data (CSV/TSV, labelled FASTA or BED + genome) made
# into CSV splits, `mambadna finetune` from a pretrained model, `mambadna
# eval` on the test split, then a metrics table and ROC curves.

FINETUNE = config.get("finetune", {})
FINETUNE_DIR = os.path.join(OUT, "finetune")


def finetune_targets():
    out = [os.path.join(OUT, "report", "finetune_metrics.tsv")]
    out += [os.path.join(OUT, "report", f"roc_{name}.png") for name in FINETUNE["datasets"]]
    return out


rule finetune_all:
    input:
        finetune_targets() if FINETUNE else [],


wildcard_constraints:
    split="train|dev|test",


rule finetune_prep:
    input:
        data=lambda w: FINETUNE["datasets"][w.name][w.split],
        fai=lambda w: fai("finetune-" + w.name) if "genome" in FINETUNE["datasets"][w.name] else [],
    output:
        os.path.join(FINETUNE_DIR, "{name}", "data", "{split}.csv"),
    params:
        genome=lambda w, input: f"--genome {fasta('finetune-' + w.name)}" if input.fai else "",
        max_rows=FINETUNE.get("max_rows", 0),
    log:
        log("finetune_prep", "{name}.{split}"),
    threads: 1
    resources:
        **res("light"),
    shell:
        "{PYTHON} {SCRIPTS}/prep_labelled.py {input.data} {output} {params.genome} "
        "--max-rows {params.max_rows} 2> {log}"


rule finetune:
    input:
        pretrained=FINETUNE.get("pretrained", []),
        train=os.path.join(FINETUNE_DIR, "{name}", "data", "train.csv"),
        dev=os.path.join(FINETUNE_DIR, "{name}", "data", "dev.csv"),
    output:
        model=os.path.join(FINETUNE_DIR, "{name}", "model.safetensors"),
        log=os.path.join(FINETUNE_DIR, "{name}", "train.jsonl"),
    params:
        options=FINETUNE.get("options", ""),
        device=device("finetune"),
    log:
        log("finetune", "{name}"),
    threads: JOBS["finetune"]["threads"]
    resources:
        **res("finetune"),
    shell:
        "{MAMBADNA} finetune -m {input.pretrained} --train {input.train} --dev {input.dev} "
        "{params.options} {params.device} -t {threads} --no-progress --log {output.log} "
        "-o {output.model} 2> {log}"


rule finetune_eval:
    input:
        model=os.path.join(FINETUNE_DIR, "{name}", "model.safetensors"),
        test=os.path.join(FINETUNE_DIR, "{name}", "data", "test.csv"),
    output:
        metrics=os.path.join(FINETUNE_DIR, "{name}", "test_metrics.json"),
        predictions=os.path.join(FINETUNE_DIR, "{name}", "test_predictions.tsv"),
    params:
        threshold=FINETUNE.get("threshold", 0.5),
        device=device("eval"),
    log:
        log("finetune_eval", "{name}"),
    threads: JOBS["eval"]["threads"]
    resources:
        **res("eval"),
    shell:
        "{MAMBADNA} eval -m {input.model} --json --threshold {params.threshold} "
        "{params.device} -t {threads} -p {output.predictions} {input.test} "
        "> {output.metrics}.tmp 2> {log} && mv {output.metrics}.tmp {output.metrics}"


rule finetune_metrics:
    input:
        expand(os.path.join(FINETUNE_DIR, "{name}", "test_metrics.json"), name=FINETUNE.get("datasets", {})),
    output:
        report(
            os.path.join(OUT, "report", "finetune_metrics.tsv"),
            caption="../report/finetune_metrics.rst",
            category="Fine-tuning",
        ),
    params:
        names=list(FINETUNE.get("datasets", {})),
    log:
        log("finetune_metrics", "table"),
    threads: 1
    resources:
        **res("light"),
    shell:
        "{PYTHON} {SCRIPTS}/metrics_table.py {output} {params.names} -- {input} 2> {log}"


rule finetune_roc:
    input:
        os.path.join(FINETUNE_DIR, "{name}", "test_predictions.tsv"),
    output:
        report(
            os.path.join(OUT, "report", "roc_{name}.png"),
            caption="../report/roc.rst",
            category="Fine-tuning",
            subcategory="{name}",
        ),
    log:
        log("finetune_roc", "{name}"),
    threads: 1
    resources:
        **res("light"),
    shell:
        "{PYTHON} {SCRIPTS}/plot_roc.py {input} {wildcards.name} {output} 2> {log}"
