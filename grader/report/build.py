"""Every report of a class, from the result JSONs only: tables, HTML page, feedback, Gradescope files."""

from __future__ import annotations

import json
from pathlib import Path

from .. import similarity
from ..schema import JobResult
from . import feedback, gradescope
from .html import write_html
from .tables import write_tables


def write_reports(results: list[JobResult], reports_dir: Path, results_dir: Path | None,
                  lang: str) -> dict[str, Path]:
    """Write reports_dir/{scores.csv, details.csv, scores.xlsx?, report.html, <student>/...}; returns the main paths."""
    paths = write_tables(results, reports_dir)
    stored = (reports_dir / similarity.PAIRS_CSV).is_file()  # `grade similarity` (or `grade all`) ran there
    paths["html"] = write_html(results, reports_dir / "report.html",
                               similarity=similarity.read(reports_dir) if stored else None)
    if stored:
        paths["similarity"] = reports_dir / similarity.PAIRS_CSV
    written = feedback.write_feedback(results, reports_dir, results_dir, lang)
    for student, rs in feedback.by_student(results).items():
        (reports_dir / student / "results.json").write_text(
            json.dumps(gradescope.results_json(rs, lang), indent=1, ensure_ascii=False))
    if written:
        paths["feedback"] = reports_dir / "<student>" / "feedback.md"
    return paths
