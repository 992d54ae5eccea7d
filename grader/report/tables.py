"""``scores.csv`` (one row per student) and ``details.csv`` (one row per check), with pandas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd


def details_frame(results: list[dict[str, Any]]) -> pd.DataFrame:
    rows = [
        {"student": r["student"], "exercise": r["exercise"], "check": c["name"], "status": c["status"],
         "points": c["points"], "max_points": c["max_points"], "message": c["message"]}
        for r in results for c in r.get("checks", [])
    ]
    rows += [
        {"student": r["student"], "exercise": r["exercise"], "check": "(job)", "status": r["status"],
         "points": 0.0, "max_points": 0.0, "message": r["error"]}
        for r in results if r.get("error")
    ]
    cols = ["student", "exercise", "check", "status", "points", "max_points", "message"]
    return pd.DataFrame(rows, columns=cols).sort_values(["student", "exercise"], kind="stable", ignore_index=True)


def scores_frame(results: list[dict[str, Any]]) -> pd.DataFrame:
    if not results:
        return pd.DataFrame(columns=["student", "total", "max_total"])
    df = pd.DataFrame([{"student": r["student"], "exercise": r["exercise"], "score": r.get("score", 0.0),
                        "max_score": r.get("max_score", 0.0), "status": r["status"],
                        "test_error": r.get("test_error")} for r in results])
    wide = df.pivot(index="student", columns="exercise", values=["score", "status", "test_error"])
    wide.columns = [f"{ex}_{what}" for what, ex in wide.columns]
    exercises = sorted(df["exercise"].unique())
    wide = wide[[f"{ex}_{what}" for ex in exercises for what in ("score", "status", "test_error")]]
    totals = df.groupby("student")[["score", "max_score"]].sum()
    wide["total"] = totals["score"].round(2)
    wide["max_total"] = totals["max_score"]
    wide["percent"] = (100 * wide["total"] / wide["max_total"].where(wide["max_total"] > 0)).round(1)
    return wide.reset_index()


def write_tables(results: list[dict[str, Any]], reports_dir: Path) -> dict[str, Path]:
    reports_dir.mkdir(parents=True, exist_ok=True)
    paths = {"scores": reports_dir / "scores.csv", "details": reports_dir / "details.csv"}
    scores_frame(results).to_csv(paths["scores"], index=False, float_format="%.2f")
    details_frame(results).to_csv(paths["details"], index=False, float_format="%.2f")
    return paths
