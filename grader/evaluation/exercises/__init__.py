"""Each exercise's checks: the generic ones and the exercise's own, found by the exercise's id.

An exercise's own checks live in the course's folder, ``<course>/assignments/<id>/checks.py`` (a course
adds an exercise, with checks of its own, without a new grader release), or, for the exercises that ship
with the grader, in ``grader/evaluation/exercises/<id>.py``. Either module declares
``CHECKS = CheckSet("<id>")`` and registers its checks with ``@CHECKS.check("<name>")``.

The evaluator is one long-lived process that grades every exercise, so no module registers into a
shared table: each exercise's set stays its own (two exercises may each have a check named "figure"),
and a course's module is loaded under a name of its own, keyed by its path, and loaded again when
the file changes.

``configure`` validates an exercise's ``[checks.<name>]`` tables against what each check declares (the
parameters it reads, ``CheckSet.check(name, params=...)``), and ``problems`` does so for a whole course
folder, listing every problem of every file (`grade exercises --check`).
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from ... import config
from ... import exercise as exercise_mod
from ...errors import ConfigError, GraderError
from ...exercise import CheckEntry, Exercise
from ...text import Text
from ..checks import GENERIC, CheckFn, CheckParams, CheckSet, ThresholdParams

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


@dataclass(frozen=True)
class Configured:
    """One ``[checks.<name>]`` entry of an exercise, ready to run: its function and its typed parameters."""

    name: str
    entry: CheckEntry
    fn: CheckFn
    params: CheckParams


def configure(ex: Exercise, course_root: Path) -> dict[str, Configured]:
    """Each check ``ex`` lists, in its order, with the parameters its declaration reads from exercise.toml;
    ``ConfigError`` naming every entry whose check is unknown or whose keys the check does not declare."""
    configured, problems = _configure(ex, course_root)
    if problems:
        raise ConfigError(problems)
    return configured


def _configure(ex: Exercise, course_root: Path) -> tuple[dict[str, Configured], list[Text]]:
    return _configure_entries(ex.id, ex.checks, course_root)


def _configure_entries(exercise_id: str, entries: dict[str, CheckEntry],
                       course_root: Path) -> tuple[dict[str, Configured], list[Text]]:
    available = checks_for(exercise_id, course_root)
    path = course_root / "assignments" / exercise_id / exercise_mod.EXERCISE_FILE
    spec = config.requirement(course_root)
    configured, problems = {}, []
    for name, entry in entries.items():
        check = entry.check or name
        fn = available.get(check)
        if fn is None:
            problems.append(_unknown_check(path, name, entry, list(available), spec))
            continue
        params, found = config.validate(available.params(check), entry.params, path, spec, ("checks", name),
                                        also=CheckEntry.model_fields)  # a misspelled `points` is among them
        problems += found
        if params is not None:
            configured[name] = Configured(name, entry, fn, params)
    return configured, problems


def _unknown_check(path: Path, name: str, entry: CheckEntry, known: list[str], spec: str | None) -> Text:
    check = entry.check or name
    key = f"[checks.{name}] check = \"{check}\"" if entry.check else f"[checks.{name}]"
    if config.needs_newer(spec):
        return Text(f"{path}: {key}: the check {check} is not one this keras-grader knows, and this course needs "
                    f"keras-grader {spec}: upgrade the grader and run again",
                    f"{path}: {key}: a verificação {check} não é uma que este keras-grader conhece, e esta disciplina "
                    f"precisa do keras-grader {spec}: atualize o corretor e rode de novo")
    close = difflib.get_close_matches(check, known, n=1)
    return Text(f"{path}: {key}: the grader has no check named {check}" + (f"; did you mean {close[0]}?" if close
                                                                             else ".")
                + f" The checks this exercise may list: {', '.join(known)} (name another with check = \"<name>\")",
                f"{path}: {key}: o corretor não tem uma verificação chamada {check}"
                + (f"; você quis dizer {close[0]}?" if close else ".")
                + f" As verificações que este exercício pode listar: {', '.join(known)} (use outra com "
                "check = \"<nome>\")")


def thresholds(ex: Exercise, course_root: Path) -> dict[str, tuple[float, float]]:
    """Each threshold check of ``ex``: entry name -> (full_credit_max, zero_credit_min)."""
    return {c.name: (c.params.full_credit_max, c.params.zero_credit_min)
            for c in configure(ex, course_root).values() if isinstance(c.params, ThresholdParams)}


def problems(course_root: Path) -> list[Text]:
    """Every problem of the course folder at ``course_root``: course.toml, then each exercise.toml and the
    parameters of each of its checks (a course's checks.py that cannot be loaded is one problem too)."""
    found = list(config.course_problems(course_root)[1])
    for exercise_id in exercise_mod.exercise_ids(course_root):
        ex, wrong = exercise_mod.load_problems(exercise_id, course_root)
        found += wrong
        try:
            found += _configure_entries(exercise_id, ex.checks if ex is not None else
                                        _readable_entries(exercise_id, course_root), course_root)[1]
        except GraderError as e:  # its checks.py could not be loaded, or two checks share a name
            found.append(Text(str(e), str(e)))
    return found


def _readable_entries(exercise_id: str, course_root: Path) -> dict[str, CheckEntry]:
    """The ``[checks.<name>]`` tables of an exercise.toml that failed elsewhere, those that read as entries, so that
    their parameters are validated (and listed) too; the others' problems are listed already."""
    try:
        tables = config.read_toml(course_root / "assignments" / exercise_id / exercise_mod.EXERCISE_FILE)["checks"]
        entries = {}
        for name, table in tables.items():
            if (entry := config.validate(CheckEntry, table, Path(), None)[0]) is not None:
                entries[name] = entry
        return entries
    except (ConfigError, KeyError, AttributeError):
        return {}
