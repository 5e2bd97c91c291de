"""linkseval: reproducible evaluation pipeline for the Links Worker Programme."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("linkseval")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+src"

SYNTHETIC_LABEL = "SYNTHETIC DATA"
SYNTHETIC_MARKER = "SYNTHETIC_DATA.txt"
# the estimators of the generic `linkseval did` command (linkseval.analysis.did_generic), here
# so that the command's parser offers them without importing pandas for --help
GENERIC_ESTIMATORS = ("twfe", "event_study", "did2x2", "cs", "imputation", "sdid", "sc")

__all__ = ["GENERIC_ESTIMATORS", "SYNTHETIC_LABEL", "SYNTHETIC_MARKER", "__version__"]
