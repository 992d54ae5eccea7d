"""How ``grade all`` runs its jobs: on this machine (``local.py``) or on a Ray cluster (``ray.py``).

Both are one ``Executor``: they take the same jobs and options, tell the caller as each job starts and
finishes (the CLI draws its progress from that), store every result in ``opts.results_dir`` as
``jobs.grade`` does, and return the results; ``grade all --executor`` picks one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
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
