"""Every check speaks English and Brazilian Portuguese, and points at the student's line where it can."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import check

GRADER = Path(__file__).resolve().parent.parent / "grader"
SOURCES = sorted((GRADER / "evaluation").rglob("*.py"))


def _outcome_calls(path: Path) -> list[ast.Call]:
    calls = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if name == "Outcome":
                calls.append(node)
    return calls


def test_every_outcome_has_a_portuguese_text():
    missing, total = [], 0
    for path in SOURCES:
        for call in _outcome_calls(path):
            total += 1
            if not any(kw.arg == "pt" for kw in call.keywords):
                missing.append(f"{path.relative_to(GRADER.parent)}:{call.lineno}")
    assert total > 50, f"only {total} Outcome(...) calls found: has the code moved?"
    assert not missing, "Outcome(...) without pt=: " + ", ".join(missing)


# A convolutional layer at a known line (3), after a comment that names Conv2D( (line 2), which must not count.
CONV = """\
from tensorflow import keras
# no Conv2D( here: this line is a comment
conv = keras.layers.Conv2D(4, 3, activation="relu")
(AX, AY), (QX, QY) = keras.datasets.mnist.load_data()
model = keras.Sequential([keras.Input((28, 28, 1)), conv, keras.layers.Flatten(),
                          keras.layers.Dense(10, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(AX[:1000, :, :, None] / 255.0, AY[:1000], epochs=2, verbose=0)  # quick mode caps it at 1
loss, acc = model.evaluate(QX[..., None] / 255.0, QY, verbose=0)
print("Test error: %.2f %%" % (100 * (1 - acc)))
"""


def test_a_real_result_has_portuguese_messages_and_the_line_of_the_convolution(grade_source):
    result = grade_source(CONV, quick=True)
    for c in result["checks"]:
        assert c["message_pt"], c["name"]
        assert c["message"], c["name"]
    runs, dense = check(result, "runs"), check(result, "dense_only")
    assert runs["status"] == "pass" and runs["message_pt"] == "o programa rodou até o fim e treinou o modelo avaliado"
    assert dense["status"] == "fail" and dense["message_pt"] != dense["message"]
    assert "Conv2D" in dense["message_pt"] and "rede densa" in dense["message_pt"]
    assert dense["details"]["line"] == 3
    assert "modo rápido" in check(result, "threshold")["message_pt"]


def test_a_syntax_error_points_at_its_line(grade_source):
    result = grade_source("import numpy as np\nx = 1\ny = (x +\nprint(y)\n")  # '(' never closed, line 3
    runs = check(result, "runs")
    assert runs["status"] == "fail" and runs["details"]["exception"]["type"] == "SyntaxError"
    assert runs["details"]["line"] == 3
    assert "na linha 3" in runs["message_pt"] and "at line 3" in runs["message"]
    assert "line" not in check(result, "dense_only")["details"]  # no model: no layer to point at


SPARSE_ONE_HOT = """\
import keras
(AX, AY), (QX, QY) = keras.datasets.mnist.load_data()
# the handout did AY = keras.utils.to_categorical(AY, 10): not here (a comment)
model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer="adam", loss="categorical_crossentropy")
Y = keras.utils.to_categorical(AY[:1000], 10)
model.fit(AX[:1000] / 255.0, Y, epochs=1, verbose=0)
model.evaluate(QX / 255.0, keras.utils.to_categorical(QY, 10), verbose=0)
"""


def test_to_categorical_points_at_its_first_call(grade_source):
    result = grade_source(SPARSE_ONE_HOT, exercise_id="sparse_cce", quick=True)
    tc = check(result, "no_to_categorical")
    assert tc["status"] == "fail" and tc["details"]["line"] == 6
    assert tc["message_pt"].startswith("to_categorical ainda é chamado na linha 6")
    assert "função de perda" in check(result, "sparse_loss")["message_pt"]


def test_source_line_skips_comments_and_strings():
    from grader.evaluation.checks import source_line

    src = ('# Conv2D(8, 3) in a comment\nhelp = "Conv2D(8, 3) in a string"\n'
           'x = layers.Convolution2D(8, 3)  # Conv2D(\ny = keras.layers.Conv2D (8, 3)\n')
    assert source_line(src, "Conv2D") == 4
    assert source_line(src, r"\w*Conv\w*") == 3                # an alias of the class
    assert source_line(src + "z = (\n", "Conv2D") == 4         # unreadable by the tokenizer: line by line
    assert source_line("y = to_categorical\n", "to_categorical") is None  # named, not called
