"""The ``grade`` command. Heavy imports (Keras, pandas) happen inside the commands that need them."""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from . import __version__
from .config import GraderError

STATUS_STYLE = {"pass": "green", "partial": "yellow", "fail": "red", "flag": "magenta", "info": "cyan",
                "not_graded": "dim", "ok": "green", "failed": "red", "error": "red", "timeout": "red", "resource_limit": "red",
                "missing": "dim"}


def _styled(value: object) -> str:
    """Escape text for rich markup; colour it when it is a status."""
    from rich.markup import escape

    text = escape(str(value))
    style = STATUS_STYLE.get(str(value))
    return f"[{style}]{text}[/]" if style else text


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def cmd_data_fetch(args: argparse.Namespace) -> int:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from . import data

    names = args.names or list(data.ALL_SETS)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=_console(stderr=True), transient=False) as progress:
        task = progress.add_task("data cache", total=None)

        def report(msg: str) -> None:
            progress.update(task, description=msg)
            progress.console.log(msg)

        if args.wheel:
            data.fetch_from_wheel_file(Path(args.wheel), progress=report)
        else:
            data.fetch(names, source=args.source, progress=report)
        progress.update(task, description="done")
    from .config import cache_dir

    for name in names:
        _console().print(f"{name}: {'ok' if data.is_cached(name) else 'MISSING'} ({data.dataset_dir(name)})")
    _console().print(f"cache: {cache_dir()}")
    return 0


def print_result(result: dict[str, Any]) -> None:
    from rich.table import Table

    console = _console()
    status = result["status"]
    title = (f"{_styled(result['student'])} / {result['exercise']}: {_styled(status)} — "
             f"{result.get('score', 0):g} / {result.get('max_score', 0):g} points")
    if result.get("test_error") is not None:
        title += f" — test error {result['test_error']:.2f} %"
    if result.get("quick"):
        title += " — quick mode"
    table = Table(title=title, show_lines=False, expand=False)
    for col in ("check", "status", "points", "message"):
        table.add_column(col, overflow="fold")
    for c in result.get("checks", []):
        table.add_row(c["name"], _styled(c["status"]), f"{c['points']:g}/{c['max_points']:g}", _styled(c["message"]))
    console.print(table)
    if result.get("error"):
        console.print(f"{_styled(status)}: {_styled(result['error'])}", soft_wrap=True)
    iso = result.get("isolation")
    if iso == "none":
        console.print("[yellow]student code ran WITHOUT network isolation[/]")


def print_scores(scores) -> None:
    """One line per student: per exercise its score and status, then the total (test errors are in scores.csv)."""
    from rich.table import Table

    exercises = [c[: -len("_score")] for c in scores.columns if c.endswith("_score")]
    table = Table(title="scores")
    table.add_column("student")
    for ex in exercises:
        table.add_column(ex)
    table.add_column("total", justify="right")
    for _, row in scores.iterrows():
        cells = []
        for ex in exercises:
            cells.append(f"{row[f'{ex}_score']:.3g} {_styled(row[f'{ex}_status'])}")
        table.add_row(_styled(row["student"]), *cells, f"{row['total']:.3g}/{row['max_total']:g}")
    _console().print(table)


def cmd_run(args: argparse.Namespace) -> int:
    from . import exercise
    from .executors import Evaluator
    from .jobs import Options, grade

    ex = exercise.load(args.exercise)
    path = Path(args.path)
    if path.is_dir():
        found = ex.find_submission(path)
        if found is None:
            raise GraderError(f"{path} holds no {ex.id}.py or {ex.id}.ipynb: name the file after the exercise")
        path = found
    elif not path.is_file():
        raise GraderError(f"{path} does not exist: give the path of the submission file")
    opts = Options(quick=args.quick, seed=args.seed, timeout=args.timeout,
                   keep_dir=Path(args.keep) if args.keep else None)
    with Evaluator() as evaluator:
        result = grade(args.student or path.parent.name or "student", ex, path, evaluator, opts)
    if args.json:
        json.dump(result, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print_result(result)
    return 0 if result["status"] == "ok" else 1


def _students(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def cmd_all(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from . import exercise, results
    from .executors import Evaluator
    from .jobs import Options, grade, isolation_warning
    from .report.tables import scores_frame, write_tables

    root = Path(args.dir)
    if not root.is_dir():
        raise GraderError(f"{root} is not a folder: give the folder holding one sub-folder per student")
    exercises = [exercise.load(e) for e in (args.exercise or exercise.exercise_ids())]
    students = _students(root)
    if not students:
        raise GraderError(f"{root} has no student folders: expected {root}/<student>/<exercise>.py")
    out = Path(args.out)
    results_dir, reports_dir = out / "results", out / "reports"
    results_dir.mkdir(parents=True, exist_ok=True)  # exists before any student runs, so it can be hidden
    opts = Options(quick=args.quick, seed=args.seed, timeout=args.timeout, force=args.force,
                   results_dir=results_dir, keep_dir=Path(args.keep) if args.keep else None,
                   hidden=(root, out))
    err = _console(stderr=True)
    if (warning := isolation_warning()) is not None:
        err.print(f"[yellow]{warning}[/]")
    jobs = [(s.name, ex, ex.find_submission(s)) for s in students for ex in exercises]
    with Evaluator() as evaluator, Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                            TimeElapsedColumn(), console=err, disable=not err.is_terminal) as bar:
        task = bar.add_task("grading", total=len(jobs))

        def one(job: tuple[str, Any, Path | None]) -> dict[str, Any]:
            student, ex, sub = job
            try:
                result = grade(student, ex, sub, evaluator, opts)
            except Exception as e:  # an internal error costs one job, never the class
                result = results.new_result(student, ex.id, status="error", score=0.0, checks=[],
                                            max_score=ex.max_score, error=f"internal grader error: {type(e).__name__}: {e}")
                results.write(results_dir, result)
            bar.advance(task)
            if not err.is_terminal:
                err.print(f"{_styled(student)}/{ex.id}: {_styled(result['status'])} "
                          f"{result.get('score', 0):g}/{result.get('max_score', 0):g}", soft_wrap=True)
            return result

        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            list(pool.map(one, jobs))
    paths = write_tables([r for r in results.read_all(results_dir)
                          if r["student"] in {s.name for s in students}], reports_dir)
    print_scores(scores_frame(results.read_all(results_dir)))
    _console().print(f"\nreports: {paths['scores']}  {paths['details']}\nresults: {results_dir}", soft_wrap=True)
    return 0


def judge_pair(ex: Any, role: str, result: dict[str, Any]) -> str | None:
    """What is wrong with a reference or starter result, or None."""
    checks = {c["name"]: c for c in result.get("checks", [])}
    if role == "reference":
        failed = [n for n, c in checks.items() if c["status"] == "fail"]
        if result["status"] != "ok" or failed:
            return f"reference is {result['status']}: " + "; ".join(f"{n}: {checks[n]['message']}" for n in failed[:3]) \
                + (result.get("error") or "")
        return None
    if checks.get("runs", {}).get("status") != "pass":
        return f"starter does not run: {checks.get('runs', {}).get('message', result.get('error'))}"
    must_fail = ex.raw.get("starter", {}).get("must_fail", [])
    judged = [n for n in must_fail if checks.get(n, {}).get("status") not in (None, "not_graded")]
    if judged and not any(checks[n]["status"] == "fail" for n in judged):
        return f"starter passes {', '.join(judged)}: it should leave the student work to do"
    return None


def cmd_check_solutions(args: argparse.Namespace) -> int:
    from rich.table import Table

    from . import exercise
    from .config import course_root
    from .executors import Evaluator
    from .jobs import Options, grade

    root = course_root()
    table = Table(title="references and starters" + (" (quick mode)" if args.quick else ""))
    for col in ("exercise", "file", "status", "score", "test error", "verdict"):
        table.add_column(col)
    problems = 0
    with Evaluator() as evaluator:
        for ex_id in args.exercise or exercise.exercise_ids():
            ex = exercise.load(ex_id)
            for role, path in (("reference", root / "solutions" / ex_id / "solution.py"),
                               ("starter", root / "assignments" / ex_id / "starter.py")):
                if not path.is_file():
                    table.add_row(ex_id, role, "", "", "", f"[red]{path} is missing[/]")
                    problems += 1
                    continue
                result = grade(role, ex, path, evaluator, Options(quick=args.quick, seed=args.seed))
                verdict = judge_pair(ex, role, result)
                problems += verdict is not None
                err = result.get("test_error")
                table.add_row(ex_id, role, _styled(result["status"]), f"{result.get('score', 0):g}/{ex.max_score:g}",
                              "" if err is None else f"{err:.2f} %",
                              "[green]as expected[/]" if verdict is None else f"[red]{_styled(verdict)}[/]")
    _console().print(table)
    return 1 if problems else 0


def cmd_exercises(args: argparse.Namespace) -> int:
    from . import exercise

    for ex_id in exercise.exercise_ids():
        ex = exercise.load(ex_id)
        print(f"{ex.id:15} {ex.max_score:g} points  {ex.title}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="grade", description="Grade dense-network Keras exercises.")
    p.add_argument("--version", action="version", version=f"keras-grader {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("data", help="the data set cache").add_subparsers(dest="data_command", required=True)
    f = d.add_parser("fetch", help="fill the cache (MNIST, Fashion-MNIST, banknote, noisynote)")
    f.add_argument("names", nargs="*", help="data sets to fetch (default: all)")
    f.add_argument("--source", choices=["keras-cache", "pypi", "keras"],
                   help="use only this source; 'keras' downloads from Keras's origin")
    f.add_argument("--wheel", help="fill the cache from a kosmos-core-0.3.0 wheel copied by hand")
    f.set_defaults(func=cmd_data_fetch)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--quick", action="store_true", help="cap training at a few epochs; thresholds not graded")
        q.add_argument("--seed", type=int, help="seed Python, NumPy and Keras in the student's process")
        q.add_argument("--timeout", type=float, help="wall-clock limit per job in seconds (default: exercise.toml)")
        q.add_argument("--keep", metavar="DIR", help="keep each job's work dir and artifacts under DIR")

    r = sub.add_parser("run", help="grade one submission and print the verdict")
    r.add_argument("exercise", help="exercise id, e.g. mnist_dense")
    r.add_argument("path", help="the submission (.py), or a folder holding <exercise>.py")
    r.add_argument("--json", action="store_true", help="print the result JSON instead of a table")
    r.add_argument("--student", help="student name recorded in the result (default: the folder's name)")
    common(r)
    r.set_defaults(func=cmd_run)

    a = sub.add_parser("all", help="grade every student folder of DIR and write the reports")
    a.add_argument("dir", help="folder with one sub-folder per student: DIR/<student>/<exercise>.py")
    a.add_argument("--exercise", action="append", help="grade only this exercise (repeatable)")
    a.add_argument("--out", default="grading", help="where results/ and reports/ go (default: ./grading)")
    a.add_argument("--force", action="store_true", help="re-run jobs whose result is up to date")
    a.add_argument("--jobs", type=int, default=1, help="students graded at once (default 1)")
    common(a)
    a.set_defaults(func=cmd_all)

    c = sub.add_parser("check-solutions", help="run every reference and starter: references must pass every "
                       "check, starters must run and fail their threshold")
    c.add_argument("--exercise", action="append", help="only this exercise (repeatable)")
    c.add_argument("--quick", action="store_true", help="cap training at a few epochs; thresholds not graded")
    c.add_argument("--seed", type=int, default=1, help="seed for every run (default 1)")
    c.set_defaults(func=cmd_check_solutions)

    e = sub.add_parser("exercises", help="list the exercises")
    e.set_defaults(func=cmd_exercises)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except GraderError as e:
        _console(stderr=True).print(f"[red]error:[/] {_styled(e)}", soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        _console(stderr=True).print("[red]interrupted[/]: finished results are kept; run the same command to resume")
        return 130


if __name__ == "__main__":
    sys.exit(main())
