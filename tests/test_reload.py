"""Save, reload, evaluate: the handout's pattern, graded as in plain Keras.

A program that saves its trained net and evaluates the copy ``load_model`` returns is graded on
that net, once, with the test error the same program gets without the reload. Each format the
class writes is reloaded (``.keras``, ``.h5``, a bare name through the Keras 2 layer), and
``compile=False`` followed by the student's own ``compile``; a model whose weights the probe cannot
read and a corrupt file stay the program's own business. Real training on a slice of MNIST.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from conftest import check
from nbformat.v4 import new_code_cell, new_notebook

from grader import exercise
from grader.jobs import Options, grade

TRAIN = """\
# Erro de teste: 1,45 % (the full run's; quick mode does not compare it)
import json
import numpy as np
from tensorflow import keras
from tensorflow.keras.datasets import mnist

(ax, ay), (qx, qy) = mnist.load_data()
ax, ay, qx = ax[:12000].reshape(-1, 784) / 255.0, ay[:12000], qx.reshape(-1, 784) / 255.0
model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(64, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(keras.optimizers.Adam(0.002), "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(ax, ay, epochs=5, batch_size=100, verbose=0)  # quick mode: 1 epoch
"""

WITH_RELOAD = TRAIN + """\
from keras.saving import register_keras_serializable

@register_keras_serializable()
class Opaque(keras.Sequential):  # hostile: weights the probe cannot read
    def get_weights(self):
        raise RuntimeError("no weights for you")

opaque = Opaque([keras.Input((784,)), keras.layers.Dense(10, activation="softmax")])
opaque.save("opaque.keras")
keras.models.load_model("opaque.keras")
with open("broken.keras", "wb") as f:
    f.write(b"PK not a zip")
try:
    keras.models.load_model("broken.keras")
except Exception as e:
    print("load failed:", type(e).__name__)
untrained = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, activation="softmax")])
untrained.save("untrained.keras")
keras.models.load_model("untrained.keras")  # saved before any training: a model of its own
ran = {"original": model.evaluate(qx, qy, verbose=0)}
model.save("net.keras")
model.save("net.h5")
model.save("net")  # Keras 2's SavedModel folder: a Keras folder through the Keras 2 layer
for name in ("net.keras", "net.h5", "net"):
    ran[name] = keras.models.load_model(name).evaluate(qx, qy, verbose=0)
reloaded = keras.models.load_model("net.h5", compile=False)
reloaded.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
ran["compile=False"] = reloaded.evaluate(qx, qy, verbose=0)
expected = model.predict(qx, verbose=0)
ran["predict"] = float(np.abs(reloaded.predict(qx, verbose=0) - expected).max())
print(json.dumps(ran))
"""

RELOADS = ("net.keras", "net.h5", "net", "compile=False")


def printed(result: dict) -> dict:
    return json.loads(result["stdout_tail"].strip().splitlines()[-1])


def events(keep: Path, student: str, exercise_id: str = "mnist_dense") -> list[dict]:
    lines = (keep / student / exercise_id / "artifacts" / "events.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def summary(keep: Path, student: str, exercise_id: str = "mnist_dense") -> dict:
    return json.loads((keep / student / exercise_id / "artifacts" / "summary.json").read_text())


def test_a_script_that_reloads_each_format_is_graded_on_its_trained_net(grade_source, tmp_path):
    result = grade_source(WITH_RELOAD, student="reload", seed=1, quick=True, keep_dir=tmp_path / "keep")
    assert result["status"] == "ok" and result["error"] is None, result
    assert check(result, "runs")["status"] == "pass"
    assert check(result, "consistency")["status"] == "pass"
    ran = printed(result)
    # the error of the net the program trained: what the same program without its reload is graded on
    assert result["test_error"] == pytest.approx(100 * (1 - ran["original"][1]), abs=1e-3)
    for name in RELOADS:  # evaluate on each reloaded copy: the numbers of plain Keras on the same weights
        assert ran[name] == pytest.approx(ran["original"], rel=1e-6, abs=0), name
    assert ran["predict"] == 0.0
    # one trained model: each reload shares its id; the untrained save stays a model of its own
    loads = [ev for ev in events(tmp_path / "keep", "reload") if ev["event"] == "load_model"]
    assert [ev["saved_model"] for ev in loads] == [None, None, 0, 0, 0, 0], loads
    assert [ev["model"] for ev in loads[:2]] == [2, 4]  # the opaque model (1) and the untrained one (3) reloaded
    line = WITH_RELOAD.splitlines().index('model.save("net.keras")') + 1  # then net.h5, then net
    assert [ev["saved_caller"]["line"] for ev in loads[2:]] == [line, line + 1, line + 2, line + 1]
    facts = summary(tmp_path / "keep", "reload")
    assert facts["models"] == 5 and facts["graded_model"] == 0
    # a save the probe cannot hash, a corrupt file: the program's own business, and the witness goes on
    assert "load failed:" in result["stdout_tail"]  # Keras's own error, caught by the program as in plain Keras
    stderr = (tmp_path / "keep" / "reload" / "mnist_dense" / "stderr.txt").read_text()
    opaque = WITH_RELOAD.splitlines().index('opaque.save("opaque.keras")') + 1
    assert f"could not read the weights of the model saved at line {opaque}: RuntimeError: no weights for you" \
        in stderr
    assert f"could not read the weights of the model loaded at line {opaque + 1}: RuntimeError" in stderr
    reload_line = WITH_RELOAD.splitlines().index('reloaded = keras.models.load_model("net.h5", compile=False)') + 1
    assert facts["graded_reason"].endswith(f"reloaded with load_model at line {reload_line} from the save at line "
                                           f"{line + 1}"), facts["graded_reason"]


def test_a_notebook_that_evaluates_the_reloaded_net_in_its_next_cells_is_graded_on_it(evaluator, tmp_path):
    train, save = TRAIN, 'model.save("net.keras")\nmodel.save("net.h5")\n' \
                         'print(json.dumps(model.evaluate(qx, qy, verbose=0)))'
    cells = [new_code_cell(train), new_code_cell(save),
             new_code_cell('model = keras.models.load_model("net.keras")\n'
                           'print(json.dumps(model.evaluate(qx, qy, verbose=0)))'),
             new_code_cell('model = keras.models.load_model("net.h5", compile=False)\n'
                           'model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])\n'
                           'print(json.dumps(model.evaluate(qx, qy, verbose=0)))')]
    path = tmp_path / "nb" / "mnist_dense.ipynb"
    path.parent.mkdir()
    nbformat.write(new_notebook(cells=cells), path)
    result = grade("nb", exercise.load("mnist_dense"), path, evaluator, Options(seed=1, quick=True))
    assert result["status"] == "ok" and result["error"] is None, result
    assert check(result, "runs")["status"] == "pass"
    original, keras_copy, h5_copy = (json.loads(line) for line in result["stdout_tail"].strip().splitlines()[-3:])
    assert keras_copy == pytest.approx(original, rel=1e-6, abs=0)
    assert h5_copy == pytest.approx(original, rel=1e-6, abs=0)
    assert result["test_error"] == pytest.approx(100 * (1 - original[1]), abs=1e-3)  # the trained net's own error

