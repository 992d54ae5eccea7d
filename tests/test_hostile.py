"""The hostile corpus: real submissions that attack the grader. Each must be contained.

Every case asserts the verdict, that the grader survived (this test process is the
grader), and, where the attack aims at them, that files outside the job are intact.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import pytest

from conftest import check
from grader.jobs import Options, grade
from grader.run import sandbox

ROOT = Path(__file__).resolve().parents[1]

needs_bwrap = pytest.mark.skipif(
    sandbox.detect() != "bwrap" and not os.environ.get("CI"),
    reason="bubblewrap is not installed (apt-get install bubblewrap); CI installs it and runs these")


def _procs_with(marker: str) -> list[int]:
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if marker.encode() in (d / "cmdline").read_bytes():
                    found.append(int(d.name))
            except OSError:
                pass
    return found


def test_memory_bomb_is_stopped_by_the_watchdog(grade_source):
    t0 = time.monotonic()
    result = grade_source("""
        import numpy as np
        hog = []
        while True:
            hog.append(np.ones(2**27))  # 1 GiB, touched
    """, limits={"memory_mb": 1500})
    assert result["status"] == "resource_limit" and "memory" in result["error"]
    assert check(result, "runs")["status"] == "fail"
    assert time.monotonic() - t0 < 60


@needs_bwrap
def test_process_bomb_and_daemon_are_stopped_and_leave_nothing(grade_source):
    marker = f"kg-bomb-{uuid.uuid4().hex[:8]}"
    result = grade_source(f"""
        import subprocess, time
        subprocess.Popen(["sh", "-c", "exec sleep 300 # {marker}"], start_new_session=True)  # a daemon
        for i in range(400):
            subprocess.Popen(["sh", "-c", "exec sleep 300 # {marker}"])
        time.sleep(60)
    """, limits={"max_processes": 100})
    assert result["status"] == "resource_limit" and "processes" in result["error"]
    time.sleep(0.5)
    assert _procs_with(marker) == []


@needs_bwrap
def test_daemon_forked_by_a_script_that_ends_normally_is_gone(grade_source):
    marker = f"kg-daemon-{uuid.uuid4().hex[:8]}"
    result = grade_source(f"""
        import os, subprocess
        if os.fork() == 0:
            os.setsid()
            subprocess.Popen(["sh", "-c", "exec sleep 300 # {marker}"])
            os._exit(0)
        print("parent done")
    """)
    assert "ran to the end but never trained a model" in check(result, "runs")["message"]
    time.sleep(0.5)
    assert _procs_with(marker) == []


@needs_bwrap
def test_solutions_other_students_and_grader_home_are_invisible(grade_source, tmp_path):
    other = tmp_path / "class" / "bob" / "mnist_dense.py"
    other.parent.mkdir(parents=True)
    other.write_text("# bob's work: erro de teste 1,3 %\n")
    secret = Path.home() / f".kg-secret-{uuid.uuid4().hex[:8]}"
    secret.write_text("hunter2")
    targets = [ROOT / "solutions/mnist_dense/solution.py", other, secret]
    try:
        result = grade_source(f"""
            import os
            for target in {[str(t) for t in targets]!r}:
                for path in (target, os.path.relpath(target)):
                    try:
                        print("READ", path, open(path).read()[:20])
                    except OSError as e:
                        print("HIDDEN", type(e).__name__)
        """, student="eve", hidden=(tmp_path / "class",))
    finally:
        secret.unlink()
    out = result["stdout_tail"]
    assert "READ" not in out and out.count("HIDDEN") == 6, out


@needs_bwrap
def test_forged_result_and_deletions_outside_the_work_dir_fail(tmp_path, evaluator, mnist_dense):
    results_dir = tmp_path / "results"
    forged = results_dir / "mallory" / "mnist_dense.json"
    sentinel = Path("/var/tmp") / f"kg-sentinel-{uuid.uuid4().hex[:8]}"
    sentinel.write_text("keep me")
    sub = tmp_path / "class" / "mallory" / "mnist_dense.py"
    sub.parent.mkdir(parents=True)
    sub.write_text(f"""
import json, os, shutil
for attempt in (
    lambda: (os.makedirs({str(forged.parent)!r}, exist_ok=True),
             json.dump({{"status": "ok", "score": 10}}, open({str(forged)!r}, "w"))),
    lambda: os.remove({str(sentinel)!r}),
    lambda: shutil.rmtree({str(ROOT / "assignments")!r}),
    lambda: open("/etc/keras-grader-was-here", "w"),
):
    try:
        attempt()
        print("DID IT")
    except OSError as e:
        print("REFUSED", type(e).__name__)
""")
    try:
        result = grade("mallory", mnist_dense, sub, evaluator,
                       Options(results_dir=results_dir, hidden=(tmp_path / "class",)))
        assert sentinel.read_text() == "keep me"
    finally:
        sentinel.unlink(missing_ok=True)
    assert (ROOT / "assignments/mnist_dense/exercise.toml").is_file()
    assert not Path("/etc/keras-grader-was-here").exists()
    stored = json.loads(forged.read_text())
    assert stored["status"] == result["status"] != "ok" and stored["score"] == result["score"] < 10
    out = result["stdout_tail"]
    # the forged write lands in a throw-away tmpfs over the results folder, the rest is refused
    assert out.count("REFUSED") >= 3 and "DID IT" not in out.split("\n", 1)[1], out


@needs_bwrap
def test_killing_the_parent_group_or_pid_one_cannot_touch_the_grader(grade_source):
    result = grade_source("""
        import os, signal
        for target in (lambda: os.killpg(os.getpgid(os.getppid()), signal.SIGKILL),
                       lambda: os.kill(os.getppid(), signal.SIGKILL),
                       lambda: os.kill(-1, signal.SIGKILL)):
            try:
                target()
            except OSError as e:
                print("REFUSED", e)
        print("still here")
    """)
    assert result["status"] in ("failed", "error")  # no model; the grader is alive to say so


def test_two_hundred_megabytes_of_output_are_cut(grade_source, tmp_path):
    t0 = time.monotonic()
    result = grade_source("""
        import sys
        line = "x" * 999 + "\\n"
        for i in range(200_000):
            sys.stdout.write(line)
        print("Test error: 1.50 %")
        sys.stdout.flush()
        os_close = __import__("os").close
        os_close(1); os_close(2)  # and then close its pipes
        print("unseen")
    """, limits={"output_bytes": 2**20}, keep_dir=tmp_path / "kept")
    assert result["status"] in ("failed", "error")
    kept = (tmp_path / "kept" / "s" / "mnist_dense" / "stdout.txt").read_bytes()
    assert len(kept) < 2**20 + 100 and b"bytes cut by the grader" in kept
    assert result["stdout_tail"].rstrip().endswith("Test error: 1.50 %")
    assert time.monotonic() - t0 < 120


def test_a_two_gigabyte_file_trips_the_disk_limit(grade_source):
    result = grade_source("""
        import time
        with open("graded.keras", "wb") as f:
            f.truncate(3 * 2**30)
        time.sleep(30)
    """, limits={"disk_mb": 2048})
    assert result["status"] == "resource_limit" and "disk" in result["error"]


def test_secrets_are_scrubbed_from_the_environment(grade_source, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret")
    monkeypatch.setenv("MY_API_KEY", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "a")
    monkeypatch.setenv("TF_SECRET_TOKEN", "t")
    result = grade_source("import os\nprint(sorted(os.environ))\nprint([v for v in os.environ.values() if 'secret' in v])\n")
    out = result["stdout_tail"]
    for name in ("GITHUB_TOKEN", "MY_API_KEY", "AWS_SECRET_ACCESS_KEY", "TF_SECRET_TOKEN", "ghp_secret"):
        assert name not in out


def test_exit_before_training(grade_source):
    result = grade_source("import sys\nimport keras\nsys.exit(0)\nkeras.Sequential().fit()\n")
    runs = check(result, "runs")  # exiting normally is not enough: the exercise's work is a trained model
    assert runs["status"] == "fail" and runs["points"] == 0
    assert "ran to the end but never trained a model" in runs["message"]
    assert result["status"] == "failed" and result["score"] == 0
    assert check(result, "threshold")["message"] == "not reached: the program never trained a model"


@needs_bwrap
def test_a_grader_checkout_under_tmp_is_visible_inside_the_sandbox(tmp_path, monkeypatch):
    """CI clones the project into a temporary folder: the private /tmp must not hide the grader."""
    import shutil
    import subprocess
    import sys

    copy = tmp_path / "checkout"
    shutil.copytree(ROOT / "grader", copy / "grader")
    monkeypatch.setattr(sandbox, "PACKAGE_DIR", copy / "grader")
    cmd = sandbox.wrap([sys.executable, "-S", "-c", "import grader; print(grader.__file__)"], isolation="bwrap",
                       writable=[], readable=[], hidden=[copy / "grader" / "exercises"])
    out = subprocess.run(cmd, env={**os.environ, "PYTHONPATH": str(copy)}, capture_output=True, text=True, cwd="/")
    assert out.stdout.strip() == str(copy / "grader" / "__init__.py"), out.stderr


def test_planted_artifacts_are_not_copied_into_the_reports(tmp_path, evaluator, mnist_dense):
    """The student's process can write its artifacts folder: a symlink to a secret, a huge file or a
    folder named like a figure must not reach the results or the feedback beside them."""
    secret = tmp_path / "secret.txt"
    secret.write_text("instructor's secret")
    sub = tmp_path / "mallory" / "mnist_dense.py"
    sub.parent.mkdir()
    sub.write_text(f"""
import os
art = os.path.dirname(os.environ["KERAS_GRADER_DOWNLOADS"])
os.symlink({str(secret)!r}, os.path.join(art, "fig7.png"))
with open(os.path.join(art, "fig8.png"), "wb") as f:
    f.truncate(6 * 2**20)
os.mkdir(os.path.join(art, "executed.ipynb"))
with open(os.path.join(art, "fig9.png"), "wb") as f:
    f.write(b"not really a png")
with open(os.path.join(art, "notes.txt"), "w") as f:
    f.write("not a figure")
""")
    results_dir = tmp_path / "results"
    result = grade("mallory", mnist_dense, sub, evaluator, Options(quick=True, results_dir=results_dir))
    kept = results_dir / "mallory" / "mnist_dense"
    assert result["artifacts"] == ["fig9.png"]
    assert sorted(p.name for p in kept.iterdir()) == ["fig9.png"] and not (kept / "fig9.png").is_symlink()
