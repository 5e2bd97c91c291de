# The placebo study on the study's own data (analysis.placebo): per instrument, every modelled
# outcome's size of each inference method when the programme is reassigned to never-treated
# practices with the real cohort sizes (linkseval.placebo). Read by the methods page.


rule placebo_instrument:
    input:
        panel=rules.score_panel.output.panel,
    output:
        parquet="results/models/{instrument}/placebo.parquet",
        csv="results/models/{instrument}/placebo.csv",
    log:
        "results/logs/placebo_instrument/{instrument}.log",
    benchmark:
        "results/benchmarks/placebo_instrument/{instrument}.tsv"
    params:
        outcomes=get_modelled_outcomes,
        settings=STUDY.job_settings("placebo"),
        label=DATA_LABEL,
    priority: 1  # the methods page waits for it: not left to the end of the run
    threads: 1
    resources:
        mem_mb=mem_by_rows(500, 2, "panel"),
        runtime=runtime_by_rows(5, 0.02, "panel"),
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval placebo --panel {input.panel:q} "
        "--instrument {wildcards.instrument:q} --outcome {params.outcomes:q} "
        "--settings {params.settings:q} --data-label={params.label:q} --out {output.parquet:q} "
        "--out-csv {output.csv:q} "
        "2> {log:q} || (cat {log:q} >&2; exit 1)"

