# Opt-in scattered work, for a cluster: not part of the default target (`make report`).
#
#   snakemake ri_scattered   randomization inference with analysis.randomization.scatter_draws
#                            draws for the headline's static TWFE (main comparison), in
#                            scatter_draws / scatter_chunk_draws independent jobs per outcome
#   snakemake placebo_scattered
#                            the placebo study (analysis.placebo) in assignments /
#                            scatter_assignments jobs per outcome, gathered per instrument into
#                            results/scatter/placebo/{instrument}/placebo.parquet, the same table
#                            as the default target's results/models/{instrument}/placebo.parquet
#   snakemake monte_carlo    the Monte Carlo study of validation/monte_carlo.py (config key
#                            monte_carlo), in chunks of chunk_size replications per job
#
# Every chunk is seeded on its own (RI: seed chunks of 1,000 draws from the RI seed; placebo:
# every job draws the same seeded assignments and RI reference and computes its share; Monte
# Carlo: each replication from the study seed and scenario key), and each gather concatenates in
# a fixed order, so the results equal a single-process run exactly (tests/unit/test_scatter.py).
from linkseval.montecarlo import chunk_keys as mc_chunk_keys
from linkseval.scatter import placebo_n_jobs, ri_n_jobs

RI_JOBS = ri_n_jobs(STUDY.scatter.ri_draws, STUDY.scatter.ri_chunk_draws)
# the settings the main comparison's panel and the RI test read (rerun when one of them changes)
RI_SETTINGS = STUDY.job_settings("ri_chunk")
# the gather also gives the family-wise interval of the outcomes in analysis.family
RI_GATHER_SETTINGS = STUDY.job_settings("ri_gather")
PLACEBO_JOBS = placebo_n_jobs(STUDY.scatter.placebo_assignments, STUDY.scatter.placebo_chunk)
PLACEBO_CHUNK = "results/scatter/placebo/{instrument}/{outcome}/chunk_{chunk}.parquet"
MC_JSON = STUDY.monte_carlo_settings()
MC_CHUNK = "results/scatter/monte_carlo/chunks/{scenario}/{run}/chunk_{chunk}.parquet"
MC_OUT = "results/scatter/monte_carlo"


rule ri_chunk:
    input:
        panel=rules.score_panel.output.panel,
    output:
        "results/scatter/ri/{instrument}/{outcome}/chunk_{chunk}.parquet",
    log:
        "results/logs/scatter/ri_chunk/{instrument}_{outcome}_{chunk}.log",
    benchmark:
        "results/benchmarks/scatter/ri_chunk/{instrument}_{outcome}_{chunk}.tsv"
    wildcard_constraints:
        chunk=r"\d+",
    params:
        settings=RI_SETTINGS,
        seed=STUDY.settings.ri_seed,
        draws=STUDY.scatter.ri_draws,
        chunk_draws=STUDY.scatter.ri_chunk_draws,
        label=DATA_LABEL,
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval ri-chunk --panel {input.panel:q} "
        "--instrument {wildcards.instrument:q} "
        "--outcome {wildcards.outcome:q} --settings {params.settings:q} --seed {params.seed:q} "
        "--draws {params.draws:q} --chunk-draws {params.chunk_draws:q} --chunk {wildcards.chunk:q} "
        "--data-label={params.label:q} --out {output:q} 2> {log:q} || (cat {log:q} >&2; exit 1)"


rule ri_gather:
    input:
        panel=rules.score_panel.output.panel,
        chunks=expand(rules.ri_chunk.output[0], chunk=range(RI_JOBS), allow_missing=True),
    output:
        "results/scatter/ri/{instrument}/{outcome}.json",
    log:
        "results/logs/scatter/ri_gather/{instrument}_{outcome}.log",
    params:
        settings=RI_GATHER_SETTINGS,
        seed=STUDY.settings.ri_seed,
        draws=STUDY.scatter.ri_draws,
        chunk_draws=STUDY.scatter.ri_chunk_draws,
        label=DATA_LABEL,
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval ri-gather --panel {input.panel:q} "
        "--instrument {wildcards.instrument:q} "
        "--outcome {wildcards.outcome:q} --settings {params.settings:q} --seed {params.seed:q} "
        "--draws {params.draws:q} --chunk-draws {params.chunk_draws:q} --chunks {input.chunks:q} "
        "--data-label={params.label:q} --out {output:q} 2> {log:q} || (cat {log:q} >&2; exit 1)"


rule ri_scattered:
    input:
        _per_model(rules.ri_gather.output[0]),


rule placebo_chunk:
    input:
        panel=rules.score_panel.output.panel,
    output:
        PLACEBO_CHUNK,
    log:
        "results/logs/scatter/placebo_chunk/{instrument}_{outcome}_{chunk}.log",
    benchmark:
        "results/benchmarks/scatter/placebo_chunk/{instrument}_{outcome}_{chunk}.tsv"
    wildcard_constraints:
        chunk=r"\d+",
    params:
        settings=STUDY.job_settings("placebo"),
        label=DATA_LABEL,
    threads: 1
    resources:
        mem_mb=mem_by_rows(500, 2, "panel"),
        runtime=runtime_by_rows(5, 0.02, "panel"),
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval placebo-chunk --panel {input.panel:q} "
        "--instrument {wildcards.instrument:q} --outcome {wildcards.outcome:q} "
        "--settings {params.settings:q} --chunk {wildcards.chunk:q} "
        "--data-label={params.label:q} --out {output:q} 2> {log:q} || (cat {log:q} >&2; exit 1)"


rule placebo_gather:
    input:
        get_placebo_chunks,
    output:
        parquet="results/scatter/placebo/{instrument}/placebo.parquet",
        csv="results/scatter/placebo/{instrument}/placebo.csv",
    log:
        "results/logs/scatter/placebo_gather/{instrument}.log",
    params:
        outcomes=get_modelled_outcomes,
        settings=STUDY.job_settings("placebo"),
        label=DATA_LABEL,
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval placebo-gather --chunks {input:q} "
        "--instrument {wildcards.instrument:q} --outcome {params.outcomes:q} "
        "--settings {params.settings:q} --data-label={params.label:q} --out {output.parquet:q} "
        "--out-csv {output.csv:q} 2> {log:q} || (cat {log:q} >&2; exit 1)"


rule placebo_scattered:
    input:
        expand(rules.placebo_gather.output.parquet, instrument=list(dict(MODELS))),


rule monte_carlo_chunk:
    output:
        MC_CHUNK,
    log:
        "results/logs/scatter/monte_carlo_chunk/{scenario}_{run}_{chunk}.log",
    benchmark:
        "results/benchmarks/scatter/monte_carlo_chunk/{scenario}_{run}_{chunk}.tsv"
    wildcard_constraints:
        scenario=r"[a-z0-9_]+",
        run="main|check",
        chunk=r"\d+",
    params:
        settings=MC_JSON,
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval monte-carlo-chunk --settings {params.settings:q} "
        "--scenario {wildcards.scenario:q} --run {wildcards.run:q} --chunk {wildcards.chunk:q} "
        "--out {output:q} 2> {log:q} || (cat {log:q} >&2; exit 1)"


rule monte_carlo_gather:
    input:
        # evaluated only when the target is asked for: a bad monte_carlo.scenarios name stops
        # this target, not the default one
        lambda wildcards: [
            MC_CHUNK.format(scenario=s, run=r, chunk=k)
            for s, r, k in mc_chunk_keys(STUDY.monte_carlo)
        ],
    output:
        summary=f"{MC_OUT}/monte_carlo_summary.csv",
        reps=f"{MC_OUT}/monte_carlo_reps.csv",
        agreement=f"{MC_OUT}/check_agreement.csv",
        table=f"{MC_OUT}/summary_table.md",
    log:
        "results/logs/scatter/monte_carlo_gather.log",
    params:
        settings=MC_JSON,
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval monte-carlo-gather --settings {params.settings:q} --chunks {input:q} "
        "--out-summary {output.summary:q} --out-reps {output.reps:q} "
        "--out-agreement {output.agreement:q} --out-table {output.table:q} "
        "2> {log:q} || (cat {log:q} >&2; exit 1)"


rule monte_carlo:
    input:
        rules.monte_carlo_gather.output,
