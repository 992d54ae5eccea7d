"""Find the test error a student states (pt-BR or English), in what the student wrote and nowhere else.

Where statements are read: a script's comments and string literals; a notebook's Markdown, the comments
and strings of its code cells, and the outputs saved in the submitted notebook (the student's own run).
What the program prints while the grader runs it is not a statement: a program that prints its test
error would "state" exactly the figure the grader measures.

What is read (one line at a time, by the small grammar below: a table of words, a tokenizer, figures
attached to the nearest label):

- an error or an accuracy ("erro", "taxa de erro", "error rate", "acurácia", "acuracia", "accuracy",
  "acc", "acertos", and "precisão" as students use it), converted to an error (100 - accuracy);
- in percent ("1,45 %", "1.45%", "98 por cento"), as a bare number, or as a fraction ("0.9912",
  "9855/10000"); comma or point decimals. A label's unit counts ("Acurácia de teste (%): 99.5"). A bare
  number above 1 is percent; one of at most 1 is read both ways (fraction and percent), and either
  reading may match;
- a range ("entre 1,39 % e 1,58 %", "1.6-2.1 %", "0,00 a 0,15 %", "1,45 ± 0,05 %");
- the list Keras's ``evaluate`` returns, after a label ("custo e acurácia de teste: [0.031, 0.9912]"):
  its elements follow the label's words when they name each one, else the second is the accuracy
  ([loss, accuracy]); in a notebook, a bare list in the output of a cell with one ``evaluate(...)`` call
  (not on the training data), as the cell's result or printed;
- the progress line ``evaluate`` prints ("313/313 ━━━━ 1s 2ms/step - accuracy: 0.9912 - loss: 0.0310",
  or Keras 2's "[=====]" bar), read as a fraction.

What is not a statement about the test set: goals ("erro menor que 1,61 %", "meta", "below", "<": the
figures after such a word, to the end of its sentence or bracket); figures labelled training or
validation; loss ("custo", "perda", "loss"); counts ("30 épocas", "512 neurônios"); the training log:
"Epoch n/N", the progress line of each epoch (the first after "Epoch n/N", or any with ``val_``
metrics), a printed ``history.history``, and a line that starts with an epoch number unless it names
the test set.

A line that names the test error or accuracy with a label (``erro de teste: ...``) but no figure that
can be read is kept as "not understood", so the feedback can quote it and name the form to use.

The rule among several statements (``match``): generous, as the course always graded. The statement
passes when any reading of any statement about the test set lies within the tolerance of the
measured error (a range widened by the tolerance on each side); the first such statement, in the
order of the file, is the one the feedback names.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .text import Text, decimal

# --- the vocabulary -------------------------------------------------------------------------------

#: What a word names, as alternatives of a regular expression matched against the whole lower-case word.
#: The first kind that matches wins (so "val_accuracy" is a validation figure, not an accuracy).
VOCABULARY: dict[str, tuple[str, ...]] = {
    "validation": ("val", r"valid\w*", r"valida[cç][aã]o", r"val_\w+"),
    "error": ("erro", "erros", "error", "errors", "err", "misclassification", "errou", "erraram", r"errad[ao]s?"),
    "accuracy": ("acc", "accuracy", r"ac+ur+[aá]c(?:y|ia|ias|idade)", "accuracia", r"acert(?:os?|ou|aram|ad[ao]s?)",
                 r"precis[aã]o", r"exatid[aã]o", r"\w+_accuracy"),  # "precisão": as students use it, accuracy
    "loss": ("loss", "losses", "custo", "perda", "cost", r"\w+_loss", r"\w*crossentropy"),
    "test": (r"\w*test\w*",),
    "train": (r"trein\w*", r"train\w*"),
    "evaluate": ("evaluate", r"avalia[cç][aã]o", "avaliar"),
    "opener": ("entre", "between", "from"),  # of a range: "entre 1,39 % e 1,58 %"
    "connector": ("e", "and", "a", "to", r"at[eé]"),
    # a number right before or after one of these counts something (epochs, units, seconds, a line)
    "count": (r"[eé]pocas?", r"epochs?", r"seeds?", r"sementes?", r"camadas?", r"layers?", r"batch(?:es|_size)?",
              r"lotes?", r"runs?", r"execu[cç](?:[aã]o|[oõ]es)", r"steps?", r"passos?", r"itera[cç](?:[aã]o|[oõ]es)",
              r"iterations?", r"neur[oô]nios", "neurons", "units", "unidades", "programa", "program",
              r"vers[aã]o", "version", r"exerc[ií]cio", "exercise", "cell", r"c[eé]lulas?", r"linhas?", r"lines?",
              "figura", "figure", "dropout", "lr", "learning_rate", r"aprendiza\w*", "decay", "momentum",
              "patience", r"paci[eê]ncia", "l1", "l2", r"segundos?", r"seconds?", "s", "ms", "min", r"minutos?",
              r"minutes?", "h", r"horas?", r"hours?", r"par[aâ]metros", "parameters", "params", "imagens", "images",
              "amostras", "samples", "exemplos", "examples", r"notas?", r"notes?", "classes", "vezes", "times", "x",
              "k", "mb", "gb", r"seed_\w*"),
}
WORDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile("|".join(alternatives))) for kind, alternatives in VOCABULARY.items())

#: Words that make what follows a goal, not a result ("erro menor que 1,61 %").
GOAL = (r"menor(?:es)?\s+(?:do\s+)?que|less\s+than|lower\s+than|below|abaixo\s+d[aeo]s?|inferior(?:es)?\s+a|objetivo|goal|"
        r"target|meta|at\s+most|no\s+m[aá]ximo|<=?|≤")

NUMBER = r"\d+(?:[.,]\d+)?(?:e[-+]?\d+)?"
#: One token of a line: the alternatives are tried in this order at each position.
TOKEN = re.compile(rf"""
  (?P<list>\[\s*-?{NUMBER}(?:\s*,\s*-?{NUMBER})+\s*\])
| (?P<format>\{{[^}}]*\}}|%[-+0#]*\d*(?:\.\d+)?[dfgesir](?!\w)|%%)
| (?P<unitlabel>[(\[]\s*(?:%|percent|por\s*cento)\s*[)\]]|\b(?:em|in)\s+%)
| (?P<goal>\b(?:{GOAL})\b|<=?|≤)
| (?P<number>(?<![\w.,]){NUMBER}(?!\w))
| (?P<percent>%|\bpor\s*cento\b|\bpercent\b|\bpct\b)
| (?P<plusminus>±|\+/-|\+-)
| (?P<dash>[-–—])
| (?P<slash>/)
| (?P<colon>[:=])
| (?P<open>[(\[])
| (?P<close>[)\]])
| (?P<stop>[;!?]|\.(?!\d))
| (?P<word>[^\W\d_]\w*)
""", re.VERBOSE)

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
#: A line of Keras's progress bar: "313/313 ━━━━ 1s 2ms/step - accuracy: ...", "313/313 [====] - 1s ...",
#: Keras 2's verbose=2 "1875/1875 - 4s - loss: ...".
PROGRESS = re.compile(r"^\s*(\d+)/(\d+)\s+(?:\[[=>.\s]*\]|━+|-\s)")
METRIC = re.compile(rf"\b([a-z_]+):\s*({NUMBER})")
#: "Epoch 3/20" opens an epoch of fit's log; a line that starts with an epoch number belongs to the log too.
EPOCH_HEADER = re.compile(r"^\s*(?:epoch|[eé]poca)\s+\d+\s*/\s*\d+\s*$", re.IGNORECASE)
EPOCH_LINE = re.compile(r"^\s*(?:epoch|[eé]poca)\s*:?\s*\d+", re.IGNORECASE)
#: A printed dict of lists, as ``history.history``: {'accuracy': [0.91, 0.95], ...} is the training log.
HISTORY = re.compile(r"\{\s*['\"]\w+['\"]\s*:\s*\[")
#: A line that may hold a statement (a cheap filter before the grammar reads it).
MAY_STATE = re.compile(r"err|acur|accur|acc\b|acert|precis|exatid|evaluate", re.IGNORECASE)
MARKUP = re.compile(r"\*\*|__|`|^\s*(?:#+|>+|[-*+]\s)\s*")

#: A claim needs a label; the job carries at most this many lines that may state one.
MAX_STATEMENTS = 2000
#: A line is read up to this many tokens and figures: a statement is short, and a hostile line of
#: thousands of numbers must not slow the check down (reading is quadratic in the figures of a clause).
MAX_TOKENS = 120
MAX_FIGURES = 12


# --- what a line states ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Reading:
    """One way to read a stated figure: the test error it means, in percent (a range when low < high)."""

    low: float
    high: float
    scale: str  # "percent" or "fraction": how the written number was taken

    def within(self, measured: float, tolerance: float) -> bool:
        return self.low - tolerance - 1e-9 <= measured <= self.high + tolerance + 1e-9

    def distance(self, measured: float) -> float:
        return max(self.low - measured, measured - self.high, 0.0)

    def error_text(self) -> Text:
        if self.low == self.high:
            return Text(f"{decimal(self.low)} %", f"{decimal(self.low, lang='pt')} %")
        return Text(f"{decimal(self.low)}-{decimal(self.high)} %",
                    f"{decimal(self.low, lang='pt')} a {decimal(self.high, lang='pt')} %")


@dataclass(frozen=True)
class Claim:
    """A statement about the test set: what was written, where, and each way it can be read."""

    source: str                # "comment" (a comment or string literal), "markdown" or "stored_output"
    line: int                  # the script's line; in a notebook, the cell's number (from 1)
    text: str                  # the line, as read
    quantity: str              # "error" or "accuracy", as the student wrote it
    written: str               # the figure as written ("0,9912", "1,39 % e 1,58 %")
    unit: str                  # "percent", "fraction" (a ratio, a Keras list or progress line) or "" (none)
    readings: tuple[Reading, ...]

    @property
    def error(self) -> float:
        """The test error of the first reading, in percent (a range's middle)."""
        first = self.readings[0]
        return round((first.low + first.high) / 2, 4)

    def best(self, measured: float, tolerance: float) -> Reading | None:
        """The reading closest to the measured error, if it lies within the tolerance."""
        fits = [r for r in self.readings if r.within(measured, tolerance)]
        return min(fits, key=lambda r: r.distance(measured)) if fits else None

    def described(self, reading: Reading | None = None) -> Text:
        """How the statement was read: "1,45 %", or "an accuracy of 0.9912 (no unit), read as a fraction: 99.12 %,
        that is an error of 0.88 %" (with ``reading``, that reading alone; else every one)."""
        readings = (reading,) if reading else self.readings
        if self.quantity == "error" and self.unit == "percent":
            return Text.same(self.written)  # read as written: "1,45 %", "entre 1,39 % e 1,58 %"
        what = (Text("an error of ", "um erro de ") if self.quantity == "error"
                else Text("an accuracy of ", "uma acurácia de "))
        out = what + Text.same(self.written)
        if not self.unit:
            out += Text(" (no unit)", " (sem unidade)")
        return out + Text(", read as ", ", lida como ") + Text(" or as ", " ou como ").join(
            self._reading_text(r) for r in readings)

    def _reading_text(self, r: Reading) -> Text:
        how = Text("a fraction: ", "fração: ") if r.scale == "fraction" else Text("percent: ", "percentual: ")
        if self.quantity == "error":
            return how + r.error_text()
        acc = Reading(round(100 - r.high, 4), round(100 - r.low, 4), r.scale)
        return how + acc.error_text() + Text(", that is an error of ", ", ou seja, um erro de ") + r.error_text()

    def as_json(self) -> dict[str, Any]:
        return {"error": self.error, "source": self.source, "line": self.line, "text": self.text,
                "quantity": self.quantity, "written": self.written, "unit": self.unit,
                "readings": [[r.low, r.high, r.scale] for r in self.readings]}


@dataclass(frozen=True)
class Unread:
    """A line that names the test error or accuracy with a label, but no figure that can be read."""

    source: str
    line: int
    text: str


@dataclass
class _Token:
    kind: str
    text: str
    value: float | None = None
    depth: int = 0
    span: tuple[int, int] = (0, 0)  # where it lies in the line


@dataclass
class _Figure:
    """A figure of a line (a number, range, ratio or list) and the tokens around it."""

    start: int                   # index of its first token
    end: int                     # index after its last token
    values: list[float]
    shape: str                   # "number", "range", "ratio", "list", "progress"
    percent: bool
    written: str
    labels: list[str] = field(default_factory=list)


def _visible(text: str) -> str:
    """What a terminal would show of a stored output line: no colours, carriage returns and backspaces applied."""
    text = ANSI.sub("", text)
    if "\r" in text:
        shown = [part for part in text.split("\r") if part.strip()]
        text = shown[-1] if shown else ""
    if "\b" in text:
        out: list[str] = []
        for ch in text:
            if ch == "\b":
                if out:
                    out.pop()
            else:
                out.append(ch)
        text = "".join(out)
    return text


def _word_kind(word: str) -> str:
    for kind, pattern in WORDS:
        if pattern.fullmatch(word):
            return kind
    return "word"


def _number(text: str) -> float:
    return float(text.replace(",", "."))


def _tokens(line: str) -> list[_Token]:
    out: list[_Token] = []
    depth = 0
    for m in TOKEN.finditer(line.lower()):
        if len(out) == MAX_TOKENS:
            break
        kind, text = m.lastgroup or "", m.group()
        if kind == "word":
            kind = _word_kind(text)
        elif kind == "open":
            depth += 1
        elif kind == "close":
            depth = max(depth - 1, 0)
        value = _number(text) if kind == "number" else None
        out.append(_Token(kind, text, value, depth, m.span()))
    return out


def _list_values(text: str) -> list[float]:
    return [float(v) for v in re.findall(rf"-?{NUMBER}", text)]


def _written(line: str, tokens: list[_Token]) -> str:
    """A figure as the student wrote it, its percent sign set apart as the messages write it ("1,45 %")."""
    return re.sub(r"\s*%", " %", line[tokens[0].span[0]:tokens[-1].span[1]])


def _figures(line: str, tokens: list[_Token]) -> list[_Figure]:
    """The figures of a clause's tokens: numbers with their unit, ranges, ratios and lists."""
    figures: list[_Figure] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t.kind == "list":
            figures.append(_Figure(i, i + 1, _list_values(t.text), "list", False, t.text))
            i += 1
            continue
        if t.kind != "number":
            i += 1
            continue
        j, first_percent = i + 1, False
        if j < len(tokens) and tokens[j].kind == "percent":
            first_percent, j = True, j + 1
        fig = _Figure(i, j, [t.value or 0.0], "number", first_percent, _written(line, tokens[i:j]))
        nxt = tokens[j] if j < len(tokens) else None
        after = tokens[j + 1] if j + 1 < len(tokens) else None
        opened = i > 0 and tokens[i - 1].kind == "opener"
        joins = nxt is not None and (nxt.kind in ("dash", "plusminus") or (nxt.kind == "connector" and (
            nxt.text not in ("e", "and") or opened)))
        if joins and after is not None and after.kind == "number" and nxt is not None:
            k = j + 2
            second_percent = k < len(tokens) and tokens[k].kind == "percent"
            k += second_percent
            low, high = t.value or 0.0, after.value or 0.0
            if nxt.kind == "plusminus":
                low, high = low - high, low + high
            if low <= high:
                fig = _Figure(i, k, [round(low, 6), round(high, 6)], "range", first_percent or second_percent,
                              _written(line, tokens[i:k]))
                j = k
        elif not first_percent and nxt is not None and nxt.kind == "slash" and after is not None \
                and after.kind == "number" and (after.value or 0) >= (t.value or 0) > 0 and (after.value or 0) > 1:
            fig = _Figure(i, j + 2, [(t.value or 0) / (after.value or 1)], "ratio", False, _written(line, tokens[i:j + 2]))
            j += 2
        figures.append(fig)
        i = j
    return figures


def _is_count(tokens: list[_Token], fig: _Figure) -> bool:
    """A bare number next to a word that counts ("30 épocas", "camada de 512"?) is not a claim."""
    before = tokens[fig.start - 1] if fig.start > 0 else None
    if before is not None and before.kind == "count":
        return True
    after = tokens[fig.end] if fig.end < len(tokens) else None
    return fig.shape != "list" and not fig.percent and after is not None and after.kind == "count"


def _goal_scopes(tokens: list[_Token]) -> list[bool]:
    """For each token, whether a goal word before it in its sentence or bracket makes it a goal."""
    out, scope = [], None
    for t in tokens:
        if scope is not None and t.depth < scope:
            scope = None
        if t.kind == "goal":
            scope = t.depth if scope is None else min(scope, t.depth)
        out.append(scope is not None)
    return out


def _clauses(tokens: list[_Token]) -> list[list[_Token]]:
    out: list[list[_Token]] = [[]]
    for t in tokens:
        if t.kind == "stop":
            out.append([])
        else:
            out[-1].append(t)
    return [c for c in out if c]


@dataclass(frozen=True)
class _Stated:
    quantity: str
    written: str
    unit: str
    readings: tuple[Reading, ...]


def _readings(quantity: str, values: list[float], percent: bool, explicit_fraction: bool) -> tuple[Reading, ...]:
    """The errors a figure may mean: one reading, or two for a bare number of at most 1."""
    lo, hi = min(values), max(values)
    if percent or (not explicit_fraction and hi > 1):
        scales = ["percent"]
    elif explicit_fraction:
        scales = ["fraction"] if hi <= 1 else ["percent"]
    else:
        scales = ["fraction", "percent"]
    out = []
    for scale in scales:
        a, b = (lo * 100, hi * 100) if scale == "fraction" else (lo, hi)
        if not 0 <= a <= b <= 100:
            continue
        if quantity == "accuracy":
            a, b = 100 - b, 100 - a
        out.append(Reading(round(a, 4), round(b, 4), scale))
    return tuple(out)


def _list_element(fig: _Figure, labels: list[str]) -> tuple[str, int] | None:
    """Which element of a Keras list states the test error or accuracy, and which it is."""
    named = [k for k in labels if k in ("error", "accuracy", "loss")]
    if len(named) == len(fig.values):
        for index, kind in enumerate(named):
            if kind in ("error", "accuracy"):
                return kind, index
        return None
    if len(fig.values) >= 2 and ("accuracy" in labels or "evaluate" in labels or "error" in labels):
        return "accuracy", 1  # what evaluate returns: [loss, accuracy]
    return None


def _label(tokens: list[_Token], fig: _Figure, previous_end: int, next_start: int) -> tuple[list[str], str | None, bool]:
    """The label of a figure: its quantity words (before it, else right after it), its set, a label unit.

    The set is the one its label names ("erro de teste: 1,4 %"), else one right after it ("0,5 % no treino"),
    else one between the previous figure and it ("..., teste: 1,4 %"), else the label's ("entre 1,39 e 1,58").
    """
    quantity_kinds = ("error", "accuracy", "loss", "evaluate")
    set_kinds = ("test", "train", "validation")
    before = tokens[:fig.start]
    region = tokens[previous_end:fig.start]
    following = tokens[fig.end:next_start]
    quantities = [t.kind for t in before if t.kind in quantity_kinds]
    labelled_here = any(t.kind in quantity_kinds for t in region)
    if not quantities:  # "1,52 % de erro no teste", "0.98 accuracy": the label follows, right after a bare number
        reach = following if fig.percent else following[:3]
        quantities = [t.kind for t in reach if t.kind in quantity_kinds][:1]
        labelled_here = True
        region = region + following
    sets = [t.kind for t in region if t.kind in set_kinds] if labelled_here else []
    if not sets:
        after = [t for t in following if t.kind in set_kinds + quantity_kinds]
        sets = [after[0].kind] if after and after[0].kind in set_kinds else []
    if not sets:
        sets = [t.kind for t in region if t.kind in set_kinds]
    if not sets:
        sets = [t.kind for t in before if t.kind in set_kinds][-1:]
    the_set = "test" if "test" in sets else (sets[-1] if sets else None)
    unit = any(t.kind == "unitlabel" for t in before)
    labels = quantities if fig.shape == "list" else quantities[-1:]
    return labels, the_set, unit


def _read_clause(line: str, tokens: list[_Token]) -> tuple[list[_Stated], bool]:
    """What a clause states, and whether it names the test error with a label but no readable figure."""
    goals = _goal_scopes(tokens)
    stated: list[_Stated] = []
    attempted = False
    previous_end = 0
    figures = _figures(line, tokens)[:MAX_FIGURES]
    for n, fig in enumerate(figures):
        next_start = figures[n + 1].start if n + 1 < len(figures) else len(tokens)
        labels, the_set, unit = _label(tokens, fig, previous_end, next_start)
        own_label = any(t.kind in ("error", "accuracy", "loss", "evaluate", "test", "train", "validation", "colon")
                        for t in tokens[previous_end:fig.start])
        previous_end = fig.end
        if n and not own_label and not fig.percent and not unit and fig.shape != "list":
            continue  # "1,45 % (0 ou 1 nota errada)": a bare number after another figure has no label of its own
        if goals[fig.start] or the_set in ("train", "validation"):
            attempted = True  # a goal or another set's figure: not a test statement, and not one misread
            continue
        if _is_count(tokens, fig) or not labels:
            continue
        if fig.shape == "list":
            chosen = _list_element(fig, labels)
            if chosen is None:
                continue
            quantity, index = chosen
            values, explicit, written = [fig.values[index]], True, f"{fig.values[index]:g} ({fig.written})"
        else:
            quantity = labels[-1]
            values, explicit, written = fig.values, fig.shape == "ratio", fig.written
            if quantity not in ("error", "accuracy"):
                continue
        percent = fig.percent or unit
        readings = _readings(quantity, values, percent, explicit)
        if readings:
            stated.append(_Stated(quantity, written, "percent" if percent else (
                "fraction" if explicit else ""), readings))
    unread = not stated and not attempted and _names_a_statement(tokens)
    return stated, unread


def _names_a_statement(tokens: list[_Token]) -> bool:
    """A label for the test error or accuracy, a colon and something that is not a figure ("erro de teste: ?")."""
    if any(t.kind in ("format", "train", "validation", "loss") for t in tokens):
        return False
    label = next((i for i, t in enumerate(tokens) if t.kind in ("error", "accuracy")), None)
    if label is None:
        return False
    colon = next((i for i, t in enumerate(tokens) if i > label and t.kind == "colon"), None)
    if colon is None:
        return False
    rest = tokens[colon + 1:]  # "Test error:", err names a variable: code, not a statement
    return bool(rest) and not any(t.kind in ("error", "accuracy", "loss") for t in rest)


def _progress(line: str) -> list[_Stated] | None:
    """A progress line of ``evaluate`` states the accuracy as a fraction; None when the line is not one."""
    m = PROGRESS.match(line)
    if m is None:
        return None
    out = []
    for name, value in METRIC.findall(line.lower()):
        if _word_kind(name) == "accuracy" and name != "acertos":
            readings = _readings("accuracy", [_number(value)], False, True)
            if readings:
                out.append(_Stated("accuracy", value, "fraction", readings))
    return out


def read_line(text: str) -> tuple[list[_Stated], bool]:
    """What one line states about the test set (a list of figures), and whether it is a statement not understood.

    The line is read alone: whether a progress line belongs to ``fit`` is decided before (``training_log``).
    """
    line = MARKUP.sub("", _visible(text)).strip()
    if HISTORY.search(line):
        return [], False
    progress = _progress(line)
    if progress is not None:
        return ([], False) if "val_" in line.lower() else (progress, False)
    tokens = _tokens(line)
    if EPOCH_LINE.match(line) and not any(t.kind == "test" for t in tokens):
        return [], False
    stated: list[_Stated] = []
    unread = False
    for clause in _clauses(tokens):
        found, not_understood = _read_clause(line, clause)
        stated += found
        unread = unread or not_understood
    return stated, unread and not stated


def training_log(lines: list[str]) -> list[bool]:
    """Which lines of a block (one saved output, one run of comment lines) are fit's training log.

    "Epoch n/N" opens an epoch; the first complete progress line after it is that epoch's (any with
    ``val_`` metrics is fit's too); a complete progress line after the epoch's, with no new "Epoch n/N",
    is ``evaluate``'s: in a notebook's saved output, fit's log and evaluate's line share the stream.
    """
    out, in_epoch = [], False
    for raw in lines:
        line = MARKUP.sub("", _visible(raw)).strip()
        if EPOCH_HEADER.match(line):
            in_epoch = True
            out.append(True)
            continue
        m = PROGRESS.match(line)
        if m is None:
            out.append(False)
            continue
        complete = m.group(1) == m.group(2)
        out.append(in_epoch or "val_" in line.lower() or not complete)
        if complete:
            in_epoch = False
    return out


# --- where statements are ---------------------------------------------------------------------------

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


def _without_log(block: list[tuple[str, int, str]]) -> list[tuple[str, int, str]]:
    log = training_log([text for _, _, text in block])
    return [(source, line, _visible(text)) for (source, line, text), fit in zip(block, log) if not fit]


def _comment_blocks(lines: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    """Runs of consecutive comment lines: a pasted training log is one run."""
    blocks: list[list[tuple[int, str]]] = []
    for number, text in lines:
        if blocks and number - blocks[-1][-1][0] <= 1:
            blocks[-1].append((number, text))
        else:
            blocks.append([(number, text)])
    return blocks


def script_statements(source: str) -> list[tuple[str, int, str]]:
    """(source, line, text) of a script's statements: its comments and string literals, less any training log."""
    out: list[tuple[str, int, str]] = []
    for block in _comment_blocks(comment_lines(source)):
        out += _without_log([("comment", number, text) for number, text in block])
    return out


#: ``evaluate`` on the training data: a name with "train"/"trein", or the handout's AX (QX is its test set).
ON_TRAINING = re.compile(r"\.evaluate\(\s*(?:\w*(?:train|trein)\w*|ax)\b", re.IGNORECASE)


BARE_LIST = re.compile(r"\s*\[[^\]]*\]\s*")


def _evaluate_call(cell: Any) -> str | None:
    """The cell's one ``evaluate(...)`` call on data that is not the training set, as written (else None)."""
    calls = [line.strip() for line in cell.source.splitlines() if ".evaluate(" in line and not
             line.lstrip().startswith("#")]
    return calls[0][:150] if len(calls) == 1 and not ON_TRAINING.search(calls[0]) else None


def _evaluate_list(call: str | None, text: str) -> str | None:
    """A bare list in the output of a cell with one ``evaluate`` call is what it returned: [loss, accuracy].

    It is both the cell's result (``model.evaluate(QX, QY)`` as last line) and what ``print`` shows of it.
    """
    return f"{call} -> {text.strip()}" if call and BARE_LIST.fullmatch(text) else None


def notebook_statements(nb: Any) -> list[tuple[str, int, str]]:
    """(source, cell number, text) of a notebook's statements: Markdown, code comments and strings, stored outputs."""
    out: list[tuple[str, int, str]] = []
    for number, cell in enumerate(nb.cells, 1):
        if cell.cell_type == "markdown":
            out += _without_log([("markdown", number, text) for text in cell.source.splitlines()])
        elif cell.cell_type == "code":
            for block in _comment_blocks(comment_lines(cell.source)):
                out += _without_log([("comment", number, text) for _, text in block])
            call = _evaluate_call(cell)
            for output in cell.get("outputs", []):
                lines = _output_text(output).splitlines()
                out += _without_log([("stored_output", number, _evaluate_list(call, line) or line) for line in lines])
    return out


def statements(submission: Path) -> list[dict[str, Any]]:
    """The lines of a submitted file that may state a test error, as the evaluator receives them (plain JSON)."""
    if submission.suffix == ".ipynb":
        from .notebooks import read

        try:
            found = notebook_statements(read(submission))
        except ValueError:  # unreadable: the run says why
            return []
    else:
        found = script_statements(submission.read_text(errors="replace"))
    kept = [{"source": source, "line": line, "text": text.strip()[:300]}
            for source, line, text in found if MAY_STATE.search(text)]
    return kept[:MAX_STATEMENTS]


# --- what the check reads -----------------------------------------------------------------------------

def find_claims(statements: list[dict[str, Any]]) -> list[Claim]:
    """The claims in the student's statements (see ``statements``), in their order."""
    return read_statements(statements)[0]


def read_statements(statements: list[dict[str, Any]]) -> tuple[list[Claim], list[Unread]]:
    """The claims in the student's statements, in their order, and the lines that state one not understood."""
    claims: list[Claim] = []
    unread: list[Unread] = []
    for s in statements:
        text = str(s.get("text", ""))
        found, not_understood = read_line(text)
        shown = text.strip()[:200]
        claims += [Claim(s["source"], s["line"], shown, f.quantity, f.written, f.unit, f.readings) for f in found]
        if not_understood:
            unread.append(Unread(s["source"], s["line"], shown))
    return claims, unread


@dataclass(frozen=True)
class Match:
    claim: Claim
    reading: Reading


def match(claims: list[Claim], measured: float, tolerance: float) -> Match | None:
    """The first statement (in the file's order) with a reading within ``tolerance`` points of the measured error.

    Generous on purpose: any statement about the test set may match, any of its readings (a bare number
    of at most 1 is read as a fraction and as percent), and a range matches anywhere inside it.
    """
    for claim in claims:
        if (reading := claim.best(measured, tolerance)) is not None:
            return Match(claim, reading)
    return None
