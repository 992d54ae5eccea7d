"""End-to-end grading of real submissions: real child processes, real training on real MNIST.

Models are kept tiny (one epoch, narrow layers) so each job takes seconds on a CPU.
"""

from __future__ import annotations

import re
import textwrap
import time
from pathlib import Path

import pytest
from conftest import check

from grader.results import flagged_attempts
from grader.run.host import sandbox

ROOT = Path(__file__).resolve().parents[1]

# A small, honest dense submission in the handout's style; tests vary it.
BASE = """
import numpy as np
from tensorflow import keras
from tensorflow.keras import layers
(AX, AY), (QX, QY) = keras.datasets.mnist.load_data()
AX = AX.astype("float32") / 255.0; QX = QX.astype("float32") / 255.0
model = keras.Sequential([keras.Input((28, 28)), layers.Flatten(), layers.Dense(32, activation="relu"),
                          layers.Dense(10, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
"""


def with_base(extra: str) -> str:
    return BASE + textwrap.dedent(extra)


def test_reference_solution_passes_every_rule_in_quick_mode(grade_source):
    result = grade_source((ROOT / "solutions/mnist_dense/solution.py").read_text(), quick=True, seed=1)
    assert result["status"] == "ok", result
    for name in ("runs", "correspondence", "leakage", "consistency", "test_as_validation", "dense_only"):
        assert check(result, name)["status"] == "pass", check(result, name)
    assert check(result, "threshold")["status"] == "not_graded"
    assert check(result, "honest_claim")["status"] == "not_graded"  # a claim is there; quick cannot compare
    assert result["isolation"] in sandbox.LEVELS and result["backend"] == "tensorflow"
    # TensorFlow, Keras and matplotlib internals (uname, fc-list, font caches) are no attempts to flag
    assert flagged_attempts(result) == [] and result["attempts_summary"]["flagged"] == 0, result["attempts"]


@pytest.mark.parametrize("callbacks", ["[Count()]", "Count()"])  # Keras takes a single callback too
def test_quick_mode_stops_a_keras_fit_after_its_batches_and_runs_the_rest_as_written(grade_source, callbacks):
    """[quick] steps (100 for mnist_dense): the capped epoch ends after 100 batches; the program's own callback,
    the validation and everything after fit still run, and the threshold says why it is not graded."""
    result = grade_source(with_base("""
        class Count(keras.callbacks.Callback):
            batches = 0
            def on_train_batch_end(self, batch, logs=None):
                Count.batches += 1
            def on_epoch_end(self, epoch, logs=None):
                print("epoch end, val_accuracy" if "val_accuracy" in (logs or {}) else "epoch end, no validation")
        model.fit(AX, AY, epochs=3, batch_size=32, validation_split=0.1, callbacks=CALLBACKS, verbose=0)
        print("batches trained:", Count.batches)
        print("test error: %.2f %%" % (100 * (1 - model.evaluate(QX, QY, verbose=0)[1])))
        # test error: 9 %
    """).replace("CALLBACKS", callbacks), quick=True, seed=1)
    out = result["stdout_tail"]
    assert "batches trained: 100\n" in out and "epoch end, val_accuracy" in out and "test error:" in out, out
    threshold = check(result, "threshold")
    assert threshold["status"] == "not_graded" and "stopped after 100 batches" in threshold["message"], threshold
    assert "parado após 100 lotes" in threshold["message_pt"]
    assert check(result, "consistency")["status"] == "pass" and check(result, "runs")["status"] == "pass"
    assert result["status"] == "ok", [(c["name"], c["status"], c["message"]) for c in result["checks"]]


def test_starter_runs_and_misses_the_threshold(grade_source):
    result = grade_source((ROOT / "assignments/mnist_dense/starter.py").read_text())
    assert check(result, "runs")["status"] == "pass"
    assert check(result, "threshold")["status"] == "fail" and result["test_error"] > 2.0
    # the comment's blank "____ %" is no claim, and the error the program prints while graded is no statement
    claim = check(result, "honest_claim")
    assert claim["status"] == "fail" and claim["details"]["claims"] == [], claim
    assert "in a comment at the top or at the end of the file" in claim["message"]
    assert "# erro de teste: 1,45 %" in claim["message_pt"]


def test_convolutional_network_fails_dense_only_and_earns_no_threshold_points(grade_source):
    result = grade_source("""
        from tensorflow.keras import layers, models
        from tensorflow.keras.datasets import mnist
        (x, y), (qx, qy) = mnist.load_data()
        m = models.Sequential([layers.Input((28, 28, 1)), layers.Conv2D(4, 3, activation="relu"),
                               layers.MaxPooling2D(4), layers.Flatten(), layers.Dense(10, activation="softmax")])
        m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        m.fit(x[..., None] / 255.0, y, epochs=1, batch_size=256, verbose=0)
        print(m.evaluate(qx[..., None] / 255.0, qy, verbose=0))
        # erro de teste 3%
    """)
    dense = check(result, "dense_only")
    assert dense["status"] == "fail" and "Conv2D" in dense["message"] and "MaxPooling2D" in dense["message"]
    assert check(result, "threshold")["points"] == 0
    assert result["status"] == "failed"


def test_training_on_the_test_set_fails_leakage(grade_source):
    result = grade_source(with_base("""
        model.fit(np.concatenate([AX, QX]), np.concatenate([AY, QY]), epochs=1, batch_size=256, verbose=0)
        model.evaluate(QX, QY, verbose=0)
    """))
    leak = check(result, "leakage")
    assert leak["status"] == "fail" and leak["details"]["leaked_rows"] == 10000
    assert check(result, "threshold")["points"] == 0


def test_printed_error_is_not_trusted(grade_source):
    result = grade_source(with_base("""
        model.fit(AX[:2000], AY[:2000], epochs=1, batch_size=256, verbose=0)
        model.predict(QX, verbose=0)
        print("Test error: 0.00%")  # erro de teste: 0,00%
    """))
    assert result["test_error"] > 5
    assert check(result, "threshold")["status"] == "fail"
    claim = check(result, "honest_claim")
    assert claim["status"] == "fail" and "0.00 %" in claim["message"]


def test_crash_after_training_is_graded_on_the_trained_model(grade_source):
    result = grade_source(with_base("""
        model.fit(AX, AY, epochs=1, batch_size=256, verbose=0)
        print(model.evaluate(QX, QY, verbose=0))
        model.predict_classes(QX)  # removed in Keras 3 (it runs as in Keras 2 when the Keras 2 layer is on)
    """), keras2_compat=False)
    runs = check(result, "runs")
    assert runs["status"] == "fail" and "AttributeError at line 13" in runs["message"]
    assert result["status"] == "failed" and result["test_error"] < 10
    assert check(result, "correspondence")["status"] == "pass"


def test_the_programs_threads_and_exit_handlers_finish_before_the_child_leaves(grade_source):
    """The child skips Python's teardown (a second with TensorFlow loaded), not the program's own ending: a thread
    it left running and the exit handlers it registered still run, in order, and its exit status is kept."""
    result = grade_source(with_base("""
        import atexit, sys, threading, time
        atexit.register(lambda: print("handler ran", flush=True))
        def late():
            time.sleep(1)
            print("thread finished", flush=True)
        threading.Thread(target=late).start()
        model.fit(AX[:512], AY[:512], epochs=1, verbose=0)
        model.evaluate(QX, QY, verbose=0)
        sys.exit(3)
    """))
    out = result["stdout_tail"]
    assert "thread finished" in out and "handler ran" in out
    assert out.index("thread finished") < out.index("handler ran")
    assert result["returncode"] == 3
    assert {"start", "program", "finalize", "exit", "eval_checks"} <= result["times"]["stages"].keys()


def test_syntax_error_gives_error_status_with_its_line(grade_source):
    result = grade_source("import keras\nmodel = keras.Sequential(\nprint('oops'\n")
    assert result["status"] == "error"
    assert "SyntaxError at line" in result["error"]
    assert check(result, "runs")["status"] == "fail"


def test_a_syntax_errors_feedback_states_one_root_cause(grade_source, tmp_path):
    """The SyntaxError is said once (runs); every check it keeps from being judged is "not reached", no advice."""
    from grader.report import feedback, github, gradescope

    result = grade_source("# erro de teste: 1,5 %\nimport keras\nmodel = keras.Sequential(\nprint('oops'\n")
    runs, others = result["checks"][0], result["checks"][1:]
    assert runs["name"] == "runs" and runs["status"] == "fail" and "SyntaxError at line 4" in runs["message"]
    assert [c["status"] for c in others] == ["not_reached"] * len(others) and len(others) == 7
    assert {c["message"] for c in others} == {"not reached: the program stopped with SyntaxError at line 4"}
    assert {c["message_pt"] for c in others} == {"não alcançada: o programa parou com SyntaxError na linha 4"}
    assert result["score"] == 0 and {c["points"] for c in others} == {0}

    for lang, next_steps in (("pt", "### O que fazer agora"), ("en", "### What to do next")):
        page = feedback.render("s", [result], lang)
        todo = page[page.index(next_steps):]
        assert todo.count("SyntaxError") == 1 and todo.count("\n- **") == 1, todo  # runs alone says what to do
        assert "model.evaluate" not in page and "model.predict" not in page
    assert "| não alcançada |" in feedback.render("s", [result], "pt")
    assert len(github.annotations([result], tmp_path)) == 1
    outputs = [t["output"] for t in gradescope.results_json([result], "pt")["tests"]]
    assert outputs[1:] == ["não alcançada: o programa parou com SyntaxError na linha 4"] * 7


@pytest.mark.parametrize("source", ["", "\n  \n", "# erro de teste: 1,2 %\n# (ainda não fiz)\n",
                                    '"""Exercício mnist_dense."""\n# TODO\n'])
def test_an_empty_submission_is_not_run_and_earns_nothing(grade_source, source):
    from grader.report import feedback, gradescope

    result = grade_source(source)
    assert result["status"] == "empty" and result["score"] == 0 and result["checks"] == []
    assert "has no code, only blank lines and comments" in result["error"]
    assert "**0 / 10 pontos** · entrega vazia" in feedback.render("s", [result], "pt")
    [test] = gradescope.results_json([result], "en")["tests"]
    assert test["name"] == "mnist_dense: empty submission" and test["score"] == 0 and test["status"] == "failed"


def test_non_utf8_and_empty_sources_do_not_crash_the_grader(grade_source):
    bad = grade_source(b"# coment\xe1rio em latin-1\nx = '\xe7'\n", student="latin1")
    assert bad["status"] == "error" and "SyntaxError" in bad["error"]
    empty = grade_source("", student="empty")
    assert empty["status"] == "empty" and empty["score"] == 0 and empty["checks"] == []


def test_infinite_loop_times_out_within_the_limit(grade_source):
    t0 = time.monotonic()
    result = grade_source("import subprocess\nsubprocess.Popen(['sleep', '300'])\nwhile True:\n    pass\n",
                          timeout=5)
    assert result["status"] == "timeout" and "5 s" in result["error"]
    assert time.monotonic() - t0 < 30


def test_model_never_run_on_the_test_set(grade_source):
    result = grade_source(with_base("model.fit(AX[:1000], AY[:1000], epochs=1, verbose=0)\n"))
    corr = check(result, "correspondence")
    assert corr["status"] == "fail" and "never run on the 10000 test inputs" in corr["message"]
    threshold = check(result, "threshold")  # the root cause is correspondence's; threshold says it in short
    assert threshold["status"] == "not_reached" and threshold["points"] == 0
    assert threshold["message"] == "not reached: the graded model was never run on the test inputs"


def test_test_set_as_validation_data_is_flagged_not_failed(grade_source):
    result = grade_source(with_base("""
        model.fit(AX, AY, epochs=1, batch_size=256, verbose=0, validation_data=(QX, QY))
        model.evaluate(QX, QY, verbose=0)
    """))
    flag = check(result, "test_as_validation")
    assert flag["status"] == "flag" and "line 11" in flag["message"]
    assert flag["points"] == flag["max_points"]


def test_lambda_layer_model_is_refused_safely(grade_source):
    source = with_base("""
        model.fit(AX[:1000], AY[:1000], epochs=1, verbose=0)
        model.predict(QX, verbose=0)
    """)
    result = grade_source(source.replace("layers.Flatten(),", "layers.Flatten(), layers.Lambda(lambda t: t * 2.0),"))
    runs = check(result, "runs")  # it ran and trained, but no model could be graded: runs states why
    assert runs["status"] == "fail" and "could not be loaded" in runs["message"]
    assert "Lambda" in runs["message"] or "safe" in runs["message"]
    assert check(result, "dense_only")["message"] == "not reached: the graded model could not be loaded"


def test_forged_artifacts_do_not_crash_the_evaluator(grade_source):
    result = grade_source("""
        import os, json, numpy as np
        art = os.path.dirname(os.environ["KERAS_GRADER_DOWNLOADS"])
        json.dump({"model_file": "graded.keras", "test_inputs": "x"}, open(os.path.join(art, "summary.json"), "w"))
        np.save(os.path.join(art, "test_x.npy"), np.array([{"evil": 1}], dtype=object), allow_pickle=True)
        open(os.path.join(art, "graded.keras"), "wb").write(b"not a model")
        os._exit(0)
    """)
    assert result["status"] in ("failed", "error")
    assert all(c["status"] != "pass" for c in result["checks"] if c["name"] in ("dense_only", "threshold"))


def test_student_code_has_no_network(grade_source, loopback_server):
    """A server on 127.0.0.1 outside the sandbox must be unreachable from student code."""
    result = grade_source(f"""
        import socket
        try:
            socket.create_connection(("127.0.0.1", {loopback_server.port}), timeout=3)
            print("CONNECTED")
        except OSError as e:
            print("BLOCKED", type(e).__name__)
    """)
    assert "BLOCKED" in result["stdout_tail"] and "CONNECTED" not in result["stdout_tail"]
    assert not loopback_server.connections()
    assert result["isolation"] in sandbox.LEVELS


def test_figures_and_colab_calls_are_captured(grade_source, tmp_path, mnist):
    keep = tmp_path / "kept"
    result = grade_source("""
        from google.colab import drive, files
        from google.colab.patches import cv2_imshow
        drive.mount('/content/drive')
        import matplotlib
        matplotlib.use('TkAgg')  # no screen while grading: stays Agg
        import matplotlib.pyplot as plt
        from keras.datasets import mnist
        (_, _), (QX, QY) = mnist.load_data()
        fig = plt.figure(figsize=(4, 2))
        for i in range(2):
            plt.subplot(1, 2, i + 1)
            plt.imshow(255 - QX[i], cmap='gray')
            plt.text(0, -2, str(QY[i]), color='blue')
            plt.title('pred %d' % QY[i], color='red')
        plt.savefig('grid.png')
        plt.show()
        open('out.txt', 'w').write('x')
        files.download('out.txt')
        cv2_imshow(QX[0])
        import cv2  # a script written for a desktop: headless OpenCV has no windows, the grader shows a figure
        cv2.namedWindow('digit')
        cv2.imshow('digit', QX[1])
        cv2.waitKey(0)
        cv2.destroyAllWindows()
    """, keep_dir=keep)
    runs = check(result, "runs")  # it ran to its end (it trains nothing)
    assert runs["status"] == "fail" and "ran to the end but never trained a model" in runs["message"], runs
    art = keep / "s" / "mnist_dense" / "artifacts"
    import json

    import numpy as np

    figs = [json.loads((art / f"fig{k}.json").read_text()) for k in range(4)]
    assert [f["how"] for f in figs] == ["savefig", "show", "show", "show"]
    assert np.array_equal(np.load(art / figs[3]["axes"][0]["images"][0]["file"]), mnist["x_test"][1])
    axes = figs[0]["axes"]
    assert len(axes) == 2 and all(len(ax["images"]) == 1 for ax in axes)
    shown = np.load(art / axes[1]["images"][0]["file"])
    assert shown.shape == (28, 28)
    texts = {(t["role"], t["text"], t["color"]) for t in axes[0]["texts"]}
    assert ("text", "7", "#0000ff") in texts and ("title", "pred 7", "#ff0000") in texts
    assert (art / "fig0.png").stat().st_size > 0
    assert flagged_attempts(result) == [], result["attempts"]  # Colab's stubs and matplotlib are the handout's
    assert (art / "downloads" / "out.txt").read_text() == "x"
    assert (keep / "s" / "mnist_dense" / "work" / "grid.png").is_file()


def test_a_permuted_test_set_is_graded_on_the_real_rows(grade_source):
    """np.random.permutation of the test set (images and labels alike) changes no prediction: the grader finds
    each image by its content and grades the model on the real rows, against their labels."""
    source = with_base("""
        model.fit(AX[:6000], AY[:6000], epochs=1, batch_size=256, verbose=0)
        perm = np.random.permutation(len(QX))
        QX, QY = QX[perm], QY[perm]
        loss, acc = model.evaluate(QX, QY, verbose=0)
        print(f"test error: {100 * (1 - acc):.2f} %")
        # erro de teste: 8 %
    """)
    result = grade_source(source, quick=True)
    corr = check(result, "correspondence")
    assert corr["status"] == "pass" and corr["details"]["notice"] == "rows_matched", corr
    assert corr["details"]["row_match"]["reordered"] and corr["details"]["row_match"]["extra"] == 0
    line = source.splitlines().index("loss, acc = model.evaluate(QX, QY, verbose=0)") + 1
    assert f"model.evaluate at line {line}" in corr["message"], corr["message"]
    assert "Aviso" in corr["message_pt"] and "outra ordem" in corr["message_pt"]
    assert check(result, "consistency")["status"] == "pass"  # the student's own predictions, reordered alike
    printed = float(re.search(r"test error: ([\d.]+) %", result["stdout_tail"]).group(1))
    assert abs(result["test_error"] - printed) < 0.015, (result["test_error"], printed)  # misaligned: about 90 %


ABC = """
import numpy as np
import keras

ax = np.array([[4, 6], [15, 8], [65, 70], [5, 90], [18, 70], [70, 10]], dtype="float32")
ay = np.array([1, 2, 0, 1, 2, 0])
qx = np.array([[20, 6], [3, 50], [75, 55]], dtype="float32")
qy = np.array([2, 1, 0])
scale = lambda x: x / 50.0 - 1.0
model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="sigmoid"),
                          keras.layers.Dense(3, activation="softmax")])
model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(scale(ax), ay, batch_size=6, epochs=50, verbose=0)
ex, ey = {rows}
print(model.evaluate(scale(ex), ey, verbose=0))
# erro de teste: 0 %
"""


def test_abc_skin_evaluated_on_its_test_rows_and_two_training_rows_is_graded_on_the_test_rows(grade_source, evaluator,
                                                                                              tmp_path):
    """A real notebook evaluated the abc table's 3 test rows with 2 training rows added: the grader grades the 3
    test rows it finds among the 5, and names the cell. Two test rows with the training rows are not the test set,
    and fail."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from grader import exercise
    from grader.jobs import Options, grade

    setup, evaluation = ABC.split("ex, ey = ")
    path = tmp_path / "nb" / "abc_skin.ipynb"
    path.parent.mkdir()
    nbformat.write(new_notebook(cells=[new_code_cell(setup), new_code_cell(
        "ex, ey = np.concatenate([qx, ax[:2]]), np.concatenate([qy, ay[:2]])\n" + evaluation.split("\n", 1)[1])]),
        path)
    superset = grade("nb", exercise.load("abc_skin"), path, evaluator, Options())
    corr = check(superset, "correspondence")
    assert corr["status"] == "pass" and corr["details"]["row_match"]["extra"] == 2, corr
    assert "Notice (model.evaluate in cell 2)" in corr["message"] and "na célula 2" in corr["message_pt"], corr
    assert "the 3 test rows came, with 2 other rows" in corr["message"] and "outras 2 linhas" in corr["message_pt"]
    assert not corr["details"]["row_match"]["reordered"]
    assert superset["test_error"] in (0.0, 33.3333, 66.6667, 100.0)  # measured on the 3 test rows alone

    partial = grade_source(ABC.format(rows="np.concatenate([qx[:2], ax[:2]]), np.concatenate([qy[:2], ay[:2]])"),
                           exercise_id="abc_skin", student="t")
    corr = check(partial, "correspondence")
    assert corr["status"] == "fail" and "has 4 rows; the test set has 3" in corr["message"], corr
    assert "linhas" in corr["message_pt"] and partial["status"] != "ok"
