"""Per-student feedback: ``reports/<student>/feedback.md`` with its figures and executed notebooks.

Built from the result JSONs (and the artifacts kept beside them) only. Everything that came
from the student's program (names, exception texts, stated figures) is escaped for Markdown.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from ..handover import EXECUTED_NOTEBOOK
from ..results import artifacts_dir, flagged_attempts, keep_artifacts
from ..schema import CheckStatus, JobResult, JobStatus
from ..text import Text
from . import i18n
from .values import counted, decimal, points, threshold

#: The checks listed under "What to do next".
ATTENTION = (CheckStatus.FAIL, CheckStatus.PARTIAL, CheckStatus.FLAG)


def md(text: object) -> str:
    """One line of text, safe in a Markdown table cell: no HTML, no cell breaks, no line breaks."""
    s = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"\s*\n\s*", " ", s).replace("|", "\\|")


def by_student(results: list[JobResult]) -> dict[str, list[JobResult]]:
    grouped: dict[str, list[JobResult]] = defaultdict(list)
    for r in results:
        grouped[r["student"]].append(r)
    return {s: sorted(rs, key=lambda r: r["exercise"]) for s, rs in sorted(grouped.items())}


def exercise_section(r: JobResult, lang: str, artifacts: list[str]) -> list[str]:
    """The Markdown of one exercise: verdict, table of checks, what to do, figures."""
    ex = r["exercise"]
    title = Text(r.get("title") or "", r.get("title_pt") or "").get(lang)  # no fallback: a side may be absent
    out = [f"## {ex}" + (f" — {md(title)}" if title else ""), "",
           f"**{score_cell(r, lang)} {i18n.t('points', lang)}** · {i18n.status(r['status'], lang)}", ""]
    if decided := i18n.decision_lines(r, lang):
        out += [f"### {i18n.t('decisions', lang)}", ""] + [f"- {md(line)}" for line in decided] + [""]
    if r["status"] == JobStatus.MISSING:
        return out + [i18n.t("missing", lang, file=f"{ex}.py"), ""]
    if r.get("quick"):  # a program that trains no longer than the cap is graded as a full run
        out += [f"> {i18n.t('quick' if r.get('quick_capped', True) else 'quick_full', lang)}", ""]
    if r.get("test_error") is not None:
        goal = threshold(r)
        out += [f"{i18n.t('test_error', lang)}: **{decimal(r['test_error'], 2, lang)} %**"
                + (f" ({i18n.t('target', lang)}: ≤ {decimal(goal.full_credit_max, 2, lang)} %)" if goal is not None
                   else ""), ""]
    if r.get("rerun"):
        out += [md(i18n.runs_line(r, lang)), ""]
    checks = r.get("checks", [])
    if checks:
        out += [f"| {i18n.t('check', lang)} | {i18n.t('result', lang)} | {i18n.t('points', lang)} | "
                f"{i18n.t('measured', lang)} |", "|---|---|---:|---|"]
        on_check = {d["check"]: d for d in r.get("decisions") or [] if d["kind"] == "points" and d["check"]}
        out += [f"| {md(i18n.check_title(c['name'], lang))} | {i18n.status(c['status'], lang)} | "
                f"{points(c['points'], lang)}/{points(c['max_points'], lang)}"
                + (f" ({i18n.t('grader_gave', lang, points=points(d['grader_points'], lang))})"
                   if (d := on_check.get(c["name"])) else "")
                + f" | {md(i18n.message(c, lang))} |" for c in checks]
        out.append("")
    todo = [f"- **{md(i18n.check_title(c['name'], lang))}**: {md(i18n.message(c, lang))}"
            for c in checks if c["status"] in ATTENTION]
    if r.get("error") and not any(c["status"] == CheckStatus.FAIL for c in checks):  # else a failed check says it
        todo.insert(0, f"- **{i18n.status(r['status'], lang)}**: {md(i18n.message(r, lang))}")
    out += [f"### {i18n.t('next', lang)}", ""] + (todo or [i18n.t("all_good", lang)]) + [""]
    if r.get("notices"):
        out += [f"### {i18n.t('keras2', lang)}", ""] + [f"- {md(n)}" for n in i18n.notices(r, lang)]
        if r.get("keras2_penalty"):
            out.append(f"- **{md(i18n.t('keras2_penalty', lang, points=points(r['keras2_penalty'])))}**")
        out.append("")
    if blocked := flagged_attempts(r):
        out += [f"### {i18n.t('attempts', lang)}", "", i18n.t("attempts_intro", lang), ""]
        out += [f"- {md(i18n.message(a, lang))}" for a in blocked] + [""]
    figures = [a for a in artifacts if a.endswith(".png")]
    if figures:
        out += [f"### {i18n.t('figures', lang)}", ""] + [f"![{a}]({ex}/{a})" for a in figures] + [""]
    if EXECUTED_NOTEBOOK in artifacts:
        out += [f"{i18n.t('notebook', lang)}: [{ex}/{EXECUTED_NOTEBOOK}]({ex}/{EXECUTED_NOTEBOOK})", ""]
    return out


def score_cell(r: JobResult, lang: str, sep: str = " / ") -> str:
    """'8 / 10' with the grader's own score beside the instructor's ('8 / 10 (grader: 6)'); 'excused' says so."""
    text = f"{points(r.get('score', 0), lang)}{sep}{points(r.get('max_score', 0), lang)}"
    if r.get("excused"):
        text += f" ({i18n.t('excused', lang)})"
    elif "grader_score" in r and r["grader_score"] != r.get("score"):
        text += f" ({i18n.t('grader_gave', lang, points=points(r['grader_score'], lang))})"
    return text


def render(student: str, results: list[JobResult], lang: str,
           kept: dict[str, list[str]] | None = None) -> str:
    """The feedback page of one student (``kept``: exercise -> artifact names copied beside it)."""
    kept = kept or {}
    total = sum(float(r.get("score") or 0) for r in results if counted(r))
    max_total = sum(float(r.get("max_score", 0)) for r in results if counted(r))
    lines = [f"# {i18n.t('feedback', lang)} — {md(student)}", "",
             f"**{i18n.t('total', lang)}: {points(total, lang)} / {points(max_total, lang)} {i18n.t('points', lang)}**",
             ""]
    lines += [f"| | {i18n.t('points', lang)} | {i18n.t('result', lang)} |", "|---|---:|---|"]
    lines += [f"| {r['exercise']} | {score_cell(r, lang, '/')} | {i18n.status(r['status'], lang)} |" for r in results]
    lines.append("")
    for r in results:
        lines += exercise_section(r, lang, kept.get(r["exercise"], []))
    ran = [r for r in results if r["status"] not in (JobStatus.MISSING, JobStatus.EMPTY)]  # graded on a machine
    if ran:
        last = max(ran, key=lambda r: str(r.get("finished_at", "")))
        lines.append("_" + i18n.t("graded_by", lang, version=last.get("grader_version", "?"),
                                  device=md(last.get("device", "?")), backend=md(last.get("backend", "?")),
                                  when=last.get("finished_at", "?")) + "_")
    return "\n".join(lines) + "\n"


def write_feedback(results: list[JobResult], reports_dir: Path, results_dir: Path | None,
                   lang: str) -> dict[str, Path]:
    """Write ``reports_dir/<student>/feedback.md`` for every student; returns student -> path."""
    written = {}
    for student, rs in by_student(results).items():
        folder = reports_dir / student
        folder.mkdir(parents=True, exist_ok=True)
        kept = {}
        for r in rs:
            src = artifacts_dir(results_dir, student, r["exercise"]) if results_dir else None
            kept[r["exercise"]] = keep_artifacts(src, folder / r["exercise"]) if src else []
        path = folder / "feedback.md"
        path.write_text(render(student, rs, lang, kept))
        written[student] = path
    return written
