"""`grade decide`: one decision of the instructor, checked against the stored result it is made on, appended to
``<out>/decisions.toml`` (or a job's stale decisions renewed, or its decisions removed).

It lives beside the reports because a decision is checked against what they show: a check the result has, points
within its maximum, a flag the job raised (``html.find_flags``). ``decisions.py`` reads, validates and applies
the file; this module only writes it.
"""

from __future__ import annotations

import getpass
import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..decisions import FILE, Decision, latest, load, render, save, submission_sha256, without
from ..errors import GraderError
from ..results import read
from ..schema import JobResult


@dataclass(frozen=True)
class Request:
    """What `grade decide` was asked: exactly one of points, confirm, dismiss, excuse, renew, remove."""

    student: str
    exercise: str
    points: float | None = None
    check: str | None = None
    confirm: str | None = None
    dismiss: str | None = None
    excuse: bool = False
    renew: bool = False
    remove: bool = False
    reason: str | None = None
    note: str | None = None
    who: str | None = None


def record(out: Path, req: Request) -> tuple[str, list[Decision]]:
    """Do what ``req`` asks on ``out``'s decisions file: ("removed" | "renewed" | "added", the decisions)."""
    path = out / FILE
    result = read(out / "results", req.student, req.exercise)
    if result is None:
        raise GraderError(f"no result for {req.student}/{req.exercise} in {out / 'results'}: grade it first "
                          f"(grade all CLASS --out {out}) / nenhum resultado de {req.student}/{req.exercise} em "
                          f"{out / 'results'}: corrija antes (grade all TURMA --out {out})")
    existing = load(path)
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    sha = submission_sha256(result)
    mine = [d for d in existing if (d.student, d.exercise) == (req.student, req.exercise)]
    if req.remove:
        gone = [d for d in mine if req.check is None or d.check == req.check]
        if any(d.line == 0 for d in gone):
            raise GraderError(f"{path}: write every decision as a [[decision]] table to remove it by command, or "
                              f"delete it by hand / {path}: escreva cada decisão como tabela [[decision]] para "
                              "removê-la pelo comando, ou apague-a à mão")
        save(path, without(text, gone))
        return "removed", gone
    who, when = req.who or who_decides(), now_toml()
    if req.renew:
        stale = [d for d in latest(mine) if d.sha256 != sha]
        new = [Decision(**{**d.__dict__, "line": 0, "sha256": sha, "who": who, "when": when}) for d in stale]
        kind = "renewed"
    else:
        if not req.reason or not req.reason.strip():
            raise GraderError("give --reason: the student reads it beside the instructor's points / dê --reason: o "
                              "aluno o lê ao lado da nota do professor")
        new, kind = [new_decision(req, result, sha, who, when, out / "reports")], "added"
    if new:
        save(path, text + "".join(render(d) for d in new))
    return kind, new


def new_decision(req: Request, result: JobResult, sha: str, who: str, when: str, reports_dir: Path) -> Decision:
    """The decision ``req`` asks for, checked against the result it is made on (a check it names exists,
    points within its maximum, a flag this job raised)."""
    from .build import stored_similarity
    from .html import find_flags

    base = dict(line=0, student=req.student, exercise=req.exercise, reason=(req.reason or "").strip(), sha256=sha,
                note=(req.note or "").strip(), who=who, when=when)
    checks = {c["name"]: c for c in result["checks"]}
    if req.points is not None:
        if req.check is not None and req.check not in checks:
            raise GraderError(f"{req.student}/{req.exercise} has no check {req.check!r} (it has: "
                              f"{', '.join(checks) or 'none'}) / {req.student}/{req.exercise} não tem a verificação "
                              f"{req.check!r} (tem: {', '.join(checks) or 'nenhuma'})")
        top = checks[req.check]["max_points"] if req.check else result.get("max_score", 0)
        if not 0 <= req.points <= top:
            raise GraderError(f"--points {req.points:g} is not within 0..{top:g} / --points {req.points:g} não "
                              f"está entre 0 e {top:g}")
        if result.get("score") is None:
            raise GraderError("this job was not graded (a grader fault): grade it again first / este trabalho não "
                              "foi corrigido (falha do corretor): corrija de novo antes")
        return Decision(kind="points", check=req.check, points=float(req.points), **base)
    if req.check is not None:
        raise GraderError("--check goes with --points only / --check só acompanha --points")
    if req.excuse:
        return Decision(kind="excuse", **base)
    kind, flag = ("confirm", req.confirm) if req.confirm else ("dismiss", req.dismiss)
    raised = {f.name for f in find_flags([result], similarity=stored_similarity(reports_dir))}
    if flag not in raised:
        raise GraderError(f"{req.student}/{req.exercise} raised no flag {flag!r} (it raised: "
                          f"{', '.join(sorted(raised)) or 'none'}) / {req.student}/{req.exercise} não tem o alerta "
                          f"{flag!r} (tem: {', '.join(sorted(raised)) or 'nenhum'})")
    return Decision(kind=kind, flag=flag, **base)


def who_decides() -> str:
    """Who decides: git's user.name, else the login name."""
    try:
        name = subprocess.run(["git", "config", "user.name"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        name = ""
    return name.strip() or os.environ.get("USER") or getpass.getuser()


def now_toml() -> str:
    """Now, as a TOML offset date-time in UTC."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
