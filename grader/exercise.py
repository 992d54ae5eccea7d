"""Exercises: ``assignments/<id>/exercise.toml`` read into one immutable object."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import course_root
from .errors import GraderError
from .frameworks import DEFAULT as DEFAULT_FRAMEWORK
from .frameworks import TABLE as FRAMEWORKS

SUBMISSION_SUFFIXES = (".py", ".ipynb")
#: quick mode's wall clock when exercise.toml's [quick] gives none: fit is capped at a few epochs, so a
#: program still running after this is stuck (a `while True`), and CI feedback should not wait 30 minutes
QUICK_WALL_CLOCK_S = 300.0


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    dataset: str
    checks: dict[str, dict[str, Any]]
    limits: dict[str, Any]
    quick_epochs: int
    workdir_data: list[str] = field(default_factory=list)
    #: the frameworks a submission may be written with (ids of ``grader/frameworks.py``'s table: "keras",
    #: "torch"); not Keras's backend, which is the grader's choice for every Keras program
    frameworks: tuple[str, ...] = (DEFAULT_FRAMEWORK.id,)
    config_sha256: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def max_score(self) -> float:
        return float(sum(c.get("points", 0) for c in self.checks.values()))

    @property
    def noise_std(self) -> float:
        """The measured run-to-run standard deviation of the test error in points (``[noise] std``; 0: unmeasured)."""
        return float(self.raw.get("noise", {}).get("std", 0.0))

    @property
    def noise_k(self) -> float:
        """How many standard deviations count as noise (``[noise] k``)."""
        return float(self.raw.get("noise", {}).get("k", 3.0))

    @property
    def noise_band(self) -> float:
        """Half-width of the band around a threshold boundary where one run cannot decide (k x std), in points."""
        return self.noise_k * self.noise_std

    def thresholds(self) -> dict[str, tuple[float, float]]:
        """Each threshold check of this exercise: name -> (full_credit_max, zero_credit_min)."""
        return {name: (float(c["full_credit_max"]), float(c["zero_credit_min"])) for name, c in self.checks.items()
                if c.get("check", name) == "threshold"}

    def timeout(self, gpu: bool = False, quick: bool = False) -> float:
        full = float(self.limits["wall_clock_gpu_s" if gpu else "wall_clock_cpu_s"])
        return min(full, float(self.raw.get("quick", {}).get("wall_clock_s", QUICK_WALL_CLOCK_S))) if quick else full

    def find_submission(self, folder: Path) -> Path | None:
        """``folder/<id>.py`` or ``folder/<id>.ipynb`` (the script wins when both exist)."""
        for suffix in SUBMISSION_SUFFIXES:
            if (folder / f"{self.id}{suffix}").is_file():
                return folder / f"{self.id}{suffix}"
        return None


def exercise_ids(root: Path | None = None) -> list[str]:
    root = root or course_root()
    return sorted(p.parent.name for p in (root / "assignments").glob("*/exercise.toml"))


def load(exercise_id: str, root: Path | None = None) -> Exercise:
    root = root or course_root()
    path = root / "assignments" / exercise_id / "exercise.toml"
    if not path.is_file():
        known = ", ".join(exercise_ids(root)) or "none"
        raise GraderError(f"unknown exercise {exercise_id!r} (no {path}); known exercises: {known}")
    raw_bytes = path.read_bytes()
    try:
        cfg = tomllib.loads(raw_bytes.decode())
        return Exercise(
            id=cfg["id"], title=cfg["title"], dataset=cfg["dataset"],
            checks=cfg["checks"], limits=cfg["limits"], quick_epochs=int(cfg["quick"]["epochs"]),
            workdir_data=list(cfg.get("workdir_data", [])),
            frameworks=_frameworks(cfg.get("frameworks", [DEFAULT_FRAMEWORK.id])),
            config_sha256=hashlib.sha256(raw_bytes).hexdigest(), raw=cfg,
        )
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as e:
        raise GraderError(f"{path} is invalid ({type(e).__name__}: {e}); fix the file and run again") from e


def _frameworks(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or any(not isinstance(v, str) or v not in FRAMEWORKS for v in value):
        raise ValueError(f"frameworks must be a non-empty list of {', '.join(map(repr, FRAMEWORKS))}, not {value!r}")
    return tuple(value)
