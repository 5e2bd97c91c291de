# linkseval: raw Safequest/CARE extracts -> clean, scored practice-year panels -> ... -> report.
# Usage: `make report` (or `snakemake --cores 2`); real extracts:
#   snakemake --cores 2 --config raw_dir=DIR register=FILE years='[2013,2014,2015,2016]'
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/resources.smk"
include: "workflow/rules/synthetic.smk"
include: "workflow/rules/clean.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/quality.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/placebo.smk"
include: "workflow/rules/scatter.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        get_final_outputs(),
