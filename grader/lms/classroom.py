"""GitHub Classroom: the folder `gh classroom clone student-repos` makes.

Format followed (github/gh-classroom, `cmd/gh-classroom/clone/student-repos`): the repositories
of an assignment are cloned into `<assignment slug>-submissions/`, one folder per accepted
assignment named after its repository, `<assignment slug>-<GitHub login>` (a team's slug for
group assignments). The login is the student's key; `.git` is skipped, links are refused.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import GraderError
from . import archive, layout

SUFFIX = "-submissions"


def import_clone(folder: Path, into: Path, exercise: str | None, known: list[str]) -> list[dict[str, str]]:
    """Lay out a clone folder (or the folder holding it) as a class folder; returns the report's rows."""
    if not folder.is_dir():
        raise GraderError(f"{folder} is not a folder: give the one `gh classroom clone student-repos` made "
                          f"(<assignment>{SUFFIX}) / {folder} não é uma pasta: dê a que `gh classroom clone "
                          f"student-repos` criou (<tarefa>{SUFFIX})")
    inner = sorted(p for p in folder.glob(f"*{SUFFIX}") if p.is_dir() and not p.is_symlink())
    if not folder.name.endswith(SUFFIX) and len(inner) == 1:
        folder = inner[0]
    repos = sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith("."))
    if not repos:
        raise GraderError(f"{folder} holds no student repository / {folder} não contém repositórios de alunos")
    slug = folder.name[: -len(SUFFIX)] if folder.name.endswith(SUFFIX) else common_prefix([p.name for p in repos])
    imp = layout.Import("classroom", folder.name, into, exercise, known)
    for link in sorted(p for p in folder.iterdir() if p.is_symlink()):
        imp.refuse(None, archive.link_refused(link.name))  # a linked "repository" could be any folder
    for repo in repos:
        login = repo.name[len(slug) + 1:] if slug and repo.name.startswith(slug + "-") else repo.name
        student = imp.student(layout.Student(login, login, folder=repo.name))
        for item in archive.walk_folder(repo, imp.budget):
            item.path = f"{repo.name}/{item.path}"
            imp.add(student, item)
    return imp.finish()


def common_prefix(names: list[str]) -> str:
    """The assignment slug shared by the repositories' names, up to a hyphen ('' when one repository)."""
    if len(names) < 2:
        return ""
    first, last = min(names), max(names)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n].rsplit("-", 1)[0] if "-" in first[:n] else ""
