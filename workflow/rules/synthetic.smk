# The embedded default: deterministic synthetic extracts in the real extracts' messy shape.
# Only active when config raw_dir is null.
if SYNTHETIC:

    rule synthetic_data:
        input:
            codebook=CODEBOOK,
        output:
            extracts=get_synthetic_extracts(),
            register=f"{SYNTH_DIR}/practices.csv",
            truth=f"{SYNTH_DIR}/truth.json",
            truth_practice_year=f"{SYNTH_DIR}/truth_practice_year.csv",
            marker=f"{SYNTH_DIR}/SYNTHETIC_DATA.txt",
        log:
            "results/logs/synthetic_data.log",
        params:
            settings=STUDY.synthetic_settings(),
            years=YEARS,
            out_dir=get_output_dir,
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        conda:
            "../envs/linkseval.yaml"
        shell:
            "python -m linkseval synth --settings {params.settings:q} --years {params.years:q} "
            "--codebook {input.codebook:q} --out-dir {params.out_dir:q} 2> {log:q} "
            "|| (cat {log:q} >&2; exit 1)"
