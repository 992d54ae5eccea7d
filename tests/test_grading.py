"""End-to-end grading of real submissions: real child processes, real training on real MNIST.

Models are kept tiny (one epoch, narrow layers) so each job takes seconds on a CPU.
"""

from __future__ import annotations

import socket
import textwrap
import threading
import time
from pathlib import Path


from conftest import check
from grader.run import sandbox

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


def test_starter_runs_and_misses_the_threshold(grade_source):
    result = grade_source((ROOT / "assignments/mnist_dense/starter.py").read_text())
    assert check(result, "runs")["status"] == "pass"
    assert check(result, "threshold")["status"] == "fail" and result["test_error"] > 2.0
    claim = check(result, "honest_claim")  # the comment's blank "____ %" is no claim; the printed error is
    assert claim["status"] == "pass" and [c["source"] for c in claim["details"]["claims"]] == ["output"]


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
        model.predict_classes(QX)  # removed in Keras 3
    """))
    runs = check(result, "runs")
    assert runs["status"] == "fail" and "AttributeError at line 13" in runs["message"]
    assert result["status"] == "failed" and result["test_error"] < 10
    assert check(result, "correspondence")["status"] == "pass"


def test_syntax_error_gives_error_status_with_its_line(grade_source):
    result = grade_source("import keras\nmodel = keras.Sequential(\nprint('oops'\n")
    assert result["status"] == "error"
    assert "SyntaxError at line" in result["error"]
    assert check(result, "runs")["status"] == "fail"


def test_non_utf8_and_empty_sources_do_not_crash_the_grader(grade_source):
    bad = grade_source(b"# coment\xe1rio em latin-1\nx = '\xe7'\n", student="latin1")
    assert bad["status"] == "error" and "SyntaxError" in bad["error"]
    empty = grade_source("", student="empty")
    assert empty["status"] == "failed"
    assert "never trained a Keras model" in check(empty, "dense_only")["message"]


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
    assert check(result, "threshold")["status"] == "fail"


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
    dense = check(result, "dense_only")
    assert dense["status"] == "fail" and "could not be loaded" in dense["message"]
    assert "Lambda" in dense["message"] or "safe" in dense["message"]


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


def test_student_code_has_no_network(grade_source):
    """A server on 127.0.0.1 outside the sandbox must be unreachable from student code."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(20)
    port = server.getsockname()[1]
    accepted: list[object] = []

    def serve() -> None:
        try:
            accepted.append(server.accept())
        except OSError:
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        result = grade_source(f"""
            import socket
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=3)
                print("CONNECTED")
            except OSError as e:
                print("BLOCKED", type(e).__name__)
        """)
    finally:
        server.close()
        thread.join(timeout=25)
    assert "BLOCKED" in result["stdout_tail"] and "CONNECTED" not in result["stdout_tail"]
    assert not accepted
    assert result["isolation"] in sandbox.LEVELS


def test_figures_and_colab_calls_are_captured(grade_source, tmp_path):
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
    """, keep_dir=keep)
    assert check(result, "runs")["status"] == "pass", check(result, "runs")
    art = keep / "s" / "mnist_dense" / "artifacts"
    import json
    import numpy as np

    figs = [json.loads((art / f"fig{k}.json").read_text()) for k in range(3)]
    assert [f["how"] for f in figs] == ["savefig", "show", "show"]
    axes = figs[0]["axes"]
    assert len(axes) == 2 and all(len(ax["images"]) == 1 for ax in axes)
    shown = np.load(art / axes[1]["images"][0]["file"])
    assert shown.shape == (28, 28)
    texts = {(t["role"], t["text"], t["color"]) for t in axes[0]["texts"]}
    assert ("text", "7", "#0000ff") in texts and ("title", "pred 7", "#ff0000") in texts
    assert (art / "fig0.png").stat().st_size > 0
    assert (art / "downloads" / "out.txt").read_text() == "x"
    assert (keep / "s" / "mnist_dense" / "work" / "grid.png").is_file()
