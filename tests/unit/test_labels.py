"""The data label: synthetic data always say so; real extracts carry the configured label."""

from pathlib import Path

import pytest
import yaml

from linkseval import SYNTHETIC_LABEL, SYNTHETIC_MARKER
from linkseval.report.labels import (
    banner_text,
    is_synthetic_folder,
    resolve_data_label,
)
from linkseval.report.pages import label_note, page

ROOT = Path(__file__).resolve().parents[2]


def test_synthetic_data_are_always_labelled_synthetic():
    assert resolve_data_label(None, synthetic=True) == SYNTHETIC_LABEL
    assert resolve_data_label("OFFICIAL", synthetic=True) == SYNTHETIC_LABEL


def test_real_extracts_carry_the_configured_label_or_none():
    assert resolve_data_label(None, synthetic=False) == ""
    assert resolve_data_label("  ", synthetic=False) == ""
    assert resolve_data_label("OFFICIAL – SENSITIVE", synthetic=False) == "OFFICIAL – SENSITIVE"
    with pytest.raises(ValueError, match="one line"):
        resolve_data_label("a\nb", synthetic=False)
    with pytest.raises(ValueError, match="one line"):  # checked for synthetic data too
        resolve_data_label("x" * 201, synthetic=True)


def test_the_label_rule_lives_in_one_place():
    """The schema types data_label; only linkseval.report.labels says what a label may hold."""
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    assert set(schema["properties"]["data_label"]) == {"description", "type", "default"}


def test_the_marker_decides_whether_a_folder_is_synthetic(tmp_path):
    assert is_synthetic_folder(None)
    assert not is_synthetic_folder(tmp_path)
    (tmp_path / SYNTHETIC_MARKER).write_text("x")
    assert is_synthetic_folder(tmp_path)


def test_pages_say_generated_data_only_for_synthetic_data():
    assert "generated data" in banner_text(SYNTHETIC_LABEL)
    assert banner_text("OFFICIAL") == "OFFICIAL" and banner_text("") == ""
    real = page("t", "<p>x</p>", "OFFICIAL <b>")
    assert "OFFICIAL &lt;b&gt;" in real and "generated data" not in real and "SYNTHETIC" not in real
    assert "class='banner'" not in page("t", "<p>x</p>", "")
    assert label_note("") == ""
    assert "&lt;script&gt;" in label_note("<script>") and "synthetic" not in label_note("X")
    assert "synthetic data set" in label_note(SYNTHETIC_LABEL)
