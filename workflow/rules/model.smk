# Difference-in-differences per outcome (CR1, wild bootstrap, RI side by side) — or, with
# analysis.scatter_comparisons, one job per outcome x comparison group (the grid a cluster can
# spread; same rows) — the multilevel cross-check per instrument (or per outcome, with
# analysis.scatter_multilevel), then the gathered, multiplicity-adjusted table, the static TWFE
# coefficient's weights (de Chaisemartin & D'Haultfoeuille; read by the DiD pages) and the
# report's descriptive comparison.


rule estimate_outcome:
    input:
        panel=rules.score_panel.output.panel,
    output:
        "results/models/{instrument}/{outcome}.estimates.parquet",
    log:
        "results/logs/estimate_outcome/{instrument}_{outcome}.log",
    benchmark:
        "results/benchmarks/estimate_outcome/{instrument}_{outcome}.tsv"
    params:
        settings=STUDY.job_settings("estimate"),
        label=DATA_LABEL,
    priority: 2  # on the way to the DiD notebooks, the run's critical path
    threads: 1
    resources:
        # 100x (300,000 practice-years): 2.6-3.0 GB and ~200-320 s
        mem_mb=mem_by_rows(500, 10, "panel", lambda wc: PANEL_OUTCOMES[wc.instrument]),
        runtime=runtime_by_rows(10, 0.05, "panel", lambda wc: PANEL_OUTCOMES[wc.instrument]),
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval estimate --panel {input.panel:q} "
        "--instrument {wildcards.instrument:q} "
        "--outcome {wildcards.outcome:q} --settings {params.settings:q} "
        "--data-label={params.label:q} --out {output:q} 2> {log:q} || (cat {log:q} >&2; exit 1)"


rule estimate_comparison:
    input:
        panel=rules.score_panel.output.panel,
    output:
        "results/models/{instrument}/{outcome}/{comparison}.estimates.parquet",
    log:
        "results/logs/estimate_comparison/{instrument}_{outcome}_{comparison}.log",
    benchmark:
        "results/benchmarks/estimate_comparison/{instrument}_{outcome}_{comparison}.tsv"
    params:
        settings=STUDY.job_settings("estimate"),
        label=DATA_LABEL,
    priority: 2  # on the way to the DiD notebooks, the run's critical path
    threads: 1
    resources:
        # 100x (300,000 practice-years): 2.6-3.0 GB and ~200-320 s
        mem_mb=mem_by_rows(500, 10, "panel", lambda wc: PANEL_OUTCOMES[wc.instrument]),
        runtime=runtime_by_rows(10, 0.05, "panel", lambda wc: PANEL_OUTCOMES[wc.instrument]),
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval estimate --panel {input.panel:q} "
        "--instrument {wildcards.instrument:q} "
        "--outcome {wildcards.outcome:q} --comparison {wildcards.comparison:q} "
        "--settings {params.settings:q} --data-label={params.label:q} --out {output:q} "
        "2> {log:q} || (cat {log:q} >&2; exit 1)"


rule multilevel_instrument:
    input:
        scores=rules.score_panel.output.scores,
        register=REGISTER,
        codebook=CODEBOOK,
    output:
        "results/models/{instrument}/multilevel.parquet",
    log:
        "results/logs/multilevel_instrument/{instrument}.log",
    benchmark:
        "results/benchmarks/multilevel_instrument/{instrument}.tsv"
    params:
        outcomes=get_modelled_outcomes,
        settings=STUDY.job_settings("multilevel"),
        code_width=STUDY.cleaning.practice_code_width,
        code_pattern=get_code_pattern,
        formula=STUDY.scoring.percent_formula,
        label=DATA_LABEL,
    priority: 2  # on the way to the DiD notebooks, the run's critical path
    threads: 1
    resources:
        # fits one outcome after another: memory as for one, time for all
        mem_mb=mem_by_rows(500, 0.6, "scores"),
        runtime=runtime_by_input(10, 0.5, key="scores", times=get_n_outcomes),
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval multilevel --scores {input.scores:q} --register {input.register:q} "
        "--codebook {input.codebook:q} --code-width {params.code_width:q} "
        "--code-pattern {params.code_pattern:q} "
        "--instrument {wildcards.instrument:q} --outcome {params.outcomes:q} "
        "--percent-formula {params.formula:q} --settings {params.settings:q} "
        "--data-label={params.label:q} --out {output:q} 2> {log:q} || (cat {log:q} >&2; exit 1)"


# with analysis.scatter_multilevel: one job per outcome (a cluster runs them side by side)
rule multilevel_outcome:
    input:
        scores=rules.score_panel.output.scores,
        register=REGISTER,
        codebook=CODEBOOK,
    output:
        "results/models/{instrument}/{outcome}.multilevel.parquet",
    log:
        "results/logs/multilevel_outcome/{instrument}_{outcome}.log",
    benchmark:
        "results/benchmarks/multilevel_outcome/{instrument}_{outcome}.tsv"
    params:
        settings=STUDY.job_settings("multilevel"),
        code_width=STUDY.cleaning.practice_code_width,
        code_pattern=get_code_pattern,
        formula=STUDY.scoring.percent_formula,
        label=DATA_LABEL,
    priority: 2  # on the way to the DiD notebooks, the run's critical path
    threads: 1
    resources:
        # 100x: 2.2 GB and 100-180 s for 3.26 M Safequest respondents
        mem_mb=mem_by_rows(500, 0.6, "scores"),
        runtime=runtime_by_input(10, 0.5, key="scores"),
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval multilevel --scores {input.scores:q} --register {input.register:q} "
        "--codebook {input.codebook:q} --code-width {params.code_width:q} "
        "--code-pattern {params.code_pattern:q} "
        "--instrument {wildcards.instrument:q} --outcome {wildcards.outcome:q} "
        "--percent-formula {params.formula:q} --settings {params.settings:q} "
        "--data-label={params.label:q} --out {output:q} 2> {log:q} || (cat {log:q} >&2; exit 1)"


rule combine_estimates:
    input:
        get_model_outputs(),
    output:
        parquet="results/models/estimates.parquet",
        csv=report(
            "results/models/estimates.csv", caption="../report/estimates.rst", category="Estimates"
        ),
        headline=report(
            "results/models/headline.csv", caption="../report/headline.rst", category="Estimates"
        ),
        json="results/models/headline.json",
        primary="results/models/primary.csv",
    log:
        "results/logs/combine_estimates.log",
    params:
        settings=STUDY.job_settings("combine"),
        label=DATA_LABEL,
        methods=site.method_names(STUDY.settings.methods),  # for the headline's caption
    priority: 2  # on the way to the DiD notebooks, the run's critical path
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval combine --estimates {input:q} --settings {params.settings:q} "
        "--data-label={params.label:q} --out-parquet {output.parquet:q} --out-csv {output.csv:q} "
        "--out-headline {output.headline:q} --out-json {output.json:q} "
        "--out-primary {output.primary:q} 2> {log:q} "
        "|| (cat {log:q} >&2; exit 1)"


rule twfe_weights:
    input:
        panel=rules.score_panel.output.panel,
    output:
        cells="results/models/{instrument}/twfe_weights.parquet",
        summary="results/models/{instrument}/twfe_weights_summary.parquet",
    log:
        "results/logs/twfe_weights/{instrument}.log",
    params:
        outcomes=get_modelled_outcomes,
        settings=STUDY.job_settings("twfe_weights"),
        label=DATA_LABEL,
    priority: 3  # tiny (under 2 s), and the DiD pages wait for it: not left to the end
    threads: 1
    resources:
        mem_mb=mem_by_rows(500, 2, "panel"),
        runtime=5,
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval twfe-weights --panel {input.panel:q} "
        "--instrument {wildcards.instrument:q} --outcome {params.outcomes:q} "
        "--settings {params.settings:q} --data-label={params.label:q} "
        "--out-cells {output.cells:q} --out-summary {output.summary:q} "
        "2> {log:q} || (cat {log:q} >&2; exit 1)"


rule descriptive_comparison:
    input:
        expand(rules.score_panel.output.panel, instrument=INSTRUMENTS),
    output:
        means=report(
            "results/descriptive/theme_means.csv",
            caption="../report/descriptive.rst",
            category="Descriptive",
        ),
        change="results/descriptive/percent_change.csv",
    log:
        "results/logs/descriptive_comparison.log",
    params:
        baseline=get_baseline_arg,
        label=DATA_LABEL,
        settings=STUDY.job_settings("describe"),
    priority: 1  # small; lets its notebook pair with others instead of running last
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval describe --panel {input:q} {params.baseline:q} "
        "--settings {params.settings:q} "
        "--data-label={params.label:q} --out-means {output.means:q} --out-change {output.change:q} "
        "2> {log:q} || (cat {log:q} >&2; exit 1)"
