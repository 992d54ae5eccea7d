"""`grade check-solutions`: every reference must pass every check, every starter must run and leave work to do.

A course's references (``solutions/<exercise>/``, one per framework the exercise has one for) and starters
(``assignments/<exercise>/starter.py``) are graded as a student's program would be, one after another with one
evaluator, and each verdict is judged by its role. The command prints what ``check`` returns
(``report.console.print_solutions``).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import frameworks
from .schema import CheckStatus, JobResult, JobStatus

if TYPE_CHECKING:
    from .exercise import Exercise
    from .jobs import Options


@dataclass(frozen=True)
class Row:
    """One reference or starter of an exercise: its result and verdict, or why it was not graded."""

    exercise: str
    label: str              # "reference", "reference (torch)", "starter"
    path: Path
    max_score: float
    skip: str | None = None     # why it was skipped (an optional framework not installed): not a problem
    result: JobResult | None = None
    verdict: str | None = None  # what is wrong with it; None: as expected

    @property
    def missing(self) -> bool:
        return self.skip is None and self.result is None

    @property
    def problem(self) -> bool:
        return self.missing or self.verdict is not None


def judge_pair(ex: Exercise, role: str, result: JobResult) -> str | None:
    """What is wrong with a reference or starter result, or None."""
    checks = {c["name"]: c for c in result.get("checks", [])}
    if role == "reference":
        failed = [n for n, c in checks.items() if c["status"] == CheckStatus.FAIL]
        if result["status"] != JobStatus.OK or failed:
            return (f"reference is {result['status']}: "
                    + "; ".join(f"{n}: {checks[n]['message']}" for n in failed[:3]) + (result.get("error") or ""))
        return None
    if checks.get("runs", {}).get("status") != CheckStatus.PASS:
        return f"starter does not run: {checks.get('runs', {}).get('message', result.get('error'))}"
    must_fail = ex.starter.must_fail
    judged = [n for n in must_fail if checks.get(n, {}).get("status") not in (None, CheckStatus.NOT_GRADED)]
    if judged and not any(checks[n]["status"] == CheckStatus.FAIL for n in judged):
        return f"starter passes {', '.join(judged)}: it should leave the student work to do"
    return None


def framework_installed(modules: tuple[str, ...]) -> bool:
    """Whether this Python can import ``modules``, asked without importing them (torch alone takes seconds)."""
    return all(importlib.util.find_spec(m) is not None for m in modules)


def solution_runs(root: Path, ex_id: str, installed=framework_installed) -> list[tuple[str, str, Path, str | None]]:
    """What `grade check-solutions` runs for one exercise, in order: (label, role, path, why it is skipped or None).

    The Keras reference, a reference in each other framework the exercise has one for, the starter. ``role`` is
    what ``judge_pair`` judges: every reference must pass every check, whatever its framework.
    """
    runs: list[tuple[str, str, Path, str | None]] = [
        ("reference", "reference", root / "solutions" / ex_id / frameworks.DEFAULT.reference, None)]
    # another framework's reference lies beside the default's, found by its file name (frameworks.py), not listed in
    # exercise.toml: that file is released to students and solutions/ never is; it is skipped, with a note, where
    # its framework's modules (an optional extra) are not installed
    for framework in frameworks.others():
        path = root / "solutions" / ex_id / framework.reference
        if path.is_file():
            modules = framework.modules
            skip = None if installed(modules) else (f"skipped: {' and '.join(modules)} not installed here; "
                                                    f"pip install '{framework.extra}' to check this reference")
            runs.append((f"reference ({framework.id})", "reference", path, skip))
    runs.append(("starter", "starter", root / "assignments" / ex_id / "starter.py", None))
    return runs


def check(root: Path, exercises: list[Exercise], opts: Options) -> list[Row]:
    """Grade every reference and starter of ``exercises`` with one evaluator and judge each by its role."""
    from .evaluation.client import Evaluator
    from .jobs import grade

    rows: list[Row] = []
    with Evaluator(backend=opts.backend) as evaluator:
        for ex in exercises:
            for label, role, path, skip in solution_runs(root, ex.id):
                if not path.is_file():  # missing: a problem
                    rows.append(Row(ex.id, label, path, ex.max_score))
                    continue
                if skip:
                    rows.append(Row(ex.id, label, path, ex.max_score, skip=skip))
                    continue
                result = grade(role, ex, path, evaluator, opts)
                rows.append(Row(ex.id, label, path, ex.max_score, result=result, verdict=judge_pair(ex, role, result)))
    return rows
