"""Each hint of the catalogue matches the error it names, reproduced for real under Keras 3 (and PyTorch)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap

import pytest
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

KERAS_SETUP = """
import numpy as np, keras
m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
m.compile("sgd", "mse")
"""

PROGRAM = """
import json
out = {}
for name, code in SNIPPETS.items():
    try:
        exec(code)
        out[name] = None
    except Exception as e:
        out[name] = {"type": type(e).__name__, "message": str(e)}
print(json.dumps(out))
"""


# The PyTorch mistakes, reproduced on a machine without a GPU (CUDA_VISIBLE_DEVICES is empty): a tensor on the
# "meta" device refuses .numpy() as one on "cuda:0" does, through the same check of torch.
TORCH_SNIPPETS = {
    "numpy_on_device": "torch.zeros(2, device='meta').numpy()",
    "numpy_requires_grad": "torch.nn.Linear(2, 1)(torch.zeros(1, 2)).numpy()",
    "cuda_unavailable": "torch.nn.Linear(2, 1).cuda()",
}


def real_errors(snippets: dict[str, str], setup: str) -> dict[str, dict[str, str] | None]:
    """What each snippet raises ({type, message}, or None), run after ``setup`` in a fresh Python."""
    code = f"SNIPPETS = {snippets!r}\n" + setup + PROGRAM
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin", "CUDA_VISIBLE_DEVICES": ""})
    return json.loads(r.stdout.strip().splitlines()[-1])


def assert_hints_match(errors: dict[str, dict[str, str] | None], snippets: dict[str, str]) -> None:
    for name, exc in errors.items():
        assert exc is not None, f"{name}: {snippets[name]} raised nothing"
        found = hints.find(exc)
        assert found is not None and found.id == name, (name, exc, found)


def test_every_hint_matches_its_real_error():
    assert_hints_match(real_errors(SNIPPETS, KERAS_SETUP), SNIPPETS)
    assert set(SNIPPETS) | set(TORCH_SNIPPETS) | {"torch_missing", "out_of_memory"} == {h.id for h in hints.CATALOGUE}


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed (the torch extra)")
def test_every_torch_hint_matches_its_real_error():
    errors = real_errors(TORCH_SNIPPETS, "import torch\n")
    assert_hints_match(errors, TORCH_SNIPPETS)
    assert "cuda:0 device" in hints.find({"type": "TypeError", "message": "can't convert cuda:0 device type tensor "
                                          "to numpy. Use Tensor.cpu() to copy the tensor to host memory first."}).text.en


@pytest.mark.unit
def test_a_missing_torch_says_where_pytorch_is_graded():
    # -S: this Python without its site-packages, where torch would be installed
    r = subprocess.run([sys.executable, "-S", "-c", "import torchvision.datasets"], capture_output=True, text=True,
                       timeout=60)
    exc_type, _, message = r.stderr.strip().splitlines()[-1].partition(": ")
    found = hints.find({"type": exc_type, "message": message})
    assert found.id == "torch_missing", (exc_type, message)
    assert "torchvision is not installed" in found.text.en and "keras-grader[torch]" in found.text.en
    assert "o torchvision não está instalado" in found.text.pt and "`frameworks`" in found.text.pt
    # other modules keep the general hint, which lists what the course allows
    assert hints.find({"type": "ModuleNotFoundError", "message": "No module named 'torchmetrics'"}).id == \
        "missing_module"


@pytest.mark.unit
def test_torch_advice_names_the_fix_in_both_languages():
    fixes = {"shuffled_test_loader": "shuffle=False", "eval_mode": "model.eval()",
             "softmax_before_cross_entropy": "nn.Softmax"}
    assert set(hints.TORCH_ADVICE) == set(fixes)
    for key, fix in fixes.items():
        advice = hints.TORCH_ADVICE[key]
        assert fix in advice.en and fix in advice.pt and advice.en != advice.pt, key


@pytest.mark.unit
def test_hint_texts_are_filled_and_bilingual():
    found = hints.find({"type": "ValueError", "message": "Argument `learning_rate` should be float. Received instead: learning_rate=10"})
    assert found.text.en.endswith("learning_rate=10.0") and "taxa de aprendizado" in found.text.pt
    assert hints.find({"type": "ValueError", "message": "something else"}) is None


def test_the_verdict_carries_the_hint(grade_source):
    result = grade_source(textwrap.dedent("""
        from tensorflow.keras import optimizers
        opt = optimizers.SGD(learning_rate=10)
    """), keras2_compat=False)  # a course that turned the Keras 2 layer off
    assert result["status"] == "error"
    assert "Hint: Keras 3 rejects an integer learning rate: write learning_rate=10.0" in result["error"]
    assert check(result, "runs")["details"]["hint"]["id"] == "integer_learning_rate"


@pytest.mark.parametrize("code, frame, line", [
    ("import ctypes\n\ndef peek():\n    return ctypes.string_at(0)\n\npeek()\n", "ctypes/__init__.py", 4),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n", None, 2),  # the student's own line, innermost
])
@pytest.mark.unit
def test_a_crash_is_read_from_faulthandlers_dump(tmp_path, code, frame, line):
    """The stack ``faulthandler`` writes (every thread's; the crashed one is ``Current thread``) names the innermost
    frame and the program's line; a background thread's stack does not mislead it."""
    script = tmp_path / "prog.py"
    script.write_text("import threading, time\nthreading.Thread(target=time.sleep, args=(9,), daemon=True).start()\n"
                      + code)
    run = subprocess.run([sys.executable, "-X", "faulthandler", str(script)], capture_output=True, text=True,
                         timeout=60)
    crash = hints.crash(run.returncode, run.stderr, "prog.py")
    assert crash is not None and crash.signal == "SIGSEGV" and crash.line == line + 2, run.stderr
    assert (crash.frame or "").startswith(frame or "") and (crash.frame is None) == (frame is None)
    text = crash.text()
    assert "SIGSEGV" in text.en and "SIGSEGV" in text.pt and f"{line + 2}" in text.en and f"{line + 2}" in text.pt


@pytest.mark.unit
def test_only_a_crash_signal_is_a_crash():
    """-N from subprocess, 128+N from a sandbox's init; an exit status of the program's own, SIGKILL (the memory
    limit's) or SIGTERM are not crashes."""
    assert [hints.crash_signal(rc) for rc in (-11, 139, 135, 132, 136, 134)] == [
        "SIGSEGV", "SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGABRT"]
    assert [hints.crash_signal(rc) for rc in (None, 0, 1, 2, 75, 128, -9, 137, 143, 255)] == [None] * 10
    assert hints.crash(1, "Fatal Python error: Segmentation fault\n", "x.py") is None
