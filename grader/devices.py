"""Where student programs train: GPU discovery and job slots that pack several jobs per GPU.

One small dense network uses a sliver of a modern GPU, and the host CPU that runs Keras's step
loop is the real bottleneck (docs/scale.md: 8 concurrent trainings on one H100 gave 3.3x the
throughput of one). So each GPU offers ``per_gpu`` slots; a job holds one slot while its
student program runs and sees only that GPU (``CUDA_VISIBLE_DEVICES``), with the flags that
stop TensorFlow, JAX and torch from taking the whole GPU's memory.
"""

from __future__ import annotations

import functools
import os
import queue
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .errors import GraderError

#: Let several processes share one GPU: allocate as needed instead of grabbing (most of) it at start.
SHARING_ENV = {
    "TF_FORCE_GPU_ALLOW_GROWTH": "true",         # TensorFlow
    "XLA_PYTHON_CLIENT_PREALLOCATE": "false",    # JAX
    "PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True",  # torch: grows in place, less fragmentation
}


@dataclass(frozen=True)
class Gpu:
    index: str
    name: str
    memory_mb: int | None = None


@dataclass(frozen=True)
class Placement:
    """Where one job runs: a GPU, or the CPU (then every GPU is hidden from the program)."""

    gpu: Gpu | None = None
    threads: int | None = None   # CPU threads the program may use when jobs run side by side

    @property
    def label(self) -> str:
        return "cpu" if self.gpu is None else f"{self.gpu.name} (GPU {self.gpu.index})"

    def env(self) -> dict[str, str]:
        env = {"CUDA_VISIBLE_DEVICES": ""} if self.gpu is None else {"CUDA_VISIBLE_DEVICES": self.gpu.index,
                                                                       **SHARING_ENV}
        if self.threads:  # packed jobs must not each start one thread per core
            n = str(self.threads)
            env.update({"OMP_NUM_THREADS": n, "TF_NUM_INTRAOP_THREADS": n, "TF_NUM_INTEROP_THREADS": "2",
                        "XLA_FLAGS": f"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads={n}"})
        return env


CPU = Placement()


def parse_nvidia_smi(text: str) -> list[Gpu]:
    """``nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader,nounits`` -> GPUs."""
    found = []
    for line in text.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 2 and parts[0].isdigit():
            memory = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else None
            found.append(Gpu(parts[0], parts[1], memory))
    return found


@functools.cache
def gpus() -> tuple[Gpu, ...]:
    """The NVIDIA GPUs of this machine (none without a driver)."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return ()
    try:
        out = subprocess.run([smi, "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(parse_nvidia_smi(out.stdout)) if out.returncode == 0 else ()


def select(spec: str | None, available: tuple[Gpu, ...] | None = None) -> list[Gpu]:
    """``--gpus``: ``all`` (default), ``none``, or indices such as ``0,2``."""
    available = gpus() if available is None else available
    if spec in (None, "", "all"):
        return list(available)
    if spec == "none":
        return []
    wanted = [s.strip() for s in spec.split(",") if s.strip()]
    by_index = {g.index: g for g in available}
    unknown = [w for w in wanted if w not in by_index]
    if unknown:
        have = ", ".join(f"{g.index} ({g.name})" for g in available) or "none"
        raise GraderError(f"--gpus {spec}: no GPU {', '.join(unknown)} on this machine (GPUs: {have}); "
                          "give indices from nvidia-smi, 'all' or 'none'")
    return [by_index[w] for w in wanted]


#: What one CPU job of a dense network takes at most, in quick mode or not (the student's process with
#: TensorFlow loaded and MNIST in memory: 1.0-1.6 GiB measured; the evaluator is shared).
CPU_JOB_MB = 2048


def usable_cpus() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def cpu_jobs(jobs_wanted: int, cpus: int | None = None, available_mb: int | None = None) -> int:
    """How many of ``jobs_wanted`` CPU jobs to run at once: one per core this process may use, as far as the
    memory available now holds ``CPU_JOB_MB`` for each (a student's laptop with 8 GiB and 8 cores runs 3)."""
    if cpus is None:
        cpus = usable_cpus()
    if available_mb is None:
        available_mb = _available_mb()
    by_memory = available_mb // CPU_JOB_MB if available_mb is not None else cpus
    return max(1, min(jobs_wanted, cpus, by_memory))


def _available_mb() -> int | None:
    """MemAvailable of /proc/meminfo in MiB (None where there is none: not Linux)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def threads_per_job(concurrent: int, cpus: int | None = None) -> int | None:
    """CPU threads for each of ``concurrent`` jobs: a fair share of the cores (None: one job, all cores)."""
    cpus = cpus or os.cpu_count() or 1
    return None if concurrent <= 1 else max(1, cpus // concurrent)


class Slots:
    """``per_gpu`` slots on each GPU, or ``cpu_jobs`` CPU slots when there is no GPU."""

    def __init__(self, selected: list[Gpu], per_gpu: int, cpu_jobs: int = 1):
        if per_gpu < 1 or cpu_jobs < 1:
            raise GraderError("--jobs and --jobs-per-gpu must be at least 1")
        gpu_slots = len(selected) * per_gpu
        threads = threads_per_job(gpu_slots or cpu_jobs)
        placements = ([Placement(g, threads) for _ in range(per_gpu) for g in selected]
                      or [Placement(None, threads)] * cpu_jobs)
        self.size = len(placements)
        self._free: queue.Queue[Placement] = queue.Queue()
        for p in placements:  # round-robin over GPUs: the first jobs spread before they stack
            self._free.put(p)

    @contextmanager
    def acquire(self) -> Iterator[Placement]:
        placement = self._free.get()
        try:
            yield placement
        finally:
            self._free.put(placement)
