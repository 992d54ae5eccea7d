"""What students get: `grade release`, its CI workflow run for real, and the feedback of `grade run`.

The workflow test runs the workflow's own `run:` commands, in order, in a released repository
with the environment GitHub gives them (GITHUB_STEP_SUMMARY, GITHUB_WORKSPACE, CI and the
workflow's `env`). Two steps are read, not run, since they would change this machine: the
sandbox step (sudo apt-get / sysctl) and the pip install of the grader (already installed here).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from grader.config import course_root

NOT_RUN_HERE = ("Sandbox", "Install the grader")


def grade(*args: str, cwd: Path | None = None, timeout: float = 600, env: dict | None = None):
    return subprocess.run([sys.executable, "-m", "grader.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env)


def significant_lines(path: Path) -> set[str]:
    """The lines of a file that carry content (not blank, not a bare import, not short)."""
    out = set()
    for line in path.read_text().splitlines():
        s = line.strip()
        if len(s) >= 30 and not s.startswith(("import ", "from ", "#")):
            out.add(s)
    return out


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("student") / "repo"
    r = grade("release", str(out), "--grader-spec", "keras-grader==0.1.0")
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.unit
def test_release_holds_statements_starters_workflow_and_no_solution(release):
    root = course_root()
    ids = sorted(p.name for p in (root / "assignments").iterdir() if (p / "exercise.toml").is_file())
    for ex in ids:
        assert (release / f"{ex}.py").read_text() == (root / "assignments" / ex / "starter.py").read_text()
        assert (release / "assignments" / ex / "README.md").is_file()
    assert (release / ".github" / "workflows" / "feedback.yml").is_file() and (release / "course.toml").is_file()
    assert "grade run" in (release / "README.md").read_text()
    released = [p for p in release.rglob("*") if p.is_file()]
    assert not any("solution" in p.name for p in released)
    starters = set().union(*(significant_lines(root / "assignments" / ex / "starter.py") for ex in ids))
    for solution in (root / "solutions").rglob("*.py"):
        secret = significant_lines(solution) - starters
        assert secret, f"{solution} has no line of its own to look for"
        for path in released:
            leaked = secret & {line.strip() for line in path.read_text(errors="replace").splitlines()}
            assert not leaked, f"{path} holds lines of {solution}: {sorted(leaked)[:3]}"


@pytest.mark.unit
def test_release_refuses_a_folder_that_is_not_empty(release):
    r = grade("release", str(release))
    assert r.returncode == 2 and "is not empty" in r.stderr


@pytest.mark.unit
def test_ci_template_is_the_released_workflow(release):
    r = grade("ci-template", "--grader-spec", "keras-grader==0.1.0")
    assert r.returncode == 0 and r.stdout == (release / ".github" / "workflows" / "feedback.yml").read_text()


PASSING = """\
# mnist_dense: rede de uma camada densa, treino curto. Erro de teste: 9,80 %
from tensorflow import keras
(AX, AY), (QX, QY) = keras.datasets.mnist.load_data()
model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(AX[:2000] / 255.0, AY[:2000], epochs=20, verbose=0)  # CI's quick mode trains 1 of them: not graded
print("test accuracy", model.evaluate(QX / 255.0, QY, verbose=0)[1])
"""

TO_CATEGORICAL = """\
import keras
(AX, AY), (QX, QY) = keras.datasets.mnist.load_data()
AX, QX = AX.reshape(-1, 784) / 255.0, QX.reshape(-1, 784) / 255.0
AY1 = keras.utils.to_categorical(AY, 10)
model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(32, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(AX[:2000], AY[:2000], epochs=1, verbose=0)
print(model.evaluate(QX, QY, verbose=0))
"""


def test_the_workflow_gives_feedback_in_the_summary_annotations_and_exit_code(release, tmp_path):
    workflow = yaml.safe_load((release / ".github" / "workflows" / "feedback.yml").read_text())
    job = workflow["jobs"]["feedback"]
    assert job["runs-on"] == "ubuntu-latest" and job["env"]["GRADER_SPEC"] == "keras-grader==0.1.0"
    uses = [s["uses"].split("@")[0] for s in job["steps"] if "uses" in s]
    assert uses == ["actions/checkout", "actions/setup-python", "actions/cache"]
    cache = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/cache"))
    assert "~/.cache/keras-grader" in cache["with"]["path"] and "~/.cache/pip" in cache["with"]["path"]
    steps = [s for s in job["steps"] if "run" in s]
    assert [s["name"].startswith(name) for s, name in zip(steps, NOT_RUN_HERE)] == [True, True]
    assert 'pip install -q "$GRADER_SPEC"' in steps[1]["run"] and "bubblewrap" in steps[0]["run"]

    # the student's work: one exercise done, one with to_categorical left in (line 4), the rest not started
    for starter in release.glob("*.py"):
        starter.unlink()
    (release / "mnist_dense.py").write_text(PASSING)
    (release / "sparse_cce.py").write_text(TO_CATEGORICAL)
    summary = tmp_path / "summary.md"
    env = {**os.environ, **{k: str(v) for k, v in job["env"].items()}, "CI": "true",
           "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(release), "GITHUB_STEP_SUMMARY": str(summary)}
    env.pop("KERAS_GRADER_COURSE", None)
    outputs = []
    for step in steps[len(NOT_RUN_HERE):]:
        proc = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=release, env=env, capture_output=True,
                              text=True, timeout=600)
        outputs.append(proc)
    fetch, run = outputs
    assert fetch.returncode == 0, fetch.stderr
    assert run.returncode == 1, run.stdout + run.stderr  # a failed check fails the job

    errors = [line for line in run.stdout.splitlines() if line.startswith("::error ")]
    assert any(re.match(r"::error file=sparse_cce\.py,line=4,title=sparse_cce%3A .*::.*to_categorical", e)
               for e in errors), run.stdout
    assert not any("mnist_dense" in e for e in errors), errors
    page = summary.read_text()
    assert page.startswith("# Retorno — repo")  # course.toml: lang pt
    assert "| mnist_dense |" in page and "| sparse_cce |" in page
    assert "to_categorical" in page and "não entregue" in page  # abc_skin and the others


def test_gradescope_format_writes_results_json_and_exits_zero(tmp_path):
    (tmp_path / "mnist_dense.py").write_text("def oops(:\n")
    out = tmp_path / "results" / "results.json"
    r = grade("run", str(tmp_path), "--format", "gradescope", "--output", str(out), "--lang", "en")
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    runs = next(t for t in doc["tests"] if t["name"].startswith("mnist_dense"))
    assert doc["score"] == 0 and runs["status"] == "failed" and "SyntaxError at line 1" in runs["output"]
    assert {t["name"] for t in doc["tests"]} >= {"abc_skin: not submitted", "sparse_cce: not submitted"}


@pytest.mark.unit
def test_run_explains_a_file_not_named_after_an_exercise(tmp_path):
    (tmp_path / "trabalho.py").write_text(textwrap.dedent(PASSING))
    r = grade("run", str(tmp_path / "trabalho.py"))
    assert r.returncode == 2 and "cannot tell which exercise trabalho.py is" in r.stderr
