"""Run one submission in a sandboxed child process, under a watchdog.

The child gets a copy of one file in an empty work dir and reads the data sets
from the cache. Memory and processes are hard limits of the job's cgroup where
the machine allows one (``cgroup.py``; RLIMIT_AS would break TensorFlow, JAX and
CUDA), else the watchdog polls the whole process tree for them; the watchdog
always enforces the wall clock and the disk used by the job; output beyond a cap
is cut in the middle.
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
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ... import data, datasets, environment
from ...config import PACKAGE_DIR, cache_dir
from ...handover import (
    ARTIFACTS_DIR,
    DOWNLOADS,
    DOWNLOADS_ENV,
    SCRIPT_ENV,
    SPEC,
    STAGE_TIMES,
    STARTED_FD_ENV,
    WORK_DIR,
    ChildSpec,
    reference_rows,
)
from . import cgroup, sandbox

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
    artifacts: Path
    stdout: str
    stderr: str
    isolation: str
    limit_hit: str | None = None      # e.g. "memory: 6200 MiB in use, limit 6144 MiB"
    peak_memory_mb: float = 0.0
    #: which limit stopped the job and what enforced it: "memory:cgroup", "memory:watchdog",
    #: "processes:cgroup", "processes:watchdog", "disk:watchdog", "wall_clock:watchdog"; None if none did
    limit_kind: str | None = None
    sandbox_error: str | None = None  # the sandbox could not be built: the machine's fault, not the student's
    #: seconds of each stage (``stages``): for the benchmark's breakdown, never for a verdict
    stages: dict[str, float] = field(default_factory=dict)


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


#: matplotlib's folder in a sandboxed process's home (``MPLCONFIGDIR``).
MPL_DIR = ".matplotlib"


@functools.cache
def font_list() -> Path | None:
    """matplotlib's list of the machine's fonts, built once into the data cache's ``matplotlib`` folder.

    matplotlib builds it at its first import in a new ``MPLCONFIGDIR`` by opening every font file of the machine
    (0.13 s here with few fonts, seconds on a machine with many), and each job has a new one; a copy of the list
    made once, in the job's own folder, spares every job that draws a figure from building it. The list names
    files under the system's and matplotlib's folders, which the sandbox shows at the same paths. None where
    matplotlib is missing or fails: each job then builds its own, as before.
    """
    folder = cache_dir() / "matplotlib"
    if not (found := sorted(folder.glob("fontlist-*.json"))):
        folder.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], check=True, timeout=300,
                           capture_output=True, env={**sandbox_env(folder, folder), "MPLCONFIGDIR": str(folder)})
        except (OSError, subprocess.SubprocessError):
            return None
        found = sorted(folder.glob("fontlist-*.json"))
    return found[-1] if found else None


def _copy_font_list(mpl_dir: Path) -> None:
    if (fonts := font_list()) is not None:
        mpl_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(fonts, mpl_dir / fonts.name)


def sandbox_env(home: Path, tmp: Path) -> dict[str, str]:
    """The environment of a sandboxed process (a student's program, the evaluator): the allowed variables of
    ours, without secrets; its home, temp folder and Keras and matplotlib folders in its own writable place;
    the grader importable."""
    env = {k: v for k, v in os.environ.items() if ENV_ALLOW.match(k) and not SECRET.search(k)}
    env.update({"HOME": str(home), "KERAS_HOME": str(home / ".keras"), "MPLCONFIGDIR": str(home / MPL_DIR),
                "TMPDIR": str(tmp), "PYTHONPATH": str(PACKAGE_DIR.parent), "PYTHONDONTWRITEBYTECODE": "1"})
    return env


def child_env(workdir: Path, artifacts: Path, script: Path, seed: int | None,
              extra: dict[str, str] | None = None) -> dict[str, str]:
    env = sandbox_env(workdir, workdir / ".tmp")
    # OpenMP's idle threads sleep instead of spinning (PyTorch's CPU kernels): where jobs share the cores, spinning
    # threads take them from the thread doing the work (a torch epoch 1.7x slower beside one busy process, measured)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    env.update(extra or {})  # the job's device (CUDA_VISIBLE_DEVICES, sharing flags) and KERAS_BACKEND
    env.update({
        "MPLBACKEND": "Agg",
        "PYTHONUNBUFFERED": "1",
        "TF_CPP_MIN_LOG_LEVEL": env.get("TF_CPP_MIN_LOG_LEVEL", "2"),
        SCRIPT_ENV: str(script),
        DOWNLOADS_ENV: str(artifacts / DOWNLOADS),
    })
    if seed is not None:
        env["PYTHONHASHSEED"] = str(seed)
    return env


def run_submission(submission: Path, *, filename: str, jobdir: Path, dataset: str, workdir_data: list[str],
                   quick_epochs: int | None, seed: int | None, limits: Limits, quick_steps: int | None = None,
                   hidden: list[Path] | tuple[Path, ...] = (), env: dict[str, str] | None = None,
                   keras2_compat: bool = True, no_sandbox: bool = False) -> RunOutcome:
    """Run ``submission`` (a .py file) as ``filename`` in ``jobdir/work``; the probe writes ``jobdir/artifacts``.

    The child learns what it needs from ``jobdir/spec.json`` (``handover.ChildSpec``).

    ``hidden`` folders (solutions, results, other submissions) are invisible to the child. Raises
    ``SandboxUnavailable`` when no isolation works and ``no_sandbox`` is not set.
    """
    prepared = time.time()
    isolation = sandbox.choose(no_sandbox)
    workdir, artifacts = jobdir / WORK_DIR, jobdir / ARTIFACTS_DIR
    for d in (workdir, artifacts, workdir / ".tmp"):
        d.mkdir(parents=True, exist_ok=True)
    script = workdir / filename
    shutil.copyfile(submission, script)
    _copy_font_list(workdir / MPL_DIR)
    for name in workdir_data:  # e.g. noisynote: the files the handout's recipes expect
        data.copy_into(name, workdir)
        data.copy_into(name, workdir / name)
    sets = data.splits(dataset)
    spec_path = jobdir / SPEC
    readable = [spec_path]
    disambiguate = None
    if len(sets["x_train"]) == len(sets["x_test"]):
        disambiguate = {}
        for part in ("train", "test"):
            path = disambiguate[part] = str(jobdir / reference_rows(part))
            np.save(path, sets[f"x_{part}"], allow_pickle=False)
            readable.append(Path(path))
    ChildSpec(script=str(script), artifacts=str(artifacts), data_root=str(cache_dir()), datasets=datasets.served(),
              n_test=len(sets["x_test"]), quick_epochs=quick_epochs, quick_steps=quick_steps, seed=seed,
              cell_timeout=limits.cell_timeout_s or None, keras2_compat=keras2_compat,
              modules=environment.allowed_text(), disambiguate=disambiguate).write(spec_path)
    if isolation != "none" and (uid := sandbox.nobody()) is not None:
        _hand_to(uid, [workdir, artifacts], readable)

    cmd = sandbox.wrap([sys.executable, "-m", "grader.run.child.main", str(spec_path)], isolation=isolation,
                       writable=[workdir, artifacts], readable=readable, hidden=list(hidden),
                       content=workdir)
    group = cgroup.create(limits.memory_mb * 2**20, limits.max_processes)
    if group is not None:
        cmd = group.enter(cmd)
    out_path, err_path = jobdir / "stdout.txt", jobdir / "stderr.txt"
    t0, launched = time.monotonic(), time.time()
    timed_out, limit_hit, limit_kind, peak = False, None, None, 0
    # the child writes one byte here before any student code runs: without it, the sandbox (or
    # Python) failed to start, whatever the output says, and no student can forge that
    started_r, started_w = os.pipe()
    os.set_blocking(started_r, False)
    try:
        proc = subprocess.Popen(cmd, cwd=workdir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True, pass_fds=(started_w,),
                                env={**child_env(workdir, artifacts, script, seed, env),
                                     STARTED_FD_ENV: str(started_w)})
    finally:
        os.close(started_w)
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
                timed_out, limit_kind = True, "wall_clock:watchdog"
                break
            if group is not None:  # the kernel enforces both; this only stops the job once it has
                if hit := group.limit_hit():
                    limit_hit, limit_kind = _cgroup_limit(hit, limits), f"{hit}:cgroup"
                    break
            else:
                rss, nprocs = sandbox.tree_usage(proc.pid)
                peak = max(peak, rss)
                if rss > limits.memory_mb * 2**20:
                    limit_hit = f"memory: {rss / 2**20:.0f} MiB in use, limit {limits.memory_mb} MiB"
                    limit_kind = "memory:watchdog"
                    break
                if nprocs > limits.max_processes:
                    limit_hit = f"processes: {nprocs} running, limit {limits.max_processes}"
                    limit_kind = "processes:watchdog"
                    break
            if now >= next_disk:
                next_disk = now + 1.0
                size = sandbox.tree_size(workdir) + sandbox.tree_size(artifacts)
                if size > limits.disk_mb * 2**20:
                    limit_hit = f"disk: {size / 2**20:.0f} MiB written, limit {limits.disk_mb} MiB"
                    limit_kind = "disk:watchdog"
                    break
    finally:
        ended = time.time()
        _kill_group(proc.pid)  # in a sandbox its death takes the whole PID namespace with it
        proc.wait()
        if group is not None:
            if limit_kind is None and group.limit_hit() == "memory":  # killed by the kernel just before it ended
                limit_hit, limit_kind = _cgroup_limit("memory", limits), "memory:cgroup"
            group.close()
            peak = group.peak_bytes()
        for pump in pumps:
            pump.join(timeout=10)
        try:
            started = os.read(started_r, 1) == b"1"
        except BlockingIOError:  # a writer still open: only if something outlived the kill
            started = True
        os.close(started_r)
    stopped = timed_out or limit_hit is not None
    stderr = _tail(err_path)
    return RunOutcome(
        returncode=None if stopped else proc.returncode, timed_out=timed_out,
        seconds=round(time.monotonic() - t0, 3), artifacts=artifacts,
        stdout=_tail(out_path), stderr=stderr, isolation=isolation, limit_hit=limit_hit,
        peak_memory_mb=round(peak / 2**20, 1), limit_kind=limit_kind,
        sandbox_error=None if started else sandbox.failure(stderr),
        stages=stages(artifacts / STAGE_TIMES, prepared, launched, ended),
    )


#: The stages of a run (``stages``), in order: the host prepares the job's folders; the sandbox and Python start
#: until the child's first line; the child installs the probe; the program runs; the probe saves what the
#: evaluator reads; the process ends; the host collects the output and removes the job's processes.
STAGES = ("prepare", "start", "probe", "program", "finalize", "exit", "collect")


def stages(stamps_file: Path, prepared: float, launched: float, ended: float) -> dict[str, float]:
    """Seconds of each of ``STAGES``, from the host's clock and the stamps the child wrote (``handover.STAGE_TIMES``).

    The child's stamps are its own word, so they are read as figures for the benchmark and nothing else; a
    run that left none (it never started, or it was killed) has the host's stages and ``child``, its whole life.
    """
    marks = {"prepare": prepared, "start": launched}
    try:
        with open(stamps_file, "rb") as f:
            child = json.loads(f.read(4096))
        for key, stage in (("main", "probe"), ("program", "program"), ("finalize", "finalize"),
                           ("finalized", "exit")):
            if isinstance(child.get(key), (int, float)) and launched <= child[key] <= ended:
                marks[stage] = float(child[key])
    except (OSError, ValueError, AttributeError):
        pass
    if len(marks) == 2:  # no stamps: the child's whole life is one stage
        marks["child"] = marks.pop("start")
    marks["collect"], done = ended, time.time()
    times, names = [], list(marks)
    for i, name in enumerate(names):
        times.append((name, round((marks[names[i + 1]] if i + 1 < len(names) else done) - marks[name], 3)))
    return dict(times)


def _cgroup_limit(hit: str, limits: Limits) -> str:
    if hit == "memory":
        return f"memory: the limit of {limits.memory_mb} MiB was reached"
    return f"processes: more than {limits.max_processes} started, the limit"


def _hand_to(uid: int, writable: list[Path], readable: list[Path]) -> None:
    """Let the unprivileged ``uid`` write its folders and read its inputs and the data cache.

    The grader (root) still reads and deletes all of it afterwards.
    """
    for top in writable:
        os.chown(top, uid, uid)
        for dirpath, dirnames, filenames in os.walk(top):
            for name in dirnames + filenames:
                os.chown(os.path.join(dirpath, name), uid, uid, follow_symlinks=False)
    for path in readable:
        os.chmod(path, 0o644)
    share_cache()


def share_cache() -> None:
    """Make the data cache readable by the unprivileged user of the sandboxes (a umask of 077 would hide it)."""
    for dirpath, _, filenames in os.walk(cache_dir()):
        for name, bits in [(dirpath, 0o555), *((os.path.join(dirpath, f), 0o444) for f in filenames)]:
            mode = os.stat(name).st_mode
            if mode & bits != bits:
                os.chmod(name, mode | bits)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
