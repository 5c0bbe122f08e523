"""``beatlight report --format html``, the PCC report, as a user runs it, then printed to PDF
by a real Chromium offline (the issue's acceptance test).

The PDF and a screenshot are kept in ``artifacts/report/`` (or
``$BEATLIGHT_TEST_ARTIFACTS/report``) for a person to look at.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest

from beatlight.reports import SECTIONS
from beatlight.reports.formatting import hours
from tests.conftest import run_cli

pytestmark = pytest.mark.integration

_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("BEATLIGHT_TEST_ARTIFACTS", _ROOT / "artifacts")) / "report"


@pytest.fixture(scope="module")
def events(tmp_path_factory) -> Path:
    """Fifty hours of simulated patrol over the synthetic wards (two local midnights)."""
    path = tmp_path_factory.mktemp("sim") / "events.ndjson"
    result = run_cli("simulate", "--seed", "5", "--duration", "50",
                     "--start", "2026-11-20T00:00:00Z", "--out", str(path))  # fmt: skip
    assert result.returncode == 0, result.stderr
    return path


@pytest.fixture(scope="module")
def report(events, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    result = run_cli("report", "--events", str(events), "--format", "html", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_the_html_report_has_every_section_and_the_documents_figures(events, report):
    page = report.read_text(encoding="utf-8")
    assert re.findall(r"<h2>(.*?)</h2>", page) == list(SECTIONS)
    document = json.loads(run_cli("report", "--events", str(events)).stdout)
    force = document["force"]["windows"]["7d"]
    assert document["as_of"] in page
    assert hours(force["patrol_minutes"]) in page
    assert "synthetic demonstration wards" in page  # no boundaries given: no OS/ONS data


def test_each_day_is_the_report_as_of_its_midnight(events, report):
    """One pass gives the documents at local midnights: each equals --as-of that midnight."""
    page = report.read_text(encoding="utf-8")
    for midnight, label in (("2026-11-21T00:00:00Z", "Fri 20 Nov 2026"),
                            ("2026-11-22T00:00:00Z", "Sat 21 Nov 2026")):  # fmt: skip
        result = run_cli("report", "--events", str(events), "--as-of", midnight)
        day = json.loads(result.stdout)["force"]["windows"]["24h"]
        row = re.search(rf"<tr><td>{label}</td>(.*?)</tr>", page)
        assert row, label
        assert hours(day["patrol_minutes"]) in row.group(1)
        assert hours(day["foot_minutes"]) in row.group(1)


def test_the_report_goes_to_stdout_without_out(events):
    result = run_cli("report", "--events", str(events), "--format", "html", "--period-days", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("<!DOCTYPE html>")
    assert "24 hours to" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "html", "--period-days", "0"], "--period-days must be from 1 to 92, not 0"),
        (["--format", "html", "--period-days", "93"], "--period-days must be from 1 to 92"),
        (["--period-days", "7"], "--period-days is for --format html"),
        (["--format", "pdf"], "--format must be json, csv or html"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(events, args, message):
    result = run_cli("report", "--events", str(events), *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


# -- Chromium -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> str:
    """Chromium; skipped when absent, except in CI (``CI`` set), where it must be there."""
    path = os.environ.get("BEATLIGHT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        if os.environ.get("CI"):
            pytest.fail(f"no Chromium at {path}: CI installs Debian's chromium")
        pytest.skip(f"no Chromium at {path} (apt-get install chromium, or set BEATLIGHT_CHROMIUM)")
    return path


def _chromium(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium with no network: every host name fails to resolve."""
    return subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--host-resolver-rules=MAP * ~NOTFOUND",
         f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.e2e
def test_the_report_prints_to_pdf_offline_with_every_section(chromium, report, tmp_path):
    from pypdf import PdfReader

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf, png = ARTIFACTS / "pcc-report.pdf", ARTIFACTS / "pcc-report.png"
    for old in (pdf, png):
        old.unlink(missing_ok=True)
    url = report.resolve().as_uri()
    printed = _chromium(chromium, tmp_path / "profile", "--no-pdf-header-footer",
                        f"--print-to-pdf={pdf}", url)  # fmt: skip
    assert pdf.exists() and pdf.stat().st_size > 10_000, printed.stderr[-2000:]
    shot = _chromium(chromium, tmp_path / "profile", "--hide-scrollbars",
                     "--window-size=1000,3000", f"--screenshot={png}", url)  # fmt: skip
    assert png.exists(), shot.stderr[-2000:]

    pages = PdfReader(pdf).pages
    assert len(pages) > 1
    # NFKC: the PDF's text has ligatures ("ﬁ"); the report is laid out for A4 pages.
    texts = [re.sub(r"\s+", " ", unicodedata.normalize("NFKC", p.extract_text())) for p in pages]
    for heading in SECTIONS:
        assert heading in " ".join(texts), f"{heading!r} is not in the printed report"
    # Each section starts a page of its own (the headline figures share the first).
    starts = [next(i for i, t in enumerate(texts) if heading in t) for heading in SECTIONS]
    assert starts == sorted(starts) and len(set(starts[1:])) == len(SECTIONS) - 1
