"""Which exercise a file is, from its name and its contents, when the platform does not say.

Students name files as they please ("Lição 10 - mnist final (2).ipynb"); the name decides when it
points at one exercise, the contents when the name is silent or only says "mnist" (three of the
course's exercises read MNIST-like data: the contents tell Fashion-MNIST and the sparse loss apart).
"""

from __future__ import annotations

import json
import re
import unicodedata

#: Signs of each exercise, most specific first: a Fashion-MNIST or sparse_cce program also
#: mentions MNIST, so they are tried before mnist_dense. Matched on lower-case text without accents.
#: sparse_cce is told by the loss *class* the exercise asks for: an mnist_dense program often uses
#: the string "sparse_categorical_crossentropy" too.
NAME_SIGNS: tuple[tuple[str, str], ...] = (
    ("fashion_mnist", r"fashion"),
    ("sparse_cce", r"sparse|esparsa"),
    ("noisynote", r"noisy|banknote|\bcedulas?\b"),  # not "nota": in Portuguese it is also a grade
    ("abc_skin", r"\babc|skin|\bpele\b"),
    ("mnist_dense", r"mnist"),
)
CONTENT_SIGNS: tuple[tuple[str, str], ...] = (
    ("fashion_mnist", r"fashion[_-]?mnist"),
    ("sparse_cce", r"sparsecategoricalcrossentropy"),
    ("noisynote", r"noisynote|banknote|\bqx\.txt"),
    ("abc_skin", r"\babc(?:1|_skin|\b)|cor da pele|skin colou?r"),
    ("mnist_dense", r"\bmnist\b"),
)
#: Names that only say "some MNIST exercise": the contents may be more precise.
GENERIC = "mnist_dense"


def fold(text: str) -> str:
    """Lower case, accents stripped."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def plain(text: str) -> str:
    """Folded, with `_` and `-` as spaces (so that `\\b` sees the words of a name like `abc_pele`)."""
    return re.sub(r"[_\-]+", " ", fold(text))


def _first(signs: tuple[tuple[str, str], ...], text: str, known: list[str]) -> str | None:
    return next((ex for ex, pattern in signs if ex in known and re.search(pattern, text)), None)


def source_text(name: str, data: bytes) -> str:
    """The program's text: a notebook's cell sources, else the file decoded."""
    text = data.decode("utf-8", "replace")
    if name.lower().endswith(".ipynb"):
        try:
            cells = json.loads(text).get("cells", [])
            return "\n".join("".join(c.get("source", "")) if isinstance(c.get("source"), list)
                             else str(c.get("source", "")) for c in cells if isinstance(c, dict))
        except (ValueError, AttributeError):
            pass  # not valid JSON: search the raw text
    return text


def detect(name: str, data: bytes, known: list[str]) -> tuple[str | None, str]:
    """(exercise id or None, how it was told: 'name' or 'contents')."""
    stem = name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    exact = re.sub(r"\s*\(\d+\)$", "", stem.strip()).lower()  # "mnist_dense (2)" is mnist_dense
    if exact in known:
        return exact, "name"
    by_name = _first(NAME_SIGNS, plain(stem), known)
    by_contents = _first(CONTENT_SIGNS, fold(source_text(name, data)), known)
    if by_name and by_name != GENERIC:
        return by_name, "name"
    if by_contents:
        return by_contents, "contents"
    return (by_name, "name") if by_name else (None, "")
