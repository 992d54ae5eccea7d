"""The class folder an import writes: `DIR/<student>/<exercise>.<ext>`, the roster and the import report.

Each platform module turns its archive into students and their uploaded files; this module decides
where every file goes, by the same rules for every platform:
- the student key is an ASCII slug of the full name (accents kept in `roster.csv`), with the
  participant id appended when two students of the import share a name or the name's key already
  belongs to someone else in the folder; a student imported again (another assignment of the same
  course) keeps the key, so all their exercises land in one folder;
- the exercise comes from `--exercise`, else from the file's name and contents (`detect`);
- of several versions of one exercise the newest is graded (zip time stamp, then a copy number
  such as "(2)" in the name); the older ones are kept under `DIR/_unplaced/`;
- a zip uploaded inside a submission is expanded with the same checks (`archive`);
- nothing is dropped silently: every file, empty folder and refused member is a row of
  `DIR/import-report.csv`, and every program that could not be placed (exercise unknown, older
  version) is kept in `DIR/_unplaced/<import>/<student>/` for the instructor to move (folders starting
  with `_` are not students to `grade all`); other files (a PDF, a README) are only listed.
"""

from __future__ import annotations

import csv
import re
import shutil
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..errors import GraderError
from ..text import Text
from . import archive, detect

ROSTER = "roster.csv"
REPORT = "import-report.csv"
UNPLACED = "_unplaced"
ROSTER_COLUMNS = ["key", "full_name", "participant_id", "email", "platform", "source", "exercise", "folder",
                  "submitted_at"]
REPORT_COLUMNS = ["source", "student", "file", "outcome", "destination", "reason", "reason_pt"]
PROGRAM_SUFFIXES = (".py", ".ipynb")
#: Outcomes of a report row (the key is what the report stores), as the terminal names them; the ones after
#: "placed" need the instructor.
OUTCOMES = {"placed": Text("placed", "colocado"), "older": Text("older", "versão antiga"),
            "unplaced": Text("unplaced", "não colocado"), "ignored": Text("ignored", "ignorado"),
            "refused": Text("refused", "recusado"), "empty": Text("empty", "vazio")}
#: How a placed file's exercise was told (``detect.detect``'s second value, or --exercise).
HOW_TOLD = {"name": Text("exercise told by its name", "exercício identificado pelo nome"),
            "contents": Text("exercise told by its contents", "exercício identificado pelo conteúdo"),
            "--exercise": Text("exercise given by --exercise", "exercício dado por --exercise")}


@dataclass
class Student:
    full_name: str
    participant_id: str
    email: str = ""
    folder: str = ""  # the platform's own folder for the student (Moodle: as in its download), reused on export
    key: str = ""
    submitted_at: float | None = None


@dataclass
class Import:
    """One import: the students and files a platform module found, laid out by `finish`."""

    platform: str
    source: str  # the archive's or folder's name, recorded in the roster and the report
    into: Path
    exercise: str | None
    known: list[str]
    budget: archive.Budget = field(default_factory=archive.Budget)
    students: list[Student] = field(default_factory=list)
    uploads: list[tuple[Student | None, archive.Entry]] = field(default_factory=list)
    rows: list[dict[str, str]] = field(default_factory=list)

    def student(self, student: Student) -> Student:
        self.students.append(student)
        return student

    def row(self, student: Student | None, file: str, outcome: str, destination: str = "",
            reason: Text | None = None) -> None:
        self.rows.append({"source": self.source, "student": student.key if student else "", "file": file,
                          "outcome": outcome, "destination": destination,
                          **(reason or Text.same("")).fields("reason"), "_student": student})

    def refuse(self, student: Student | None, refused: archive.Refused) -> None:
        self.row(student, refused.path, "refused", "", refused.reason)

    def add(self, student: Student | None, item: archive.Entry | archive.Refused, depth: int = 0) -> None:
        """A file of the student's submission (a zip is expanded, checked like the archive it came in)."""
        if isinstance(item, archive.Refused):
            self.refuse(student, item)
            return
        if item.is_dir:
            return
        if student is not None and item.mtime is not None:
            student.submitted_at = max(student.submitted_at or item.mtime, item.mtime)
        if item.path.lower().endswith(".zip"):
            if depth >= archive.MAX_DEPTH:
                self.uploads.append((student, item))  # kept unexpanded under _unplaced, and reported
                return
            for inner in archive.read_zip(item.data, self.budget, prefix=item.path + "/"):
                self.add(student, inner, depth + 1)
            return
        self.uploads.append((student, item))

    def finish(self) -> list[dict[str, str]]:
        """Write the class folder, the roster and the report; returns the report's rows of this import."""
        if self.into.exists() and not self.into.is_dir():
            raise GraderError(f"{self.into} is a file: give a folder for the class / {self.into} é um arquivo: dê "
                              "uma pasta para a turma")
        self.into.mkdir(parents=True, exist_ok=True)
        roster = read_csv(self.into / ROSTER)
        assign_keys(self.students, [r for r in roster if (r["platform"], r["source"]) != (self.platform, self.source)])
        for r in self.rows:  # rows written before the keys were known
            if r["_student"] is not None:
                r["student"] = r["_student"].key
        shutil.rmtree(self.unplaced, ignore_errors=True)  # this import's leftovers from an earlier run of it
        self._place()
        uploaded = {id(s) for s, _ in self.uploads} | {id(r["_student"]) for r in self.rows}
        for s in self.students:
            if id(s) not in uploaded:
                self.row(s, s.folder, "empty", "",
                         Text("nothing submitted (no file)", "nada entregue (nenhum arquivo)"))
        merge_csv(self.into / ROSTER, ROSTER_COLUMNS, roster, self.platform, self.source,
                  [roster_row(s, self) for s in self.students])
        rows = [{k: v for k, v in r.items() if k != "_student"} for r in self.rows]
        merge_csv(self.into / REPORT, REPORT_COLUMNS, read_csv(self.into / REPORT), None, self.source, rows)
        return rows

    def _place(self) -> None:
        versions: dict[tuple[str, str], list[tuple[Student, archive.Entry, str]]] = defaultdict(list)
        for student, entry in self.uploads:
            name = entry.path.rsplit("/", 1)[-1]
            suffix = Path(name).suffix.lower()
            if student is None:
                self._keep(None, entry, "unplaced",
                           Text("not in any student's folder", "fora da pasta de qualquer aluno"))
            elif suffix == ".zip":
                self._keep(student, entry, "unplaced", Text("a zip nested too deep: not expanded",
                                                            "zip aninhado demais: não foi expandido"))
            elif name.startswith("._") or "__MACOSX/" in entry.path:  # a Mac's zip adds these beside each file
                self.row(student, entry.path, "ignored", "", Text("macOS metadata, not a program",
                                                                  "metadados do macOS, não é um programa"))
            elif suffix not in PROGRAM_SUFFIXES:  # reported, not copied: the archive or clone still holds it
                self.row(student, entry.path, "ignored", "", Text("not a .py or .ipynb program",
                                                                  "não é um programa .py ou .ipynb"))
            else:
                ex, how = ((self.exercise, "--exercise") if self.exercise
                           else detect.detect(name, entry.data, self.known))
                if ex is None:
                    self._keep(student, entry, "unplaced",
                               Text(f"cannot tell which exercise it is: rename it <exercise>{suffix} "
                                    f"({', '.join(self.known)}) and move it to {self.into / student.key}",
                                    f"não foi possível saber qual exercício é: renomeie para <exercício>{suffix} "
                                    f"e mova para {self.into / student.key}"))
                else:
                    versions[(student.key, ex)].append((student, entry, how))
        for (key, ex), found in sorted(versions.items()):
            found.sort(key=lambda f: newest_first(f[1]), reverse=True)
            student, entry, how = found[0]
            suffix = Path(entry.path).suffix.lower()
            dest = self.into / key / f"{ex}{suffix}"
            dest.parent.mkdir(parents=True, exist_ok=True)
            for other in PROGRAM_SUFFIXES:  # an earlier import's notebook must not shadow this script
                (self.into / key / f"{ex}{other}").unlink(missing_ok=True)
            dest.write_bytes(entry.data)
            self.row(student, entry.path, "placed", rel(dest, self.into), HOW_TOLD[how])
            for _, older, _ in found[1:]:
                self._keep(student, older, "older",
                           Text(f"an older version of {ex}: the newest, {entry.path}, is graded",
                                f"versão mais antiga de {ex}: a mais nova, {entry.path}, é a avaliada"))

    @property
    def unplaced(self) -> Path:
        return self.into / UNPLACED / (slug(f"{self.platform} {self.source}") or self.platform)

    def _keep(self, student: Student | None, entry: archive.Entry, outcome: str, reason: Text) -> None:
        folder = self.unplaced / (student.key if student else "_unmatched")
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / safe_file_name(entry.path)
        n = 1
        while dest.exists():
            n += 1
            dest = dest.with_name(f"{Path(safe_file_name(entry.path)).stem}-{n}{dest.suffix}")
        dest.write_bytes(entry.data)
        self.row(student, entry.path, outcome, rel(dest, self.into), reason)


def rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def slug(text: str) -> str:
    """ASCII, lower case, digits and hyphens only: safe as a folder name on every system."""
    return re.sub(r"[^a-z0-9]+", "-", detect.fold(text)).strip("-")[:48].strip("-")


def safe_file_name(path: str) -> str:
    """The last part of an archive path, safe as a file name (accents kept; no separators, no leading dot)."""
    base = unicodedata.normalize("NFC", path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1])
    return re.sub(r"[^\w .()+,-]", "_", base).strip(" .")[:120] or "file"


def copy_number(name: str) -> int:
    """2 for "final (2).ipynb": the copy a browser or the platform made of an earlier upload."""
    found = re.search(r"\((\d{1,4})\)\s*$", Path(name).stem)
    return int(found.group(1)) if found else 0


def newest_first(entry: archive.Entry) -> tuple[float, int]:
    return (entry.mtime if entry.mtime is not None else float("-inf"), copy_number(entry.path))


def assign_keys(students: list[Student], others: list[dict[str, str]]) -> None:
    """Give each student a folder-safe key, stable across imports (see the module's docstring)."""
    taken = {r["key"]: r for r in others}
    bases = Counter(slug(s.full_name) or "student" for s in students)
    for s in students:
        base = slug(s.full_name) or "student"
        owner = taken.get(base)
        same = owner is not None and owner["full_name"] == s.full_name and (
            not owner["email"] or not s.email or owner["email"].lower() == s.email.lower())
        namesakes = {r["key"] for r in others if r["full_name"] == s.full_name} - {base}
        unique = bases[base] == 1 and not namesakes and (owner is None or same)
        s.key = base if unique else f"{base}-{slug(s.participant_id) or 'x'}"


def roster_row(s: Student, imp: Import) -> dict[str, str]:
    when = datetime.fromtimestamp(s.submitted_at).isoformat(timespec="seconds") if s.submitted_at else ""
    return {"key": s.key, "full_name": s.full_name, "participant_id": s.participant_id, "email": s.email,
            "platform": imp.platform, "source": imp.source, "exercise": imp.exercise or "", "folder": s.folder,
            "submitted_at": when}


def read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def merge_csv(path: Path, columns: list[str], old: list[dict[str, str]], platform: str | None, source: str,
              new: list[dict[str, str]]) -> None:
    """Replace the rows of this import (same platform and source) and keep the other imports' rows."""
    kept = [r for r in old if not (r.get("source") == source and (platform is None or r.get("platform") == platform))]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(kept + new)


def read_roster(folder: Path) -> list[dict[str, str]]:
    rows = read_csv(folder / ROSTER)
    if not rows:
        raise GraderError(f"{folder / ROSTER} is missing or empty: import the class with `grade import ...` "
                          f"first / {folder / ROSTER} não existe ou está vazio: importe a turma com "
                          "`grade import ...` antes")
    return rows
