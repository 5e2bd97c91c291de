"""The report site: its pages, their order, their titles and the navigation bar.

The workflow (``workflow/rules/common.smk``) asks here which pages a study has: the static pages
(data quality, descriptives, one DiD page per modelled outcome), one profile per Links practice
(known only once the register has been read) and the methods page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from linkseval.study import Study

METHODS_PAGE = ("Methods and provenance", "methods.html")
#: the report's title (its index page's and its PDF's)
REPORT_TITLE = "Links Worker Programme evaluation"
#: the printable PDF of the whole report, published beside the pages
PDF_NAME = "report.pdf"


def static_pages(study: Study) -> list[tuple[str, str]]:
    """Return the pages every run of ``study`` has, as ``(title, href)``, in site order.

    Data quality, the descriptive comparison and one DiD page per modelled outcome.
    """
    pages = [("Data quality", "data_quality.html"), ("Descriptive comparison", "descriptives.html")]
    pages += [
        (f"DiD: {o.name.replace('_', ' ')}", f"did_{o.instrument}_{o.name}.html")
        for o in study.outcomes
    ]
    return pages


def navigation(study: Study) -> list[str]:
    """Return the navigation bar of every page as ``TITLE=HREF`` words.

    Home, data quality, the descriptive comparison and the methods page.
    """
    links = [("Home", "index.html"), *static_pages(study)[:2], ("Methods", "methods.html")]
    return [f"{title}={href}" for title, href in links]


def page_title(study: Study, name: str) -> str:
    """Return the title of the page ``name`` (its file name without ``.html``)."""
    titles = {href[:-5]: title for title, href in static_pages(study)}
    titles["methods"] = METHODS_PAGE[0]
    return titles.get(name, name.replace("_", " ").capitalize())


def all_pages(study: Study, links_codes: Iterable[str]) -> list[tuple[str, str]]:
    """Return every page of the site as ``(title, href)``, in the order the index lists them.

    The static pages, one profile per Links practice (``links_codes``) and the methods page.
    """
    return [*static_pages(study), *practice_pages(links_codes), METHODS_PAGE]


def practice_pages(links_codes: Iterable[str]) -> list[tuple[str, str]]:
    """Return one profile page per Links practice as ``(title, href)``, in register order."""
    return [(f"Practice {code}", f"practice_{code}.html") for code in checked_codes(links_codes)]


def checked_codes(codes: Iterable[str]) -> list[str]:
    """Return ``codes`` as a list, each checked safe to name a file (``practice_code.SAFE``).

    The register check lets no other code through; this is defence in depth where the workflow
    builds page paths from them.

    Raises
    ------
    ValueError
        A code that is not text of letters, digits, '-' and '_'.
    """
    from linkseval.data.practice_code import SAFE

    out = list(codes)
    for code in out:
        if not isinstance(code, str) or not re.fullmatch(SAFE, code):
            raise ValueError(f"practice code {str(code)[:50]!r} cannot name a page")
    return out


def method_names(methods: Iterable[str], estimator: str = "twfe") -> str:
    """Name the inference methods of a run in words, for a caption: ``CR1, WCR bootstrap and ...``.

    ``methods``: ``analysis.methods`` (registry names); each by the name its result rows carry
    for ``estimator`` (:func:`linkseval.estimators.method_row`).
    """
    from linkseval.estimators import method_rows
    from linkseval.report.narrative import join_words

    return join_words(method_rows(tuple(methods), estimator))
