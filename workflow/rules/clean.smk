# Validate each extract against the codebook and register; quarantine bad rows with reasons.


rule clean_extract:
    input:
        extract=extract_file,
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
        years=SURVEY_YEARS_ARG,
        code_width=lookup(dpath="cleaning/practice_code_width", within=config),
        max_missing=max_missing_items,
        label=DATA_LABEL,
    threads: 1
    resources:
        # 100x: 1.7-2.4 GB for ~100 MB CSVs, 4.3 GB for the 448 MB one (text labels), <= 51 s
        mem_mb=mem_by_input(1500, 12, key="extract", xlsx_factor=4),
        runtime=runtime_by_input(5, 0.02, key="extract"),
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval clean --instrument {wildcards.instrument} --year {wildcards.year} "
        "--extract {input.extract:q} --register {input.register:q} --codebook {input.codebook:q} "
        "--survey-years {params.years} --code-width {params.code_width} --max-missing-items {params.max_missing} "
        "--data-label={params.label:q} --out-clean {output.clean} "
        "--out-rejects {output.rejects} --out-accounting {output.accounting} 2> {log} "
        "|| (cat {log} >&2; exit 1)"
