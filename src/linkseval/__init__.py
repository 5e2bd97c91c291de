"""linkseval: reproducible evaluation pipeline for the Links Worker Programme."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("linkseval")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+src"

SYNTHETIC_LABEL = "SYNTHETIC DATA"
SYNTHETIC_MARKER = "SYNTHETIC_DATA.txt"

__all__ = ["SYNTHETIC_LABEL", "SYNTHETIC_MARKER", "__version__"]
