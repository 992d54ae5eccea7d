"""The instructor's decisions: ``<out>/decisions.toml``, read and validated whole, then applied to the results.

A decision is the instructor's word on one job (student x exercise), kept apart from ``results/`` so that no
re-grade (``grade all --force``) erases it. The file is a list of ``[[decision]]`` tables, written by hand or
appended by ``grade decide``::

    [[decision]]
    student = "alice"
    exercise = "mnist_dense"
    check = "threshold"          # optional: without it, points replace the exercise's score
    points = 8.5                 # or: confirm = "leakage" | dismiss = "leakage" | excuse = true
    reason = "..."               # shown to the student
    note = "..."                 # the instructor's only: never in anything a student reads
    who = "prof"
    when = 2026-12-04T16:00:00Z
    sha256 = "<the submission's sha256 the decision was made on>"

A decision applies only to the submission it was made on: another sha256 makes it *stale* (kept, not applied,
listed under "Needs the instructor" until renewed or removed). Of two decisions on one target (the same
check's points, the same flag, the exercise's score, the excuse) the later one in the file wins, so the file
reads as a log. A malformed file is refused as a whole, with the line of what is wrong: a grade is never
computed from half a file.
"""

from __future__ import annotations

import copy
import json
import math
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from .errors import GraderError
from .schema import AppliedDecision, JobResult
from .text import Text

#: The decisions file's name, in the grading folder (``grade all --out``).
FILE = "decisions.toml"
#: One of these keys says what a decision does; exactly one per decision.
KINDS = ("points", "confirm", "dismiss", "excuse")
_KEYS = {"student", "exercise", "check", "reason", "note", "who", "when", "sha256", *KINDS}
_HEADER = re.compile(r"^\s*\[\[\s*decision\s*\]\]\s*(#.*)?$")
_SHA256 = re.compile(r"[0-9a-f]{64}|missing")

Kind = Literal["points", "confirm", "dismiss", "excuse"]
State = Literal["applied", "stale", "unmatched"]


@dataclass(frozen=True)
class Decision:
    """One ``[[decision]]`` table, validated; ``line`` is where its header is in the file (0: not known)."""

    line: int
    student: str
    exercise: str
    kind: Kind
    reason: str
    sha256: str
    check: str | None = None    # points on this check (None: on the exercise's score)
    points: float | None = None
    flag: str | None = None     # confirm / dismiss: the flag's name (a check's name, "sandbox", ...)
    note: str = ""
    who: str = ""
    when: str = ""

    @property
    def target(self) -> tuple[str, str, str]:
        """What the decision decides: a later decision on the same target replaces this one."""
        what = {"points": f"points:{self.check or ''}", "excuse": "excuse"}.get(self.kind, f"flag:{self.flag}")
        return (self.student, self.exercise, what)

    def summary(self) -> str:
        """The decision in a few words (English; the instructor's side only)."""
        if self.kind == "points":
            return f"{self.check or 'exercise'}: {self.points:g} points"
        return "excused" if self.kind == "excuse" else f"{self.kind} flag {self.flag}"


@dataclass(frozen=True)
class Review:
    """How one decision met the results: ``applied``, ``stale`` (another submission) or ``unmatched``."""

    decision: Decision
    state: State
    why: str = ""
    grader_points: float | None = None  # what the grader gave the check (or exercise) the points replace


# --- reading -------------------------------------------------------------------------------------------------------

def refuse(source: str, line: int, what: Text) -> GraderError:
    """The bilingual refusal of a malformed decisions file, naming the line."""
    at = Text(f"{source}, line {line}", f"{source}, linha {line}") if line else Text.same(source)
    said = Text("{at}: {what}; fix the file (nothing of it was applied)",
                "{at}: {what}; corrija o arquivo (nada dele foi aplicado)").format(at=at, what=what)
    return GraderError(f"{said.en} / {said.pt}")


def load(path: Path) -> list[Decision]:
    """The decisions in ``path``, all validated, or [] when there is no file; a malformed file raises GraderError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as e:
        raise refuse(str(path), 0, Text(f"cannot be read as UTF-8 text ({e})",
                                        f"não pode ser lido como texto UTF-8 ({e})")) from e
    return parse(text, str(path))


def parse(text: str, source: str = FILE) -> list[Decision]:
    """Every decision of a decisions file's text; the first fault found refuses the whole file."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        line = int(m.group(1)) if (m := re.search(r"line (\d+)", str(e))) else 0
        raise refuse(source, line, Text(f"not valid TOML ({e})", f"não é TOML válido ({e})")) from e
    headers = header_lines(text)
    unknown = sorted(set(data) - {"decision"})
    if unknown:
        raise refuse(source, _line_of_key(text, unknown[0]),
                     Text(f"unknown key {unknown[0]!r}: the file holds only [[decision]] tables",
                          f"chave desconhecida {unknown[0]!r}: o arquivo só tem tabelas [[decision]]"))
    tables = data.get("decision", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise refuse(source, _line_of_key(text, "decision"), Text("'decision' must be [[decision]] tables",
                                                                  "'decision' deve ser tabelas [[decision]]"))
    lines = headers if len(headers) == len(tables) else [0] * len(tables)
    return [_decision(t, line, source) for t, line in zip(tables, lines)]


def header_lines(text: str) -> list[int]:
    """The line (from 1) of each ``[[decision]]`` header: tomllib keeps no positions, so semantic faults are
    placed by the table's header, found in the text in the order tomllib reads the tables."""
    return [i for i, line in enumerate(text.splitlines(), start=1) if _HEADER.match(line)]


def _line_of_key(text: str, key: str) -> int:
    return next((i for i, line in enumerate(text.splitlines(), 1) if re.match(rf"\s*\[*\s*{re.escape(key)}\b", line)),
                0)


def _decision(table: dict[str, Any], line: int, source: str) -> Decision:
    def fault(what: Text) -> GraderError:
        return refuse(source, line, what)

    if unknown := sorted(set(table) - _KEYS):
        raise fault(Text(f"unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})",
                         f"chave desconhecida {unknown[0]!r} (conhecidas: {', '.join(sorted(_KEYS))})"))
    for key in ("student", "exercise", "reason", "sha256"):
        if not isinstance(table.get(key), str) or not table[key].strip():
            raise fault(Text(f"{key!r} is missing or not a non-empty string",
                             f"{key!r} falta ou não é um texto não vazio"))
    for key in ("check", "note", "who", "confirm", "dismiss"):
        if key in table and (not isinstance(table[key], str) or not table[key].strip()):
            raise fault(Text(f"{key!r} must be a non-empty string", f"{key!r} deve ser um texto não vazio"))
    if not _SHA256.fullmatch(table["sha256"]):
        raise fault(Text("'sha256' is not a submission's sha256 (64 hex digits): `grade decide` writes it from the "
                         "result",
                         "'sha256' não é o sha256 de uma entrega (64 dígitos hexadecimais): o `grade decide` o "
                         "escreve a partir do resultado"))
    kinds = [k for k in KINDS if k in table]
    if len(kinds) != 1:
        raise fault(Text(f"give exactly one of {', '.join(KINDS)} (found {', '.join(kinds) or 'none'})",
                         f"dê exatamente um de {', '.join(KINDS)} (há {', '.join(kinds) or 'nenhum'})"))
    kind: Kind = kinds[0]  # type: ignore[assignment]
    points = None
    if kind == "points":
        value = table["points"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise fault(Text(f"points = {value!r} is not a number ≥ 0",
                             f"points = {value!r} não é um número ≥ 0"))
        points = float(value)
    if kind == "excuse" and table["excuse"] is not True:
        raise fault(Text("excuse must be true (delete the table to withdraw it)",
                         "excuse deve ser true (apague a tabela para retirá-la)"))
    if "check" in table and kind != "points":
        raise fault(Text(f"'check' goes with points only; {kind} names its flag itself",
                         f"'check' só acompanha points; {kind} nomeia o próprio alerta"))
    when = table.get("when", "")
    if not isinstance(when, (str, datetime, date)):
        raise fault(Text("'when' must be a date-time", "'when' deve ser uma data e hora"))
    return Decision(line=line, student=table["student"], exercise=table["exercise"], kind=kind,
                    reason=table["reason"].strip(), sha256=table["sha256"], check=table.get("check"), points=points,
                    flag=table.get(kind) if kind in ("confirm", "dismiss") else None, note=table.get("note", ""),
                    who=table.get("who", ""), when=when.isoformat() if isinstance(when, (datetime, date)) else when)


# --- applying ------------------------------------------------------------------------------------------------------

def submission_sha256(result: JobResult) -> str:
    """The sha256 of the submission a result graded ("missing" when nothing was submitted)."""
    sub = result.get("submission")
    return sub.get("sha256", "missing") if isinstance(sub, dict) else "missing"


def latest(decisions: Iterable[Decision]) -> list[Decision]:
    """The decisions in force: of two on one target the later one in the file, in file order."""
    kept: dict[tuple[str, str, str], Decision] = {}
    for d in decisions:
        kept.pop(d.target, None)
        kept[d.target] = d
    return list(kept.values())


def apply(results: list[JobResult], decisions: Iterable[Decision]) -> tuple[list[JobResult], list[Review]]:
    """The results as the instructor decided them, and how each decision in force met them.

    The stored results are not touched: each decided result is a copy with its score (and checks' points)
    replaced, ``grader_score`` the grader's own score, ``excused`` set, and ``decisions`` the applied ones
    (without the instructor's note, so nothing built from a result can show it to the student).
    """
    by_job = {(r["student"], r["exercise"]): r for r in results}
    out = {key: r for key, r in by_job.items()}
    reviews = []
    for d in sorted(latest(decisions), key=lambda d: d.kind == "points" and d.check is None):  # the score last
        r = by_job.get((d.student, d.exercise))
        if r is None:
            reviews.append(Review(d, "unmatched", "no result for this student and exercise"))
            continue
        if d.sha256 != submission_sha256(r):
            reviews.append(Review(d, "stale", "the submission changed since the decision (another sha256): the "
                                  "grader's points stand", grader_points=_graders_points(r, d)))
            continue
        decided = out[(d.student, d.exercise)]
        if decided is r:
            decided = out[(d.student, d.exercise)] = copy.deepcopy(r)
        reviews.append(_apply_one(decided, d))
    return [out[(r["student"], r["exercise"])] for r in results], reviews


def _graders_points(r: JobResult, d: Decision) -> float | None:
    """What the grader gave what a points decision would replace (a check's points, or the score)."""
    if d.kind != "points":
        return None
    if d.check is None:
        return r.get("score")
    return next((c["points"] for c in r["checks"] if c["name"] == d.check), None)


def _apply_one(r: JobResult, d: Decision) -> Review:
    """Apply one current decision to (a copy of) its result; unmatched when its check or its points do not fit."""
    applied = AppliedDecision(kind=d.kind, check=d.check, flag=d.flag, grader_points=None, points=d.points,
                              reason=d.reason, who=d.who, when=d.when)
    score = r.get("score")
    if d.kind == "points" and score is None:
        return Review(d, "unmatched", "the job was not graded (a grader fault): grade it again first")
    if d.kind == "points" and d.check is not None:
        check = next((c for c in r["checks"] if c["name"] == d.check), None)
        if check is None:
            return Review(d, "unmatched", f"the result has no check {d.check!r}")
        if d.points > check["max_points"]:  # type: ignore[operator]
            return Review(d, "unmatched", f"{d.points:g} points exceed the check's {check['max_points']:g}")
        applied["grader_points"] = check["points"]
        r.setdefault("grader_score", score)
        r["score"] = min(max(float(score) + d.points - check["points"], 0.0),  # type: ignore[operator, arg-type]
                         float(r.get("max_score", 0)))
        check["points"] = d.points  # type: ignore[typeddict-item]
    elif d.kind == "points":
        if d.points > r.get("max_score", 0):  # type: ignore[operator]
            return Review(d, "unmatched", f"{d.points:g} points exceed the exercise's {r.get('max_score', 0):g}")
        applied["grader_points"] = score
        r.setdefault("grader_score", score)
        r["score"] = d.points  # type: ignore[typeddict-item]
    elif d.kind == "excuse":
        r["excused"] = True
    r.setdefault("decisions", []).append(applied)
    return Review(d, "applied", grader_points=applied["grader_points"])


def settled_flags(result: JobResult) -> set[str]:
    """The names of the flags the instructor confirmed or dismissed on this job: no longer to review."""
    return {d["flag"] for d in result.get("decisions") or [] if d.get("flag")}  # type: ignore[misc]


# --- writing -------------------------------------------------------------------------------------------------------

def toml_string(text: str) -> str:
    """A TOML basic string: JSON's escapes are a subset of TOML's, and DEL, which JSON leaves raw, is escaped."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def render(d: Decision) -> str:
    """One decision as a ``[[decision]]`` table (``grade decide`` appends it)."""
    fields: list[tuple[str, str]] = [("student", toml_string(d.student)), ("exercise", toml_string(d.exercise))]
    if d.check is not None:
        fields.append(("check", toml_string(d.check)))
    if d.kind == "points":
        fields.append(("points", repr(d.points)))
    elif d.kind == "excuse":
        fields.append(("excuse", "true"))
    else:
        fields.append((d.kind, toml_string(d.flag or "")))
    fields.append(("reason", toml_string(d.reason)))
    if d.note:
        fields.append(("note", toml_string(d.note)))
    fields += [("who", toml_string(d.who)), ("when", d.when), ("sha256", toml_string(d.sha256))]
    return "\n[[decision]]\n" + "".join(f"{k} = {v}\n" for k, v in fields)


def save(path: Path, text: str) -> list[Decision]:
    """Write a decisions file's new text after reading it back whole (a fault leaves the old file as it was)."""
    found = parse(text, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return found


def without(text: str, drop: Iterable[Decision]) -> str:
    """The file's text less the tables of ``drop`` (each from its header to the next header or the end)."""
    lines = text.splitlines(keepends=True)
    starts = header_lines(text)
    gone = {d.line for d in drop}
    keep = []
    for i, line in enumerate(lines, start=1):
        start = max((s for s in starts if s <= i), default=0)
        if start not in gone:
            keep.append(line)
    return "".join(keep)
