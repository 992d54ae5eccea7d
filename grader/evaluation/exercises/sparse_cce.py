"""sparse_cce: the handout's program 5 with SparseCategoricalCrossentropy instead of to_categorical."""

from __future__ import annotations

from typing import Any

from ...schema import CheckStatus
from ...text import Text
from ..checks import CheckParams, CheckSet, Outcome, not_reached
from ..context import Context
from ..source import source_line

CHECKS = CheckSet("sparse_cce")


def _is_sparse_cce(loss: Any) -> bool:
    if isinstance(loss, str):
        return loss.lower().replace(" ", "") in ("sparse_categorical_crossentropy", "sparsecategoricalcrossentropy")
    if isinstance(loss, dict):
        names = {str(loss.get("class", "")), str(loss.get("name", ""))}
        return bool({"SparseCategoricalCrossentropy", "sparse_categorical_crossentropy"} & names)
    return False


@CHECKS.check("sparse_loss")
def sparse_loss(ctx: Context, params: CheckParams) -> Outcome:
    compiles = ctx.events_of_graded("compile")
    if not compiles and ctx.run_problem is not None:
        return not_reached(ctx, ctx.run_problem)
    if not compiles:
        return Outcome(CheckStatus.FAIL, Text("the graded model was never compiled",
                                              "o modelo avaliado nunca foi compilado"))
    loss = compiles[-1].get("loss")
    line = (compiles[-1].get("caller") or {}).get("line")
    where = Text(f" (compile at line {line})", f" (compile na linha {line})") if line else Text.same("")
    if _is_sparse_cce(loss):
        return Outcome(CheckStatus.PASS, Text("the loss is sparse categorical cross-entropy{where}",
                                              "a função de perda é a entropia cruzada categórica "
                                              "esparsa{where}").format(where=where), {"loss": loss})
    shown = loss if isinstance(loss, str) else (loss or {}).get("class") or (loss or {}).get("name")
    return Outcome(CheckStatus.FAIL, Text("the loss is {shown!r}{where}: use "
                                          "loss='sparse_categorical_crossentropy' or "
                                          "keras.losses.SparseCategoricalCrossentropy()",
                                          "a função de perda é {shown!r}{where}: use "
                                          "loss='sparse_categorical_crossentropy' ou "
                                          "keras.losses.SparseCategoricalCrossentropy()").format(shown=shown,
                                                                                                 where=where),
                   {"loss": loss})


@CHECKS.check("no_to_categorical")
def no_to_categorical(ctx: Context, params: CheckParams) -> Outcome:
    calls = [ev for ev in ctx.events if ev["event"] == "to_categorical"]
    if calls:
        lines = sorted({(ev.get("caller") or {}).get("line") for ev in calls} - {None})
        at = ", ".join(map(str, lines))
        where = Text(f" at line {at}", f" na linha {at}") if lines else Text.same("")
        details: dict[str, Any] = {"lines": lines}
        if ctx.source_kind == "py":  # a notebook's source is its cells joined: no line of a file
            line = source_line(ctx.source, "to_categorical") or (lines[0] if lines else None)  # `as` alias: the call
            if line is not None:
                details["line"] = line
        return Outcome(CheckStatus.FAIL, Text("to_categorical is still called{where}: give fit the integer labels "
                                              "as they come from load_data",
                                              "to_categorical ainda é chamado{where}: passe ao fit os rótulos "
                                              "inteiros, como vêm de load_data").format(where=where), details)
    fits = ctx.events_of_graded("fit_start")
    if not fits and ctx.run_problem is not None:
        return not_reached(ctx, ctx.run_problem)
    if not fits:
        return Outcome(CheckStatus.FAIL, Text("the graded model was never trained",
                                              "o modelo avaliado nunca foi treinado"))
    y = fits[-1].get("y") or {}
    shape = y.get("shape")
    if not shape:
        return Outcome(CheckStatus.INFO, Text("the labels given to fit could not be inspected",
                                              "os rótulos passados ao fit não puderam ser inspecionados"), {"y": y})
    if (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)) and y.get("integer_valued", True):
        return Outcome(CheckStatus.PASS, Text(f"fit receives class ids of shape {tuple(shape)}",
                                              f"o fit recebe índices de classe de formato {tuple(shape)}"), {"y": y})
    return Outcome(CheckStatus.FAIL, Text(f"fit receives labels of shape {tuple(shape)}: give it the class ids "
                                          "(shape (N,)), not one-hot vectors",
                                          f"o fit recebe rótulos de formato {tuple(shape)}: passe os índices de "
                                          "classe (formato (N,)), não vetores one-hot"), {"y": y})
