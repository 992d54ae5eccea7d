"""Every exception the grader raises across a module boundary, in one place.

Who is to blame decides what a user reads (docs/results.md): a ``GraderError`` is the user's to act on (a
bad flag, a missing package) and its message says what to do; ``Untrusted`` is an artifact of the
student's process that cannot be used (the student's fault, stated in a check); ``EvaluationFailed``
says whether the grader or the machine is to blame (``grader_fault``); the others are refusals and
infrastructure failures that the caller turns into one of those.
"""

from __future__ import annotations

from collections.abc import Iterable

from .text import Text


class GraderError(Exception):
    """An error the user can act on: the message says what went wrong and what to do."""


class SandboxUnavailable(GraderError):
    """No isolation level works on this machine and --no-sandbox was not given."""


class ConfigError(GraderError):
    """A course's configuration (course.toml, an exercise.toml, a check's parameters) that cannot be used: every
    problem found, each a ``Text`` naming the file and the key, so that one run lists them all."""

    def __init__(self, problems: Iterable[Text]):
        self.problems = list(problems)
        super().__init__("\n".join(f"{p.en}\n  {p.pt}" for p in self.problems))


class CheckConflict(GraderError):
    """Two checks of one exercise share a name (its own module, or its own and a generic one)."""


class Untrusted(Exception):
    """An artifact from the student's process that cannot be used."""


class EvaluationFailed(Exception):
    """An evaluation that gave no result: ``grader_fault`` says whether the grader (or the machine) is to blame."""

    def __init__(self, text: Text, *, grader_fault: bool):
        super().__init__(text.en)
        self.text = text
        self.grader_fault = grader_fault


class KernelUnavailable(Exception):
    """The kernel could not start, or died in the grader's setup cell: no student code ran yet."""
