"""Where the trusted evaluation runs: one long-lived worker process that imports Keras once.

If a hostile model crashes the worker, the job gets an ``error`` result and a
fresh worker serves the next one.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from . import evaluate


class EvaluationFailed(Exception):
    pass


class Evaluator:
    def __init__(self, timeout: float = 600.0, backend: str | None = None):
        self.timeout = timeout
        self.backend = backend
        self._pool: ProcessPoolExecutor | None = None
        self._used = False

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # the worker inherits it: no TF banner per run
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=evaluate.warm_up, initargs=(self.backend,))
        return self._pool

    def evaluate(self, job: dict[str, Any]) -> dict[str, Any]:
        self._used = True
        try:
            future = self._get_pool().submit(evaluate.evaluate_job, job)
            return future.result(timeout=self.timeout)
        except BrokenProcessPool as e:
            self.close(kill=True)
            raise EvaluationFailed("the evaluator process died while grading this submission "
                                   "(the saved model may be hostile or corrupted)") from e
        except FutureTimeout as e:
            self.close(kill=True)
            raise EvaluationFailed(f"evaluating this submission took longer than {self.timeout:.0f} s") from e

    def close(self, kill: bool = False) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        kill = kill or not self._used  # never needed (every result up to date): do not wait for its warm-up
        if kill:
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.kill()
        pool.shutdown(wait=not kill, cancel_futures=True)

    def __enter__(self) -> Evaluator:
        # start the worker now: its Keras import (seconds) overlaps the first student's run
        self._get_pool().submit(int)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
