"""Per-exercise checks: ``grader/exercises/<id>.py`` may register checks beyond the generic ones."""

from __future__ import annotations

import importlib

from ..checks import REGISTRY, CheckFn


def load_checks(exercise_id: str) -> dict[str, CheckFn]:
    """The generic checks plus those the exercise's own module registers (if it has one)."""
    try:
        importlib.import_module(f"{__name__}.{exercise_id}")
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.{exercise_id}":
            raise
    return REGISTRY
