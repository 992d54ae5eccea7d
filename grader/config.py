"""Where things live: the course folder (assignments/, solutions/) and the data cache."""

from __future__ import annotations

import functools
import os
import tomllib
from pathlib import Path
from typing import Any

from .errors import GraderError

PACKAGE_DIR = Path(__file__).resolve().parent


LANGS = ("pt", "en")
BACKENDS = ("tensorflow", "jax", "torch")


def course_root() -> Path:
    """The folder holding ``assignments/`` (and, for the instructor, ``solutions/``).

    ``KERAS_GRADER_COURSE`` wins; else the nearest folder holding ``course.toml`` from the
    current directory up (a student repository made by ``grade release``, or the instructor's
    checkout); else the checkout the package was installed from (editable install); else the
    current directory.
    """
    env = os.environ.get("KERAS_GRADER_COURSE")
    if env:
        candidates = [Path(env)]
    else:
        here = Path.cwd()
        marked = [d for d in (here, *here.parents) if (d / "course.toml").is_file()][:1]
        candidates = [*marked, PACKAGE_DIR.parent, here]
    for root in candidates:
        if (root / "assignments").is_dir():
            return root.resolve()
    raise GraderError(
        "cannot find the course's assignments/ folder "
        f"(looked in {', '.join(str(c) for c in candidates)}): run grade from the course's folder "
        "(the keras-grader checkout, or a repository made by `grade release`) or set KERAS_GRADER_COURSE "
        "to the folder that holds assignments/"
    )


@functools.cache
def _course_config(root: Path) -> dict[str, Any]:
    path = root / "course.toml"
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise GraderError(f"{path} is invalid ({e}); fix the file and run again") from e


def course_setting(section: str, key: str, default: Any, choices: tuple[str, ...] | None = None) -> Any:
    """One setting of the course's ``course.toml`` (``[section] key``), else ``default``."""
    value = _course_config(course_root()).get(section, {}).get(key, default)
    if choices and value not in choices:
        raise GraderError(f"course.toml: [{section}] {key} = {value!r} is not one of {', '.join(choices)}; fix it")
    return value


def keras2_settings() -> tuple[bool, float]:
    """course.toml's ``[grader] keras2_compat`` (run Keras 2 idioms as Keras 2 did; default true) and
    ``keras2_penalty`` (points taken from an exercise whose program needed that; default 0)."""
    compat = course_setting("grader", "keras2_compat", True)
    penalty = course_setting("grader", "keras2_penalty", 0.0)
    if not isinstance(compat, bool):
        raise GraderError(f"course.toml: [grader] keras2_compat = {compat!r} is not true or false; fix it")
    if isinstance(penalty, bool) or not isinstance(penalty, (int, float)) or penalty < 0:
        raise GraderError(f"course.toml: [grader] keras2_penalty = {penalty!r} is not a number of points >= 0; fix it")
    return compat, float(penalty)


def default_backend() -> str:
    """The Keras backend when no option names one: ``$KERAS_BACKEND``, else course.toml's, else tensorflow."""
    return os.environ.get("KERAS_BACKEND") or course_setting("grader", "backend", "tensorflow", BACKENDS)


#: The course's seed when course.toml names none (any fixed number would do: it only has to stay the same).
DEFAULT_SEED = 20261128
#: Runs of a job whose test error sits in the noise band of a threshold boundary (the median one is graded).
DEFAULT_BORDERLINE_RUNS = 3


def course_seed() -> int:
    """``[grader] seed`` of course.toml: every job's seed derives from it (``--seed`` overrides)."""
    return _whole_number("seed", DEFAULT_SEED, 0)


def borderline_runs() -> int:
    """``[grader] borderline_runs`` of course.toml: runs in all of a job measured near a threshold boundary."""
    return _whole_number("borderline_runs", DEFAULT_BORDERLINE_RUNS, 1)


def _whole_number(key: str, default: int, minimum: int) -> int:
    value = course_setting("grader", key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise GraderError(f"course.toml: [grader] {key} = {value!r} is not a whole number >= {minimum}; fix it")
    return value


def cache_dir() -> Path:
    """The data cache: ``KERAS_GRADER_CACHE`` or ``~/.cache/keras-grader``."""
    env = os.environ.get("KERAS_GRADER_CACHE")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "keras-grader"
    return base.expanduser()
