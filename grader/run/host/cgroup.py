"""Hard limits on one job's memory and tasks: a cgroup of its own, where the machine lets us make one.

A polling watchdog sees memory every 0.2 s; a program that allocates faster can take the host's
memory first and bring its OOM killer down on the grader. In a cgroup the kernel enforces the
limit at each allocation and kills inside the job only. The job's cgroup is made beside nothing
else: a child of the grader's own (cgroup v2, or v1's ``memory`` and ``pids`` hierarchies, as on
machines still on v1), entered before the sandbox starts, and removed after the job. Where
cgroups cannot be written (no root, no delegation) ``create`` returns None and the runner's
polling watchdog stays the only guard.

Cost per job: a few ``mkdir``/``write``/``rmdir`` on cgroupfs and a ``sh`` that enters it (about 1 ms).
"""

from __future__ import annotations

import functools
import itertools
import os
import signal
import time
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
#: pids.max counts threads too (TensorFlow starts dozens per process): tasks allowed per allowed process
TASKS_PER_PROCESS = 8
_serial = itertools.count()


def _own() -> dict[str, str]:
    """controller ("" for v2) -> this process's cgroup path."""
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for c in controllers.split(",") if controllers else [""]:
            own[c] = path
    return own


@functools.cache
def _parents() -> dict[str, Path] | None:
    """Where job cgroups go: {"memory": dir, "pids": dir} (one dir on v2), or None when cgroups cannot be used."""
    try:
        own = _own()
        if (ROOT / "cgroup.controllers").is_file():  # v2
            base = ROOT / own[""].lstrip("/")
            enabled = (base / "cgroup.subtree_control").read_text().split()
            if not {"memory", "pids"} <= set(enabled):
                (base / "cgroup.subtree_control").write_text("+memory +pids")
            parents = {"memory": base, "pids": base}
        elif (ROOT / "memory").is_dir() and (ROOT / "pids").is_dir():  # v1
            parents = {c: ROOT / c / own[c].lstrip("/") for c in ("memory", "pids")}
        else:
            return None
        for parent in set(parents.values()):  # writable here?
            probe = parent / f"keras-grader-probe-{os.getpid()}"
            probe.mkdir()
            probe.rmdir()
            _remove_stale(parent)
        return parents
    except (OSError, KeyError):
        return None


def _remove_stale(parent: Path) -> None:
    """Empty job cgroups left by a grader that was killed (``keras-grader-<its pid>-<n>``)."""
    for d in parent.glob("keras-grader-*-*"):
        try:
            os.kill(int(d.name.split("-")[2]), 0)
        except ProcessLookupError:
            try:
                d.rmdir()
            except OSError:  # still holds a process: the next grader will try again
                pass
        except (ValueError, PermissionError):
            pass


class JobCgroup:
    """One job's cgroup(s): limits set at creation; ``enter`` wraps the command; ``close`` kills and removes."""

    def __init__(self, parents: dict[str, Path], memory_bytes: int, max_processes: int):
        name = f"keras-grader-{os.getpid()}-{next(_serial)}"
        self.v2 = parents["memory"] == parents["pids"]
        self.dirs = list(dict.fromkeys(p / name for p in parents.values()))
        self.memory, self.pids = parents["memory"] / name, parents["pids"] / name
        self.max_processes = max_processes
        for d in self.dirs:
            d.mkdir()
        try:
            if self.v2:
                self._write(self.memory / "memory.max", memory_bytes)
                self._write(self.memory / "memory.swap.max", 0, optional=True)
            else:
                self._write(self.memory / "memory.limit_in_bytes", memory_bytes)
                self._write(self.memory / "memory.memsw.limit_in_bytes", memory_bytes, optional=True)  # no swap
            self._write(self.pids / "pids.max", max_processes * TASKS_PER_PROCESS)
        except OSError:
            self.close()
            raise
        self._peak = 0

    @staticmethod
    def _write(path: Path, value: int, optional: bool = False) -> None:
        try:
            path.write_text(str(value))
        except OSError:
            if not optional:
                raise

    def enter(self, cmd: list[str]) -> list[str]:
        """``cmd`` started inside the cgroup(s): the shell moves itself in, then becomes ``cmd``."""
        moves = " && ".join(f"echo $$ > '{d}/cgroup.procs'" for d in self.dirs)
        return ["/bin/sh", "-c", f'{moves} && exec "$@"', "sh", *cmd]

    def _counter(self, path: Path, key: str) -> int:
        try:
            for line in path.read_text().splitlines():
                name, _, value = line.partition(" ")
                if name == key:
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def processes(self) -> int:
        try:
            return len((self.pids / "cgroup.procs").read_text().split())
        except OSError:
            return 0

    def limit_hit(self) -> str | None:
        """Which limit the kernel enforced, if any: "memory" (a process was OOM-killed) or "processes"."""
        if self._counter(self.memory / ("memory.events" if self.v2 else "memory.oom_control"), "oom_kill"):
            return "memory"
        if self._counter(self.pids / "pids.events", "max") or self.processes() > self.max_processes:
            return "processes"
        return None

    def peak_bytes(self) -> int:
        """The job's peak memory (its page cache included), as the kernel counted it."""
        for name in ("memory.peak", "memory.max_usage_in_bytes"):
            try:
                self._peak = max(self._peak, int((self.memory / name).read_text()))
            except (OSError, ValueError):
                continue
        return self._peak

    def close(self) -> None:
        """Kill whatever is left in the cgroup (daemons of an unsandboxed run too), then remove it."""
        self.peak_bytes()
        deadline = time.monotonic() + 5
        for d in self.dirs:
            while d.exists():
                try:
                    pids = [int(p) for p in (d / "cgroup.procs").read_text().split()]
                except (OSError, ValueError):
                    pids = []
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                try:
                    d.rmdir()
                except OSError:
                    if time.monotonic() > deadline:
                        break  # left for the machine's owner: an empty cgroup costs nothing
                    time.sleep(0.02)


def create(memory_bytes: int, max_processes: int) -> JobCgroup | None:
    parents = _parents()
    if parents is None:
        return None
    try:
        return JobCgroup(parents, memory_bytes, max_processes)
    except OSError:
        return None
