"""Each exercise's checks: the generic ones and the exercise's own, found by the exercise's id.

An exercise's own checks live in the course's folder, ``<course>/assignments/<id>/checks.py`` (a course
adds an exercise, with checks of its own, without a new grader release), or, for the exercises that ship
with the grader, in ``grader/evaluation/exercises/<id>.py``. Either module declares
``CHECKS = CheckSet("<id>")`` and registers its checks with ``@CHECKS.check("<name>")``.

The evaluator is one long-lived process that grades every exercise, so no module registers into a
shared table: each exercise's set stays its own (two exercises may each have a check named "figure"),
and a course's module is loaded under a name of its own, keyed by its path, and loaded again when
the file changes.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from ...errors import GraderError
from ..checks import GENERIC, CheckSet

#: The course's modules loaded so far: resolved path -> (modification time in ns, its CheckSet).
_COURSE_CHECKS: dict[Path, tuple[int, CheckSet]] = {}
COURSE_MODULE = "checks.py"


def checks_for(exercise_id: str, course_root: Path) -> CheckSet:
    """The checks ``exercise_id`` may list: the generic ones and its own (``errors.CheckConflict`` on a shared name).

    Its own come from the course's ``assignments/<id>/checks.py`` when there is one, else from the
    grader's built-in module of that name; an exercise with neither gets the generic checks.
    """
    own = _course_checks(course_root / "assignments" / exercise_id / COURSE_MODULE)
    if own is None:
        own = _builtin_checks(exercise_id)
    return GENERIC if own is None else GENERIC.merged(own)


def _course_checks(path: Path) -> CheckSet | None:
    try:
        path = path.resolve(strict=True)
        mtime = path.stat().st_mtime_ns
    except (FileNotFoundError, NotADirectoryError):
        return None
    cached = _COURSE_CHECKS.get(path)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    # a name of its own per file: the course's modules never replace one another, nor a module of the grader's
    name = f"keras_grader_course_checks_{hashlib.sha256(str(path).encode()).hexdigest()[:16]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise GraderError(f"{path} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses, typing and pickle look a running module up by its name
    try:
        spec.loader.exec_module(module)
    except GraderError:  # a CheckConflict says what to rename
        sys.modules.pop(name, None)
        raise
    except Exception as e:
        sys.modules.pop(name, None)
        raise GraderError(f"the course's checks in {path} could not be loaded ({type(e).__name__}: {e}): fix the "
                          "file and grade again") from e
    checks = _declared(module, str(path))
    _COURSE_CHECKS[path] = (mtime, checks)
    return checks


def _builtin_checks(exercise_id: str) -> CheckSet | None:
    if not exercise_id.isidentifier():  # not a module name: no module of the grader's
        return None
    name = f"{__name__}.{exercise_id}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name:
            raise
        return None
    return _declared(module, name)


def _declared(module: ModuleType, where: str) -> CheckSet:
    checks = getattr(module, "CHECKS", None)
    if not isinstance(checks, CheckSet):
        raise GraderError(f"{where} declares no CHECKS = CheckSet(\"<exercise id>\") (found {type(checks).__name__}):"
                          " declare one and register the exercise's checks with @CHECKS.check(\"<name>\")")
    return checks
