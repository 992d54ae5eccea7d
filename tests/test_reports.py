"""The reports `grade all` writes, read back from a real (quick) grading of the demo class.

`graded_class` (conftest) grades abc_skin and mnist_dense of examples/class for
real; these tests read what a person would read: the CSV/Excel tables, each student's
feedback.md with its figures and executed notebook, Gradescope's results.json, the console.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from grader import results as results_io
from grader.report import feedback, github
from grader.report.build import write_reports

#: one pytest-xdist worker runs every test that reads `graded_class`, so it is graded once
pytestmark = pytest.mark.xdist_group("graded_class")


STUDENTS = ["alice", "bruno", "carla", "diego", "eva", "fabio", "gabriel", "helena", "igor", "joana", "kaio", "lara"]


def by_key(out: Path) -> dict[tuple[str, str], dict]:
    return {(r["student"], r["exercise"]): r for r in results_io.read_all(out / "results")}


def test_scores_table_has_one_row_per_student_in_a_readable_order(graded_class):
    scores = pd.read_csv(graded_class / "reports" / "scores.csv")
    assert list(scores["student"]) == STUDENTS
    assert list(scores.columns[:5]) == ["student", "total", "max_total", "percent", "status"]
    assert list(scores.columns[5:8]) == ["abc_skin_score", "abc_skin_status", "abc_skin_test_error"]
    row = scores.set_index("student").loc["eva"]  # submitted none of these three
    assert row["total"] == 0 and row["status"] == "2 missing"
    results = by_key(graded_class)
    for student in STUDENTS:
        expected = sum(r["score"] for (s, _), r in results.items() if s == student)
        assert scores.set_index("student").loc[student, "total"] == pytest.approx(expected, abs=0.01)
    assert scores.set_index("student").loc["bruno", "mnist_dense_status"] == "failed"  # Conv2D


def test_details_table_gives_each_check_its_measured_figures(graded_class):
    details = pd.read_csv(graded_class / "reports" / "details.csv")
    threshold = details[(details["student"] == "alice") & (details["check"] == "threshold")
                        & (details["exercise"] == "mnist_dense")]
    assert len(threshold) == 1 and "test_error=" in threshold["measured"].iloc[0]
    crash = details[(details["student"] == "carla") & (details["check"] == "(job)")
                    & (details["exercise"] == "mnist_dense")]
    assert "init" in crash["message"].iloc[0] and "kernel_initializer" in crash["message"].iloc[0]  # with its hint


def test_excel_workbook_when_pandas_has_an_engine(graded_class):
    pytest.importorskip("openpyxl")
    book = pd.read_excel(graded_class / "reports" / "scores.xlsx", sheet_name=None)
    assert set(book) == {"scores", "details"} and list(book["scores"]["student"]) == STUDENTS


def test_feedback_in_portuguese_says_what_failed_and_what_to_do(graded_class):
    reports = graded_class / "reports"
    for student in STUDENTS:
        assert (reports / student / "feedback.md").is_file()
    bruno = (reports / "bruno" / "feedback.md").read_text()
    assert bruno.startswith("# Retorno — bruno")
    assert "### O que fazer agora" in bruno and "Conv2D" in bruno and "somente camadas densas" in bruno
    eva = (reports / "eva" / "feedback.md").read_text()
    assert "Não entregue: coloque seu programa em `mnist_dense.py`" in eva
    carla = (reports / "carla" / "feedback.md").read_text()
    assert "kernel_initializer" in carla and "Dica:" in carla
    assert "linha 13: avaliado como o Keras 2 o executava; no Keras 3 escreva learning_rate=0.0005 em vez de " \
           "lr=0.0005" in carla  # the idiom before the crash ran as Keras 2 ran it
    gabriel = (reports / "gabriel" / "feedback.md").read_text()
    assert gabriel.count("### Código do Keras 2") == 2 and "a menos" not in gabriel  # no penalty in course.toml
    for fix in ("learning_rate=10.0", "epochs= em vez de nb_epoch=", "model.save('abc_pele.keras')",
                "InverseTimeDecay(0.001, decay_steps=1, decay_rate=1e-06)", "monitor='val_accuracy'",
                "from keras.utils import ... em vez de from keras.utils.np_utils import ..."):
        assert fix in gabriel, fix


def test_feedback_keeps_figures_and_the_executed_notebook_beside_it(graded_class):
    fabio = graded_class / "reports" / "fabio"
    text = (fabio / "feedback.md").read_text()
    assert "(abc_skin/executed.ipynb)" in text and (fabio / "abc_skin" / "executed.ipynb").is_file()
    executed = json.loads((fabio / "abc_skin" / "executed.ipynb").read_text())
    assert any(c.get("outputs") for c in executed["cells"] if c["cell_type"] == "code")
    figures = sorted((fabio / "abc_skin").glob("fig*.png"))
    assert figures and f"![{figures[0].name}](abc_skin/{figures[0].name})" in text
    assert figures[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_feedback_in_english_from_the_same_results(graded_class, tmp_path):
    results = results_io.read_all(graded_class / "results")
    write_reports(results, tmp_path, graded_class / "results", "en")
    diego = (tmp_path / "diego" / "feedback.md").read_text()
    assert diego.startswith("# Feedback — diego") and "### What to do next" in diego
    assert "test set not used as validation" in diego and "| flag |" in diego
    assert "### Figures your program drew" not in diego  # his mnist_dense draws none


@pytest.mark.unit
def test_feedback_escapes_what_the_student_controls():
    hostile = {"student": "x", "exercise": "mnist_dense", "status": "error", "score": 0.0, "max_score": 10.0,
               "error": "ValueError: <img src=x onerror=alert(1)> | col\nnext", "checks": [  # a flag: the error shows
                   {"name": "runs", "status": "flag", "points": 0, "max_points": 1,
                    "message": "boom <script>alert(1)</script> | x", "details": {}}]}
    page = feedback.render("<b>eve</b>", [hostile], "en")
    assert "<script>" not in page and "<img" not in page and "<b>eve" not in page
    assert "&lt;script&gt;" in page and "\\| x" in page and "col next" in page


# --- Gradescope --------------------------------------------------------------------------------

#: Gradescope's autograder output format: the fields a results.json may hold, and their types.
GRADESCOPE_TOP = {"score": (int, float), "execution_time": int, "output": str, "output_format": str,
                  "test_output_format": str, "test_name_format": str, "visibility": str, "stdout_visibility": str,
                  "extra_data": dict, "tests": list, "leaderboard": list}
GRADESCOPE_TEST = {"score": (int, float), "max_score": (int, float), "status": str, "name": str, "name_format": str,
                   "number": str, "output": str, "output_format": str, "tags": list, "visibility": str,
                   "extra_data": dict}
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


def assert_gradescope(doc: dict) -> None:
    assert set(doc) <= set(GRADESCOPE_TOP), set(doc) - set(GRADESCOPE_TOP)
    for key, value in doc.items():
        assert isinstance(value, GRADESCOPE_TOP[key]) and not isinstance(value, bool), key
    assert "score" in doc or all("score" in t for t in doc["tests"])
    assert doc.get("visibility", "visible") in VISIBILITY
    for test in doc["tests"]:
        assert set(test) <= set(GRADESCOPE_TEST), set(test) - set(GRADESCOPE_TEST)
        for key, value in test.items():
            assert isinstance(value, GRADESCOPE_TEST[key]) and not isinstance(value, bool), (key, test)
        assert test.get("status", "passed") in {"passed", "failed"}
        assert test.get("visibility", "visible") in VISIBILITY
        assert 0 <= test["score"] <= test["max_score"]


def test_gradescope_results_follow_the_specification(graded_class):
    results = by_key(graded_class)
    for student in STUDENTS:
        doc = json.loads((graded_class / "reports" / student / "results.json").read_text())
        assert_gradescope(doc)
        mine = [r for (s, _), r in results.items() if s == student]
        assert doc["score"] == pytest.approx(sum(r["score"] for r in mine), abs=1e-3)
        assert sum(t["max_score"] for t in doc["tests"]) == pytest.approx(sum(r["max_score"] for r in mine))
    bruno = json.loads((graded_class / "reports" / "bruno" / "results.json").read_text())
    dense = [t for t in bruno["tests"] if t["name"].startswith("mnist_dense") and "densas" in t["name"]]
    assert len(dense) == 1 and dense[0]["status"] == "failed" and "Conv2D" in dense[0]["output"]


def test_the_class_page_shows_the_copied_run_and_changes_no_score(graded_class):
    reports = graded_class / "reports"
    assert "abc_skin,kaio,lara,3,3,100," in (reports / "identical-runs.csv").read_text()
    page = (reports / "report.html").read_text()
    assert "identical run: lara" in page and 'href="similarity/abc_skin/kaio--lara.html"' in page
    assert (reports / "similarity" / "abc_skin" / "kaio--lara.html").is_file()
    results = by_key(graded_class)
    for student in ("kaio", "lara"):  # listed for the instructor; graded as any other submission
        assert results[(student, "abc_skin")]["status"] == "ok", results[(student, "abc_skin")].get("error")
    feedback = (reports / "kaio" / "feedback.md").read_text()
    assert "lara" not in feedback and "identical" not in feedback  # a copying case never reaches a student


# --- GitHub annotations (unit: escaping of what the student controls) -------------------------

@pytest.mark.unit
def test_annotations_escape_workflow_command_syntax(tmp_path):
    result = {"student": "s", "exercise": "sparse_cce", "status": "failed",
              "submission": {"path": str(tmp_path / "a,b:c.py"), "kind": "py"},
              "checks": [{"name": "no_to_categorical", "status": "fail", "points": 0, "max_points": 1,
                          "message": "100% wrong\n::error::forged", "details": {"line": 7}},
                         {"name": "runs", "status": "pass", "points": 1, "max_points": 1, "message": "ok",
                          "details": {}}]}
    lines = github.annotations([result], tmp_path, "en")
    assert lines == ["::error file=a%2Cb%3Ac.py,line=7,title=sparse_cce%3A integer labels (no to_categorical)"
                     "::100%25 wrong%0A::error::forged"]
    assert github.failed([result]) and not github.failed([{**result, "status": "missing"}])


# --- the console ------------------------------------------------------------------------------

def test_grade_all_prints_a_summary_and_where_the_reports_are(graded_class):
    log = (graded_class / "grade-all.log").read_text()
    assert "graded 24 jobs in" in log  # 12 students x 2 exercises, progress lines when not a TTY
    assert "similarity abc_skin: 6 submissions, 15 pairs in" in log and "1 identical runs" in log
    assert "fabio/abc_skin: ok" in log
    tail = log[log.rindex("reports ("):]
    for name in ("scores.csv", "details.csv", "report.html", "feedback.md", "similarity.csv"):
        assert name in tail
