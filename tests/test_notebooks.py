"""Notebooks and Colab exports, graded like scripts: real kernels, real training, real malformed files."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import check
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.results import flagged_attempts

COLAB_SETUP = """from google.colab import drive
drive.mount('/content/drive')
%cd /content
%matplotlib inline
!nvidia-smi
!pip install tensorflow-addons"""
DOWNLOAD = """url = 'http://www.lps.usp.br/hae/apostila/noisynote.zip'
import os; nomeArq = os.path.split(url)[1]
if not os.path.exists(nomeArq):
    os.system("wget -nc -U 'Firefox/50.0' " + url)
os.system("unzip -u " + nomeArq)
!ls"""
TRAIN = """import numpy as np
from tensorflow import keras
def le(nomearq):
    with open(nomearq) as f:
        linhas = f.readlines()
        nl, nc = map(int, linhas[0].split())
        return np.array([[float(v) for v in l.split()] for l in linhas[1:nl + 1]], dtype=np.float32)
ax = le("ax.txt"); ay = le("ay.txt"); qx = le("/content/qx.txt"); qy = le("noisynote/qy.txt")
m, s = ax.mean(0), ax.std(0)
model = keras.Sequential([keras.Input((7,)), keras.layers.Dense(16, activation='relu'),
                          keras.layers.Dense(1, activation='sigmoid')])
model.compile('adam', 'binary_crossentropy', metrics=['accuracy'])
model.fit((ax - m) / s, ay, epochs=20, verbose=0)
print('Test error: %.2f %%' % (100 * (1 - model.evaluate((qx - m) / s, qy, verbose=0)[1])))"""


def write_notebook(path: Path, cells: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=cells), path)
    return path


@pytest.fixture
def grade_file(evaluator, tmp_path):
    from grader import exercise
    from grader.jobs import Options, grade

    def run(path: Path, exercise_id: str, **options):
        return grade(path.parent.name, exercise.load(exercise_id), path, evaluator, Options(**options))

    return run


def test_colab_notebook_and_its_script_export_get_the_same_verdict(grade_file, tmp_path):
    nb = write_notebook(tmp_path / "nb" / "noisynote.ipynb", [
        new_markdown_cell("# Notas com ruído"), new_code_cell(COLAB_SETUP), new_code_cell(DOWNLOAD),
        new_code_cell(TRAIN)])
    script = tmp_path / "py" / "noisynote.py"
    script.parent.mkdir()
    script.write_text("# -*- coding: utf-8 -*-\n" + "\n\n".join([COLAB_SETUP, DOWNLOAD, TRAIN]) + "\n")
    r_nb = grade_file(nb, "noisynote", seed=3, keep_dir=tmp_path / "kept")
    r_py = grade_file(script, "noisynote", seed=3)
    for r in (r_nb, r_py):
        assert check(r, "runs")["status"] == "pass", check(r, "runs")
        assert check(r, "correspondence")["status"] == "pass"
        assert "not run while grading: pip install tensorflow-addons" in r["stdout_tail"]
        assert r["test_error"] is not None
        assert flagged_attempts(r) == [], r["attempts"]  # drive.mount, !pip, the wget/unzip recipe: the handout's
    assert [c["status"] for c in r_nb["checks"]] == [c["status"] for c in r_py["checks"]]
    executed = nbformat.read(tmp_path / "kept" / "nb" / "noisynote" / "artifacts" / "executed.ipynb", 4)
    assert any("Test error" in o.get("text", "") for o in executed.cells[3].outputs)


def test_pip_install_in_a_notebook_leaves_the_grader_environment_unchanged(grade_file, tmp_path):
    before = subprocess.run([sys.executable, "-m", "pip", "freeze"], capture_output=True, text=True).stdout
    nb = write_notebook(tmp_path / "s" / "mnist_dense.ipynb", [
        new_code_cell("!pip install --upgrade six==1.15.0\n%pip install requests==2.0.0\n"
                      "import subprocess, sys\n"
                      "print(subprocess.run([sys.executable, '-m', 'pip', 'install', 'six==1.15.0'],"
                      " capture_output=True, text=True).returncode)")])
    result = grade_file(nb, "mnist_dense")
    assert "ran to the end but never trained a model" in check(result, "runs")["message"]
    assert result["stdout_tail"].count("not run while grading") == 2
    assert "the course allows tensorflow, keras" in result["stdout_tail"] and "cv2 (opencv-python-headless)" in \
        result["stdout_tail"]  # what the student can import instead
    assert result["stdout_tail"].strip().endswith("1")  # pip itself cannot write the read-only environment
    after = subprocess.run([sys.executable, "-m", "pip", "freeze"], capture_output=True, text=True).stdout
    assert before == after


def test_failing_cell_is_named(grade_file, tmp_path):
    nb = write_notebook(tmp_path / "s" / "mnist_dense.ipynb", [
        new_code_cell("import numpy as np"), new_markdown_cell("texto"), new_code_cell("x = np.zeros(3)\ny = x[5]"),
        new_code_cell("print('never')")])
    result = grade_file(nb, "mnist_dense")
    assert result["status"] == "error"
    assert "IndexError in cell 3 (`x = np.zeros(3)`)" in result["error"]
    assert "never" not in result["stdout_tail"]


def test_a_kernel_killed_by_a_signal_names_it_and_its_cell(grade_file, tmp_path):
    """The kernel dies, not the driver: its exit status and its faulthandler dump (written to a file) are passed on,
    so a notebook's crash is reported as a script's is (run twice, an error for the instructor)."""
    nb = write_notebook(tmp_path / "s" / "mnist_dense.ipynb", [
        new_code_cell("print('before')"), new_code_cell("import ctypes\nctypes.string_at(0)")])
    result = grade_file(nb, "mnist_dense", quick=True)
    assert result["status"] == "error" and result["crash"]["runs"] == 2, result
    assert result["crash"]["frame"].startswith("ctypes/__init__.py:")
    assert "SIGSEGV" in result["error"] and "during cell 2 (`import ctypes`)" in result["error"]
    assert "durante a célula 2" in result["error_pt"] and "instructor" in result["error"]


def test_endless_cell_hits_the_per_cell_timeout(grade_file, tmp_path):
    nb = write_notebook(tmp_path / "s" / "mnist_dense.ipynb", [
        new_code_cell("print('start')"), new_code_cell("while True:\n    pass")])
    t0 = time.monotonic()
    result = grade_file(nb, "mnist_dense", limits={"cell_timeout_s": 5})
    assert time.monotonic() - t0 < 60
    runs = check(result, "runs")
    assert runs["status"] == "fail" and "cell 2 (`while True:`) ran longer than 5" in runs["message"]


def test_fashion_notebook_that_only_shows_its_figure(grade_file, tmp_path):
    nb = write_notebook(tmp_path / "s" / "fashion_mnist.ipynb", [
        new_code_cell("import numpy as np\nimport matplotlib.pyplot as plt\nfrom tensorflow import keras\n"
                      "(AX, AY), (QX, QY) = keras.datasets.fashion_mnist.load_data()"),
        new_code_cell("model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),"
                      " keras.layers.Dense(10, activation='softmax')])\n"
                      "model.compile('adam', 'sparse_categorical_crossentropy')\n"
                      "model.fit(AX[:2000] / 255, AY[:2000], epochs=1, verbose=0)\n"
                      "QP = model.predict(QX / 255, verbose=0).argmax(1)"),
        new_code_cell("for i in range(20):\n    plt.subplot(4, 5, i + 1)\n    plt.imshow(QX[i])\n"
                      "    plt.title(str(QY[i]), color='blue')\n    plt.text(0, 27, str(QP[i]), color='red')"),
    ])
    result = grade_file(nb, "fashion_mnist", quick=True)
    assert check(result, "figure")["status"] == "pass", check(result, "figure")["message"]


@pytest.mark.parametrize("name, content, message", [
    ("truncated", '{"cells": [{"cell_type": "code", "source": "print(1)"', "cannot be read"),
    ("latin1", b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5, "x": "\xe7"}', "not UTF-8"),
])
def test_malformed_notebooks_are_an_error_verdict(grade_file, tmp_path, name, content, message):
    path = tmp_path / name / "mnist_dense.ipynb"
    path.parent.mkdir()
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    result = grade_file(path, "mnist_dense")
    assert result["status"] == "error" and message in result["error"], result["error"]


def test_nbformat_v3_notebook_is_upgraded_and_run(grade_file, tmp_path):
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": ""}, "worksheets": [{"cells": [
        {"cell_type": "code", "input": "print('hello from v3')", "language": "python", "outputs": [],
         "metadata": {}}], "metadata": {}}]}
    path = tmp_path / "old" / "mnist_dense.ipynb"
    path.parent.mkdir()
    path.write_text(json.dumps(v3))
    result = grade_file(path, "mnist_dense")
    assert "ran to the end but never trained a model" in check(result, "runs")["message"]
    assert "hello from v3" in result["stdout_tail"]


def test_a_notebooks_saved_output_is_its_claim_and_the_graders_run_is_not(grade_file, tmp_path):
    """The student's own run printed 1.20 %; run here, the tiny model measures far more, and prints it."""
    train = new_code_cell(
        "from tensorflow import keras\n(AX, AY), (QX, QY) = keras.datasets.mnist.load_data()\n"
        "model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),"
        " keras.layers.Dense(10, activation='softmax')])\n"
        "model.compile('adam', 'sparse_categorical_crossentropy', metrics=['accuracy'])\n"
        "model.fit(AX[:1000] / 255.0, AY[:1000], epochs=1, verbose=0)")
    evaluate = new_code_cell("loss, acc = model.evaluate(QX / 255.0, QY, verbose=0)\n"
                             "print('Test error: %.2f %%' % (100 * (1 - acc)))",
                             outputs=[nbformat.v4.new_output("stream", name="stdout", text="Test error: 1.20 %\n")])
    nb = write_notebook(tmp_path / "s" / "mnist_dense.ipynb", [new_markdown_cell("# MNIST denso"), train, evaluate])
    result = grade_file(nb, "mnist_dense")  # full mode: quick mode does not compare claims
    claim = check(result, "honest_claim")
    assert result["test_error"] > 5 and claim["status"] == "fail", claim
    assert [(c["error"], c["source"], c["line"]) for c in claim["details"]["claims"]] == [(1.2, "stored_output", 3)]
    assert f"stated 1.20 % (saved output of cell 3), but the graded model measures {result['test_error']:.2f} %" \
        in claim["message"]
    assert "saída salva da célula 3" in claim["message_pt"]


@pytest.mark.parametrize("cells", [[new_markdown_cell("só texto: erro de teste 1,2 %")],
                                   [new_markdown_cell("# título"), new_code_cell("# ainda nada\n"), new_code_cell("")]])
def test_a_notebook_without_code_is_an_empty_submission(grade_file, tmp_path, cells):
    result = grade_file(write_notebook(tmp_path / "s" / "mnist_dense.ipynb", cells), "mnist_dense")
    assert result["status"] == "empty" and result["score"] == 0 and result["checks"] == []
    assert "não tem código, só Markdown e células vazias ou só com comentários" in result["error_pt"]
