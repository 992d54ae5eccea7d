"""The instructor's decisions (``grading/decisions.toml``) as every report reads them, from stored results only.

No test here trains: the results are written as the grader writes them (``schema.new_result`` and
``results.write``), then the reports are rebuilt the way ``grade report`` does. What is asserted is what a
person reads: the CSV tables, report.html, feedback.md, Gradescope's results.json, Moodle's worksheet and
feedback ZIP, and the terminal.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from grader import cli, decisions
from grader import results as results_io
from grader.errors import GraderError
from grader.lms import layout
from grader.report.build import build_reports
from grader.schema import CheckStatus, JobStatus, new_result

SHA_A, SHA_B, SHA_NEW = "a" * 64, "b" * 64, "c" * 64
NOTE = "same code as bruno's, renamed variables"  # the instructor's only: must reach no student


def check(name: str, status: str, points: float, max_points: float, **details) -> dict:
    return {"name": name, "status": CheckStatus(status), "points": points, "max_points": max_points,
            "message": f"{name} says {status}", "message_pt": f"{name} diz {status}", "details": details}


def result(student: str, exercise: str, sha: str, checks: list[dict], *, quick: bool = False, **fields):
    score = sum(c["points"] for c in checks)
    return new_result(student, exercise, status=JobStatus.OK if score == 10 else JobStatus.FAILED, score=score,
                      checks=checks, max_score=10.0, quick=quick, quick_capped=quick, title=exercise,
                      submission={"path": f"{student}/{exercise}.py", "sha256": sha, "kind": "py"},
                      finished_at="2026-12-04T10:00:00+00:00", test_error=1.9, **fields)


def write_class(out: Path, *, quick: bool = False, sha_a: str = SHA_A) -> None:
    """ana: mnist_dense fails its threshold (4 of 6) and leaks test rows; abc_skin passes. bia: abc_skin passes."""
    threshold = "not_graded" if quick else "fail"
    for r in (
        result("ana", "mnist_dense", sha_a, [check("runs", "pass", 4, 4),
                                             check("threshold", threshold, 0 if quick else 2, 6, test_error=1.9,
                                                   full_credit_max=1.6, zero_credit_min=2.0),
                                             check("leakage", "fail", 0, 0, leaked_rows=12)], quick=quick),
        result("ana", "abc_skin", SHA_A, [check("runs", "pass", 10, 10)], quick=quick),
        result("bia", "abc_skin", SHA_B, [check("runs", "pass", 10, 10)], quick=quick),
    ):
        results_io.write(out / "results", r)


DECISIONS = f"""# the instructor's decisions
[[decision]]
student = "ana"
exercise = "mnist_dense"
check = "threshold"
points = 5
reason = "the error sits on the boundary: the noise band"
note = "{NOTE}"
who = "prof"
when = 2026-12-04T11:00:00Z
sha256 = "{SHA_A}"

[[decision]]
student = "ana"
exercise = "mnist_dense"
dismiss = "leakage"
reason = "the rows are duplicates in the data set itself"
note = "{NOTE}"
who = "prof"
when = 2026-12-04T11:01:00Z
sha256 = "{SHA_A}"

[[decision]]
student = "bia"
exercise = "abc_skin"
excuse = true
reason = "medical leave"
who = "prof"
when = 2026-12-04T11:02:00Z
sha256 = "{SHA_B}"
"""


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "grading"
    write_class(folder)
    (folder / decisions.FILE).write_text(DECISIONS)
    return folder


@pytest.mark.unit
def test_every_report_shows_the_graders_points_the_instructors_and_the_reason(out):
    built = build_reports(out, "en")
    reports = out / "reports"
    scores = pd.read_csv(reports / "scores.csv").set_index("student")
    assert scores.loc["ana", "mnist_dense_score"] == 9 and scores.loc["ana", "mnist_dense_grader_points"] == 6
    assert "noise band" in scores.loc["ana", "mnist_dense_decision"]
    assert scores.loc["ana", "total"] == 19 and scores.loc["ana", "max_total"] == 20
    assert scores.loc["bia", "abc_skin_status"] == "excused" and scores.loc["bia", "max_total"] == 0  # not assigned
    details = pd.read_csv(reports / "details.csv")
    row = details[(details["student"] == "ana") & (details["check"] == "threshold")].iloc[0]
    assert (row["points"], row["grader_points"]) == (5, 2) and "noise band" in row["decision"]
    assert set(details[details["check"] == "(decision)"]["status"]) == {"dismiss", "excuse"}

    page = (reports / "report.html").read_text()
    assert "<h2>Decisions</h2>" in page and "noise band" in page and NOTE.replace("'", "&#x27;") in page
    assert '<s class="was"' in page  # the grader's 6 struck out beside the instructor's 9
    assert not [f for f in built.needs_instructor if f.name == "leakage"], "a dismissed flag is no longer listed"

    ana = (reports / "ana" / "feedback.md").read_text()
    assert "**9 / 10 (grader: 6) points**" in ana and "5/6 (grader: 2)" in ana
    assert "### The instructor's decision" in ana and "noise band" in ana and "duplicates in the data set" in ana
    assert "**Total: 19 / 20 points**" in ana
    bia = (reports / "bia" / "feedback.md").read_text()
    assert "excused" in bia and "medical leave" in bia and "**Total: 0 / 0 points**" in bia

    gradescope = json.loads((reports / "ana" / "results.json").read_text())
    threshold = next(t for t in gradescope["tests"] if t["name"].startswith("mnist_dense: test error"))
    assert threshold["score"] == 5 and "grader: 2" in threshold["output"] and "noise band" in threshold["output"]
    assert gradescope["score"] == 19
    assert json.loads((reports / "bia" / "results.json").read_text())["score"] == 0


@pytest.mark.unit
def test_portuguese_feedback_says_it_in_portuguese(out):
    build_reports(out, "pt")
    ana = (out / "reports" / "ana" / "feedback.md").read_text()
    assert "### Decisão do professor" in ana and "5 pontos em vez dos 2 do corretor" in ana


@pytest.mark.unit
def test_a_decision_survives_a_regrade_and_goes_stale_when_the_submission_changes(out):
    build_reports(out, "en")
    write_class(out)  # `grade all --force`: the same submissions graded again, results rewritten
    again = build_reports(out, "en")
    assert all(v.state == "applied" for v in again.reviews)
    assert pd.read_csv(out / "reports" / "scores.csv").set_index("student").loc["ana", "mnist_dense_score"] == 9

    write_class(out, sha_a=SHA_NEW)  # ana submitted again
    stale = build_reports(out, "en")
    states = {(v.decision.kind, v.decision.exercise): v.state for v in stale.reviews}
    assert states == {("points", "mnist_dense"): "stale", ("dismiss", "mnist_dense"): "stale",
                      ("excuse", "abc_skin"): "applied"}
    scores = pd.read_csv(out / "reports" / "scores.csv").set_index("student")
    assert scores.loc["ana", "mnist_dense_score"] == 6, "a stale decision does not apply: the grader's points stand"
    needs = [(f.student, f.reason) for f in stale.needs_instructor]
    assert needs.count(("ana", "decision stale")) == 2 and ("ana", "check leakage: fail") in needs
    assert decisions.load(out / decisions.FILE)[0].sha256 == SHA_A, "kept, not rewritten"
    assert "noise band" not in (out / "reports" / "ana" / "feedback.md").read_text()

    # renewed on the new submission: it applies again and leaves the list
    assert cli.main(["decide", "ana", "mnist_dense", "--renew", "--who", "prof", "--out", str(out)]) == 0
    renewed = build_reports(out, "en")
    assert all(v.state == "applied" for v in renewed.reviews)
    assert not [f for f in renewed.needs_instructor if f.student == "ana"]
    # removed: the grader's points again, and nothing left of ana's decisions in the file
    assert cli.main(["decide", "ana", "mnist_dense", "--remove", "--out", str(out)]) == 0
    assert {d.student for d in decisions.load(out / decisions.FILE)} == {"bia"}
    assert "# the instructor's decisions" in (out / decisions.FILE).read_text(), "the rest of the file kept"


@pytest.mark.parametrize("text, line, what", [
    ('[[decision]]\nstudent = "ana"\nexercise = "x"\npoints = 3\nreason = "r"\nsha256 = "' + SHA_A
     + '"\n\n[[decision]]\nstudent = "ana"\nexercise = "x"\npoints = -1\nreason = "r"\nsha256 = "' + SHA_A + '"\n',
     8, "points = -1 is not a number ≥ 0"),
    ('[[decision]]\nstudent = "ana"\nexercise = "x"\npoints = 3\ndismiss = "leakage"\nreason = "r"\nsha256 = "'
     + SHA_A + '"\n', 1, "give exactly one of points, confirm, dismiss, excuse"),
    ('[[decision]]\nstudent = "ana"\nexercise = "x"\nexcuse = true\nresaon = "typo"\nsha256 = "' + SHA_A + '"\n',
     1, "unknown key 'resaon'"),
    ('[[decision]]\nstudent = "ana"\nexercise = "x"\nexcuse = true\nreason = "r"\nsha256 = "abc"\n', 1,
     "'sha256' is not a submission's sha256"),
    ('[[decision]]\nstudent = "ana"\nexercise = "x"\nreason = "unterminated\n', 4, "not valid TOML"),
])
@pytest.mark.unit
def test_a_malformed_file_is_refused_with_its_line_and_nothing_applied(out, capsys, text, line, what):
    (out / decisions.FILE).write_text(DECISIONS + "\n" * 0)
    build_reports(out, "en")
    before = (out / "reports" / "scores.csv").read_text()
    (out / decisions.FILE).write_text(text)
    with pytest.raises(GraderError) as refused:
        decisions.load(out / decisions.FILE)
    assert f"line {line}: " in str(refused.value) and what in str(refused.value), str(refused.value)
    assert f"linha {line}: " in str(refused.value)  # and in Portuguese
    assert cli.main(["report", "--out", str(out)]) == 2
    assert f"line {line}" in capsys.readouterr().err
    assert (out / "reports" / "scores.csv").read_text() == before, "nothing rewritten from half a file"


@pytest.mark.unit
def test_grade_decide_records_the_submission_and_refuses_what_does_not_fit(out, capsys):
    (out / decisions.FILE).unlink()
    assert cli.main(["decide", "ana", "mnist_dense", "--points", "6", "--check", "threshold", "--reason",
                     "boundary", "--note", 'private "quoted"\nline', "--who", "prof", "--out", str(out)]) == 0
    [made] = decisions.load(out / decisions.FILE)
    assert (made.kind, made.check, made.points, made.sha256, made.who) == ("points", "threshold", 6.0, SHA_A, "prof")
    assert made.note == 'private "quoted"\nline' and made.line == 2
    for bad in (["--points", "7", "--check", "threshold"], ["--points", "1", "--check", "nope"],
                ["--dismiss", "sandbox"], ["--points", "11"]):
        assert cli.main(["decide", "ana", "mnist_dense", *bad, "--reason", "r", "--out", str(out)]) == 2, bad
    assert cli.main(["decide", "zoe", "mnist_dense", "--excuse", "--reason", "r", "--out", str(out)]) == 2
    assert len(decisions.load(out / decisions.FILE)) == 1, "a refused decision writes nothing"
    assert cli.main(["decide", "ana", "mnist_dense", "--confirm", "leakage", "--reason", "copied the test rows",
                     "--out", str(out)]) == 0
    assert [d.kind for d in decisions.load(out / decisions.FILE)] == ["points", "confirm"]


def roster(class_dir: Path) -> None:
    class_dir.mkdir()
    rows = [{"key": s, "full_name": s.title(), "participant_id": str(i), "email": "", "platform": "moodle",
             "source": "download.zip", "exercise": "", "folder": f"{s.title()}_{i}_assignsubmission_file",
             "submitted_at": "2026-12-01T10:00:00"} for i, s in enumerate(("ana", "bia"), start=1)]
    with open(class_dir / layout.ROSTER, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=layout.ROSTER_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


@pytest.mark.unit
def test_a_note_never_reaches_a_student(out, tmp_path):
    build_reports(out, "en")
    for student in ("ana", "bia"):
        for name in ("feedback.md", "results.json"):
            assert "bruno" not in (out / "reports" / student / name).read_text(), (student, name)
    roster(tmp_path / "class")
    assert cli.main(["export", "moodle", str(tmp_path / "class"), "--results", str(out), "--into",
                     str(tmp_path / "up"), "--scale", "10", "--lang", "en"]) == 0
    sheet = {r["Identifier"]: r for r in csv.DictReader(open(tmp_path / "up" / "worksheet-download.csv"))}
    assert sheet["Participant 1"]["Grade"] == "9.50"  # 19 / 20 with the instructor's points
    assert "noise band" in sheet["Participant 1"]["Feedback comments"]
    assert sheet["Participant 2"]["Grade"] == ""  # excused: nothing left to grade, and not a zero
    assert "Excused" in sheet["Participant 2"]["Feedback comments"]
    assert "bruno" not in (tmp_path / "up" / "worksheet-download.csv").read_text()
    with zipfile.ZipFile(tmp_path / "up" / "feedback-download.zip") as z:
        pages = [z.read(n).decode() for n in z.namelist() if n.endswith(".html")]
    assert len(pages) == 2 and all("bruno" not in p for p in pages) and "noise band" in pages[0]


@pytest.mark.unit
def test_quick_results_are_refused_by_the_export_and_named(tmp_path, capsys):
    out = tmp_path / "grading"
    write_class(out, quick=True)
    build_reports(out, "en")
    roster(tmp_path / "class")
    args = ["export", "moodle", str(tmp_path / "class"), "--results", str(out), "--into", str(tmp_path / "up")]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert "3 result(s) are not final grades" in err and "ana/mnist_dense (quick mode)" in err and "--allow-quick" in err
    assert not (tmp_path / "up").exists()
    assert cli.main([*args, "--allow-quick"]) == 0
    page = (out / "reports" / "report.html").read_text()
    assert page.split("<main>\n", 1)[1].startswith('<p class="quick-banner">Quick mode: these scores are not grades')
    gradescope = json.loads((out / "reports" / "ana" / "results.json").read_text())
    assert gradescope["output"].startswith("Not a final grade")
    from grader.report import html  # the 1-epoch errors are drawn without the full thresholds' bands

    [strip] = html._error_panels(results_io.read_all(out / "results"), ["mnist_dense"]).axes
    assert "not drawn against the targets" in strip.get_title("right") and not strip.patches


@pytest.mark.unit
def test_a_grader_fault_is_not_exported_as_a_grade(tmp_path, capsys):
    out = tmp_path / "grading"
    results_io.write(out / "results", new_result("ana", "abc_skin", status=JobStatus.GRADER_ERROR, score=None,
                                                 checks=[], max_score=10.0))
    roster(tmp_path / "class")
    assert cli.main(["export", "moodle", str(tmp_path / "class"), "--results", str(out), "--into",
                     str(tmp_path / "up")]) == 2
    assert "ana/abc_skin (not graded (a grader fault))" in capsys.readouterr().err


@pytest.mark.unit
def test_grade_report_runs_no_job_and_takes_seconds(out):
    """In a fresh interpreter: no Keras, TensorFlow or evaluator is imported, and the rebuild is quick."""
    code = ("import json, sys, time; from grader import cli; t = time.monotonic(); "
            f"rc = cli.main(['report', '--out', {str(out)!r}]); s = time.monotonic() - t; "
            "heavy = sorted(m for m in ('tensorflow', 'keras', 'torch', 'jax', 'grader.evaluation.client', "
            "'grader.jobs', 'grader.executors.local') if m in sys.modules); print('RESULT', json.dumps([rc, heavy, s]))")
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    whole = time.monotonic() - t0
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT")), proc.stdout + proc.stderr)
    rc, heavy, seconds = json.loads(line.removeprefix("RESULT"))
    assert rc == 0 and heavy == [], line
    assert seconds < 10 and whole < 30, (seconds, whole)
    assert "Needs the instructor:" in proc.stdout and (out / "reports" / "report.html").is_file()


@pytest.mark.unit
def test_the_demo_decisions_file_holds_one_confirmed_flag_one_override_and_one_stale_decision():
    """examples/class-decisions.toml against the demo class's own submissions (their sha256 as `grade all`
    records it): eva's and carla's were made on today's files, diego's on an earlier one."""
    from grader.config import course_root

    root = course_root() / "examples"
    demo = decisions.load(root / "class-decisions.toml")
    assert [(d.student, d.kind) for d in demo] == [("eva", "confirm"), ("carla", "points"), ("diego", "dismiss")]
    graded = []
    for d in demo:
        sha = results_io.file_sha256(root / "class" / d.student / f"{d.exercise}.py")
        graded.append(result(d.student, d.exercise, sha, [check("runs", "pass", 4, 4),
                                                          check("leakage", "fail", 0, 0, leaked_rows=343),
                                                          check("test_as_validation", "flag", 0, 0)]))
    decided, reviews = decisions.apply(graded, demo)
    assert {v.decision.student: v.state for v in reviews} == {"eva": "applied", "carla": "applied", "diego": "stale"}
    assert decided[1]["score"] == 3 and decided[1]["grader_score"] == 4
    assert all(d.note == "" or d.note not in json.dumps(decided) for d in demo), "no note on a result"


def test_the_review_loop_on_a_really_graded_submission(tmp_path):
    """grade all (one real quick job: eva trained on the test rows), the terminal's "Needs the instructor",
    grade decide, grade report: the flag leaves the list, the reason reaches the feedback, the note does not."""
    from grader.config import course_root

    (tmp_path / "class" / "eva").mkdir(parents=True)
    (tmp_path / "class" / "eva" / "noisynote.py").write_bytes(
        (course_root() / "examples" / "class" / "eva" / "noisynote.py").read_bytes())
    out = tmp_path / "grading"

    def grade(*args: str) -> str:
        proc = subprocess.run([sys.executable, "-m", "grader.cli", *args], capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return proc.stdout

    shown = grade("all", str(tmp_path / "class"), "--exercise", "noisynote", "--quick", "--out", str(out))
    assert "Needs the instructor: 1 " in shown and "eva/noisynote: check leakage: fail — 686 test rows" in shown
    page = (out / "reports" / "report.html").read_text()
    assert page.split("<main>\n", 1)[1].startswith('<p class="quick-banner">')
    grade("decide", "eva", "noisynote", "--confirm", "leakage", "--reason", "you trained on the test rows",
          "--note", NOTE, "--out", str(out))
    shown = grade("report", "--out", str(out), "--lang", "en")
    assert "Needs the instructor: nothing" in shown
    feedback = (out / "reports" / "eva" / "feedback.md").read_text()
    assert "the alert was confirmed: you trained on the test rows" in feedback and "bruno" not in feedback
    assert "bruno" in (out / "reports" / "report.html").read_text()  # the instructor's page has the note
