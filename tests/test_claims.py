import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from grader.claims import (
    MAX_STATEMENTS,
    Claim,
    Unread,
    find_claims,
    read_line,
    read_statements,
    script_statements,
    statements,
    training_log,
)
from grader.evaluation.checks import claim_outcome
from grader.schema import CheckStatus

pytestmark = pytest.mark.unit  # reads text and notebooks, trains nothing


def errors(source: str) -> list[float]:
    return [c.error for c in find_claims(statements_of(source))]


def statements_of(source: str) -> list[dict]:
    return [{"source": s, "line": n, "text": t} for s, n, t in script_statements(source)]


def test_portuguese_comma_and_english_dot():
    assert errors("# erro de teste: 1,45%\n") == [1.45]
    assert errors("# Test error: 1.45 %\n") == [1.45]
    assert errors("# Obtive taxa de erro de 1,3 % em 30 épocas\n") == [1.3]


def test_number_before_the_word():
    assert errors("# 1,52% de erro no teste\n") == [1.52]


def test_accuracy_is_converted_to_error():
    assert errors("# acurácia de teste: 98,55 %\n") == [1.45]
    assert errors('"""Test accuracy: 98.39 %"""\n') == [1.61]


def test_goals_and_training_figures_are_not_claims():
    src = ("# objetivo: erro menor que 1,61%\n"
           "# erro de treino: 0,00%\n"
           "# validation error 0.9%\n"
           "# keep the error below 2%\n")
    assert errors(src) == []


def test_docstrings_and_string_literals_count_with_their_line():
    src = '"""\nResultado final: erro de teste = 1.40 %\n"""\nprint("Test error: 0.00%")\n'
    claims = find_claims(statements_of(src))
    assert [(c.error, c.source, c.line) for c in claims] == [(1.4, "comment", 2), (0.0, "comment", 4)]


def test_broken_source_still_scanned():
    assert errors("def f(:\n  # erro de teste 1,7%\n") == [1.7]


def test_format_strings_without_numbers_are_ignored():
    assert errors('print("Test error: %.2f %%" % err)\n') == []


def test_a_notebook_states_in_markdown_comments_and_saved_outputs_with_their_cell(tmp_path: Path):
    run = new_code_cell("print('Test accuracy: %.2f %%' % 98.8)", outputs=[
        new_output("stream", name="stdout", text="Epoch 1/1\nTest accuracy: 98.80 %\n"),
        new_output("execute_result", data={"text/plain": "'erro de teste 1.3 %'"}, execution_count=1),
        new_output("error", ename="ValueError", evalue="erro de teste 9 %", traceback=["erro de teste 9 %"])])
    nb = new_notebook(cells=[new_markdown_cell("# Resultado\nErro de teste obtido: 1,25 %"),
                             new_code_cell("x = 1  # erro de teste: 1,5 %"), run])
    path = tmp_path / "mnist_dense.ipynb"
    nbformat.write(nb, path)
    claims = find_claims(statements(path))
    assert [(c.error, c.source, c.line) for c in claims] == [
        (1.25, "markdown", 1), (1.5, "comment", 2), (1.2, "stored_output", 3), (1.3, "stored_output", 3)]


def test_a_script_states_only_in_its_comments_and_strings(tmp_path: Path):
    path = tmp_path / "mnist_dense.py"
    path.write_text("import sys\n# erro de teste: 1,45 %\nprint(f'Test error: {err:.2f} %')\n")
    assert [(c.error, c.line) for c in find_claims(statements(path))] == [(1.45, 2)]


# --- the grammar: one line, what it states -------------------------------------------------------------

NOT_UNDERSTOOD = "not understood"


def read(text: str) -> list[str] | str:
    """A line as the table writes it: each statement's test errors ("0.88 or 99.0088" for two readings,
    "1.39..1.58" for a range), or "not understood"."""
    found, unread = read_line(text)
    if unread:
        return NOT_UNDERSTOOD
    return [" or ".join(f"{r.low:g}" if r.low == r.high else f"{r.low:g}..{r.high:g}" for r in s.readings)
            for s in found]


#: (line, what it states). Lines as students write them in comments, Markdown and saved outputs.
TABLE = [
    # error in percent, pt and en, comma or point, the label before or after the number
    ("# erro de teste: 1,45%", ["1.45"]),
    ("# Test error: 1.45 %", ["1.45"]),
    ("# Obtive taxa de erro de 1,3 % em 30 épocas", ["1.3"]),
    ("# 1,52% de erro no teste", ["1.52"]),
    ("test error rate = 1.45 ± 0.05 %", ["1.4..1.5"]),
    ("# Erro de teste ~1,5 %", ["1.5"]),
    ("# 2 camadas de 512 neurônios, dropout 0,2: erro de teste 1,6 %", ["1.6"]),
    ("# Usei uma rede convolucional porque dá erro bem menor (~1,2 %).", ["1.2"]),
    ("A rede errou 1,3 % das imagens de teste", ["1.3"]),
    # accuracy, converted to error
    ("# acurácia de teste: 98,55 %", ["1.45"]),
    ('"""Test accuracy: 98.39 %"""', ["1.61"]),
    ("Acurácia de teste (%): 99.5", ["0.5"]),
    ("Precisão do modelo no teste: 98,2%", ["1.8"]),
    ("The model reached 98.7% accuracy on the test set.", ["1.3"]),
    ("A rede acertou 98,7 % das imagens de teste", ["1.3"]),
    ("accuracy: 98.21", ["1.79"]),
    ("Acertos: 9855/10000", ["1.45"]),
    # no unit: above 1 is percent; at most 1 is read both ways (fraction first)
    ("Test error: 1.7342", ["1.7342"]),
    ("Test error: 0.5", ["50 or 0.5"]),
    ("Test error: 1.4e-2", ["1.4 or 0.014"]),
    ("Erro de teste (%): 0.45", ["0.45"]),
    ("Acurácia: 0.9912", ["0.88 or 99.0088"]),
    ("acuracia no teste = 0,9855", ["1.45 or 99.0145"]),
    ("Test accuracy: 0.9821", ["1.79 or 99.0179"]),
    ("Final test accuracy is 0.98 (98 %)", ["2 or 99.02", "2"]),
    ("accuracy                           0.98     10000", ["2 or 99.02"]),
    # Keras's evaluate: its list after a label, its progress line (Keras 3 and Keras 2)
    ("custo e acurácia de teste: [0.031, 0.9912]", ["0.88"]),
    ("Test loss, test accuracy: [0.0621, 0.9812]", ["1.88"]),
    ("acurácia de teste: [0.0621, 0.9812]", ["1.88"]),
    ("313/313 ━━━━━━━━━━━━━━━━━━━━ 1s 2ms/step - accuracy: 0.9912 - loss: 0.0310", ["0.88"]),
    ("313/313 [==============================] - 1s 2ms/step - loss: 0.0310 - accuracy: 0.9912", ["0.88"]),
    (("\x1b[1m313/313\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m1s\x1b[0m 2ms/step - "
      "accuracy: 0.9805 - loss: 0.0650"), ["1.95"]),
    ("10000/10000 [==============================] - 0s 35us/sample - loss: 0.07 - acc: 0.9812", ["1.88"]),
    # ranges: over several runs, in the form the statement asks for
    ("# Erro de teste: 1,45 % (entre 1,39 % e 1,58 % em 5 execuções)", ["1.45", "1.39..1.58"]),
    ("# Erro de teste obtido: 0,00 a 0,15 % (0 ou 1 nota errada em 686)", ["0..0.15"]),
    ("# 30 epochs instead of 80 keep the test error within 1.6-2.1 % at a third of the time.", ["1.6..2.1"]),
    # one set's figure among others'
    ("Erro de teste: 1,45 % (meta: < 1,61 %)", ["1.45"]),
    ("acurácia de treino 99,9 % e de teste 98,2 %", ["1.8"]),
    ("Erro de 0,5 % no treino e 1,4 % no teste", ["1.4"]),
    ("Train accuracy: 0.998, test accuracy: 0.985", ["1.5 or 99.015"]),
    ("Epoch 10/10 - test accuracy: 98.4%", ["1.6"]),
    # not statements about the test set
    ("# objetivo: erro menor que 1,61%", []),
    ("# A dense network for MNIST below the handout's 1.61 % test error", []),
    ("# erro de treino: 0,00%", []),
    ("# validation error 0.9%", []),
    ("# keep the error below 2%", []),
    ("val_accuracy: 0.9810", []),
    ("Test loss: 0.0621", []),
    ("Epoch 5/10", []),
    ("{'accuracy': [0.9012, 0.9950], 'loss': [0.3400, 0.0150]}", []),
    ("Epoch 10: val_loss did not improve from 0.0650", []),
    (("1875/1875 ━━━━━━━━━━━━━━━━━━━━ 5s 3ms/step - accuracy: 0.9950 - loss: 0.0150 - val_accuracy: 0.9810 - "
      "val_loss: 0.0700"), []),
    ("469/469 - 3s - loss: 0.0512 - accuracy: 0.9840 - val_loss: 0.0701 - val_accuracy: 0.9790 - 3s/epoch", []),
    ("# Testes: 1 camada de 400 (programa 4) deu ~2 %; relu + softmax + 2 camadas ~1,7 %;", []),
    ("# seeds 1, 2, 3 -> 1.28, 1.16, 1.27 % in 273-365 s each.", []),
    ('print("Test error: %.2f %%" % err)', []),
    ('print(f"Test error: {err:.2f} %")', []),
    ('print("Test error:", err)', []),
    ("# calcula o erro de teste a cada época", []),
    # a labelled statement with no figure that can be read
    ("Erro de teste: ver saída abaixo", NOT_UNDERSTOOD),
    ("# Taxa de erro de teste obtida / test error obtained: ____ %", NOT_UNDERSTOOD),
    ("erro: 145", NOT_UNDERSTOOD),
    ("Test accuracy: nan", NOT_UNDERSTOOD),
]


@pytest.mark.parametrize("text, stated", TABLE, ids=[t[:50] for t, _ in TABLE])
def test_the_grammar_reads_each_line(text: str, stated: list[str] | str):
    assert read(text) == stated


def test_the_table_covers_both_languages_and_both_outcomes():
    assert len(TABLE) >= 40
    assert sum(1 for _, s in TABLE if s and s != NOT_UNDERSTOOD) >= 25
    assert sum(1 for _, s in TABLE if not s) >= 10


# --- the training log: fit's lines are not statements, evaluate's line after them is -----------------------

FIT_THEN_EVALUATE = (
    "Epoch 1/2\n"
    "\x1b[1m1875/1875\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m5s\x1b[0m 2ms/step - "
    "accuracy: 0.9012 - loss: 0.3400\n"
    "Epoch 2/2\n"
    "\r   1/1875 ━━━━━━━━━━━━━━━━━━━━ 9s 5ms/step - accuracy: 0.9688 - loss: 0.1200"
    "\r1875/1875 ━━━━━━━━━━━━━━━━━━━━ 5s 2ms/step - accuracy: 0.9950 - loss: 0.0150\n"
    "313/313 ━━━━━━━━━━━━━━━━━━━━ 1s 2ms/step - accuracy: 0.9805 - loss: 0.0650\n"
    "Test accuracy: 0.9805\n")


def nb_claims(tmp_path: Path, cells: list) -> list[tuple[float, str, int]]:
    path = tmp_path / "nb.ipynb"
    nbformat.write(new_notebook(cells=cells), path)
    return [(c.error, c.source, c.line) for c in find_claims(statements(path))]


def test_fits_log_is_not_read_and_evaluates_line_after_it_is(tmp_path: Path):
    cell = new_code_cell("model.fit(AX, AY, epochs=2)\nmodel.evaluate(QX, QY)\nprint('Test accuracy:', acc)",
                         outputs=[new_output("stream", name="stdout", text=FIT_THEN_EVALUATE)])
    assert nb_claims(tmp_path, [cell]) == [(1.95, "stored_output", 1), (1.95, "stored_output", 1)]


def test_a_fit_without_validation_alone_states_nothing(tmp_path: Path):
    log = "Epoch 1/1\n1875/1875 ━━━━━━━━━━━━━━━━━━━━ 5s 2ms/step - accuracy: 0.9950 - loss: 0.0150\n"
    cell = new_code_cell("model.fit(AX, AY, epochs=1)", outputs=[new_output("stream", name="stdout", text=log)])
    assert nb_claims(tmp_path, [cell]) == []


def test_evaluates_line_in_its_own_cell_and_keras2s_backspaced_bar(tmp_path: Path):
    keras2 = ("313/313 [====>.........................] - ETA: 0s - loss: 0.0700 - accuracy: 0.9700"
              + "\b" * 86 + "313/313 [==============================] - 1s 2ms/step - loss: 0.0650 - accuracy: 0.9810\n")
    fit = new_code_cell("model.fit(AX, AY, epochs=1)", outputs=[new_output("stream", name="stdout", text=(
        "Epoch 1/1\n1875/1875 [==============================] - 5s 2ms/step - loss: 0.0150 - accuracy: 0.9950\n"))])
    evaluate = new_code_cell("model.evaluate(QX, QY)", outputs=[new_output("stream", name="stdout", text=keras2)])
    assert nb_claims(tmp_path, [fit, evaluate]) == [(1.9, "stored_output", 2)]


def test_the_list_a_cells_evaluate_leaves_or_prints_is_loss_and_accuracy(tmp_path: Path):
    test = new_code_cell("model.evaluate(QX, QY, verbose=0)", outputs=[
        new_output("execute_result", data={"text/plain": "[0.0621, 0.9812]"}, execution_count=3)])
    printed = new_code_cell("print(model.evaluate(x_test, y_test, verbose=0))", outputs=[
        new_output("stream", name="stdout", text="[0.0700, 0.9790]\n")])
    train = new_code_cell("model.evaluate(AX, AY, verbose=0)", outputs=[
        new_output("execute_result", data={"text/plain": "[0.0101, 0.9990]"}, execution_count=4)])
    history = new_code_cell("h = model.fit(AX, AY, epochs=2, verbose=0)\nprint(h.history)", outputs=[
        new_output("stream", name="stdout", text="{'accuracy': [0.9012, 0.9950], 'loss': [0.34, 0.015]}\n")])
    assert nb_claims(tmp_path, [test, printed, train, history]) == [(1.88, "stored_output", 1),
                                                                    (2.1, "stored_output", 2)]


def test_a_pasted_log_in_comments_keeps_evaluates_line_only():
    src = ("# Epoch 20/20\n"
           "# 469/469 [==============================] - 2s 4ms/step - loss: 0.0100 - accuracy: 0.9970\n"
           "# 313/313 [==============================] - 1s 2ms/step - loss: 0.0600 - accuracy: 0.9842\n"
           "x = 1\n"
           "# 469/469 - 2s - loss: 0.0100 - accuracy: 0.9970 - val_loss: 0.06 - val_accuracy: 0.9840\n")
    assert [(c.error, c.line) for c in find_claims(statements_of(src))] == [(1.58, 3)]


def test_training_log_marks_fits_lines():
    lines = ["Epoch 1/1", "1875/1875 ━━━━ 5s - accuracy: 0.99", "313/313 ━━━━ 1s - accuracy: 0.98",
             "  1/313 ━━━━ 1s - accuracy: 0.90", "Test accuracy: 0.98"]
    assert training_log(lines) == [True, True, False, True, False]


# --- the decision, given a measured error (no training) ---------------------------------------------------

def claims_of(*lines: str) -> tuple[list[Claim], list]:
    return read_statements([{"source": "comment", "line": n, "text": t} for n, t in enumerate(lines, 1)])


def verdict(lines: tuple[str, ...], measured: float, tolerance: float = 0.3, kind: str = "py"):
    claims, unread = claims_of(*lines)
    return claim_outcome(claims, unread, measured, tolerance, kind)


def test_any_statement_within_tolerance_passes_and_the_message_names_its_line():
    out = verdict(("# erro de teste: 3,0 %", "# acurácia de teste: 98,55 %"), measured=1.6)
    assert out.status == CheckStatus.PASS
    assert out.message.en == "stated an accuracy of 98,55 %, read as percent: 98.55 %, that is an error of 1.45 % " \
                             "(line 2), measured 1.60 %"
    assert "linha 2" in out.message.pt and "medido 1,60 %" in out.message.pt


def test_a_range_passes_when_the_measure_lies_in_it_widened_by_the_tolerance():
    line = "# Erro de teste: 1,45 % (entre 1,39 % e 1,58 % em 5 execuções)"
    assert verdict((line,), measured=1.85).status == CheckStatus.PASS    # 1.58 + 0.3 >= 1.85
    assert verdict((line,), measured=1.10).status == CheckStatus.PASS    # 1.39 - 0.3 <= 1.10
    assert verdict((line,), measured=1.95).status == CheckStatus.FAIL


def test_a_bare_number_of_at_most_one_passes_under_either_reading_and_the_unit_is_asked_for():
    as_percent = verdict(("Test error: 0.5",), measured=0.44)       # noisynote: 0.5 means 0.5 %
    as_fraction = verdict(("Acurácia: 0.9912",), measured=0.95)     # Keras's fraction
    assert as_percent.status == as_fraction.status == CheckStatus.PASS
    assert "an error of 0.5 (no unit), read as percent: 0.50 %" in as_percent.message.en
    assert "read as a fraction: 99.12 %, that is an error of 0.88 %" in as_fraction.message.en
    assert "write the unit" in as_fraction.message.en and "escreva a unidade" in as_fraction.message.pt
    assert "ou seja, um erro de 0,88 %" in as_fraction.message.pt
    assert verdict(("Test error: 0.5",), measured=1.5).status == CheckStatus.FAIL


def test_a_statement_off_the_measure_fails_naming_each_reading_and_place():
    out = verdict(("x = 1", "# Test error: 1.20 %", "# Acurácia: 0.99"), measured=1.7, kind="py")
    assert out.status == CheckStatus.FAIL
    assert out.message.en.startswith("stated 1.20 % (line 2); an accuracy of 0.99 (no unit), read as a fraction: "
                                     "99.00 %, that is an error of 1.00 % or as percent: 0.99 %, that is an error "
                                     "of 99.01 % (line 3), but the graded model measures 1.70 %")
    assert out.details["claims"][1]["readings"] == [[1.0, 1.0, "fraction"], [99.01, 99.01, "percent"]]


def test_a_notebooks_claims_name_their_cell():
    claims, unread = read_statements([{"source": "stored_output", "line": 4, "text": "Test accuracy: 98.8 %"},
                                      {"source": "markdown", "line": 2, "text": "Erro de teste: ?"}])
    out = claim_outcome(claims, unread, 3.0, 0.3, "ipynb")
    assert "(saved output of cell 4)" in out.message.en and "(saída salva da célula 4)" in out.message.pt


def test_a_line_with_no_readable_figure_scores_as_missing_and_names_the_form():
    out = verdict(("# Taxa de erro de teste obtida / test error obtained: ____ %",), measured=1.5)
    assert out.status == CheckStatus.FAIL and out.details["claims"] == []
    assert out.details["not_understood"][0]["line"] == 1
    assert "no figure could be read in what you state (line 1:" in out.message.en
    assert "# erro de teste: 1,45 %" in out.message.pt and "in a comment at the top" in out.message.en
    nothing = verdict(("# nothing here",), measured=1.5)
    assert nothing.status == CheckStatus.FAIL and "no stated test error found" in nothing.message.en
    notebook = claim_outcome([], [Unread("markdown", 3, "Erro de teste: ver abaixo")], 1.5, 0.3, "ipynb")
    assert "(Markdown of cell 3: 'Erro de teste: ver abaixo')" in notebook.message.en
    assert "Markdown" in notebook.message.pt


def test_hostile_statements_are_read_quickly_and_capped(tmp_path: Path):
    """Thousands of lines of numbers, brackets and unclosed braces: read in bounded time, at most 2000 kept."""
    lines = ["# erro de teste: " + "1," * 140, "# " + "{[(" * 100, "# acc: " + "0.9 - " * 60, "\b" * 300]
    path = tmp_path / "mnist_dense.py"
    path.write_text("\n".join(lines * 1000) + "\n")
    t0 = time.monotonic()
    found = statements(path)
    claims, _ = read_statements(found)
    assert len(found) == MAX_STATEMENTS and claims
    assert time.monotonic() - t0 < 20
