# Validate each extract against the codebook and register; quarantine bad rows with reasons.


rule clean_extract:
    input:
        extract=get_extract,
        register=REGISTER,
        codebook=CODEBOOK,
    output:
        clean="results/clean/{instrument}_{year}.parquet",
        rejects="results/quality/rejects/{instrument}_{year}.parquet",
        accounting="results/quality/accounting/{instrument}_{year}.json",
    log:
        "results/logs/clean_extract/{instrument}_{year}.log",
    benchmark:
        "results/benchmarks/clean_extract/{instrument}_{year}.tsv"
    wildcard_constraints:
        year=r"\d{4}",
    params:
        years=YEARS,
        code_width=STUDY.cleaning.practice_code_width,
        code_pattern=get_code_pattern,
        max_missing=get_max_missing_items,
        label=DATA_LABEL,
    priority: 3  # upstream of every model: never left waiting behind them
    threads: 1
    resources:
        # 100x: 1.7-2.4 GB for ~100 MB CSVs, 4.3 GB for the 448 MB one (text labels), <= 51 s
        mem_mb=mem_by_input(1500, 12, key="extract", xlsx_factor=4),
        runtime=runtime_by_input(5, 0.02, key="extract"),
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval clean --instrument {wildcards.instrument:q} --year {wildcards.year:q} "
        "--extract {input.extract:q} --register {input.register:q} "
        "--survey-years {params.years:q} --codebook {input.codebook:q} "
        "--code-width {params.code_width:q} --code-pattern {params.code_pattern:q} "
        "--max-missing-items {params.max_missing:q} "
        "--data-label={params.label:q} --out-clean {output.clean:q} "
        "--out-rejects {output.rejects:q} --out-accounting {output.accounting:q} 2> {log:q} "
        "|| (cat {log:q} >&2; exit 1)"
