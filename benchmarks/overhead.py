"""Harness overhead of one script job against running the same script bare.

    python benchmarks/overhead.py [--repeat 3]

The script trains a tiny dense net (1 epoch on 1,000 images) and evaluates it on the
test set. "bare" runs it with plain `python` reading the same cached arrays; "graded"
runs it through the grader (sandboxed child with the probe, then the trusted evaluator,
already warm as in `grade all`). Prints medians and the overhead per job.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader import data, exercise
from grader.executors import Evaluator
from grader.jobs import Options, grade

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
    ex = exercise.load("mnist_dense")
    bare, total, run, ev = [], [], [], []
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
    med = statistics.median
    print(f"bare python:          {med(bare):6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in bare)})")
    print(f"graded job (total):   {med(total):6.2f} s  = child {med(run):.2f} s + evaluation {med(ev):.2f} s + rest")
    print(f"overhead per job:     {med(total) - med(bare):6.2f} s  (child only: {med(run) - med(bare):.2f} s)")


if __name__ == "__main__":
    main()
