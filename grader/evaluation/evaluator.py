"""Trusted evaluation (docs/evaluation.md), in a process apart from the student's: the top of ``grader.evaluation``.

Reads what the probe left (untrusted: ``artifacts`` caps sizes and refuses pickles), loads the graded
model (``keras_model``: ``safe_mode=True``, no Python of the student's runs), recomputes its predictions
on the captured test inputs and runs the exercise's checks (``exercises.configure``). It runs in a
long-lived, sandboxed worker (``worker.py``, started by ``client.Evaluator``), so Keras is imported once.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import data, frameworks
from .. import exercise as exercise_mod
from ..errors import Untrusted
from ..handover import (
    AUDIT_LOG,
    EVENTS,
    EXCEPTION,
    SUMMARY,
    TEST_PRED,
    TEST_X,
    EvaluationJob,
    fit_train_fingerprints,
    fit_val_fingerprints,
    notice_text,
)
from ..schema import CheckStatus
from ..text import Text
from . import attempts as attempts_mod
from .artifacts import read_array, read_events, read_json
from .checks import CorrespondenceParams, Outcome, run_problem
from .context import Context, Problem
from .correspondence import correspondence_texts, match_rows
from .exercises import configure
from .frameworks import framework_problem


def _describe_source(summary: dict[str, Any]) -> tuple[Text, str]:
    """Where the test inputs were captured, and the kind of call."""
    ti = summary.get("test_inputs") if isinstance(summary.get("test_inputs"), dict) else {}
    kind = str(ti.get("kind", ""))
    caller = ti.get("caller") if isinstance(ti.get("caller"), dict) else {}
    calls = {"predict": Text.same("model.predict"), "evaluate": Text.same("model.evaluate"),
             "call": Text.same("model(...)"),
             "validation_data": Text("fit's validation_data", "validation_data do fit")}
    what = calls.get(kind, Text.same(kind))
    if caller.get("line"):
        return what + Text(f" at line {caller['line']}", f" na linha {caller['line']}"), kind
    cell = caller.get("cell")
    if isinstance(cell, int) and not isinstance(cell, bool):  # a notebook's cell (untrusted: only an int is read)
        return what + Text(f" in cell {cell}", f" na célula {cell}"), kind
    return what, kind


def build_context(job: EvaluationJob) -> Context:
    ex = exercise_mod.load(job["exercise"], Path(job["course_root"]))
    art = Path(job["artifacts"])
    sets = data.splits(ex.dataset)  # the data the grader trusts, rebuilt from the verified cache
    ref_x, ref_y = sets["x_test"], sets["y_test"]
    ctx = Context(exercise=ex, quick=job["quick"], quick_epochs=ex.quick_epochs, source=job["source"],
                  statements=job.get("statements") or [], returncode=job["returncode"], timed_out=job["timed_out"],
                  limit_s=job["limit_s"], limit_hit=job.get("limit_hit"), artifacts=art,
                  ref_x_test=ref_x, ref_y_test=ref_y, ref_x_train=sets["x_train"],
                  source_kind=str(job.get("kind") or ""), checks=configure(ex, Path(job["course_root"])))
    problems = []
    try:
        ctx.summary = read_json(art / SUMMARY, {}) or {}
        ctx.exception = read_json(art / EXCEPTION)
        ctx.events = read_events(art / EVENTS)
    except Untrusted as e:
        problems.append(str(e))
    if not isinstance(ctx.summary, dict):
        ctx.summary = {}
    if not (isinstance(ctx.exception, dict) and {"type", "message"} <= ctx.exception.keys()):
        ctx.exception = None
    # quick mode caps each fit's epochs; a program that never asked for more than the cap ran as in a full run,
    # so it is graded as one (its threshold and stated error too)
    ctx.quick = ctx.quick and any((ev["event"] == "fit_start" and ev.get("epochs") != ev.get("epochs_requested"))
                                  or ev["event"] == "quick_stop" for ev in ctx.events)
    ctx.logits = any(isinstance(ev.get("loss"), dict) and ev["loss"].get("from_logits")
                     for ev in ctx.events if ev["event"] == "compile")
    ctx.test_source, ctx.test_source_kind = _describe_source(ctx.summary)
    if (refused := framework_problem(ctx)) is not None:  # a framework the exercise does not accept: nothing to grade
        ctx.run_problem = ctx.model_problem = ctx.test_inputs_problem = refused
        ctx.events = []
        return ctx
    for ev in ctx.events:
        if ev["event"] == "fit_start" and isinstance(ev.get("fit"), int):
            k = ev["fit"]
            try:
                if (fp := read_array(art / fit_train_fingerprints(k), "u")) is not None:
                    ctx.train_fingerprints.append(fp)
                if (fp := read_array(art / fit_val_fingerprints(k), "u")) is not None:
                    ctx.val_fingerprints[k] = fp
            except Untrusted as e:
                problems.append(str(e))

    # the test inputs, as the student prepared them
    try:
        ctx.test_x = read_array(art / TEST_X)
        ctx.child_pred = read_array(art / TEST_PRED)
    except Untrusted as e:
        ctx.test_x, problems = None, [*problems, str(e)]
    if ctx.test_x is None:
        ctx.test_inputs_problem = Problem(
            Text(f"the graded model was never run on the {len(ref_x)} test inputs: call model.evaluate(x_test, "
                 "y_test) or model.predict(x_test) on the whole test set",
                 f"o modelo avaliado nunca foi executado nas {len(ref_x)} entradas de teste: chame "
                 "model.evaluate(x_test, y_test) ou model.predict(x_test) no conjunto de teste inteiro"),
            Text("the graded model was never run on the test inputs",
                 "o modelo avaliado nunca foi executado nas entradas de teste"))

    ctx.lap("read")
    if ctx.test_x is not None:
        _match_test_rows(ctx)
        ctx.lap("match_rows")

    # the graded model
    ctx.model_problem = _load_model(ctx, art, problems)
    ctx.lap("load_model")
    if ctx.model is not None and ctx.test_x is not None:
        try:
            ctx.test_pred = ctx.model.predict(ctx.test_x)
            ctx.test_classes = ctx.decode(ctx.test_pred)
            if len(ctx.test_classes) == len(ref_y):
                ctx.test_error = round(100.0 * float(np.mean(ctx.test_classes != ref_y)), 4)
            else:
                counted = Text(f"the model gave {len(ctx.test_classes)} predictions for {len(ref_y)} test rows",
                               f"o modelo deu {len(ctx.test_classes)} predições para {len(ref_y)} linhas de teste")
                ctx.model_problem = Problem(counted, counted)
                ctx.test_pred = None
        except Exception as e:
            ctx.model_problem = Problem(
                Text(f"the graded model could not be run on the captured test inputs ({type(e).__name__}: "
                     f"{str(e)[:300]})",
                     f"o modelo avaliado não pôde ser executado nas entradas de teste capturadas "
                     f"({type(e).__name__}: {str(e)[:300]})"),
                Text("the graded model could not be run on the test inputs",
                     "o modelo avaliado não pôde ser executado nas entradas de teste"))
            ctx.test_pred = None
    elif ctx.model is not None:
        ctx.model_problem = ctx.test_inputs_problem

    ctx.lap("predict")
    ctx.run_problem = run_problem(ctx)
    if ctx.run_problem is not None:  # the run is the root cause of what it left missing
        if ctx.test_x is None:
            ctx.test_inputs_problem = ctx.run_problem
        if ctx.model is None or ctx.test_x is None:
            ctx.model_problem = ctx.run_problem
    return ctx


def _match_test_rows(ctx: Context) -> None:
    """Put the captured test inputs in the test set's order, when they hold its rows in another order or with
    extra rows; the model is then graded on the real test rows, against their labels.

    The in-order verdict comes first and is kept as it is for inputs in the test set's order. Otherwise each test
    row is looked for by its content (``correspondence.match_rows``); every one must be found, and the rows picked
    must pass the in-order check in their new order, or the inputs stay as captured (and correspondence says what
    differs).
    """
    entry = ctx.checks.get("correspondence")
    params = entry.params if entry is not None and isinstance(entry.params, CorrespondenceParams) else \
        CorrespondenceParams()
    args = (params.spearman_min, params.sample_rows)
    try:
        verdict = correspondence_texts(ctx.test_x, ctx.ref_x_test, *args)
        if verdict[0]:
            ctx.correspondence = verdict
            return
        match = match_rows(ctx.test_x, ctx.ref_x_test)
    except Exception:  # odd shapes or values: the correspondence check itself says what it makes of them
        return
    ctx.correspondence, ctx.row_match = verdict, match
    if match is None or not match.complete:
        return
    picked = ctx.test_x[match.order]
    again = correspondence_texts(picked, ctx.ref_x_test, *args)
    if not again[0]:
        ctx.row_match = None
        return
    captured = len(ctx.test_x)
    ctx.test_x, ctx.correspondence = picked, again
    if ctx.child_pred is not None:
        ctx.child_pred = ctx.child_pred[match.order] if len(ctx.child_pred) == captured else None


def _load_model(ctx: Context, art: Path, problems: list[str]) -> Problem | None:
    """Load the graded model into ctx.model; return what went wrong, if anything.

    The probe names the framework and, when it handed the model over, the file (``summary.json``); the
    framework's record (``grader/frameworks.py``) says which file that is and how to load it.
    """
    summary = ctx.summary
    framework = frameworks.recorded(summary)
    if "model_file" in summary:
        ctx.model, problem = framework.load(art / framework.model_file)
        return problem
    if isinstance(summary.get("save_error"), str) and summary["save_error"]:
        return framework.attr("save_problem")(summary["save_error"])
    if problems:
        return Problem(Text("; ".join(problems),
                            "arquivos deixados pelo programa não puderam ser usados: " + "; ".join(problems)),
                       Text("files the program left could not be used",
                            "arquivos deixados pelo programa não puderam ser usados"))
    # the program stopped or trained nothing (checks.run_problem says which), or it left no model behind
    return Problem(Text("the grader found no model to grade", "o corretor não encontrou um modelo para avaliar"),
                   Text("no model to grade", "nenhum modelo para avaliar"))


def evaluate_job(job: EvaluationJob) -> dict[str, Any]:
    """Run the exercise's checks for one finished run; returns plain JSON values."""
    t0 = time.perf_counter()
    ctx = build_context(job)
    outcomes: dict[str, Outcome] = {}
    for name, configured in ctx.checks.items():
        try:
            outcomes[name] = configured.fn(ctx, configured.params)
        except Exception as e:  # a check must not take the others down
            outcomes[name] = Outcome(CheckStatus.FAIL,
                                     Text(f"the check could not run on this submission ({type(e).__name__}: "
                                          f"{str(e)[:300]})",
                                          f"a verificação não pôde ser executada nesta submissão "
                                          f"({type(e).__name__}: {str(e)[:300]})"))
    stated: set[Problem] = set()
    for name, out in outcomes.items():  # a root cause no check states yet: the first check it stops states it
        if out.status == CheckStatus.NOT_REACHED and out.unstated is not None and out.unstated not in stated:
            stated.add(out.unstated)
            outcomes[name] = Outcome(CheckStatus.FAIL, out.unstated.message, out.details)
    results = []
    for name, entry in ctx.exercise.checks.items():
        out = outcomes[name]
        unmet = [r for r in entry.requires if outcomes.get(r) and outcomes[r].status == CheckStatus.FAIL]
        if unmet and out.status in (CheckStatus.PASS, CheckStatus.PARTIAL):
            out = Outcome(CheckStatus.FAIL,
                          out.message + Text(f" — but no points, since {', '.join(unmet)} failed",
                                             " — mas sem pontos, pois "
                                             + (f"a verificação {unmet[0]} falhou" if len(unmet) == 1
                                                else f"as verificações {', '.join(unmet)} falharam")),
                          out.details)
        points = entry.points
        results.append({"name": name, "status": out.status, "points": round(points * out.earned(), 3),
                        "max_points": points, **out.message.fields("message"), "details": out.details})
    ctx.lap("checks")
    attempts = attempts_mod.collect(job, read_events(ctx.artifacts / AUDIT_LOG))
    ctx.lap("attempts")
    return {
        "checks": results,
        "test_error": ctx.test_error,
        "quick_capped": ctx.quick,
        "backend": ctx.summary.get("backend"),
        "keras_version": ctx.summary.get("keras_version"),
        "graded_model": {"reason": ctx.summary.get("graded_reason"), "test_inputs": ctx.test_source.en or None},
        "exception": ctx.exception,
        "notices": keras2_notices(ctx.events),
        **attempts,
        "eval_seconds": round(time.perf_counter() - t0, 3),
        "eval_stages": ctx.stages,
    }


def keras2_notices(events: list[dict[str, Any]], limit: int = 50) -> list[dict[str, Any]]:
    """The Keras 2 idioms the probe ran as Keras 2 did: [{id, line, en, pt}], texts from this grader's catalogue."""
    notices = []
    for ev in events:
        if ev["event"] != "keras2" or len(notices) >= limit:
            continue
        values = ev.get("values") if isinstance(ev.get("values"), dict) else {}
        text = notice_text(str(ev.get("id")), values)
        if text is None:
            continue  # an id this grader never wrote: the student's process is not trusted
        line = ev.get("line")
        if not isinstance(line, int) or isinstance(line, bool):
            line = None
        notices.append({"id": ev["id"], "line": line, **text.by_lang()})
    return sorted(notices, key=lambda n: (n["line"] is None, n["line"] or 0))  # in the program's order


def warm_up(backend: str | None = None) -> None:
    """Import Keras once, in the evaluator process, before the first job arrives.

    The evaluator uses ``backend`` (a ``.keras`` file loads under any backend) on the CPU: predicting
    10,000 rows is quick there, and the GPUs stay whole for the students' programs.
    """
    import os

    if backend:
        os.environ["KERAS_BACKEND"] = backend
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    os.environ["JAX_PLATFORMS"] = "cpu"
    import keras  # noqa: F401
