"""Scale-out past one machine on Ray: ``grade all --executor ray [--address ray://...]``.

Each grading worker is a Ray actor that keeps its own trusted evaluator warm (importing Keras
costs seconds, a job should not pay it); each job is one call on a free actor, holding
``gpus_per_job`` of a GPU (Ray sets the actor's ``CUDA_VISIBLE_DEVICES``). The submission
travels as bytes and the result (with its kept figures) comes back to the driver, which
writes the same result store as the local executor: no folder the nodes share is needed for
submissions or results. Each node needs the grader installed, the course folder at the same
path (or ``KERAS_GRADER_COURSE``) and its data cache filled (``grade data fetch``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypedDict

from ..errors import GraderError
from ..exercise import Exercise
from ..jobs import Options
from ..schema import JobResult, JobStatus, new_result
from ..text import Text
from . import Job


class Graded(TypedDict):
    """What a worker sends back: the result, and the artifacts it kept (name -> bytes), for the driver to store."""

    result: JobResult
    artifacts: dict[str, bytes]


class GradingWorker:
    """One Ray actor: grades jobs one at a time with a warm evaluator."""

    def __init__(self, backend: str | None):
        from ..evaluation.client import Evaluator

        self.evaluator = Evaluator(backend=backend)

    def placement(self) -> Any:
        import ray

        from .. import devices

        ids = [str(i) for i in ray.get_gpu_ids()]
        if not ids:
            return devices.Placement(None)
        names = {g.index: g.name for g in devices.gpus()}
        return devices.Placement(devices.Gpu(",".join(ids), names.get(ids[0], "GPU")))

    def grade(self, student: str, ex: Exercise, filename: str, content: bytes, opts: Options) -> Graded:
        from dataclasses import replace

        from ..jobs import grade
        from ..results import artifacts_dir

        with tempfile.TemporaryDirectory(prefix="keras-grader-ray-") as tmp:
            sub = Path(tmp) / "submissions" / student / filename
            sub.parent.mkdir(parents=True)
            sub.write_bytes(content)
            local = replace(opts, results_dir=Path(tmp) / "results", keep_dir=None, force=True,
                            placement=self.placement())
            result = grade(student, ex, sub, self.evaluator, local)
            kept = artifacts_dir(local.results_dir, student, ex.id)
            return Graded(result=result,
                          artifacts={name: (kept / name).read_bytes() for name in result.get("artifacts", [])})


class RayExecutor:
    """``workers`` Ray actors, each job holding ``gpus_per_job`` of a GPU (``address``: the cluster, else
    ``$RAY_ADDRESS``, else a Ray instance started here on loopback)."""

    def __init__(self, *, address: str | None, workers: int, gpus_per_job: float):
        self.address, self.workers, self.gpus_per_job = address, max(1, workers), gpus_per_job

    def grade(self, jobs: list[Job], opts: Options, *, on_start: Callable[[], None],
              on_result: Callable[[JobResult], None]) -> list[JobResult]:
        """Grade ``jobs`` on the actors; store each result as the local executor does."""
        try:
            import ray
        except ImportError as e:
            raise GraderError("--executor ray needs Ray: pip install 'ray>=2.40' (on every node of the cluster)") from e
        from .. import results
        from ..jobs import grade, job_key, submission_sha256, up_to_date
        from ..results import artifacts_dir

        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # Ray must not phone home
        address = self.address or os.environ.get("RAY_ADDRESS")
        if address:
            ray.init(address=address, log_to_driver=False)
        else:  # a local instance, on loopback only
            ray.init(num_cpus=self.workers, include_dashboard=False, log_to_driver=False,
                     _node_ip_address="127.0.0.1")
        done: list[JobResult] = []
        try:
            actor = ray.remote(num_cpus=1, num_gpus=self.gpus_per_job)(GradingWorker)
            idle = [actor.remote(opts.backend) for _ in range(self.workers)]
            todo = list(jobs)
            pending: dict[Any, tuple[Any, Job]] = {}

            def finish(result: JobResult) -> None:
                if opts.results_dir:
                    results.write(opts.results_dir, result)
                done.append(result)
                on_result(result)

            while todo or pending:
                while todo and idle:
                    job = todo.pop(0)
                    student, ex, sub = job
                    on_start()
                    if sub is None or (previous := up_to_date(student, ex, job_key(ex, submission_sha256(sub), opts),
                                                              opts)) is not None:
                        finish(grade(student, ex, None, None, opts) if sub is None else previous)  # type: ignore[arg-type]
                        continue
                    worker = idle.pop()
                    ref = worker.grade.remote(student, ex, sub.name, sub.read_bytes(), opts)
                    pending[ref] = (worker, job)
                if not pending:
                    continue
                ready, _ = ray.wait(list(pending), num_returns=1)
                worker, job = pending.pop(ready[0])
                student, ex, sub = job
                try:
                    out: Graded = ray.get(ready[0])
                except Exception as e:  # the actor died (or the node): this job is an error, a new actor takes over
                    ray.kill(worker)
                    worker = actor.remote(opts.backend)
                    result = new_result(student, ex.id, status=JobStatus.GRADER_ERROR, score=None, checks=[],
                                        max_score=ex.max_score,
                                        error=Text(f"the Ray worker failed while grading: {type(e).__name__}: {e}",
                                                   "o worker do Ray falhou durante a correção: "
                                                   f"{type(e).__name__}: {e}"))
                else:
                    result = out["result"]
                    result["submission"]["path"] = str(sub)
                    result["executor"] = "ray"
                    if opts.results_dir:
                        dest = artifacts_dir(opts.results_dir, student, ex.id)
                        shutil.rmtree(dest, ignore_errors=True)
                        dest.mkdir(parents=True, exist_ok=True)
                        for name, blob in out["artifacts"].items():
                            (dest / name).write_bytes(blob)
                idle.append(worker)
                finish(result)
        finally:
            ray.shutdown()
        return done
