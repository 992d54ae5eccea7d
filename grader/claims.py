"""Find the test error a student states (pt-BR or English), in what the student wrote and nowhere else.

"erro de teste: 1,45%", "Test error: 1.45 %", "acurácia 98,55 %" (read as 1.45 %
error) and "1,45% de erro" are claims; goals quoted from the statement ("erro
menor que 1,61%") and training or validation figures are not.

The student's statements are a script's comments and string literals; a notebook's Markdown, the
comments and strings of its code cells, and the outputs saved in the submitted notebook (the
student's own run). What the program prints while the grader runs it is not a statement: a program
that prints its test error would "state" exactly the figure the grader measures.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PERCENT = re.compile(r"(?<![\d.,])(\d{1,3}(?:[.,]\d+)?)\s*%")
ERROR_WORD = re.compile(r"\b(?:taxa\s+de\s+)?err(?:o|os|or|ors)?\b", re.I)
ACCURACY_WORD = re.compile(r"\b(?:acur[aá]cia|acuracidade|accuracy|acc|acertos?|precis[aã]o)\b", re.I)
GOAL = re.compile(r"menor\s+que|less\s+than|lower\s+than|below|abaixo|objetivo|\bgoal\b|\btarget\b|\bmeta\b|<", re.I)
NOT_TEST = re.compile(r"trein|train|valida", re.I)
TEST = re.compile(r"\btest", re.I)


@dataclass(frozen=True)
class Claim:
    error: float          # the test error it states, in percent
    source: str           # "comment" (a comment or string literal), "markdown" or "stored_output"
    line: int             # the script's line; in a notebook, the cell's number (from 1)
    text: str


#: A claim needs a percent sign; the job carries only the statements that have one, at most this many.
MAX_STATEMENTS = 2000


def _nearest(line: str, start: int, end: int) -> str | None:
    """'error' or 'accuracy': the keyword closest to the number at [start, end)."""
    best: tuple[int, str] | None = None
    for kind, pattern in (("error", ERROR_WORD), ("accuracy", ACCURACY_WORD)):
        for m in pattern.finditer(line):
            distance = start - m.end() if m.end() <= start else m.start() - end + 0.5  # prefer words before
            if distance >= 0 and (best is None or distance < best[0]):
                best = (distance, kind)
    return best[1] if best else None


def stated_errors(line: str) -> list[float]:
    """The test errors (in percent) one line of the student's text states."""
    if GOAL.search(line) or (NOT_TEST.search(line) and not TEST.search(line)):
        return []
    found = []
    for m in PERCENT.finditer(line):
        kind = _nearest(line, m.start(), m.end())
        value = float(m.group(1).replace(",", "."))
        if kind is not None and value <= 100:
            found.append(round(value if kind == "error" else 100 - value, 4))
    return found


def comment_lines(source: str) -> list[tuple[int, str]]:
    """Comments and string literals of a Python source, with their line numbers."""
    out: list[tuple[int, str]] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in (tokenize.COMMENT, tokenize.STRING):
                for i, text in enumerate(tok.string.splitlines()):
                    out.append((tok.start[0] + i, text))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        out = [(i, line) for i, line in enumerate(source.splitlines(), 1) if "#" in line or '"' in line or "'" in line]
    return out


def _output_text(output: Any) -> str:
    """The text a stored cell output shows: a stream's text, or a result's plain-text form (errors are not read)."""
    if output.get("output_type") == "stream":
        text = output.get("text", "")
    elif output.get("output_type") in ("execute_result", "display_data"):
        text = (output.get("data") or {}).get("text/plain", "")
    else:
        return ""
    return "".join(text) if isinstance(text, list) else str(text)


def script_statements(source: str) -> list[tuple[str, int, str]]:
    """(source, line, text) of a script's statements: its comments and string literals."""
    return [("comment", line, text) for line, text in comment_lines(source)]


def notebook_statements(nb: Any) -> list[tuple[str, int, str]]:
    """(source, cell number, text) of a notebook's statements: Markdown, code comments and strings, stored outputs."""
    out: list[tuple[str, int, str]] = []
    for number, cell in enumerate(nb.cells, 1):
        if cell.cell_type == "markdown":
            out += [("markdown", number, text) for text in cell.source.splitlines()]
        elif cell.cell_type == "code":
            out += [("comment", number, text) for _, text in comment_lines(cell.source)]
            for output in cell.get("outputs", []):
                out += [("stored_output", number, text) for text in _output_text(output).splitlines()]
    return out


def statements(submission: Path) -> list[dict[str, Any]]:
    """The statements of a submitted file that can hold a claim, as the evaluator receives them (plain JSON)."""
    if submission.suffix == ".ipynb":
        from .notebooks import read

        try:
            found = notebook_statements(read(submission))
        except ValueError:  # unreadable: the run says why
            return []
    else:
        found = script_statements(submission.read_text(errors="replace"))
    kept = [{"source": source, "line": line, "text": text[:300]} for source, line, text in found if "%" in text]
    return kept[:MAX_STATEMENTS]


def find_claims(statements: list[dict[str, Any]]) -> list[Claim]:
    """The claims in the student's statements (see ``statements``), in their order."""
    return [Claim(error, s["source"], s["line"], s["text"].strip()[:200])
            for s in statements for error in stated_errors(s["text"])]
