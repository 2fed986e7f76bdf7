# The parameters table of the report: the configuration, flattened, and the
# window and stride each genome was scored with.
import json


def flat(prefix, value):
    if isinstance(value, dict):
        return [row for k, v in value.items() for row in flat(f"{prefix}.{k}" if prefix else k, v)]
    return [(prefix, json.dumps(value) if isinstance(value, list) else str(value))]


rule report_parameters:
    input:
        [os.path.join(SCORE_DIR, name, "plan") for name in SCORE.get("genomes", {})],
    output:
        report(
            os.path.join(OUT, "report", "parameters.tsv"),
            caption="../report/parameters.rst",
            category="Parameters",
        ),
    params:
        rows=flat("", config),
    log:
        log("report_parameters", "table"),
    threads: 1
    resources:
        **res("light"),
    run:
        with open(output[0], "w") as f:
            f.write("parameter\tvalue\n")
            for key, value in params.rows:
                f.write(f"{key}\t{value}\n")
            for name, plan in zip(SCORE.get("genomes", {}), input):
                with open(os.path.join(plan, "args")) as a:
                    f.write(f"score.genomes.{name}: window and stride used\t{a.read().strip()}\n")
