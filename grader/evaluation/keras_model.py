"""The ``GradedModel`` of a Keras program: the ``.keras`` archive the probe saved, loaded without running Python.

Keras is imported inside the methods: the CLI imports the evaluation's modules (for their names) and must
start without TensorFlow; the evaluator process imports Keras once (``evaluator.warm_up``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..forward import outputs
from ..text import Text
from .artifacts import archive_config, archive_problem
from .context import Problem


class KerasModel:
    """A Keras model loaded in safe mode (no Lambda layer, no custom class), seen through ``GradedModel``."""

    framework = "keras"

    def __init__(self, model: Any, config: dict[str, Any] | None = None):
        self.model = model
        self.config = config or {}  # the archive's config.json, read as plain JSON

    @classmethod
    def load(cls, path: Path) -> KerasModel | Problem:
        """The model the probe saved at ``path``, or why it cannot be graded.

        The archive is read as a plain zip first (``artifacts.archive_problem``): the student's process
        may have written over it. Keras then loads it with ``safe_mode=True`` and without compiling it.
        """
        if not path.is_file():
            return Problem(Text("the graded model file is missing", "o arquivo do modelo avaliado não existe"),
                           Text("the graded model file is missing", "o arquivo do modelo avaliado não existe"))
        if problem := archive_problem(path):
            return Problem(Text("the graded model file is not a valid Keras file: ",
                                "o arquivo do modelo avaliado não é um arquivo Keras válido: ") + problem,
                           Text("the graded model file is not a valid Keras file",
                                "o arquivo do modelo avaliado não é um arquivo Keras válido"))
        import keras

        try:
            model = keras.saving.load_model(path, safe_mode=True, compile=False)
        except Exception as e:
            msg = str(e).splitlines()[0][:300] if str(e) else type(e).__name__
            unsafe = "safe_mode" in str(e) or "Lambda" in str(e) or "custom" in str(e).lower()
            hint = (Text("Lambda layers and custom Python classes cannot be loaded safely: use built-in Keras layers",
                         "Camadas Lambda e classes Python próprias não podem ser carregadas com segurança: use "
                         "camadas nativas do Keras") if unsafe
                    else Text("use built-in Keras layers and a standard Sequential or functional model",
                              "Use camadas nativas do Keras e um modelo Sequential ou funcional padrão"))
            return Problem(Text(f"the graded model could not be loaded ({type(e).__name__}: {msg}). ",
                                f"o modelo avaliado não pôde ser carregado ({type(e).__name__}: {msg}). ") + hint,
                           Text("the graded model could not be loaded", "o modelo avaliado não pôde ser carregado"))
        return cls(model, archive_config(path))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The model's outputs on ``x``: called eagerly in batches (``forward.outputs``), else through ``predict``."""
        out = outputs(self.model, x)
        return out if out is not None else np.asarray(self.model.predict(x, batch_size=1000, verbose=0))

    def layer_kinds(self) -> list[str]:
        return [type(layer).__name__ for layer in _all_layers(self.model)]

    def input_shapes(self) -> list[tuple[int | None, ...]]:
        """Each input's shape; [] for a model whose inputs were never defined (a subclassed model never built)."""
        try:
            return [tuple(tensor.shape) for tensor in self.model.inputs]
        except Exception:  # noqa: BLE001 - Keras raises AttributeError or ValueError, by model kind and version
            return []

    def loss(self) -> str | None:
        """The loss in the archive's compile config: its name, or its class for a loss object."""
        compiled = self.config.get("compile_config")
        loss = compiled.get("loss") if isinstance(compiled, dict) else None
        if isinstance(loss, dict):
            loss = loss.get("class_name")
        return loss if isinstance(loss, str) else None


def load(path: Path) -> tuple[KerasModel | None, Problem | None]:
    """The graded model from ``path`` (graded.keras), or why it cannot be graded: the framework table's loader
    (``grader/frameworks.py``)."""
    loaded = KerasModel.load(path)
    return (None, loaded) if isinstance(loaded, Problem) else (loaded, None)


def save_problem(reason: str) -> Problem:
    """The probe could not save the graded model as a ``.keras`` file: what Keras said, and what to change."""
    return Problem(Text(f"the graded model could not be saved ({reason[:300]}): use built-in Keras layers so the "
                        "model can be saved and loaded",
                        f"o modelo avaliado não pôde ser salvo ({reason[:300]}): use camadas nativas do Keras para "
                        "que o modelo possa ser salvo e carregado"),
                   Text("the graded model could not be saved", "o modelo avaliado não pôde ser salvo"))


def _all_layers(model: Any) -> list[Any]:
    """Every layer, nested models' layers included, in order."""
    try:
        return list(model._flatten_layers(include_self=False, recursive=True))
    except Exception:
        out, stack = [], list(getattr(model, "layers", []))
        while stack:
            layer = stack.pop(0)
            out.append(layer)
            stack.extend(getattr(layer, "layers", []))
        return out
