"""Find the test error a student states, in comments or printed output (pt-BR or English).

"erro de teste: 1,45%", "Test error: 1.45 %", "acurácia 98,55 %" (read as 1.45 %
error) and "1,45% de erro" are claims; goals quoted from the statement ("erro
menor que 1,61%") and training or validation figures are not.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass

PERCENT = re.compile(r"(?<![\d.,])(\d{1,3}(?:[.,]\d+)?)\s*%")
ERROR_WORD = re.compile(r"\b(?:taxa\s+de\s+)?err(?:o|os|or|ors)?\b", re.I)
ACCURACY_WORD = re.compile(r"\b(?:acur[aá]cia|acuracidade|accuracy|acc|acertos?|precis[aã]o)\b", re.I)
GOAL = re.compile(r"menor\s+que|less\s+than|lower\s+than|below|abaixo|objetivo|\bgoal\b|\btarget\b|\bmeta\b|<", re.I)
NOT_TEST = re.compile(r"trein|train|valida", re.I)
TEST = re.compile(r"\btest", re.I)


@dataclass(frozen=True)
class Claim:
    error: float          # the test error it states, in percent
    source: str           # "comment" or "output"
    line: int
    text: str


def _nearest(line: str, start: int, end: int) -> str | None:
    """'error' or 'accuracy': the keyword closest to the number at [start, end)."""
    best: tuple[int, str] | None = None
    for kind, pattern in (("error", ERROR_WORD), ("accuracy", ACCURACY_WORD)):
        for m in pattern.finditer(line):
            distance = start - m.end() if m.end() <= start else m.start() - end + 0.5  # prefer words before
            if distance >= 0 and (best is None or distance < best[0]):
                best = (distance, kind)
    return best[1] if best else None


def claims_in_lines(lines: list[tuple[int, str]], source: str) -> list[Claim]:
    found = []
    for lineno, line in lines:
        if GOAL.search(line) or (NOT_TEST.search(line) and not TEST.search(line)):
            continue
        for m in PERCENT.finditer(line):
            kind = _nearest(line, m.start(), m.end())
            if kind is None:
                continue
            value = float(m.group(1).replace(",", "."))
            if value > 100:
                continue
            found.append(Claim(round(value if kind == "error" else 100 - value, 4), source, lineno, line.strip()[:200]))
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


def find_claims(source: str, output: str) -> list[Claim]:
    return claims_in_lines(comment_lines(source), "comment") + claims_in_lines(
        list(enumerate(output.splitlines(), 1)), "output")
