"""The graded model as the checks see it, whatever framework trained it.

The checks never touch a Keras (or PyTorch) object: they ask a ``GradedModel`` for its outputs, the
kinds of its layers or operators, its input shape and its loss. A framework the grader accepts is
one more implementation of this interface, loaded from a file the student's process left, without
running the student's Python (a ``.keras`` archive in safe mode; an ONNX graph). The framework's
record (``grader/frameworks.py``) names the function that loads it and says how it names its layers.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class GradedModel(Protocol):
    #: the framework the student's program trained it with: its id in ``grader/frameworks.py``'s table
    framework: str

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The model's outputs on ``x`` (one row per input row), as a NumPy array."""

    def layer_kinds(self) -> list[str]:
        """What the model is made of, in order: Keras layer class names (``Dense``, ``Conv2D``) or ONNX operator
        types (``Gemm``, ``Conv``); the architecture checks match these against the exercise's rules."""

    def input_shapes(self) -> list[tuple[int | None, ...]]:
        """The shape of each input, the batch dimension first (None where any size is accepted)."""

    def loss(self) -> str | None:
        """The loss the model was trained with, as the framework names it, when the saved model says."""
