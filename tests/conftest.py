"""Shared fixtures: the real data cache, one evaluator worker, and a helper that grades source text.

Nothing here mocks Keras, the data or the sandbox: every grading test runs a real
child process that trains a real (small) model on the real data set.

The tests that train nothing are marked ``unit`` (``python -m pytest -m unit``, the fast tier); the guard
below fails any of them that starts to train.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from grader import data, exercise
from grader.evaluation.client import Evaluator
from grader.jobs import Options, grade
from grader.run.host import sandbox

# --- the fast tier: a test marked unit trains nothing -----------------------------------------------------------
#
# An audit hook (PEP 578, as the sandbox's own) watches this process while a unit test sets up and runs, and stops
# what only training needs: importing a framework that trains (seconds before any training), or starting a student's
# program or the evaluator (sandboxed children that import Keras and train or predict). It is exact where a timeout
# is not: a unit test may take seconds for a reason of its own (comparing a class of 100 submissions), and a loaded
# machine makes any time limit flaky. It sees this process only: a unit test must not run `grade run` or `grade all`
# as a subprocess on a program that gets as far as running (a usage error stopped before any job is fine).

#: The frameworks a student's program trains with; nothing the grader does outside its children imports them.
TRAINING_FRAMEWORKS = frozenset({"keras", "tensorflow", "torch", "jax"})
#: The children that run a submission and evaluate what it left, whatever the isolation level wraps them in.
GRADING_CHILDREN = ("grader.run.child.main", "grader.evaluation.worker")

_unit_test_did: list[str] | None = None  # while a unit test sets up or runs: what it did that the tier forbids


class UnitTestTrains(RuntimeError):
    """A test marked unit imported a framework or started a grading child: it belongs to the full suite."""


def _watch_unit_test(event: str, args: tuple) -> None:
    did = _unit_test_did
    if did is None or event not in ("import", "subprocess.Popen"):
        return
    if event == "import":
        what = f"imported {args[0]}" if args[0].partition(".")[0] in TRAINING_FRAMEWORKS else None
    else:
        argv = args[1] if isinstance(args[1], (list, tuple)) else [args[1]]
        command = " ".join(map(os.fsdecode, argv))
        what = next((f"started {child} ({command[:200]})" for child in GRADING_CHILDREN if child in command), None)
    if what:
        did.append(what)
        # raised too, to stop the training before it costs minutes; recorded because the grader may catch it
        raise UnitTestTrains(f"a test marked unit {what}")


sys.addaudithook(_watch_unit_test)


@contextlib.contextmanager
def _trains_nothing(item: pytest.Item):
    global _unit_test_did
    if item.get_closest_marker("unit") is None:
        yield
        return
    _unit_test_did = did = []
    try:
        yield
    except BaseException:
        if not did:
            raise
        # else what the hook raised, or what the grader made of it: said below, with what to do
    finally:
        _unit_test_did = None
    if did:
        pytest.fail(f"{item.nodeid} is marked unit but {did[0]}: the unit tier trains nothing. Remove its unit "
                    "mark (it belongs to the full suite), or keep the training out of it.", pytrace=False)


# Hooks rather than a fixture: the session fixtures a test asks for (`evaluator`, `graded_class`) are set up
# before any fixture of its own, and must be watched too.
@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    with _trains_nothing(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    with _trains_nothing(item):
        return (yield)


@pytest.fixture(scope="session")
def mnist() -> dict[str, np.ndarray]:
    return data.load_images("mnist")


@pytest.fixture(scope="session")
def evaluator():
    with Evaluator() as ev:
        yield ev


@pytest.fixture(scope="session")
def mnist_dense() -> exercise.Exercise:
    return exercise.load("mnist_dense")


@pytest.fixture
def grade_source(tmp_path: Path, evaluator: Evaluator, mnist_dense: exercise.Exercise):
    """Grade a submission given as source text (or bytes); returns the result dict."""

    def run(source: str | bytes, *, exercise_id: str = "mnist_dense", student: str = "s", **options):
        path = tmp_path / student / f"{exercise_id}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, bytes):
            path.write_bytes(source)
        else:
            path.write_text(textwrap.dedent(source))
        ex = mnist_dense if exercise_id == "mnist_dense" else exercise.load(exercise_id)
        return grade(student, ex, path, evaluator, Options(**options))

    return run


class LoopbackServer:
    """A server on the host's 127.0.0.1, outside any sandbox, that counts the connections it accepts."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.server.settimeout(0.1)  # the thread looks for the stop flag this often
        self.port = self.server.getsockname()[1]
        self.accepted: list[object] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                self.accepted.append(self.server.accept())
            except TimeoutError:
                continue
            except OSError:
                return

    def connections(self) -> list[object]:
        """Stop serving and return the connections accepted, those still in the backlog included."""
        if self.stop.is_set():
            return self.accepted
        self.stop.set()
        self.thread.join(timeout=5)
        self.server.setblocking(False)
        try:  # one that arrived as the thread stopped
            self.accepted.append(self.server.accept())
        except OSError:
            pass
        self.server.close()
        return self.accepted


@pytest.fixture
def loopback_server():
    server = LoopbackServer()
    yield server
    server.connections()


def check(result: dict, name: str) -> dict:
    """The named check of a result (fails the test if it is absent)."""
    found = [c for c in result["checks"] if c["name"] == name]
    assert found, f"no check {name!r} in {[c['name'] for c in result['checks']]}"
    return found[0]


#: The slice of the demo class that `graded_class` grades: passes, a convolutional net, a Keras 1 crash,
#: Keras 2 idioms graded as Keras 2 ran them (gabriel, with OpenCV),
#: a Colab export (test set as validation data, an overstated error), a weight-only abc net, a Colab
#: notebook with a figure, and missing submissions. (fashion_mnist would add 30 s for one more figure.)
GRADED_CLASS_EXERCISES = ("abc_skin", "mnist_dense")


@pytest.fixture(scope="session")
def graded_class(tmp_path_factory) -> Path:
    """`grade all examples/class --quick` on three exercises, run once as a user runs it.

    Returns the output folder (results/ and reports/). Every report test reads these real results.
    """
    import subprocess
    import sys

    from grader.config import course_root

    out = tmp_path_factory.mktemp("graded-class")
    args = [sys.executable, "-m", "grader.cli", "all", str(course_root() / "examples" / "class"), "--quick",
            "--lang", "pt", "--out", str(out)]
    for ex in GRADED_CLASS_EXERCISES:
        args += ["--exercise", ex]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (out / "grade-all.log").write_text(proc.stdout + proc.stderr)
    return out


@pytest.fixture(params=sandbox.LEVELS)
def level(request, monkeypatch):
    """Each isolation level this machine can build, forced for the test (CI, which installs both, fails instead
    of skipping one it cannot build)."""
    if not sandbox.works(request.param):
        message = f"isolation level {request.param} cannot be built on this machine"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    monkeypatch.setenv(sandbox.FORCE_ENV, request.param)
    return request.param
