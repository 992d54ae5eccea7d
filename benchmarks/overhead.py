"""Harness overhead of one job against running the same code bare.

    python benchmarks/overhead.py [--repeat 3]

The code trains a tiny dense net (1 epoch on 1,000 images) and evaluates it on the
test set. "bare" runs it with plain `python` reading the same cached arrays; "graded"
runs it through the grader (sandboxed child with the probe, then the trusted evaluator,
already warm as in `grade all`); "notebook" grades the same code as a one-cell notebook.
Prints medians and the overhead per job.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from grader import data, exercise
from grader.executors import Evaluator
from grader.jobs import Options, grade
from grader.run import sandbox

BODY = """
from tensorflow import keras
model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(AX[:1000] / 255.0, AY[:1000], epochs=1, verbose=0)
loss, acc = model.evaluate(QX / 255.0, QY, verbose=0)
print("Test error: %.2f %%" % (100 * (1 - acc)))
"""
GRADED = "from tensorflow import keras\n(AX, AY), (QX, QY) = keras.datasets.mnist.load_data()\n" + BODY
BARE = ("import numpy as np\nd = {d!r}\nAX, AY, QX, QY = (np.load(d + '/' + k + '.npy') for k in "
        "('x_train', 'y_train', 'x_test', 'y_test'))\n" + BODY)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp())
    (tmp / "bare.py").write_text(BARE.format(d=str(data.ensure("mnist"))))
    (tmp / "s").mkdir()
    (tmp / "s" / "mnist_dense.py").write_text(GRADED)
    (tmp / "n").mkdir()
    nbformat.write(new_notebook(cells=[new_code_cell(GRADED)]), tmp / "n" / "mnist_dense.ipynb")
    ex = exercise.load("mnist_dense")
    bare, total, run, ev, nb = [], [], [], [], []
    with Evaluator() as evaluator:
        grade("warmup", ex, tmp / "s" / "mnist_dense.py", evaluator, Options())
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, str(tmp / "bare.py")], check=True, capture_output=True)
            bare.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            result = grade("s", ex, tmp / "s" / "mnist_dense.py", evaluator, Options())
            total.append(time.perf_counter() - t0)
            run.append(result["times"]["run_s"])
            ev.append(result["times"]["eval_s"])
            t0 = time.perf_counter()
            grade("n", ex, tmp / "n" / "mnist_dense.ipynb", evaluator, Options())
            nb.append(time.perf_counter() - t0)
    med = statistics.median
    print(f"isolation: {sandbox.detect()}; {os.cpu_count()} CPUs")
    print(f"bare python:          {med(bare):6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in bare)})")
    print(f"graded script job:    {med(total):6.2f} s  = child {med(run):.2f} s + evaluation {med(ev):.2f} s + rest")
    print(f"graded notebook job:  {med(nb):6.2f} s")
    print(f"overhead, script:     {med(total) - med(bare):6.2f} s per job (child alone: {med(run) - med(bare):.2f} s)")
    print(f"overhead, notebook over script: {med(nb) - med(total):6.2f} s per job")


if __name__ == "__main__":
    main()
