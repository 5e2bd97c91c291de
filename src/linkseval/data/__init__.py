"""The data layer: raw extracts in, cleaned respondents and scored practice-year panels out.

Modules
-------
codebook
    The instruments' items, themes and outcomes (``config/codebook.yaml``).
practice_code
    Practice codes: the pattern they follow and the checks applied to them.
ingest
    Reading raw extracts (Excel or CSV) into one raw frame per instrument-year.
register
    The practice register: which practice joined the programme when, and absences.
clean
    Cleaning an extract: keep, recode or reject each respondent, with an accounting.
score
    Scoring respondents and aggregating them to the practice-year panel.
quality
    The data-quality summaries (files, reject reasons, practice-years).
store
    Writing outputs atomically and reproducibly (Parquet, CSV, JSON, text, checksums).
"""
