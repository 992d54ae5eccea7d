"""Every check speaks English and Brazilian Portuguese, and points at the student's line where it can; every
bilingual message in the package is one ``Text`` (``grader/text.py``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import check

GRADER = Path(__file__).resolve().parent.parent / "grader"
SOURCES = sorted((GRADER / "evaluation").rglob("*.py"))


def _calls(source: str, *names: str) -> list[ast.Call]:
    """The calls of ``names`` (``Outcome(...)``, ``checks.Outcome(...)``) in Python source."""
    calls = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if name in names:
                calls.append(node)
    return calls


def _only_english(node: ast.expr) -> bool:
    """A message written as a plain string (a literal, an f-string, their sums, a str method's result) or as
    ``Text.same``: one language only."""
    if isinstance(node, (ast.Constant, ast.JoinedStr)):
        return True
    if isinstance(node, ast.BinOp):
        return _only_english(node.left) and _only_english(node.right)
    if isinstance(node, ast.IfExp):
        return _only_english(node.body) or _only_english(node.orelse)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return isinstance(node.func.value, (ast.Constant, ast.JoinedStr)) or node.func.attr == "same"
    return False


def _messages(call: ast.Call) -> list[ast.expr]:
    """The arguments of an ``Outcome(status, message, ...)`` or ``Problem(message, short)`` that the student reads."""
    f = call.func
    name = f.id if isinstance(f, ast.Name) else f.attr
    positional = call.args[1:2] if name == "Outcome" else call.args[:2]
    return [*positional, *(kw.value for kw in call.keywords if kw.arg in ("message", "short"))]


@pytest.mark.unit
def test_every_outcome_and_problem_is_a_text_in_both_languages():
    english_only, total = [], 0
    for path in SOURCES:
        for call in _calls(path.read_text(), "Outcome", "Problem"):
            total += 1
            if any(kw.arg == "pt" for kw in call.keywords) or any(map(_only_english, _messages(call))):
                english_only.append(f"{path.relative_to(GRADER.parent)}:{call.lineno}")
    assert total > 50, f"only {total} Outcome(...)/Problem(...) calls found: has the code moved?"
    assert not english_only, "a message that is not a Text(English, Portuguese): " + ", ".join(english_only)


@pytest.mark.unit
def test_every_text_has_its_portuguese():
    """``Text(en, pt)``: both written, and the Portuguese not a copy of the English (``Text.same`` says so)."""
    bad = []
    for path in SOURCES:
        for call in _calls(path.read_text(), "Text"):
            args = [*call.args, *(kw.value for kw in call.keywords)]
            literals = [a.value for a in args if isinstance(a, ast.Constant)]
            if len(args) != 2 or "" in literals or (len(literals) == 2 and literals[0] == literals[1]):
                bad.append(f"{path.relative_to(GRADER.parent)}:{call.lineno}")
    assert not bad, "Text(...) without its own Portuguese: " + ", ".join(bad)


@pytest.mark.unit
def test_an_english_only_outcome_is_refused():
    """What the source scan cannot see (a message built in a variable) is refused when it is built."""
    from grader.evaluation.checks import Outcome
    from grader.evaluation.context import Problem
    from grader.schema import CheckStatus
    from grader.text import Text

    with pytest.raises(TypeError):
        Outcome(CheckStatus.PASS, "the program ran to the end")
    with pytest.raises(TypeError):
        Problem(Text("no model to grade", "nenhum modelo para avaliar"), "no model to grade")
    # and the scan flags English written alone, whatever its form
    for english in ('"only English"', 'f"{x} in English"', '"a" + f"{b}"', '"; ".join(parts)', 'Text.same("x")',
                    '"yes" if ok else Text("no", "não")'):
        (call,) = _calls(f"Outcome(CheckStatus.FAIL, {english}, details)", "Outcome")
        assert any(map(_only_english, _messages(call))), english
    for both in ('Text("yes", "sim")', 'problem.message', 'Text("a ", "um ") + what'):
        (call,) = _calls(f"Outcome(CheckStatus.PASS, {both})", "Outcome")
        assert not any(map(_only_english, _messages(call))), both



# --- one message type ------------------------------------------------------------------------------------------------

#: The message type itself: the one module that may pick a language's side or spell the stored pairs.
TEXT_MODULE = GRADER / "text.py"


#: Classes whose fields are a stored shape: results (TypedDict) and the course's files (config.Section, pydantic).
STORED_SHAPES = ("TypedDict", "Section", "BaseModel")


def _typed_dict_fields(tree: ast.AST) -> set[int]:
    """The fields of TypedDicts (``schema.py``'s ``message_pt``, ``error_pt``...) and of the configuration's models
    (``exercise.toml``'s ``title_pt``): the stored shape of results and of the course's files, which ``Text.fields``
    writes and ``Text.read`` reads, or the instructor writes, not a pair the code builds."""
    fields = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(getattr(b, "id", getattr(b, "attr", None)) in STORED_SHAPES
                                                  for b in node.bases):
            fields |= {id(s.target) for s in node.body if isinstance(s, ast.AnnAssign)}
    return fields


def bilingual_forms(source: str) -> list[tuple[int, str]]:
    """Each place ``source`` writes a bilingual message some other way than as one ``Text``: a branch on the
    language (``lang == "pt"``), a Portuguese twin (``where``/``where_pt``, ``_pt()``), an ``{"en": .., "pt": ..}``
    literal. (line, what) each."""
    tree = ast.parse(source)
    stored = _typed_dict_fields(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(isinstance(op, (ast.Eq, ast.NotEq, ast.Is, ast.IsNot))
                                                 for op in node.ops):
            if any(isinstance(x, ast.Constant) and x.value in ("pt", "en") for x in (node.left, *node.comparators)):
                found.append((node.lineno, "a branch on the language: pick the side with Text.get(lang)"))
        elif isinstance(node, ast.Dict):
            if {"en", "pt"} <= {k.value for k in node.keys if isinstance(k, ast.Constant)}:
                found.append((node.lineno, "an {'en': ..., 'pt': ...} literal: write Text(en, pt)"))
        else:
            name = (node.name if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else
                    node.arg if isinstance(node, (ast.arg, ast.keyword)) else
                    node.id if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) else
                    node.attr if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) else None)
            if name and name.endswith("_pt") and id(node) not in stored:
                found.append((node.lineno, f"{name}: a Portuguese twin; write one Text"))
    return found


@pytest.mark.unit
def test_every_bilingual_message_is_one_text():
    """The rule of ``grader/text.py``, kept by a scan of the whole package: no second way in."""
    sources = [p for p in sorted(GRADER.rglob("*.py")) if p != TEXT_MODULE]
    assert len(sources) > 50, f"only {len(sources)} modules found: has the package moved?"
    found = [f"{path.relative_to(GRADER.parent)}:{line}: {what}"
             for path in sources for line, what in bilingual_forms(path.read_text(encoding="utf-8"))]
    assert not found, "bilingual text written some other way than as one Text:\n" + "\n".join(found)


@pytest.mark.unit
@pytest.mark.parametrize("source", [
    'title = r.get("title_pt") if lang == "pt" else r.get("title")',
    'ok = "en" != lang',
    'CHECKS = {"runs": {"en": "runs", "pt": "executa"}}',
    'where_pt = f" na linha {line}"',
    'def _pt(what):\n    return what',
    'def refuse(what_en, what_pt):\n    pass',
    'self.message_pt = message',
    'row(reason="x", reason_pt="y")',
])
def test_the_scan_finds_each_other_way(source):
    assert bilingual_forms(source), source


@pytest.mark.unit
@pytest.mark.parametrize("source", [
    'title = Text(r.get("title") or "", r.get("title_pt") or "").get(lang)',
    'row = {"reason": "x", "reason_pt": "y"}',  # a stored record's keys
    'class CheckResult(TypedDict):\n    message: str\n    message_pt: str',
    'if lang not in LANGS:\n    raise ValueError(lang)',
])
def test_the_scan_leaves_text_and_the_stored_shape_alone(source):
    assert not bilingual_forms(source), source

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


@pytest.mark.unit
def test_source_line_skips_comments_and_strings():
    from grader.evaluation.source import source_line

    src = ('# Conv2D(8, 3) in a comment\nhelp = "Conv2D(8, 3) in a string"\n'
           'x = layers.Convolution2D(8, 3)  # Conv2D(\ny = keras.layers.Conv2D (8, 3)\n')
    assert source_line(src, "Conv2D") == 4
    assert source_line(src, r"\w*Conv\w*") == 3                # an alias of the class
    assert source_line(src + "z = (\n", "Conv2D") == 4         # unreadable by the tokenizer: line by line
    assert source_line("y = to_categorical\n", "to_categorical") is None  # named, not called
