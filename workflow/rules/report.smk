# Executed notebooks (papermill) -> self-contained report pages, staged in results/pages/ ->
# disclosure check -> index -> published together as results/report/ (publish_report: all pages
# or none; a run that fails before the end publishes nothing new).
# `linkseval notebook` (one page) and `linkseval notebooks` (a batch of pages in one kernel: the
# DiD pages, the practice profiles) run papermill in their own process into
# NAME.ipynb.partial.ipynb, written once, at the end or at the failing cell (saving after every
# cell cost 0.2 s per notebook; a kernel that dies leaves only the log), then scrub run times,
# move the finished notebook into place and render its page; a full disk or a failing cell is
# one `linkseval: error` line. A killed run never leaves a half-executed notebook under the
# final name. A failing practice profile's partial notebook goes with the checkpoint's folders
# (Snakemake removes a failed job's outputs); its log keeps the cell's traceback.
# params: where papermill writes the executed notebook before `linkseval notebook` moves it
partial_notebook = lambda wildcards, output: f"{output.notebook}.partial.ipynb"


checkpoint links_practices:
    input:
        register=REGISTER,
    output:
        "results/pages/links_practices.json",
    log:
        "results/logs/links_practices.log",
    params:
        years=YEARS,
        code_width=STUDY.cleaning.practice_code_width,
        code_pattern=get_code_pattern,
    priority: 3  # tiny; the practice profiles (a long job) wait for it
    threads: 1
    resources:
        mem_mb=500,
        runtime=2,
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval links --register {input.register:q} "
        "--survey-years {params.years:q} "
        "--code-width {params.code_width:q} --code-pattern {params.code_pattern:q} "
        "--out {output:q} 2> {log:q} || (cat {log:q} >&2; exit 1)"


rule provenance:
    input:
        data=get_provenance_inputs(),
        lock=repo_file("requirements.lock"),
    output:
        "results/provenance.json",
    log:
        "results/logs/provenance.log",
    params:
        config=lambda wildcards: json.dumps(STUDY.config, sort_keys=True),  # a function: braces stay
        root=repo_file("."),
        label=DATA_LABEL,
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval provenance --inputs {input.data:q} --lock {input.lock:q} "
        "--config-json {params.config:q} --root {params.root:q} --data-label={params.label:q} "
        "--out {output:q} "
        "2> {log:q} || (cat {log:q} >&2; exit 1)"


rule notebook_data_quality:
    input:
        notebook=repo_file("notebooks/data_quality.ipynb"),
        codebook=CODEBOOK,
        files=rules.quality_summary.output.files,
        reasons=rules.quality_summary.output.reasons,
        practice_years=rules.quality_summary.output.practice_years,
        panels=expand(rules.score_panel.output.panel, instrument=INSTRUMENTS),
        clean=expand(
            rules.clean_extract.output.clean, instrument=INSTRUMENTS, year=YEARS
        ),
    output:
        notebook="results/notebooks/data_quality.ipynb",
        html="results/pages/data_quality.html",
    log:
        "results/logs/notebooks/data_quality.log",
    params:
        partial=partial_notebook,
        title=page_title("data_quality"),
        nav=NAV,
        lists=yaml_params("panels", "clean"),
        min_respondents=STUDY.scoring.min_respondents,
        label=DATA_LABEL,
        label_yaml=DATA_LABEL_YAML,
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval notebook {input.notebook:q} --partial {params.partial:q} "
        "--notebook {output.notebook:q} --html {output.html:q} --title {params.title:q} "
        "--nav {params.nav:q} --data-label={params.label:q} --papermill "
        "-p files_csv {input.files:q} -p reasons_csv {input.reasons:q} "
        "-p practice_years_csv {input.practice_years:q} -p codebook {input.codebook:q} "
        "-y {params.lists:q} "
        "-p min_respondents {params.min_respondents:q} -y {params.label_yaml:q} "
        "> {log:q} 2>&1 || (cat {log:q} >&2; exit 1)"


rule notebook_descriptives:
    input:
        notebook=repo_file("notebooks/descriptives.ipynb"),
        means=rules.descriptive_comparison.output.means,
        change=rules.descriptive_comparison.output.change,
    output:
        notebook="results/notebooks/descriptives.ipynb",
        html="results/pages/descriptives.html",
    log:
        "results/logs/notebooks/descriptives.log",
    params:
        partial=partial_notebook,
        title=page_title("descriptives"),
        nav=NAV,
        outcome_labels=OUTCOME_LABELS,
        instrument=INSTRUMENTS[0],  # the study's first instrument (config `instruments`)
        label=DATA_LABEL,
        label_yaml=DATA_LABEL_YAML,
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval notebook {input.notebook:q} --partial {params.partial:q} "
        "--notebook {output.notebook:q} --html {output.html:q} --title {params.title:q} "
        "--nav {params.nav:q} --data-label={params.label:q} --papermill "
        "-p theme_means {input.means:q} -p percent_change {input.change:q} "
        "-p outcome_labels {params.outcome_labels:q} -p instrument {params.instrument:q} "
        "-y {params.label_yaml:q} > {log:q} 2>&1 || (cat {log:q} >&2; exit 1)"


rule notebook_did:
    input:
        notebook=repo_file("notebooks/did_outcome.ipynb"),
        estimates=rules.combine_estimates.output.csv,
        weights=expand(rules.twfe_weights.output.cells, instrument=list(dict(MODELS))),
        weights_summary=expand(rules.twfe_weights.output.summary, instrument=list(dict(MODELS))),
    output:
        notebooks=[f"results/notebooks/did_{stem}.ipynb" for stem in DID_PAGES],
        html=[f"{PAGES}/did_{stem}.html" for stem in DID_PAGES],
    log:
        "results/logs/notebooks/did.log",
    params:
        jobs=did_jobs,
        shared=notebook_parameters(
            {"estimates": "estimates"},
            main_comparison=STUDY.main_comparison.name,
            alpha=STUDY.settings.alpha,
            methods=json.dumps(STUDY.settings.methods),
            bootstrap_weights=STUDY.settings.bootstrap_weights,
            comparison_labels=COMPARISON_LABELS,
            outcome_labels=OUTCOME_LABELS,
        ),
        nav=NAV,
        label=DATA_LABEL,
    priority: 2  # the critical path: started as soon as the models are combined
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,  # minutes, a cap: ~1-2 s a page
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval notebooks {input.notebook:q} --jobs {params.jobs:q} "
        "--parameters {params.shared:q} --nav {params.nav:q} --data-label={params.label:q} "
        "> {log:q} 2>&1 || (cat {log:q} >&2; exit 1)"


# One job executes every Links practice's profile (one kernel for all: ~1.5 s a page instead of
# ~3.5 s). The practices are known only from the register, so the pages go into folders this
# checkpoint writes, and the rules that read them ask it for their paths (get_practice_pages).
checkpoint notebook_practices:
    input:
        notebook=repo_file("notebooks/practice_profile.ipynb"),
        panels=expand(rules.score_panel.output.panel, instrument=INSTRUMENTS),
        estimates=rules.combine_estimates.output.csv,
        links=get_links_register,
    output:
        notebooks=directory("results/notebooks/practices"),
        html=directory(f"{PAGES}/practices"),
    log:
        "results/logs/notebooks/practices.log",
    params:
        jobs=practice_jobs,
        shared=notebook_parameters(
            {"panels": "panels", "estimates": "estimates", "links_practices": "links"},
            settings=STUDY.job_settings("practice"),
            min_respondents=STUDY.scoring.min_respondents,
            outcome_labels=OUTCOME_LABELS,
            instrument=INSTRUMENTS[0],  # the study's first instrument (config `instruments`)
        ),
        nav=NAV,
        label=DATA_LABEL,
    priority: 2  # the longest notebook job: started first, beside the DiD pages
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,  # minutes, a cap (~2 s a page): a dry run asks before the register is read
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval notebooks {input.notebook:q} --jobs {params.jobs:q} "
        "--parameters {params.shared:q} --nav {params.nav:q} --data-label={params.label:q} "
        "> {log:q} 2>&1 || (cat {log:q} >&2; exit 1)"


rule pipeline_diagram:
    input:
        snakefile=repo_file("Snakefile"),
        rules=workflow_rule_files(),
    output:
        png="results/diagram/pipeline.png",
        json="results/diagram/pipeline.json",
    log:
        "results/logs/pipeline_diagram.log",
    params:
        config=lambda wildcards: json.dumps(STUDY.config, sort_keys=True),  # a function: braces stay
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval diagram --snakefile {input.snakefile:q} --directory . "
        "--config-json {params.config:q} --out-png {output.png:q} --out-json {output.json:q} "
        "2> {log:q} || (cat {log:q} >&2; exit 1)"


rule notebook_methods:
    input:
        notebook=repo_file("notebooks/methods.ipynb"),
        provenance=rules.provenance.output[0],
        diagram=rules.pipeline_diagram.output.png,
        diagram_info=rules.pipeline_diagram.output.json,
        links=rules.links_practices.output[0],
        monte_carlo=get_monte_carlo_table,
        placebo=get_placebo_tables,
    output:
        notebook="results/notebooks/methods.ipynb",
        html="results/pages/methods.html",
    log:
        "results/logs/notebooks/methods.log",
    params:
        partial=partial_notebook,
        title=page_title("methods"),
        nav=NAV,
        monte_carlo=repo_file("validation/monte_carlo_summary.csv"),
        label=DATA_LABEL,
        label_yaml=DATA_LABEL_YAML,
        placebo_yaml=yaml_params("placebo"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval notebook {input.notebook:q} --partial {params.partial:q} "
        "--notebook {output.notebook:q} --html {output.html:q} --title {params.title:q} "
        "--nav {params.nav:q} --data-label={params.label:q} --papermill "
        "-y {params.placebo_yaml:q} "
        "-p provenance {input.provenance:q} -p monte_carlo {params.monte_carlo:q} "
        "-p links_practices {input.links:q} "
        "-p diagram {input.diagram:q} -p diagram_info {input.diagram_info:q} "
        "-y {params.label_yaml:q} > {log:q} 2>&1 || (cat {log:q} >&2; exit 1)"


rule disclosure_check:
    input:
        static=STATIC_PAGES,
        practices=get_practice_pages,
        folder=rules.notebook_practices.output.html,  # the rule graph has this edge before and after it runs
        methods=METHODS_PAGE,
        tables=[
            rules.combine_estimates.output.csv,
            rules.combine_estimates.output.headline,
            rules.combine_estimates.output.json,
            rules.descriptive_comparison.output.means,
            rules.descriptive_comparison.output.change,
            rules.quality_summary.output.files,
            rules.quality_summary.output.reasons,
            rules.quality_summary.output.practice_years,
            rules.quality_summary.output.summary,
        ],
        clean=expand(
            rules.clean_extract.output.clean, instrument=INSTRUMENTS, year=YEARS
        ),
    output:
        "results/quality/disclosure.json",
    log:
        "results/logs/disclosure_check.log",
    params:
        min_respondents=STUDY.scoring.min_respondents,
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval disclosure "
        "--files {input.static:q} {input.practices:q} {input.methods:q} {input.tables:q} "
        "--identifiers-from {input.clean:q} --min-respondents {params.min_respondents:q} "
        "--out {output:q} 2> {log:q} || (cat {log:q} >&2; exit 1)"


rule report_index:
    input:
        headline=rules.combine_estimates.output.headline,
        codebook=CODEBOOK,
        static=STATIC_PAGES,
        practices=get_practice_pages,
        folder=rules.notebook_practices.output.html,  # the rule graph has this edge before and after it runs
        methods=METHODS_PAGE,
        links=rules.links_practices.output[0],  # the navigation's practice pages (params)
        disclosure=rules.disclosure_check.output[0],
        placebo=get_placebo_tables,
        primary=rules.combine_estimates.output.primary,
        quality=rules.quality_summary.output.summary,
    output:
        report("results/pages/index.html", caption="../report/index.rst", category="Report"),
    log:
        "results/logs/report_index.log",
    params:
        pages=get_page_args,
        settings=STUDY.job_settings("index"),
        label=DATA_LABEL,
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval index --headline {input.headline:q} --codebook {input.codebook:q} "
        "--page {params.pages:q} "
        "--settings {params.settings:q} --data-label={params.label:q} --out {output:q} "
        "--placebo {input.placebo:q} --primary {input.primary:q} --quality {input.quality:q} "
        "2> {log:q} || (cat {log:q} >&2; exit 1)"


rule print_report:
    input:
        index=rules.report_index.output[0],
        static=STATIC_PAGES,
        practices=get_practice_pages,
        folder=rules.notebook_practices.output.html,  # the rule graph has this edge before and after it runs
        methods=METHODS_PAGE,
        disclosure=rules.disclosure_check.output[0],
    output:
        f"results/pages/{site.PDF_NAME}",
    log:
        "results/logs/print_report.log",
    params:
        title=REPORT_TITLE,
        label=DATA_LABEL,
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval pdf "
        "--pages {input.index:q} {input.static:q} {input.practices:q} {input.methods:q} "
        "--title {params.title:q} "
        "--data-label={params.label:q} --out {output:q} 2> {log:q} || (cat {log:q} >&2; exit 1)"


rule publish_report:
    input:
        static=STATIC_PAGES,
        practices=get_practice_pages,
        folder=rules.notebook_practices.output.html,  # the rule graph has this edge before and after it runs
        methods=METHODS_PAGE,
        index=rules.report_index.output[0],
        pdf=rules.print_report.output[0],
        disclosure=rules.disclosure_check.output[0],
    output:
        directory("results/report"),
    log:
        "results/logs/publish_report.log",
    threads: 1
    resources:
        mem_mb=500,
        runtime=2,
    conda:
        "../envs/linkseval.yaml"
    shell:
        "python -m linkseval publish "
        "--pages {input.static:q} {input.practices:q} {input.methods:q} {input.index:q} "
        "{input.pdf:q} "
        "--out {output:q} "
        "2> {log:q} || (cat {log:q} >&2; exit 1)"
