"""What the grader tells people, in the course's two languages, as one value.

A message is written once as a ``Text`` (its English and its Brazilian Portuguese side by side, the
same facts and the same advice in each) and travels as one value through checks, jobs and reports;
only a result file spells it as two fields (``message`` and ``message_pt``), the stored format
(``schema.py``) that results of earlier runs already have.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Text:
    """One message in English (``en``) and Brazilian Portuguese (``pt``)."""

    en: str
    pt: str

    @classmethod
    def same(cls, text: str) -> Text:
        """A text both languages write alike: a file name, a line of code, a number."""
        return cls(text, text)

    def get(self, lang: str) -> str:
        """The side of ``lang`` ('pt', else English): where every choice of language is made."""
        return self.pt if lang == "pt" else self.en

    def __str__(self) -> str:
        return self.en

    def __add__(self, other: Text | str) -> Text:
        if isinstance(other, str):
            return Text(self.en + other, self.pt + other)
        if isinstance(other, Text):
            return Text(self.en + other.en, self.pt + other.pt)
        return NotImplemented

    def __radd__(self, other: str) -> Text:
        if isinstance(other, str):
            return Text(other + self.en, other + self.pt)
        return NotImplemented

    def join(self, parts: Iterable[Text | str]) -> Text:
        """``parts`` with this text between them, as ``str.join``."""
        items = [p if isinstance(p, Text) else Text.same(p) for p in parts]
        return Text(self.en.join(p.en for p in items), self.pt.join(p.pt for p in items))

    def format(self, **values: Any) -> Text:
        """Both sides with ``values`` filled in, as ``str.format``; a ``Text`` value fills each side with its own
        language (a number from ``num``: 11.71 in English, 11,71 in Portuguese)."""
        def side(lang: str) -> dict[str, Any]:
            return {k: v.get(lang) if isinstance(v, Text) else v for k, v in values.items()}

        return Text(self.en.format(**side("en")), self.pt.format(**side("pt")))

    def by_lang(self) -> dict[str, str]:
        """The stored spelling of a record keyed by language, ``{"en": en, "pt": pt}`` (a result's Keras 2
        notices, a check's hint): the shape results of earlier runs already have."""
        return {"en": self.en, "pt": self.pt}

    def fields(self, key: str) -> dict[str, str]:
        """The stored spelling: ``{key: en, key_pt: pt}`` (``message``/``message_pt``, ``error``/``error_pt``)."""
        return {key: self.en, f"{key}_pt": self.pt}

    @classmethod
    def read(cls, record: Mapping[str, Any], key: str) -> Text | None:
        """The text a stored record spells as ``key``/``key_pt`` (Portuguese falls back to English), or None."""
        en = record.get(key)
        if not isinstance(en, str) or not en:
            return None
        pt = record.get(f"{key}_pt")
        return cls(en, pt if isinstance(pt, str) and pt else en)


def decimal(x: float, digits: int = 2, lang: str = "en") -> str:
    """A number with ``digits`` decimals as the language writes it: 11.71 in English, 11,71 in Portuguese."""
    text = f"{x:.{digits}f}"
    return text.replace(".", ",") if lang == "pt" else text


def num(x: float, digits: int = 2) -> Text:
    """A number in a message: 11.71 in English, 11,71 in Portuguese."""
    return Text(decimal(x, digits, "en"), decimal(x, digits, "pt"))
