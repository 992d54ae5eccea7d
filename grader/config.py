"""Where things live: the course folder (assignments/, solutions/) and the data cache."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


class GraderError(Exception):
    """An error the user can act on: the message says what went wrong and what to do."""


def course_root() -> Path:
    """The folder holding ``assignments/`` (and, for the instructor, ``solutions/``).

    ``KERAS_GRADER_COURSE`` wins; else the checkout the package was installed from
    (editable install); else the current directory.
    """
    env = os.environ.get("KERAS_GRADER_COURSE")
    candidates = [Path(env)] if env else [PACKAGE_DIR.parent, Path.cwd()]
    for root in candidates:
        if (root / "assignments").is_dir():
            return root.resolve()
    raise GraderError(
        "cannot find the course's assignments/ folder "
        f"(looked in {', '.join(str(c) for c in candidates)}): run grade from the "
        "keras-grader checkout or set KERAS_GRADER_COURSE to the folder that holds assignments/"
    )


def cache_dir() -> Path:
    """The data cache: ``KERAS_GRADER_CACHE`` or ``~/.cache/keras-grader``."""
    env = os.environ.get("KERAS_GRADER_CACHE")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "keras-grader"
    return base.expanduser()
