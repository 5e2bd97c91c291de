"""Shared fixtures: the project codebook and small hand-made extracts."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from linkseval.data.codebook import load_codebook

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def codebook():
    return load_codebook(ROOT / "config" / "codebook.yaml")


@pytest.fixture(scope="session")
def safequest(codebook):
    return codebook["safequest"]


@pytest.fixture(scope="session")
def care(codebook):
    return codebook["care"]


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding="utf-8") -> Path:
    with open(path, "w", newline="", encoding=encoding) as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def sq_header(style: str = "canonical") -> list[str]:
    if style == "canonical":
        return ["practice_code", "respondent_id", "staff_group"] + [
            f"Q{i:02d}" for i in range(1, 31)
        ]
    return ["Practice Code", "Respondent ID", "Staff Group"] + [f"Q{i}" for i in range(1, 31)]


@pytest.fixture
def register_file(tmp_path: Path) -> Path:
    p = tmp_path / "practices.csv"
    p.write_text(
        "practice_code,practice_name,health_board,list_size,simd15_share,deep_end_rank,"
        "links_start_year,clp_absent_months_2015\n"
        "01234,Alpha,NHS Greater Glasgow & Clyde,5000,0.61,3,2014,7\n"
        "20001,Beta,NHS Lothian,8000,0.10,,,\n"
        "30002,Gamma,NHS Fife,3000,0.05,,,0\n",
        encoding="utf-8",
    )
    return p
