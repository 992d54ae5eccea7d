from grader.claims import find_claims


def errors(source: str = "", output: str = "") -> list[float]:
    return [c.error for c in find_claims(source, output)]


def test_portuguese_comma_and_english_dot():
    assert errors("# erro de teste: 1,45%\n") == [1.45]
    assert errors("# Test error: 1.45 %\n") == [1.45]
    assert errors("# Obtive taxa de erro de 1,3 % em 30 épocas\n") == [1.3]


def test_number_before_the_word():
    assert errors("# 1,52% de erro no teste\n") == [1.52]


def test_accuracy_is_converted_to_error():
    assert errors("# acurácia de teste: 98,55 %\n") == [1.45]
    assert errors(output="Test accuracy: 98.39 %\n") == [1.61]


def test_goals_and_training_figures_are_not_claims():
    src = ("# objetivo: erro menor que 1,61%\n"
           "# erro de treino: 0,00%\n"
           "# validation error 0.9%\n"
           "# keep the error below 2%\n")
    assert errors(src) == []


def test_docstrings_and_printed_lines_count():
    src = '"""\nResultado final: erro de teste = 1.40 %\n"""\nprint("Test error: 0.00%")\n'
    claims = find_claims(src, "Test error: 1.52 %\n")
    assert [(c.error, c.source) for c in claims] == [(1.4, "comment"), (0.0, "comment"), (1.52, "output")]
    assert claims[0].line == 2


def test_broken_source_still_scanned():
    assert errors("def f(:\n  # erro de teste 1,7%\n") == [1.7]


def test_format_strings_without_numbers_are_ignored():
    assert errors('print("Test error: %.2f %%" % err)\n') == []
