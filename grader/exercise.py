"""Exercises: ``assignments/<id>/exercise.toml`` read once into one immutable, validated object.

The keys each table may hold, their types, defaults and ranges are declared here (``Exercise`` and its
tables); a check's own parameters (``[checks.<name>]`` beyond ``check``, ``points`` and ``requires``) are
declared with the check (``evaluation.checks.CheckSet.check(name, params=...)``) and validated against it
by ``evaluation.exercises.configure``. docs/exercises.md lists them all.
"""

from __future__ import annotations

import difflib
import hashlib
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, PrivateAttr

from .config import Section, course_root, read_toml, requirement, validate
from .errors import ConfigError, GraderError
from .frameworks import DEFAULT as DEFAULT_FRAMEWORK
from .frameworks import TABLE as FRAMEWORKS
from .text import Text

SUBMISSION_SUFFIXES = (".py", ".ipynb")
#: quick mode's wall clock when exercise.toml's [quick] gives none: fit is capped at a few epochs, so a
#: program still running after this is stuck (a `while True`), and CI feedback should not wait 30 minutes
QUICK_WALL_CLOCK_S = 300.0
#: what a program may be written with (exercise.toml's ``frameworks``): an id of the framework table
FrameworkId = Literal[tuple(FRAMEWORKS)]  # type: ignore[valid-type]
EXERCISE_FILE = "exercise.toml"


class Limits(Section):
    """``[limits]``: what the student's run may use (the sandbox enforces them: docs/sandbox.md)."""

    wall_clock_cpu_s: float = Field(gt=0, description="wall clock of a full run on the CPU, in seconds")
    wall_clock_gpu_s: float = Field(gt=0, description="wall clock of a full run on a GPU, in seconds")
    memory_mb: int = Field(6144, gt=0, description="resident memory of the student's whole process tree, in MiB")
    max_processes: int = Field(256, ge=1, description="processes and threads of the student's run")
    output_bytes: int = Field(8 * 2**20, ge=1, description="output kept per stream (stdout, stderr); the middle is "
                              "cut beyond it")
    disk_mb: int = Field(2048, gt=0, description="work dir and artifacts, in MiB")
    cell_timeout_s: float = Field(0, ge=0, description="a notebook's per-cell limit in seconds (0: the wall clock "
                                  "only)")


class Quick(Section):
    """``[quick]``: `--quick` (CI feedback): fit capped, threshold checks not graded."""

    epochs: int = Field(ge=1, description="every `fit` is capped at this many epochs")
    steps: int | None = Field(None, ge=1, description="and a Keras `fit` stops after this many training batches, "
                              "its epochs together (none: whole epochs)")
    wall_clock_s: float = Field(QUICK_WALL_CLOCK_S, gt=0, description="wall clock of a quick run, in seconds")


class Starter(Section):
    """``[starter]``: what `grade check-solutions` demands of the starter."""

    must_fail: list[str] = Field([], description="checks of this exercise the starter must not pass (it must fail "
                                 "one of them)")


class Noise(Section):
    """``[noise]``: the measured run-to-run spread of the test error (docs/reproducibility.md)."""

    std: float = Field(0.0, ge=0, description="standard deviation of the test error in points (0: unmeasured)")
    k: float = Field(3.0, gt=0, description="how many standard deviations count as noise")


class CheckEntry(Section):
    """``[checks.<name>]``: one check the exercise runs, in file order. Keys beyond these three are the check's own
    parameters, declared by the check and validated against that declaration (``evaluation.exercises``)."""

    model_config = ConfigDict(extra="allow")

    check: str | None = Field(None, description="the registered check this entry runs (absent: the entry's name)")
    points: float = Field(0, ge=0, description="what the check is worth")
    requires: list[str] = Field([], description="checks of this exercise whose failure withholds this one's points")

    @property
    def params(self) -> dict[str, Any]:
        """The check's own parameters as written (validated by the check's declaration, not here)."""
        return dict(self.model_extra or {})


class Exercise(Section):
    """``assignments/<id>/exercise.toml``."""

    id: str = Field(description="the exercise's id: its folder's name, and the submitted file's (`<id>.py`)")
    title: str = Field(description="the title in English")
    title_pt: str | None = Field(None, description="the title in Portuguese (absent: the English one)")
    dataset: str = Field(description="the data set whose test set grades the model (`grader/datasets.py`)")
    workdir_data: list[str] = Field([], description="data sets copied into the work dir (the handout's files)")
    #: the frameworks a submission may be written with; not Keras's backend, which the grader chooses
    frameworks: tuple[FrameworkId, ...] = Field(
        (DEFAULT_FRAMEWORK.id,), strict=False, min_length=1, description="what a program may be written with (not Keras's "
        "backend)")
    limits: Limits = Field(description="the table [limits]")
    quick: Quick = Field(description="the table [quick]")
    starter: Starter = Starter()
    noise: Noise = Noise()
    checks: dict[str, CheckEntry] = Field(min_length=1, description="the checks, in the order they run")

    _config_sha256: str = PrivateAttr("")

    @property
    def config_sha256(self) -> str:
        """The sha256 of exercise.toml's bytes: a result is stale when it changes."""
        return self._config_sha256

    @property
    def quick_epochs(self) -> int:
        return self.quick.epochs

    @property
    def quick_steps(self) -> int | None:
        return self.quick.steps

    @property
    def title_text(self) -> Text:
        """The title in both languages (the English one where the file gives no Portuguese)."""
        return Text(self.title, self.title_pt) if self.title_pt else Text.same(self.title)

    @property
    def max_score(self) -> float:
        return float(sum(c.points for c in self.checks.values()))

    @property
    def noise_std(self) -> float:
        """The measured run-to-run standard deviation of the test error in points (``[noise] std``; 0: unmeasured)."""
        return self.noise.std

    @property
    def noise_k(self) -> float:
        """How many standard deviations count as noise (``[noise] k``)."""
        return self.noise.k

    @property
    def noise_band(self) -> float:
        """Half-width of the band around a threshold boundary where one run cannot decide (k x std), in points."""
        return self.noise_k * self.noise_std

    def timeout(self, gpu: bool = False, quick: bool = False) -> float:
        full = self.limits.wall_clock_gpu_s if gpu else self.limits.wall_clock_cpu_s
        return min(full, self.quick.wall_clock_s) if quick else full

    def find_submission(self, folder: Path) -> Path | None:
        """``folder/<id>.py`` or ``folder/<id>.ipynb`` (the script wins when both exist)."""
        for suffix in SUBMISSION_SUFFIXES:
            if (folder / f"{self.id}{suffix}").is_file():
                return folder / f"{self.id}{suffix}"
        return None


def exercise_ids(root: Path | None = None) -> list[str]:
    root = root or course_root()
    return sorted(p.parent.name for p in (root / "assignments").glob(f"*/{EXERCISE_FILE}"))


def load(exercise_id: str, root: Path | None = None) -> Exercise:
    """The exercise ``exercise_id`` of the course at ``root``; ``ConfigError`` with every problem of its file."""
    root = root or course_root()
    path = root / "assignments" / exercise_id / EXERCISE_FILE
    if not path.is_file():
        known = ", ".join(exercise_ids(root)) or "none"
        raise GraderError(f"unknown exercise {exercise_id!r} (no {path}); known exercises: {known}")
    ex, problems = load_problems(exercise_id, root)
    if problems or ex is None:
        raise ConfigError(problems)
    return ex


def load_problems(exercise_id: str, root: Path) -> tuple[Exercise | None, list[Text]]:
    """The exercise and every problem of its exercise.toml (all of them: `grade exercises --check` lists them).

    The exercise comes back whenever its tables could be read, even with problems in how they refer to one
    another, so that the caller can still validate its checks' parameters and list those problems too."""
    path = root / "assignments" / exercise_id / EXERCISE_FILE
    try:
        data = read_toml(path)
    except ConfigError as e:
        return None, e.problems
    ex, problems = validate(Exercise, data, path, requirement(root))
    if ex is None:
        return None, problems
    ex._config_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    if ex.id != exercise_id:
        problems.append(Text(f"{path}: id = \"{ex.id}\" is not the folder's name, {exercise_id}: make them the same "
                             "(the id names the submitted file) and run again",
                             f"{path}: id = \"{ex.id}\" não é o nome da pasta, {exercise_id}: faça-os iguais (o id "
                             "dá nome ao arquivo entregue) e rode de novo"))
    # a name in requires or must_fail that is no check of this exercise would silently mean nothing
    for owner, names in [*((f"[checks.{n}] requires", c.requires) for n, c in ex.checks.items()),
                         ("[starter] must_fail", ex.starter.must_fail)]:
        for name in names:
            if name not in ex.checks:
                close = difflib.get_close_matches(name, list(ex.checks), n=1)
                problems.append(Text(
                    f"{path}: {owner} names {name}, which is no check of this exercise"
                    + (f"; did you mean {close[0]}?" if close else "") + f" (its checks: {', '.join(ex.checks)}): "
                    "fix the file and run again",
                    f"{path}: {owner} cita {name}, que não é verificação deste exercício"
                    + (f"; você quis dizer {close[0]}?" if close else "") + f" (as verificações dele: "
                    f"{', '.join(ex.checks)}): corrija o arquivo e rode de novo"))
    return ex, problems
