"""The frameworks a student's program may be written with: one record each, read by every stage that differs.

A framework is what the student writes the network with (Keras, plain PyTorch), not Keras's backend, which is
the grader's choice for every Keras program. Everything the grader does differently for one is in its record:
what must be installed, which probe watches it in the student's process, the file its graded model is handed
over in and how the evaluator loads and inspects that file, where its reference solution lies, and what to
tell its students. ``exercise.toml``'s ``frameworks`` names records by ``id``; the probe writes the id into
``summary.json`` (``"framework"``); the checks read the record back (``recorded``).

The record names code of higher layers (the probes under ``run/child/``, the loaders under ``evaluation/``) as
``"module:attribute"`` strings, imported on use (``Framework.attr``): this table sits below both sides, and
neither the CLI nor the student's process pays for a framework it does not meet (torch alone takes seconds).

A third framework (JAX/Flax exported to ONNX, say) is one more record here, plus the code it names: a probe
under ``run/child/`` that follows ``run/child/witness.py``'s ``FrameworkProbe`` and leaves the same artifacts
(``handover.py``), and a loader returning a ``GradedModel`` (``evaluation/model.py``) that reads the hand-over
file without running the student's Python. ``grader/README.md`` lists what a record needs.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .hints import TORCH_ADVICE
from .text import Text


@dataclass(frozen=True)
class Framework:
    #: exercise.toml's ``frameworks``, summary.json's ``framework``, ``GradedModel.framework``
    id: str
    #: how messages name it
    name: str
    #: what the grader must have installed to grade its programs, and the pip extra that installs them (None:
    #: the grader's own dependencies); a program of an accepted framework whose modules are missing is not graded
    modules: tuple[str, ...]
    extra: str | None
    #: the top-level modules whose import in a program's source says it uses this framework (a run that left no
    #: summary: it stopped before the probe could tell)
    imports: tuple[str, ...]
    #: the probe that watches its programs, as "module:Class", and the import that installs it (None: the base
    #: probe, installed before the student's code, watches this framework itself)
    probe: str
    probe_on: str | None
    #: the graded model's hand-over file in the artifacts, and how messages name its format
    model_file: str
    file_kind: str
    #: "module:function" (path -> (GradedModel | None, Problem | None)): the graded model from its file, read
    #: without running the student's Python
    loader: str
    #: "module:function" (path -> Text | None): what makes the file unfit, read without the framework (a worker
    #: that died on a job: was it the file?)
    inspector: str
    #: "module:function" (the probe's save error -> Problem): why the model could not be handed over
    save_problem: str
    #: its reference solution, beside the Keras one in ``solutions/<id>/``
    reference: str
    #: how ``GradedModel.layer_kinds`` names what its models are made of, which the architecture checks match
    layer_kinds: str
    #: what ``runs`` says of a program that ran to the end and trained nothing
    untrained: Text
    #: advice the generic checks add for its programs, by situation (``eval_mode``, ``shuffled_test_loader``)
    advice: Mapping[str, Text] = field(default_factory=dict)

    def attr(self, which: str) -> Any:
        """The code a field names ("module:attribute"), imported now."""
        module, _, name = getattr(self, which).partition(":")
        return getattr(importlib.import_module(module), name)

    def load(self, path: Any) -> tuple[Any, Any]:
        return self.attr("loader")(path)

    def inspect(self, path: Any) -> Text | None:
        return self.attr("inspector")(path)


KERAS = Framework(
    id="keras", name="Keras", modules=("keras",), extra=None, imports=("keras", "tensorflow"),
    probe="grader.run.child.probe:Probe", probe_on=None,
    model_file="graded.keras", file_kind="Keras",
    loader="grader.evaluation.keras_model:load", inspector="grader.evaluation.artifacts:archive_problem",
    save_problem="grader.evaluation.keras_model:save_problem",
    reference="solution.py",
    layer_kinds="Keras layer class names, nested models' layers included (Dense, Conv2D)",
    untrained=Text("the program ran to the end but never trained a model (fit was never called): build, compile "
                   "and train (fit) a Keras model on the training set, as the exercise asks",
                   "o programa rodou até o fim, mas nunca treinou um modelo (fit não foi chamado): monte, compile e "
                   "treine (fit) um modelo Keras com o conjunto de treino, como pede o exercício"),
)

TORCH = Framework(
    id="torch", name="PyTorch", modules=("torch", "torchvision"), extra="keras-grader[torch]", imports=("torch",),
    probe="grader.run.child.torch_probe:TorchProbe", probe_on="torch",
    model_file="graded.onnx", file_kind="ONNX",
    loader="grader.evaluation.onnx_model:load_onnx", inspector="grader.evaluation.onnx_model:file_problem",
    save_problem="grader.evaluation.onnx_model:export_problem",
    reference="solution_torch.py",
    layer_kinds="ONNX operator types of the exported graph, subgraphs included (Gemm, Conv; Attention where a "
                "MatMul multiplies two computed tensors)",
    untrained=Text("the program ran to the end but never trained a model (no optimizer step was taken): build a "
                   "torch.nn model and train it on the training set with an optimizer (loss.backward(), "
                   "optimizer.step()), as the exercise asks",
                   "o programa rodou até o fim, mas nunca treinou um modelo (nenhum passo do otimizador foi dado): "
                   "monte um modelo torch.nn e treine-o com o conjunto de treino usando um otimizador "
                   "(loss.backward(), optimizer.step()), como pede o exercício"),
    advice=TORCH_ADVICE,
)

#: Every framework, by id; the first is the default: what a program is taken to be written with when nothing
#: says otherwise (the grader's origin, and what an exercise accepts when its exercise.toml names none).
TABLE: dict[str, Framework] = {f.id: f for f in (KERAS, TORCH)}
DEFAULT = KERAS


def get(framework_id: Any) -> Framework | None:
    return TABLE.get(framework_id) if isinstance(framework_id, str) else None


def recorded(summary: Mapping[str, Any]) -> Framework:
    """The framework the probe said the program used (``summary.json``, untrusted: an id it does not know is the
    default's)."""
    return get(summary.get("framework")) or DEFAULT


def others() -> list[Framework]:
    """Every framework but the default, in the table's order."""
    return [f for f in TABLE.values() if f is not DEFAULT]
