"""The course's environment: the modules student programs may import (docs/compatibility.md).

The grader's own dependencies (pyproject.toml) install the libraries the handout teaches and
students reach for; ``course.toml`` can add more (``[environment] packages``). Every command that
runs student programs first checks that they are installed, since a missing one would fail
students' programs for a fault of the machine. Checking asks the import system where each module
is (``importlib.util.find_spec``): importing OpenCV or scikit-learn here would cost seconds.
"""

from __future__ import annotations

import importlib.util
import re

from .config import course
from .errors import GraderError

#: import name -> the pip requirement that installs it (pyproject.toml says why each is there).
COURSE_MODULES = {
    "tensorflow": "tensorflow", "keras": "keras", "numpy": "numpy", "pandas": "pandas", "matplotlib": "matplotlib",
    "cv2": "opencv-python-headless", "sklearn": "scikit-learn", "scipy": "scipy", "PIL": "pillow",
    "h5py": "h5py", "seaborn": "seaborn", "tqdm": "tqdm",
}


def parse_package(entry: str) -> tuple[str, str]:
    """A course.toml entry, ``"requirement"`` or ``"requirement:module"``, as (module, requirement).

    Without ``:module`` the module is the project's name with dashes as underscores (``statsmodels``);
    write it where it differs (``"scikit-image:skimage"``).
    """
    requirement, _, module = (part.strip() for part in entry.partition(":"))
    if not module:
        module = re.split(r"[\s<>=!~\[;]", requirement, maxsplit=1)[0].replace("-", "_")
    if not requirement or not re.fullmatch(r"[A-Za-z_][\w.]*", module):
        raise GraderError(f"course.toml: [environment] packages entry {entry!r} is not 'requirement' or "
                          "'requirement:module' (e.g. 'scikit-image:skimage'); fix it")
    return module, requirement


def course_modules() -> dict[str, str]:
    """Every module the course allows: the grader's, then course.toml's ``[environment] packages``."""
    extra = course().environment.packages  # a list of strings: course.toml's model says so
    return {**COURSE_MODULES, **dict(parse_package(e) for e in extra)}


def missing(modules: dict[str, str] | None = None) -> dict[str, str]:
    """The modules (name -> requirement) that this Python cannot import."""
    modules = course_modules() if modules is None else modules
    return {name: req for name, req in modules.items() if importlib.util.find_spec(name) is None}


def check() -> None:
    """Stop, saying how to install them, when modules of the course are missing (students would be failed)."""
    absent = missing()
    if absent:
        names = ", ".join(absent)
        install = "pip install " + " ".join(f"'{req}'" for req in absent.values())
        raise GraderError(
            f"the course's environment lacks {names}: student programs that import them would fail for a fault of "
            f"this machine. Install them ({install}) and run again. / Faltam no ambiente da disciplina: {names}; "
            f"programas de alunos que os importam falhariam por culpa desta máquina. Instale-os ({install}) e rode "
            "de novo.")


def allowed_text() -> str:
    """The modules the course allows, for a student's message: "tensorflow, keras, ..., cv2 (opencv-python-headless)"."""
    try:
        modules = course_modules()
    except GraderError:  # no course folder here (an evaluator elsewhere): the grader's own list
        modules = COURSE_MODULES
    return ", ".join(name if name == req else f"{name} ({req})" for name, req in modules.items())
