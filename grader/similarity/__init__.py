"""Similarity across the class, per exercise: shared code (``code``) and shared runs (``runs``).

``analyse`` reads the submissions as submitted (``DIR/<student>/<exercise>.py|.ipynb``), never running them
and never reading the grader's own runs, and stores what it found as data beside the reports, so every
report can be rebuilt from it without comparing again (``read``):

- ``reports/similarity.csv``: every pair of submissions of an exercise, the share of each one's code found in
  the other (the course's code discounted), and whether the pair reaches ``[similarity] threshold``;
- ``reports/identical-runs.csv``: notebook pairs whose saved outputs share a training log, the cells that match,
  the seeds both set, and the pair's code similarity;
- ``reports/similarity-unread.csv``: submissions that could not be compared, and why;
- ``reports/similarity/<exercise>/<a>--<b>.html``: the pairs worth a look side by side, matched passages marked.

Similarity never changes a score: it lists pairs for the instructor, who decides.
"""

from __future__ import annotations

import csv
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from ..config import course, course_root
from ..errors import GraderError
from . import code, runs

if TYPE_CHECKING:
    from ..exercise import Exercise

#: ``[similarity] threshold`` when course.toml sets none: the share of a submission's own code (the course's
#: discounted) found in another's from which the pair is listed for the instructor. Measured on the demo class:
#: independent programs share up to about 40 % (Keras code is formulaic once names are set aside), a copy with
#: renamed variables 90 % and more.
#: Side-by-side views written per exercise beyond the pairs at or above the threshold: the most similar ones.
TOP_VIEWS = 10
#: At most this many side-by-side views per exercise (the most similar pairs; identical runs always get theirs):
#: a threshold set too low for a large class must not write thousands of pages. Every pair stays in the CSV.
MAX_VIEWS = 100

PAIRS_CSV, RUNS_CSV, UNREAD_CSV, VIEWS_DIR = "similarity.csv", "identical-runs.csv", "similarity-unread.csv", "similarity"


@dataclass(frozen=True)
class PairRow:
    """One compared pair as stored in ``similarity.csv``."""

    exercise: str
    student_a: str
    file_a: str
    student_b: str
    file_b: str
    share_a: float  # of a's code (less the course's), the part found in b's
    share_b: float
    similarity: float  # the larger share
    flagged: bool  # similarity >= threshold: listed under "Needs the instructor"
    threshold: float
    view: str  # the side-by-side page's file, relative to the reports folder ("" when none was written)


@dataclass(frozen=True)
class RunRow:
    """One pair of notebooks that share a training log, as stored in ``identical-runs.csv``."""

    exercise: str
    student_a: str
    student_b: str
    cells_a: str  # code cells (1-based, among code cells) where the log lies, "3 5"
    cells_b: str
    records: int  # distinct log records both hold
    first: str  # the first of them, as the figures were printed
    seeds: str  # seeds both programs set ("" when they share none)
    code_similarity: float
    view: str


@dataclass(frozen=True)
class Unread:
    """A submission that could not be compared, and why."""

    exercise: str
    student: str
    file: str
    reason: str


@dataclass
class Findings:
    """What ``read`` gives the reports."""

    pairs: list[PairRow]
    runs: list[RunRow]
    unread: list[Unread]

    def flagged(self) -> list[PairRow]:
        return [p for p in self.pairs if p.flagged]


def threshold() -> float:
    """``[similarity] threshold`` of course.toml: a share between 0 and 1."""
    return course().similarity.threshold


def boilerplate_files(root: Path | None = None) -> list[Path]:
    """The course's code: every starter, and the files ``[similarity] boilerplate`` lists (globs from the course
    folder: the handout's programs, a notebook given to start from)."""
    root = root or course_root()
    patterns = course().similarity.boilerplate
    found = sorted(root.glob("assignments/*/starter.py"))
    for pattern in patterns:
        matched = sorted(p for p in root.glob(pattern) if p.is_file())
        if not matched:
            raise GraderError(f"course.toml: [similarity] boilerplate names {pattern!r}, which matches no file under "
                              f"{root}; fix the pattern or remove it")
        found += matched
    return list(dict.fromkeys(found))


def course_material(root: Path | None = None) -> tuple[list[str], list[str]]:
    """(the course's code, the course's printed text): starters, handout files and the statements' snippets;
    the printed text holds the saved outputs of handout notebooks and the statements, for ``runs``."""
    from ..notebooks import read

    root = root or course_root()
    sources, printed = [], []
    for path in boilerplate_files(root):
        try:
            sources.append(code.read_code(path))
            if path.suffix == ".ipynb":
                printed += [runs.cell_text(c) for c in read(path).cells if c.cell_type == "code"]
        except ValueError as e:
            raise GraderError(f"course file {path} cannot be read for similarity ({e}); fix or unlist it") from e
    for statement in sorted(root.glob("assignments/*/README.md")):
        text = statement.read_text(encoding="utf-8", errors="replace")
        sources += code.statement_snippets(text)
        printed.append(text)
    return sources, printed


@dataclass(frozen=True)
class Summary:
    """What one exercise's comparison found, for the console."""

    exercise: str
    submissions: int
    pairs: int
    flagged: int
    identical_runs: int
    seconds: float


def analyse(class_dir: Path, exercises: Sequence[Exercise], reports_dir: Path,
            students: Iterable[str] | None = None) -> list[Summary]:
    """Compare the submissions of each exercise, write the data files and side-by-side views (the rows of other
    exercises already there are kept), and return a summary per exercise."""
    names = sorted(students) if students is not None else sorted(
        p.name for p in class_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    limit = threshold()
    boilerplate, printed = course_material()
    course_logs = runs.course_records(printed)
    old = read(reports_dir)
    done = {ex.id for ex in exercises}
    pairs = [p for p in old.pairs if p.exercise not in done]
    found_runs = [r for r in old.runs if r.exercise not in done]
    unread = [u for u in old.unread if u.exercise not in done]
    summaries = []
    for ex in exercises:
        t0 = time.monotonic()
        subs = [(s, path) for s in names if (path := ex.find_submission(class_dir / s)) is not None]
        sources, outputs, missed = _read_submissions(ex.id, subs)
        compared = code.compare(sources, boilerplate)
        ex_pairs, ex_runs = _write_views(ex.id, sources, compared, runs.identical_runs(outputs, course_logs),
                                         limit, reports_dir)
        pairs += ex_pairs
        found_runs += ex_runs
        unread += missed
        summaries.append(Summary(ex.id, len(sources), len(compared), sum(p.flagged for p in ex_pairs), len(ex_runs),
                                 time.monotonic() - t0))
    write(Findings(pairs, found_runs, unread), reports_dir)
    return summaries


def _read_submissions(exercise: str, subs: list[tuple[str, Path]]
                      ) -> tuple[list[code.Source], list[runs.Outputs], list[Unread]]:
    from ..notebooks import read as read_notebook

    sources, outputs, missed = [], [], []
    for student, path in subs:
        if (why := _unreadable(path)) is not None:
            missed.append(Unread(exercise, student, path.name, why))
            continue
        try:
            text = code.read_code(path)
            if path.suffix == ".ipynb":
                outputs.append(runs.Outputs(student, runs.notebook_logs(read_notebook(path)), runs.seeds(text)))
        except (ValueError, OSError) as e:
            missed.append(Unread(exercise, student, path.name, str(e)))
            continue
        if not text.strip():
            missed.append(Unread(exercise, student, path.name, "the submission holds no code"))
            continue
        sources.append(code.Source(student, path.name, text[:code.MAX_CHARS]))
    return sources, outputs, missed


#: A submission larger than this is not read (a notebook with its figures is a few megabytes at most).
MAX_BYTES = 32 * 2**20


def _unreadable(path: Path) -> str | None:
    """Why a submission is not read at all, or None: a link (it could point at any file of this machine, which the
    side-by-side page would show) or a file too large to be a program."""
    if path.is_symlink():
        return "the submission is a symbolic link: not followed"
    if (size := path.stat().st_size) > MAX_BYTES:
        return f"the file has {size / 2**20:.0f} MiB, more than a program of this course ({MAX_BYTES // 2**20} MiB)"
    return None


def _write_views(exercise: str, sources: list[code.Source], compared: list[code.Pair], matches: list[runs.RunMatch],
                 limit: float, reports_dir: Path) -> tuple[list[PairRow], list[RunRow]]:
    """The rows of one exercise, writing a side-by-side page for the pairs at or above the threshold (at most
    :data:`MAX_VIEWS`), the :data:`TOP_VIEWS` most similar others with any match, and every identical run."""
    folder = reports_dir / VIEWS_DIR / exercise
    shutil.rmtree(folder, ignore_errors=True)
    by_student = {s.student: s for s in sources}
    by_pair = {(p.student_a, p.student_b): p for p in compared}
    ran_together = {frozenset((m.student_a, m.student_b)): m for m in matches}
    views: dict[tuple[str, str], str] = {}

    def view(pair: code.Pair) -> str:
        key = (pair.student_a, pair.student_b)
        if key not in views:
            name = f"{quote(pair.student_a, safe='')}--{quote(pair.student_b, safe='')}.html"
            run = ran_together.get(frozenset(key))
            note = "" if run is None else (
                f"The saved outputs share one training log: {len(run.records)} records, code cell(s) "
                f"{' '.join(map(str, run.cells_a))} of {run.student_a} and {' '.join(map(str, run.cells_b))} of "
                f"{run.student_b}, first {run.records[0]}.")
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(code.side_by_side(exercise, pair, by_student[pair.student_a],
                                                         by_student[pair.student_b], note), encoding="utf-8")
            views[key] = f"{VIEWS_DIR}/{exercise}/{name}"
        return views[key]

    rows = []
    for rank, p in enumerate(compared):  # most similar first
        worth = (rank < MAX_VIEWS and (p.similarity >= limit or (rank < TOP_VIEWS and p.similarity > 0))) or \
            frozenset((p.student_a, p.student_b)) in ran_together
        rows.append(PairRow(exercise, p.student_a, by_student[p.student_a].file, p.student_b,
                            by_student[p.student_b].file, round(p.share_a, 4), round(p.share_b, 4),
                            round(p.similarity, 4), p.similarity >= limit, limit, view(p) if worth else ""))
    run_rows = []
    for m in matches:
        p = by_pair.get((m.student_a, m.student_b)) or by_pair.get((m.student_b, m.student_a))
        run_rows.append(RunRow(exercise, m.student_a, m.student_b, " ".join(map(str, m.cells_a)),
                               " ".join(map(str, m.cells_b)), len(m.records), m.records[0], " ".join(m.seeds),
                               round(p.similarity, 4) if p else 0.0, view(p) if p else ""))
    return rows, run_rows


# --- the stored data -------------------------------------------------------------------------------------------------

def write(findings: Findings, reports_dir: Path) -> None:
    """The three CSV files (a header alone when there is nothing to list, so no stale rows linger)."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    for name, cls, rows in ((PAIRS_CSV, PairRow, findings.pairs), (RUNS_CSV, RunRow, findings.runs),
                            (UNREAD_CSV, Unread, findings.unread)):
        with open(reports_dir / name, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, [fl.name for fl in fields(cls)])
            writer.writeheader()
            writer.writerows(asdict(r) for r in rows)


def read(reports_dir: Path) -> Findings:
    """The stored findings (empty when similarity never ran there)."""
    return Findings(_read(reports_dir / PAIRS_CSV, PairRow), _read(reports_dir / RUNS_CSV, RunRow),
                    _read(reports_dir / UNREAD_CSV, Unread))


def _read(path: Path, cls):
    if not path.is_file():
        return []
    kinds = {fl.name: fl.type for fl in fields(cls)}
    with open(path, newline="", encoding="utf-8") as f:
        return [cls(**{k: _typed(kinds[k], v) for k, v in row.items() if k in kinds}) for row in csv.DictReader(f)]


def _typed(kind: str, value: str):
    return {"float": float, "int": int, "bool": lambda v: v == "True"}.get(kind, str)(value)
