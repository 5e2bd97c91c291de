"""The report: what the notebooks draw and the pages, checks and site built around them.

Modules
-------
figures
    The report's figures (matplotlib), one style.
tables
    The report's tables as DataFrames, their formatting and escaping HTML, small-cell suppression.
narrative
    The report's sentences (primary analysis, summary, placebo verdict) and the index page.
outcomes
    The outcomes' codebook labels, set once per page.
descriptive
    The descriptive comparison: theme means by group and year, percent changes.
labels
    The data label every output carries (one banner function), and synthetic-data markers.
pages
    Self-contained HTML pages and executed-notebook housekeeping (render, scrub).
notebook
    Executing a report notebook with papermill.
site
    The site: its pages, their order and titles, the navigation bar.
disclosure
    The disclosure check of the staged pages before they are published.
provenance
    The provenance record of a run (inputs, configuration, environment).
publish
    Publishing the staged pages as the report, all of them or none.
"""
