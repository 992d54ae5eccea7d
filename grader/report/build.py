"""Every report of a class, from the result JSONs and the instructor's decisions only: tables, HTML page,
feedback, Gradescope files. Nothing here runs a job, so ``grade report`` rebuilds them in seconds."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .. import decisions as decisions_mod
from .. import results as results_mod
from .. import similarity
from ..decisions import Decision, Review
from ..schema import JobResult
from . import feedback, gradescope
from .html import Flag, find_flags, write_html
from .tables import write_tables


@dataclass(frozen=True)
class Built:
    """What ``build_reports`` wrote and found: the main paths, the decided results, "Needs the instructor"."""

    paths: dict[str, Path]
    results: list[JobResult]
    reviews: list[Review]
    needs_instructor: list[Flag]


def build_reports(out: Path, lang: str, students: Iterable[str] | None = None) -> Built:
    """Rebuild every report of ``out`` (the grading folder: results/, decisions.toml, reports/) from the stored
    results of ``students`` (default: all), the decisions and the stored similarity; a malformed decisions file
    refuses before anything is written."""
    decided = decisions_mod.load(out / decisions_mod.FILE)
    wanted = set(students) if students is not None else None
    results = [r for r in results_mod.read_all(out / "results") if wanted is None or r["student"] in wanted]
    results, reviews = decisions_mod.apply(results, decided)
    found = stored_similarity(out / "reports")
    paths = _write(results, reviews, found, out / "reports", out / "results", lang)
    return Built(paths, results, reviews, find_flags(results, reviews, found))


def stored_similarity(reports_dir: Path) -> similarity.Findings | None:
    """What `grade similarity` (or `grade all`) stored beside the reports, or None where it never ran there."""
    return similarity.read(reports_dir) if (reports_dir / similarity.PAIRS_CSV).is_file() else None


def write_reports(results: list[JobResult], reports_dir: Path, results_dir: Path | None, lang: str,
                  decisions: Iterable[Decision] = ()) -> dict[str, Path]:
    """Every report of ``results`` (not read from a grading folder) as ``decisions`` leave them; returns the main
    paths."""
    decided, reviews = decisions_mod.apply(results, decisions)
    return _write(decided, reviews, stored_similarity(reports_dir), reports_dir, results_dir, lang)


def _write(results: list[JobResult], reviews: list[Review], found: similarity.Findings | None, reports_dir: Path,
           results_dir: Path | None, lang: str) -> dict[str, Path]:
    """Write reports_dir/{scores.csv, details.csv, scores.xlsx?, report.html, <student>/...} from the decided
    results; returns the main paths."""
    paths = write_tables(results, reports_dir)
    paths["html"] = write_html(results, reports_dir / "report.html", reviews=reviews, similarity=found)
    if found is not None:
        paths["similarity"] = reports_dir / similarity.PAIRS_CSV
    written = feedback.write_feedback(results, reports_dir, results_dir, lang)
    for student, rs in feedback.by_student(results).items():
        (reports_dir / student / "results.json").write_text(
            json.dumps(gradescope.results_json(rs, lang), indent=1, ensure_ascii=False))
    if written:
        paths["feedback"] = reports_dir / "<student>" / "feedback.md"
    return paths
