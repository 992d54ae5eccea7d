"""Run-to-run spread of the test error: the reference solution and the starter's recipe, graded with N seeds.

    python benchmarks/spread.py --out spread.csv [--seeds 1 2 3 4 5] [--exercise abc_skin ...] [--backend jax]

Every run is a full ``grade`` job (sandboxed child with the probe, then the evaluator), so the figures are the
test errors the grader itself measures; only the seed changes between the runs of one program. Rows are appended
to the CSV as each run ends (a run already in the CSV is skipped, so an interrupted measurement resumes), and the
summary (mean, std, min, max per exercise and program) is printed from the CSV at the end. The figures justify the
noise tolerances in each ``exercise.toml`` (``[noise] std``: the threshold band, the claim tolerance).
Expensive exercises are interleaved seed by seed, so a measurement cut short still has a few seeds of each.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
import sys
from pathlib import Path

from grader import exercise
from grader.config import course_root
from grader.evaluation.client import Evaluator
from grader.jobs import Options, grade

FIELDS = ["exercise", "program", "seed", "test_error", "score", "status", "run_s", "backend", "device", "cpu"]
PROGRAMS = {"reference": "solutions/{id}/solution.py", "starter": "assignments/{id}/starter.py"}


def cpu_model() -> str:
    info = Path("/proc/cpuinfo")
    lines = info.read_text().splitlines() if info.exists() else []
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), platform.processor())
    return f"{model} x{os.cpu_count()}"


def done_rows(path: Path) -> set[tuple[str, str, str]]:
    if not path.exists():
        return set()
    with path.open() as f:
        return {(r["exercise"], r["program"], r["seed"]) for r in csv.DictReader(f)}


def summary(path: Path) -> None:
    with path.open() as f:
        rows = list(csv.DictReader(f))
    groups: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    for r in rows:
        groups.setdefault((r["exercise"], r["program"], r["backend"]), []).append(r)
    print(f"{'exercise':14} {'program':10} {'backend':10} {'n':>2} {'mean %':>8} {'std':>7} {'min':>7} {'max':>7} "
          f"{'run s':>7}")
    for (ex, prog, backend), rs in sorted(groups.items()):
        errs = [float(r["test_error"]) for r in rs if r["test_error"]]
        secs = [float(r["run_s"]) for r in rs if r["run_s"]]
        if not errs:
            print(f"{ex:14} {prog:10} {backend:10} {len(rs):2} (no test error)")
            continue
        std = statistics.stdev(errs) if len(errs) > 1 else float("nan")
        print(f"{ex:14} {prog:10} {backend:10} {len(errs):2} {statistics.mean(errs):8.3f} {std:7.3f} "
              f"{min(errs):7.3f} {max(errs):7.3f} {statistics.mean(secs):7.1f}")


def plan(exercises: list[str], seeds: list[int], expensive: set[str]) -> list[tuple[str, str, int]]:
    """Cheap exercises one after another; the expensive ones interleaved seed by seed."""
    cheap = [(e, p, s) for e in exercises if e not in expensive for s in seeds for p in PROGRAMS]
    costly = [(e, p, s) for s in seeds for e in exercises if e in expensive for p in PROGRAMS]
    return cheap + costly


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="CSV the runs are appended to")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    p.add_argument("--exercise", nargs="+", default=["abc_skin", "noisynote", "sparse_cce", "mnist_dense",
                                                     "fashion_mnist"])
    p.add_argument("--expensive", nargs="*", default=["mnist_dense", "fashion_mnist"])
    p.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "tensorflow"))
    p.add_argument("--timeout", type=float, default=3600.0,
                   help="wall-clock limit per run (generous: the measuring machine may be shared)")
    p.add_argument("--summary", action="store_true", help="only print the summary of --out")
    args = p.parse_args()
    out = Path(args.out)
    if args.summary:
        summary(out)
        return
    done = done_rows(out)
    cpu, root = cpu_model(), course_root()
    with Evaluator(backend=args.backend) as evaluator:
        for ex_id, program, seed in plan(args.exercise, args.seeds, set(args.expensive)):
            if (ex_id, program, str(seed)) in done:
                continue
            ex = exercise.load(ex_id)
            opts = Options(seed=seed, backend=args.backend, timeout=args.timeout)
            result = grade(program, ex, root / PROGRAMS[program].format(id=ex_id), evaluator, opts)
            row = {"exercise": ex_id, "program": program, "seed": seed, "test_error": result.get("test_error"),
                   "score": result.get("score"), "status": result["status"],
                   "run_s": (result.get("times") or {}).get("run_s"), "backend": args.backend,
                   "device": result.get("device"), "cpu": cpu}
            new = not out.exists()
            with out.open("a", newline="") as f:
                writer = csv.DictWriter(f, FIELDS)
                if new:
                    writer.writeheader()
                writer.writerow(row)
            print(f"{ex_id} {program} seed {seed}: {row['test_error']} % ({result['status']}, {row['run_s']} s)",
                  file=sys.stderr, flush=True)
    summary(out)


if __name__ == "__main__":
    main()
