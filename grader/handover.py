"""The hand-over between the witness and the judge: every name and shape both sides must agree on, in one place.

The student's process (``run/child/``: the probe, the audit hook, the notebook driver) writes files into a
job's artifacts folder; the grader (``run/host/runner.py`` launches the child, ``evaluation/`` reads what it
left, ``jobs.py`` glues the two) reads them back as untrusted input. Neither side imports the other to learn
a name: both import this module, which sits below them. It is the contract, so it holds names and shapes
only, never behaviour, and imports the standard library alone: the child imports it inside the sandbox
before any of the student's imports, with nothing heavier than NumPy loaded.

What crosses, in order:

- the **child spec** (``ChildSpec``, ``spec.json`` in the job's folder): what the runner tells the child;
- the **artifacts** (the names below), written by the child, read by the evaluator; the graded model's file
  is each framework's own (``grader/frameworks.py``: ``graded.keras``, ``graded.onnx``);
- the **evaluation job** (``EvaluationJob``): what ``jobs.py`` sends the evaluator about one finished run;
- the **Keras 2 notices** (``NOTICES``): the child records an id and its values, the evaluator writes the text.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypedDict

from .text import Text

# --- the job's folder --------------------------------------------------------------------------------------------

#: Inside a job's folder: the student's work folder (a copy of the submission), the folder the child writes for
#: the evaluator, and the spec the runner writes for the child.
WORK_DIR = "work"
ARTIFACTS_DIR = "artifacts"
SPEC = "spec.json"

#: Environment variables the runner sets for the child: the fd of the private pipe the child writes its start
#: byte on (before any student code), the submission's path (how ``hooks.caller`` finds the student's frames),
#: and where Colab's ``files.download`` stub keeps what the program downloads (under the artifacts).
STARTED_FD_ENV = "KERAS_GRADER_STARTED_FD"
SCRIPT_ENV = "KERAS_GRADER_SCRIPT"
DOWNLOADS_ENV = "KERAS_GRADER_DOWNLOADS"
DOWNLOADS = "downloads"

#: The child's exit status when a notebook's kernel cannot start (the grader's fault). Student code runs in the
#: kernel, a child of the driver, so it cannot make the driver exit with it.
KERNEL_UNAVAILABLE = 75


def reference_rows(part: str) -> str:
    """The reference inputs of ``part`` ("train" or "test"), in the job's folder, where the two have the same row
    count (noisynote): row counts cannot tell them apart there, the columns' geometry can."""
    return f"reference_{part}.npy"


# --- the artifacts (all untrusted once written) ---------------------------------------------------------------------

EVENTS = "events.jsonl"          # one JSON record per thing the program did (compile, fit, test calls, figures...)
SUMMARY = "summary.json"         # the probe's last word: the graded model, its file or why there is none
EXCEPTION = "exception.json"     # how the student's code ended, when it raised
AUDIT_LOG = "audit.jsonl"        # the audit hook's attempts (``evaluation/attempts.py`` judges them)
TEST_X = "test_x.npy"            # the test inputs, as the student prepared them
TEST_PRED = "test_pred.npy"      # the student's own predictions on them
EXECUTED_NOTEBOOK = "executed.ipynb"
#: a notebook kernel's stacks when a fatal signal killed it: the kernel's stderr is a pipe that dies with it
KERNEL_DUMP = "kernel_crash.txt"
STAGE_TIMES = "times.json"       # when each stage of the child began: figures for the benchmark, never for a verdict


def fit_train_fingerprints(fit: int) -> str:
    """Fingerprints of the rows fit number ``fit`` trained on (the leakage check)."""
    return f"fit{fit}_train_fp.npy"


def fit_val_fingerprints(fit: int) -> str:
    """Fingerprints of its validation rows (the test set used as validation data)."""
    return f"fit{fit}_val_fp.npy"


def fit_x(fit: int) -> str:
    """Its training inputs, kept whole only when small (a hard-coded data set)."""
    return f"fit{fit}_x.npy"


def fit_y(fit: int) -> str:
    return f"fit{fit}_y.npy"


def figure_png(figure: int) -> str:
    return f"fig{figure}.png"


def figure_json(figure: int) -> str:
    """A captured figure's axes: their image arrays and texts."""
    return f"fig{figure}.json"


def figure_image(figure: int, axis: int, image: int) -> str:
    return f"fig{figure}_ax{axis}_im{image}.npy"


# --- what the runner tells the child --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ChildSpec:
    """The child's instructions (``spec.json``), written by ``run/host/runner.py``, read by ``run/child/``.

    Only ``script`` and ``artifacts`` are required: a child given nothing else (a test's) serves no data set and
    seeds nothing.
    """

    script: str                        # the submission's copy in the work folder
    artifacts: str                     # the folder the child writes for the evaluator
    data_root: str = ""                # the data cache, read-only in the sandbox
    #: the data sets served offline (``datasets.served``): name -> {"keras": modules whose load_data is replaced,
    #: "torchvision": the torchvision.datasets class it stands for}
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    n_test: int = 0                    # the test set's row count: how a call on the test inputs is recognised
    quick_epochs: int | None = None    # quick mode's cap on each fit; None: a full run
    quick_steps: int | None = None     # and on each Keras fit's training batches (epochs together); None: no cap
    seed: int | None = None
    cell_timeout: float | None = None  # a notebook's per-cell limit
    keras2_compat: bool = True         # run Keras 2 idioms as Keras 2 did (``run/child/keras2.py``)
    modules: str = ""                  # the course's packages, named where a ``pip install`` is refused
    #: where the training and test sets have the same row count: part -> ``reference_rows(part)``'s path
    disambiguate: dict[str, str] | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ChildSpec:
        """The spec from its JSON; keys this version does not know are left out (the runner is the grader's own)."""
        raw = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})

    def write(self, path: Path) -> None:
        path.write_text(self.to_json())

    @classmethod
    def read(cls, path: str | Path) -> ChildSpec:
        return cls.from_json(Path(path).read_text())


# --- what jobs.py tells the evaluator --------------------------------------------------------------------------------

class EvaluationJob(TypedDict, total=False):
    """One finished run, as the evaluator worker gets it (plain JSON over its pipe; ``evaluator.evaluate_job``)."""

    exercise: str
    course_root: str
    artifacts: str                      # the folder the child wrote
    source: str                         # the submission as a person reads it (a notebook's code and Markdown)
    kind: str                           # "py" or "ipynb"
    statements: list[dict[str, Any]]    # what the student stated (``claims.statements``)
    quick: bool
    returncode: int | None
    timed_out: bool
    limit_s: float
    limit_hit: str | None
    private: dict[str, list[str]]       # folders no exercise reads: attempts on them are flagged


# --- Keras 2 notices: the child names an id and values, the evaluator writes the text ---------------------------

#: id -> what to write under Keras 3, in English and Portuguese; ``{...}`` are values the shim recorded.
NOTICES: dict[str, Text] = {
    "integer_learning_rate": Text(
        "learning_rate={value}.0 (Keras 3 takes only a float; Keras 2 read the integer {value} as {value}.0)",
        "learning_rate={value}.0 (o Keras 3 só aceita float; o Keras 2 lia o inteiro {value} como {value}.0)"),
    "lr": Text(
        "learning_rate={value} instead of lr={value}",
        "learning_rate={value} em vez de lr={value}"),
    "decay": Text(
        "learning_rate=keras.optimizers.schedules.InverseTimeDecay({lr}, decay_steps=1, decay_rate={decay}) "
        "instead of decay={decay} (Keras 3 ignores decay, with only a warning; a schedule's rate cannot be "
        "set, so with ReduceLROnPlateau or LearningRateScheduler keep a float learning_rate)",
        "learning_rate=keras.optimizers.schedules.InverseTimeDecay({lr}, decay_steps=1, decay_rate={decay}) "
        "em vez de decay={decay} (o Keras 3 ignora decay, só com um aviso; a taxa de um schedule não pode "
        "ser alterada, então com ReduceLROnPlateau ou LearningRateScheduler mantenha um learning_rate float)"),
    "optimizer_lr": Text(
        "optimizer.learning_rate instead of optimizer.lr (Keras 3 has no lr: reading it fails and "
        "assigning it changes nothing)",
        "optimizer.learning_rate em vez de optimizer.lr (o Keras 3 não tem lr: lê-lo falha e atribuir "
        "a ele não muda nada)"),
    "backend_value": Text(
        "variable.assign(x) or float(variable) instead of backend.{name} (gone from keras.backend, and "
        "tf.keras.backend.set_value fails on a Keras 3 variable)",
        "variavel.assign(x) ou float(variavel) em vez de backend.{name} (saiu de keras.backend, e "
        "tf.keras.backend.set_value falha com uma variável do Keras 3)"),
    "nb_epoch": Text(
        "epochs= instead of nb_epoch=",
        "epochs= em vez de nb_epoch="),
    "predict_classes": Text(
        "model.predict(x).argmax(axis=1) (or (model.predict(x) > 0.5).astype(int) for one output unit) "
        "instead of model.predict_classes(x)",
        "model.predict(x).argmax(axis=1) (ou (model.predict(x) > 0.5).astype(int) para uma saída) "
        "em vez de model.predict_classes(x)"),
    "predict_proba": Text(
        "model.predict(x) instead of model.predict_proba(x)",
        "model.predict(x) em vez de model.predict_proba(x)"),
    "keras2_module": Text(
        "from {target} import ... instead of from {name} import ...",
        "from {target} import ... em vez de from {name} import ..."),
    "legacy_optimizer": Text(
        "keras.optimizers.{name} instead of keras.optimizers.legacy.{name} (the same algorithm)",
        "keras.optimizers.{name} em vez de keras.optimizers.legacy.{name} (o mesmo algoritmo)"),
    "monitor_acc": Text(
        "monitor='{mapped}' instead of monitor='{monitor}' (your metric is named accuracy; Keras 2.2 "
        "logged it as acc)",
        "monitor='{mapped}' em vez de monitor='{monitor}' (sua métrica se chama accuracy; o Keras 2.2 a "
        "registrava como acc)"),
    "save_no_extension": Text(
        "model.save('{path}.keras') (Keras 2 wrote a SavedModel folder {path}/; it was saved as a Keras "
        "folder at that path, which keras.models.load_model('{path}') reads back)",
        "model.save('{path}.keras') (o Keras 2 gravava uma pasta SavedModel {path}/; foi gravada uma pasta "
        "do Keras nesse caminho, que keras.models.load_model('{path}') lê de volta)"),
    "generator_method": Text(
        "model.{modern}(...) instead of model.{name}(...) (Keras 3's {modern} takes generators)",
        "model.{modern}(...) em vez de model.{name}(...) (o {modern} do Keras 3 aceita geradores)"),
}
NOTICE_VALUE_CHARS = 60  # a recorded value is shown to the student: short


def notice_text(notice_id: str, values: dict[str, Any]) -> Text | None:
    """The Keras 3 spelling for a recorded notice, or None for an id (or values) this grader does not know."""
    text = NOTICES.get(notice_id)
    if text is None:
        return None
    clean = {k: str(v)[:NOTICE_VALUE_CHARS] for k, v in values.items()}
    try:
        return text.format(**clean)
    except (KeyError, IndexError):
        return None
