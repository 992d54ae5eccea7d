"""How ``grade all`` runs its jobs: on this machine (``local.py``) or on a Ray cluster (``ray.py``).

Both are one ``Executor``: they take the same jobs and options, tell the caller as each job starts and
finishes (the CLI draws its progress from that), store every result in ``opts.results_dir`` as
``jobs.grade`` does, and return the results; ``grade all --executor`` picks one, through ``choose``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..devices import Gpu
    from ..exercise import Exercise
    from ..jobs import Options
    from ..schema import JobResult

#: One job: a student's name, an exercise, and the student's submission of it (None: nothing submitted).
Job = tuple[str, "Exercise", Path | None]


class Executor(Protocol):
    def grade(self, jobs: list[Job], opts: Options, *, on_start: Callable[[], None],
              on_result: Callable[[JobResult], None]) -> list[JobResult]:
        """Grade every job, stored as it finishes; ``on_start()`` as a job starts, ``on_result(result)`` as it
        ends (from any thread); returns the results in the order they finished."""


def choose(kind: str, *, gpus: list[Gpu], jobs: int | None, per_gpu: int, backend: str | None,
           address: str | None = None) -> tuple[Executor, int]:
    """The executor ``grade all --executor`` names and how many jobs it runs at once.

    ``jobs`` at once where given, else every slot of the ``gpus`` (``per_gpu`` each), else one on the CPU; on Ray
    each job holds ``1 / per_gpu`` of a GPU when there are GPUs.
    """
    from ..devices import Slots

    slots = Slots(gpus, per_gpu, cpu_jobs=jobs or 1)
    workers = jobs or slots.size
    if kind == "ray":
        from .ray import RayExecutor

        return RayExecutor(address=address, workers=workers, gpus_per_job=(1 / per_gpu) if gpus else 0.0), workers
    from .local import LocalExecutor

    return LocalExecutor(slots, workers=workers, backend=backend), workers
