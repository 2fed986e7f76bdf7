# Embedding: the regions of each set are cut into pieces of
# regions_per_piece lines, `mambadna embed` runs on every piece and the
# rows and sidecars are joined into one NPY and its sidecar TSV: what one
# run over all the regions writes.

EMBED = config.get("embed", {})
EMBED_DIR = os.path.join(OUT, "embed")
EMBED_MODEL = EMBED.get("model", config["model"])


def embed_targets():
    return [
        os.path.join(EMBED_DIR, name + ext) for name in EMBED["sets"] for ext in (".npy", ".npy.tsv")
    ]


rule embed_all:
    input:
        embed_targets() if EMBED else [],


checkpoint embed_split:
    input:
        lambda w: EMBED["sets"][w.name]["regions"],
    output:
        directory(os.path.join(EMBED_DIR, "{name}", "split")),
    params:
        lines=EMBED.get("regions_per_piece", 0),
    log:
        log("embed_split", "{name}"),
    threads: 1
    resources:
        **res("light"),
    shell:
        "{PYTHON} {SCRIPTS}/split_bed.py {input} {params.lines} {output} 2> {log}"


rule embed_piece:
    input:
        split=os.path.join(EMBED_DIR, "{name}", "split"),
        fai=lambda w: fai("embed-" + w.name),
        model=EMBED_MODEL,
    output:
        npy=temp(os.path.join(EMBED_DIR, "{name}", "pieces", "{i}.npy")),
        tsv=temp(os.path.join(EMBED_DIR, "{name}", "pieces", "{i}.npy.tsv")),
    params:
        fasta=lambda w: fasta("embed-" + w.name),
        options=EMBED.get("options", ""),
        device=device("embed"),
    log:
        log("embed_piece", "{name}.{i}"),
    threads: JOBS["embed"]["threads"]
    resources:
        **res("embed"),
    shell:
        "{MAMBADNA} embed -m {input.model} {params.options} {params.device} -t {threads} "
        "--no-progress -R {input.split}/{wildcards.i}.bed -o {output.npy} {params.fasta} 2> {log}"


def embed_pieces(w):
    split = checkpoints.embed_split.get(name=w.name).output[0]
    with open(os.path.join(split, "count")) as f:
        n = int(f.read())
    return [os.path.join(EMBED_DIR, w.name, "pieces", f"{i}.npy") for i in range(n)]


rule embed_gather:
    input:
        npy=embed_pieces,
        tsv=lambda w: [p + ".tsv" for p in embed_pieces(w)],
    output:
        npy=os.path.join(EMBED_DIR, "{name}.npy"),
        tsv=os.path.join(EMBED_DIR, "{name}.npy.tsv"),
    log:
        log("embed_gather", "{name}"),
    threads: 1
    resources:
        **res("light"),
    shell:
        "{PYTHON} {SCRIPTS}/gather_npy.py {output.npy} {input.npy} 2> {log}"
