from pathlib import Path

import pytest

from linkseval.data.codebook import load_codebook, normalise_header
from linkseval.errors import CodebookError


def test_safequest_matches_the_programme_report(safequest):
    # 30 items: Communication 5, Workload 4, Leadership 6, Teamwork 7, Safety Systems 8
    counts = {t: len(safequest.theme_items(t)) for t in safequest.themes}
    assert counts == {
        "communication": 5,
        "workload": 4,
        "leadership": 6,
        "teamwork": 7,
        "safety_systems": 8,
    }
    # (R) items in Appendix B: Q06, Q09 (workload) and Q10-Q15 (leadership)
    assert safequest.reverse_items == ["Q06", "Q09", "Q10", "Q11", "Q12", "Q13", "Q14", "Q15"]
    assert (safequest.scale_min, safequest.scale_max) == (1, 7)
    assert safequest.outcomes[-1] == "overall"


def test_care_is_a_total_with_imputation(care):
    assert len(care.item_ids) == 10
    assert care.total == {
        "theme": "care_total",
        "rule": "sum_with_mean_imputation",
        "max_imputed": 2,
    }
    assert "does not apply" in care.missing_tokens
    assert care.labels["excellent"] == 5 and care.labels["poor"] == 1


@pytest.mark.parametrize(
    "header, target",
    [
        ("Practice Code", "practice_code"),
        ("PRACTICE_CODE", "practice_code"),
        ("Q1", "Q01"),
        ("q 17", "Q17"),
        ("Item 30", "Q30"),
        ("RespID", "respondent_id"),
        ("Comments", None),
        ("Role", "staff_group"),
    ],
)
def test_header_aliases(safequest, header, target):
    assert safequest.header_map().get(normalise_header(header)) == target


def test_bad_codebook_names_the_problem(tmp_path: Path):
    p = tmp_path / "cb.yaml"
    p.write_text(
        "instruments:\n  x:\n    columns: {practice_code: {aliases: []}, respondent_id: "
        "{aliases: []}}\n    scale: {min: 1, max: 5}\n    themes: {a: {label: A}}\n"
        "    items: {X1: {theme: b, text: t}}\n"
    )
    with pytest.raises(CodebookError, match="X1 has unknown theme b"):
        load_codebook(p)
