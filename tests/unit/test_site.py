"""The report site: pages in order, their titles, the navigation bar (linkseval.report.site)."""

from pathlib import Path

import pytest

from linkseval.data.codebook import load_codebook
from linkseval.report import site
from linkseval.study import load_study

ROOT = Path(__file__).resolve().parents[2]
STUDY = load_study({"years": [2013, 2014]}, load_codebook(ROOT / "config/codebook.yaml"))


def test_static_pages_are_quality_descriptives_then_one_did_page_per_modelled_outcome():
    pages = site.static_pages(STUDY)
    assert pages[:2] == [
        ("Data quality", "data_quality.html"),
        ("Descriptive comparison", "descriptives.html"),
    ]
    assert pages[2:] == [
        (f"DiD: {o.name.replace('_', ' ')}", f"did_{o.instrument}_{o.name}.html")
        for o in STUDY.outcomes
    ]
    assert len(pages) == 2 + len(STUDY.outcomes) > 2


def test_navigation_links_home_quality_descriptives_and_methods():
    assert site.navigation(STUDY) == [
        "Home=index.html",
        "Data quality=data_quality.html",
        "Descriptive comparison=descriptives.html",
        "Methods=methods.html",
    ]


def test_page_titles():
    o = STUDY.outcomes[0]
    assert site.page_title(STUDY, "data_quality") == "Data quality"
    assert site.page_title(STUDY, f"did_{o.instrument}_{o.name}").startswith("DiD: ")
    assert site.page_title(STUDY, "methods") == "Methods and provenance"
    assert site.page_title(STUDY, "practice_S12345") == "Practice s12345"  # not a static page


def test_all_pages_add_the_practice_profiles_then_methods():
    pages = site.all_pages(STUDY, ["S1", "S2"])
    assert pages[:-3] == site.static_pages(STUDY)
    assert pages[-3:] == [
        ("Practice S1", "practice_S1.html"),
        ("Practice S2", "practice_S2.html"),
        ("Methods and provenance", "methods.html"),
    ]


@pytest.mark.parametrize("code", ["$(touch X)", "a/b", "../x", "-rf", "", "a b", 12345, "x" * 33])
def test_a_code_that_cannot_name_a_page_is_refused(code):
    """Defence in depth: the workflow builds page paths from the register's codes only through
    site.practice_pages, which refuses any code but letters, digits, '-' and '_'."""
    with pytest.raises(ValueError, match="cannot name a page"):
        site.practice_pages(["05283", code])


def test_practice_pages_keep_register_order():
    assert site.practice_pages(["21420", "05283", "AB-1"]) == [
        ("Practice 21420", "practice_21420.html"),
        ("Practice 05283", "practice_05283.html"),
        ("Practice AB-1", "practice_AB-1.html"),
    ]
