"""Code similarity between the submissions of one exercise: winnowing fingerprints (the MOSS algorithm).

The fingerprints come from ``copydetect`` (pinned in pyproject.toml): it tokenizes Python with Pygments and
replaces every name with one letter, every string with another, and drops comments and blank space, so a
copy whose variables were renamed and comments rewritten still matches; then it compares the two files'
sets of k-gram hashes and maps the matches back to passages of the original text.

Code that comes from the course is not evidence: every fingerprint that also occurs in the course's material
(the starters, the statements' code, files ``course.toml`` lists as handout code: ``boilerplate_sources``)
is removed from both files before comparing, as copydetect's boilerplate option does, so two students who
each kept the starter and wrote different code share nothing.

Parameters: copydetect's defaults, a noise threshold of 25 filtered characters (about one line of Keras)
and a guarantee threshold of 25, that is a winnowing window of 1: every k-gram is a fingerprint. That keeps
the comparison exact, and also independent of Python's per-process string-hash salt, which copydetect's
k-gram hashes use: a wider window would pick different fingerprints in every process, and the same class
would get other figures on a re-run.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

#: Smallest run of matching filtered characters that counts (copydetect's noise threshold).
NOISE = 25
#: Winnowing window (copydetect's guarantee threshold - noise threshold + 1): 1 keeps every fingerprint.
WINDOW = 1
#: A submission's code beyond this many characters is read on its first this-many only, compared and shown (a
#: hostile file of megabytes must not hold up the class or the page: a program of this course is a few kilobytes).
MAX_CHARS = 200_000

_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)


@dataclass(frozen=True)
class Source:
    """One student's code for one exercise, as compared: a script, or a notebook's code cells."""

    student: str
    file: str  # the submission's file name, for the reports
    code: str


@dataclass(frozen=True)
class Pair:
    """Two submissions compared: the share of each one's code (less the course's) found in the other."""

    student_a: str
    student_b: str
    share_a: float
    share_b: float
    slices_a: tuple[tuple[int, int], ...]  # (start, end) character offsets in Source.code of the matched passages
    slices_b: tuple[tuple[int, int], ...]

    @property
    def similarity(self) -> float:
        """The larger share: a short program copied whole into a longer one is a copy all the same."""
        return max(self.share_a, self.share_b)


def notebook_code(cells: Iterable[str]) -> str:
    """A notebook's code cells as one text, each headed by a comment with its number (comments are not
    fingerprinted, so the headers only help the reader find a passage)."""
    return "\n".join(f"# In[{i}]\n{source.rstrip()}\n" for i, source in enumerate(cells, 1))


def statement_snippets(markdown: str) -> list[str]:
    """The fenced code blocks of a statement (``README.md``)."""
    return [m.group(1) for m in _FENCE.finditer(markdown)]


def _fingerprint(code: str, boilerplate=None, window: int = WINDOW):
    from copydetect import CodeFingerprint

    return CodeFingerprint("submission.py", NOISE, window, boilerplate=boilerplate, fp=io.StringIO(code),
                           language="python")


def boilerplate_hashes(sources: Iterable[str]):
    """The fingerprints of the course's code, every k-gram (window 1), as copydetect builds its boilerplate."""
    import numpy as np

    hashes: set[int] = set()
    for code in sources:
        hashes.update(_fingerprint(code, window=1).hashes)
    return np.unique(np.array(sorted(hashes), dtype=np.int64))


def compare(sources: Sequence[Source], boilerplate: Sequence[str] = ()) -> list[Pair]:
    """Every pair of ``sources`` compared, the course's ``boilerplate`` code discounted; most similar first."""
    from copydetect import compare_files

    discounted = boilerplate_hashes(boilerplate)
    prints = [_fingerprint(s.code, discounted) for s in sources]
    pairs = []
    for i, a in enumerate(sources):
        for j in range(i + 1, len(sources)):
            _, (share_a, share_b), (slices_a, slices_b) = compare_files(prints[i], prints[j])
            pairs.append(Pair(a.student, sources[j].student, float(share_a), float(share_b),
                              _slices(slices_a), _slices(slices_b)))
    return sorted(pairs, key=lambda p: (-p.similarity, p.student_a, p.student_b))


def _slices(found) -> tuple[tuple[int, int], ...]:
    """copydetect's 2xN array of slice starts and ends as (start, end) pairs."""
    if len(found) == 0 or len(found[0]) == 0:
        return ()
    return tuple((int(s), int(e)) for s, e in zip(found[0], found[1]))


def highlighted(code: str, slices: Sequence[tuple[int, int]]) -> str:
    """The code as HTML with each matched passage in a ``<mark>``; everything escaped."""
    out, at = [], 0
    for start, end in sorted(slices):
        start = max(start, at)
        if end <= start:
            continue
        out += [escape(code[at:start]), "<mark>", escape(code[start:end]), "</mark>"]
        at = end
    out.append(escape(code[at:]))
    return "".join(out)


#: The side-by-side page: no script at all, only its own style (the CSP says so, so even a missed escape of the
#: students' code could not run anything or fetch anything).
_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'"
_PAGE_STYLE = """
body { margin: 0; font: 14px/1.45 system-ui, "DejaVu Sans", sans-serif; color: #1d2430; background: #fafbfc; }
header { padding: 14px 24px; background: #fff; border-bottom: 2px solid #dde1e7; }
h1 { font-size: 19px; margin: 0 0 4px; }
p { margin: 2px 0; color: #5b6472; }
.sides { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; padding: 12px 24px; }
.side { background: #fff; border: 1px solid #dde1e7; min-width: 0; }
.side h2 { font-size: 15px; margin: 0; padding: 8px 12px; background: #f3f5f8; border-bottom: 1px solid #dde1e7; }
pre { margin: 0; padding: 10px 12px; overflow: auto; font: 12.5px/1.4 ui-monospace, "DejaVu Sans Mono", monospace;
      white-space: pre-wrap; word-break: break-word; }
mark { background: #fde2a7; color: inherit; }
"""


def side_by_side(exercise: str, pair: Pair, a: Source, b: Source, note: str = "") -> str:
    """One offline HTML page: the two submissions side by side, the matched passages marked."""
    title = f"{exercise}: {pair.student_a} / {pair.student_b}"
    sides = "".join(
        f'<section class="side"><h2>{escape(src.student)} — {escape(src.file)} ({share:.0%} matched)</h2>'
        f"<pre>{highlighted(src.code, slices)}</pre></section>"
        for src, share, slices in ((a, pair.share_a, pair.slices_a), (b, pair.share_b, pair.slices_b)))
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{_PAGE_CSP}">\n'
            f"<title>{escape(title)}</title>\n<style>{_PAGE_STYLE}</style>\n</head>\n<body>\n"
            f"<header><h1>{escape(title)}</h1><p>Marked: passages found in both programs, after names, strings "
            "and comments are set aside and the course's own code (starters, statements, handout) is discounted. "
            f"Similarity alone changes no score.</p>{f'<p>{escape(note)}</p>' if note else ''}</header>\n"
            f'<div class="sides">{sides}</div>\n</body>\n</html>\n')


def read_code(path: Path) -> str:
    """A submission's code: a script's text, or a notebook's code cells (raises ValueError, with why, when the
    file cannot be read)."""
    from ..notebooks import read

    if path.suffix == ".ipynb":
        return notebook_code(c.source for c in read(path).cells if c.cell_type == "code")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"the file is not UTF-8 text (byte {e.start})") from e
