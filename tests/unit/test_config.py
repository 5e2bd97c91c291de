"""Every shipped config validates against the workflow's schema (as Snakemake's validate does)."""

from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
CONFIGS = [ROOT / "config" / "config.yaml", *sorted((ROOT / "config" / "examples").glob("*.yaml"))]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_validate(path):
    cfg = yaml.safe_load(path.read_text())
    validate(cfg, str(SCHEMA))

    # YAML 1.1 reads some bare words (on, off, yes, no) as booleans: keys must stay strings
    def keys(d):
        if isinstance(d, dict):
            for k, v in d.items():
                assert isinstance(k, (str, int)) and not isinstance(k, bool), (path.name, k)
                keys(v)

    keys(cfg)


def test_schema_rejects_a_bad_value():
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg["scoring"]["min_respondents"] = "five"
    with pytest.raises(Exception, match="min_respondents"):
        validate(cfg, str(SCHEMA))


def test_years_from_the_command_line_are_accepted(tmp_path):
    """`--config years='[2013,2014]'` (the README's command) reaches the schema as strings."""
    import shutil
    import subprocess
    import sys

    (tmp_path / "config").mkdir()
    for name in ("config.yaml", "codebook.yaml"):
        shutil.copy(ROOT / "config" / name, tmp_path / "config" / name)
    base = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(ROOT / "Snakefile"),
        "-d",
        str(tmp_path),
        "--cores",
        "1",
        "--dry-run",
        "--config",
    ]
    ok = subprocess.run([*base, "years=[2013,2014]"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr[-2000:]
    assert "clean_extract" in ok.stdout and "safequest_2015" not in ok.stdout
    bad = subprocess.run([*base, "years=[2013,x]"], capture_output=True, text=True)
    assert bad.returncode != 0 and "'x' is not of type 'integer'" in bad.stdout + bad.stderr
