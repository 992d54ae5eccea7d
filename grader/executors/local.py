"""This machine's executor (the default): a pool of threads, each job holding one GPU (or CPU) slot.

A thread spends its job waiting on the student's process and on the evaluator, so threads are
enough; one trusted evaluator, kept warm, serves them all.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from .. import devices, results
from ..devices import Slots
from ..exercise import Exercise
from ..jobs import Options, grade
from ..schema import JobResult, JobStatus, new_result
from ..text import Text
from . import Job


class LocalExecutor:
    """``workers`` jobs at a time, each on a placement taken from ``slots`` while it runs."""

    def __init__(self, slots: Slots, workers: int, backend: str | None):
        self.slots, self.workers, self.backend = slots, max(1, workers), backend

    def grade(self, jobs: list[Job], opts: Options, *, on_start: Callable[[], None],
              on_result: Callable[[JobResult], None]) -> list[JobResult]:
        from ..evaluation.client import Evaluator

        done: list[JobResult] = []
        with Evaluator(backend=self.backend) as evaluator:

            def one(job: Job) -> None:
                student, ex, sub = job
                on_start()
                try:
                    with self.slots.acquire() as placement:
                        result = grade(student, ex, sub, evaluator, replace(opts, placement=placement))
                except Exception as e:  # an internal error costs one job, never the class
                    result = internal_error(student, ex, e)
                    if opts.results_dir:
                        results.write(opts.results_dir, result)
                done.append(result)
                on_result(result)

            with ThreadPoolExecutor(self.workers) as pool:
                list(pool.map(one, jobs))
        return done


def grade_side_by_side(student: str, targets: list[tuple[Exercise, Path | None]], opts: Options,
                       jobs: int | None = None, per_gpu: int = 8) -> list[JobResult]:
    """Grade one student's exercises (``grade run`` on a repository) at once on this machine's cores or GPUs, each
    with a fair share of the cores; the results in the order of ``targets``.

    One after another, five exercises in quick mode took 47 s on 2 cores, nearly all of it single-threaded
    start-up (Python, TensorFlow, the evaluator's model loading) that a second job overlaps.

    On the CPU the threads each job gets (``devices.threads_per_job``) depend on the cores and on ``targets`` (the
    course's exercises, submitted or not), never on what is submitted or on the memory free now: the last bits of a
    sum depend on how many threads split it, and a re-run must give the same numbers. Only how many run at once
    follows the memory.
    """
    submitted = sum(sub is not None for _, sub in targets)
    gpus = devices.gpus()
    if gpus:
        slots = Slots(list(gpus), per_gpu)
        workers = jobs or slots.size
    else:
        slots = Slots([], per_gpu, cpu_jobs=max(1, jobs or min(len(targets), devices.usable_cpus())))
        workers = jobs or devices.cpu_jobs(max(1, submitted))
    done = LocalExecutor(slots, workers=min(workers, max(1, len(targets))), backend=opts.backend).grade(
        [(student, ex, sub) for ex, sub in targets], opts, on_start=lambda: None, on_result=lambda result: None)
    order = {ex.id: i for i, (ex, _) in enumerate(targets)}
    return sorted(done, key=lambda result: order[result["exercise"]])


def internal_error(student: str, ex: Exercise, e: BaseException) -> JobResult:
    """The result of a job the grader's own code failed: not graded, and the maintainers should hear of it."""
    return new_result(student, ex.id, status=JobStatus.GRADER_ERROR, score=None, checks=[], max_score=ex.max_score,
                      error=Text(f"internal grader error: {type(e).__name__}: {e}; report it to the grader's "
                                 "maintainers with this submission",
                                 f"erro interno do corretor: {type(e).__name__}: {e}; informe os mantenedores "
                                 "do corretor, com esta entrega"))
