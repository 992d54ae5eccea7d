"""Run one submission in a sandboxed child process, under a watchdog.

The child gets a copy of one file in an empty work dir and reads the data sets
from the cache; the watchdog enforces the wall clock, the memory and process
count of the whole process tree (RLIMIT_AS would break TensorFlow, JAX and
CUDA), and the disk used by the job; output beyond a cap is cut in the middle.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import data, environment
from ..config import PACKAGE_DIR, cache_dir
from . import sandbox

#: Environment variables handed to student code; everything else (tokens,
#: credentials, the grader's own settings) stays out.
ENV_ALLOW = re.compile(
    r"^(PATH|LANG|LANGUAGE|LC_\w+|TZ|TERM|KERAS_BACKEND|CUDA_\w+|NVIDIA_\w+|XLA_\w+|TF_\w+|"
    r"OPENBLAS_\w+|OMP_NUM_THREADS|MKL_\w+|LD_LIBRARY_PATH)$"
)
SECRET = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_?KEY|ACCESS_KEY|^GITHUB_|^AWS_|^GCP_|^AZURE_", re.I)
OUTPUT_TAIL = 64 * 1024
POLL_S = 0.2


@dataclass(frozen=True)
class Limits:
    wall_s: float
    memory_mb: int = 6144
    max_processes: int = 256
    output_bytes: int = 8 * 2**20     # per stream; the middle is cut beyond this
    disk_mb: int = 2048               # work dir + artifacts
    cell_timeout_s: float = 0         # notebooks: per-cell limit (0: only the wall clock)

    @classmethod
    def from_config(cls, wall_s: float, cfg: dict[str, Any]) -> Limits:
        known = {k: cfg[k] for k in ("memory_mb", "max_processes", "output_bytes", "disk_mb", "cell_timeout_s")
                 if k in cfg}
        return cls(wall_s=wall_s, **known)


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
    limit_hit: str | None = None      # e.g. "memory: 6200 MiB in use, limit 6144 MiB"
    peak_memory_mb: float = 0.0


class _Pump(threading.Thread):
    """Copy a child's output stream to a file, keeping its first and last ``cap/2`` bytes."""

    def __init__(self, stream: Any, path: Path, cap: int):
        super().__init__(daemon=True)
        self.stream, self.path, self.half = stream, path, max(1, cap // 2)
        self.total = 0

    def run(self) -> None:
        tail = bytearray()
        with open(self.path, "wb") as out:
            while chunk := self.stream.read1(65536):
                room = max(0, self.half - self.total)
                if room:
                    out.write(chunk[:room])
                tail += chunk[room:]
                if len(tail) > 2 * self.half:
                    del tail[: len(tail) - self.half]
                self.total += len(chunk)
            kept = tail[-self.half:]
            cut = self.total - self.half - len(kept)
            if cut > 0:
                out.write(f"\n[... {cut} bytes cut by the grader ...]\n".encode())
            out.write(kept)
        self.stream.close()


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


def child_env(workdir: Path, artifacts: Path, script: Path, seed: int | None,
              extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if ENV_ALLOW.match(k) and not SECRET.search(k)}
    env.update(extra or {})  # the job's device (CUDA_VISIBLE_DEVICES, sharing flags) and KERAS_BACKEND
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


def run_submission(submission: Path, *, filename: str, jobdir: Path, dataset: str, workdir_data: list[str],
                   quick_epochs: int | None, seed: int | None, limits: Limits,
                   hidden: list[Path] | tuple[Path, ...] = (), env: dict[str, str] | None = None,
                   keras2_compat: bool = True) -> RunOutcome:
    """Run ``submission`` (a .py file) as ``filename`` in ``jobdir/work``; the probe writes ``jobdir/artifacts``.

    ``hidden`` folders (solutions, results, other submissions) are invisible to the child where
    the isolation level allows it.
    """
    workdir, artifacts = jobdir / "work", jobdir / "artifacts"
    for d in (workdir, artifacts, workdir / ".tmp"):
        d.mkdir(parents=True, exist_ok=True)
    script = workdir / filename
    shutil.copyfile(submission, script)
    for name in workdir_data:  # e.g. noisynote: the files the handout's recipes expect
        data.copy_into(name, workdir)
        data.copy_into(name, workdir / name)
    sets = data.splits(dataset)
    spec = {"script": str(script), "artifacts": str(artifacts), "data_root": str(cache_dir()),
            "n_test": len(sets["x_test"]), "quick_epochs": quick_epochs, "seed": seed,
            "cell_timeout": limits.cell_timeout_s or None, "keras2_compat": keras2_compat,
            "modules": environment.allowed_text()}
    readable = [jobdir / "spec.json"]
    if len(sets["x_train"]) == len(sets["x_test"]):
        spec["disambiguate"] = {}
        for part in ("train", "test"):
            path = spec["disambiguate"][part] = str(jobdir / f"reference_{part}.npy")
            np.save(path, sets[f"x_{part}"], allow_pickle=False)
            readable.append(Path(path))
    spec_path = jobdir / "spec.json"
    spec_path.write_text(json.dumps(spec))

    isolation = sandbox.detect()
    cmd = sandbox.wrap([sys.executable, "-m", "grader.run.child", str(spec_path)], isolation=isolation,
                       writable=[workdir, artifacts], readable=readable, hidden=list(hidden),
                       content=workdir)
    out_path, err_path = jobdir / "stdout.txt", jobdir / "stderr.txt"
    t0 = time.monotonic()
    timed_out, limit_hit, peak = False, None, 0
    proc = subprocess.Popen(cmd, cwd=workdir, env=child_env(workdir, artifacts, script, seed, env),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    pumps = [_Pump(proc.stdout, out_path, limits.output_bytes), _Pump(proc.stderr, err_path, limits.output_bytes)]
    for pump in pumps:
        pump.start()
    try:
        next_disk = 0.0
        while True:
            try:
                proc.wait(timeout=POLL_S)
                break
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
            if now - t0 > limits.wall_s:
                timed_out = True
                break
            rss, nprocs = sandbox.tree_usage(proc.pid)
            peak = max(peak, rss)
            if rss > limits.memory_mb * 2**20:
                limit_hit = f"memory: {rss / 2**20:.0f} MiB in use, limit {limits.memory_mb} MiB"
                break
            if nprocs > limits.max_processes:
                limit_hit = f"processes: {nprocs} running, limit {limits.max_processes}"
                break
            if now >= next_disk:
                next_disk = now + 1.0
                size = sandbox.tree_size(workdir) + sandbox.tree_size(artifacts)
                if size > limits.disk_mb * 2**20:
                    limit_hit = f"disk: {size / 2**20:.0f} MiB written, limit {limits.disk_mb} MiB"
                    break
    finally:
        _kill_group(proc.pid)  # under bwrap its death takes the whole PID namespace with it
        proc.wait()
        for pump in pumps:
            pump.join(timeout=10)
    stopped = timed_out or limit_hit is not None
    return RunOutcome(
        returncode=None if stopped else proc.returncode, timed_out=timed_out,
        seconds=round(time.monotonic() - t0, 3), workdir=workdir, artifacts=artifacts,
        stdout=_tail(out_path), stderr=_tail(err_path), isolation=isolation, limit_hit=limit_hit,
        peak_memory_mb=round(peak / 2**20, 1),
    )


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
