"""Gradescope: a programming assignment's "Export Submissions" ZIP.

Format followed (Gradescope's export, as read by otter-grader's `GradescopeParser` and others):
the ZIP holds a folder (e.g. `assignment_<id>_export/`) with `submission_metadata.yml` and one
folder per active submission, `submission_<id>/`, holding the files as the student uploaded them.
The metadata maps each folder to `:submitters:` (a list of `:name:`, `:email:`, `:sid:`; several
for a group submission, whose files go to every member) and `:created_at:`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import GraderError
from . import archive, layout

METADATA = "submission_metadata.yml"


def import_export(zip_path: Path, into: Path, exercise: str | None, known: list[str]) -> list[dict[str, str]]:
    """Lay out a Gradescope export as a class folder; returns the import report's rows."""
    import yaml

    if not zip_path.is_file():
        raise GraderError(f"{zip_path} does not exist / {zip_path} não existe")
    imp = layout.Import("gradescope", zip_path.name, into, exercise, known)
    items = list(archive.read_zip(zip_path, imp.budget))
    meta = [i for i in items if isinstance(i, archive.Entry) and i.path.rsplit("/", 1)[-1] == METADATA]
    if len(meta) != 1:
        raise GraderError(f"{zip_path} has {len(meta)} {METADATA} files, not one: give the ZIP of Gradescope's "
                          f"\"Export Submissions\" / {zip_path} tem {len(meta)} arquivos {METADATA}, não um: dê o "
                          "ZIP de \"Export Submissions\" do Gradescope")
    root = meta[0].path[: -len(METADATA)]
    try:
        metadata = yaml.safe_load(meta[0].data.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise GraderError(f"{meta[0].path} is not valid YAML ({e}) / {meta[0].path} não é YAML válido") from e
    if not isinstance(metadata, dict):
        raise GraderError(f"{meta[0].path} does not map submissions to submitters / {meta[0].path} não associa "
                          "envios a alunos")
    members: dict[str, list[layout.Student]] = {}
    people: dict[tuple[str, str], layout.Student] = {}
    for folder, info in metadata.items():
        for who in (info or {}).get(":submitters", []) if isinstance(info, dict) else []:
            name, email, sid = (str(who.get(k) or "").strip() for k in (":name", ":email", ":sid"))
            ident = (sid or email or name, name)
            if ident not in people:
                people[ident] = imp.student(layout.Student(name, sid or email or str(folder), email=email,
                                                           folder=str(folder)))
            members.setdefault(str(folder), []).append(people[ident])
        when = created(info)
        for s in members.get(str(folder), []):
            s.submitted_at = max(s.submitted_at or when, when) if when else s.submitted_at
    for item in items:
        if item is meta[0]:
            continue
        inside = item.path[len(root):] if item.path.startswith(root) else item.path
        folder, _, _ = inside.partition("/")
        for student in members.get(folder, [None]):
            imp.add(student, item)
    return imp.finish()


def created(info: Any) -> float | None:
    """A submission's `:created_at:` as a time stamp (YAML may give a datetime or a string)."""
    value = info.get(":created_at") if isinstance(info, dict) else None
    if isinstance(value, datetime):
        return value.timestamp()
    try:
        return datetime.fromisoformat(str(value)).timestamp() if value else None
    except ValueError:
        return None
