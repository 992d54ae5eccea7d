"""The hostile corpus: real submissions that attack the grader. Each must be contained.

Each attack runs at every isolation level this machine can build (``level``: bwrap, the
util-linux level); ``none`` is only tested for its refusal and with harmless code, never with a
program that kills. Every case asserts the verdict, that the grader survived (this test process
is the grader, except for the killers, graded by a separate process), and, where the attack aims
at them, that files outside the job are intact.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import check

from grader import cli, exercise
from grader.errors import SandboxUnavailable
from grader.jobs import Options, grade
from grader.report.html import find_flags
from grader.run.host import cgroup, sandbox
from grader.run.host.runner import Limits, run_submission

ROOT = Path(__file__).resolve().parents[1]


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


def _limit_enforcer() -> str:
    """What enforces memory and process limits here: the kernel (a job cgroup) or the polling watchdog."""
    group = cgroup.create(2**30, 10)
    if group is None:
        return "watchdog"
    group.close()
    return "cgroup"


def test_memory_bomb_is_stopped_by_the_memory_limit(grade_source, level):
    t0 = time.monotonic()
    result = grade_source("""
        import numpy as np
        hog = []
        while True:
            hog.append(np.ones(2**27))  # 1 GiB, every byte written
    """, limits={"memory_mb": 1500})
    assert result["status"] == "resource_limit" and "memory" in result["error"], result["error"]
    assert result["limit_hit"] == f"memory:{_limit_enforcer()}" and result["isolation"] == level
    assert check(result, "runs")["status"] == "fail"
    assert time.monotonic() - t0 < 60


def test_memory_bomb_without_cgroups_is_stopped_by_the_watchdog(grade_source, monkeypatch):
    monkeypatch.setattr(cgroup, "create", lambda *limits: None)  # a machine where cgroups cannot be written
    result = grade_source("""
        import numpy as np
        hog = []
        while True:
            hog.append(np.ones(2**26))
    """, limits={"memory_mb": 800})
    assert result["status"] == "resource_limit" and result["limit_hit"] == "memory:watchdog", result["error"]


def test_fork_bomb_is_stopped_and_leaves_nothing(grade_source, level):
    result = grade_source("""
        import os, time
        print("JOB", os.getcwd(), flush=True)
        for _ in range(12):  # 4096 processes if nothing stops it
            try:
                os.fork()
            except OSError:
                break
        time.sleep(60)
    """, limits={"max_processes": 50})
    assert result["status"] == "resource_limit" and "processes" in result["error"], result["error"]
    assert result["limit_hit"] == f"processes:{_limit_enforcer()}"
    workdir = result["stdout_tail"].split("JOB ", 1)[1].split()[0]
    time.sleep(0.5)
    assert _procs_with(workdir) == []


def test_sixty_four_sleeping_orphans_die_with_the_sandbox(grade_source, level):
    marker = f"kg-orphan-{uuid.uuid4().hex[:8]}"
    result = grade_source(f"""
        import subprocess
        for i in range(64):
            subprocess.Popen(["sh", "-c", "exec sleep 300 # {marker}"], start_new_session=True)
        print("parent done")
    """)
    assert "parent done" in result["stdout_tail"]
    assert "ran to the end but never trained a model" in check(result, "runs")["message"]
    time.sleep(0.5)
    assert _procs_with(marker) == []


KILLER = """
import os, signal
def attempt(name, send):
    try:
        send()
        print("SENT", name, flush=True)
    except OSError as e:
        print("REFUSED", name, e.errno, flush=True)
attempt("kill(-1)", lambda: os.kill(-1, signal.SIGKILL))
attempt("kill(parent)", lambda: os.kill(os.getppid(), signal.SIGKILL))
print("still here", flush=True)
attempt("killpg(parent's group)", lambda: os.killpg(os.getpgid(os.getppid()), signal.SIGKILL))
"""
GRADER = """
import json, sys
from pathlib import Path
from grader.run.host.runner import Limits, run_submission
jobdir = Path(sys.argv[1])
out = run_submission(jobdir / "mnist_dense.py", filename="mnist_dense.py", jobdir=jobdir / "job", dataset="mnist",
                     workdir_data=[], quick_epochs=1, seed=None, limits=Limits(wall_s=60))
print(json.dumps({"returncode": out.returncode, "stdout": out.stdout, "isolation": out.isolation}))
"""


def test_killing_the_parent_group_or_every_process_cannot_touch_the_grader(tmp_path, level):
    """kill(-1) as root and killpg of the grader's group: contained by the PID namespace and the nobody user.

    The grader is a separate process in its own session, and canaries stand for everything else
    the grader's user runs: nothing here can reach pytest even if the sandbox failed.
    """
    (tmp_path / "mnist_dense.py").write_text(KILLER)
    canary = subprocess.Popen(["sleep", "120"], start_new_session=True)
    try:
        graded = subprocess.run([sys.executable, "-c", GRADER, str(tmp_path)], capture_output=True, text=True,
                                timeout=120, start_new_session=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert canary.poll() is None, "kill(-1) reached a process outside the sandbox"
    finally:
        canary.kill()
        canary.wait()
    assert graded.returncode == 0, f"the grader was killed: {graded.returncode} {graded.stderr[-2000:]}"
    outcome = json.loads(graded.stdout.splitlines()[-1])
    assert outcome["isolation"] == level and "still here" in outcome["stdout"], outcome


def test_the_host_loopback_is_unreachable_and_the_sandbox_has_its_own(grade_source, level):
    host = socket.socket()
    host.bind(("127.0.0.1", 0))
    host.listen()
    host.setblocking(False)
    try:
        result = grade_source(f"""
            import socket
            try:
                socket.create_connection(("127.0.0.1", {host.getsockname()[1]}), timeout=5)
                print("HOST REACHED")
            except OSError as e:
                print("HOST UNREACHABLE", type(e).__name__)
            own = socket.socket()
            own.bind(("127.0.0.1", 0))
            own.listen()
            socket.create_connection(own.getsockname(), timeout=5).sendall(b"x")
            print("OWN LOOPBACK", own.accept()[0].recv(1))
        """)
        with pytest.raises(BlockingIOError):
            host.accept()
    finally:
        host.close()
    out = result["stdout_tail"]
    assert "HOST UNREACHABLE" in out and "HOST REACHED" not in out and "OWN LOOPBACK b'x'" in out, out


def test_solutions_results_other_students_and_grader_home_are_invisible(grade_source, tmp_path, level):
    other = tmp_path / "class" / "bob" / "mnist_dense.py"
    other.parent.mkdir(parents=True)
    other.write_text("# bob's work: erro de teste 1,3 %\n")
    stored = tmp_path / "results" / "bob" / "mnist_dense.json"
    stored.parent.mkdir(parents=True)
    stored.write_text('{"score": 10}')
    secret = Path.home() / f".kg-secret-{uuid.uuid4().hex[:8]}"
    secret.write_text("hunter2")
    targets = [ROOT / "solutions/mnist_dense/solution.py", other, stored, secret]
    try:
        result = grade_source(f"""
            import os
            for target in {[str(t) for t in targets]!r}:
                for path in (target, os.path.relpath(target)):
                    try:
                        print("READ", path, open(path).read()[:20])
                    except OSError as e:
                        print("HIDDEN", type(e).__name__)
        """, student="eve", hidden=(tmp_path / "class",), results_dir=tmp_path / "results")
    finally:
        secret.unlink()
    out = result["stdout_tail"]
    assert "READ" not in out and out.count("HIDDEN") == 8, out


def test_forged_result_and_deletions_outside_the_work_dir_fail(tmp_path, evaluator, mnist_dense, level):
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
    assert out.count("REFUSED") == 4 and "DID IT" not in out, out


def test_a_colab_notebook_grades_the_same_at_every_level(evaluator, monkeypatch):
    """The demo class's Colab notebook: its kernel talks to the driver over the sandbox's own loopback."""
    ex = exercise.load("abc_skin")
    notebook = ROOT / "examples" / "class" / "fabio" / "abc_skin.ipynb"
    verdicts = {}
    for lv in sandbox.LEVELS:
        if sandbox.works(lv) or os.environ.get("CI"):
            monkeypatch.setenv(sandbox.FORCE_ENV, lv)
            result = grade("fabio", ex, notebook, evaluator, Options(quick=True, seed=1))
            assert result["isolation"] == lv
            verdicts[lv] = (result["status"], result["score"], [(c["name"], c["status"]) for c in result["checks"]])
    first = next(iter(verdicts.values()))
    assert first[0] == "ok" and all(v == first for v in verdicts.values()), verdicts


def test_without_a_sandbox_student_code_is_refused_unless_no_sandbox_is_given(grade_source, tmp_path, monkeypatch,
                                                                               capsys):
    """Harmless code only: at this level nothing stands between the program and pytest."""
    sub = tmp_path / "mnist_dense.py"
    sub.write_text("print('hello')\n")
    monkeypatch.setenv(sandbox.FORCE_ENV, "none")  # as on a machine where no level can be built
    assert cli.main(["run", str(sub), "--quick"]) == 2
    err = capsys.readouterr().err
    assert "apt-get install bubblewrap" in err and "--no-sandbox" in err and "Instale o bubblewrap" in err, err
    with pytest.raises(SandboxUnavailable):
        run_submission(sub, filename=sub.name, jobdir=tmp_path / "job", dataset="mnist", workdir_data=[],
                       quick_epochs=1, seed=None, limits=Limits(wall_s=60))
    assert not (tmp_path / "job" / "stdout.txt").exists()  # nothing ran

    result = grade_source("print('hello')\n", quick=True, no_sandbox=True)
    assert result["isolation"] == "none" and "hello" in result["stdout_tail"]
    assert [f.reason for f in find_flags([result])] == ["isolation: none"]


def test_a_sandbox_that_cannot_be_built_is_the_machines_fault_and_cannot_be_faked(grade_source, monkeypatch,
                                                                                    tmp_path):
    forged = grade_source("import sys\nprint('bwrap: cannot mount', file=sys.stderr)\nsys.exit(1)\n")
    assert forged["status"] == "error" and "sandbox" not in forged["error"], forged["error"]
    monkeypatch.setenv(sandbox.FORCE_ENV, "unshare")
    monkeypatch.setattr(sandbox, "works", lambda level: True)
    monkeypatch.setattr(sandbox, "JAIL", tmp_path / "jail-not-installed.py")  # a broken installation
    broken = grade_source("print('never runs')\n")
    assert broken["status"] == "grader_error" and broken["score"] is None, broken  # not graded, no zero, retried
    assert "program could not be started" in broken["error"] and "Not the student's fault" in broken["error"]
    assert "o programa do aluno não pôde ser iniciado" in broken["error_pt"] and broken["stdout_tail"] == ""


def test_a_quick_run_stops_at_the_quick_wall_clock(evaluator, mnist_dense, tmp_path):
    """CI feedback: an endless loop is stopped after [quick] wall_clock_s, not the exercise's 30 minutes."""
    assert mnist_dense.timeout(quick=True) <= 600 < mnist_dense.timeout()
    short = mnist_dense.model_copy(update={"quick": mnist_dense.quick.model_copy(update={"wall_clock_s": 3})})
    sub = tmp_path / "s" / "mnist_dense.py"
    sub.parent.mkdir()
    sub.write_text("while True:\n    pass\n")
    t0 = time.monotonic()
    result = grade("s", short, sub, evaluator, Options(quick=True))
    assert result["status"] == "timeout" and "3 s" in result["error"] and result["limit_hit"] == "wall_clock:watchdog"
    assert time.monotonic() - t0 < 30


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


@pytest.mark.parametrize("where", ["tmp", "home"])
def test_a_grader_checkout_in_tmp_or_home_is_visible_but_its_solutions_are_not(tmp_path, monkeypatch, level, where):
    """CI clones the project into a temporary folder, an instructor into their home: the private /tmp and
    the hidden home must not hide the grader, and mounting the checkout back must not show its solutions."""
    import shutil

    copy = (tmp_path if where == "tmp" else Path.home() / f".kg-test-{uuid.uuid4().hex[:8]}") / "checkout"
    try:
        shutil.copytree(ROOT / "grader", copy / "grader")
        (copy / "solutions").mkdir()
        (copy / "solutions" / "solution.py").write_text("the answer")
        monkeypatch.setattr(sandbox, "PACKAGE_DIR", copy / "grader")
        code = "import grader; print(grader.__file__); print(open('../solutions/solution.py').read())"
        cmd = sandbox.wrap([sys.executable, "-S", "-c", code], isolation=level,
                           writable=[], readable=[], hidden=[copy / "solutions"])
        out = subprocess.run(cmd, env={**os.environ, "PYTHONPATH": str(copy)}, capture_output=True, text=True,
                             cwd=copy / "grader")
    finally:
        if where == "home":
            shutil.rmtree(copy.parent)
    assert out.stdout.strip() == str(copy / "grader" / "__init__.py"), out.stderr
    assert "FileNotFoundError" in out.stderr and "the answer" not in out.stdout


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


def test_a_course_folder_holding_the_grader_is_bound_over_it_and_stays_read_only(tmp_path, level, monkeypatch):
    """The grader (or a virtual environment) inside the course folder, as after the README's `pip install -e .`
    in a checkout under /tmp or the home: the evaluator binds the course read-only over the binds of what it
    holds. The sandbox must still build, and everything in it stay read-only."""
    import shutil

    course = tmp_path / "course"
    shutil.copytree(ROOT / "grader", course / "env" / "grader")
    monkeypatch.setattr(sandbox, "PACKAGE_DIR", course / "env" / "grader")
    code = ("import grader, pathlib; print(grader.__file__); "
            "pathlib.Path(grader.__file__).with_name('planted.py').write_text('')")
    cmd = sandbox.wrap([sys.executable, "-S", "-c", code], isolation=level, writable=[], readable=[course], hidden=[])
    out = subprocess.run(cmd, env={**os.environ, "PYTHONPATH": str(course / "env")}, capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.stdout.strip() == str(course / "env" / "grader" / "__init__.py"), out.stderr
    assert "Read-only file system" in out.stderr and not (course / "env" / "grader" / "planted.py").exists()


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("bwrap") is None or shutil.which("unshare") is None,
                    reason="needs root, bubblewrap and util-linux's unshare to make bubblewrap fail to start")
def test_a_machine_whose_bubblewrap_cannot_start_falls_back_to_unshare_and_says_why():
    """As on a fresh machine: no environment switch, bubblewrap itself fails (bind-mounted to /bin/false)."""
    code = ("from grader.run.host import sandbox; lv = sandbox.detect(); "
            "print(lv, '|', sandbox.explain(lv).en, '|', sandbox.explain(lv).pt)")
    env = {k: v for k, v in os.environ.items() if k != sandbox.FORCE_ENV}
    out = subprocess.run(["unshare", "-m", "sh", "-c", 'mount --bind /bin/false "$(command -v bwrap)" && exec "$@"',
                          "sh", sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                         timeout=120, check=True).stdout
    assert out.startswith("unshare |"), out
    assert "bubblewrap cannot start here" in out and "bubblewrap não consegue iniciar aqui" in out, out


def test_a_program_killed_by_a_signal_is_run_twice_and_left_to_the_instructor(grade_source, level):
    """A crash in compiled code (here ctypes reading address 0: SIGSEGV) is not told to "exit normally": the job
    runs once more, then is an error naming the signal, the library frame and the student's line, for the
    instructor."""
    result = grade_source("import ctypes\n\n\ndef peek(address):\n    return ctypes.string_at(address)\n\n\n"
                          "peek(0)\n", quick=True)
    assert result["status"] == "error" and result["isolation"] == level, result
    crash = result["crash"]
    assert (crash["signal"], crash["line"], crash["runs"]) == ("SIGSEGV", 5, 2), crash
    assert crash["frame"].startswith("ctypes/__init__.py:") and crash["frame"].endswith("(string_at)")
    for lang, twice in (("", "in each of its 2 runs"), ("_pt", "nas suas 2 execuções")):
        assert "SIGSEGV" in result[f"error{lang}"] and crash["frame"] in result[f"error{lang}"]
        assert twice in result[f"error{lang}"] and " 5 " in result[f"error{lang}"]
    runs = check(result, "runs")
    assert "SIGSEGV" in runs["message"] and "exit normally" not in runs["message"]
    assert [f.reason for f in find_flags([result])] == ["grading error"]
