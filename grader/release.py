"""What students get: the repository they start from, and its GitHub Actions feedback workflow.

``grade release OUTDIR`` builds that repository from the course folder: statements and grading
configs (``assignments/<id>/``), each starter as ``<id>.py`` at the top (the file the student
edits and CI grades), ``course.toml``, the workflow and a README. Nothing from ``solutions/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from . import __version__, exercise
from .config import EXAMPLE_SPEC, course, course_root
from .errors import GraderError
from .text import Text

#: Files of assignments/<id>/ that students receive (the starter is placed at the top instead).
STATEMENT_FILES = ("README.md", "exercise.toml")

WORKFLOW = """\
# Feedback on every push: grades the exercises of this repository with keras-grader in quick mode
# (training capped at a few epochs; the test-error targets are graded by the instructor's full run).
# Made by `grade ci-template` (keras-grader {version}).
name: feedback
on:
  push:
  pull_request:
  workflow_dispatch:
permissions:
  contents: read
jobs:
  feedback:
    runs-on: ubuntu-latest
    timeout-minutes: 40
    env:
      GRADER_SPEC: "{spec}"
      GRADE_LANG: "{lang}"
      PIP_DISABLE_PIP_VERSION_CHECK: "1"
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "{python}"
      - name: Cache pip and the data sets
        uses: actions/cache@v4
        with:
          path: |
            ~/.cache/pip
            ~/.cache/keras-grader
          key: keras-grader-${{{{ runner.os }}}}-py{python}-{version}
      - name: Sandbox (bubblewrap; Ubuntu 24.04 must allow it user namespaces)
        run: |
          sudo apt-get install -y -qq bubblewrap
          sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0
      - name: Install the grader
        run: python -m pip install -q "$GRADER_SPEC"{extra}
      - name: Data sets
        run: grade data fetch
      - name: Grade
        run: grade run . --quick --format github --lang "$GRADE_LANG"
"""

README = """\
# {name}

Your exercises: one file per exercise at the top of this repository. Edit it, commit, push.
Statements: `assignments/<exercise>/README.md`.

| file | exercise |
|---|---|
{table}

## Feedback

Every push runs `.github/workflows/feedback.yml`: it grades the files above in quick mode and
shows, in the run's summary, each check with what was measured and what to do; a failed check
fails the run and is marked on the line it concerns. A notebook works too: name it
`<exercise>.ipynb` (a `.py` of the same name wins).

The same feedback on your own computer (Python 3.11 or newer):

```
python -m pip install "{spec}"{extra}
grade data fetch
grade run mnist_dense mnist_dense.py --quick      # one exercise
grade run . --quick                               # every exercise here
```

Quick mode caps training at a few epochs, so the test-error targets are not graded there; the
grade comes from the instructor's full run of the same checks.
"""


def course_extras() -> list[str]:
    """The requirements course.toml adds to the grader's own ([environment] packages): CI installs them too."""
    from .environment import COURSE_MODULES, course_modules

    return [req for module, req in course_modules().items() if module not in COURSE_MODULES]


def grader_spec(spec: str | None = None) -> str:
    """What the students' CI pip-installs: ``spec`` (``--grader-spec``), else course.toml's ``[ci] grader_spec``."""
    return spec or course().ci.grader_spec


def spec_warning(spec: str) -> Text | None:
    """Why a workflow that installs ``spec`` would fail on every student's push, while it is still the example."""
    if spec != EXAMPLE_SPEC:
        return None
    return Text(
        f"the students' CI would install the grader from {spec}, the example location course.toml ships with, where "
        "no course has published it: every student's workflow would fail to install it. Publish the grader (a wheel "
        "from `pip wheel --no-deps .` holds no solutions, or a repository of your own) and set [ci] grader_spec in "
        "course.toml to it, or give --grader-spec",
        f"o CI dos alunos instalaria o corretor de {spec}, o local de exemplo que vem no course.toml, onde nenhuma "
        "disciplina o publicou: o workflow de cada aluno falharia ao instalá-lo. Publique o corretor (uma wheel de "
        "`pip wheel --no-deps .` não contém soluções, ou um repositório seu) e ponha esse local em [ci] grader_spec "
        "do course.toml, ou passe --grader-spec")


def workflow(spec: str | None = None, lang: str | None = None, python: str | None = None) -> str:
    """The GitHub Actions workflow of a student repository."""
    return WORKFLOW.format(version=__version__, spec=grader_spec(spec),
                           extra="".join(f' "{req}"' for req in course_extras()),
                           lang=lang or course().course.lang or "pt",
                           python=python or course().ci.python)


def build(outdir: Path, spec: str | None = None, lang: str | None = None) -> list[Path]:
    """Write the student repository into ``outdir`` (which must not exist or be empty); returns its files."""
    root = course_root()
    if outdir.exists() and any(outdir.iterdir()):
        raise GraderError(f"{outdir} is not empty: give a new folder for the student repository")
    if outdir.resolve().is_relative_to(root / "solutions"):
        raise GraderError(f"{outdir} is inside solutions/: give a folder outside the course's solutions")
    outdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for ex_id in exercise.exercise_ids(root):
        ex = exercise.load(ex_id, root)
        src = root / "assignments" / ex_id
        (outdir / "assignments" / ex_id).mkdir(parents=True)
        for name in STATEMENT_FILES:
            if (src / name).is_file():
                shutil.copyfile(src / name, outdir / "assignments" / ex_id / name)
        if (src / "starter.py").is_file():
            shutil.copyfile(src / "starter.py", outdir / f"{ex_id}.py")
        rows.append(f"| `{ex_id}.py` | [{ex.title_text.pt}](assignments/{ex_id}/README.md) |")
    if (root / "course.toml").is_file():
        shutil.copyfile(root / "course.toml", outdir / "course.toml")
    resolved_spec = grader_spec(spec)
    (outdir / ".github" / "workflows").mkdir(parents=True)
    (outdir / ".github" / "workflows" / "feedback.yml").write_text(workflow(resolved_spec, lang))
    (outdir / "README.md").write_text(README.format(name=course().course.name,
                                                    table="\n".join(rows), spec=resolved_spec,
                                                    extra="".join(f' "{req}"' for req in course_extras())))
    (outdir / ".gitignore").write_text("__pycache__/\n.ipynb_checkpoints/\ngrading/\n*.keras\n*.h5\n")
    return sorted(p for p in outdir.rglob("*") if p.is_file())
