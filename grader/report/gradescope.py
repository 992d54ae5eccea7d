"""Gradescope's autograder ``results.json`` for one student, from the result JSONs.

The specification (Gradescope, "Autograder Specifications", output format): a top-level
``score``, ``execution_time``, ``output``, ``visibility`` and ``tests``; each test has
``name``, ``number``, ``score``, ``max_score``, ``status`` ("passed" or "failed"),
``output`` and ``visibility``. Our tests are the checks of every exercise, so a student sees
the same verdicts as in ``feedback.md``. A run on Gradescope is
``grade run /autograder/submission --format gradescope --output /autograder/results/results.json``.
"""

from __future__ import annotations

from typing import Any

from ..schema import CheckStatus, JobResult, JobStatus
from . import i18n
from .values import counted, graded, not_final, points

#: The check statuses Gradescope shows as passed (a flag costs no points: the instructor reviews it).
PASSED = (CheckStatus.PASS, CheckStatus.FLAG, CheckStatus.INFO, CheckStatus.NOT_GRADED)


def _round(x: float) -> float:
    return round(float(x), 4)


def results_json(results: list[JobResult], lang: str = "en") -> dict[str, Any]:
    """One student's results as a Gradescope ``results.json`` document."""
    tests: list[dict[str, Any]] = []
    output: list[str] = []
    for i, r in enumerate(sorted(results, key=lambda r: r["exercise"]), start=1):
        ex = r["exercise"]
        if not graded(r):  # no score at all, rather than a zero: the grader failed, not the student
            tests.append({"name": f"{ex}: {i18n.status(r['status'], lang)}", "number": f"{i}", "status": "failed",
                          "output": i18n.message(r, lang), "visibility": "visible"})
            continue
        if r["status"] == JobStatus.MISSING or not r.get("checks"):
            why = i18n.message(r, lang) or i18n.status(r["status"], lang)
            tests.append({"name": f"{ex}: {i18n.status(r['status'], lang)}", "number": f"{i}",
                          "score": _round(r.get("score", 0)), "max_score": _round(r.get("max_score", 0)),
                          "status": "failed", "output": why, "visibility": "visible"})
            continue
        if r.get("error"):
            output.append(f"{ex}: {i18n.message(r, lang)}")
        output += [f"{ex}: {i18n.t('keras2', lang)}: {line}" for line in i18n.notices(r, lang)]
        if r.get("keras2_penalty"):
            output.append(f"{ex}: {i18n.t('keras2_penalty', lang, points=points(r['keras2_penalty']))}")
        on_check = {d["check"]: d for d in r.get("decisions") or [] if d["kind"] == "points" and d["check"]}
        for j, c in enumerate(r["checks"], start=1):
            decided = on_check.get(c["name"])
            tests.append({
                "name": f"{ex}: {i18n.check_title(c['name'], lang)}",
                "number": f"{i}.{j}",
                "score": _round(c["points"]),
                "max_score": _round(c["max_points"]),
                "status": "passed" if c["status"] in PASSED else "failed",
                "output": (i18n.message(c, lang) if c["status"] == CheckStatus.NOT_REACHED  # "not reached: <cause>"
                           else f"[{i18n.status(c['status'], lang)}] {i18n.message(c, lang)}")
                + (f"\n{i18n.t('decisions', lang)}: {i18n.t('grader_gave', lang, points=points(decided['grader_points'], lang))}"
                   f"; {decided['reason']}" if decided else ""),
                "visibility": "visible",
            })
        if decided_job := i18n.decision_lines(r, lang):  # the score, an excuse, a flag: in the job's own entry
            tests.append({"name": f"{ex}: {i18n.t('decisions', lang)}", "number": f"{i}.{len(r['checks']) + 1}",
                          "status": "passed", "output": "\n".join(decided_job), "visibility": "visible"})
    if unfinished := [r for r in results if not_final(r)]:
        output.insert(0, i18n.t("not_final", lang, why=", ".join(
            f"{r['exercise']} ({i18n.t('quick_short', lang) if r.get('quick') else i18n.status(r['status'], lang)})"
            for r in unfinished)))
    seconds = sum(float((r.get("times") or {}).get("total_s") or 0) for r in results)
    return {
        "score": _round(sum(float(r.get("score") or 0) for r in results if counted(r))),
        "execution_time": int(round(seconds)),
        "output": "\n".join(output),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
