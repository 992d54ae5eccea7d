"""report.html as an instructor sees it: rendered by a real headless Chromium from a real graded class.

The page must work offline from file:// (no URL fetched), its script must run (the sortable table marks
itself ready and honours `#sort=` in the address), and the screenshot must show the plots. Student text is
hostile, so a pure-Python test checks that names, messages and errors come out escaped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from grader import results as results_io
from grader.report.html import PLOT_COLOUR, Threshold, exercise_threshold, find_flags, render_html, write_html

#: one pytest-xdist worker runs every test that reads `graded_class`, so it is graded once
pytestmark = pytest.mark.xdist_group("graded_class")


#: Always passed: no sandbox (tests may run as root in a container), nothing fetched in the background.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def chromium() -> str:
    """The browser binary; its absence skips locally but fails in CI, where it must be installed."""
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if found:
        return found
    if os.environ.get("CI") is None:
        pytest.skip("chromium not installed (apt-get install chromium)")
    pytest.fail("CI needs chromium for the report tests: install it with `apt-get install chromium`")


def run_chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


class Page(HTMLParser):
    """The parts of a DOM the tests look at: every start tag's attributes, the students table, text runs."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.rows: list[tuple[str, list[str]]] = []  # (data-student, each cell's data-sort)
        self.column_keys: list[str] = []
        self.text: list[str] = []
        self.feed(markup)
        self.close()

    def attrs_of(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "th" and "data-key" in a:
            self.column_keys.append(a["data-key"] or "")
        elif tag == "tr" and "data-student" in a:
            self.rows.append((a["data-student"] or "", []))
        elif tag == "td" and self.rows and "data-sort" in a:
            self.rows[-1][1].append(a["data-sort"] or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def report(graded_class: Path, tmp_path_factory) -> tuple[Path, list[dict]]:
    """report.html of the really graded class, and the results it was built from."""
    results = results_io.read_all(graded_class / "results")
    path = write_html(results, tmp_path_factory.mktemp("report") / "reports" / "report.html")
    return path, results


@pytest.fixture(scope="module")
def browser_dom(report, tmp_path_factory) -> str:
    """The DOM after the page's scripts ran."""
    path, _ = report
    return run_chromium(tmp_path_factory.mktemp("profile"), "--dump-dom", path.as_uri()).stdout


def test_page_is_self_contained(report):
    path, _ = report
    page = path.read_text()
    assert not re.search(r"https?://", page), "the page must not name any URL: it is read offline"
    images = Page(page).attrs_of("img")
    assert len(images) == 2
    assert all((img["src"] or "").startswith("data:image/png;base64,") for img in images)


def test_script_runs_and_table_has_one_row_per_student(report, browser_dom):
    _, results = report
    dom = Page(browser_dom)
    tables = [t for t in dom.attrs_of("table") if t.get("id") == "students"]
    assert tables and tables[0].get("data-sortable") == "ready", "the sorting script did not run"
    students = [student for student, _ in dom.rows]
    assert sorted(students) == sorted({r["student"] for r in results})
    assert students == sorted(students), "without #sort= the rows are in name order"


def test_address_sorts_the_table_numerically(report, tmp_path):
    path, results = report
    dom = Page(run_chromium(tmp_path / "profile", "--dump-dom", path.as_uri() + "#sort=total-desc").stdout)
    total = dom.column_keys.index("total")
    totals = [float(cells[total]) for _, cells in dom.rows]
    assert len(totals) == len({r["student"] for r in results})
    assert totals == sorted(totals, reverse=True) and totals[0] > totals[-1]
    assert [h.get("aria-sort") for h in dom.attrs_of("th") if h.get("data-key") == "total"] == ["descending"]


def test_screenshot_shows_the_plots(report, tmp_path):
    from matplotlib.image import imread

    path, _ = report
    shot = tmp_path / "report.png"
    run_chromium(tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2400", path.as_uri())
    rgb = np.round(imread(shot)[..., :3] * 255).astype(int)
    want = np.array([int(PLOT_COLOUR[i:i + 2], 16) for i in (1, 3, 5)])
    plot_pixels = int((np.abs(rgb - want).max(axis=-1) <= 3).sum())
    assert plot_pixels > 5000, f"only {plot_pixels} pixels of the plots' colour {PLOT_COLOUR}: plots not shown"
    colours = len(np.unique(rgb.reshape(-1, 3), axis=0))
    assert colours > 50, f"{colours} distinct colours: the page looks blank"


HOSTILE_NAME = "<script>alert(1)</script>"
HOSTILE_MESSAGE = 'stated 1.2 % <img src=x onerror="alert(2)"> & more'


def hand_result(student: str, exercise: str, **fields) -> dict:
    """A result dict as the grader writes it, with only the keys a test needs (the page must cope)."""
    return {"schema_version": 1, "student": student, "exercise": exercise, "status": "ok", "score": 10.0,
            "max_score": 10.0, "checks": [], **fields}


def threshold_check(error: float, full: float = 1.6, zero: float = 2.0) -> dict:
    return {"name": "threshold", "status": "pass", "points": 6.0, "max_points": 6.0, "message": "",
            "details": {"test_error": error, "full_credit_max": full, "zero_credit_min": zero}}


@pytest.mark.unit
def test_student_text_is_escaped():
    hostile = [
        hand_result(HOSTILE_NAME, "mnist_dense", status="failed", score=3.0, test_error=2.5, isolation="none",
                    checks=[{"name": "honest_claim", "status": "fail", "points": 0.0, "max_points": 1.0,
                             "message": HOSTILE_MESSAGE, "details": {"claims": [{"error": 1.2, "line": 3}]}},
                            threshold_check(2.5)]),
        hand_result("bob", "mnist_dense", status="error", score=0.0, error="</td><b>ask the instructor</b>"),
    ]
    page = render_html(hostile, "<i>title</i>")
    for raw in (HOSTILE_NAME, "<img src=x", "<b>ask", "<i>title"):
        assert raw not in page
    parsed = Page(page)
    assert len(parsed.attrs_of("script")) == 1, "only the page's own script"
    assert len(parsed.attrs_of("img")) == 2 and not any("onerror" in img for img in parsed.attrs_of("img"))
    text = "".join(parsed.text)
    assert HOSTILE_NAME in text and HOSTILE_MESSAGE in text and "</td><b>ask the instructor</b>" in text
    assert [(f.student, f.reason) for f in find_flags(hostile)] == [
        (HOSTILE_NAME, "check honest_claim: fail"), (HOSTILE_NAME, "isolation: none"), ("bob", "grading error")]


@pytest.mark.unit
def test_threshold_comes_from_the_results_and_partial_results_render():
    results = [
        hand_result("ann", "mnist_dense", test_error=1.2, checks=[threshold_check(1.2, full=1.5, zero=2.5)]),
        hand_result("ann", "abc_skin", test_error=0.0),
        {"schema_version": 1, "student": "zoe", "exercise": "mnist_dense", "status": "missing"},
        {"schema_version": 1, "student": "zoe"},
    ]
    assert exercise_threshold(results, "mnist_dense") == Threshold(1.5, 2.5)
    assert exercise_threshold(results, "abc_skin") is None
    page = Page(render_html(results))
    assert [student for student, _ in page.rows] == ["ann", "zoe"]
    text = "".join(page.text)
    assert "1.2 %" not in text and "1.20 %" in text, "errors are shown with 2 decimals"


@pytest.mark.unit
def test_only_findings_are_flagged_not_the_echo_of_a_crash():
    def leak(rows: int) -> dict:
        return {"name": "leakage", "status": "fail", "points": 0.0, "max_points": 0.0, "message": "m",
                "details": {"leaked_rows": rows} if rows else {}}

    claim = {"name": "honest_claim", "status": "fail", "points": 0.0, "max_points": 1.0, "message": "m",
             "details": {"claims": [{"error": 1.0, "line": 2}]}}
    crashed = hand_result("carla", "mnist_dense", status="error", test_error=None, checks=[leak(0), claim])
    leaked = hand_result("eva", "noisynote", status="failed", test_error=0.0, checks=[leak(343)])
    overstated = hand_result("diego", "mnist_dense", status="failed", test_error=2.1, checks=[claim])
    flags = find_flags([crashed, leaked, overstated])
    assert [(f.student, f.reason) for f in flags] == [("diego", "check honest_claim: fail"),
                                                       ("eva", "check leakage: fail")]
