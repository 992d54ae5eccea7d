"""The grader's benchmarks, in one run on one machine, printed as ratios (docs/scale.md).

    python benchmarks/run.py [--repeat 3] [--packed 8] [--backend jax] [--isolation bwrap,unshare]

0. sandbox start: `true` run bare and through each isolation level (median of 20);
1. overhead: a tiny job (1 epoch on 1,000 MNIST images, evaluate on 10,000) run bare with
   `python`, then graded as a script and as a one-cell notebook (sandboxed child with the
   probe, then the already-warm evaluator, as in `grade all`), at each level of --isolation
   in turn within each repetition (a busy machine slows every level alike);
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
from grader.evaluation.client import Evaluator
from grader.jobs import Options, grade
from grader.run.host import sandbox

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
            f"backend {backend}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=3, help="runs of each overhead measurement (median reported)")
    p.add_argument("--packed", type=int, default=4, help="jobs in the throughput batch (0: skip it)")
    p.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "tensorflow"))
    p.add_argument("--isolation", default=None,
                   help="comma-separated levels to measure (bwrap, unshare, none); default: the one `grade` uses")
    args = p.parse_args()
    levels = args.isolation.split(",") if args.isolation else [sandbox.detect()]
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
    bare, bare_load = [], []
    job, child, evaluation, child_load, notebook = ({lv: [] for lv in levels} for _ in range(5))
    print(machine(args.backend), flush=True)
    starts = sandbox_start(levels)
    with Evaluator(backend=args.backend) as evaluator:
        grade("warmup", ex, tmp / "s" / "mnist_dense.py", evaluator, options(levels[0], args.backend))
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, str(tmp / "bare.py")], check=True, capture_output=True, text=True)
            bare.append(time.perf_counter() - t0)
            bare_load.append(load_seconds(out.stdout))
            for lv in levels:
                opts = options(lv, args.backend)
                t0 = time.perf_counter()
                result = grade("s", ex, tmp / "s" / "mnist_dense.py", evaluator, opts)
                job[lv].append(time.perf_counter() - t0)
                child[lv].append(result["times"]["run_s"])
                evaluation[lv].append(result["times"]["eval_s"])
                child_load[lv].append(load_seconds(result["stdout_tail"]))
                if notebooks:
                    t0 = time.perf_counter()
                    grade("n", ex, tmp / "n" / "mnist_dense.ipynb", evaluator, opts)
                    notebook[lv].append(time.perf_counter() - t0)

        if args.packed:
            serial, packed, slots_n = throughput(ex, tmp / "s" / "mnist_dense.py", evaluator,
                                                 options(levels[0], args.backend), args.packed)

    print(f"\n0. sandbox start (`true`, median of {START_RUNS}): "
          + ", ".join(f"{lv} {seconds * 1000:.0f} ms" for lv, seconds in starts.items()))
    print(f"1. overhead per job (median of {args.repeat})")
    print(f"   bare python               {med(bare):7.2f} s")
    for lv in levels:
        print(f"   [{lv}] graded script job  {med(job[lv]):7.2f} s  (child {med(child[lv]):.2f} s + evaluation "
              f"{med(evaluation[lv]):.2f} s)  overhead {med(job[lv]) - med(bare):+.2f} s = "
              f"{med(job[lv]) / med(bare):.2f}x bare; child alone {med(child[lv]) - med(bare):+.2f} s")
        if notebook[lv]:
            nb = med(notebook[lv])
            print(f"   [{lv}] graded notebook job{nb:7.2f} s  overhead {nb - med(bare):+.2f} s"
                  f" = {nb / med(bare):.2f}x bare ({nb - med(job[lv]):+.2f} s over the script)")
        else:
            print("   graded notebook job       not measured: nbformat, nbclient or ipykernel is not installed")
    print("2. data set load (MNIST)")
    for lv in levels:
        print(f"   bare np.load              {med(bare_load):7.3f} s;  keras.datasets in the graded child [{lv}] "
              f"{med(child_load[lv]):.3f} s = {med(child_load[lv]) / med(bare_load):.2f}x")
    if args.packed:
        print(f"3. throughput of {args.packed} jobs ({slots_n} slots on {', '.join(sorted(set(packed[1]))) or 'cpu'})")
        print(f"   one after another         {serial:7.1f} s   at once {packed[0]:.1f} s   -> {serial / packed[0]:.2f}x "
              f"the throughput")


START_RUNS = 20


def options(level: str, backend: str) -> Options:
    os.environ[sandbox.FORCE_ENV] = level
    return Options(backend=backend, no_sandbox=level == "none")


def sandbox_start(levels: list[str]) -> dict[str, float]:
    """Seconds to start and end `true` bare and inside each level's sandbox (no cgroup)."""
    times = {}
    for lv in ["bare", *levels]:
        cmd = ["true"] if lv == "bare" else sandbox.wrap(["true"], isolation=lv, writable=[], readable=[], hidden=[])
        runs = []
        for _ in range(START_RUNS):
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, cwd="/")
            runs.append(time.perf_counter() - t0)
        times[lv] = med(runs)
    return times


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
