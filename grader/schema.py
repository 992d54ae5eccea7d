"""The result model: what a job's result holds, each status once, and the version of its stored form.

A result is stored as JSON (``results/<student>/<exercise>.json``) and read back by every report,
by both executors and by the next run (its cache key), so its shape is written down here once.
The statuses are ``StrEnum`` members: they compare equal to, and serialise as, the plain strings
that result files of earlier versions already hold.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from enum import StrEnum
from numbers import Real
from typing import Any, Required, TypedDict, TypeVar

from . import __version__
from .text import Text

#: The stored form's version; a result of another version is graded again (it is part of the job key).
SCHEMA_VERSION = 1


class JobStatus(StrEnum):
    """How a job (student x exercise) ended, from best to worst for the student; then the grader's own fault."""

    OK = "ok"                          # every check passed (or flagged/informed)
    PARTIAL = "partial"                # no check failed, but one earned only part of its points
    FAILED = "failed"                  # a check failed
    ERROR = "error"                    # the program stopped with an exception, or left an unusable artifact
    TIMEOUT = "timeout"                # stopped by the wall-clock limit
    RESOURCE_LIMIT = "resource_limit"  # stopped by the memory, process or disk limit
    MISSING = "missing"                # nothing was submitted for this exercise
    EMPTY = "empty"                    # a submission with no statement the grader could run
    GRADER_ERROR = "grader_error"      # the grader or its machine failed the job: no score, graded again next time


class CheckStatus(StrEnum):
    """The verdict of one check."""

    PASS = "pass"
    FAIL = "fail"
    PARTIAL = "partial"          # part of the points (the check sets the fraction)
    FLAG = "flag"                # full points, but the instructor should look
    INFO = "info"                # could not be judged from what the program left; full points, says why
    NOT_GRADED = "not_graded"    # measured but not graded (quick mode)
    NOT_REACHED = "not_reached"  # an earlier root cause, stated once by another check


#: How much of a check's points each status earns (``partial`` sets its own fraction).
EARNS: dict[CheckStatus, float] = {CheckStatus.PASS: 1.0, CheckStatus.FAIL: 0.0, CheckStatus.PARTIAL: 0.0,
                                   CheckStatus.FLAG: 1.0, CheckStatus.INFO: 1.0, CheckStatus.NOT_GRADED: 0.0,
                                   CheckStatus.NOT_REACHED: 0.0}

#: Statuses whose job ran the student's program to a verdict of the checks.
JUDGED = (JobStatus.OK, JobStatus.PARTIAL, JobStatus.FAILED)


# --- the stored form -----------------------------------------------------------------------------------------------
# TypedDicts, not classes: a result is the JSON object itself, written with ``json.dump`` and read back by
# reports of any later version, so the keys below are the stored keys, spelled as result files spell them.


class CheckResult(TypedDict):
    """One check's verdict (``evaluation/evaluator.py``: ``evaluate_job``)."""

    name: str
    status: CheckStatus
    points: float
    max_points: float
    message: str
    message_pt: str
    details: dict[str, Any]       # what the check measured (JSON values); ``line``: where in the program


class Submission(TypedDict):
    path: str
    sha256: str
    kind: str                     # "py" or "ipynb"


class Times(TypedDict, total=False):
    run_s: float                  # the student's process
    eval_s: float                 # the trusted evaluation, as the grader waited for it
    total_s: float                # the whole run
    all_runs_s: float             # every run of a job run more than once
    #: seconds of each stage (runner.STAGES, then the evaluation's as ``eval_<stage>``): benchmarks/run.py's
    #: breakdown; figures only, never read for a verdict
    stages: dict[str, float]


class RunRecord(TypedDict):
    """One run of a job run more than once (``runs``); the median one is graded."""

    seed: int
    test_error: float | None
    score: float | None
    status: JobStatus
    run_s: float


class Crash(TypedDict):
    """A run killed by a signal from compiled code (``hints.crash``): which, where, and in how many runs."""

    signal: str                   # "SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGABRT"
    frame: str | None             # the innermost Python frame, e.g. "triton/knobs.py:15 (<module>)"
    line: int | None              # the line of the student's program that led there
    cell: str | None              # a notebook's: the cell its kernel died in, "cell 2 (`import ctypes`)"
    runs: int                     # 1, or 2: the job was run once more, and crashed again


class Notice(TypedDict):
    """A Keras 2 idiom the student's program ran as Keras 2 did."""

    id: str
    line: int | None
    en: str
    pt: str


class Attempt(TypedDict):
    """An action of the student's process that the audit hook recorded (``evaluation/attempts.py``)."""

    kind: str
    target: str
    line: int | None
    cell: int | None
    code: str | None
    via: str | None
    flagged: bool
    reason: str | None
    message: str
    message_pt: str


class AttemptsSummary(TypedDict):
    flagged: int
    recorded: int
    capped: list[str]


class GradedModelInfo(TypedDict):
    reason: str | None
    test_inputs: str | None


class AppliedDecision(TypedDict):
    """An instructor's decision as the reports see it on a result (``decisions.apply``); never its note."""

    kind: str                     # points, confirm, dismiss or excuse
    check: str | None             # points on this check (None: on the exercise's score)
    flag: str | None              # the flag confirmed or dismissed
    grader_points: float | None   # what the grader gave what the points replace
    points: float | None
    reason: str                   # shown to the student
    who: str
    when: str


class JobResult(TypedDict, total=False):
    """What one job (student x exercise) left: ``results/<student>/<exercise>.json``.

    A job that never ran (missing, empty, a grader fault before the run) has the required keys and a few
    more; a job that ran has them all. Bilingual texts are pairs of keys (``error``/``error_pt``,
    ``rerun``/``rerun_pt``): ``text.Text.fields`` writes them and ``text.Text.read`` reads them.
    """

    schema_version: Required[int]
    grader_version: Required[str]
    student: Required[str]
    exercise: Required[str]
    status: Required[JobStatus]
    score: Required[float | None]   # None: not graded (grader_error), which is not a zero
    checks: Required[list[CheckResult]]
    max_score: float
    error: str | None
    error_pt: str | None
    # what the job depends on and how it ran
    key: str                        # results.job_key: the job is graded again when it changes
    quick: bool
    seed: int
    title: str
    title_pt: str
    submission: Submission
    started_at: str
    finished_at: str
    isolation: str                  # the sandbox level: "bwrap", "unshare", ... or "none" (--no-sandbox)
    device: str
    executor: str                   # "ray" when a Ray worker graded it
    returncode: int | None
    peak_memory_mb: float
    limit_hit: str | None           # which limit stopped the run, and what enforced it
    crash: Crash                    # the run died of a signal (twice: the job is an error for the instructor)
    crash_first_run: Crash          # the first run died of one, the one graded did not
    stdout_tail: str
    stderr_tail: str
    times: Times
    # what the evaluation found
    test_error: float | None
    quick_capped: bool              # quick mode capped the training (else the run counts as a full one)
    backend: str | None
    keras_version: str | None
    graded_model: GradedModelInfo
    exception: dict[str, Any] | None
    notices: list[Notice]
    keras2_penalty: float
    attempts: list[Attempt]
    attempts_summary: AttemptsSummary
    # a job run more than once: every run, and why (English, Portuguese)
    runs: list[RunRecord]
    rerun: str
    rerun_pt: str
    artifacts: list[str]            # the figures and executed notebook kept beside the result
    # the instructor's decisions, applied by the reports (``decisions.apply``), never stored in results/
    decisions: list[AppliedDecision]
    grader_score: float | None      # the grader's own score, when a decision replaced points
    excused: bool                   # the job counts in no total, as if not assigned


def new_result(student: str, exercise: str, *, status: JobStatus, score: float | None,
               checks: list[CheckResult], error: Text | None = None, **fields: Any) -> JobResult:
    """A result of this grader's version; ``error`` is spelled into ``error``/``error_pt`` (both null: none)."""
    result = JobResult(schema_version=SCHEMA_VERSION, grader_version=__version__, student=student,
                       exercise=exercise, status=status, score=score, checks=checks)
    result.update(fields)  # type: ignore[typeddict-item]
    spelled = error.fields("error") if error is not None else {"error": None, "error_pt": None}
    result.update(spelled)  # type: ignore[typeddict-item]
    return result


def status_from_checks(checks: list[CheckResult]) -> JobStatus:
    """failed: a check failed (a rule broken, or nothing earned on it); partial: none failed but some earned only
    part of their points; else ok."""
    if any(c["status"] == CheckStatus.FAIL for c in checks):
        return JobStatus.FAILED
    return JobStatus.PARTIAL if any(c["status"] == CheckStatus.PARTIAL for c in checks) else JobStatus.OK


# --- reading a stored result ---------------------------------------------------------------------------------------

def number(value: Any) -> float | None:
    """`value` as a finite float, or None (JSON may hold null, strings or NaN where a number is expected)."""
    if isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(float(value)):
        return float(value)
    return None


def job_result(raw: object) -> JobResult | None:
    """A JSON object read back as a well-formed ``JobResult``, or None when it is not a result of this schema.

    Every report reads results through here, once, so none of them re-checks a field. A result names its
    student and exercise and has this schema's version, or it is refused; then the fields a report relies on
    are repaired where odd (a file edited by hand, or cut short): an unknown status reads as ``error``, a
    score or maximum that is no number as 0 (a grader fault keeps no score), checks that are not objects with
    a name and a known status are dropped. A well-formed result comes back with the same keys and values.
    """
    if not isinstance(raw, dict) or raw.get("schema_version") != SCHEMA_VERSION:
        return None
    if not isinstance(raw.get("student"), str) or not isinstance(raw.get("exercise"), str):
        return None
    result: dict[str, Any] = dict(raw)
    result["status"] = _member(JobStatus, raw.get("status")) or JobStatus.ERROR
    score = _number(raw.get("score"))
    result["score"] = score if score is not None or result["status"] == JobStatus.GRADER_ERROR else 0.0
    result["max_score"] = _number(raw.get("max_score"), 0.0)
    if "test_error" in raw:
        result["test_error"] = _number(raw["test_error"])
    checks = raw.get("checks")
    result["checks"] = [c for c in map(_check, checks) if c is not None] if isinstance(checks, list) else []
    for key in ("notices", "attempts", "runs"):
        if key in raw:
            result[key] = [x for x in raw[key] if isinstance(x, dict)] if isinstance(raw[key], list) else []
    return result  # type: ignore[return-value]


def well_formed(records: Iterable[object]) -> list[JobResult]:
    """``job_result`` of each record, the ones refused left out; of two for one job the last wins."""
    kept: dict[tuple[str, str], JobResult] = {}
    for raw in records:
        if (r := job_result(raw)) is not None:
            kept[(r["student"], r["exercise"])] = r
    return list(kept.values())


def _check(raw: object) -> CheckResult | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        return None
    status = _member(CheckStatus, raw.get("status"))
    if status is None:
        return None
    check: dict[str, Any] = {**raw, "status": status}
    for key in ("points", "max_points"):
        check[key] = _number(raw.get(key), 0.0)
    if not isinstance(raw.get("message"), str):
        check["message"] = ""
    if not isinstance(raw.get("details"), dict):
        check["details"] = {}
    return check  # type: ignore[return-value]


def _number(value: Any, default: float | None = None) -> float | None:
    """``value`` itself when it is a finite number (an int stays an int, as the file has it), else ``default``."""
    return value if number(value) is not None else default


_E = TypeVar("_E", bound=StrEnum)


def _member(enum: type[_E], value: object) -> _E | None:
    try:
        return enum(value) if isinstance(value, str) else None
    except ValueError:
        return None
