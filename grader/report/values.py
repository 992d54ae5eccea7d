"""The figures every report reads from a result and shows: one reading, one way of writing them."""

from __future__ import annotations

from dataclasses import dataclass

from ..schema import CheckStatus, JobResult, JobStatus, number  # noqa: F401 - number: the reports read numbers as results.py does
from ..text import decimal  # noqa: F401 - the reports' one way of writing numbers


def graded(result: JobResult) -> bool:
    """Whether a job has a score: a grader fault (``grader_error``) is not a zero, it counts in no total."""
    return result.get("status") != JobStatus.GRADER_ERROR


def counted(result: JobResult) -> bool:
    """Whether a job counts in the student's total: graded, and not excused by the instructor."""
    return graded(result) and not result.get("excused")


def quick(result: JobResult) -> bool:
    """Whether a result comes from a quick run that capped the training (a shorter program counts as a full run)."""
    return bool(result.get("quick")) and bool(result.get("quick_capped", True))


def not_final(result: JobResult) -> str | None:
    """Why a result's score is not a final grade (English, for the instructor), or None when it is one."""
    if result.get("excused"):
        return None
    if not graded(result):
        return "not graded (a grader fault)"
    if quick(result):
        return "quick mode"
    if any(c["status"] == CheckStatus.NOT_GRADED for c in result.get("checks") or []):
        return "a check was not graded"
    return None


def points(x: float | None, lang: str = "en") -> str:
    """A score as a person writes it: at most 2 decimals, no trailing zeros (10, 7.5, 6.67; pt: 7,5); '—' if none."""
    return "—" if x is None else decimal(x, 2, lang).rstrip("0").rstrip(".,")


@dataclass(frozen=True)
class Threshold:
    """Full credit at or below `full_credit_max` (%), none from `zero_credit_min` (%), linear in between."""

    full_credit_max: float
    zero_credit_min: float


def threshold(result: JobResult) -> Threshold | None:
    """The threshold a result was graded against (its "threshold" check's details), or None.

    Read from the result, not from the exercise config, so a report shows what the grading used.
    """
    for c in result.get("checks") or []:
        details = c.get("details") if isinstance(c, dict) and c.get("name") == "threshold" else None
        if isinstance(details, dict):
            full, zero = number(details.get("full_credit_max")), number(details.get("zero_credit_min"))
            if full is not None and zero is not None:
                return Threshold(full, zero)
    return None
