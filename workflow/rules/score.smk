# Reverse-score, theme scores per respondent, and the practice-year panel per instrument.


rule score_panel:
    input:
        clean=get_clean_files,
        register=REGISTER,
        codebook=CODEBOOK,
    output:
        scores="results/scored/{instrument}.parquet",
        panel="results/panel/{instrument}.parquet",
    log:
        "results/logs/score_panel/{instrument}.log",
    benchmark:
        "results/benchmarks/score_panel/{instrument}.tsv"
    params:
        years=YEARS,
        code_width=STUDY.cleaning.practice_code_width,
        code_pattern=get_code_pattern,
        min_respondents=STUDY.scoring.min_respondents,
        min_items=STUDY.scoring.min_items_per_theme,
        formula=STUDY.scoring.percent_formula,
        label=DATA_LABEL,
    priority: 3  # upstream of every model: never left waiting behind them
    threads: 1
    resources:
        # 100x: 3.0-3.4 GB and <= 14 s for 57-71 MB of cleaned Parquet
        mem_mb=mem_by_input(500, 60, key="clean"),
        runtime=runtime_by_input(5, 0.1, key="clean"),
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval score --instrument {wildcards.instrument:q} --clean {input.clean:q} "
        "--register {input.register:q} "
        "--survey-years {params.years:q} --codebook {input.codebook:q} "
        "--code-width {params.code_width:q} --code-pattern {params.code_pattern:q} "
        "--min-respondents {params.min_respondents:q} "
        "--min-items-per-theme {params.min_items:q} --percent-formula {params.formula:q} "
        "--data-label={params.label:q} --out-scores {output.scores:q} --out-panel {output.panel:q} "
        "2> {log:q} || (cat {log:q} >&2; exit 1)"
