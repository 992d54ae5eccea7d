"""What the ``grade`` commands print on the terminal, drawn with rich from results and reports.

The commands in ``cli.py`` parse their arguments and call the stage that does the work; every table, progress bar
and line they show is drawn here, so the look of the terminal is one module's business. rich is imported inside
each function: ``grade --help`` starts without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..schema import CheckStatus, JobResult, JobStatus
from ..text import Text

if TYPE_CHECKING:
    from .html import Flag

#: The colour of each status (a check's ``partial`` and a job's are one string, and one colour).
STATUS_STYLE: dict[str, str] = {
    CheckStatus.PASS: "green", CheckStatus.PARTIAL: "yellow", CheckStatus.FAIL: "red", CheckStatus.FLAG: "magenta",
    CheckStatus.INFO: "cyan", CheckStatus.NOT_GRADED: "dim", CheckStatus.NOT_REACHED: "dim",
    JobStatus.OK: "green", JobStatus.FAILED: "red", JobStatus.ERROR: "red", JobStatus.TIMEOUT: "red",
    JobStatus.RESOURCE_LIMIT: "red", JobStatus.MISSING: "dim", JobStatus.EMPTY: "red",
    JobStatus.GRADER_ERROR: "magenta"}
#: The colour of each outcome of `grade import`.
IMPORT_STYLE = {"placed": "green", "older": "yellow", "unplaced": "red", "refused": "red", "empty": "dim"}
#: How many entries of "Needs the instructor" the terminal shows (the HTML page lists them all).
NEEDS_SHOWN = 5


def styled(value: object) -> str:
    """Escape text for rich markup; colour it when it is a status."""
    from rich.markup import escape

    text = escape(str(value))
    style = STATUS_STYLE.get(str(value))
    return f"[{style}]{text}[/]" if style else text


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def print_result(result: JobResult, lang: str = "en") -> None:
    from rich.table import Table

    from . import i18n
    from .values import decimal

    out = console()
    status = result["status"]
    if status in (JobStatus.MISSING, JobStatus.EMPTY, JobStatus.GRADER_ERROR):  # not run or not graded: says why
        out.print(f"{styled(result['student'])} / {result['exercise']}: {styled(status)} — "
                  f"{styled(i18n.message(result, lang))}", soft_wrap=True)
        return
    title = (f"{styled(result['student'])} / {result['exercise']}: {styled(status)} — "
             f"{result.get('score', 0):g} / {result.get('max_score', 0):g} {i18n.t('points', lang)}")
    if result.get("test_error") is not None:
        title += f" — {i18n.t('test_error_short', lang)} {decimal(result['test_error'], 2, lang)} %"
    if result.get("quick"):
        title += f" — {i18n.t('quick_short', lang)}"
    table = Table(title=title, show_lines=False, expand=False)
    for col in ("check", "status", "points", "message"):
        table.add_column(col, overflow="fold")
    for c in result.get("checks", []):
        table.add_row(c["name"], styled(c["status"]), f"{c['points']:g}/{c['max_points']:g}",
                      styled(i18n.message(c, lang)))
    out.print(table)
    for line in i18n.notices(result, lang):
        out.print(f"[cyan]{i18n.t('keras2', lang)}[/]: {styled(line)}", soft_wrap=True)
    if result.get("error"):
        out.print(f"{styled(status)}: {styled(i18n.message(result, lang))}", soft_wrap=True)
    if result.get("rerun"):
        out.print(styled(i18n.runs_line(result, lang)), soft_wrap=True)
    if result.get("isolation") == "none":
        out.print("[yellow]student code ran WITHOUT isolation (--no-sandbox) / o código rodou SEM isolamento[/]")


def print_scores(scores) -> None:
    """One row per student: per exercise its score and status, then the total (test errors are in scores.csv).

    As a table where it fits; where it does not (a narrow terminal, or a log file, which rich gives 80 columns), one
    line per student, so no status or exercise name is ever cut ("grader_e…")."""
    from rich.measure import Measurement
    from rich.table import Table

    exercises = [c[: -len("_score")] for c in scores.columns if c.endswith("_score")]

    def cell(row, ex: str) -> str:
        score = row[f"{ex}_score"]  # NaN: not graded (a grader fault)
        return f"{'—' if score != score else f'{score:.3g}'} {styled(row[f'{ex}_status'])}"

    def total(row) -> str:
        return f"{row['total']:.3g}/{row['max_total']:g}"

    table = Table(title="scores")
    for name in ("student", *exercises):
        table.add_column(name, no_wrap=True)
    table.add_column("total", justify="right", no_wrap=True)
    for _, row in scores.iterrows():
        table.add_row(styled(row["student"]), *(cell(row, ex) for ex in exercises), total(row))
    out = console()
    if Measurement.get(out, out.options.update_width(10_000), table).maximum <= out.width:
        out.print(table)
        return
    out.print("scores")
    for _, row in scores.iterrows():
        out.print(f"{styled(row['student'])}: " + " · ".join(f"{ex} {cell(row, ex)}" for ex in exercises)
                  + f" · total {total(row)}", soft_wrap=True)


def progress(out: Any):
    """`grade all`'s progress bar: done of all, how many run now and are left, the time and an estimate."""
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
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=out,
                    disable=not out.is_terminal)


def summary_line(done: list[JobResult], reused: int, seconds: float) -> str:
    """`grade all`'s last line of grading: how many jobs, of which status, how many re-used or run again."""
    from collections import Counter

    counts = Counter(r["status"] for r in done)
    parts = ", ".join(f"{n} {styled(s)}" for s, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    several = [len(r.get("runs") or []) for r in done if len(r.get("runs") or []) > 1]
    return (f"graded {len(done)} jobs in {seconds:.0f} s: {parts}"
            + (f" ({reused} up to date, not re-run)" if reused else "")
            + (f"; {len(several)} run more than once (near a threshold boundary, or --runs), "
               f"{sum(several) - len(several)} extra runs" if several else ""))


def print_reports(paths: dict[str, Path], head: str) -> None:
    """Where each report was written, under ``head``."""
    listing = "\n".join(f"  {what:9} {path}" for what, path in paths.items())
    console().print(f"\n{head}:\n{listing}", soft_wrap=True)


def print_needs_instructor(flags: list[Flag]) -> None:
    """The count of "Needs the instructor" and its first entries, from the list the HTML page shows."""
    out = console()
    if not flags:
        out.print("[green]Needs the instructor: nothing[/]")
        return
    out.print(f"[magenta]Needs the instructor: {len(flags)}[/] (report.html lists them all; record what you "
              "decide with `grade decide`, then `grade report`)", soft_wrap=True)
    for f in flags[:NEEDS_SHOWN]:
        first = f.message.strip().splitlines()[0] if f.message.strip() else ""
        out.print(f"  {styled(f.student)}/{styled(f.exercise)}: {styled(f.reason)}"
                  + (f" — {styled(first[:160])}" if first else ""), soft_wrap=True)
    if len(flags) > NEEDS_SHOWN:
        out.print(f"  … and {len(flags) - NEEDS_SHOWN} more", soft_wrap=True)


def print_similarity(found: Any, exercises: set[str], reports_dir: Path) -> None:
    """`grade similarity`'s table: the flagged pairs, the identical runs and what could not be compared."""
    from rich.table import Table

    from .. import similarity

    table = Table(title="similar submissions / entregas parecidas")
    for col in ("exercise", "students", "shares", "why", "side by side"):
        table.add_column(col, overflow="fold")
    for p in found.flagged():
        if p.exercise in exercises:
            table.add_row(p.exercise, styled(f"{p.student_a} / {p.student_b}"), f"{p.share_a:.0%} / {p.share_b:.0%}",
                          f"code >= {p.threshold:.0%}", styled(str(reports_dir / p.view)))
    for r in found.runs:
        if r.exercise in exercises:
            table.add_row(r.exercise, styled(f"{r.student_a} / {r.student_b}"), f"code {r.code_similarity:.0%}",
                          styled(f"identical run: {r.records} log records (cells {r.cells_a} / {r.cells_b})"),
                          styled(str(reports_dir / r.view) if r.view else ""))
    for u in found.unread:
        if u.exercise in exercises:
            table.add_row(u.exercise, styled(u.student), "", styled(f"not compared: {u.reason}"), "")
    out = console()
    out.print(table)
    out.print(f"all pairs: {reports_dir / similarity.PAIRS_CSV}; identical runs: "
              f"{reports_dir / similarity.RUNS_CSV}. Similarity changes no score.", soft_wrap=True)


def print_solutions(rows: list[Any], quick: bool) -> None:
    """`grade check-solutions`'s table: one row per reference or starter, with its verdict."""
    from rich.table import Table

    table = Table(title="references and starters" + (" (quick mode)" if quick else ""))
    for col in ("exercise", "file", "status", "score", "test error", "verdict"):
        table.add_column(col, overflow="fold")  # a narrow console wraps a word rather than cut it
    for row in rows:
        if row.missing:
            table.add_row(row.exercise, row.label, "", "", "", f"[red]{styled(row.path)} is missing[/]")
        elif row.skip:  # not a problem: this machine lacks an optional framework
            table.add_row(row.exercise, row.label, "[dim]skipped[/]", "", "", f"[yellow]{styled(row.skip)}[/]")
        else:
            result, err = row.result, row.result.get("test_error")
            table.add_row(row.exercise, row.label, styled(result["status"]),
                          f"{result.get('score', 0):g}/{row.max_score:g}",
                          "" if err is None else f"{err:.2f} %",
                          "[green]as expected[/]" if row.verdict is None else f"[red]{styled(row.verdict)}[/]")
    console().print(table)


def print_import(rows: list[dict], title: str, outcomes: dict[str, Text], files: dict[str, Path], lang: str) -> None:
    """`grade import`'s table: where each file of the download went, or why it did not (``outcomes`` names each
    outcome, as ``lms.layout.OUTCOMES``); then the counts and the ``files`` written beside the class (report,
    roster)."""
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for col in (Text("student", "aluno"), Text("file", "arquivo"), Text("outcome", "resultado"),
                Text("where / why", "onde / por quê")):
        table.add_column(col.get(lang), overflow="fold")
    for r in sorted(rows, key=lambda r: (r["student"], r["file"])):
        if r["outcome"] == "ignored":
            continue  # counted below; every one is in import-report.csv
        outcome = outcomes[r["outcome"]].get(lang)
        why = Text(r["reason"], r["reason_pt"]).get(lang)
        where = r["destination"] if r["outcome"] == "placed" else " ".join(filter(None, (r["destination"], why)))
        shown = (r["file"].partition("/")[2] or r["file"]) if r["student"] else r["file"]  # less the student's folder
        table.add_row(styled(r["student"]), styled(shown), f"[{IMPORT_STYLE.get(r['outcome'], 'dim')}]{outcome}[/]",
                      styled(where))
    out = console()
    out.print(table)
    counts = {o: sum(r["outcome"] == o for r in rows) for o in outcomes}
    students = len({r["student"] for r in rows if r["student"]})
    out.print(", ".join(f"{n} {outcomes[o].get(lang)}" for o, n in counts.items() if n)
              + Text(" — {students} students; report: {report}, roster: {roster}",
                     " — {students} alunos; relatório: {report}, lista: {roster}").format(
                  students=students, **files).get(lang),
              soft_wrap=True)
