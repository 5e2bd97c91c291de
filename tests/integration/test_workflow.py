"""End to end: the Snakemake workflow on a small synthetic study (integration)."""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
from studies import make_study, result_hashes

from linkseval import results

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(workdir / "Snakefile"),
        "-d",
        str(workdir),
        "--workflow-profile",
        "workflow/profiles/default",  # as `make report` does
        "--cores",
        "2",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """Run the workflow once on the small study."""
    work = tmp_path_factory.mktemp("study")
    make_study(work)
    proc = snakemake(work)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return work


def test_a_second_run_gives_byte_identical_results(study, tmp_path_factory):
    """Same inputs, config and lock: every table, notebook and HTML page has the same bytes."""
    again = tmp_path_factory.mktemp("study")  # same depth as the first: same relative paths
    make_study(again)
    proc = snakemake(again, "--cores", "1")  # a different job order and core count, too
    assert proc.returncode == 0, proc.stderr[-4000:]
    first, second = result_hashes(study), result_hashes(again)
    assert len(first) > 60
    assert any(k.startswith("report/") and k.endswith(".html") for k in first)
    assert any(k.startswith("notebooks/") for k in first)
    differ = sorted(k for k in first if first[k] != second.get(k))
    assert set(first) == set(second) and differ == [], differ


def test_killed_mid_run_then_rerun_gives_the_same_results(study, tmp_path_factory):
    """Crash safety: SIGKILL the whole run (Snakemake and its jobs) while model jobs are being
    written, rerun, and get byte-for-byte what the uninterrupted run made."""
    again = tmp_path_factory.mktemp("study")
    make_study(again)
    cmd = [sys.executable, "-m", "snakemake", "-s", str(again / "Snakefile"), "-d", str(again)]
    run = subprocess.Popen(
        [*cmd, "--workflow-profile", "workflow/profiles/default", "--cores", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    models = again / "results" / "models"
    deadline = time.monotonic() + 600
    while len(list(models.glob("*/*.parquet"))) < 3 and run.poll() is None:
        assert time.monotonic() < deadline, "the run never reached the model stage"
        time.sleep(0.05)
    assert run.poll() is None, "the run finished before it could be killed"
    # the whole process tree at once, like a crash: Snakemake, its jobs (Snakemake starts them in
    # their own process groups) and the notebook kernels
    tree = psutil.Process(run.pid)
    victims = [tree, *tree.children(recursive=True)]
    for p in victims:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.send_signal(signal.SIGKILL)
    run.wait()
    psutil.wait_procs(victims, timeout=30)
    assert not (again / "results" / "report" / "index.html").exists()
    # a killed Snakemake leaves its lock: the documented recovery is --unlock, then rerun
    assert snakemake(again, "--unlock").returncode == 0
    proc = snakemake(again)
    assert proc.returncode == 0, proc.stderr[-4000:]
    first, second = result_hashes(study), result_hashes(again)
    differ = sorted(k for k in first if first[k] != second.get(k))
    assert set(first) == set(second) and differ == [], differ


def test_the_scattered_grid_gives_the_same_estimates(study, tmp_path):
    """analysis.scatter_comparisons: one DiD job per outcome x comparison group (28 here)
    instead of one per outcome; analysis.scatter_multilevel: one multilevel job per outcome (7)
    instead of one per instrument (2). The gathered tables are byte-identical."""
    copy = tmp_path / "study"
    shutil.copytree(study, copy, symlinks=True)
    assert len(list((study / "results/models").glob("*/multilevel.parquet"))) == 2
    proc = snakemake(
        copy,
        "--config",
        "analysis={'scatter_comparisons': True, 'scatter_multilevel': True}",
        "--until",
        "combine_estimates",
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert len(list((copy / "results/models").glob("*/*/*.estimates.parquet"))) == 7 * 4
    assert len(list((copy / "results/models").glob("*/*.multilevel.parquet"))) == 7
    for table in ("estimates.csv", "headline.csv", "headline.json"):
        ours, theirs = copy / "results/models" / table, study / "results/models" / table
        assert ours.read_bytes() == theirs.read_bytes(), table


def test_every_row_is_accounted_for(study):
    files = pd.read_csv(study / "results/quality/files.csv")
    assert len(files) == 6  # 2 instruments x 3 years
    assert files["accounting_ok"].all()
    assert (files["rows_read"] == files["rows_kept"] + files["rows_quarantined"]).all()
    for _, f in files.iterrows():
        kept = pd.read_parquet(study / f"results/clean/{f.instrument}_{f.year}.parquet")
        rejects = pd.read_parquet(
            study / f"results/quality/rejects/{f.instrument}_{f.year}.parquet"
        )
        assert len(kept) == f.rows_kept and len(rejects) == f.rows_quarantined
    summary = json.loads((study / "results/quality/summary.json").read_text())
    assert summary["accounting_ok"] is True


def test_planted_problems_are_caught(study):
    """The generator's planted messiness (counted in truth.json) is exactly what is caught."""
    truth = json.loads((study / "results/synthetic/raw/truth.json").read_text())
    files = pd.read_csv(study / "results/quality/files.csv").set_index("source_file")
    for fname, planted in truth["messiness"].items():
        row = files.loc[fname]
        assert row["rows_read"] == planted["n_rows"], fname
        assert row["exact_duplicate"] == planted["exact_duplicates"], fname
        assert row["conflicting_duplicate"] == 2 * planted["conflicting_duplicates"], fname
        assert row["unknown_practice"] == planted["unknown_practice_rows"], fname
        assert row["too_many_missing"] == planted["partial_completions_planted"], fname
        assert 0 < row["out_of_range"] <= planted["out_of_range_cells"], fname
        assert row["practice_code_whitespace_stripped"] == planted["whitespace_codes"], fname
        assert row["practice_code_zero_padded"] == planted["leading_zero_lost"], fname


def test_outputs_say_synthetic(study):
    panel = pd.read_parquet(study / "results/panel/safequest.parquet")
    assert (panel["data_label"] == "SYNTHETIC DATA").all()
    for name in ("files.csv", "practice_years.csv", "reject_reasons.csv"):
        assert (
            pd.read_csv(study / "results/quality" / name)["data_label"] == "SYNTHETIC DATA"
        ).all()


def test_recovers_true_practice_year_means(study):
    """Observed practice-year means equal the generator's expected means within sampling error."""
    truth = pd.read_csv(
        study / "results/synthetic/raw/truth_practice_year.csv", dtype={"practice_code": str}
    )
    for instrument in ("safequest", "care"):
        panel = pd.read_parquet(study / f"results/panel/{instrument}.parquet")
        m = panel.merge(
            truth[truth.instrument == instrument],
            on=["practice_code", "year", "outcome"],
            validate="one_to_one",
        )
        m = m[m.n_respondents >= 2]
        assert len(m) > 0.8 * len(panel)
        for outcome, g in m.groupby("outcome"):
            diff = g["mean"] - g["expected_mean"]
            se = np.sqrt((g["sd"] ** 2 / g["n_respondents"]).sum()) / len(g)
            z = diff.mean() / se
            assert abs(z) < 4, (instrument, outcome, diff.mean(), se)
            # and practice-level differences are tracked, not just the average
            assert np.corrcoef(g["mean"], g["expected_mean"])[0, 1] > 0.5, outcome


def test_estimates_cover_the_true_effects(study):
    """TWFE vs all other practices: every outcome's 95% CIs (CR1, WCR, RI, RI-t) cover the truth.

    The truth is the generator's mean effect over the treated practices and post years, on the
    % scale (truth.json "att"), so this checks the whole chain from raw files to estimates.
    """
    truth = json.loads((study / "results/synthetic/raw/truth.json").read_text())["att"]
    head = pd.read_csv(study / "results/models/headline.csv")
    assert set(head["method"]) == {
        "CR1", "WCR bootstrap", "randomization inference", "randomization inference (t)"
    }  # fmt: skip
    for row in head.itertuples():
        true = np.mean([v["pct"] for v in truth[row.outcome].values()])
        assert row.ci_low <= true <= row.ci_high, (row.outcome, row.method, true)
    assert (head["data_label"] == "SYNTHETIC DATA").all()
    # the multilevel cross-check lands near the practice-level estimate
    est = results.read(study / "results/models/estimates.csv")  # also checks the schema
    ml = est[est.estimator == "multilevel"].set_index("outcome")["estimate"]
    tw = head[head.method == "CR1"].set_index("outcome")["estimate"]
    se = head[head.method == "CR1"].set_index("outcome")["std_error"]
    assert ((ml - tw).abs() < se).all()


def test_rerun_does_nothing(study):
    proc = snakemake(study, "--dry-run")
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr


def planned_jobs(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """Rule -> job count from a dry run's first "Job stats" table ({} if nothing to do)."""
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = proc.stdout + proc.stderr
    m = re.search(r"Job stats:\njob\s+count\n-+\s+-+\n(.*?)\n\s*\n", out, re.S)
    if m is None:
        assert "Nothing to be done" in out
        return {}
    rows = (line.split() for line in m.group(1).splitlines())
    return {rule: int(n) for rule, n in rows if rule not in ("total", "all")}


def test_changing_one_config_value_reruns_exactly_its_dependants(study):
    """More bootstrap draws: the DiD fits and everything built from them (and the provenance
    record of the config), nothing upstream, not the multilevel fits or practice pages."""
    proc = snakemake(study, "--dry-run", "--config", "analysis={'bootstrap': {'draws': 299}}")
    assert planned_jobs(proc) == {
        "estimate_outcome": 7,
        "combine_estimates": 1,
        "notebook_did": 1,  # the 7 DiD pages, in one kernel
        "provenance": 1,
        "notebook_methods": 1,  # with the DiD notebooks: their pages too
        "disclosure_check": 1,
        "report_index": 1,
        "print_report": 1,  # the PDF of the changed pages
        "pipeline_diagram": 1,  # redrawn from the run's config (a few seconds; same rules)
        "notebook_practices": 1,  # the 7 profiles show the leave-one-out estimates
        "publish_report": 1,
    }
    proc = snakemake(study, "--dry-run", "--config", "scoring={'min_respondents': 6}")
    planned = planned_jobs(proc)
    assert "clean_extract" not in planned and "synthetic_data" not in planned
    assert planned["score_panel"] == 2 and planned["quality_summary"] == 1


def test_editing_one_notebook_reruns_only_its_pages(study):
    """A changed practice-profile notebook re-executes the practice notebooks, re-renders their
    pages, re-checks what is published and rebuilds the index; a touched but unchanged one
    reruns nothing."""
    nb = study / "notebooks" / "practice_profile.ipynb"
    original = nb.read_bytes()
    try:
        nb.touch()
        assert planned_jobs(snakemake(study, "--dry-run")) == {}
        doc = json.loads(original)
        doc["cells"].append(
            {"cell_type": "markdown", "id": "edit", "metadata": {}, "source": "An edit."}
        )
        nb.write_text(json.dumps(doc, indent=1))
        assert planned_jobs(snakemake(study, "--dry-run")) == {
            "notebook_practices": 1,  # executes it for each practice and renders the pages
            "disclosure_check": 1,
            "report_index": 1,
            "print_report": 1,  # the PDF holds the pages
            "publish_report": 1,
        }
    finally:
        nb.write_bytes(original)
    assert planned_jobs(snakemake(study, "--dry-run")) == {}


@pytest.mark.parametrize(
    ("template", "log"), [("did_outcome", "did"), ("practice_profile", "practices")]
)
def test_batched_pages_equal_pages_from_a_kernel_of_their_own(study, tmp_path, template, log):
    """The DiD pages and the practice profiles run in one kernel per batch (``linkseval
    notebooks``). The batch's last page (the one most exposed to what the pages before it left
    in the kernel) is run again alone, in a fresh kernel, with the same parameters: notebook and
    page are byte for byte the same."""
    import nbformat

    from linkseval.report.site import navigation, page_title
    from linkseval.study import load_study_file

    ran = re.findall(r"^\[(\d+)/(\d+)\] (\S+)$", (study / f"results/logs/notebooks/{log}.log")
                     .read_text(), re.M)  # fmt: skip
    assert len(ran) == 7 and ran[-1][0] == ran[-1][1] == "7"
    last = study / ran[-1][2]
    params = dict(nbformat.read(last, as_version=4).metadata["papermill"]["parameters"])
    page = Path(str(last).replace("results/notebooks", "results/pages")).with_suffix(".html")
    spec = load_study_file(study / "config/config.yaml", base=study)
    title, nav = page_title(spec, last.stem), navigation(spec)
    job = {"parameters": params, "notebook": str(tmp_path / last.name),
           "html": str(tmp_path / page.name), "title": title}  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "linkseval", "notebooks", f"notebooks/{template}.ipynb",
         "--jobs", json.dumps([job]), "--nav", *nav, f"--data-label={params['data_label']}"],
        cwd=study, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    alone = (tmp_path / last.name).read_text().replace(str(tmp_path / last.name), "OUT")
    assert alone == last.read_text().replace(str(last.relative_to(study)), "OUT")
    assert (tmp_path / page.name).read_bytes() == page.read_bytes()


def test_nothing_published_discloses_ids_free_text_or_small_cells(study, codebook):
    """Every report page and published table (and the reviewers' notebooks, for identifiers),
    against every respondent id in the raw extracts (with the planted CANARY- ids) and every
    free-text comment the generator wrote (with the planted CANARY-COMMENTs)."""
    from linkseval.data.ingest import read_extract
    from linkseval.report.disclosure import published_files, scan
    from linkseval.synthetic import CANARY_COMMENT, CANARY_ID_PREFIX, COMMENT_POOL

    raw = study / "results" / "synthetic" / "raw"
    ids: set[str] = set()
    for f in sorted(raw.glob("*_20*.*")):
        instrument, year = f.stem.split("_")
        data = read_extract(f, codebook[instrument], int(year)).data
        ids.update(data["respondent_id"].astype(str).str.strip())
    assert sum(i.startswith(CANARY_ID_PREFIX) for i in ids) >= 3  # the canaries are planted
    comments = [*COMMENT_POOL, *(f"{CANARY_COMMENT} {j}: do not publish" for j in range(1, 10))]
    published = published_files(study / "results")
    assert (study / "results/report/index.html") in published and len(published) > 20
    assert scan(published, identifiers=ids, free_text=comments, min_respondents=5) == []
    notebooks = sorted((study / "results" / "notebooks").rglob("*.ipynb"))
    assert len(notebooks) == 17  # 3 single pages, 7 DiD pages, 7 practice profiles
    assert scan(notebooks, identifiers=ids, free_text=comments, min_respondents=0) == []
    summary = json.loads((study / "results/quality/disclosure.json").read_text())
    assert summary["violations"] == 0 and len(summary["files_scanned"]) == len(published) - 1


def test_snakemake_report_packs_the_captioned_outputs(study):
    """`snakemake --report` works on a finished study and carries the main outputs."""
    import zipfile

    out = study / "snakemake_report.zip"
    proc = snakemake(study, "--report", str(out))
    assert proc.returncode == 0, proc.stderr[-4000:]
    names = {Path(n).name for n in zipfile.ZipFile(out).namelist()}
    assert {"report.html", "index.html", "headline.csv", "estimates.csv"} <= names
    assert {"theme_means.csv", "files.csv"} <= names


def test_a_bad_data_label_stops_with_one_line(study):
    proc = snakemake(study, "--dry-run", "--config", "data_label=OFFICIAL\x07SENSITIVE")
    assert proc.returncode != 0
    lines = [x for x in proc.stderr.splitlines() if x.startswith("linkseval: error:")]
    assert len(lines) == 1 and "data_label" in lines[0] and "Traceback" not in proc.stderr


def test_a_bad_config_value_is_named(study):
    proc = snakemake(study, "--dry-run", "--config", "scoring={'percent_formula': 'bogus'}")
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "percent_formula" in out and "bogus" in out


def test_report_opens_offline_in_chromium(study):
    """Every report page loads in headless Chromium with the network blocked: no failed or
    external requests, the synthetic banner shows, the headline table is there."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed (make browser / apt-get install chromium)"
    report = study / "results" / "report"
    failed, external = [], []
    shots = ROOT / "results" / "test_artifacts"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})

        def guard(route):
            if route.request.url.startswith("file://"):
                route.continue_()
            else:
                external.append(route.request.url)
                route.abort()

        context.route("**/*", guard)
        page = context.new_page()
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.goto((report / "index.html").as_uri())
        assert page.locator("h2", has_text="Headline").count() == 1
        table = page.locator("table.tbl").first
        assert table.locator("tr").count() == 1 + 7  # header + 7 outcomes
        assert "SYNTHETIC DATA" in page.locator(".banner").first.inner_text()
        page.screenshot(path=str(shots / "report_index.png"), full_page=True)
        links = page.eval_on_selector_all("main ul a", "els => els.map(e => e.href)")
        assert len(links) >= 3 + 7
        for url in links:
            page.goto(url)
            assert "SYNTHETIC DATA" in page.locator(".banner").first.inner_text(), url
            assert page.locator("img").count() + page.locator("table").count() > 0, url
        page.goto((report / "did_safequest_workload.html").as_uri())
        page.screenshot(path=str(shots / "report_did_workload.png"), full_page=True)
        browser.close()
    assert failed == [] and external == []


HEADING_LEVELS = "() => [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => +h.tagName[1])"
ALT_TEXTS = "() => [...document.querySelectorAll('img')].map(i => i.getAttribute('alt'))"


def test_every_report_page_passes_axe_at_a_and_aa_and_fits_a_phone(study):
    """axe-core (WCAG 2.0/2.1 levels A and AA, colour contrast included) finds no violation on
    any published page; at 400 px nothing scrolls sideways (a wide table scrolls in its own
    box); headings start at h1 and never skip a level; every image has alt text of its own.
    Screenshots at 1,280 and 400 px go to results/test_artifacts/a11y/."""
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    report = study / "results" / "report"
    pages = sorted(report.glob("*.html"))
    assert len(pages) >= 12
    shots = ROOT / "results" / "test_artifacts" / "a11y"
    shots.mkdir(parents=True, exist_ok=True)
    axe = Axe()
    options = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
    problems = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=shutil.which("chromium"), args=["--no-sandbox", "--disable-gpu"]
        )
        for width in (1280, 400):
            context = browser.new_context(offline=True, viewport={"width": width, "height": 900})
            page = context.new_page()
            for path in pages:
                page.goto(path.as_uri())
                page.screenshot(path=str(shots / f"{path.stem}_{width}.png"), full_page=True)
                if width == 400:
                    wide = page.evaluate("document.documentElement.scrollWidth")
                    if wide > width:
                        problems.append(f"{path.name}: {wide} px wide at {width} px")
                    continue
                for v in axe.run(page, options=options).response["violations"]:
                    problems.append(f"{path.name}: {v['id']} ({len(v['nodes'])} nodes)")
                levels = page.evaluate(HEADING_LEVELS)
                skips = [b for a, b in itertools.pairwise(levels) if b > a + 1]
                if not levels or levels[0] != 1 or skips:
                    problems.append(f"{path.name}: heading levels {levels}")
                for alt in page.evaluate(ALT_TEXTS):
                    if not alt or alt.startswith("No description") or len(alt) < 12:
                        problems.append(f"{path.name}: image alt {alt!r}")
            context.close()
        browser.close()
    assert problems == []


def test_the_report_pdf_has_every_page_numbered_labelled_and_none_blank(study, tmp_path):
    """The published PDF, rendered to PNG with pdftoppm: one sheet or more per report page, each
    page begins a sheet, no sheet is blank, and every sheet has the label's red line at the top
    and 'Page n of N' at the bottom (read back with pdftotext)."""
    from PIL import Image

    report = study / "results" / "report"
    pdf = report / "report.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf), str(tmp_path / "p")], check=True)
    pngs = sorted(tmp_path.glob("p-*.png"))
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    sheets = text.split("\f")[:-1]
    html_pages = sorted(report.glob("*.html"))
    assert len(pngs) == len(sheets) >= len(html_pages)
    problems = []
    for n, (png, sheet) in enumerate(zip(pngs, sheets, strict=True), 1):
        px = np.asarray(Image.open(png).convert("RGB")).astype(int)
        h = px.shape[0]
        body = px[int(h * 0.08) : int(h * 0.92)]  # between the label and the page number
        if (body.min(axis=2) < 200).sum() < 50:  # not even a line of small grey text
            problems.append(f"sheet {n} is blank")
        top = px[: int(h * 0.06)]
        red = (abs(top[..., 0] - 0xB2) < 50) & (top[..., 1] < 110) & (top[..., 2] < 120)
        if red.sum() < 10:
            problems.append(f"sheet {n}: no red label line at the top")
        if "SYNTHETIC DATA" not in sheet or f"Page {n} of {len(pngs)}" not in sheet:
            problems.append(f"sheet {n}: label or page number missing")
    assert problems == []
    # every page starts a sheet: as many sheets open with a page's heading as pages have it
    lines = [[ln.strip() for ln in s.splitlines() if ln.strip()] for s in sheets]
    firsts = [ls[1] for ls in lines if len(ls) > 1]  # the line below the label
    titles = []
    for page in html_pages:
        h1 = re.search(r"<h1[^>]*>(.*?)</h1>", page.read_text(), re.S)
        assert h1, page.name
        titles.append(re.sub(r"<[^>]+>", "", h1.group(1)).replace("&amp;", "&").strip()[:30])
    for title in set(titles):
        opened = sum(line.startswith(title) for line in firsts)
        assert opened >= titles.count(title), (title, opened, titles.count(title))
    # figures in vector form: the only raster image is the pipeline diagram, at high resolution
    listing = subprocess.run(
        ["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    images = [ln.split() for ln in listing if ln.split()[2] == "image"]
    figures_drawn = sum(page.read_text().count("<figure><img") for page in html_pages)
    assert figures_drawn > len(html_pages)  # the pages do have figures
    assert len(images) == 1, images  # the diagram; every matplotlib figure is vector (SVG)
    assert min(int(images[0][12]), int(images[0][13])) >= 200  # x-ppi, y-ppi


def test_the_pipeline_diagram_does_not_depend_on_how_far_a_run_got(study, tmp_path):
    """The rule graph the methods page draws is that of the finished study and of a fresh one
    (no results: both checkpoints, the Links register's and the practice profiles', not run):
    a rerun that redraws the diagram after the checkpoints have run draws the same."""
    import yaml

    from linkseval.report import diagram

    fresh = tmp_path / "fresh"
    make_study(fresh)
    graphs = []
    for work in (study, fresh):
        cfg = yaml.safe_load((work / "config/config.yaml").read_text())
        text = diagram.rulegraph(work / "Snakefile", work, cfg)
        graphs.append(diagram.reduce(diagram.parse_rulegraph(text)))
    assert (study / "results/pages/practices").is_dir() and not (fresh / "results").exists()
    assert graphs[0] == graphs[1]
    assert {"links_practices", "notebook_practices", "notebook_did"} <= set(graphs[0].rules)
    assert ("notebook_practices", "disclosure_check") in graphs[0].edges
