"""One job = one student x one exercise: prepare, run, evaluate, record."""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import data, hints, results
from .checks import exception_location
from .config import course_root
from .executors import EvaluationFailed, Evaluator
from .exercise import Exercise
from .run import sandbox
from .run.runner import Limits, run_submission

TAIL = 4000


@dataclass
class Options:
    quick: bool = False
    seed: int | None = None
    timeout: float | None = None
    force: bool = False
    results_dir: Path | None = None
    keep_dir: Path | None = None     # keep each job's work dir and artifacts under here
    limits: dict[str, Any] = field(default_factory=dict)  # overrides of exercise.toml's [limits]
    hidden: tuple[Path, ...] = ()    # more folders the student's process must not see (the class)


@functools.cache
def device() -> str:
    """'cpu', or the name of the first NVIDIA GPU."""
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                 text=True, timeout=20).stdout.strip().splitlines()
            if out:
                return out[0].strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return "cpu"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _error_message(exc: dict[str, Any] | None, stderr: str) -> str:
    if not exc:
        last = [line for line in stderr.strip().splitlines() if line.strip()][-1:] or ["(no output)"]
        return f"the script ended without a model; its last message: {last[0][:300]}"
    where = exception_location(exc)
    return (f"{exc['type']}{where}: {str(exc.get('message', ''))[:500]}. Fix it and check that your program runs "
            "from start to end (`python <file>`, or Runtime > Run all in Colab) before submitting." + hints.text(exc))


def grade(student: str, ex: Exercise, submission: Path | None, evaluator: Evaluator, opts: Options) -> dict[str, Any]:
    """Grade one submission (or record it missing); the result is also written when opts.results_dir is set."""
    started = _now()
    sha = results.file_sha256(submission) if submission is not None else "missing"
    key = results.job_key(sha, ex.config_sha256, opts.quick, opts.seed)
    if opts.results_dir and not opts.force:
        previous = results.read(opts.results_dir, student, ex.id)
        if previous and previous.get("key") == key:
            return previous
    base = {"key": key, "quick": opts.quick, "seed": opts.seed, "max_score": ex.max_score, "started_at": started}
    if submission is None:
        result = results.new_result(student, ex.id, status="missing", score=0.0, checks=[], **base,
                                    error=f"no {ex.id}.py or {ex.id}.ipynb in the student's folder",
                                    finished_at=_now())
        return _store(result, opts)
    base["submission"] = {"path": str(submission), "sha256": sha, "kind": submission.suffix.lstrip(".")}
    t0 = time.monotonic()
    data.ensure(ex.dataset)  # first use fetches; the child only reads the cache
    jobdir = Path(tempfile.mkdtemp(prefix=f"keras-grader-{ex.id}-"))
    try:
        limit = opts.timeout or ex.timeout(gpu=device() != "cpu")
        limits = Limits.from_config(limit, {**ex.limits, **opts.limits})
        hidden = [course_root() / "solutions", submission.parent, *opts.hidden]
        if opts.results_dir:
            hidden.append(opts.results_dir)
        outcome = run_submission(submission, filename=f"{ex.id}{submission.suffix}", jobdir=jobdir, dataset=ex.dataset,
                                 workdir_data=ex.workdir_data, quick_epochs=ex.quick_epochs if opts.quick else None,
                                 seed=opts.seed, limits=limits, hidden=hidden)
        fields = {**base, "isolation": outcome.isolation, "device": device(), "returncode": outcome.returncode,
                  "peak_memory_mb": outcome.peak_memory_mb,
                  "stdout_tail": outcome.stdout[-TAIL:], "stderr_tail": outcome.stderr[-TAIL:]}
        job = {"exercise": ex.id, "course_root": str(course_root()), "artifacts": str(outcome.artifacts),
               "source": readable_source(submission), "kind": submission.suffix.lstrip("."),
               "stdout": outcome.stdout, "quick": opts.quick,
               "returncode": outcome.returncode, "timed_out": outcome.timed_out, "limit_s": limit,
               "limit_hit": outcome.limit_hit}
        try:
            evaluation = evaluator.evaluate(job)
        except EvaluationFailed as e:
            result = results.new_result(student, ex.id, status="error", score=0.0, checks=[], **fields,
                                        error=f"{e}; the instructor should look at this submission")
        else:
            checks = evaluation.pop("checks")
            status = results.status_from_checks(checks)
            error = None
            if outcome.timed_out:
                status, error = "timeout", (f"the script was still running after {limit:.0f} s and was stopped: "
                                            "train for fewer epochs or use a larger batch")
            elif outcome.limit_hit:
                status, error = "resource_limit", (f"the script was stopped by a limit ({outcome.limit_hit}): "
                                                   "use less memory, fewer processes or smaller files")
            elif evaluation["test_error"] is None and (outcome.returncode != 0):
                status = "error"
                error = _error_message(evaluation["exception"], outcome.stderr)
            result = results.new_result(
                student, ex.id, status=status, score=round(sum(c["points"] for c in checks), 3), checks=checks,
                **fields, **evaluation, error=error)
        result["times"] = {"run_s": outcome.seconds, "eval_s": result.pop("eval_seconds", None),
                           "total_s": round(time.monotonic() - t0, 3)}
        result["finished_at"] = _now()
        return _store(result, opts)
    finally:
        if opts.keep_dir:
            dest = opts.keep_dir / student / ex.id
            shutil.rmtree(dest, ignore_errors=True)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(jobdir), dest)
        else:
            shutil.rmtree(jobdir, ignore_errors=True)


def readable_source(submission: Path) -> str:
    """The text a person reads: a script as it is; a notebook's code, with its Markdown as comments."""
    if submission.suffix != ".ipynb":
        return submission.read_text(errors="replace")
    from .run.notebook import load

    try:
        nb = load(submission)
    except ValueError:
        return ""
    parts = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            parts.append(cell.source)
        elif cell.cell_type == "markdown":
            parts.append("\n".join(f"# {line}" for line in cell.source.splitlines()))
    return "\n".join(parts)


def _store(result: dict[str, Any], opts: Options) -> dict[str, Any]:
    if opts.results_dir:
        results.write(opts.results_dir, result)
    return result


def isolation_warning() -> str | None:
    level = sandbox.detect()
    if level == "none":
        return ("WARNING: no isolation available (neither bubblewrap nor `unshare -n` works): student code runs "
                "with the network and your rights. Install bubblewrap (apt-get install bubblewrap) or run as root.")
    if level == "netns":
        return ("WARNING: bubblewrap is missing: student code runs without network but can read and write your "
                "files. Install it: apt-get install bubblewrap")
    return None
