"""How often two independent, unseeded runs of one program print the same training log.

    PYTHONPATH=. python benchmarks/independent_runs.py [--runs 12] [--out tests/data/independent_runs]

The identical-run rule (``grader/similarity/runs.py``) lists two notebooks whose saved outputs hold the same
training log, to the printed digits, as most likely one run. Its false alarms are the pairs of independent runs
that agree by chance. This script measures that: each program below runs ``--runs`` times, each in a fresh
process with no seed (as two students running the same code would), its printed log is kept under ``--out``
(a run already there is not repeated; by default the folder tests/test_similarity.py reads, so the suite checks
the rule against these real logs without training), and every pair of runs is judged by the rule itself. It prints, per
program, the pairs compared, the pairs the rule flags, and how many share any single epoch's figures.
This is a measurement, not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
from pathlib import Path

#: Small programs as students write them, printing Keras's per-epoch log (verbose=2: one line per epoch).
PROGRAMS = {
    # abc_skin: the statement's 6-row table with two inputs, one batch per epoch
    "abc_skin": """
import numpy as np
from tensorflow import keras
ax = np.array([[4, 6], [15, 8], [65, 70], [5, 90], [18, 70], [70, 10]], dtype="float32") / 50 - 1
ay = np.array([1, 2, 0, 1, 2, 0])
model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4, activation="sigmoid"),
                          keras.layers.Dense(3, activation="softmax")])
model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(ax, ay, batch_size=6, epochs=20, verbose=2)
""",
    # mnist: 3 epochs on 2,000 training images, shuffled batches of 32
    "mnist_subset": """
import os
import numpy as np
from tensorflow import keras
cache = os.path.expanduser(os.environ.get("KERAS_GRADER_CACHE", "~/.cache/keras-grader"))
x = np.load(os.path.join(cache, "mnist", "x_train.npy"))[:2000].reshape(-1, 784) / 255.0
y = np.load(os.path.join(cache, "mnist", "y_train.npy"))[:2000]
model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(64, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, batch_size=32, epochs=3, verbose=2, validation_split=0.1)
""",
}


def collect(name: str, source: str, runs: int, out: Path) -> list[str]:
    """The printed logs of ``runs`` unseeded runs of ``source``, each in a fresh process (kept under out/name)."""
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"} | {"TF_CPP_MIN_LOG_LEVEL": "3"}
    logs = []
    for i in range(runs):
        path = folder / f"{i:02d}.txt"
        if not path.is_file():
            proc = subprocess.run([sys.executable, "-c", source], check=False, capture_output=True, text=True,
                                  env=env, timeout=600)
            if proc.returncode:
                raise SystemExit(f"{name} run {i} failed:\n{proc.stderr[-2000:]}")
            path.write_text(proc.stdout)
        logs.append(path.read_text())
    return logs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parent.parent / "tests" / "data" / "independent_runs")
    parser.add_argument("--program", action="append", choices=list(PROGRAMS))
    args = parser.parse_args()
    from grader.similarity.runs import training_log

    for name in args.program or PROGRAMS:
        logs = [training_log(text) for text in collect(name, PROGRAMS[name], args.runs, args.out)]
        pairs = list(itertools.combinations(range(len(logs)), 2))
        flagged = [(i, j) for i, j in pairs if logs[i].shared_with(logs[j])]
        any_epoch = [(i, j) for i, j in pairs if set(logs[i].epochs) & set(logs[j].epochs)]
        epochs = sorted({len(log.epochs) for log in logs})
        print(f"{name}: {len(logs)} runs ({'/'.join(map(str, epochs))} epochs each), {len(pairs)} pairs: "
              f"{len(flagged)} flagged by the rule, {len(any_epoch)} share any one epoch's figures")


if __name__ == "__main__":
    main()
