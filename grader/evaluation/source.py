"""Where in the student's source a fact lies: the line of a call, of an exception, said in both languages."""

from __future__ import annotations

import io
import re
import tokenize
from typing import TYPE_CHECKING, Any

from ..text import Text

if TYPE_CHECKING:
    from .context import Context


def exception_location(e: dict[str, Any]) -> Text:
    """' in cell 3 (`x = 1/0`)' or ' at line 12' for an exception record (' na célula 3 (`x = 1/0`)', ' na linha
    12'), empty when unknown."""
    if e.get("where"):
        where = str(e["where"])  # "cell 3 (`x = 1/0`)", as the notebook runner names a cell, in English
        return Text(f" in {where}", " na " + re.sub(r"^cell ", "célula ", where) if where.startswith("cell ")
                    else f" em {where}")
    return Text(f" at line {e['line']}", f" na linha {e['line']}") if e.get("line") else Text.same("")


def script_line(ctx: Context, e: dict[str, Any]) -> int | None:
    """The line of the student's script where an exception record points, when the submission is a script."""
    line = e.get("line")
    if ctx.source_kind != "py" or e.get("where") or not isinstance(line, int) or isinstance(line, bool):
        return None
    return line if 1 <= line <= len(_lines(ctx.source)) else None


def _lines(source: str) -> list[str]:
    """The lines as Python numbers them (``str.splitlines`` also splits on form feeds and other separators)."""
    return re.split(r"\r\n|\r|\n", source)


def source_line(source: str, name_pattern: str) -> int | None:
    """The 1-based line of ``source`` where a name matching ``name_pattern`` is first called, outside comments.

    Python's tokenizer skips comments and string literals; past the point where it cannot read on (a syntax error)
    the lines are searched one by one, without their ``#`` comments.
    """
    name_rx = re.compile(rf"(?:{name_pattern})\Z")
    prev, read_to = None, 0
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
                continue
            if prev is not None and prev.type == tokenize.NAME and name_rx.match(prev.string) and tok.string == "(":
                return prev.start[0]
            prev, read_to = tok, tok.start[0]
        return None
    except (tokenize.TokenError, SyntaxError):
        pass
    call_rx = re.compile(rf"(?<![\w.])(?:\w+\.)*(?:{name_pattern})\s*\(")
    for number, text in enumerate(_lines(source), 1):
        if number >= read_to and call_rx.search(text.split("#", 1)[0]):
            return number
    return None
