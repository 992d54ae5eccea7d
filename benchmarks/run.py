"""The grader's benchmarks, in one run on one machine, printed as ratios (DESIGN §10).

    python benchmarks/run.py [--repeat 3] [--packed 8] [--backend jax]

1. overhead: a tiny job (1 epoch on 1,000 MNIST images, evaluate on 10,000) run bare with
   `python`, then graded as a script and as a one-cell notebook (sandboxed child with the
   probe, then the already-warm evaluator, as in `grade all`);
2. data: the time `keras.datasets.mnist.load_data()` takes inside the graded child, against
   `np.load` of the same cached arrays bare;
3. throughput: N such jobs one after another against N at once on this machine's device
   (every GPU's slots, or N CPU slots), through the same slots `grade all` uses.
These are benchmarks, not tests: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from grader import data, devices, exercise
from grader.executors import Evaluator
from grader.jobs import Options, grade
from grader.run import sandbox

BODY = """
model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(AX[:1000] / 255.0, AY[:1000], epochs=1, verbose=0)
loss, acc = model.evaluate(QX / 255.0, QY, verbose=0)
print("Test error: %.2f %%" % (100 * (1 - acc)))
"""
LOAD = ("import time, keras\nt0 = time.perf_counter()\n(AX, AY), (QX, QY) = keras.datasets.mnist.load_data()\n"
        "print('load_s', time.perf_counter() - t0)\n")
BARE = ("import time, keras, numpy as np\nt0 = time.perf_counter()\nd = {d!r}\nAX, AY, QX, QY = (np.load(d + '/' + k + "
        "'.npy') for k in ('x_train', 'y_train', 'x_test', 'y_test'))\nprint('load_s', time.perf_counter() - t0)\n")

med = statistics.median


def load_seconds(stdout: str) -> float:
    return float(next(line.split()[1] for line in stdout.splitlines() if line.startswith("load_s")))


def machine(backend: str) -> str:
    import keras

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    gpus = ", ".join(f"{g.name} ({g.memory_mb} MiB)" for g in devices.gpus()) or "no GPU"
    return (f"{os.cpu_count()} CPUs ({cpu}); {gpus}; Python {platform.python_version()}; Keras {keras.__version__} "
            f"backend {backend}; isolation {sandbox.detect()}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=3, help="runs of each overhead measurement (median reported)")
    p.add_argument("--packed", type=int, default=4, help="jobs in the throughput batch")
    p.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "tensorflow"))
    args = p.parse_args()
    os.environ["KERAS_BACKEND"] = args.backend
    tmp = Path(tempfile.mkdtemp(prefix="keras-grader-bench-"))
    (tmp / "bare.py").write_text(BARE.format(d=str(data.ensure("mnist"))) + BODY)
    for name in ("s", "n"):
        (tmp / name).mkdir()
    (tmp / "s" / "mnist_dense.py").write_text(LOAD + BODY)
    notebooks = all(importlib.util.find_spec(m) for m in ("nbformat", "nbclient", "ipykernel"))
    if notebooks:  # a GPU machine may lack Jupyter: the script numbers still come
        import nbformat
        from nbformat.v4 import new_code_cell, new_notebook

        nbformat.write(new_notebook(cells=[new_code_cell(LOAD + BODY)]), tmp / "n" / "mnist_dense.ipynb")
    ex = exercise.load("mnist_dense")
    opts = Options(backend=args.backend)
    bare, bare_load, job, child, evaluation, child_load, notebook = [], [], [], [], [], [], []
    print(machine(args.backend), flush=True)
    with Evaluator(backend=args.backend) as evaluator:
        grade("warmup", ex, tmp / "s" / "mnist_dense.py", evaluator, opts)
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, str(tmp / "bare.py")], check=True, capture_output=True, text=True)
            bare.append(time.perf_counter() - t0)
            bare_load.append(load_seconds(out.stdout))
            t0 = time.perf_counter()
            result = grade("s", ex, tmp / "s" / "mnist_dense.py", evaluator, opts)
            job.append(time.perf_counter() - t0)
            child.append(result["times"]["run_s"])
            evaluation.append(result["times"]["eval_s"])
            child_load.append(load_seconds(result["stdout_tail"]))
            if notebooks:
                t0 = time.perf_counter()
                grade("n", ex, tmp / "n" / "mnist_dense.ipynb", evaluator, opts)
                notebook.append(time.perf_counter() - t0)

        serial, packed, slots_n = throughput(ex, tmp / "s" / "mnist_dense.py", evaluator, opts, args.packed)

    print(f"\n1. overhead per job (median of {args.repeat})")
    print(f"   bare python               {med(bare):7.2f} s")
    print(f"   graded script job         {med(job):7.2f} s  (child {med(child):.2f} s + evaluation {med(evaluation):.2f} s)"
          f"  overhead {med(job) - med(bare):+.2f} s = {med(job) / med(bare):.2f}x bare;"
          f" child alone {med(child) - med(bare):+.2f} s")
    if notebook:
        print(f"   graded notebook job       {med(notebook):7.2f} s  overhead {med(notebook) - med(bare):+.2f} s = "
              f"{med(notebook) / med(bare):.2f}x bare ({med(notebook) - med(job):+.2f} s over the script)")
    else:
        print("   graded notebook job       not measured: nbformat, nbclient or ipykernel is not installed")
    print("2. data set load (MNIST)")
    print(f"   bare np.load              {med(bare_load):7.3f} s;  keras.datasets in the graded child "
          f"{med(child_load):.3f} s = {med(child_load) / med(bare_load):.2f}x")
    print(f"3. throughput of {args.packed} jobs ({slots_n} slots on {', '.join(sorted(set(packed[1]))) or 'cpu'})")
    print(f"   one after another         {serial:7.1f} s   at once {packed[0]:.1f} s   -> {serial / packed[0]:.2f}x "
          f"the throughput")


def throughput(ex, submission: Path, evaluator: Evaluator, opts: Options, n: int) -> tuple[float, tuple, int]:
    """Seconds for n jobs serially, then packed on this machine's slots (GPUs x n, or n CPU slots)."""
    t0 = time.perf_counter()
    for i in range(n):
        grade(f"serial{i}", ex, submission, evaluator, opts)
    serial = time.perf_counter() - t0
    gpus = list(devices.gpus())
    slots = devices.Slots(gpus, per_gpu=max(1, n // max(1, len(gpus))), cpu_jobs=n)
    labels: list[str] = []

    def one(i: int) -> None:
        with slots.acquire() as placement:
            labels.append(placement.label)
            grade(f"packed{i}", ex, submission, evaluator, replace(opts, placement=placement))

    t0 = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        list(pool.map(one, range(n)))
    return serial, (time.perf_counter() - t0, labels), slots.size


if __name__ == "__main__":
    main()
