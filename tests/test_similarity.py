"""Similarity across the class: shared code (copydetect's winnowing) and notebooks that share a run.

Nothing here trains: the code comparisons read text, and the independent runs are logs printed by real
unseeded runs (``benchmarks/independent_runs.py``), kept under tests/data/independent_runs.
"""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from grader import cli, exercise, similarity
from grader.config import _course_config, course_root
from grader.errors import GraderError
from grader.report.html import find_flags, render_html
from grader.similarity import code, runs

pytestmark = pytest.mark.unit  # reads submissions and stored logs, runs none

ROOT = course_root()
CLASS = ROOT / "examples" / "class"
DATA = Path(__file__).parent / "data" / "independent_runs"


def course_code() -> list[str]:
    return similarity.course_material()[0]


# --- code similarity ---------------------------------------------------------------------------------------------

ORIGINAL = '''\
import numpy as np
from tensorflow import keras

def load(name):
    with open(name) as f:
        rows, cols = (int(v) for v in f.readline().split())
        return np.loadtxt(f, dtype="float32", ndmin=2).reshape(rows, cols)

train_x, train_y = load("ax.txt"), load("ay.txt")
test_x, test_y = load("qx.txt"), load("qy.txt")
train_x, test_x = train_x[:, :4], test_x[:, :4]   # the 4 real attributes
mean, std = train_x.mean(axis=0), train_x.std(axis=0)
train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(32, activation="relu"),
                        keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1, activation="sigmoid")])
net.compile(optimizer=keras.optimizers.Adam(learning_rate=0.005), loss="binary_crossentropy", metrics=["accuracy"])
net.fit(train_x, train_y, batch_size=32, epochs=150, verbose=0)
wrong = np.sum((net.predict(test_x, verbose=0)[:, 0] > 0.5) != test_y[:, 0])
print("test error: %.2f %%" % (100 * wrong / len(test_y)))
'''

#: The same program with every name changed, comments rewritten, quotes and spacing changed.
RENAMED = '''\
import numpy as np
from tensorflow import keras

# le uma matriz do enunciado
def ler(arquivo):
    with open(arquivo) as a:
        nl, nc = (int(v) for v in a.readline().split())
        return np.loadtxt(a, dtype='float32', ndmin=2).reshape(nl, nc)

xa, ya = ler('ax.txt'), ler('ay.txt')
xq, yq = ler('qx.txt'), ler('qy.txt')
xa, xq = xa[:, :4], xq[:, :4]
mu, sd = xa.mean(axis=0), xa.std(axis=0)
xa, xq = (xa - mu) / sd, (xq - mu) / sd
rede = keras.Sequential([keras.Input((4,)), keras.layers.Dense(32, activation='relu'),
                         keras.layers.Dense(16, activation='relu'), keras.layers.Dense(1, activation='sigmoid')])
rede.compile(optimizer=keras.optimizers.Adam(learning_rate=0.005), loss='binary_crossentropy', metrics=['accuracy'])
rede.fit(xa, ya, batch_size=32, epochs=150, verbose=0)
erros = np.sum((rede.predict(xq, verbose=0)[:, 0] > 0.5) != yq[:, 0])
print('erro de teste: %.2f %%' % (100 * erros / len(yq)))
'''

#: Another student's own program for the same exercise.
INDEPENDENT = (CLASS / "alice" / "noisynote.py").read_text()

STARTER = (ROOT / "assignments" / "noisynote" / "starter.py").read_text()
#: Two students who kept the starter whole and each added code of their own: they share only the course's code.
KEPT_STARTER_1 = STARTER + '''
from sklearn.metrics import confusion_matrix
print(confusion_matrix(qy[:, 0], qp))
for epoch_count in (10, 50, 100):
    model.fit(ax, ay, batch_size=16, epochs=epoch_count, verbose=0)
    print(epoch_count, np.mean(model.predict(qx, verbose=0).argmax(axis=1) != qy[:, 0]))
'''
KEPT_STARTER_2 = STARTER + '''
import matplotlib.pyplot as plt
history = model.fit(ax, ay, validation_split=0.2, epochs=40, verbose=0).history
plt.plot(history["loss"], label="treino"); plt.plot(history["val_loss"], label="validação")
plt.legend(); plt.savefig("curvas.png")
'''


def test_the_renamed_copy_ranks_first_and_a_pair_sharing_only_the_starter_last():
    sources = [code.Source("orig", "noisynote.py", ORIGINAL), code.Source("renamed", "noisynote.py", RENAMED),
               code.Source("own", "noisynote.py", INDEPENDENT), code.Source("kept1", "noisynote.py", KEPT_STARTER_1),
               code.Source("kept2", "noisynote.py", KEPT_STARTER_2)]
    pairs = code.compare(sources, course_code())
    first = pairs[0]
    assert {first.student_a, first.student_b} == {"orig", "renamed"}
    assert first.share_a > 0.9 and first.share_b > 0.9, first
    kept = next(p for p in pairs if {p.student_a, p.student_b} == {"kept1", "kept2"})
    assert kept.similarity == min(p.similarity for p in pairs) < 0.05, pairs  # at the bottom (ties with strangers)
    assert pairs[1].similarity > 0.2  # above it: two programs written apart, which share Keras's idioms
    # the discount is what puts them there: compared with no course code, the starter makes them the next pair
    undiscounted = code.compare(sources)
    assert {undiscounted[1].student_a, undiscounted[1].student_b} == {"kept1", "kept2"}
    assert undiscounted[1].similarity > 0.5
    # the matched passages are the copied program, located in each text
    text = ORIGINAL if first.student_a == "orig" else RENAMED
    marked = "".join(text[start:end] for start, end in first.slices_a)
    assert len(marked) > len(text) / 2 and "keras.Sequential" in marked


def test_statement_snippets_and_notebook_cells_are_read():
    assert code.statement_snippets("text\n```python\nx = 1\n```\nmore\n```\ny = 2\n```\n") == ["x = 1\n", "y = 2\n"]
    joined = code.notebook_code(["import keras", "model.fit(x, y)\n\n"])
    assert joined == "# In[1]\nimport keras\n\n# In[2]\nmodel.fit(x, y)\n"


def test_the_side_by_side_page_escapes_the_code_and_allows_no_script():
    hostile = '</pre><script>alert(1)</script>\nprint("<img src=x onerror=alert(2)>")\n' + ORIGINAL
    a, b = code.Source("<b>eve</b>", "x.py", hostile), code.Source("bob", "y.py", ORIGINAL)
    pair = code.compare([a, b])[0]
    page = code.side_by_side("noisynote", pair, a, b)
    assert "<script>" not in page and "<img" not in page and "&lt;script&gt;" in page and "&lt;b&gt;eve" in page
    assert "default-src 'none'" in page and "script-src" not in page
    assert page.count("<mark>") >= 2  # the shared program, marked on both sides


def test_similarity_is_the_same_in_every_process():
    """copydetect hashes k-grams with Python's salted string hash: with a window of 1 no fingerprint choice depends
    on it, so two processes with different salts give the same figures."""
    program = ("from grader.similarity import code; import sys; a, b = sys.argv[1:3]; "
               "p = code.compare([code.Source('a', 'a.py', open(a).read()), code.Source('b', 'b.py', open(b).read())])"
               "[0]; print(p.share_a, p.share_b, p.slices_a)")
    files = [str(CLASS / "alice" / "noisynote.py"), str(CLASS / "eva" / "noisynote.py")]
    outputs = {subprocess.run([sys.executable, "-c", program, *files], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert len(outputs) == 1 and float(outputs.pop().split()[0]) > 0


def synthetic_class(folder: Path, n: int) -> None:
    """n noisynote programs as a class writes them: the same task, each student's own names, sizes and choices."""
    rng = random.Random(7)
    names = ["x", "dados", "treino", "entrada", "features", "a", "X_train", "tr", "amostras", "inputs"]
    for i in range(n):
        tx, ty, qx, qy, net = rng.sample(names, 5)
        read = rng.choice(["le", "ler", "carrega", "load"])
        layers = "".join(f"    keras.layers.Dense({rng.choice([8, 16, 32, 64, 128])}, activation="
                         f"'{rng.choice(['relu', 'tanh', 'sigmoid'])}'),\n" for _ in range(rng.randint(1, 3)))
        drop = [c for c in range(7) if rng.random() < 0.4]
        scale = (f"m, s = {tx}.mean(0), {tx}.std(0); {tx} = ({tx} - m) / s; {qx} = ({qx} - m) / s"
                 if rng.random() < 0.5 else f"{tx} = {tx} / 30; {qx} = {qx} / 30")
        program = f'''# aluno {i}: noisynote
import numpy as np
{rng.choice(["from tensorflow import keras", "import keras"])}

def {read}(nome):
    {rng.choice(["linhas = open(nome).read().split(chr(10))", "with open(nome) as f: linhas = f.readlines()"])}
    return np.array([[float(v) for v in l.split()] for l in linhas[1:] if l.strip()], dtype="float32")

{tx}, {ty} = {read}("ax.txt"), {read}("ay.txt")
{qx}, {qy} = {read}("qx.txt"), {read}("qy.txt")
{tx} = np.delete({tx}, {drop}, axis=1); {qx} = np.delete({qx}, {drop}, axis=1)
{scale}
{net} = keras.Sequential([keras.Input(({7 - len(drop)},)),
{layers}    keras.layers.Dense(1, activation="sigmoid")])
{net}.compile(optimizer="{rng.choice(["adam", "rmsprop", "sgd"])}", loss="binary_crossentropy", metrics=["accuracy"])
{net}.fit({tx}, {ty}, epochs={rng.choice([50, 100, 200])}, batch_size={rng.choice([16, 32, 64])}, verbose=0)
print({rng.choice(["'erro:'", "'test error'", "'taxa de erro'"])}, 1 - {net}.evaluate({qx}, {qy}, verbose=0)[1])
'''
        (folder / f"s{i:03d}").mkdir(parents=True)
        (folder / f"s{i:03d}" / "noisynote.py").write_text(program)


def test_a_class_of_100_is_compared_in_seconds(tmp_path):
    synthetic_class(tmp_path / "class", 100)
    t0 = time.monotonic()
    [summary] = similarity.analyse(tmp_path / "class", [exercise.load("noisynote")], tmp_path / "reports")
    seconds = time.monotonic() - t0
    print(f"100 submissions, {summary.pairs} pairs: {seconds:.1f} s")  # the figure in the README
    assert summary.submissions == 100 and summary.pairs == 4950
    assert seconds < 60, f"{seconds:.0f} s for 100 submissions"
    assert len(similarity.read(tmp_path / "reports").pairs) == 4950
    # one template with random choices: most pairs reach the threshold, yet the pages written stay bounded
    assert summary.flagged > similarity.MAX_VIEWS
    assert len(list((tmp_path / "reports" / "similarity" / "noisynote").iterdir())) == similarity.MAX_VIEWS


# --- identical runs ----------------------------------------------------------------------------------------------

def test_a_keras_progress_bar_saved_in_a_notebook_is_read_as_one_record_per_epoch():
    logs = runs.notebook_logs(nbformat.read(CLASS / "kaio" / "abc_skin.ipynb", as_version=4))
    assert list(logs) == [3]  # the code cell that trains (cell 4 prints predictions, no loss)
    epochs = logs[3].epochs
    assert len(epochs) == 100 and all(r.startswith("acc=") and " loss=" in r for r in epochs)
    assert not any("step" in r or "ETA" in r for r in epochs)  # timings are not figures


def test_keras_2_and_own_loop_logs_are_read():
    keras2 = ("Epoch 1/3\n1875/1875 [==============================] - 3s 2ms/step - loss: 0.2611 - accuracy: 0.9251\n"
              "Epoch 2/3\n 100/1875 [>....] - ETA: 2s - loss: 0.1300\b\b\b\r1875/1875 [=====] - 3s 2ms/step - "
              "loss: 0.1143 - accuracy: 0.9662\nEpoch 3/3\n1875/1875 [=====] - 3s - loss: 0.0790 - accuracy: 0.9762\n")
    assert runs.training_log(keras2).epochs == ("loss=0.2611 accuracy=0.9251", "loss=0.1143 accuracy=0.9662",
                                                "loss=0.0790 accuracy=0.9762")
    torch = "epoch 1 loss 0.5123\nepoch 2 loss 0.3321\ntest accuracy 97.1\n"
    assert runs.training_log(torch).epochs == ("loss=0.5123", "loss=0.3321")
    assert runs.training_log("x.shape = (60000, 784)\naccuracy: 0.97\n").epochs == ()


def logs_of(program: str) -> list[runs.TrainingLog]:
    return [runs.training_log(p.read_text()) for p in sorted((DATA / program).glob("*.txt"))]


@pytest.mark.parametrize("program", ["abc_skin", "mnist_subset"])
def test_independent_runs_of_one_program_are_not_flagged(program):
    logs = logs_of(program)
    assert len(logs) >= 5 and all(len(log.epochs) >= 3 for log in logs)
    for a, b in itertools.combinations(logs, 2):
        assert not a.shared_with(b), (a, b)
    assert logs[0].shared_with(logs[0])  # while a log copied whole is


def notebook(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """A notebook of (code, printed output) cells."""
    return new_notebook(cells=[new_code_cell(src, outputs=[new_output("stream", name="stdout", text=out)] if out else [])
                               for src, out in cells])


def write_class(folder: Path, notebooks: dict[str, nbformat.NotebookNode]) -> None:
    for student, nb in notebooks.items():
        (folder / student).mkdir(parents=True)
        nbformat.write(nb, folder / student / "abc_skin.ipynb")


def test_the_demo_class_shows_its_renamed_pair_and_its_copied_run(tmp_path):
    exercises = [exercise.load("abc_skin"), exercise.load("noisynote")]
    summaries = {s.exercise: s for s in similarity.analyse(CLASS, exercises, tmp_path)}
    found = similarity.read(tmp_path)
    noisy = [p for p in found.pairs if p.exercise == "noisynote"]
    assert (noisy[0].student_a, noisy[0].student_b) == ("igor", "joana") and noisy[0].flagged
    assert [(p.student_a, p.student_b) for p in found.flagged()] == [("igor", "joana")]
    assert summaries["noisynote"].flagged == 1 and summaries["abc_skin"].flagged == 0
    [run] = found.runs
    assert (run.exercise, run.student_a, run.student_b, run.cells_a, run.cells_b) == ("abc_skin", "kaio", "lara",
                                                                                      "3", "3")
    assert run.records == 100 and run.code_similarity < 0.6  # lara rewrote the code, kept kaio's outputs
    page = (tmp_path / run.view).read_text()
    assert "kaio" in page and "lara" in page and "<mark>" in page and "share one training log: 100 records" in page
    flags = find_flags([], similarity=found)
    assert [(f.student, f.exercise, f.reason) for f in flags] == [
        ("igor", "noisynote", "similar code: joana"), ("kaio", "abc_skin", "identical run: lara")]


def test_runs_in_the_course_material_and_single_records_are_not_evidence(tmp_path):
    log = "".join(f"Epoch {i}/5\n1/1 - 0s - loss: {1 - i / 10:.4f} - accuracy: 0.{i}000\n" for i in range(1, 6))
    stuck = "".join(f"Epoch {i}/5\n1/1 - 0s - loss: 0.6931 - accuracy: 0.5000\n" for i in range(1, 6))
    a = runs.Outputs("a", runs.notebook_logs(notebook([("model.fit(x, y)", log), ("m.fit(x, y)", stuck)])))
    b = runs.Outputs("b", runs.notebook_logs(notebook([("import keras", ""), ("rede.fit(x, y)", log + stuck)])))
    [match] = runs.identical_runs([a, b])
    assert (match.cells_a, match.cells_b, len(match.records)) == ((1,), (2,), 5)  # the stuck log alone: nothing
    assert runs.identical_runs([a, b], runs.course_records([log])) == []  # a stale output of the course's own run


def test_both_seeds_are_noted_beside_the_pair():
    log = "".join(f"Epoch {i}/3\nloss: {1 - i / 7:.4f}\n" for i in range(1, 4))
    seeded = "import keras\nkeras.utils.set_random_seed(42)\nnp.random.seed(seed=7)\n"
    a = runs.Outputs("a", runs.notebook_logs(notebook([(seeded, log)])), runs.seeds(seeded))
    b = runs.Outputs("b", runs.notebook_logs(notebook([(seeded, log)])), runs.seeds(seeded + "tf.random.set_seed(1)"))
    [match] = runs.identical_runs([a, b])
    assert match.seeds == ("42", "7")


def test_hostile_and_broken_submissions_are_listed_not_compared(tmp_path):
    klass = tmp_path / "class"
    write_class(klass, {"ok1": notebook([("print(1)", "")]), "ok2": notebook([("print(2)", "")])})
    (klass / "truncated").mkdir()
    (klass / "truncated" / "abc_skin.ipynb").write_text('{"cells": [')
    (klass / "latin1").mkdir()
    (klass / "latin1" / "abc_skin.py").write_bytes("print('ação')".encode("latin-1"))
    (klass / "empty").mkdir()
    (klass / "empty" / "abc_skin.py").write_text("   \n")
    (klass / "huge").mkdir()
    (klass / "huge" / "abc_skin.py").write_text("x = 1\n" * 2_000_000)  # 12 MB: only its start is fingerprinted
    secret = tmp_path / "instructor-key.txt"
    secret.write_text("SECRET = 'do not show'\n" * 50)
    (klass / "linked").mkdir()
    (klass / "linked" / "abc_skin.py").symlink_to(secret)
    (klass / "bloated").mkdir()
    with open(klass / "bloated" / "abc_skin.py", "wb") as f:
        f.truncate(similarity.MAX_BYTES + 1)  # sparse: no disk used
    (klass / '<img src=x onerror=alert(1)>').mkdir()
    (klass / '<img src=x onerror=alert(1)>' / "abc_skin.py").write_text(ORIGINAL)
    (klass / "copy").mkdir()
    (klass / "copy" / "abc_skin.py").write_text(RENAMED)
    t0 = time.monotonic()
    similarity.analyse(klass, [exercise.load("abc_skin")], tmp_path / "reports")
    assert time.monotonic() - t0 < 60
    found = similarity.read(tmp_path / "reports")
    unread = {u.student: u.reason for u in found.unread}
    assert set(unread) == {"truncated", "latin1", "empty", "linked", "bloated"}
    assert "cannot be read" in unread["truncated"] and "UTF-8" in unread["latin1"] and "no code" in unread["empty"]
    assert "symbolic link" in unread["linked"] and "MiB" in unread["bloated"]
    assert not any("do not show" in p.read_text() for p in (tmp_path / "reports").rglob("*.*"))
    [top] = found.flagged()
    assert {top.student_a, top.student_b} == {"copy", "<img src=x onerror=alert(1)>"}
    view = tmp_path / "reports" / top.view
    assert view.parent == tmp_path / "reports" / "similarity" / "abc_skin" and view.is_file()
    html = render_html([], similarity=found)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "%3Cimg%20src%3Dx" in html  # the link to the side-by-side page, quoted


def test_the_report_page_lists_the_pairs_and_links_their_views(tmp_path):
    similarity.analyse(CLASS, [exercise.load("noisynote"), exercise.load("abc_skin")], tmp_path)
    html = render_html([], similarity=similarity.read(tmp_path))
    section = html[html.index("<h2>Similar submissions</h2>"):]
    assert 'href="similarity/noisynote/igor--joana.html"' in section and "100%" in section
    assert "kaio (cells 3)" in section and "lara (cells 3)" in section
    needs = html[html.index("<h2>Needs the instructor</h2>"):html.index("<h2>Similar submissions</h2>")]
    assert "similar code: joana" in needs and "identical run: lara" in needs
    assert "<h2>Similar submissions</h2>" not in render_html([])  # no section where similarity never ran


def test_course_settings_are_checked(tmp_path, monkeypatch):
    course = tmp_path / "course"
    (course / "assignments" / "x").mkdir(parents=True)
    (course / "assignments" / "x" / "starter.py").write_text("import keras\n")
    (course / "handout").mkdir()
    nbformat.write(notebook([("model.fit(x, y)", "Epoch 1/2\nloss: 0.5000\nEpoch 2/2\nloss: 0.4000\n")]),
                   course / "handout" / "aula1.ipynb")
    monkeypatch.setenv("KERAS_GRADER_COURSE", str(course))
    (course / "course.toml").write_text('[similarity]\nthreshold = 0.8\nboilerplate = ["handout/*.ipynb"]\n')
    assert similarity.threshold() == 0.8
    sources, printed = similarity.course_material()
    assert sources[0] == "import keras\n" and "model.fit" in sources[1]
    assert runs.course_records(printed) == {"loss=0.5000", "loss=0.4000"}
    for bad, message in (('threshold = 60', r"threshold = 60 is not a number > 0 and <= 1"),
                         ('boilerplate = "handout"', "boilerplate = \"handout\" is not a list of texts"),
                         ('boilerplate = ["nothing/*.py"]', "matches no file")):
        (course / "course.toml").write_text(f"[similarity]\n{bad}\n")
        _course_config.cache_clear()
        with pytest.raises(GraderError, match=message):
            similarity.threshold()
            similarity.boilerplate_files()


def test_grade_similarity_alone(tmp_path, capsys):
    assert cli.main(["similarity", str(CLASS), "--exercise", "noisynote", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr()
    assert "igor / joana" in out.out and "100% / 100%" in out.out
    assert "similarity noisynote: 4 submissions, 6 pairs" in out.err
    rows = (tmp_path / "reports" / "similarity.csv").read_text().splitlines()
    assert rows[0].startswith("exercise,student_a,file_a,student_b") and len(rows) == 7


def test_a_fault_in_similarity_does_not_stop_grade_all(tmp_path, monkeypatch, capsys):
    """`grade all` writes its reports without the section (the fault is the grader's, said so); `grade similarity`
    stops with it."""
    def broken(*args, **kwargs):
        raise RuntimeError("tokenizer exploded")

    monkeypatch.setattr(similarity, "analyse", broken)
    assert cli.run_similarity(CLASS, [exercise.load("noisynote")], tmp_path) == []
    assert "similarity not computed (grader fault" in capsys.readouterr().err
    assert not (tmp_path / similarity.PAIRS_CSV).exists()
    with pytest.raises(RuntimeError):
        cli.run_similarity(CLASS, [exercise.load("noisynote")], tmp_path, strict=True)
