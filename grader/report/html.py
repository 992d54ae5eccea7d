"""``report.html``: one self-contained page an instructor opens from the file system.

Built from the result JSONs only, so it can be regenerated at any time without re-grading.
Everything the page needs is inside it (CSS, images as data URIs, a few lines of JavaScript):
it works offline and from ``file://``. Student-provided text is hostile (names, check messages,
error texts quote student output), so every piece of it goes through :func:`html.escape`, and a
Content-Security-Policy allows only the page's own script (by hash), inline styles and ``data:``
images, so even a missed escape could neither run a script nor make the browser fetch anything.

matplotlib and pandas are imported inside the functions that need them: the CLI must start instantly.
"""

from __future__ import annotations

import base64
import hashlib
import io
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from ..decisions import Review, settled_flags
from ..results import flagged_attempts
from ..schema import CheckResult, CheckStatus, JobResult, JobStatus, well_formed
from ..similarity import Findings
from . import i18n
from .values import Threshold, graded, points, quick, threshold

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: The bars and dots of the plots. Used nowhere else on the page, so a screenshot test can count its pixels.
PLOT_COLOUR = "#1b9e77"
_DPI = 100
_WIDTH_IN = 11  # the page's text width (1116 px) at _DPI: plots are shown unscaled

#: (check name, status) that the instructor must look at; the check's message says what happened.
_CHECK_FLAGS = {("leakage", CheckStatus.FAIL), ("consistency", CheckStatus.FLAG),
                ("test_as_validation", CheckStatus.FLAG), ("honest_claim", CheckStatus.FAIL)}


@dataclass(frozen=True)
class Flag:
    """One (student, exercise) the instructor should look at, and why."""

    student: str
    exercise: str
    reason: str
    message: str
    name: str = ""  # what a decision names to confirm or dismiss it (a check's name, "sandbox", ...)


def write_html(results: list[JobResult], path: Path, *, title: str = "keras-grader report",
               reviews: list[Review] | None = None, similarity: Findings | None = None) -> Path:
    """Write the report page for these results to `path` (folders created) and return `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(results, title, reviews, similarity), encoding="utf-8")
    return path


def render_html(results: list[JobResult], title: str = "keras-grader report",
                reviews: list[Review] | None = None, similarity: Findings | None = None) -> str:
    """The whole page as a string (results read as ``schema.well_formed``: the last one per job; ``reviews``:
    the instructor's decisions as ``decisions.apply`` met them, the results being the decided ones; ``similarity``:
    what ``grader.similarity`` stored beside the reports, when it ran)."""
    results = well_formed(results)
    exercises = sorted({r["exercise"] for r in results})
    totals = _student_totals(results)
    body = "\n".join([
        *_quick_banner(results),
        f"<h1>{escape(title)}</h1>",
        _summary_html(results, totals),
        "<h2>Total scores</h2>",
        _img(_score_histogram(totals), "histogram of the students' total scores"),
        "<h2>Test error per exercise</h2>",
        ('<p class="note">Each dot is one student. Solid line: full credit at or below it; dashed line: '
         "no credit from it on. Green, amber and red bands: full, partial and no credit.</p>"),
        _img(_error_panels(results, exercises), "test errors of each exercise against its threshold"),
        "<h2>Needs the instructor</h2>",
        _flags_html(find_flags(results, reviews, similarity)),
        *(["<h2>Decisions</h2>", _decisions_html(reviews)] if reviews else []),
        *([] if similarity is None else ["<h2>Similar submissions</h2>", _similarity_html(similarity)]),
        "<h2>Students</h2>",
        ('<p class="note">Click a column header to sort; the link keeps the order. '
         "A student's name opens their feedback.</p>"),
        _students_table(results, exercises, totals),
    ])
    csp = (f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
           f"script-src 'sha256-{base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()}'")
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n"
            f"<script>{_SCRIPT}</script>\n</body>\n</html>\n")


def _quick_banner(results: list[JobResult]) -> list[str]:
    """The page's first line when quick runs are among the results: their scores are not grades."""
    if not any(quick(r) for r in results):
        return []
    return ['<p class="quick-banner">Quick mode: these scores are not grades. Training was capped, so the '
            "test-error targets were not graded; the final grades come from a full run (grade all without "
            "--quick).</p>"]


def _fmt_error(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f} %"


@dataclass(frozen=True)
class _Total:
    """One student's total; percent is None when nothing could be scored (no max)."""

    student: str
    total: float
    max_total: float

    @property
    def percent(self) -> float | None:
        return 100 * self.total / self.max_total if self.max_total > 0 else None


def _student_totals(results: list[JobResult]) -> list[_Total]:
    """Per-student totals from the same frame as ``scores.csv``, so the page and the CSV agree."""
    from .tables import scores_frame

    frame = scores_frame(results)
    return [_Total(str(row.student), float(row.total), float(row.max_total))
            for row in frame.itertuples(index=False)]


# --- summary -------------------------------------------------------------------------------------------------------

def _summary_html(results: list[JobResult], totals: list[_Total]) -> str:
    """The class at a glance: who, how many jobs ended how, typical score, and how it was graded."""
    counts = Counter(r["status"] for r in results)
    jobs = " ".join(f'{_badge(s)} {counts[s]}' for s in JobStatus)
    max_total = max((t.max_total for t in totals), default=0.0)
    scores = [t.total for t in totals]
    typical = (f"mean {points(statistics.mean(scores))}, median {points(statistics.median(scores))} "
               f"out of {points(max_total)}" if scores else "—")
    quick = {bool(r["quick"]) for r in results if "quick" in r}
    rows = [
        ("Students", str(len(totals))),
        ("Jobs", f"{len(results)}: {jobs}"),
        ("Total score", typical),
        ("Grader version", _distinct(results, "grader_version")),
        ("Device", _distinct(results, "device")),
        ("Backend", _distinct(results, "backend")),
        ("Keras", _distinct(results, "keras_version")),
        ("Isolation", _distinct(results, "isolation")),
        ("Quick mode", {frozenset(): "—", frozenset({True}): "yes: thresholds not graded",
                        frozenset({False}): "no"}.get(frozenset(quick), "mixed")),
        ("Generated", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
    ]
    cells = "\n".join(f"<tr><th scope=\"row\">{escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="summary">\n{cells}\n</table>'


def _distinct(results: list[JobResult], key: str) -> str:
    """The distinct values of `key` over the results, escaped; jobs that never ran (missing) have none."""
    values = sorted({str(r[key]) for r in results if r.get(key) not in (None, "")})  # type: ignore[literal-required]
    return escape(", ".join(values)) if values else "—"


def _badge(status: JobStatus) -> str:
    return f'<span class="badge st-{status}">{escape(status)}</span>'


# --- plots ---------------------------------------------------------------------------------------------------------

def _img(fig: Figure, alt: str) -> str:
    """The figure as an embedded PNG, shown at its natural size so nothing is resampled."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, metadata={"Software": None})
    width, height = (round(v * _DPI) for v in fig.get_size_inches())
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (f'<img class="plot" src="data:image/png;base64,{data}" width="{width}" height="{height}" '
            f'alt="{escape(alt)}">')


def _figure(width: float, height: float) -> Figure:
    """A figure without pyplot: no global state, no GUI backend, safe in any thread."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=_DPI, layout="constrained")


def _score_histogram(totals: list[_Total]) -> Figure:
    """Histogram of total scores over the whole 0..max range, so a class that did well looks like it."""
    from matplotlib.ticker import MaxNLocator

    fig = _figure(_WIDTH_IN, 3.2)
    ax = fig.add_subplot()
    max_total = max((t.max_total for t in totals), default=0.0) or 1.0
    scores = [t.total for t in totals]
    bins = [max_total * i / 10 for i in range(11)]
    ax.hist(scores, bins=bins, color=PLOT_COLOUR, edgecolor="white", linewidth=1.5)
    if scores:
        ax.axvline(statistics.median(scores), color="#444444", linestyle="--", linewidth=1.2,
                   label=f"median {points(statistics.median(scores))}")
        ax.legend(loc="lower right", bbox_to_anchor=(1, 1), frameon=False, borderaxespad=0)
    else:
        _note(ax, "no students")
    ax.set_xlim(0, max_total)
    ax.set_xticks(bins)
    ax.set_xticklabels([points(b) for b in bins])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(f"total score (out of {points(max_total)})")
    ax.set_ylabel("students")
    _tidy(ax)
    return fig



def exercise_threshold(results: list[JobResult], exercise: str) -> Threshold | None:
    """The exercise's threshold as its results recorded it, or None."""
    return next((t for r in results if r.get("exercise") == exercise and (t := threshold(r)) is not None), None)


def _error_panels(results: list[JobResult], exercises: list[str]) -> Figure:
    """One strip of dots per exercise: where each student's test error lies against the threshold."""
    fig = _figure(_WIDTH_IN, 0.4 + 1.45 * max(len(exercises), 1))
    axes = fig.subplots(max(len(exercises), 1), 1, squeeze=False)[:, 0]
    if not exercises:
        _note(axes[0], "no results")
    for ax, ex in zip(axes, exercises):
        mine = [r for r in results if r["exercise"] == ex]
        errors = [e for r in mine if (e := r.get("test_error")) is not None]
        capped = any(quick(r) for r in mine)  # errors after a capped training: not drawn against the targets
        _error_strip(ax, ex, errors, None if capped else exercise_threshold(results, ex), capped)
    return fig


def _error_strip(ax: Axes, exercise: str, errors: list[float], threshold: Threshold | None,
                 capped: bool = False) -> None:
    """Dots at each test error (jittered vertically so equal errors stay visible), threshold bands and lines.

    The x range is set by the threshold, not by the worst error, so one broken model (90 % error) does
    not squash everyone else into a corner: errors beyond the range are drawn as arrows at its edge.
    """
    ax.set_title(exercise, loc="left", fontsize=11, fontweight="bold")
    ax.set_yticks([])
    ax.set_ylim(-1, 1)
    notes = []
    if capped:
        notes.append("quick mode: errors after capped training, not drawn against the targets")
    elif threshold is None:
        notes.append("no threshold in the results")
    if not errors:
        notes.append("no measured test error")
        ax.set_xticks([])
        _note(ax, "; ".join(notes))
    else:
        right = _draw_threshold(ax, threshold) if threshold is not None else max(errors) * 1.15 or 1.0
        if threshold is not None:
            notes.append(f"full credit ≤ {_fmt_error(threshold.full_credit_max)}, "
                         f"none from {_fmt_error(threshold.zero_credit_min)}")
        notes.insert(0, f"{len(errors)} measured")
        notes += _draw_errors(ax, errors, right)
        ax.set_title("; ".join(notes), loc="right", fontsize=9, color="#555555")
    _tidy(ax)


def _draw_threshold(ax: Axes, threshold: Threshold) -> float:
    """Credit bands and the two threshold lines; returns the right end of the x range they call for."""
    right = max(threshold.zero_credit_min * 1.3, threshold.full_credit_max * 2)
    ax.axvspan(0, threshold.full_credit_max, color="#e3f4e8", zorder=0)
    ax.axvspan(threshold.full_credit_max, threshold.zero_credit_min, color="#fdf1d8", zorder=0)
    ax.axvspan(threshold.zero_credit_min, right, color="#fbe3e1", zorder=0)
    ax.axvline(threshold.full_credit_max, color="#2d6a3e", linewidth=1.6)
    ax.axvline(threshold.zero_credit_min, color="#a03a2c", linewidth=1.4, linestyle="--")
    return right


def _draw_errors(ax: Axes, errors: list[float], right: float) -> list[str]:
    """The dots (arrows at the edge for errors beyond `right`); returns a note on those beyond, if any."""
    import numpy as np

    x = np.array(errors)
    y = np.random.default_rng(0).uniform(-0.55, 0.55, len(x))
    inside = x <= right
    ax.scatter(x[inside], y[inside], s=70, color=PLOT_COLOUR, edgecolor="white", linewidth=0.8, zorder=3,
               clip_on=False)
    ax.set_xlim(0, right)
    ax.xaxis.set_major_formatter("{x:g} %")
    beyond = int((~inside).sum())
    if not beyond:
        return []
    ax.scatter(np.full(beyond, right * 0.985), y[~inside], s=90, marker=">", color=PLOT_COLOUR, zorder=3)
    return [f"{beyond} beyond {_fmt_error(right)} (max {_fmt_error(float(x.max()))})"]


def _note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="#666666")


def _tidy(ax: Axes) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


# --- flags ---------------------------------------------------------------------------------------------------------

def _suspicious(result: JobResult, check: CheckResult) -> bool:
    """A failed leakage or honest_claim check is worth a look only when it found something, not when
    the program never produced a model (then the job's own status already says so)."""
    details = check["details"]
    if check["name"] == "leakage":
        return bool(details.get("leaked_rows"))
    if check["name"] == "honest_claim":
        return result.get("test_error") is not None and bool(details.get("claims"))
    return True


def find_flags(results: list[JobResult], reviews: list[Review] | None = None,
               similarity: Findings | None = None) -> list[Flag]:
    """What the instructor must look at by hand: suspected leakage or dishonesty, what the sandbox stopped,
    unsandboxed runs, grader trouble (results read as ``schema.well_formed``), and, when ``similarity`` ran,
    pairs at or above its threshold and notebooks that share a run (listed under the pair's first student), less
    the flags a decision confirmed or dismissed; plus the decisions that no longer apply (``reviews``: stale or
    unmatched).

    The one source of "Needs the instructor": the HTML page lists it, ``grade all`` and ``grade report``
    print its count and first entries.
    """
    flags = []
    pairs = similarity_flags(similarity) if similarity is not None else []
    for r in well_formed(results):
        student, ex = r["student"], r["exercise"]
        mine = []
        for c in r["checks"]:
            if (c["name"], c["status"]) in _CHECK_FLAGS and _suspicious(r, c):
                mine.append(Flag(student, ex, f"check {c['name']}: {c['status']}", i18n.message(c, "en"), c["name"]))
        if r.get("isolation") == "none":
            mine.append(Flag(student, ex, "isolation: none",
                             "the student's code ran without a sandbox, with the network open", "isolation"))
        if blocked := flagged_attempts(r):
            mine.append(Flag(student, ex, f"sandbox: {len(blocked)} attempt{'s' * (len(blocked) > 1)}",
                             "\n".join(i18n.message(a, "en") for a in blocked), "sandbox"))
        error = i18n.message(r, "en")
        if r["status"] == JobStatus.ERROR and "instructor" in error:
            mine.append(Flag(student, ex, "grading error", error, "grading_error"))
        if r["status"] == JobStatus.GRADER_ERROR:
            mine.append(Flag(student, ex, "grader fault: not graded", error, "grader_fault"))
        mine += [f for f in pairs if (f.student, f.exercise) == (student, ex)]
        settled = settled_flags(r)
        flags += [f for f in mine if f.name not in settled]
    graded = {(r["student"], r["exercise"]) for r in well_formed(results)}
    flags += [f for f in pairs if (f.student, f.exercise) not in graded]  # a pair whose job has no result yet
    for review in reviews or []:
        if review.state != "applied":
            d = review.decision
            flags.append(Flag(d.student, d.exercise, f"decision {review.state}",
                              f"{d.summary()} ({review.why}); renew it with `grade decide {d.student} {d.exercise} "
                              "--renew`, or remove it with `--remove`", "decision"))
    return sorted(flags, key=lambda f: (f.student, f.exercise))


#: The names a decision confirms or dismisses a similarity flag by (on the pair's first student's job).
SIMILAR_CODE, IDENTICAL_RUN = "similar_code", "identical_run"


def similarity_flags(similarity: Findings) -> list[Flag]:
    """One flag per pair at or above the similarity threshold and per pair of notebooks sharing a training log.
    Instructor-only: a flag names the other student, so it never goes into a student's feedback."""
    flags = [Flag(p.student_a, p.exercise, f"similar code: {p.student_b}",
                  f"{p.share_a:.0%} of {p.student_a}'s code and {p.share_b:.0%} of {p.student_b}'s are found in the "
                  f"other's (the course's code discounted; threshold {p.threshold:.0%})"
                  + (f"; side by side: {p.view}" if p.view else "; see similarity.csv"), SIMILAR_CODE)
             for p in similarity.flagged()]
    flags += [Flag(r.student_a, r.exercise, f"identical run: {r.student_b}",
                   f"the saved outputs share {r.records} training-log records (cells {r.cells_a} and {r.cells_b}), "
                   f"first {r.first}; code similarity {r.code_similarity:.0%}"
                   + (f"; both seed their runs with {r.seeds}" if r.seeds else ""), IDENTICAL_RUN)
              for r in similarity.runs]
    return flags


def _flags_html(flags: list[Flag]) -> str:
    if not flags:
        return '<p class="ok-note">Nothing to look at: no leakage, no inconsistency, every run was isolated.</p>'
    rows = "\n".join(
        f"<tr><td>{_student_link(f.student)}</td><td>{escape(f.exercise)}</td><td>{escape(f.reason)}</td>"
        f'<td><div class="message">{escape(f.message)}</div></td></tr>' for f in flags)
    return (f'<table class="flags">\n<thead><tr><th>Student</th><th>Exercise</th><th>Why</th><th>Message</th></tr>'
            f"</thead>\n<tbody>\n{rows}\n</tbody>\n</table>")


def _decisions_html(reviews: list[Review]) -> str:
    """Every decision in force: what it set against what the grader gave, its reason (the student reads it), its
    note (the instructor's only: this page is not the student's), who, when, and whether it applies."""
    rows = []
    for review in sorted(reviews, key=lambda v: (v.decision.student, v.decision.exercise, v.decision.line)):
        d = review.decision
        grader = "" if d.kind != "points" else points(review.grader_points)
        state = escape(review.state) + (f'<div class="note">{escape(review.why)}</div>' if review.why else "")
        rows.append(f"<tr><td>{_student_link(d.student)}</td><td>{escape(d.exercise)}</td>"
                    f"<td>{escape(d.summary())}</td><td class=\"num\">{grader}</td><td>{state}</td>"
                    f'<td><div class="message">{escape(d.reason)}</div></td>'
                    f'<td><div class="message">{escape(d.note)}</div></td>'
                    f"<td>{escape(d.who)}<div class=\"note\">{escape(d.when)}</div></td></tr>")
    return ('<table class="flags decisions">\n<thead><tr><th>Student</th><th>Exercise</th><th>Decision</th>'
            "<th>Grader's points</th><th>State</th><th>Reason (shown to the student)</th>"
            "<th>Note (instructor only)</th><th>Who, when</th></tr></thead>\n<tbody>\n"
            + "\n".join(rows) + "\n</tbody>\n</table>")


def _student_link(student: str) -> str:
    """A link to the feedback written beside the report; the name is quoted for the URL and escaped for HTML."""
    return f'<a href="{escape(quote(student, safe=""))}/feedback.md">{escape(student)}</a>'


# --- similarity ------------------------------------------------------------------------------------------------

#: Pairs shown per exercise in the page's table (every pair is in similarity.csv).
SIMILAR_SHOWN = 10


def _similarity_html(similarity: Findings) -> str:
    """The most similar pairs of each exercise and the notebooks that share a run, each with its side-by-side view."""
    parts = [('<p class="note">Per exercise, every pair of submissions compared (winnowing fingerprints, names, '
              "strings and comments set aside, the course's code discounted): the share of each one's code found "
              "in the other. Similarity changes no score. All pairs are in similarity.csv.</p>")]
    rows = []
    for exercise in sorted({p.exercise for p in similarity.pairs}):
        pairs = sorted((p for p in similarity.pairs if p.exercise == exercise), key=lambda p: -p.similarity)
        shown = [p for i, p in enumerate(pairs) if p.flagged or (i < SIMILAR_SHOWN and p.similarity > 0)]
        rows += [f'<tr class="{"over" if p.flagged else "under"}"><td>{escape(exercise)}</td>'
                 f"<td>{escape(p.student_a)}</td><td>{escape(p.student_b)}</td>"
                 f'<td class="num">{p.share_a:.0%}</td><td class="num">{p.share_b:.0%}</td>'
                 f"<td>{_view_link(p.view)}</td></tr>" for p in shown]
    parts.append(f'<table class="similar">\n<thead><tr><th>Exercise</th><th>Student</th><th>Student</th>'
                 f"<th>Share of the first</th><th>Share of the second</th><th>Matched passages</th></tr></thead>\n"
                 f'<tbody>\n{chr(10).join(rows)}\n</tbody>\n</table>' if rows else
                 '<p class="ok-note">No two submissions share code beyond the course\'s own.</p>')
    parts.append("<h3>Identical runs</h3>")
    parts.append('<p class="note">Notebooks whose saved outputs hold the same training log, to the printed digits: '
                 "most likely one run (independent runs of one program differ in the printed losses). Only training "
                 "logs count, never what the course's own material prints, nor the grader's runs.</p>")
    if similarity.runs:
        runs = "\n".join(
            f"<tr><td>{escape(r.exercise)}</td><td>{escape(r.student_a)} (cells {escape(r.cells_a)})</td>"
            f'<td>{escape(r.student_b)} (cells {escape(r.cells_b)})</td><td class="num">{r.records}</td>'
            f'<td><div class="message">{escape(r.first)}</div></td><td>{escape(r.seeds) or "—"}</td>'
            f'<td class="num">{r.code_similarity:.0%}</td><td>{_view_link(r.view)}</td></tr>' for r in similarity.runs)
        parts.append('<table class="similar">\n<thead><tr><th>Exercise</th><th>Student</th><th>Student</th>'
                     "<th>Records shared</th><th>First</th><th>Seeds both set</th><th>Code similarity</th>"
                     f"<th>Code</th></tr></thead>\n<tbody>\n{runs}\n</tbody>\n</table>")
    else:
        parts.append('<p class="ok-note">No two notebooks share a training log.</p>')
    if similarity.unread:
        items = "".join(f"<li>{escape(u.student)} / {escape(u.exercise)} ({escape(u.file)}): {escape(u.reason)}</li>"
                        for u in similarity.unread)
        parts.append(f'<p class="note">Not compared:</p><ul class="note">{items}</ul>')
    return "\n".join(parts)


def _view_link(view: str) -> str:
    """A link to a side-by-side page written beside the report (its path quoted for the URL, escaped for HTML)."""
    return f'<a href="{escape(quote(view, safe="/"))}">side by side</a>' if view else "—"


# --- students table ------------------------------------------------------------------------------------------------

def _students_table(results: list[JobResult], exercises: list[str], totals: list[_Total]) -> str:
    """One row per student; `data-sort` holds each cell's sort key so the script needs no parsing."""
    by_pair = {(r["student"], r["exercise"]): r for r in results}
    max_score = {ex: max(r.get("max_score", 0.0) for r in results if r["exercise"] == ex) for ex in exercises}
    heads = ['<th data-key="student" data-type="text" scope="col"><button type="button">Student</button></th>']
    heads += [f'<th data-key="{escape(ex)}" data-type="num" scope="col"><button type="button">{escape(ex)}'
              f'<span class="max">/{points(max_score[ex])}</span></button></th>' for ex in exercises]
    heads += ['<th data-key="total" data-type="num" scope="col"><button type="button">Total</button></th>',
              '<th data-key="percent" data-type="num" scope="col"><button type="button">%</button></th>']
    rows = []
    for t in totals:
        cells = [f'<td class="student" data-sort="{escape(t.student)}">{_student_link(t.student)}</td>']
        cells += [_exercise_cell(by_pair.get((t.student, ex))) for ex in exercises]
        percent = "—" if t.percent is None else f"{t.percent:.0f} %"
        total = f'{points(t.total)}<span class="max">/{points(t.max_total)}</span>'
        cells += [f'<td class="num" data-sort="{t.total}">{total}</td>',
                  f'<td class="num" data-sort="{-1 if t.percent is None else t.percent}">{percent}</td>']
        rows.append(f'<tr data-student="{escape(t.student)}">{"".join(cells)}</tr>')
    return (f'<table id="students" class="students">\n<thead><tr>{"".join(heads)}</tr></thead>\n'
            f'<tbody>\n{chr(10).join(rows)}\n</tbody>\n</table>')


def _exercise_cell(r: JobResult | None) -> str:
    """Score, status and measured test error of one job; a student without this job sorts below 0."""
    if r is None:
        return '<td class="num" data-sort="-1">—</td>'
    if not graded(r):
        return f'<td class="num" data-sort="-1">— {_badge(r["status"])}</td>'
    score, error = r["score"] or 0.0, r.get("test_error")
    err = f'<span class="err">{_fmt_error(error)}</span>' if error is not None else ""
    if r.get("excused"):
        return f'<td class="num" data-sort="-1">excused{err}</td>'
    was = r.get("grader_score")
    decided = (f' <s class="was" title="the grader\'s points; the instructor decided otherwise">{points(was)}</s>'
               if was is not None and was != score else "")
    return f'<td class="num" data-sort="{score}">{points(score)}{decided} {_badge(r["status"])}{err}</td>'


_STYLE = """
:root { color-scheme: light; --ink: #1d2430; --muted: #5b6472; --line: #dde1e7; --head: #f3f5f8; }
* { box-sizing: border-box; }
body { margin: 0; background: #fafbfc; color: var(--ink);
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 32px 64px; background: #fff; min-height: 100vh; }
h1 { font-size: 26px; margin: 0 0 18px; }
h2 { font-size: 19px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
.note { color: var(--muted); margin: 4px 0 10px; font-size: 14px; }
.ok-note { color: #2d6a3e; }
img.plot { display: block; max-width: 100%; height: auto; }
table { border-collapse: collapse; font-size: 14px; }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
table.summary th { color: var(--muted); font-weight: 600; padding-right: 24px; }
table.flags td:nth-child(3) { white-space: nowrap; }
table.flags, table.students, table.similar { width: 100%; }
table.similar tr.over td { background: #fdf1d8; }
h3 { font-size: 16px; margin: 22px 0 6px; }
table.flags thead th, table.students thead th { background: var(--head); position: sticky; top: 0; }
table.students tbody tr:nth-child(even), table.flags tbody tr:nth-child(even) { background: #f9fafb; }
table.students tbody tr:hover { background: #eef3fb; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
th button { all: unset; cursor: pointer; font-weight: 600; white-space: nowrap; }
th button::after { content: " ↕"; color: #a8afba; }
th[aria-sort="ascending"] button::after { content: " ▲"; color: var(--ink); }
th[aria-sort="descending"] button::after { content: " ▼"; color: var(--ink); }
th button:focus-visible { outline: 2px solid #4a7bd0; outline-offset: 2px; }
.max { color: var(--muted); font-weight: 400; font-size: 12px; margin-left: 2px; }
.quick-banner { margin: 0 0 12px; padding: 8px 12px; background: #fff3b0; color: #6b5400; font-weight: 600; }
s.was { color: var(--muted); font-size: 12px; }
.err { display: block; color: var(--muted); font-size: 12px; }
.message { white-space: pre-wrap; word-break: break-word; max-height: 12em; overflow: auto;
           font: 13px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; }
.badge { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px; font-weight: 600;
         line-height: 18px; vertical-align: 1px; }
.st-ok { background: #dcf0e2; color: #1e5631; }
.st-partial { background: #fff6cc; color: #6b5800; }
.st-failed { background: #fdebc8; color: #7a4b00; }
.st-error { background: #f9d7d3; color: #8b1e12; }
.st-timeout, .st-resource_limit { background: #e8ddf5; color: #4b2a7a; }
.st-missing, .st-empty { background: #e6e8ec; color: #4a515c; }
.st-grader_error { background: #fff3b0; color: #6b5400; }
a { color: #2456a6; }
"""

# Sorts the students table on a header click; `#sort=<key>-<asc|desc>` in the address keeps (and shares) an order.
_SCRIPT = """
(function () {
  "use strict";
  var table = document.getElementById("students");
  if (!table || !table.tHead) { return; }
  var body = table.tBodies[0];
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  function sortKey(row, i, numeric) {
    var value = row.cells[i].getAttribute("data-sort") || "";
    return numeric ? parseFloat(value) : value.toLowerCase();
  }
  function sortBy(i, ascending) {
    var numeric = heads[i].getAttribute("data-type") === "num";
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = sortKey(a, i, numeric), y = sortKey(b, i, numeric);
      return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
    });
    rows.forEach(function (row) { body.appendChild(row); });
    heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
    heads[i].setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }
  heads.forEach(function (head, i) {
    head.addEventListener("click", function () {
      var current = head.getAttribute("aria-sort");
      var ascending = current ? current === "descending" : head.getAttribute("data-type") !== "num";
      sortBy(i, ascending);
      var hash = "#sort=" + encodeURIComponent(head.getAttribute("data-key")) + "-" + (ascending ? "asc" : "desc");
      try { history.replaceState(null, "", hash); } catch (e) { /* some file:// setups refuse; sorting still works */ }
    });
  });
  var wanted = /^#sort=(.+)-(asc|desc)$/.exec(location.hash), key = null;
  try { key = wanted && decodeURIComponent(wanted[1]); } catch (e) { /* a mangled address keeps the name order */ }
  heads.forEach(function (head, i) {
    if (key !== null && head.getAttribute("data-key") === key) { sortBy(i, wanted[2] === "asc"); }
  });
  table.setAttribute("data-sortable", "ready");
})();
"""
