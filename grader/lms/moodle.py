"""Moodle's assignment module: "Download all submissions" in, grading worksheet and feedback files out.

Formats followed (Moodle 4.1-4.5 source, `mod/assign`, checked against 3.x where they differ):
- download (`classes/downloader.php`, `get_student_prefix`): one folder per participant and
  submission plugin, `<Full name>_<participant id>_assignsubmission_<plugin>/` (4.1+) or with a
  trailing `_` (3.1-4.0), the full name's own `_` turned into spaces; "Participant" for every
  name under blind marking; before 3.1 (or with "download as folders" off) no folders, files
  named `<Full name>_<id>_assignsubmission_file_<file name>`. The participant id is the
  assignment's own id for the user (`get_uniqueid_for_user`): the same student has another id in
  another assignment. Students who submitted nothing have no folder at all.
- grading worksheet (`gradingtable.php` when downloading, read back by
  `feedback/offline/importgradeslib.php`): columns are found by their names in the language of
  the Moodle session ("Identifier", "Grade", "Last modified (grade)" are required; "Feedback
  comments" is read when the comments plugin is on); the identifier is "Participant <id>".
- feedback files (`feedback/file/importziplib.php`): every file under a folder whose name splits
  on `_` into full name, participant id, plugin type and name, e.g. the download's own folders.
"""

from __future__ import annotations

import csv
import html
import re
import zipfile
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from ..decisions import Decision
from ..errors import GraderError
from ..schema import JobResult, JobStatus
from ..text import Text
from . import archive, layout

#: `<name>_<id>_assignsubmission_<plugin>` with an optional trailing `_` (folder) or `_<file>` (flat).
PREFIX = re.compile(r"^(?P<name>[^_/]*)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z]+)(?:_(?P<rest>.*))?$")
#: The worksheet columns Moodle's "Download grading worksheet" writes (English strings), in order.
WORKSHEET_COLUMNS = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
                     "Grade can be changed", "Last modified (submission)", "Last modified (grade)",
                     "Feedback comments"]
PARTICIPANT = "Participant "  # get_string('hiddenuser', 'assign')
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


def import_download(zip_path: Path, into: Path, exercise: str | None, known: list[str],
                    worksheet: Path | None = None) -> list[dict[str, str]]:
    """Lay out a "Download all submissions" ZIP as a class folder; returns the import report's rows."""
    if not zip_path.is_file():
        raise GraderError(f"{zip_path} does not exist: give the ZIP Moodle's \"Download all submissions\" "
                          f"saved / {zip_path} não existe: dê o ZIP salvo por \"Fazer o download de todas as "
                          "tarefas enviadas\" do Moodle")
    imp = layout.Import("moodle", zip_path.name, into, exercise, known)
    participants: dict[str, layout.Student] = {}

    def participant(name: str, pid: str, plugin: str, trailing: bool) -> layout.Student:
        if pid not in participants:
            folder = f"{name}_{pid}_assignsubmission_{plugin}" + ("_" if trailing else "")
            participants[pid] = imp.student(layout.Student(name, pid, folder=folder))
        return participants[pid]

    for item in archive.read_zip(zip_path, imp.budget):
        head, _, inside = item.path.partition("/")
        found = PREFIX.match(head)
        if found is None:
            imp.add(None, item)
            continue
        flat = bool(found["rest"]) and not inside  # before 3.1: Name_123_assignsubmission_file_<file>
        student = participant(found["name"], found["id"], found["plugin"], trailing=found["rest"] == "")
        if flat and isinstance(item, archive.Entry):
            item.path = found["rest"]
        imp.add(student, item)
    if worksheet is not None:
        add_worksheet(imp, worksheet, participants)
    return imp.finish()


def add_worksheet(imp: layout.Import, path: Path, participants: dict[str, layout.Student]) -> None:
    """Emails, and the students who submitted nothing (absent from the download), from a worksheet."""
    if not path.is_file():
        raise GraderError(f"{path} does not exist / {path} não existe")
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    if not rows or "Identifier" not in rows[0]:
        raise GraderError(f"{path} is not Moodle's grading worksheet in English (no \"Identifier\" column) / "
                          f"{path} não é a planilha de avaliação do Moodle em inglês (sem a coluna "
                          "\"Identifier\")")
    for row in rows:
        pid = row["Identifier"].removeprefix(PARTICIPANT).strip()
        name = (row.get("Full name") or "").strip()
        if pid not in participants:
            participants[pid] = imp.student(layout.Student(name, pid, folder=f"{name.replace('_', ' ')}_{pid}"
                                                           "_assignsubmission_file"))
        participants[pid].email = (row.get("Email address") or "").strip()


def moodle_date(when: datetime) -> str:
    """The worksheet's date format (Moodle's strftimedatetime in English), which it reads back with strtotime."""
    return (f"{DAYS[when.weekday()]}, {when.day} {MONTHS[when.month - 1]} {when.year}, "
            f"{when.strftime('%I:%M %p')}")


def grade_of(results: list[JobResult], scale: float, lang: str) -> tuple[str, str]:
    """(grade on the scale, '' when there is none to give yet; a one-line comment in `lang`).

    The grade is the student's total over the results' maximum, as in scores.csv (an exercise not
    submitted counts 0); a student with no result at all (nothing submitted) gets no grade.
    """
    from ..report import i18n
    from ..report.values import counted, points

    def num(x: Any) -> str:
        return points(float(x or 0), lang)

    if not results:
        return "", Text("Nothing submitted.", "Nada entregue.").get(lang)
    if any(r["status"] == JobStatus.GRADER_ERROR for r in results):
        return "", Text("Not graded yet: the grader failed (not your fault) and will grade it again.",
                        "Ainda sem nota: o corretor falhou (não é culpa sua) e vai corrigir de novo.").get(lang)
    if not any(counted(r) for r in results):  # every exercise excused: nothing to grade, rather than a zero
        return "", Text("Excused by the instructor: nothing to grade.",
                        "Dispensado pelo professor: nada a avaliar.").get(lang)
    score = sum(float(r.get("score") or 0) for r in results if counted(r))
    top = sum(float(r.get("max_score") or 0) for r in results if counted(r))
    parts = "; ".join(f"{r['exercise']} " + (i18n.t("excused", lang) if r.get("excused") else
                                             f"{num(r.get('score'))}/{num(r.get('max_score'))}")
                      + (f" {i18n.status(JobStatus.MISSING, lang)}" if r["status"] == JobStatus.MISSING else "")
                      for r in results)
    decided = " ".join(f"{r['exercise']}: {line}." for r in results for line in i18n.decision_lines(r, lang))
    comment = (f"{num(score)} / {num(top)} {i18n.t('points', lang)} ({parts}). "
               + (f"{i18n.t('decisions', lang)}: {decided} " if decided else "")
               + Text("Details in feedback.html.", "Detalhes em feedback.html.").get(lang))
    return f"{round(scale * score / top, 2) if top else 0.0:.2f}", comment


def refuse_unfinal(results: list[JobResult]) -> None:
    """Refuse to export scores that are not final grades (quick mode, a grader fault, a check not graded),
    naming the jobs: a quick run of a class is feedback, and would export far lower grades than a full run."""
    from ..report.values import not_final

    unfinal = [f"{r['student']}/{r['exercise']} ({why})" for r in results if (why := not_final(r))]
    if unfinal:
        more = Text(f" and {len(unfinal) - 8} more", f" e mais {len(unfinal) - 8}") if len(unfinal) > 8 else ""
        said = Text("{n} result(s) are not final grades: {shown}. Grade them in full (grade all without --quick; a "
                    "grader fault is graded again), or export them anyway with --allow-quick",
                    "{n} resultado(s) não são notas finais: {shown}. Corrija-os por completo (grade all sem "
                    "--quick; uma falha do corretor é corrigida de novo), ou exporte assim mesmo com --allow-quick"
                    ).format(n=len(unfinal), shown=", ".join(unfinal[:8]) + more)
        raise GraderError(f"{said.en} / {said.pt}")


def export(class_dir: Path, results_dir: Path, reports_dir: Path, out: Path, scale: float,
           lang: str, decisions: list[Decision] | None = None, allow_quick: bool = False) -> list[Path]:
    """One worksheet CSV and one feedback ZIP per Moodle assignment imported into class_dir, the grades as the
    instructor's decisions leave them; results that are not final grades are refused unless ``allow_quick``."""
    from .. import decisions as decisions_mod
    from .. import results as results_mod

    roster = [r for r in layout.read_roster(class_dir) if r["platform"] == "moodle"]
    if not roster:
        raise GraderError(f"{class_dir / layout.ROSTER} lists no Moodle participant: import with `grade import "
                          f"moodle` first / {class_dir / layout.ROSTER} não tem participantes do Moodle: importe "
                          "com `grade import moodle` antes")
    if not results_dir.is_dir():
        raise GraderError(f"{results_dir} does not exist: run `grade all {class_dir}` first, or give its --out "
                          f"with --results / {results_dir} não existe: rode `grade all {class_dir}` antes, ou dê o "
                          "--out dele em --results")
    exported = {(row["key"], row["exercise"]) for row in roster}  # exercise "": every exercise of the student
    graded, _ = decisions_mod.apply([r for r in results_mod.read_all(results_dir)
                                     if {(r["student"], ""), (r["student"], r["exercise"])} & exported],
                                    decisions or [])
    if not allow_quick:
        refuse_unfinal(graded)
    by_student: dict[str, list[JobResult]] = defaultdict(list)
    for r in graded:
        by_student[r["student"]].append(r)
    out.mkdir(parents=True, exist_ok=True)
    sources: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in roster:
        sources[row["source"]].append(row)
    written = []
    now = moodle_date(datetime.now())
    for source, rows in sorted(sources.items()):
        name = layout.slug(Path(source).stem) or "moodle"
        sheet, bundle = out / f"worksheet-{name}.csv", out / f"feedback-{name}.zip"
        with open(sheet, "w", newline="", encoding="utf-8") as f, zipfile.ZipFile(bundle, "w",
                                                                                  zipfile.ZIP_DEFLATED) as z:
            writer = csv.writer(f)
            writer.writerow(WORKSHEET_COLUMNS)
            for row in sorted(rows, key=lambda r: int(r["participant_id"]) if r["participant_id"].isdigit() else 0):
                mine = sorted((r for r in by_student.get(row["key"], [])
                               if not row["exercise"] or r["exercise"] == row["exercise"]),
                              key=lambda r: r["exercise"])
                grade, comment = grade_of(mine, scale, lang)
                submitted = datetime.fromisoformat(row["submitted_at"]) if row["submitted_at"] else None
                writer.writerow([PARTICIPANT + row["participant_id"], row["full_name"], row["email"],
                                 "Submitted for grading" if submitted else "No submission", grade, f"{scale:.2f}",
                                 "Yes", moodle_date(submitted) if submitted else "-", now,
                                 comment])
                add_feedback(z, row, reports_dir / row["key"], lang)
        written += [sheet, bundle]
    return written


def add_feedback(z: zipfile.ZipFile, row: dict[str, str], folder: Path, lang: str) -> None:
    """The student's feedback.md as HTML, with the figures and notebooks it links, in the download's folder."""
    page = folder / "feedback.md"
    if not page.is_file():
        return
    from ..report.feedback import md

    prefix = row["folder"].rstrip("/") or f"{row['full_name']}_{row['participant_id']}_assignsubmission_file"
    title, _, rest = page.read_text(encoding="utf-8").partition("\n")
    if title.endswith(f" {row['key']}"):  # the page names the folder's key; the student reads their own name
        title = title[: -len(row["key"])] + md(row["full_name"])
    z.writestr(f"{prefix}/feedback.html", feedback_html(f"{title}\n{rest}", row["full_name"], lang))
    for path in sorted(folder.rglob("*")):
        if path.suffix in (".png", ".ipynb") and path.is_file() and not path.is_symlink():
            z.write(path, f"{prefix}/{path.relative_to(folder).as_posix()}")


def feedback_html(markdown: str, title: str, lang: str) -> str:
    """A standalone page: CommonMark with tables, raw HTML off (feedback.md escapes what students wrote)."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    return (f'<!DOCTYPE html>\n<html lang="{Text("en", "pt-BR").get(lang)}"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;max-width:60em;margin:auto}}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em}img{max-width:100%}"
            f"</style></head><body>\n{body}</body></html>\n")
