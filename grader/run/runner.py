"""Run one submission in a child process: fresh work dir, probe, no network, wall-clock limit.

The child never sees the results, ``solutions/`` or other submissions: it gets
a copy of one file in an empty work dir and the data sets it needs.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .. import data
from ..config import PACKAGE_DIR, cache_dir

#: Environment variables handed to student code; everything else (tokens,
#: credentials, the grader's own settings) stays out.
ENV_ALLOW = re.compile(
    r"^(PATH|LANG|LANGUAGE|LC_\w+|TZ|TERM|KERAS_BACKEND|CUDA_\w+|NVIDIA_\w+|XLA_\w+|TF_\w+|"
    r"OPENBLAS_\w+|OMP_NUM_THREADS|MKL_\w+|LD_LIBRARY_PATH)$"
)
OUTPUT_TAIL = 64 * 1024


@dataclass
class RunOutcome:
    returncode: int | None
    timed_out: bool
    seconds: float
    workdir: Path
    artifacts: Path
    stdout: str
    stderr: str
    isolation: str


@functools.cache
def isolation_available() -> str:
    """'netns' when ``unshare -n`` works here (needs root or user namespaces), else 'none'."""
    unshare = shutil.which("unshare")
    if unshare:
        try:
            ok = subprocess.run([unshare, "-n", "true"], capture_output=True, timeout=10).returncode == 0
        except (OSError, subprocess.SubprocessError):
            ok = False
        if ok:
            return "netns"
    return "none"


def _tail(path: Path, limit: int = OUTPUT_TAIL) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return (f"[... {size - limit} bytes cut ...]\n" if size > limit else "") + text


def _child_env(workdir: Path, artifacts: Path, script: Path, seed: int | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if ENV_ALLOW.match(k)}
    env.update({
        "HOME": str(workdir),
        "KERAS_HOME": str(workdir / ".keras"),
        "MPLCONFIGDIR": str(workdir / ".matplotlib"),
        "MPLBACKEND": "Agg",
        "TMPDIR": str(workdir / ".tmp"),
        "PYTHONPATH": str(PACKAGE_DIR.parent),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "TF_CPP_MIN_LOG_LEVEL": env.get("TF_CPP_MIN_LOG_LEVEL", "2"),
        "KERAS_GRADER_SCRIPT": str(script),
        "KERAS_GRADER_DOWNLOADS": str(artifacts / "downloads"),
    })
    if seed is not None:
        env["PYTHONHASHSEED"] = str(seed)
    return env


def run_submission(submission: Path, *, filename: str, jobdir: Path, n_test: int, workdir_data: list[str],
                   quick_epochs: int | None, seed: int | None, timeout: float) -> RunOutcome:
    """Run ``submission`` (a .py file) as ``filename`` in ``jobdir/work``; the probe writes ``jobdir/artifacts``."""
    workdir, artifacts = jobdir / "work", jobdir / "artifacts"
    for d in (workdir, artifacts, workdir / ".tmp"):
        d.mkdir(parents=True, exist_ok=True)
    script = workdir / filename
    shutil.copyfile(submission, script)
    for name in workdir_data:  # e.g. noisynote: the files the handout's recipes expect
        data.copy_into(name, workdir)
        data.copy_into(name, workdir / name)
    spec = {"script": str(script), "artifacts": str(artifacts), "data_root": str(cache_dir()),
            "n_test": n_test, "quick_epochs": quick_epochs, "seed": seed}
    spec_path = jobdir / "spec.json"
    spec_path.write_text(json.dumps(spec))

    isolation = isolation_available()
    cmd = [sys.executable, "-m", "grader.run.child", str(spec_path)]
    if isolation == "netns":
        cmd = [shutil.which("unshare") or "unshare", "-n", "--", *cmd]
    out_path, err_path = jobdir / "stdout.txt", jobdir / "stderr.txt"
    t0 = time.monotonic()
    timed_out = False
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(cmd, cwd=workdir, env=_child_env(workdir, artifacts, script, seed),
                                stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _kill_group(proc.pid)  # the script's leftover children go with it
            proc.wait()
    return RunOutcome(
        returncode=None if timed_out else proc.returncode, timed_out=timed_out,
        seconds=round(time.monotonic() - t0, 3), workdir=workdir, artifacts=artifacts,
        stdout=_tail(out_path), stderr=_tail(err_path), isolation=isolation,
    )


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
