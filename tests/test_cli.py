"""The `grade` command as a user runs it: fast help, clear errors, JSON output, resumable `grade all`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

TINY = """
from tensorflow import keras
(AX, AY), (QX, QY) = keras.datasets.mnist.load_data()
model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(AX[:1000] / 255.0, AY[:1000], epochs=1, verbose=0)
loss, acc = model.evaluate(QX / 255.0, QY, verbose=0)
print("Test error: %.2f %%" % (100 * (1 - acc)))
"""


def grade(*args: str, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader.cli", *args], capture_output=True, text=True,
                          timeout=timeout, **kw)


@pytest.mark.unit
def test_help_is_instant_and_imports_no_keras():
    code = ("import sys, time; t = time.time(); import grader.cli as c; c.build_parser().format_help(); "
            "assert not any(m.split('.')[0] in ('keras', 'tensorflow', 'pandas') for m in sys.modules), "
            "sorted(m for m in sys.modules if m.split('.')[0] in ('keras', 'tensorflow', 'pandas')); "
            "print(time.time() - t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(out.stdout) < 1.0
    assert grade("--help").returncode == 0


@pytest.mark.unit
def test_user_errors_say_what_to_do(tmp_path):
    r = grade("run", "mnist_dnse", str(tmp_path))
    assert r.returncode == 2 and "unknown exercise 'mnist_dnse'" in r.stderr and "mnist_dense" in r.stderr
    r = grade("run", "mnist_dense", str(tmp_path / "nope.py"))
    assert r.returncode == 2 and "does not exist" in r.stderr
    r = grade("run", "mnist_dense", str(tmp_path))
    assert r.returncode == 2 and "name the file after the exercise" in r.stderr
    r = grade("all", str(tmp_path))
    assert r.returncode == 2 and "no student folders" in r.stderr


def test_run_json_on_a_student_repository(tmp_path):
    (tmp_path / "mnist_dense.py").write_text(TINY)
    r = grade("run", "mnist_dense", str(tmp_path), "--quick", "--json")
    result = json.loads(r.stdout)
    assert result["exercise"] == "mnist_dense" and result["quick"] is True
    assert {c["name"] for c in result["checks"]} >= {"runs", "dense_only", "threshold", "honest_claim"}
    assert r.returncode == (0 if result["status"] in ("ok", "partial") else 1)
    (tmp_path / "broken").mkdir()  # the table, on a program that stops at once (no training to wait for)
    (tmp_path / "broken" / "mnist_dense.py").write_text("import keras\nkeras.layers.Dense(4, init='uniform')\n")
    table = grade("run", str(tmp_path / "broken" / "mnist_dense.py"), "--quick", "--lang", "en")
    assert table.returncode == 1 and "dense_only" in table.stdout and "quick mode" in table.stdout
    assert "Hint: init= is Keras 1" in table.stdout


def test_grade_all_killed_mid_run_resumes_without_rerunning_finished_jobs(tmp_path):
    klass, out = tmp_path / "class", tmp_path / "out"
    for student in ("ana", "bia", "caio"):
        (klass / student).mkdir(parents=True)
        (klass / student / "mnist_dense.py").write_text(TINY + f"# {student}\n")
    (klass / "duda").mkdir()  # submitted nothing
    hostile = {"xena": "import os, signal\nos.killpg(os.getpgid(os.getppid()), signal.SIGKILL)\n",
               "zeca": "def oops(:\n"}
    for student, source in hostile.items():
        (klass / student).mkdir()
        (klass / student / "mnist_dense.py").write_text(source)
    args = [sys.executable, "-m", "grader.cli", "all", str(klass), "--out", str(out), "--quick"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    results = out / "results"
    deadline = time.monotonic() + 300
    while not list(results.glob("*/*.json")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = {p: json.loads(p.read_text())["finished_at"] for p in results.glob("*/*.json")}
    assert first, "no result was written before the kill"

    r = grade("all", str(klass), "--out", str(out), "--quick")
    assert r.returncode == 0, r.stderr
    after = {p: json.loads(p.read_text()) for p in results.glob("*/*.json")}
    assert {p.parent.name for p in after} == {"ana", "bia", "caio", "duda", "xena", "zeca"}
    for p, finished in first.items():
        assert after[p]["finished_at"] == finished, f"{p} was graded twice"
    assert after[results / "duda" / "mnist_dense.json"]["status"] == "missing"

    scores = pd.read_csv(out / "reports" / "scores.csv")
    assert list(scores["student"]) == ["ana", "bia", "caio", "duda", "xena", "zeca"]
    assert set(scores["mnist_dense_status"][:3]) <= {"ok", "partial", "failed"}
    assert list(scores["mnist_dense_status"][3:]) == ["missing", "error", "error"]  # xena: the kill is refused
    details = pd.read_csv(out / "reports" / "details.csv")
    assert {"runs", "dense_only", "threshold"} <= set(details["check"])
    assert "reports (" in r.stdout and "report.html" in r.stdout

    again = grade("all", str(klass), "--out", str(out), "--quick")  # nothing changed: nothing re-run
    assert again.returncode == 0
    assert {p: json.loads(p.read_text())["finished_at"] for p in results.glob("*/*.json")} == \
        {p: r["finished_at"] for p, r in after.items()}


ROOT = Path(__file__).resolve().parents[1]


def _cold_env(tmp_path, registry: bool = True) -> dict[str, str]:
    """A new user's machine: a data cache folder that does not exist yet and no Keras cache; without ``registry``,
    pip reaches no package index either (the data set then cannot be had)."""
    env = {**os.environ, "KERAS_GRADER_CACHE": str(tmp_path / "new" / "cache"), "KERAS_HOME": str(tmp_path / "kh")}
    if not registry:
        (tmp_path / "no-wheels").mkdir(exist_ok=True)
        env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(tmp_path / "no-wheels"), PIP_CONFIG_FILE=os.devnull)
    return env


def test_a_cold_data_cache_is_filled_before_the_first_job(tmp_path):
    """The sandboxed evaluator sees only folders that exist when it starts: the cache is filled before it does."""
    env = _cold_env(tmp_path)
    r = grade("run", str(ROOT / "examples" / "class" / "eva" / "noisynote.py"), "--quick", "--json",
              "--lang", "en", env=env)
    result = json.loads(r.stdout)
    assert result["status"] not in ("grader_error", "error"), result.get("error")
    assert (tmp_path / "new" / "cache" / "noisynote").is_dir()
    assert "isolation: " in r.stderr, r.stderr  # which level, and why that one


def test_a_data_set_that_cannot_be_had_is_said_once_and_the_other_jobs_are_graded(tmp_path):
    klass, out = tmp_path / "class", tmp_path / "out"
    for student in ("ana", "bia"):
        (klass / student).mkdir(parents=True)
        (klass / student / "noisynote.py").write_text("print('never run')\n")
    (klass / "ana" / "abc_skin.py").write_text((ROOT / "examples" / "class" / "alice" / "abc_skin.py").read_text())
    r = grade("all", str(klass), "--out", str(out), "--quick", "--lang", "en", env=_cold_env(tmp_path, registry=False))
    assert r.returncode == 3, r.stderr  # not every job was graded: a script or a cron job can tell
    assert r.stderr.count("could not be put in the grader's data cache") == 1, r.stderr
    assert "not graded (no data): ana/noisynote, bia/noisynote" in r.stderr
    scores = pd.read_csv(out / "reports" / "scores.csv").set_index("student")
    assert scores.loc["ana", "abc_skin_status"] in ("ok", "partial")  # needs no data set: graded all the same
    assert list(scores["noisynote_status"]) == ["grader_error", "grader_error"]
    assert "grader_error" in r.stdout and "…" not in r.stdout  # a log gets every word of the table, none cut
    alone = grade("run", str(klass / "bia" / "noisynote.py"), "--quick", env=_cold_env(tmp_path, registry=False))
    assert alone.returncode == 3 and "grade data fetch" in alone.stdout + alone.stderr


@pytest.mark.unit
def test_ci_template_and_release_say_when_the_grader_spec_is_still_the_example(tmp_path):
    example = grade("ci-template", "--lang", "en")
    assert example.returncode == 0 and "where no course has published it" in example.stderr
    assert "[ci] grader_spec" in example.stderr and "grade run" in example.stdout
    assert grade("ci-template", "--grader-spec", "keras-grader==0.1.0").stderr == ""
    released = grade("release", str(tmp_path / "repo"), "--lang", "pt")
    assert released.returncode == 0 and "onde nenhuma disciplina o publicou" in released.stderr
