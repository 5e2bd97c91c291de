# Executed notebooks (papermill) -> self-contained report pages -> results/report/index.html.
# papermill writes NAME.ipynb.partial.ipynb once, at the end or at the failing cell (saving
# after every cell cost 0.2 s per notebook; a kernel that dies leaves only the log); the same
# job's `linkseval finish` scrubs run times, moves the finished notebook into place and renders
# its page (one process: the page costs no extra job). A killed run never leaves a
# half-executed notebook under the final name.


checkpoint links_practices:
    input:
        register=REGISTER,
    output:
        "results/report/links_practices.json",
    log:
        "results/logs/links_practices.log",
    params:
        years=SURVEY_YEARS_ARG,
        code_width=lookup(dpath="cleaning/practice_code_width", within=config),
    threads: 1
    resources:
        mem_mb=500,
        runtime=2,
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval links --register {input.register:q} --survey-years {params.years} --code-width {params.code_width} "
        "--out {output} 2> {log} || (cat {log} >&2; exit 1)"


rule provenance:
    input:
        data=provenance_inputs(),
        lock=repo_file("requirements.lock"),
    output:
        "results/provenance.json",
    log:
        "results/logs/provenance.log",
    params:
        config=json.dumps(config, sort_keys=True),
        root=repo_file("."),
        label=DATA_LABEL,
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval provenance --inputs {input.data:q} --lock {input.lock} "
        "--config-json {params.config:q} --root {params.root:q} --data-label={params.label:q} "
        "--out {output} "
        "2> {log} || (cat {log} >&2; exit 1)"


rule notebook_data_quality:
    input:
        notebook=repo_file("notebooks/data_quality.ipynb"),
        files="results/quality/files.csv",
        reasons="results/quality/reject_reasons.csv",
        practice_years="results/quality/practice_years.csv",
        panels=expand("results/panel/{instrument}.parquet", instrument=INSTRUMENTS),
        clean=expand(
            "results/clean/{instrument}_{year}.parquet", instrument=INSTRUMENTS, year=YEARS
        ),
    output:
        notebook="results/notebooks/data_quality.ipynb",
        html="results/report/data_quality.html",
    log:
        "results/logs/notebooks/data_quality.log",
    params:
        title=page_title("data_quality"),
        nav=NAV,
        lists=yaml_params("panels", "clean"),
        min_respondents=lookup(dpath="scoring/min_respondents", within=config),
        label=DATA_LABEL,
        label_yaml=DATA_LABEL_YAML,
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/linkseval.yaml"
    shell:
        "papermill {input.notebook} {output.notebook}.partial.ipynb -k python3 "
        "--no-progress-bar --no-request-save-on-cell-execute "
        "-p files_csv {input.files} -p reasons_csv {input.reasons} "
        "-p practice_years_csv {input.practice_years} -y {params.lists:q} "
        "-p min_respondents {params.min_respondents} -y {params.label_yaml:q} "
        "> {log} 2>&1 "
        "&& python -m linkseval finish {output.notebook}.partial.ipynb --notebook {output.notebook} "
        "--html {output.html} --title {params.title:q} --nav {params.nav} "
        "--data-label={params.label:q} 2>> {log} || (cat {log} >&2; exit 1)"


rule notebook_descriptives:
    input:
        notebook=repo_file("notebooks/descriptives.ipynb"),
        means="results/descriptive/theme_means.csv",
        change="results/descriptive/percent_change.csv",
    output:
        notebook="results/notebooks/descriptives.ipynb",
        html="results/report/descriptives.html",
    log:
        "results/logs/notebooks/descriptives.log",
    params:
        title=page_title("descriptives"),
        nav=NAV,
        label=DATA_LABEL,
        label_yaml=DATA_LABEL_YAML,
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/linkseval.yaml"
    shell:
        "papermill {input.notebook} {output.notebook}.partial.ipynb -k python3 "
        "--no-progress-bar --no-request-save-on-cell-execute "
        "-p theme_means {input.means} -p percent_change {input.change} "
        "-y {params.label_yaml:q} > {log} 2>&1 "
        "&& python -m linkseval finish {output.notebook}.partial.ipynb --notebook {output.notebook} "
        "--html {output.html} --title {params.title:q} --nav {params.nav} "
        "--data-label={params.label:q} 2>> {log} "
        "|| (cat {log} >&2; exit 1)"


rule notebook_did:
    input:
        notebook=repo_file("notebooks/did_outcome.ipynb"),
        estimates="results/models/estimates.csv",
    output:
        notebook="results/notebooks/did_{instrument}_{outcome}.ipynb",
        html="results/report/did_{instrument}_{outcome}.html",
    log:
        "results/logs/notebooks/did_{instrument}_{outcome}.log",
    params:
        title=page_title(lambda w: f"did_{w.instrument}_{w.outcome}"),
        nav=NAV,
        main=lookup(dpath="analysis/main_comparison", within=config),
        alpha=lookup(dpath="analysis/alpha", within=config),
        labels=COMPARISON_LABELS,
        label=DATA_LABEL,
        label_yaml=DATA_LABEL_YAML,
    priority: 1  # before the notebooks that do not wait for the models
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/linkseval.yaml"
    shell:
        "papermill {input.notebook} {output.notebook}.partial.ipynb -k python3 "
        "--no-progress-bar --no-request-save-on-cell-execute "
        "-p instrument {wildcards.instrument} -p outcome {wildcards.outcome} "
        "-p estimates {input.estimates} -p main_comparison {params.main} "
        "-p alpha {params.alpha} -p comparison_labels {params.labels:q} -y {params.label_yaml:q} > {log} 2>&1 "
        "&& python -m linkseval finish {output.notebook}.partial.ipynb --notebook {output.notebook} "
        "--html {output.html} --title {params.title:q} --nav {params.nav} "
        "--data-label={params.label:q} 2>> {log} "
        "|| (cat {log} >&2; exit 1)"


rule notebook_practice:
    input:
        notebook=repo_file("notebooks/practice_profile.ipynb"),
        panels=expand("results/panel/{instrument}.parquet", instrument=INSTRUMENTS),
    output:
        notebook="results/notebooks/practice_{code}.ipynb",
        html="results/report/practice_{code}.html",
    log:
        "results/logs/notebooks/practice_{code}.log",
    params:
        title=page_title(lambda w: f"practice_{w.code}"),
        nav=NAV,
        lists=yaml_params("panels"),
        min_respondents=lookup(dpath="scoring/min_respondents", within=config),
        label=DATA_LABEL,
        label_yaml=DATA_LABEL_YAML,
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/linkseval.yaml"
    shell:
        "papermill {input.notebook} {output.notebook}.partial.ipynb -k python3 "
        "--no-progress-bar --no-request-save-on-cell-execute "
        "-r practice_code {wildcards.code} -y {params.lists:q} "
        "-p min_respondents {params.min_respondents} -y {params.label_yaml:q} "
        "> {log} 2>&1 "
        "&& python -m linkseval finish {output.notebook}.partial.ipynb --notebook {output.notebook} "
        "--html {output.html} --title {params.title:q} --nav {params.nav} "
        "--data-label={params.label:q} 2>> {log} || (cat {log} >&2; exit 1)"


rule notebook_methods:
    input:
        notebook=repo_file("notebooks/methods.ipynb"),
        provenance="results/provenance.json",
        monte_carlo=monte_carlo_table,
    output:
        notebook="results/notebooks/methods.ipynb",
        html="results/report/methods.html",
    log:
        "results/logs/notebooks/methods.log",
    params:
        title=page_title("methods"),
        nav=NAV,
        monte_carlo=repo_file("validation/monte_carlo_summary.csv"),
        label=DATA_LABEL,
        label_yaml=DATA_LABEL_YAML,
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/linkseval.yaml"
    shell:
        "papermill {input.notebook} {output.notebook}.partial.ipynb -k python3 "
        "--no-progress-bar --no-request-save-on-cell-execute "
        "-p provenance {input.provenance} -p monte_carlo {params.monte_carlo} "
        "-y {params.label_yaml:q} > {log} 2>&1 "
        "&& python -m linkseval finish {output.notebook}.partial.ipynb --notebook {output.notebook} "
        "--html {output.html} --title {params.title:q} --nav {params.nav} "
        "--data-label={params.label:q} 2>> {log} "
        "|| (cat {log} >&2; exit 1)"


rule disclosure_check:
    input:
        pages=report_pages,
        tables=[
            "results/models/estimates.csv",
            "results/models/headline.csv",
            "results/models/headline.json",
            "results/descriptive/theme_means.csv",
            "results/descriptive/percent_change.csv",
            "results/quality/files.csv",
            "results/quality/reject_reasons.csv",
            "results/quality/practice_years.csv",
            "results/quality/summary.json",
        ],
        clean=expand(
            "results/clean/{instrument}_{year}.parquet", instrument=INSTRUMENTS, year=YEARS
        ),
    output:
        "results/quality/disclosure.json",
    log:
        "results/logs/disclosure_check.log",
    params:
        min_respondents=lookup(dpath="scoring/min_respondents", within=config),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval disclosure --files {input.pages} {input.tables} "
        "--identifiers-from {input.clean} --min-respondents {params.min_respondents} "
        "--out {output} 2> {log} || (cat {log} >&2; exit 1)"


rule report_index:
    input:
        headline="results/models/headline.csv",
        pages=report_pages,
        disclosure="results/quality/disclosure.json",
    output:
        report("results/report/index.html", caption="../report/index.rst", category="Report"),
    log:
        "results/logs/report_index.log",
    params:
        pages=page_args,
        settings=analysis_json("family", "alpha"),
        label=DATA_LABEL,
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval index --headline {input.headline} --page {params.pages} "
        "--settings {params.settings:q} --data-label={params.label:q} --out {output} "
        "2> {log} || (cat {log} >&2; exit 1)"
