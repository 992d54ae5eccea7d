"""``scores.csv`` (one row per student) and ``details.csv`` (one row per check), with pandas.

Also ``scores.xlsx`` (both tables as sheets) when pandas has an Excel engine installed
(openpyxl or xlsxwriter): the grader does not install one for that alone.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pandas as pd

from ..schema import JobResult
from .values import counted

#: A job's status in ``scores.csv`` when the instructor excused it (it counts in no total).
EXCUSED = "excused"


def measured(details: Any) -> str:
    """A check's measured figures as ``name=value; ...`` (scalars only, floats to 4 significant digits)."""
    if not isinstance(details, dict):
        return ""
    parts = []
    for k, v in details.items():
        if isinstance(v, bool) or v is None:
            continue
        if isinstance(v, float):
            parts.append(f"{k}={v:.4g}")
        elif isinstance(v, (int, str)) and len(str(v)) <= 60:
            parts.append(f"{k}={v}")
    return "; ".join(parts)


def decided(results: list[JobResult]) -> bool:
    """Whether the instructor decided anything on these results: then the tables gain the grader's points and
    the reasons beside the instructor's (a class without decisions keeps the columns it always had)."""
    return any(r.get("decisions") for r in results)


def details_frame(results: list[JobResult]) -> pd.DataFrame:
    """One row per check (the instructor's points where a decision set them), one per job error, one per
    decision on a whole exercise or a flag (``check`` "(decision)")."""
    with_decisions = decided(results)
    rows = []
    for r in results:
        on_check = {d["check"]: d for d in r.get("decisions") or [] if d["kind"] == "points" and d["check"]}
        for c in r.get("checks", []):
            row = {"student": r["student"], "exercise": r["exercise"], "check": c["name"], "status": c["status"],
                   "points": c["points"], "max_points": c["max_points"], "message": c["message"],
                   "measured": measured(c.get("details"))}
            if with_decisions:
                d = on_check.get(c["name"])
                row |= {"grader_points": c["points"] if d is None else d["grader_points"],
                        "decision": "" if d is None else d["reason"]}
            rows.append(row)
        for d in r.get("decisions") or []:
            if d["kind"] == "points" and d["check"]:
                continue
            rows.append({"student": r["student"], "exercise": r["exercise"], "check": "(decision)",
                         "status": d["kind"], "points": d["points"], "max_points": r.get("max_score", 0.0),
                         "message": f"{d['flag']}: {d['reason']}" if d["flag"] else d["reason"], "measured": "",
                         "grader_points": d["grader_points"], "decision": d["reason"]})
    rows += [
        {"student": r["student"], "exercise": r["exercise"], "check": "(job)", "status": r["status"],
         "points": 0.0, "max_points": 0.0, "message": r["error"], "measured": ""}
        for r in results if r.get("error")
    ]
    cols = ["student", "exercise", "check", "status", "points", "max_points", "message", "measured"]
    cols += ["grader_points", "decision"] if with_decisions else []
    return pd.DataFrame(rows, columns=cols).sort_values(["student", "exercise"], kind="stable", ignore_index=True)


def scores_frame(results: list[JobResult]) -> pd.DataFrame:
    """One row per student: total, maximum, percent, status, then per exercise its score, status and test error
    (and, when the instructor decided anything, the grader's points and the decision's reasons)."""
    if not results:
        return pd.DataFrame(columns=["student", "total", "max_total"])
    whats = ["score", "status", "test_error"] + (["grader_points", "decision"] if decided(results) else [])
    df = pd.DataFrame([{"student": r["student"], "exercise": r["exercise"], "score": r.get("score", 0.0),
                        "max_score": r.get("max_score", 0.0), "status": EXCUSED if r.get("excused") else r["status"],
                        "test_error": r.get("test_error"), "counted": counted(r),
                        "grader_points": r.get("grader_score", r.get("score", 0.0)),
                        "decision": "; ".join(d["reason"] for d in r.get("decisions") or [])} for r in results])
    wide = df.pivot(index="student", columns="exercise", values=whats)
    wide.columns = [f"{ex}_{what}" for what, ex in wide.columns]
    exercises = sorted(df["exercise"].unique())
    wide = wide[[f"{ex}_{what}" for ex in exercises for what in whats]]
    for col in wide.columns:  # the pivot leaves objects; scores and errors read best with 2 decimals
        if not col.endswith(("_status", "_decision")):
            wide[col] = pd.to_numeric(wide[col], errors="coerce").round(2)
    # not graded (a grader fault) or excused: no zero, and not in the total's max
    df.loc[~df["counted"], ["score", "max_score"]] = 0.0
    totals = df.groupby("student")[["score", "max_score"]].sum()
    wide["total"] = totals["score"].round(2)
    wide["max_total"] = totals["max_score"]
    wide["percent"] = (100 * wide["total"] / wide["max_total"].where(wide["max_total"] > 0)).round(1)
    wide["status"] = df.groupby("student")["status"].agg(student_status)
    first = ["total", "max_total", "percent", "status"]
    return wide[first + [c for c in wide.columns if c not in first]].reset_index()


def student_status(statuses: pd.Series) -> str:
    """'ok' when every exercise is ok, else what needs a look, e.g. '2 missing, 1 error'."""
    counts = statuses[statuses != "ok"].value_counts()
    return ", ".join(f"{n} {s}" for s, n in counts.items()) or "ok"


def excel_engine() -> str | None:
    return next((e for e in ("openpyxl", "xlsxwriter") if importlib.util.find_spec(e) is not None), None)


def write_tables(results: list[JobResult], reports_dir: Path) -> dict[str, Path]:
    reports_dir.mkdir(parents=True, exist_ok=True)
    paths = {"scores": reports_dir / "scores.csv", "details": reports_dir / "details.csv"}
    scores_frame(results).to_csv(paths["scores"], index=False, float_format="%.2f")
    details_frame(results).to_csv(paths["details"], index=False, float_format="%.2f")
    if (engine := excel_engine()) is not None:
        paths["excel"] = reports_dir / "scores.xlsx"
        with pd.ExcelWriter(paths["excel"], engine=engine) as book:
            scores_frame(results).round(2).to_excel(book, sheet_name="scores", index=False)
            details_frame(results).round(2).to_excel(book, sheet_name="details", index=False)
    return paths
