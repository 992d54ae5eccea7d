"""One result JSON per (student, exercise): its cache key, atomic storage and reading back (``schema.py``: its form)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

from . import __version__
from .handover import EXECUTED_NOTEBOOK
from .schema import SCHEMA_VERSION, Attempt, JobResult, job_result

#: What of the student process's artifacts the reports show: its figures and its executed notebook.
#: The student's process wrote them, so only regular files with these names and sizes are copied.
KEPT_ARTIFACTS = re.compile(r"fig\d{1,3}\.png|" + re.escape(EXECUTED_NOTEBOOK))
KEPT_MAX_BYTES, KEPT_MAX_FILES = 5 * 2**20, 24


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def job_key(submission_sha256: str, config_sha256: str, quick: bool, seed: int | None, backend: str,
            runs: str = "", variant: str = "") -> str:
    """What a result depends on: the submission, the exercise config, the grader, the mode, the Keras backend,
    the seeds and number of runs (``runs``: the re-run policy, e.g. "3" forced or "auto/3") and ``variant``:
    course settings that change a grade, such as the Keras 2 layer, when not the default."""
    parts = [submission_sha256, config_sha256, __version__, f"quick={quick}", f"seed={seed}", f"backend={backend}",
             f"schema={SCHEMA_VERSION}", f"runs={runs}", *([variant] if variant else [])]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def flagged_attempts(result: JobResult) -> list[Attempt]:
    """The attempts of a job's student process that the instructor must see (``grader/evaluation/attempts.py``)."""
    return [a for a in result.get("attempts") or [] if isinstance(a, dict) and a.get("flagged")]


def result_path(results_dir: Path, student: str, exercise: str) -> Path:
    return results_dir / student / f"{exercise}.json"


def write(results_dir: Path, result: JobResult) -> Path:
    """Write atomically (temp file + rename): a killed grader never leaves half a result."""
    path = result_path(results_dir, result["student"], result["exercise"])
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(result, f, indent=1, sort_keys=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_file(path: Path) -> JobResult | None:
    """The result stored at ``path``, well formed (``schema.job_result``), or None: unreadable, or not a result."""
    try:
        return job_result(json.loads(path.read_text()))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def read(results_dir: Path, student: str, exercise: str) -> JobResult | None:
    return read_file(result_path(results_dir, student, exercise))


def read_all(results_dir: Path) -> list[JobResult]:
    return [r for path in sorted(results_dir.glob("*/*.json")) if (r := read_file(path)) is not None]


def artifacts_dir(results_dir: Path, student: str, exercise_id: str) -> Path:
    """Where a job's kept artifacts live: beside its result JSON."""
    return result_path(results_dir, student, exercise_id).with_suffix("")


def keep_artifacts(artifacts: Path, dest: Path) -> list[str]:
    """Copy the figures and executed notebook the student's run left (bounded in names, count and size)."""
    shutil.rmtree(dest, ignore_errors=True)
    kept: list[str] = []
    try:
        entries = sorted(artifacts.iterdir(), key=lambda p: p.name)
    except OSError:
        return kept
    for path in entries:
        if len(kept) >= KEPT_MAX_FILES or not KEPT_ARTIFACTS.fullmatch(path.name):
            continue
        try:
            info = path.lstat()
            if not stat.S_ISREG(info.st_mode) or info.st_size > KEPT_MAX_BYTES:
                continue
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest / path.name, follow_symlinks=False)
        except OSError:
            continue
        kept.append(path.name)
    return kept
