"""Each exercise's own checks, passing and failing, on real submissions trained on the real data."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import check

from grader import exercise, frameworks
from grader.solutions import framework_installed, judge_pair, solution_runs

ABC = """
import numpy as np
from tensorflow import keras
ax = np.array([[4, 6], [15, 8], [65, 70], [5, 90], [18, 70], [70, 10]], dtype="float32")
ay = keras.utils.to_categorical([1, 2, 0, 1, 2, 0], 3)
qx = np.array([[20, 6], [3, 50], [75, 55]], dtype="float32")
model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="sigmoid"),
                          keras.layers.Dense(3, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
model.fit((ax - 50) / 50, ay, batch_size=6, epochs=300, verbose=0)
print(model.predict((qx - 50) / 50, verbose=0).argmax(1))
"""


def test_abc_one_hot_sigmoid_outputs_and_shuffled_rows_pass(grade_source):
    src = ABC.replace("[[4, 6], [15, 8], [65, 70], [5, 90], [18, 70], [70, 10]]",
                      "[[70, 10], [15, 8], [65, 70], [5, 90], [18, 70], [4, 6]]").replace(
                      "[1, 2, 0, 1, 2, 0]", "[0, 2, 0, 1, 2, 1]")
    result = grade_source(src, exercise_id="abc_skin", seed=1)
    assert result["status"] == "ok", [(c["name"], c["message"]) for c in result["checks"]]
    inv = check(result, "skin_invariance")
    assert inv["status"] == "info" and 0 <= inv["details"]["invariant_weights"] <= 1
    assert "Did the network learn that skin colour is noise?" in inv["message"]


def test_abc_mistyped_training_row_and_test_row_are_named(grade_source):
    # quick mode (50 epochs): what is checked here does not depend on how well the net learned
    typo_train = grade_source(ABC.replace("[5, 90]", "[5, 9]"), exercise_id="abc_skin", student="t1", quick=True)
    rows = check(typo_train, "train_rows")
    assert rows["status"] == "fail" and "row 3" in rows["message"] and "skin colour 90" in rows["message"]
    typo_test = grade_source(ABC.replace("[3, 50]", "[3, 5]"), exercise_id="abc_skin", student="t2", quick=True)
    corr = check(typo_test, "correspondence")
    assert corr["status"] == "fail" and "row 1" in corr["message"] and "(3, 50)" in corr["message"]
    assert check(typo_test, "test_accuracy")["points"] == 0


def test_abc_weight_only_network_fails_two_inputs(grade_source):
    src = ABC.replace("ax = np.array(", "ax = np.array(").replace("keras.Input((2,))", "keras.Input((1,))")
    src = src.replace("(ax - 50) / 50", "(ax[:, :1] - 50) / 50").replace("(qx - 50) / 50", "(qx[:, :1] - 50) / 50")
    result = grade_source(src, exercise_id="abc_skin", quick=True)
    assert check(result, "two_inputs")["status"] == "fail"
    assert check(result, "test_accuracy")["points"] == 0


NOISY = """
import numpy as np
from tensorflow import keras
def le(name):
    with open(name) as f:
        r, c = map(int, f.readline().split())
        return np.loadtxt(f, ndmin=2).reshape(r, c).astype("float32")
ax, ay, qx, qy = (le(f"noisynote/{n}.txt") for n in ("ax", "ay", "qx", "qy"))
ax, qx = ax[:, :4], qx[:, :4]                 # the noise columns dropped
m, s = ax.mean(0), ax.std(0)
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
model.fit((ax - m) / s, ay, batch_size=32, epochs=60, verbose=0)
qp = model.predict((qx - m) / s, verbose=0)
ap = model.predict((ax - m) / s, verbose=0)   # a later prediction on the training set, same row count
print("Test error: %.2f %%" % (100 * np.mean((qp > 0.5) != qy)))
"""


def test_noisynote_single_sigmoid_dropped_noise_and_a_later_training_prediction(grade_source):
    result = grade_source(NOISY, exercise_id="noisynote", seed=1)
    corr = check(result, "correspondence")
    assert corr["status"] == "pass" and corr["details"]["mapping"] == "affine-subset", corr
    assert check(result, "consistency")["status"] == "pass"
    assert result["test_error"] < 3 and check(result, "threshold")["points"] > 0


def test_noisynote_files_and_the_handouts_download_recipe_work_offline(grade_source):
    result = grade_source("""
        import os
        url = 'http://www.example.invalid/apostila/noisynote.zip'
        name = os.path.split(url)[1]
        if not os.path.exists(name):
            os.system("wget -nc " + url)
        os.system("unzip -u " + name + " > /dev/null")
        print(sorted(f for f in os.listdir('.') if f.endswith('.txt')), sorted(os.listdir('noisynote')))
    """, exercise_id="noisynote")
    assert "['ax.txt', 'ay.txt', 'qx.txt', 'qy.txt']" in result["stdout_tail"]
    assert "noisynote.zip" in result["stdout_tail"]


SPARSE = """
import numpy as np
import keras
(AX, AY), (QX, QY) = keras.datasets.mnist.load_data()
model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10)])
model.compile(optimizer="adam", loss=LOSS, metrics=["accuracy"])
model.fit(AX[:3000] / 255.0, LABELS, epochs=1, verbose=0)
model.evaluate(QX / 255.0, QTEST, verbose=0)
"""


def test_sparse_cce_loss_instance_with_logits_and_integer_labels_pass(grade_source):
    src = SPARSE.replace("LOSS", "keras.losses.SparseCategoricalCrossentropy(from_logits=True)").replace(
        "LABELS", "AY[:3000]").replace("QTEST", "QY")
    result = grade_source(src, exercise_id="sparse_cce", quick=True)
    assert check(result, "sparse_loss")["status"] == "pass"
    assert check(result, "no_to_categorical")["status"] == "pass"
    assert check(result, "consistency")["status"] == "pass"  # logits decoded like probabilities


def test_sparse_cce_still_one_hot_fails_both_checks(grade_source):
    src = SPARSE.replace("LOSS", "'categorical_crossentropy'").replace(
        "LABELS", "keras.utils.to_categorical(AY[:3000], 10)").replace("QTEST", "np.eye(10)[QY]")
    result = grade_source(src, exercise_id="sparse_cce", quick=True, student="a")
    assert check(result, "sparse_loss")["status"] == "fail"
    tc = check(result, "no_to_categorical")
    assert tc["status"] == "fail" and "line 7" in tc["message"]
    manual = SPARSE.replace("LOSS", "'sparse_categorical_crossentropy'").replace(
        "LABELS", "np.eye(10)[AY[:3000]]").replace("QTEST", "QY")
    result = grade_source(manual, exercise_id="sparse_cce", quick=True, student="b")
    assert check(result, "no_to_categorical")["status"] == "fail"
    assert "shape (3000, 10)" in check(result, "no_to_categorical")["message"]


FASHION = """
import numpy as np
import matplotlib.pyplot as plt
from tensorflow import keras
cats = ["Camiseta", "Calça", "Pulôver", "Vestido", "Casaco", "Sandália", "Camisa", "Tênis", "Bolsa", "Botins"]
(AX, AY), (QX, QY) = keras.datasets.fashion_mnist.load_data()
model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy")
model.fit(AX[:2000] / 255.0, AY[:2000], epochs=1, verbose=0)
QP = model.predict(QX / 255.0, verbose=0).argmax(1)
plt.figure(figsize=(10, 8))
for i in range(20):
    plt.subplot(4, 5, i + 1)
    plt.imshow(255 - QX[FIRST + i], cmap="gray")
    plt.title(cats[QY[i]], color=TRUE_COLOUR)
    plt.xlabel(str(QP[i]), color=PRED_COLOUR)
plt.show()
"""


@pytest.mark.parametrize("first, true_colour, pred_colour, ok, problem", [
    (0, "'tab:blue'", "'red'", True, None),
    (0, "'red'", "'blue'", False, "no blue text names its true class"),
    (1, "'blue'", "'red'", False, "panel 0 should show test image 0 but shows test image 1"),
])
def test_fashion_figure(grade_source, first, true_colour, pred_colour, ok, problem):
    src = FASHION.replace("FIRST", str(first)).replace("TRUE_COLOUR", true_colour).replace("PRED_COLOUR", pred_colour)
    result = grade_source(src, exercise_id="fashion_mnist", quick=True, student=f"f{first}{ok}")
    fig = check(result, "figure")
    assert (fig["status"] == "pass") is ok, fig["message"]
    if problem:
        assert problem in fig["message"]


@pytest.mark.unit
def test_starter_that_passes_is_reported():
    ex = exercise.load("mnist_dense")
    fake_pass = {"status": "ok", "checks": [{"name": "runs", "status": "pass", "message": ""},
                                            {"name": "threshold", "status": "pass", "message": ""}]}
    assert "starter passes threshold" in judge_pair(ex, "starter", fake_pass)
    fake_quick = {"status": "ok", "checks": [{"name": "runs", "status": "pass", "message": ""},
                                             {"name": "threshold", "status": "not_graded", "message": ""}]}
    assert judge_pair(ex, "starter", fake_quick) is None
    failing_reference = {"status": "failed", "checks": [{"name": "dense_only", "status": "fail", "message": "Conv2D"}]}
    assert "dense_only: Conv2D" in judge_pair(ex, "reference", failing_reference)


@pytest.mark.unit
def test_check_solutions_finds_a_torch_reference_beside_the_keras_one(tmp_path):
    (tmp_path / "solutions" / "ex").mkdir(parents=True)
    (tmp_path / "solutions" / "ex" / "solution.py").write_text("# keras\n")
    assert [(label, role) for label, role, _, _ in solution_runs(tmp_path, "ex")] == [
        ("reference", "reference"), ("starter", "starter")]
    (tmp_path / "solutions" / "ex" / "solution_torch.py").write_text("# torch\n")
    label, role, path, skip = solution_runs(tmp_path, "ex", installed=lambda modules: True)[1]
    assert (label, role, path.name, skip) == ("reference (torch)", "reference", "solution_torch.py", None)
    asked = []
    skip = solution_runs(tmp_path, "ex", installed=lambda modules: asked.append(modules) or False)[1][3]
    assert asked == [("torch", "torchvision")]
    assert skip == ("skipped: torch and torchvision not installed here; pip install 'keras-grader[torch]' to check "
                    "this reference")


@pytest.mark.unit
def test_the_course_has_torch_references_for_the_exercises_that_accept_torch():
    from grader.config import course_root

    with_torch = {ex_id for ex_id in exercise.exercise_ids()
                  if any(label == "reference (torch)" for label, *_ in solution_runs(course_root(), ex_id))}
    assert with_torch == {"mnist_dense", "fashion_mnist"}


def test_check_solutions_runs_one_exercise():
    """The command's own path (its preflight, table and exit status) on the cheapest exercise; the slow test below
    runs every one, and CI runs `grade check-solutions --quick` after the suite."""
    r = subprocess.run([sys.executable, "-m", "grader.cli", "check-solutions", "--quick", "--exercise", "abc_skin"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("as expected") == 2 and "isolamento: " in r.stderr  # reference and starter; course: pt


@pytest.mark.slow
def test_check_solutions_quick_passes():
    r = subprocess.run([sys.executable, "-m", "grader.cli", "check-solutions", "--quick"], capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    torch_refs = 2 if framework_installed(frameworks.TORCH.modules) else 0  # else skipped, with a note
    assert r.stdout.count("as expected") == 10 + torch_refs
