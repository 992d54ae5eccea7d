"""The Keras 2 layer (grader/run/child/keras2.py): real Keras 2 idioms run in a real student process.

Each idiom whose meaning Keras 3 kept runs as Keras 2 ran it and leaves a notice at its line;
with the layer off, each fails with its hint. The programs train tiny models on slices of MNIST.
"""

from __future__ import annotations

import json

import pytest
from conftest import check

from grader import hints
from grader.errors import GraderError
from grader.jobs import Options, keras2
from grader.report import feedback

# The handout's abc1.py (program 2), given the second input the exercise asks for.
HANDOUT_ABC = """\
#abc_pele.py - o abc1.py da apostila com a cor da pele como segunda entrada
import os; os.environ['TF_CPP_MIN_LOG_LEVEL']='3'
import tensorflow.keras as keras
from tensorflow.keras.models import Sequential
from tensorflow.keras.layers import Dense
from tensorflow.keras import optimizers
import numpy as np

model = Sequential()
model.add(Dense(3, activation='sigmoid', input_dim=2))
model.add(Dense(3, activation='sigmoid'))
sgd=optimizers.SGD(learning_rate=10)
model.compile(optimizer=sgd, loss='mse', metrics=['accuracy'])

ax = np.array([[4, 6], [15, 8], [65, 70], [5, 90], [18, 70], [70, 10]], dtype="float32")
ax=2*(ax/100-0.5) #-1 a +1
ay = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]], dtype="float32")
model.fit(ax, ay, epochs=200, batch_size=2, verbose=0)

qx = np.array([[20, 6], [3, 50], [75, 55]], dtype="float32")
qx=2*(qx/100-0.5) #-1 a +1
qy = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]], dtype="float32")
print("Custo e acuracidade de teste:", model.evaluate(qx, qy, verbose=0))
"""

# One Keras 2 idiom per `attempt`, so that a run with the layer off reports every idiom's error.
IDIOMS_PROGRAM = """\
import json
import numpy as np
from tensorflow import keras
from tensorflow.keras.datasets import mnist

(ax, ay), (qx, qy) = mnist.load_data()
ax, ay, qx = ax[:600].reshape(-1, 784) / 255.0, ay[:600], qx.reshape(-1, 784) / 255.0
outcome = {}

def attempt(idiom, action):
    try:
        outcome[idiom] = action()
    except Exception as e:
        outcome[idiom] = {"type": type(e).__name__, "message": str(e)[:500]}

def import_core():
    from tensorflow.keras.layers.core import Dense
    return Dense is keras.layers.Dense

def import_np_utils():
    from keras.utils import np_utils
    return np_utils.to_categorical([2], 3)[0].tolist()

model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(32, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
attempt("core", import_core)
attempt("np_utils", import_np_utils)
attempt("integer_lr", lambda: keras.optimizers.SGD(learning_rate=10).get_config()["learning_rate"])
attempt("lr", lambda: keras.optimizers.Adam(lr=0.002).get_config()["learning_rate"])
attempt("legacy", lambda: type(keras.optimizers.legacy.RMSprop(learning_rate=0.001)).__name__)
attempt("nb_epoch", lambda: len(model.fit(ax, ay, nb_epoch=2, batch_size=100, verbose=0).history["loss"]))
attempt("monitor", lambda: model.fit(ax, ay, epochs=2, batch_size=100, validation_split=0.2, verbose=0, callbacks=[keras.callbacks.ReduceLROnPlateau(monitor='val_acc', patience=0, min_delta=1.0, factor=0.5)]) and float(model.optimizer.learning_rate))
attempt("predict_classes", lambda: model.predict_classes(qx[:50]).tolist() == model.predict(qx[:50], verbose=0).argmax(1).tolist())
attempt("predict_proba", lambda: model.predict_proba(qx[:2]).shape[1])
attempt("fit_generator", lambda: len(model.fit_generator(iter([(ax[:100], ay[:100])] * 2), steps_per_epoch=2, epochs=1, verbose=0).history["loss"]))
attempt("evaluate_generator", lambda: len(model.evaluate_generator(iter([(qx[:100], qy[:100])]), steps=1)))
attempt("save", lambda: model.save("modelo") or keras.models.load_model("modelo").predict(qx[:3], verbose=0).shape[0])
model.evaluate(qx, qy, verbose=0)
print(json.dumps(outcome))
"""

# label in IDIOMS_PROGRAM -> (the notice it leaves with the layer on, the hint of its error with the layer off,
# what the idiom returns when it runs as Keras 2 ran it)
IDIOMS = {
    "core": ("keras2_module", "keras2_module", True),
    "np_utils": ("keras2_module", "keras2_module", [0.0, 0.0, 1.0]),
    "integer_lr": ("integer_learning_rate", "integer_learning_rate", 10.0),
    "lr": ("lr", "lr_renamed", 0.002),
    "legacy": ("legacy_optimizer", "legacy_optimizer", "RMSprop"),
    "nb_epoch": ("nb_epoch", "nb_epoch", 2),
    "monitor": ("monitor_acc", "monitor_acc", 0.005),  # val_accuracy did not improve by 1.0: rate halved
    "predict_classes": ("predict_classes", "predict_classes", True),
    "predict_proba": ("predict_proba", "predict_classes", 10),
    "fit_generator": ("generator_method", "generator_method", 1),
    "evaluate_generator": ("generator_method", "generator_method", 2),
    "save": ("save_no_extension", "save_extension", 3),
}


def line_of(program: str, label: str) -> int:
    """The line of IDIOMS_PROGRAM where an idiom runs (its import inside the helper for the two imports)."""
    needle = {"core": "layers.core import", "np_utils": "import np_utils"}.get(label, f'attempt("{label}"')
    return next(i for i, text in enumerate(program.splitlines(), 1) if needle in text)


def outcome(result: dict) -> dict:
    return json.loads(result["stdout_tail"].strip().splitlines()[-1])


def test_the_handouts_abc_program_with_an_integer_learning_rate_trains_and_passes(grade_source):
    result = grade_source(HANDOUT_ABC, exercise_id="abc_skin", seed=1)
    assert result["status"] == "ok" and result["score"] == result["max_score"], result
    line = next(i for i, t in enumerate(HANDOUT_ABC.splitlines(), 1) if "SGD(learning_rate=10)" in t)
    assert [(n["id"], n["line"]) for n in result["notices"]] == [("integer_learning_rate", line)]
    assert "learning_rate=10.0" in result["notices"][0]["en"] and "learning_rate=10.0" in result["notices"][0]["pt"]


def test_every_keras2_idiom_runs_as_keras2_ran_it_with_a_notice_at_its_line(grade_source):
    result = grade_source(IDIOMS_PROGRAM, seed=1, keras2_penalty=0.25)
    assert not result["quick"]  # the full run's path: every epoch, so each callback's shim is reached
    ran = outcome(result)
    for label, (_, _, expected) in IDIOMS.items():
        assert not isinstance(ran[label], dict), (label, ran[label])  # no exception record
        assert ran[label] == pytest.approx(expected), label
    assert check(result, "runs")["status"] == "pass" and result["error"] is None
    found = {(n["id"], n["line"]) for n in result["notices"]}
    for label, (notice, _, _) in IDIOMS.items():
        assert (notice, line_of(IDIOMS_PROGRAM, label)) in found, (label, sorted(found))
    # a course that sets a penalty takes it once per exercise, and the feedback says why
    assert result["keras2_penalty"] == 0.25
    assert result["score"] == pytest.approx(sum(c["points"] for c in result["checks"]) - 0.25)
    page = feedback.render("s", [result], "pt")
    assert "### Código do Keras 2" in page
    assert f"linha {line_of(IDIOMS_PROGRAM, 'nb_epoch')}: avaliado como o Keras 2 o executava; no Keras 3 escreva " \
           "epochs= em vez de nb_epoch=" in page
    assert "**0.25 ponto(s) a menos por código do Keras 2 (regra desta disciplina)**" in page


def test_with_the_layer_off_each_idiom_fails_with_its_hint(grade_source):
    result = grade_source(IDIOMS_PROGRAM, seed=1, keras2_compat=False)
    ran = outcome(result)
    for label, (_, hint, _) in IDIOMS.items():
        assert isinstance(ran[label], dict), (label, ran[label])
        found = hints.find(ran[label])
        assert found is not None and found.id == hint, (label, ran[label], found)
    assert not result.get("notices")


DECAY_PROGRAM = """\
import json
from tensorflow import keras
from tensorflow.keras.datasets import mnist

(ax, ay), (qx, qy) = mnist.load_data()
ax, ay, qx = ax[:1000].reshape(-1, 784) / 255.0, ay[:1000], qx.reshape(-1, 784) / 255.0

def train(optimizer):
    keras.utils.set_random_seed(7)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer, "sparse_categorical_crossentropy")
    return model, model.fit(ax, ay, epochs=3, batch_size=50, shuffle=False, verbose=0).history["loss"]

keras2, keras2_curve = train(keras.optimizers.Adam(lr=0.001, decay=1e-6))
schedule = keras.optimizers.schedules.InverseTimeDecay(0.001, decay_steps=1, decay_rate=1e-6)
keras3, keras3_curve = train(keras.optimizers.Adam(learning_rate=schedule))
_, undecayed_curve = train(keras.optimizers.Adam(learning_rate=0.001))
print(json.dumps({"keras2": keras2_curve, "keras3": keras3_curve, "undecayed": undecayed_curve,
                  "steps": int(keras2.optimizer.iterations), "rate": float(keras2.optimizer.learning_rate)}))
keras2.evaluate(qx, qy, verbose=0)
"""


def test_decay_is_keras2s_inverse_time_decay(grade_source):
    result = grade_source(DECAY_PROGRAM, seed=1)
    ran = outcome(result)
    # Keras 2's optimizers used lr / (1 + decay * iterations) at each update: InverseTimeDecay's loss curve
    assert ran["keras2"] == pytest.approx(ran["keras3"], rel=1e-6, abs=0)
    assert ran["keras2"] != pytest.approx(ran["undecayed"], rel=1e-6, abs=0)  # ignoring decay is another curve
    # and, as Keras 2's optimizer.lr, learning_rate is the base rate the decay divides
    assert ran["steps"] == 60 and ran["rate"] == pytest.approx(0.001, rel=1e-6, abs=0)
    assert [n["id"] for n in result["notices"]] == ["lr", "decay"]


# Keras 2's decay= under the callbacks and the calls that set the rate, on the path a full run takes: the plateau
# comes within a short run (patience 1), with no epoch cap. A Keras 3 twin trained with the same base rates, set by
# hand as base / (1 + decay * iterations) before every batch, must give the same loss curve.
PLATEAU_PROGRAM = """\
#abc_pele.py - o abc1.py da apostila com Adam(lr, decay) e ReduceLROnPlateau, em Keras 2
import json
import numpy as np
import tensorflow.keras as keras
from tensorflow.keras import backend as K
from tensorflow.keras.models import Sequential
from tensorflow.keras.layers import Dense
from tensorflow.keras.optimizers import Adam
from tensorflow.keras.callbacks import Callback, LearningRateScheduler, ReduceLROnPlateau

ax = np.array([[4, 6], [15, 8], [65, 70], [5, 90], [18, 70], [70, 10]], dtype="float32")
ax = 2 * (ax / 100 - 0.5)
ay = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]], dtype="float32")
qx = np.array([[20, 6], [3, 50], [75, 55]], dtype="float32")
qx = 2 * (qx / 100 - 0.5)
qy = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]], dtype="float32")
LR, DECAY, EPOCHS = 0.05, 0.02, 20

class Rates(Callback):
    def __init__(self):
        super().__init__()
        self.base = []
    def on_epoch_begin(self, epoch, logs=None):
        self.base.append(float(K.get_value(self.model.optimizer.lr)))

def net():
    keras.utils.set_random_seed(3)
    return Sequential([Dense(8, activation='tanh', input_dim=2), Dense(3, activation='softmax')])

model = net()
model.compile(optimizer=Adam(lr=LR, decay=DECAY), loss='categorical_crossentropy', metrics=['accuracy'])
rates = Rates()
plateau = ReduceLROnPlateau(monitor='acc', patience=1, factor=0.5, min_lr=1e-3)
history = model.fit(ax, ay, epochs=EPOCHS, batch_size=2, shuffle=False, verbose=0, callbacks=[plateau, rates])

class Keras3(Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
    def on_train_batch_begin(self, batch, logs=None):
        opt = self.model.optimizer
        opt.learning_rate.assign(rates.base[self.epoch] / (1 + DECAY * int(opt.iterations)))

twin = net()
twin.compile(optimizer=keras.optimizers.Adam(learning_rate=LR), loss='categorical_crossentropy')
twin_curve = twin.fit(ax, ay, epochs=EPOCHS, batch_size=2, shuffle=False, verbose=0, callbacks=[Keras3()])

other = Adam(lr=0.01, decay=0.1)
other.lr = 0.02
set_by = {"lr=": float(other.learning_rate)}
K.set_value(other.lr, 0.03)
set_by["set_value"] = float(other.learning_rate)
other.learning_rate.assign(0.04)
set_by["assign"] = float(K.get_value(other.lr))
scheduled = net()
scheduled.compile(optimizer=Adam(lr=0.01, decay=0.1), loss='categorical_crossentropy')
halved = scheduled.fit(ax, ay, epochs=3, batch_size=2, verbose=0,
                       callbacks=[LearningRateScheduler(lambda epoch, lr: lr / 2)]).history["learning_rate"]
print("Custo e acuracidade de teste:", model.evaluate(qx, qy, verbose=0))
print(json.dumps({"base": rates.base, "history_lr": history.history["learning_rate"], "loss": history.history["loss"],
                  "twin_loss": twin_curve.history["loss"], "steps": int(model.optimizer.iterations),
                  "set_by": set_by, "scheduler": halved}))
"""


def test_decay_keeps_its_meaning_when_reduce_lr_on_plateau_halves_the_rate(grade_source):
    result = grade_source(PLATEAU_PROGRAM, exercise_id="abc_skin", seed=1)
    assert result["status"] == "ok" and result["error"] is None, result
    assert not result["quick"]
    ran = outcome(result)
    # the plateau came: the base rate the callback saw was halved (down to min_lr), epoch by epoch
    base = ran["base"]
    assert base == pytest.approx(ran["history_lr"], rel=1e-7, abs=0)
    assert base[0] == pytest.approx(0.05, rel=1e-6, abs=0) and min(base) == pytest.approx(1e-3, rel=1e-6, abs=0)
    halvings = [i for i in range(1, len(base)) if base[i] == pytest.approx(base[i - 1] / 2, rel=1e-6, abs=0)]
    assert len(halvings) >= 3, base
    # each update used base / (1 + decay * iterations): the Keras 3 twin's curve, not the base rate's alone
    assert ran["steps"] == 20 * 3
    assert ran["loss"] == pytest.approx(ran["twin_loss"], rel=1e-5, abs=0)
    # optimizer.lr = x, K.set_value(optimizer.lr, x), learning_rate.assign(x) and LearningRateScheduler set it
    assert ran["set_by"] == pytest.approx({"lr=": 0.02, "set_value": 0.03, "assign": 0.04}, rel=1e-6, abs=0)
    assert ran["scheduler"] == pytest.approx([0.005, 0.0025, 0.00125], rel=1e-6, abs=0)
    lines = PLATEAU_PROGRAM.splitlines()
    found = {(n["id"], n["line"]) for n in result["notices"]}
    for needle, notice in [("Adam(lr=LR, decay=DECAY)", "decay"), ("other.lr = 0.02", "optimizer_lr"),
                           ("K.set_value(other.lr", "backend_value"), ("monitor='acc'", "monitor_acc")]:
        line = next(i for i, text in enumerate(lines, 1) if needle in text)
        assert (notice, line) in found, (needle, sorted(found))


@pytest.mark.unit
def test_course_toml_turns_the_layer_off_and_sets_a_penalty(tmp_path, monkeypatch):
    (tmp_path / "assignments").mkdir()
    monkeypatch.setenv("KERAS_GRADER_COURSE", str(tmp_path))
    assert keras2(Options()) == (True, 0.0)  # no course.toml: on, no penalty
    (tmp_path / "course.toml").write_text("[grader]\nkeras2_compat = false\nkeras2_penalty = 0.5\n")
    from grader import config

    config._course_config.cache_clear()
    assert keras2(Options()) == (False, 0.5)
    assert keras2(Options(keras2_compat=True, keras2_penalty=0.0)) == (True, 0.0)  # options win
    (tmp_path / "course.toml").write_text("[grader]\nkeras2_compat = 'no'\n")
    config._course_config.cache_clear()
    with pytest.raises(GraderError, match="keras2_compat"):
        keras2(Options())
    config._course_config.cache_clear()


@pytest.mark.unit
def test_ci_marks_each_notice_on_its_line(tmp_path):
    from grader.report import github

    notice = {"id": "nb_epoch", "line": 7, "en": "epochs= instead of nb_epoch=", "pt": "epochs= em vez de nb_epoch="}
    result = {"student": "s", "exercise": "abc_skin", "status": "ok", "checks": [], "notices": [notice],
              "submission": {"path": str(tmp_path / "abc_skin.py"), "kind": "py"}}
    assert github.annotations([result], tmp_path, "en") == [
        "::notice file=abc_skin.py,line=7,title=abc_skin%3A Keras 2 code::line 7: graded as Keras 2 ran it; "
        "for Keras 3 write epochs= instead of nb_epoch="]


@pytest.mark.unit
def test_the_layers_texts_fill_from_the_recorded_values_only():
    from grader.evaluation.evaluator import keras2_notices

    events = [{"event": "keras2", "id": "lr", "line": 3, "values": {"value": "0.01"}},
              {"event": "keras2", "id": "made_up", "line": 4, "values": {}},  # not this grader's: dropped
              {"event": "keras2", "id": "decay", "line": True, "values": {"lr": "0.1"}}]  # a value missing: dropped
    assert keras2_notices(events) == [{"id": "lr", "line": 3, "en": "learning_rate=0.01 instead of lr=0.01",
                                       "pt": "learning_rate=0.01 em vez de lr=0.01"}]
