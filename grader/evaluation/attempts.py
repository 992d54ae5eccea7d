"""What the student's process tried that no exercise needs: the attempts the instructor must see.

The audit hook in the student's process (``run/child/audit.py``) writes facts to ``audit.jsonl``;
the runner adds what it saw from outside (a limit that stopped the job). Here, in the trusted
evaluator, each attempt is judged: what the handout itself does (its ``wget``/``unzip`` recipe
for noisynote, Colab's ``drive.mount``, ``!pip install``, libraries reading fonts or probing the
machine) is recorded and not flagged; reading or writing the course's solutions, the results,
other submissions or the home folder, writing outside the work folder, connecting to a socket,
signalling other processes and running other programs are flagged. No attempt changes a score.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from ..handover import AUDIT_LOG, EVENTS, WORK_DIR, EvaluationJob
from ..text import Text

MAX_LISTED = 200
#: Programs the handout's recipes run (download and unpack the data, look around, install) and
#: programs libraries run to learn about the machine (platform, ctypes.util, matplotlib, GPUs).
HANDOUT_PROGRAMS = {"wget", "curl", "unzip", "gunzip", "tar", "ls", "cd", "pwd", "mkdir", "cat", "head", "tail",
                    "echo", "nvidia-smi", "pip", "pip3", "true"}
LIBRARY_PROGRAMS = {"uname", "ldconfig", "fc-list", "gcc", "cc", "ld", "objdump", "lscpu", "nvcc", "ptxas"}
_SHELLS = {"sh", "bash", "dash", "zsh"}

#: Why an attempt is flagged, in the two languages: what it reached.
REASONS = {
    "solutions": Text("the course's solutions", "as soluções do curso"),
    "results": Text("the grading results", "os resultados da correção"),
    "submissions": Text("the submissions' folders", "as pastas das entregas"),
    "home": Text("the grader's home folder", "a pasta pessoal do corretor"),
    "outside": Text("outside the work folder", "fora da pasta de trabalho"),
    "process": Text("another process's files", "arquivos de outro processo"),
    "network": Text("no exercise uses the network", "nenhum exercício usa a rede"),
    "program": Text("no exercise needs this program", "nenhum exercício precisa deste programa"),
    "signal": Text("not a process of its own", "não é um processo seu"),
    "log": Text("the grader's audit log", "o registro de auditoria do corretor"),
    "processes": Text("a fork bomb?", "uma bomba de processos?"),
}
ACTIONS = {
    "read": Text("read", "leu"), "write": Text("wrote", "gravou"), "delete": Text("deleted", "apagou"),
    "connect": Text("connected to", "conectou-se a"), "bind": Text("opened a server on", "abriu um servidor em"),
    "spawn": Text("ran", "executou"), "tamper": Text("tried to open or remove", "tentou abrir ou apagar"),
    "limit": Text("stopped by a limit:", "interrompido por um limite:"),
}
#: Whom a signal went to (the audit hook's ``relation``).
RECIPIENTS = {
    "parent": Text("its parent process (the grader or the sandbox)",
                   "seu processo pai (o corretor ou o ambiente isolado)"),
    "group": Text("another process group", "outro grupo de processos"),
    "all": Text("every process it may signal", "todos os processos que puder sinalizar"),
    "other": Text("another process", "outro processo"),
    "self": Text("itself", "ele mesmo"), "child": Text("its own child process", "um processo filho seu"),
    "own_group": Text("its own process group", "seu próprio grupo de processos"),
}


def collect(job: EvaluationJob, events: list[dict[str, Any]]) -> dict[str, Any]:
    """The job's attempts, judged, and their summary: result fields ``attempts`` and ``attempts_summary``."""
    private = {k: [str(p) for p in v] for k, v in (job.get("private") or {}).items() if isinstance(v, list)}
    work = [str(Path(job["artifacts"]).parent / WORK_DIR), "/content"]
    notebook = job.get("kind") == "ipynb"
    attempts, capped = [], []
    for ev in events:
        if ev["event"] == "capped" and isinstance(ev.get("kind"), str):
            capped.append(ev["kind"][:20])
        elif ev["event"] == "attempt" and isinstance(ev.get("kind"), str) and isinstance(ev.get("target"), str):
            attempts.append(_judge(ev, private, work, notebook))
    if job.get("limit_hit"):
        attempts.append(_judge({"kind": "limit", "target": str(job["limit_hit"])}, private, work, notebook))
    if not attempts and not (Path(job["artifacts"]) / AUDIT_LOG).is_file() and \
            (Path(job["artifacts"]) / EVENTS).is_file():  # the probe ran, so the hook ran before it
        attempts.append(_judge({"kind": "tamper", "target": f"{AUDIT_LOG} was removed"}, private, work, notebook))
    flagged = sum(a["flagged"] for a in attempts)
    attempts.sort(key=lambda a: not a["flagged"])  # what the instructor must see first
    return {"attempts": attempts[:MAX_LISTED],
            "attempts_summary": {"flagged": flagged, "recorded": len(attempts), "capped": sorted(set(capped))}}


def _under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _reason(ev: dict[str, Any], private: dict[str, list[str]], work: list[str]) -> str | None:
    """Why this attempt is flagged (a key of REASONS), or None when the handout or a library does the same."""
    kind, target = ev["kind"], ev["target"]
    if kind in ("read", "write", "delete"):
        for name in ("solutions", "results", "submissions", "home"):  # home last: the others may lie in it
            if _under(target, private.get(name, [])):
                return name
        if re.match(r"/proc/\d+/", target):
            return "process"
        return None if kind == "read" else "outside"
    if kind in ("connect", "bind"):
        return "network"
    if kind == "spawn":
        return None if benign_command(target, work) else "program"
    if kind == "signal":
        return None if ev.get("relation") in ("self", "child", "own_group") else "signal"
    if kind == "tamper":
        return "log"
    if kind == "limit":
        return "processes" if target.startswith("processes") else None  # time and memory: the status says it
    return "program"


def _judge(ev: dict[str, Any], private: dict[str, list[str]], work: list[str], notebook: bool) -> dict[str, Any]:
    """One attempt as the result keeps it: its facts, whether it is flagged, and a sentence in both languages."""
    kind, target = ev["kind"][:20], ev["target"][:300]
    reason = _reason({**ev, "kind": kind, "target": target}, private, work)
    line = ev.get("line") if isinstance(ev.get("line"), int) else None
    cell = ev.get("cell") if isinstance(ev.get("cell"), int) else None
    code = str(ev.get("code") or "")[:200]
    via = str(ev.get("via") or "")[:200]
    if line is None:
        where = Text.same("") if kind == "limit" else Text(f"library code ({via})", f"código de biblioteca ({via})") \
            if via else Text("no line of the program", "nenhuma linha do programa")
    elif notebook and cell:
        where = Text(f"cell {cell}, line {line}", f"célula {cell}, linha {line}")
    else:
        where = Text(f"line {line}", f"linha {line}")
    if kind == "signal":
        sig = ev.get("signal") if isinstance(ev.get("signal"), int) else "?"
        whom = RECIPIENTS.get(str(ev.get("relation")), RECIPIENTS["other"])
        what = Text("sent signal {sig} to {whom} ({target})", "enviou o sinal {sig} a {whom} ({target})").format(
            sig=sig, whom=whom, target=_signal_target(target))
    else:
        what = ACTIONS.get(kind, Text.same(kind)) + f" {target}"
    why = REASONS[reason] if reason else None
    message = ((where + ": ") if where.en else Text.same("")) + what \
        + (" (" + why + ")" if why is not None and kind != "signal" else "") + (f" — `{code}`" if code else "")
    return {"kind": kind, "target": target, "line": line, "cell": cell, "code": code or None, "via": via or None,
            "flagged": reason is not None, "reason": reason, **message.fields("message")}


def _signal_target(target: str) -> Text:
    """The audit hook's target of a signal ("process 123", "group 123"), in both languages."""
    m = re.fullmatch(r"(process|group) (.*)", target, re.DOTALL)
    if m is None:
        return Text.same(target)
    return Text(target, {"process": "processo", "group": "grupo"}[m[1]] + f" {m[2]}")


def benign_command(command: str, work: list[str]) -> bool:
    """A command line the handout's recipes or a library would run, touching only the work folder."""
    if "`" in command or "$(" in command or "<(" in command:
        return False
    try:
        lexer = shlex.shlex(command.replace("\n", " ; "), posix=True, punctuation_chars=";&|<>")
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError:
        return False
    if len(tokens) >= 3 and Path(tokens[0]).name in _SHELLS and tokens[1] == "-c":
        return benign_command(" ".join(tokens[2:]), work)  # sh -c '...': IPython's `!` and os.system's shell
    segment: list[str] = []
    for token in [*tokens, ";"]:
        if set(token) <= set(";&|"):  # ; && || | &: the next command starts
            if segment and not _benign_segment(segment, work):
                return False
            segment = []
        else:
            segment.append(token)
    return True


def _benign_segment(tokens: list[str], work: list[str]) -> bool:
    while tokens and re.fullmatch(r"\w+=.*", tokens[0]):  # VAR=value before the program
        tokens = tokens[1:]
    if not tokens:
        return True
    program = Path(tokens[0]).name
    if program not in HANDOUT_PROGRAMS | LIBRARY_PROGRAMS:
        return False
    for arg in tokens[1:]:
        if arg in (">", ">>", "<", "2>", "&>") or re.fullmatch(r"\d?>+&?\d?", arg):
            continue
        if "://" in arg:
            continue  # a URL: the sandbox has no network anyway
        if arg.startswith("~") or ".." in Path(arg).parts:
            return False
        if arg.startswith("/") and arg != "/dev/null" and not _under(arg, work):
            return False
    return True
