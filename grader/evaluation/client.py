"""Where the trusted evaluation runs: one long-lived, sandboxed worker process that imports Keras once.

The worker (``python -m grader.evaluation.worker``) loads students' saved models, so it runs under
the same isolation as a student's program (no network, the file system read-only but for a private
scratch folder) and speaks plain JSON over its stdin and stdout: one request per line, one answer
per line. Its stderr goes to a log file (``keras-grader-evaluator.log`` in the temp folder).

Whose fault a failed evaluation is decides the job's status (docs/results.md). A worker that cannot
start, or an exception in the grader's own evaluation code, is the grader's (``grader_error``:
not graded, retried). A worker that dies or runs out of time on a job is replaced, and a fresh
worker reads the job's model file as a plain archive, without Keras: an archive that is not a
valid Keras file is the student's (``error``); a valid one is the grader's or the machine's.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from ..config import cache_dir, course_root
from ..errors import EvaluationFailed
from ..handover import EvaluationJob
from ..text import Text
from .frameworks import handed_over

#: Importing Keras takes seconds; a worker still silent after this long is not coming up.
STARTUP_TIMEOUT_S = 300.0
#: The Python that runs the worker (default: the grader's own). Pointing it at a broken interpreter
#: is also how the tests make the evaluator fail to start.
PYTHON_ENV = "KERAS_GRADER_EVALUATOR_PYTHON"
LOG_NAME = "keras-grader-evaluator.log"
#: An answer holds a job's checks and figures' verdicts: kilobytes. Far more is not an answer.
MAX_ANSWER_BYTES = 64 * 2**20


def log_path() -> Path:
    return Path(tempfile.gettempdir()) / LOG_NAME


class _WorkerGone(Exception):
    """The worker died, or did not answer in time; it has been killed. ``what`` says which, in both languages."""

    def __init__(self, what: Text):
        super().__init__(what.en)
        self.what = what


class _Worker:
    """One worker process and the thread that reads its answers."""

    def __init__(self, cmd: list[str], env: dict[str, str]):
        with open(log_path(), "ab") as log:
            self.log_offset = log.tell()  # where its own lines start (other evaluators share the log)
            self.proc = subprocess.Popen(cmd, env=env, cwd="/", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=log, start_new_session=True)
        self.answers: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.ready: dict[str, Any] | None = None
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := self.proc.stdout.readline(MAX_ANSWER_BYTES + 1):
            if len(line) > MAX_ANSWER_BYTES:  # a worker a model took over must not fill the grader's memory
                self.kill()
                break
            try:
                answer = json.loads(line)
            except json.JSONDecodeError:
                continue  # the worker sends only JSON on this pipe; anything else is not an answer
            if isinstance(answer, dict):
                self.answers.put(answer)
        self.answers.put(None)  # end of file: the worker is gone

    def _next_answer(self, deadline: float, what: Text) -> dict[str, Any]:
        try:
            answer = self.answers.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            self.kill()
            raise _WorkerGone(Text("took longer than ", "levou mais de ") + what) from None
        if answer is None:
            code = self.proc.wait()
            raise _WorkerGone(Text(f"died (exit status {code})", f"morreu (código de saída {code})"))
        return answer

    def wait_ready(self) -> None:
        if self.ready is None:
            self.ready = self._next_answer(time.monotonic() + STARTUP_TIMEOUT_S,
                                           Text(f"{STARTUP_TIMEOUT_S:.0f} s to start",
                                                f"{STARTUP_TIMEOUT_S:.0f} s para iniciar"))

    def call(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one request and wait for its answer (``{"ok": ..., "result"|"error": ...}``)."""
        self.next_id += 1
        line = json.dumps({"id": self.next_id, **request}) + "\n"
        deadline = time.monotonic() + timeout
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(line.encode())
            self.proc.stdin.flush()
        except OSError:
            pass  # it died: the reader thread reports the end of file
        while True:
            answer = self._next_answer(deadline, Text.same(f"{timeout:.0f} s"))
            if answer.get("id") == self.next_id:
                return answer

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the sandbox and everything in it
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()


class Evaluator:
    """The trusted evaluation, one job at a time (callers in several threads wait their turn)."""

    def __init__(self, timeout: float = 600.0, backend: str | None = None):
        self.timeout = timeout
        self.backend = backend
        # jobs/ holds the jobs' folders (the worker reads them), scratch/ is the worker's only writable folder
        self.root = Path(tempfile.mkdtemp(prefix="keras-grader-eval-"))
        for sub in ("jobs", "scratch"):
            (self.root / sub).mkdir()
        self._hand_to_sandbox_user()
        self._worker: _Worker | None = None
        self._start_error: Text | None = None
        self._lock = threading.Lock()

    def _hand_to_sandbox_user(self) -> None:
        """Where the grader is root, the sandboxed worker runs as ``nobody``: it may cross (not list) the jobs'
        folders to read each job's artifacts (the student's process, also ``nobody``, wrote them), write its
        scratch folder, and read the data cache."""
        from ..run.host import sandbox
        from ..run.host.runner import share_cache

        uid = sandbox.nobody()
        if uid is None or sandbox.detect() == "none":
            return
        for folder in (self.root, self.root / "jobs"):
            os.chmod(folder, 0o711)
        os.chown(self.root / "scratch", uid, uid)
        share_cache()

    def job_dir(self, exercise_id: str) -> Path:
        """A fresh folder for one job, where the worker can read what the student's run left."""
        path = Path(tempfile.mkdtemp(prefix=f"keras-grader-{exercise_id}-", dir=self.root / "jobs"))
        os.chmod(path, 0o711)  # the worker (``nobody`` under a root grader) crosses it to the artifacts
        return path

    def command(self) -> tuple[list[str], dict[str, str]]:
        """The worker's sandboxed command line and environment."""
        from ..run.host import sandbox
        from ..run.host.runner import sandbox_env

        python = os.environ.get(PYTHON_ENV) or sys.executable
        scratch = self.root / "scratch"
        cache_dir().mkdir(parents=True, exist_ok=True)  # in the sandbox only if it exists now; filled later is fine
        env = sandbox_env(scratch, scratch)
        env.update({"TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_GRADER_CACHE": str(cache_dir()),
                    "KERAS_GRADER_COURSE": str(course_root())})
        cmd = [python, "-m", "grader.evaluation.worker", *([self.backend] if self.backend else [])]
        return sandbox.wrap(cmd, isolation=sandbox.detect(), writable=[scratch],
                            readable=[self.root / "jobs", course_root()], hidden=[]), env

    def _start(self) -> None:
        """Start a worker (it imports Keras while the caller goes on); remember why when it cannot start."""
        self._start_error = None
        try:
            self._worker = _Worker(*self.command())
        except Exception as e:  # noqa: BLE001 - a missing interpreter, an unusable sandbox, a bad course folder
            self._worker, self._start_error = None, Text.same(f"{type(e).__name__}: {e}")

    def _ready_worker(self) -> _Worker:
        if self._worker is None or self._worker.proc.poll() is not None:  # never started, or died while idle
            if self._worker is not None:
                self._worker.kill()
            self._start()
        try:
            if self._worker is None:
                raise _WorkerGone(self._start_error or Text("could not be started", "não pôde ser iniciado"))
            self._worker.wait_ready()
            return self._worker
        except _WorkerGone as e:
            last = _log_tail(self._worker.log_offset if self._worker else None)
            self._worker = None
            raise EvaluationFailed(Text(
                "the evaluator could not start ({why}){last}. On the grading machine, check the sandbox (bubblewrap) "
                "and the Python environment (log: {log})",
                "o avaliador não pôde iniciar ({why}){last}. Na máquina de correção, verifique o sandbox (bubblewrap) "
                "e o ambiente Python (log: {log})").format(why=e.what, last=": " + last if last else "",
                                                           log=log_path()),
                grader_fault=True) from e

    def evaluate(self, job: EvaluationJob) -> dict[str, Any]:
        with self._lock:
            worker = self._ready_worker()
            try:
                answer = worker.call({"op": "evaluate", "job": job}, self.timeout)
            except _WorkerGone as e:
                self._worker = None
                raise self._blame(job, e.what) from e
            if not answer.get("ok"):
                error = str(answer.get("error"))[:1000]
                raise EvaluationFailed(Text(
                    "internal grader error in the evaluator ({error}): report it to the grader's maintainers with "
                    "this submission (log: {log})",
                    "erro interno do corretor no avaliador ({error}): informe os mantenedores do corretor, com esta "
                    "entrega (log: {log})").format(error=error, log=log_path()), grader_fault=True)
            return answer["result"]

    def _blame(self, job: EvaluationJob, what: Text) -> EvaluationFailed:
        """Whose fault a worker that died (or ran out of time) on ``job`` is: a fresh worker inspects the model file."""
        worker = self._ready_worker()  # the next job needs it anyway
        try:
            answer = worker.call({"op": "inspect", "artifacts": job["artifacts"]}, 60.0)
        except _WorkerGone:
            self._worker, answer = None, {}
        problem = answer.get("result") if answer.get("ok") else None
        kind = handed_over(Path(job["artifacts"])).file_kind  # which framework's file the worker inspected
        if problem:
            return EvaluationFailed(Text(
                "the evaluator {what} on this submission's saved model, which is not a valid {kind} file: "
                "{problem}. The grader saves the model itself: the program must not write over the grader's files",
                "o avaliador {what} com o modelo salvo desta entrega, que não é um arquivo {kind} válido: "
                "{problem}. O corretor salva o modelo ele mesmo: o programa não deve sobrescrever os arquivos "
                "do corretor").format(what=what, kind=kind, problem=Text(str(problem[0]), str(problem[1]))),
                grader_fault=False)
        return EvaluationFailed(Text(
            "the evaluator {what} on this submission, whose saved model is a valid {kind} file. On the grading "
            "machine, check the free memory and the evaluator's log ({log})",
            "o avaliador {what} com esta entrega, cujo modelo salvo é um arquivo {kind} válido. Na máquina de "
            "correção, verifique a memória livre e o log do avaliador ({log})").format(what=what, kind=kind,
                                                                                      log=log_path()),
            grader_fault=True)

    def close(self) -> None:
        """Kill the worker (it holds nothing worth a graceful exit: every answer is in) and remove the folders."""
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Evaluator:
        # start the worker now: its Keras import (seconds) overlaps the first student's run
        self._start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _log_tail(offset: int | None) -> str:
    """The last line a worker wrote to the log since ``offset``: where a worker that cannot start says why."""
    if offset is None:
        return ""
    try:
        with open(log_path(), "rb") as f:
            f.seek(max(offset, f.seek(0, os.SEEK_END) - 4096))
            lines = [line.strip() for line in f.read().decode("utf-8", "replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""
