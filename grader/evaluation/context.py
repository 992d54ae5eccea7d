"""What the checks know about one finished run: the ``Context`` (``evaluator.build_context`` fills it in).

The checks read facts here and nowhere else: the exercise, the student's source, what the probe
recorded (read with ``artifacts``), the trusted reference data, and the graded model as a
``GradedModel`` (never a Keras object), with its predictions on the captured test inputs.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import Untrusted
from ..exercise import Exercise
from ..fingerprint import fingerprints
from ..handover import fit_x, fit_y
from ..text import Text
from .artifacts import read_array
from .model import GradedModel

if TYPE_CHECKING:
    from .correspondence import RowMatch


@dataclass(frozen=True)
class Problem:
    """Why a fact the checks need (the graded model, its test inputs, its predictions) is missing.

    One check states it in full, with what to do: ``runs`` when the program's run is the cause, else the
    first check that needs the fact. Every other check that needs it is "not reached" and names the cause
    in short, so the student reads one root cause, not each check's advice for a step never reached.
    """
    message: Text          # in full, with what to do
    short: Text            # the cause alone, e.g. "the program stopped with SyntaxError at line 3"

    def __post_init__(self) -> None:
        if not (isinstance(self.message, Text) and isinstance(self.short, Text)):  # read in both languages
            raise TypeError("a Problem's message and short are Texts (English and Portuguese)")


@dataclass
class Context:
    exercise: Exercise
    quick: bool
    quick_epochs: int
    source: str
    statements: list[dict[str, Any]]  # what the student wrote that may state a test error (claims.statements)
    returncode: int | None
    timed_out: bool
    limit_s: float
    limit_hit: str | None
    artifacts: Path
    ref_x_test: np.ndarray
    ref_y_test: np.ndarray
    ref_x_train: np.ndarray
    events: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    exception: dict[str, Any] | None = None
    model: GradedModel | None = None
    model_problem: Problem | None = None        # why there are no predictions of the graded model
    test_x: np.ndarray | None = None
    test_inputs_problem: Problem | None = None  # why there are no test inputs
    run_problem: Problem | None = None          # why the program did not do its work (checks.run_problem)
    test_source: Text = Text.same("")           # where the test inputs were captured ("model.predict at line 9")
    test_source_kind: str = ""
    #: the in-order verdict on the test inputs (correspondence_texts' answer), once build_context has read them
    correspondence: tuple[bool, Text, dict[str, Any]] | None = None
    #: the test rows found by content, when the inputs were the test set in another order or with extra rows
    #: (``test_x`` and ``child_pred`` are then the captured rows picked and put in the test set's order)
    row_match: RowMatch | None = None
    source_kind: str = ""            # 'py' (source is the file: its lines are file lines) or 'ipynb' ('' if unknown)
    #: the exercise's checks ready to run, by entry name (``exercises.Configured``: function and typed parameters)
    checks: dict[str, Any] = field(default_factory=dict)
    child_pred: np.ndarray | None = None
    test_pred: np.ndarray | None = None
    test_classes: np.ndarray | None = None
    test_error: float | None = None
    logits: bool = False
    train_fingerprints: list[np.ndarray] = field(default_factory=list)
    val_fingerprints: dict[int, np.ndarray] = field(default_factory=dict)
    #: seconds of each stage of the evaluation so far (``lap``): for the benchmark's breakdown
    stages: dict[str, float] = field(default_factory=dict)
    _lap: float = field(default_factory=time.perf_counter, repr=False)

    def lap(self, stage: str) -> None:
        """Record the seconds since the last lap (or since the context was made) as ``stage``'s."""
        now = time.perf_counter()
        self.stages[stage] = round(self.stages.get(stage, 0.0) + now - self._lap, 3)
        self._lap = now

    @functools.cached_property
    def test_fingerprints(self) -> np.ndarray:
        return fingerprints(self.test_x)

    def decode(self, out: np.ndarray) -> np.ndarray:
        """Class ids from model outputs: argmax, or a threshold for a single output unit."""
        out = np.asarray(out, dtype=np.float64).reshape(len(out), -1)
        if out.shape[1] == 1:
            return (out[:, 0] > (0.0 if self.logits else 0.5)).astype(int)
        return out.argmax(1)

    @property
    def graded_model_id(self) -> int | None:
        gm = self.summary.get("graded_model")
        return gm if isinstance(gm, int) else None

    def events_of_graded(self, name: str) -> list[dict[str, Any]]:
        """The graded model's events of one kind (compile, fit_start), oldest first."""
        return [ev for ev in self.events if ev["event"] == name and ev.get("model") == self.graded_model_id]

    def fit_arrays(self, fit: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The whole x and y of a small fit (hard-coded data), when the probe kept them."""
        try:
            return read_array(self.artifacts / fit_x(fit)), read_array(self.artifacts / fit_y(fit))
        except Untrusted:
            return None, None

    def fit_line(self, fit: int) -> int | None:
        for ev in self.events:
            if ev["event"] == "fit_start" and ev.get("fit") == fit and isinstance(ev.get("caller"), dict):
                return ev["caller"].get("line")
        return None
