"""Identical runs: two notebooks whose saved outputs hold the same training log most likely come from one run.

A notebook carries the output of the run that produced it. Independent runs of one program start from
different random weights and batches, so their per-epoch losses differ in the printed digits; a pair of
notebooks whose logs agree epoch for epoch shares one run: the outputs were copied, or one notebook is the
other's under another name. No text-similarity tool sees this, and renaming variables does not hide it.

What the rule reads, and what it leaves out:

- only training logs: a record is one printed line holding a loss figure (Keras's per-epoch line, an
  ``evaluate``, a PyTorch loop's own print), reduced to its ``name: value`` figures with decimals, so
  timings (``3s 12ms/step``, ``ETA: 1s``) never count. For Keras's log, each epoch's record is the last
  such line before the next ``Epoch i/N``: the progress bar's per-batch updates are not records;
- a pair is flagged when its two logs share at least :data:`MIN_SHARED` distinct records: a network stuck at
  one loss prints one record over and over, and two such networks agree by nature, not by copying;
- records that also appear in the course's own material (a handout notebook's saved output, a statement
  quoting a log: ``course_records``) are dropped: a stale output of the course's run is in every copy;
- figures are not used: a figure of the data is identical by nature, and one of 20 predicted labels is
  identical for any two good models, so telling a figure that proves a shared run from one that does not is
  not cheap; the rule stays with logs;
- only the notebooks as submitted, in the class folder: never the grader's own runs (its executed copies
  under ``reports/``), which are seeded and so identical for identical code by design;
- scripts (``.py``) carry no output, so they are never in this list.

Identical logs also come from identical seeded code on one kind of machine: when both notebooks seed their run
with the same number, the listing says so (``seeds``) beside the pair's code similarity.

False alarms, measured (``benchmarks/independent_runs.py``: 12 unseeded runs of each program, each in a fresh
process, on a 2-core Intel Xeon CPU shared with other work, TensorFlow 2.21, Keras 3.15; the logs are kept in
tests/data/independent_runs and the suite checks the rule against them):

- abc_skin (the statement's 6 rows, 20 epochs of one batch): 66 pairs, none flagged; 5 pairs share one record
  somewhere in their logs (an early epoch's ``accuracy=0.3333 loss=1.0xxx``), none share two;
- MNIST, 2,000 images, 3 epochs with validation: 66 pairs, none flagged, none share any record.

So 0 false alarms in 132 pairs of independent runs: a rate below 3/132, about 2.3 % per pair, at 95 %
confidence (the rule of three), and the single shared records show why one record is not enough. What the
measurement does not cover: programs with no randomness at all (zero initial weights, no shuffling) or that
seed themselves print the same log on every run on one kind of machine; for the seeded ones the listing shows
the shared seeds, and the pair's code similarity says whether the programs are the same.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Distinct records two logs must share to be listed (one alone is what two stuck networks share by nature).
MIN_SHARED = 2


_EPOCH = re.compile(r"^\s*Epoch\s+\d+\s*/\s*\d+\s*$", re.IGNORECASE | re.MULTILINE)
#: ``loss: 0.2345``, ``val_accuracy=0.91``, ``loss 1.2e-03``: a name and a value printed with decimals.
_FIGURE = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*[:=]?\s*(?P<value>-?\d+\.\d+(?:[eE][-+]?\d+)?)\b")
_LINE_BREAK = re.compile(r"[\r\n\x08]+")
_SEED = re.compile(r"(?:set_random_seed|set_seed|manual_seed|random\.seed)\s*\(\s*(?:seed\s*=\s*)?(\d+)\s*\)")


def record(line: str) -> str | None:
    """The figures of one printed line as ``name=value`` words, or None when it holds no loss figure."""
    figures = [(m["name"], m["value"]) for m in _FIGURE.finditer(line)]
    if not any("loss" in name.lower() for name, _ in figures):
        return None
    return " ".join(f"{name}={value}" for name, value in figures)


@dataclass(frozen=True)
class TrainingLog:
    """The records of one output's training log, in the order printed."""

    epochs: tuple[str, ...] = ()

    def shared_with(self, other: TrainingLog, ignore: frozenset[str] = frozenset()) -> list[str]:
        """The distinct records both logs hold (less ``ignore``), in this log's order, when there are at least
        :data:`MIN_SHARED` of them; else an empty list."""
        theirs = set(other.epochs) - ignore
        shared = list(dict.fromkeys(r for r in self.epochs if r in theirs))
        return shared if len(shared) >= MIN_SHARED else []


def training_log(text: str) -> TrainingLog:
    """The training log in printed text: one record per Keras epoch (its last line with a loss), and every
    line with a loss where no ``Epoch i/N`` line marks the epochs (a loop of the student's own)."""
    records: list[str] = []
    marks = list(_EPOCH.finditer(text))
    bounds = [0, *(m.start() for m in marks), len(text)]
    for i, (start, end) in enumerate(itertools.pairwise(bounds)):
        found = [r for line in _LINE_BREAK.split(text[start:end]) if (r := record(line))]
        if i == 0:  # before the first "Epoch 1/N": an own loop's prints, or nothing
            records += found
        elif found:
            records.append(found[-1])  # the epoch's final line; the progress bar's updates came before it
    return TrainingLog(tuple(records))


def cell_text(cell: Any) -> str:
    """What a code cell printed, as saved: its stream outputs (stdout and stderr) and plain-text results."""
    parts = []
    for out in cell.get("outputs", []) or []:
        if out.get("output_type") == "stream":  # a stream saved in pieces is one text: a line may span two
            parts.append(_text(out.get("text", "")))
        elif out.get("output_type") in ("execute_result", "display_data"):
            parts.append(f"\n{_text((out.get('data') or {}).get('text/plain', ''))}\n")
    return "".join(parts)


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def notebook_logs(nb: Any) -> dict[int, TrainingLog]:
    """Each code cell's training log, by the cell's number among the code cells (1-based), logs with records only."""
    logs = {}
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for number, cell in enumerate(code_cells, 1):
        log = training_log(cell_text(cell))
        if log.epochs:
            logs[number] = log
    return logs


def seeds(code: str) -> frozenset[str]:
    """The constant seeds the code sets (``keras.utils.set_random_seed(42)``, ``np.random.seed(0)``, ...)."""
    return frozenset(_SEED.findall(code))


def course_records(texts: Iterable[str]) -> frozenset[str]:
    """Every training-log record in the course's own material (outputs of handout notebooks, statements)."""
    return frozenset(r for text in texts for r in training_log(text).epochs)


@dataclass(frozen=True)
class RunMatch:
    """Two notebooks whose saved outputs share a training log: the matching cells and records."""

    student_a: str
    student_b: str
    cells_a: tuple[int, ...]
    cells_b: tuple[int, ...]
    records: tuple[str, ...]
    seeds: tuple[str, ...] = field(default=())  # seeds both programs set (identical seeded code prints one log)


@dataclass(frozen=True)
class Outputs:
    """One submitted notebook's logs by code cell, and the seeds its code sets."""

    student: str
    logs: dict[int, TrainingLog]
    seeds: frozenset[str] = frozenset()


def identical_runs(notebooks: Sequence[Outputs], course: frozenset[str] = frozenset()) -> list[RunMatch]:
    """Every pair of notebooks whose logs share at least :data:`MIN_SHARED` records not found in the course's
    material, with the cells where they match, most records first."""
    matches = []
    for i, a in enumerate(notebooks):
        for b in notebooks[i + 1:]:
            if (found := _match(a, b, course)) is not None:
                matches.append(found)
    return sorted(matches, key=lambda m: (-len(m.records), m.student_a, m.student_b))


def _match(a: Outputs, b: Outputs, course: frozenset[str]) -> RunMatch | None:
    cells_a: set[int] = set()
    cells_b: set[int] = set()
    records: dict[str, None] = {}
    for ca, log_a in a.logs.items():
        for cb, log_b in b.logs.items():
            if shared := log_a.shared_with(log_b, course):
                cells_a.add(ca)
                cells_b.add(cb)
                records.update(dict.fromkeys(shared))
    if not records:
        return None
    return RunMatch(a.student, b.student, tuple(sorted(cells_a)), tuple(sorted(cells_b)), tuple(records),
                    tuple(sorted(a.seeds & b.seeds)))
