from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from grader.claims import find_claims, script_statements, statements


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
