"""The grader's benchmarks, in one run on one machine, printed as ratios (docs/scale.md).

    python benchmarks/run.py [--repeat 3] [--packed 8] [--backend jax] [--isolation bwrap,unshare]
                             [--no-notebook] [--no-cold] [--overhead-only]

0. sandbox start: `true` run bare and through each isolation level (median of 20);
1. overhead: a tiny job (1 epoch on 1,000 MNIST images, evaluate on 10,000) run bare with
   `python`, then graded as a script and as a one-cell notebook (sandboxed child with the
   probe, then the already-warm evaluator, as in `grade all`), at each level of --isolation
   in turn within each repetition (a busy machine slows every level alike); then where the
   script job's time went, stage by stage (runner.STAGES and the evaluation's), beside the
   bare run's start, program and exit;
2. data: the time `keras.datasets.mnist.load_data()` takes inside the graded child, against
   `np.load` of the same cached arrays bare;
3. throughput: N such jobs one after another against N at once on this machine's device
   (every GPU's slots, or N CPU slots), through the same slots `grade all` uses;
4. cold start: `grade run` of the same job on an empty data cache (the data set fetched first,
   as on a new machine) against the warm one, each a new process with its own evaluator.
--overhead-only prints one line, the script job's overhead at each level (`.ci/run` shows it).
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
BARE = ("import time\nprint('stamp_program', time.time())\nimport keras, numpy as np\nt0 = time.perf_counter()\n"
        "d = {d!r}\nAX, AY, QX, QY = (np.load(d + '/' + k + '.npy') for k in ('x_train', 'y_train', 'x_test', "
        "'y_test'))\nprint('load_s', time.perf_counter() - t0)\n")
BARE_END = "print('stamp_exit', time.time(), flush=True)\n"

med = statistics.median


def load_seconds(stdout: str) -> float:
    return field(stdout, "load_s")


def field(stdout: str, name: str) -> float:
    return float(next(line.split()[1] for line in stdout.splitlines() if line.startswith(name + " ")))


def bare_run(script: Path) -> tuple[float, float, dict[str, float]]:
    """The bare program's seconds, its data load's, and its stages: start (Python until the first line),
    program, exit (Python's teardown)."""
    t0, launched = time.perf_counter(), time.time()
    out = subprocess.run([sys.executable, str(script)], check=True, capture_output=True, text=True).stdout
    seconds, ended = time.perf_counter() - t0, time.time()
    begin, end = field(out, "stamp_program"), field(out, "stamp_exit")
    return seconds, load_seconds(out), {"start": begin - launched, "program": end - begin, "exit": ended - end}


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
                   help="comma-separated levels to measure (bwrap, unshare, none), or `working`: every level that "
                   "works here; default: the one `grade` uses")
    p.add_argument("--no-notebook", action="store_true", help="skip the notebook jobs")
    p.add_argument("--no-cold", action="store_true", help="skip the cold-start line (it fetches MNIST once)")
    p.add_argument("--overhead-only", action="store_true",
                   help="print only the script job's overhead over bare python at each level (for CI)")
    args = p.parse_args()
    if args.overhead_only:
        args.packed, args.no_notebook, args.no_cold = 0, True, True
    if args.isolation == "working":  # every level this machine can build (CI: bubblewrap where it starts)
        levels = [lv for lv in sandbox.LEVELS if sandbox.works(lv)] or ["none"]
    else:
        levels = args.isolation.split(",") if args.isolation else [sandbox.detect()]
    os.environ["KERAS_BACKEND"] = args.backend
    tmp = Path(tempfile.mkdtemp(prefix="keras-grader-bench-"))
    (tmp / "bare.py").write_text(BARE.format(d=str(data.ensure("mnist"))) + BODY + BARE_END)
    for name in ("s", "n"):
        (tmp / name).mkdir()
    (tmp / "s" / "mnist_dense.py").write_text(LOAD + BODY)
    notebooks = not args.no_notebook and all(importlib.util.find_spec(m) for m in ("nbformat", "nbclient", "ipykernel"))
    if notebooks:  # a GPU machine may lack Jupyter: the script numbers still come
        import nbformat
        from nbformat.v4 import new_code_cell, new_notebook

        nbformat.write(new_notebook(cells=[new_code_cell(LOAD + BODY)]), tmp / "n" / "mnist_dense.ipynb")
    ex = exercise.load("mnist_dense")
    bare, bare_load, bare_stages = [], [], []
    job, child, evaluation, child_load, notebook, stages = ({lv: [] for lv in levels} for _ in range(6))
    print(machine(args.backend), flush=True)
    starts = sandbox_start(levels)
    with Evaluator(backend=args.backend) as evaluator:
        grade("warmup", ex, tmp / "s" / "mnist_dense.py", evaluator, options(levels[0], args.backend))
        for _ in range(args.repeat):
            seconds, load, parts = bare_run(tmp / "bare.py")
            bare.append(seconds)
            bare_load.append(load)
            bare_stages.append(parts)
            for lv in levels:
                opts = options(lv, args.backend)
                t0 = time.perf_counter()
                result = grade("s", ex, tmp / "s" / "mnist_dense.py", evaluator, opts)
                job[lv].append(time.perf_counter() - t0)
                child[lv].append(result["times"]["run_s"])
                evaluation[lv].append(result["times"]["eval_s"])
                child_load[lv].append(load_seconds(result["stdout_tail"]))
                times = result["times"]
                ran = {**times["stages"], "result": job[lv][-1] - times["total_s"]}
                ran["eval_pipe"] = times["eval_s"] - sum(v for k, v in ran.items() if k.startswith("eval_"))
                stages[lv].append(ran)
                if notebooks:
                    t0 = time.perf_counter()
                    grade("n", ex, tmp / "n" / "mnist_dense.ipynb", evaluator, opts)
                    notebook[lv].append(time.perf_counter() - t0)

        if args.packed:
            serial, packed, slots_n = throughput(ex, tmp / "s" / "mnist_dense.py", evaluator,
                                                 options(levels[0], args.backend), args.packed)

    cold = None if args.no_cold else cold_start(tmp / "s" / "mnist_dense.py", levels[0], args.backend)

    if args.overhead_only:
        print("overhead of a graded script job over bare python (median of "
              f"{args.repeat}, bare {med(bare):.2f} s): "
              + ", ".join(f"{lv} {med(job[lv]) - med(bare):+.2f} s" for lv in levels)
              + f"; around the program (all but its own stage): bare {med([around(s) for s in bare_stages]):.2f} s, "
              + ", ".join(f"{lv} {med([around(s) for s in stages[lv]]):.2f} s" for lv in levels))
        return
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
    print_breakdown(levels, bare_stages, stages)
    print("2. data set load (MNIST)")
    for lv in levels:
        print(f"   bare np.load              {med(bare_load):7.3f} s;  keras.datasets in the graded child [{lv}] "
              f"{med(child_load[lv]):.3f} s = {med(child_load[lv]) / med(bare_load):.2f}x")
    if args.packed:
        print(f"3. throughput of {args.packed} jobs ({slots_n} slots on {', '.join(sorted(set(packed[1]))) or 'cpu'})")
        print(f"   one after another         {serial:7.1f} s   at once {packed[0]:.1f} s   -> {serial / packed[0]:.2f}x "
              f"the throughput")
    if cold is not None:
        print(f"4. cold start [{levels[0]}]: `grade run` of the job, a new process each time")
        if isinstance(cold, str):
            print(f"   not measured: {cold}")
        else:
            print(f"   empty data cache {cold[0]:7.2f} s   warm {cold[1]:.2f} s   -> the first job pays "
                  f"{cold[0] - cold[1]:+.2f} s (the data set fetched and verified)")


#: The stages of a graded script job against the bare run's: (label, bare's stage or None, the graded job's).
BREAKDOWN = (
    ("host prepares the job's folders", None, ("prepare",)),
    ("sandbox + Python start", "start", ("start",)),
    ("probe and audit hook installed", None, ("probe",)),
    ("the program (its imports, training)", "program", ("program",)),
    ("probe saves the model, test inputs", None, ("finalize",)),
    ("process exit", "exit", ("exit",)),
    ("host collects output, ends processes", None, ("collect",)),
    ("evaluator: reads the artifacts", None, ("eval_read", "eval_match_rows")),
    ("evaluator: loads the model", None, ("eval_load_model",)),
    ("evaluator: its own predictions", None, ("eval_predict",)),
    ("evaluator: checks and attempts", None, ("eval_checks", "eval_attempts")),
    ("evaluator: the pipe, both ways", None, ("eval_pipe",)),
    ("grade(): hashing, storing the result", None, ("result",)),
)


def around(stages: dict[str, float]) -> float:
    """A job's seconds around the student's program: every stage but the program's own (for bare python, its
    start and its exit; for a graded job, the sandbox, the probe, the exit and the evaluation too)."""
    return sum(v for k, v in stages.items() if k != "program")


def print_breakdown(levels: list[str], bare: list[dict[str, float]], graded: dict[str, list[dict[str, float]]]) -> None:
    """Where the script job's time went, stage by stage, beside the bare run's (medians)."""
    print("   where a graded script job's time goes (median seconds; bare python where it has the stage)")
    print(f"   {'stage':40s} {'bare':>7s}" + "".join(f" {lv:>9s}" for lv in levels))
    totals = {lv: 0.0 for lv in ["bare", *levels]}
    for label, bare_key, keys in BREAKDOWN:
        b = med([s[bare_key] for s in bare]) if bare_key and bare else None
        row = f"   {label:40s} {b:7.3f}" if b is not None else f"   {label:40s} {'':>7s}"
        totals["bare"] += b or 0.0
        for lv in levels:
            value = med([sum(s.get(k, 0.0) for k in keys) for s in graded[lv]]) if graded[lv] else 0.0
            totals[lv] += value
            row += f" {value:9.3f}"
        print(row)
    print(f"   {'sum of the medians':40s} {totals['bare']:7.3f}" + "".join(f" {totals[lv]:9.3f}" for lv in levels))
    print(f"   {'around the program (all but its stage)':40s} {med([around(s) for s in bare]) if bare else 0.0:7.3f}"
          + "".join(f" {med([around(s) for s in graded[lv]]) if graded[lv] else 0.0:9.3f}" for lv in levels))


def cold_start(script: Path, level: str, backend: str) -> tuple[float, float] | str:
    """Seconds of `grade run SCRIPT` with an empty data cache, then with the warm one (KERAS_GRADER_CACHE)."""
    env = {**os.environ, sandbox.FORCE_ENV: level, "KERAS_BACKEND": backend}
    times = []
    with tempfile.TemporaryDirectory(prefix="keras-grader-cold-") as empty:
        for cache in (empty, str(data.cache_dir())):
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-m", "grader.cli", "run", str(script), "--format", "json"],
                                 env={**env, "KERAS_GRADER_CACHE": cache}, capture_output=True, text=True)
            times.append(time.perf_counter() - t0)
            if out.returncode not in (0, 1):
                return f"`grade run` exited {out.returncode}: {(out.stderr.strip().splitlines() or [''])[-1][:200]}"
    return times[0], times[1]


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
