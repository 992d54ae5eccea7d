"""The sandboxed evaluator: hostile model files fail cleanly inside it, its faults are the grader's, its sandbox holds.

Every test talks to a real evaluator process (``python -m grader.evaluation.worker`` under the
machine's isolation level) that loads real ``.keras`` files made here.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from grader import frameworks
from grader.config import course_root
from grader.evaluation import artifacts
from grader.evaluation.client import PYTHON_ENV, EvaluationFailed, Evaluator
from grader.run.host import sandbox


def keras_file(models_code: str) -> str:
    """Real ``.keras`` files, saved by Keras in a child process (pytest stays free of TensorFlow): JSON of hex."""
    code = ("import json, os, tempfile, keras\n"
            "with tempfile.TemporaryDirectory() as folder:\n"
            "    path = os.path.join(folder, 'model.keras')\n"
            "    saved = []\n"
            f"    for model in {models_code}:\n"
            "        model.save(path)\n"
            "        saved.append(open(path, 'rb').read().hex())\n"
            "print(json.dumps(saved))\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, check=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, text=True).stdout


@pytest.fixture(scope="module")
def models() -> dict[str, bytes]:
    """A valid model and one with a Lambda layer, saved by Keras in one child process."""
    blobs = keras_file("[keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation='softmax')]), "
                       "keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda x: x * 2.0)])]")
    valid, lam = json.loads(blobs)
    return {"valid": bytes.fromhex(valid), "lambda": bytes.fromhex(lam)}


def archive(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in members.items():
            z.writestr(zipfile.ZipInfo(name), content, zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def job(evaluator: Evaluator, model: bytes | int) -> dict:
    """A finished abc_skin run whose graded model is ``model`` (bytes, or a size for a sparse file)."""
    art = evaluator.job_dir("abc_skin") / "artifacts"
    art.mkdir()
    (art / "summary.json").write_text(json.dumps({"model_file": "graded.keras", "graded_model": 0}))
    # the program trained that model (``runs`` asks for a fit), so the model file is the only fault
    (art / "events.jsonl").write_text(json.dumps({"event": "fit_start", "fit": 0, "model": 0}) + "\n")
    with open(art / "graded.keras", "wb") as f:
        if isinstance(model, int):
            f.truncate(model)
        else:
            f.write(model)
    return {"exercise": "abc_skin", "course_root": str(course_root()), "artifacts": str(art), "source": "",
            "kind": "py", "stdout": "", "quick": False, "returncode": 0, "timed_out": False, "limit_s": 60.0,
            "limit_hit": None}


CONFIG = json.dumps({"class_name": "Sequential", "config": {"layers": []}}).encode()
HOSTILE = {
    "oversized": (artifacts.MAX_MODEL_BYTES + 1, "larger than 1024 MiB"),
    "zip bomb": (archive({"config.json": b" " * (64 * 2**20), "model.weights.h5": b""}),
                 "config.json is larger than 8 MiB"),
    "garbage config": (archive({"config.json": b"\x00{not json", "model.weights.h5": b""}), "config.json is not JSON"),
    "wrong config": (archive({"config.json": json.dumps({"class_name": "Sequential", "config": {
        "layers": [{"class_name": "NoSuchLayer", "config": {}}]}}).encode(), "model.weights.h5": b"junk"}),
        "could not be loaded"),
    "path traversal": (archive({"config.json": CONFIG, "model.weights.h5": b"", "../../x": b"planted"}),
                       "file outside the archive ('../../x')"),
    "not a zip": (b"PK\x03\x04 truncated", "not a readable zip archive"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_model_file_fails_cleanly_inside_the_evaluator(case, evaluator):
    model, expected = HOSTILE[case]
    evaluation = evaluator.evaluate(job(evaluator, model))  # the worker is started (and warm) after this call
    pid = evaluator._worker.proc.pid
    messages = " | ".join(c["message"] for c in evaluation["checks"])
    assert expected in messages, messages
    assert "não" in " | ".join(c["message_pt"] for c in evaluation["checks"])
    assert evaluator.evaluate(job(evaluator, model))["checks"] and evaluator._worker.proc.pid == pid  # still alive
    assert not (evaluator.root / "x").exists() and not (evaluator.root / "jobs" / "x").exists()


def test_a_lambda_layer_is_refused(evaluator, models):
    messages = " | ".join(c["message"] for c in evaluator.evaluate(job(evaluator, models["lambda"]))["checks"])
    assert "Lambda layers and custom Python classes cannot be loaded safely" in messages, messages


def test_an_evaluator_that_cannot_start_is_a_grader_fault(monkeypatch, tmp_path):
    monkeypatch.setenv(PYTHON_ENV, "/bin/false")
    with Evaluator() as ev, pytest.raises(EvaluationFailed) as failed:
        ev.evaluate(job(ev, b""))
    assert failed.value.grader_fault
    assert "the evaluator could not start" in str(failed.value) and "não pôde iniciar" in failed.value.text.pt


def _tree(pid: int) -> list[int]:
    """``pid`` and every process under it (the sandbox's own session holds the worker: a process group is not enough)."""
    children = [int(c) for task in Path(f"/proc/{pid}/task").glob("*")
                for c in (task / "children").read_text().split()]
    return [pid, *(p for child in children for p in _tree(child))]


def _stuck(ev: Evaluator) -> None:
    """A worker that cannot answer at all, however idle the machine: ready, then stopped (SIGSTOP) until killed."""
    for pid in _tree(ev._ready_worker().proc.pid):
        os.kill(pid, signal.SIGSTOP)


def test_a_stuck_evaluator_is_blamed_on_the_model_file_only_when_it_is_invalid(models):
    """A worker killed mid-job: a fresh one reads the model file. Valid: the grader's fault; invalid: the student's."""
    with Evaluator(timeout=2) as ev:
        _stuck(ev)
        with pytest.raises(EvaluationFailed) as valid:
            ev.evaluate(job(ev, models["valid"]))
        _stuck(ev)  # the fresh worker that inspected the file
        with pytest.raises(EvaluationFailed) as invalid:
            ev.evaluate(job(ev, HOSTILE["path traversal"][0]))
        ev.timeout = 600
        os.killpg(ev._worker.proc.pid, signal.SIGKILL)  # dies while idle: the next job gets a fresh worker
        ev._worker.proc.wait()
        assert ev.evaluate(job(ev, models["valid"]))["checks"]
    assert valid.value.grader_fault and "is a valid Keras file" in str(valid.value)
    assert not invalid.value.grader_fault and "file outside the archive" in str(invalid.value)
    assert "took longer than 2 s" in str(valid.value) and "levou mais de 2 s" in valid.value.text.pt


@pytest.mark.skipif(sandbox.detect() == "none", reason="no isolation level works on this machine")
def test_the_evaluator_command_has_no_network_and_writes_only_its_scratch(monkeypatch):
    """The worker's own command line and environment, with a probe in place of the worker's Python."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    ev = Evaluator()  # never started: only its command line is used
    try:
        art = job(ev, b"model")["artifacts"]
        probe = Path(art).parent / "python"
        probe.write_text(f"#!/bin/sh\nexec {sys.executable} -S -c '{PROBE}' {port} {course_root()} {art}\n")
        probe.chmod(0o755)
        monkeypatch.setenv(PYTHON_ENV, str(probe))
        cmd, env = ev.command()
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        seen = json.loads(out.stdout)
    finally:
        ev.close()
    with pytest.raises(TimeoutError):
        listener.accept()  # nothing came through
    listener.close()
    assert seen["connect"].startswith("OSError"), seen
    assert seen["write course"].startswith("OSError") and seen["write jobs"].startswith("OSError"), seen
    assert seen["write scratch"] == "ok" and seen["read artifact"] == "ok", seen


PROBE = """
import json, os, socket, sys
port, course, art = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return "OSError: " + str(e)
seen = {
    "connect": attempt(lambda: socket.create_connection(("127.0.0.1", port), timeout=2)),
    "write course": attempt(lambda: open(os.path.join(course, "planted-by-evaluator"), "w")),
    "write jobs": attempt(lambda: open(os.path.join(art, "planted"), "w")),
    "write scratch": attempt(lambda: open(os.path.join(os.environ["TMPDIR"], "scratch-file"), "w")),
    "read artifact": attempt(lambda: open(os.path.join(art, "graded.keras")).read()),
}
print(json.dumps(seen))
"""


def test_a_grader_fault_is_not_graded_but_listed_for_the_instructor_and_graded_again(tmp_path):
    import pandas as pd

    (tmp_path / "class" / "ana").mkdir(parents=True)
    (tmp_path / "class" / "ana" / "abc_skin.py").write_text("print('hello')\n")
    out = tmp_path / "out"
    grade_all = [sys.executable, "-m", "grader.cli", "all", str(tmp_path / "class"), "--exercise", "abc_skin",
                 "--out", str(out), "--lang", "pt"]
    faulty = subprocess.run(grade_all, env={**os.environ, PYTHON_ENV: "/bin/false"}, capture_output=True,
                            timeout=600)
    assert faulty.returncode == 3, faulty.stderr  # a job not graded: the run says so to a script
    result = json.loads((out / "results" / "ana" / "abc_skin.json").read_text())
    assert result["status"] == "grader_error" and result["score"] is None
    assert "the evaluator could not start" in result["error"] and "Não é culpa do aluno" in result["error_pt"]
    scores = pd.read_csv(out / "reports" / "scores.csv")
    assert pd.isna(scores.loc[0, "abc_skin_score"]) and scores.loc[0, "abc_skin_status"] == "grader_error"
    assert scores.loc[0, "max_total"] == 0  # not graded: no zero out of 10
    flags = (out / "reports" / "report.html").read_text().split("<h2>Needs the instructor</h2>")[1].split("<h2>")[0]
    assert "grader fault: not graded" in flags and "ana" in flags
    assert "não avaliado (falha do corretor)" in (out / "reports" / "ana" / "feedback.md").read_text()

    subprocess.run(grade_all, capture_output=True, check=True, timeout=600)  # the machine is fixed: graded again
    again = json.loads((out / "results" / "ana" / "abc_skin.json").read_text())
    assert again["status"] == "failed" and isinstance(again["score"], float) and again["checks"]
    assert again["started_at"] > result["started_at"]


def test_only_the_grader_can_say_its_run_failed_for_the_grader(tmp_path, grade_source):
    """No start byte (the sandbox or Python failed before the child's first line) or a notebook whose kernel
    could not start: the grader's fault. A script that exits with the kernel's status itself: the student's."""
    from grader.jobs import run_fault
    from grader.run.child.main import KERNEL_UNAVAILABLE
    from grader.run.host.runner import RunOutcome

    art = tmp_path / "artifacts"
    art.mkdir()
    notebook, script = tmp_path / "abc_skin.ipynb", tmp_path / "abc_skin.py"
    notebook.write_text("{}")
    script.write_text("print('hi')\n")

    def outcome(returncode: int, stderr: str, sandbox_error: str | None = None) -> RunOutcome:
        return RunOutcome(returncode=returncode, timed_out=False, seconds=0.1, artifacts=art,
                          stdout="", stderr=stderr, isolation=sandbox.detect(), sandbox_error=sandbox_error)

    never = run_fault(outcome(1, "", "bwrap: Can't mount tmpfs on /newroot/tmp: Permission denied"), script)
    assert never and "could not be started (bwrap: Can't mount tmpfs" in never.en and "não pôde" in never.pt
    kernel = run_fault(outcome(KERNEL_UNAVAILABLE, "[grader] the notebook's kernel could not start: RuntimeError: "
                               "Kernel didn't respond in 60 seconds\n"), notebook)
    assert kernel and "Jupyter kernel could not start" in kernel.en and "loopback" in kernel.en
    assert run_fault(outcome(KERNEL_UNAVAILABLE, ""), script) is None
    forged = grade_source(f"import sys\nsys.exit({KERNEL_UNAVAILABLE})\n")  # a real run of a script doing just that
    assert forged["status"] == "error" and forged["score"] == 0.0


@pytest.mark.unit
def test_a_framework_the_exercise_accepts_but_the_grading_machine_lacks_is_not_the_students_fault(tmp_path,
                                                                                                 monkeypatch):
    """A PyTorch program for an exercise that accepts PyTorch, graded where keras-grader[torch] is not installed:
    not graded (the machine's fault, with what to install), never a zero. Where the exercise does not accept the
    framework, or the module is installed after all, the error stays the student's."""
    from grader import jobs
    from grader.run.host.runner import RunOutcome

    script = tmp_path / "mnist_dense.py"
    script.write_text("import torch\n")

    def outcome(stderr: str) -> RunOutcome:
        return RunOutcome(returncode=1, timed_out=False, seconds=0.1, artifacts=tmp_path, stdout="", stderr=stderr,
                          isolation=sandbox.detect())

    # this machine may have torch: a framework module it surely lacks stands in for it
    torch = frameworks.TABLE["torch"]
    monkeypatch.setitem(frameworks.TABLE, "torch", replace(torch, modules=("kg_absent_framework",)))
    missing = outcome("Traceback (most recent call last):\nModuleNotFoundError: No module named 'kg_absent_framework'\n")
    fault = jobs.run_fault(missing, script, ("keras", "torch"))
    assert fault and "pip install 'keras-grader[torch]'" in fault.en and "instale o extra" in fault.pt
    assert jobs.run_fault(missing, script, ("keras",)) is None  # the exercise asks for Keras: the student's error
    monkeypatch.setitem(frameworks.TABLE, "torch", replace(torch, modules=("json",)))  # installed: the student's trick
    assert jobs.run_fault(outcome("ModuleNotFoundError: No module named 'json'\n"), script, ("keras", "torch")) is None


@pytest.mark.unit
def test_gradescope_feedback_and_tables_give_a_grader_fault_no_zero():
    from grader.report import feedback, gradescope, tables

    ok = {"student": "ana", "exercise": "abc_skin", "status": "ok", "score": 7.0, "max_score": 10.0,
          "checks": [{"name": "runs", "status": "pass", "points": 7.0, "max_points": 10.0, "message": "ran"}]}
    fault = {"student": "ana", "exercise": "mnist_dense", "status": "grader_error", "score": None, "max_score": 10.0,
             "checks": [], "error": "not graded: the evaluator could not start", "error_pt": "não avaliado: ..."}
    doc = gradescope.results_json([ok, fault], "pt")
    assert doc["score"] == 7.0
    test = next(t for t in doc["tests"] if t["name"].startswith("mnist_dense"))
    assert "score" not in test and "max_score" not in test and "não avaliado (falha do corretor)" in test["name"]
    assert "**Total: 7 / 10 pontos**" in feedback.render("ana", [ok, fault], "pt")
    row = tables.scores_frame([ok, fault]).iloc[0]
    assert row["total"] == 7.0 and row["max_total"] == 10.0 and row["mnist_dense_score"] != row["mnist_dense_score"]
