# The data-quality summary: rows read = kept + quarantined, per file and reason.


rule quality_summary:
    input:
        accounting=get_quality_inputs("accounting"),
        rejects=get_quality_inputs("rejects"),
        panels=expand(rules.score_panel.output.panel, instrument=INSTRUMENTS),
    output:
        files=report(
            "results/quality/files.csv", caption="../report/quality.rst", category="Data quality"
        ),
        practice_years="results/quality/practice_years.csv",
        reasons="results/quality/reject_reasons.csv",
        summary="results/quality/summary.json",
    log:
        "results/logs/quality_summary.log",
    params:
        label=DATA_LABEL,
    priority: 1  # small; lets its notebook pair with others instead of running last
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval quality --accounting {input.accounting:q} --rejects {input.rejects:q} "
        "--panel {input.panels:q} --data-label={params.label:q} --out-files {output.files:q} "
        "--out-practice-years {output.practice_years:q} --out-reasons {output.reasons:q} "
        "--out-summary {output.summary:q} "
        "2> {log:q} || (cat {log:q} >&2; exit 1)"
