import pandas as pd
import pytest

from linkseval.data.store import atomic_path, sha256, write_csv, write_json, write_parquet


def test_same_content_same_bytes(tmp_path):
    df = pd.DataFrame({"a": [1, 2], "b": [0.1, 1 / 3], "c": ["x", "y"]})
    for i in (1, 2):
        write_parquet(df, tmp_path / f"p{i}.parquet", {"data_label": "SYNTHETIC DATA"})
        write_csv(df, tmp_path / f"c{i}.csv")
        write_json({"b": 1, "a": [1.5, 2]}, tmp_path / f"j{i}.json")
    for ext in ("parquet", "csv", "json"):
        prefix = ext[0]
        assert sha256(tmp_path / f"{prefix}1.{ext}") == sha256(tmp_path / f"{prefix}2.{ext}")
    assert (tmp_path / "j1.json").read_text().startswith('{\n  "a"')


def test_a_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("new, half")
        raise RuntimeError
    assert target.read_text() == "old" and len(list(tmp_path.iterdir())) == 1


def test_written_files_have_ordinary_permissions(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        write_csv(pd.DataFrame({"a": [1]}), tmp_path / "x.csv")
    finally:
        os.umask(umask)
    assert oct((tmp_path / "x.csv").stat().st_mode & 0o777) == oct(0o644)


def test_a_write_removes_the_temporary_a_killed_earlier_write_left(tmp_path):
    """SIGKILL mid-write leaves '.<name>.<random>.tmp' (no cleanup code runs); the next
    successful write of that output removes it, and nothing else."""
    target = tmp_path / "out[1].csv"
    stale = tmp_path / ".out[1].csv.k3j9x2.tmp"
    stale.write_text("partial")
    other = tmp_path / ".other.csv.abc.tmp"
    other.write_text("another output's")
    write_csv(pd.DataFrame({"a": [1]}), target)
    assert target.exists() and not stale.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.csv.abc.tmp", "out[1].csv"]
