"""What the base probe and a framework's probe may ask of each other, and nothing more.

The base probe (``probe.py``) is installed before the student's code: it owns the events log, the data sets
served offline, the seed, the model ids and the count of fits, and it watches Keras itself. A framework
whose programs Keras's wrappers cannot see (plain PyTorch) has a probe of its own, named in the framework's
record (``grader/frameworks.py``) and made when the program imports the framework. The two meet only through
these two interfaces: the framework's probe gets a ``Witness`` (it never imports ``probe.py`` or reaches into
its state), and the base probe sees a ``FrameworkProbe`` (it never imports the framework's module by name).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np


class Witness(Protocol):
    """The base probe, as a framework's probe sees it."""

    art: Path                              # the artifacts folder (``handover.py`` names its files)
    seed: int | None
    quick_epochs: int | None               # quick mode's cap on epochs; None: a full run
    n_test: int                            # the test set's row count
    datasets: dict[str, dict[str, Any]]    # the data sets served offline (``handover.ChildSpec.datasets``)

    def event(self, name: str, /, **fields: Any) -> None:
        """Record one event in ``events.jsonl``."""

    def notice(self, msg: str) -> None:
        """Tell the student's output what the grader did (``[grader] ...``)."""

    def dataset(self, name: str, **recorded: Any) -> dict[str, np.ndarray]:
        """A served data set's arrays from the verified cache, its loading recorded."""

    def model_id(self, model: Any) -> int:
        """The model's id in the events (shared with Keras's models)."""

    def model(self, model_id: int) -> Any:
        """The object last used under ``model_id``: the one graded."""

    def new_fit(self, model_id: int) -> int:
        """Count one more fit (training) of model ``model_id``; its index among all fits, Keras's included."""

    def looks_like_training_set(self, x: np.ndarray) -> bool:
        """Whether inputs with the test set's row count are the training set's rows (noisynote: same counts)."""


class FrameworkProbe(Protocol):
    """A framework's probe, as the base probe sees it; made as ``Class(witness)``."""

    def install(self, module: Any) -> None:
        """Patch the framework, just imported by the student's program (``module``)."""

    def hooks(self) -> dict[str, Callable[[Any], None]]:
        """More modules to patch right after the program imports them (torchvision's data sets)."""

    @property
    def n_fits(self) -> int:
        """How many fits (trained models) it recorded."""

    def finalize(self, summary: dict[str, Any]) -> None:
        """The program trained with this framework alone: write the graded model's hand-over file and the test
        inputs, and fill ``summary`` (its ``framework``, ``model_file`` or ``save_error``)."""
