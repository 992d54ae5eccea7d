"""Compare a graded demo class with what it is expected to get: CI runs it after the README's first command.

    python examples/check_expected.py grading/reports/scores.csv             # exit 1 on any difference
    python examples/check_expected.py grading/reports/scores.csv --write     # after a deliberate change

``examples/expected.csv`` holds one row per submitted job of ``examples/class``: student, exercise, the status
it must get and the range its score must lie in. A full run is seeded, so the same machine type gives the
same scores; the range leaves room for another CPU's last digits, never for another verdict. Any job that
was not graded (``grader_error``), missing from the table or absent from the scores is a difference.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

EXPECTED = Path(__file__).with_name("expected.csv")
#: How far a score may move (points) on another machine of the same kind: far below any check's points.
SLACK = 0.25
NOT_SUBMITTED = ("missing",)


def jobs(scores: pd.DataFrame) -> pd.DataFrame:
    """scores.csv (one row per student) as one row per submitted job: student, exercise, status, score."""
    exercises = [c[: -len("_status")] for c in scores.columns if c.endswith("_status") and c != "status"]
    rows = [{"student": row["student"], "exercise": ex, "status": row[f"{ex}_status"], "score": row[f"{ex}_score"]}
            for _, row in scores.iterrows() for ex in exercises if row[f"{ex}_status"] not in NOT_SUBMITTED]
    return pd.DataFrame(rows, columns=["student", "exercise", "status", "score"])


def differences(expected: pd.DataFrame, graded: pd.DataFrame) -> list[str]:
    merged = expected.merge(graded, on=["student", "exercise"], how="outer", suffixes=("_expected", ""),
                            indicator=True)
    found = []
    for _, r in merged.sort_values(["student", "exercise"]).iterrows():
        job = f"{r['student']}/{r['exercise']}"
        if r["_merge"] == "left_only":
            found.append(f"{job}: expected {r['status_expected']}, but it was not graded at all")
        elif r["_merge"] == "right_only":
            found.append(f"{job}: {r['status']} {r['score']:g}, not in {EXPECTED.name} (add it with --write)")
        elif r["status"] == "grader_error":
            found.append(f"{job}: grader_error, not graded (a fault of the grader or the machine)")
        elif r["status"] != r["status_expected"]:
            found.append(f"{job}: status {r['status']}, expected {r['status_expected']}")
        elif not r["min_score"] - 1e-9 <= r["score"] <= r["max_score"] + 1e-9:
            found.append(f"{job}: score {r['score']:g}, expected {r['min_score']:g} to {r['max_score']:g}")
    return found


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("scores", type=Path, help="reports/scores.csv of `grade all examples/class`")
    p.add_argument("--write", action="store_true", help=f"write {EXPECTED.name} from these scores instead")
    args = p.parse_args()
    graded = jobs(pd.read_csv(args.scores))
    if args.write:
        if (graded["status"] == "grader_error").any():
            print("refused: some jobs were not graded (grader_error); grade them first", file=sys.stderr)
            return 1
        table = graded.assign(min_score=(graded["score"] - SLACK).clip(lower=0), max_score=graded["score"] + SLACK)
        table.drop(columns="score").to_csv(EXPECTED, index=False, float_format="%.2f")
        print(f"wrote {EXPECTED} ({len(table)} jobs)")
        return 0
    found = differences(pd.read_csv(EXPECTED), graded)
    for line in found:
        print(line)
    print(f"{len(graded)} jobs graded, {len(found)} differ from {EXPECTED.name}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
