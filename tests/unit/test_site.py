"""The report site: pages in order, their titles, the navigation bar (linkseval.report.site)."""

from pathlib import Path

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
