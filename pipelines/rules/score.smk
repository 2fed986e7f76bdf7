# Scoring: each genome is cut into pieces (contigs, or BED regions, and long
# ones into pieces that overlap by one window), scored one job per piece and
# gathered into the track and calls (and, with score.bigwig, the bigWig) one
# `mambadna score` run writes.

import subprocess

SCORE = config.get("score", {})
SCORE_MODEL = SCORE.get("model", config["model"])
SCORE_DIR = os.path.join(OUT, "score")


def score_targets():
    out = []
    for name in SCORE["genomes"]:
        out += [os.path.join(SCORE_DIR, name + ext) for ext in (".bedgraph", ".bed")]
        if SCORE["bigwig"]:
            out.append(os.path.join(SCORE_DIR, name + ".bw"))
    out.append(os.path.join(OUT, "report", "score_track.png"))
    return out


rule score_all:
    input:
        score_targets() if SCORE else [],


checkpoint score_plan:
    input:
        fai=lambda w: fai("score-" + w.name),
        model=SCORE_MODEL,
        regions=lambda w: SCORE["genomes"][w.name].get("regions", []),
    output:
        directory(os.path.join(SCORE_DIR, "{name}", "plan")),
    params:
        regions=lambda w, input: f"--regions {input.regions}" if input.regions else "",
    log:
        log("score_plan", "{name}"),
    threads: 1
    resources:
        **res("light"),
    shell:
        "{PYTHON} {SCRIPTS}/plan_pieces.py --mambadna {MAMBADNA} --model {input.model} "
        "--fai {input.fai} {params.regions} --window {SCORE[window]} --stride {SCORE[stride]} "
        "--piece-length {SCORE[piece_length]} --out {output} 2> {log}"


def score_options():
    """Options of every scoring call but the regions and outputs; without a
    threshold in the configuration, the model's calibrated one applies.
    Coordinates stay on the FASTA's own record names (--literal-names), so
    that the pieces, their regions and the rescored calls share them."""
    threshold = f"--threshold {SCORE['threshold']} " if "threshold" in SCORE else ""
    return f"-m {SCORE_MODEL} --literal-names {threshold}{SCORE.get('extra', '')} --no-progress"


def calls_threshold(wildcards):
    """The threshold the calls were made at: the configuration's, else the
    one the model records (mambadna.threshold), else score's 0.5."""
    if "threshold" in SCORE:
        return SCORE["threshold"]
    info = subprocess.run([MAMBADNA, "info", SCORE_MODEL], capture_output=True, text=True).stdout
    for line in info.splitlines():
        field = line.split("\t")
        if field[:2] == ["meta", "mambadna.threshold"]:
            return float(field[2])
    return 0.5


rule score_piece:
    input:
        plan=os.path.join(SCORE_DIR, "{name}", "plan"),
        fai=lambda w: fai("score-" + w.name),
        model=SCORE_MODEL,
    output:
        track=temp(os.path.join(SCORE_DIR, "{name}", "pieces", "{i}.bedgraph")),
        calls=temp(os.path.join(SCORE_DIR, "{name}", "pieces", "{i}.bed")),
    params:
        fasta=lambda w: fasta("score-" + w.name),
        options=score_options(),
        device=device("score"),
    log:
        log("score_piece", "{name}.{i}"),
    threads: JOBS["score"]["threads"]
    resources:
        **res("score"),
    shell:
        "{MAMBADNA} score {params.options} $(cat {input.plan}/args) {params.device} "
        "-t {threads} -R {input.plan}/{wildcards.i}.bed -o {output.track} "
        "--calls {output.calls} {params.fasta} 2> {log}"


def score_pieces(ext):
    def pieces(w):
        plan = checkpoints.score_plan.get(name=w.name).output[0]
        with open(os.path.join(plan, "pieces.tsv")) as f:
            n = sum(1 for _ in f) - 1
        return [os.path.join(SCORE_DIR, w.name, "pieces", f"{i}.{ext}") for i in range(n)]

    return pieces


rule score_gather_track:
    input:
        plan=os.path.join(SCORE_DIR, "{name}", "plan"),
        pieces=score_pieces("bedgraph"),
    output:
        os.path.join(SCORE_DIR, "{name}.bedgraph"),
    log:
        log("score_gather_track", "{name}"),
    threads: 1
    resources:
        **res("light"),
    shell:
        "{PYTHON} {SCRIPTS}/gather_track.py {input.plan}/pieces.tsv {output} {input.pieces} 2> {log}"


# The bigWig one run writes: the pieces gathered in the genome's order (one run
# sorts regions for a bigWig), written by `mambadna bigwig` with the contig
# list of the FASTA's index.
rule score_bigwig:
    input:
        plan=os.path.join(SCORE_DIR, "{name}", "plan"),
        pieces=score_pieces("bedgraph"),
        fai=lambda w: fai("score-" + w.name),
    output:
        os.path.join(SCORE_DIR, "{name}.bw"),
    params:
        fasta=lambda w: fasta("score-" + w.name),
    log:
        log("score_bigwig", "{name}"),
    threads: 1
    resources:
        **res("light"),
    shell:
        "({PYTHON} {SCRIPTS}/gather_track.py --genome-order {input.fai} {input.plan}/pieces.tsv - "
        "{input.pieces} | {MAMBADNA} bigwig --literal-names -g {params.fasta} -o {output} -) "
        "2> {log}"


# Calls split between pieces are scored again over their own span: a scoring job.
rule score_gather_calls:
    input:
        plan=os.path.join(SCORE_DIR, "{name}", "plan"),
        pieces=score_pieces("bed"),
        fai=lambda w: fai("score-" + w.name),
        model=SCORE_MODEL,
    output:
        os.path.join(SCORE_DIR, "{name}.bed"),
    params:
        fasta=lambda w: fasta("score-" + w.name),
        options=score_options(),
        device=device("score"),
        tmp=lambda w: os.path.join(SCORE_DIR, w.name, "rescore"),
    log:
        log("score_gather_calls", "{name}"),
    threads: JOBS["score"]["threads"]
    resources:
        **res("score"),
    shell:
        "{PYTHON} {SCRIPTS}/gather_calls.py --plan {input.plan}/pieces.tsv --out {output} "
        "--rescore '{MAMBADNA} score {params.options} {params.device} -t {threads}' "
        "--window-args {input.plan}/args --fasta {params.fasta} --tmp {params.tmp} "
        "{input.pieces} 2> {log}"


rule score_plot:
    input:
        track=os.path.join(SCORE_DIR, "{}.bedgraph".format(next(iter(SCORE.get("genomes", {"": 0}))))),
        calls=os.path.join(SCORE_DIR, "{}.bed".format(next(iter(SCORE.get("genomes", {"": 0}))))),
    output:
        report(
            os.path.join(OUT, "report", "score_track.png"),
            caption="../report/score_track.rst",
            category="Scoring",
        ),
    params:
        length=SCORE.get("plot_length", 0),
        threshold=calls_threshold,
    log:
        log("score_plot", "track"),
    threads: 1
    resources:
        **res("light"),
    shell:
        "{PYTHON} {SCRIPTS}/plot_track.py {input.track} {input.calls} {params.length} "
        "{params.threshold} {output} 2> {log}"
