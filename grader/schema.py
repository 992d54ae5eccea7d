"""The result model: what a job's result holds, each status once, and the version of its stored form.

A result is stored as JSON (``results/<student>/<exercise>.json``) and read back by every report,
by both executors and by the next run (its cache key), so its shape is written down here once.
The statuses are ``StrEnum`` members: they compare equal to, and serialise as, the plain strings
that result files of earlier versions already hold.
"""

from __future__ import annotations

from enum import StrEnum

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
