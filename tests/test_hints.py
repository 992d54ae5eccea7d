"""Each hint of the catalogue matches the error it names, reproduced for real under Keras 3."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from conftest import check

from grader import hints

SNIPPETS = {
    "integer_learning_rate": "keras.optimizers.SGD(learning_rate=10)",
    "lr_renamed": "keras.optimizers.Adam(lr=0.001)",
    "nb_epoch": "m.fit(np.zeros((2, 2)), np.zeros(2), nb_epoch=1, verbose=0)",
    "predict_classes": "m.predict_classes(np.zeros((1, 2)))",
    "save_extension": "m.save('mlp2')",
    "keras2_module": "from tensorflow.keras.layers.core import Dense",
    "legacy_optimizer": "keras.optimizers.legacy.SGD(learning_rate=0.1)",
    "monitor_acc": "m.compile('sgd', 'mse', metrics=['accuracy']); m.fit(np.zeros((2, 2)), np.zeros(2), verbose=0, "
                   "callbacks=[keras.callbacks.EarlyStopping(monitor='val_acc')])",
    "generator_method": "m.fit_generator(iter([(np.zeros((2, 2)), np.zeros(2))]), steps_per_epoch=1)",
    "keras1_init": "keras.layers.Dense(4, init='uniform')",
    "missing_module": "import tensorflow_addons",
    "missing_file": "open('/content/drive/MyDrive/ax.txt')",
}

PROGRAM = """
import json, sys, numpy as np, keras
m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
m.compile("sgd", "mse")
out = {}
for name, code in SNIPPETS.items():
    try:
        exec(code)
        out[name] = None
    except Exception as e:
        out[name] = {"type": type(e).__name__, "message": str(e)}
print(json.dumps(out))
"""


def test_every_hint_matches_its_real_error():
    code = f"SNIPPETS = {SNIPPETS!r}\n" + PROGRAM
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
    errors = json.loads(r.stdout.strip().splitlines()[-1])
    for name, exc in errors.items():
        assert exc is not None, f"{name}: {SNIPPETS[name]} raised nothing"
        found = hints.find(exc)
        assert found is not None and found["id"] == name, (name, exc, found)
    assert set(SNIPPETS) | {"out_of_memory"} == {h.id for h in hints.CATALOGUE}


def test_hint_texts_are_filled_and_bilingual():
    found = hints.find({"type": "ValueError", "message": "Argument `learning_rate` should be float. Received instead: learning_rate=10"})
    assert found["en"].endswith("learning_rate=10.0") and "taxa de aprendizado" in found["pt"]
    assert hints.find({"type": "ValueError", "message": "something else"}) is None


def test_the_verdict_carries_the_hint(grade_source):
    result = grade_source(textwrap.dedent("""
        from tensorflow.keras import optimizers
        opt = optimizers.SGD(learning_rate=10)
    """), keras2_compat=False)  # a course that turned the Keras 2 layer off
    assert result["status"] == "error"
    assert "Hint: Keras 3 rejects an integer learning rate: write learning_rate=10.0" in result["error"]
    assert check(result, "runs")["details"]["hint"]["id"] == "integer_learning_rate"
