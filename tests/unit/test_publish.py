"""Publishing the report: the folder holds one complete set of checked pages, never a part."""

import pytest

from linkseval.report.publish import publish


def pages(tmp_path, names, text):
    staged = tmp_path / "pages"
    staged.mkdir(exist_ok=True)
    for n in names:
        (staged / n).write_text(f"{text} {n}")
    return [staged / n for n in names]


def test_the_folder_is_replaced_as_a_whole(tmp_path):
    out = tmp_path / "report"
    publish(pages(tmp_path, ["index.html", "old_only.html"], "v1"), out)
    files = publish(pages(tmp_path, ["index.html", "b.html"], "v2"), out)
    assert files == [out / "b.html", out / "index.html"]
    assert sorted(p.name for p in out.iterdir()) == ["b.html", "index.html"]  # no stale page
    assert (out / "index.html").read_text() == "v2 index.html"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pages", "report"]  # no partial left


def test_a_killed_earlier_publish_leaves_nothing_behind(tmp_path):
    (tmp_path / ".report.partial").mkdir()
    (tmp_path / ".report.partial" / "half.html").write_text("x")
    (tmp_path / ".report.old").mkdir()
    publish(pages(tmp_path, ["index.html"], "v1"), tmp_path / "report")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pages", "report"]
    assert [p.name for p in (tmp_path / "report").iterdir()] == ["index.html"]


def test_a_failed_copy_leaves_the_published_folder_as_it_was(tmp_path):
    out = tmp_path / "report"
    publish(pages(tmp_path, ["index.html"], "v1"), out)
    with pytest.raises(FileNotFoundError):
        publish([*pages(tmp_path, ["index.html"], "v2"), tmp_path / "missing.html"], out)
    assert [p.name for p in out.iterdir()] == ["index.html"]
    assert (out / "index.html").read_text() == "v1 index.html"


def test_two_pages_with_one_name_are_refused(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "x.html").write_text("1"), (b / "x.html").write_text("2")
    with pytest.raises(ValueError, match="x.html"):
        publish([a / "x.html", b / "x.html"], tmp_path / "report")
