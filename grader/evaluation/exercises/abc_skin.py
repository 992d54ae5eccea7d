"""abc_skin (handout's homework #1): abc1.py with a second input, skin colour 0..100."""

from __future__ import annotations

import itertools

import numpy as np
from pydantic import Field

from ... import data
from ...schema import CheckStatus
from ...text import Text
from ..checks import CheckParams, CheckSet, CorrespondenceParams, Outcome, correspondence_check, not_reached
from ..context import Context
from ..correspondence import affine_residual

CHECKS = CheckSet("abc_skin")
TOL = 1e-3


def _labels(y: np.ndarray | None) -> np.ndarray | None:
    if y is None:
        return None
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    return y.argmax(1) if y.shape[1] > 1 else y[:, 0].round().astype(int)


def _affine(x: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-feature (a, b) with x = a * ref + b, or None when no such map fits."""
    x, ref = np.asarray(x, np.float64), np.asarray(ref, np.float64)
    if x.shape != ref.shape or affine_residual(x, ref).max() > TOL:
        return None
    a = np.array([np.polyfit(ref[:, j], x[:, j], 1)[0] for j in range(x.shape[1])])
    return a, x.mean(0) - a * ref.mean(0)


def _train_mapping(ctx: Context) -> tuple[np.ndarray, np.ndarray] | None:
    """The student's per-feature preprocessing, read off the training rows (any order)."""
    fits = ctx.events_of_graded("fit_start")
    x = ctx.fit_arrays(fits[-1]["fit"])[0] if fits else None
    if x is None or np.size(x) != 12:
        return None
    x = np.reshape(x, (6, 2))
    for perm in itertools.permutations(range(6)):
        if (mapping := _affine(x, data.ABC["ax"][list(perm)])) is not None:
            return mapping


@CHECKS.check("abc_correspondence", params=CorrespondenceParams)
def abc_correspondence(ctx: Context, params: CorrespondenceParams) -> Outcome:
    """The 3 test rows, checked against the preprocessing the student applied to the training rows."""
    generic = correspondence_check(ctx, params)
    if generic.status == CheckStatus.PASS or ctx.test_x is None or (mapping := _train_mapping(ctx)) is None:
        return generic
    a, b = mapping
    x = np.asarray(ctx.test_x, np.float64).reshape(len(ctx.test_x), -1)
    if x.shape != data.ABC["qx"].shape:
        return generic
    raw = (x - b) / np.where(a == 0, 1, a)  # the student's rows in kg and colour units
    wrong = [i for i in range(3) if not np.allclose(raw[i], data.ABC["qx"][i], atol=0.01)]
    rows = Text.same("; ").join(Text("row {i} is ({typed}), the exercise gives ({given})",
                                     "a linha {i} é ({typed}), o exercício dá ({given})").format(
        i=i, typed=f"{raw[i][0]:g}, {raw[i][1]:g}", given=f"{data.ABC['qx'][i][0]:g}, {data.ABC['qx'][i][1]:g}")
        for i in wrong)
    return Outcome(CheckStatus.FAIL, Text("the test rows differ from the exercise's ({rows}): check the numbers you "
                                          "typed",
                                          "as linhas de teste diferem das do exercício ({rows}): confira os "
                                          "números que você digitou").format(rows=rows), {"wrong_rows": wrong})


@CHECKS.check("two_inputs")
def two_inputs(ctx: Context, params: CheckParams) -> Outcome:
    if ctx.model is None:
        return not_reached(ctx, ctx.model_problem)
    shapes = ctx.model.input_shapes()
    if not shapes:
        return Outcome(CheckStatus.FAIL, Text("the graded model has no defined input shape: give it keras.Input((2,))",
                                              "o modelo avaliado não tem o formato da entrada definido: dê a ele "
                                              "keras.Input((2,))"))
    shape = shapes[0]
    if len(shapes) == 1 and shape[-1] == 2:
        return Outcome(CheckStatus.PASS, Text("the network takes 2 inputs: weight and skin colour",
                                              "a rede recebe 2 entradas: peso e cor da pele"),
                       {"input_shape": str(shape)})
    return Outcome(CheckStatus.FAIL, Text(f"the network's input has shape {shape}: it must take 2 attributes, weight "
                                          "(kg) and skin colour (0..100)",
                                          f"a entrada da rede tem formato {shape}: ela deve receber 2 atributos, peso "
                                          "(kg) e cor da pele (0..100)"), {"input_shape": str(shape)})


@CHECKS.check("train_rows")
def train_rows(ctx: Context, params: CheckParams) -> Outcome:
    fits = ctx.events_of_graded("fit_start") or [ev for ev in ctx.events if ev["event"] == "fit_start"]
    if not fits:  # runs says why
        return not_reached(ctx, ctx.run_problem)
    x, y = ctx.fit_arrays(fits[-1]["fit"])
    if x is None:
        return Outcome(CheckStatus.FAIL, Text("the training data could not be read back (give fit NumPy arrays)",
                                              "os dados de treino não puderam ser lidos de volta (passe arrays NumPy "
                                              "para o fit)"))
    ref = data.ABC
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    if x.shape != ref["ax"].shape:
        return Outcome(CheckStatus.FAIL, Text(f"fit got {x.shape[0]} rows of {x.shape[1]} attributes; the exercise's "
                                              "table has 6 rows of 2 (weight, skin colour)",
                                              f"o fit recebeu {x.shape[0]} linhas de {x.shape[1]} atributos; a tabela "
                                              "do exercício tem 6 linhas de 2 (peso, cor da pele)"),
                       {"shape": list(x.shape)})
    labels = _labels(y)
    near: list[tuple[int, tuple[int, ...]]] = []
    for perm in itertools.permutations(range(6)):
        r = ref["ax"][list(perm)]
        if affine_residual(x, r).max() <= TOL:
            if labels is not None and not np.array_equal(labels, ref["ay"][list(perm)]):
                wrong = int(np.flatnonzero(labels != ref["ay"][list(perm)])[0])
                given, table = data.ABC_CLASSES[labels[wrong]], data.ABC_CLASSES[ref["ay"][perm[wrong]]]
                return Outcome(CheckStatus.FAIL, Text(f"training row {wrong} is labelled {given}, the table says "
                                                      f"{table}: check the labels you typed",
                                                      f"a linha de treino {wrong} tem o rótulo {given}, a tabela diz "
                                                      f"{table}: confira os rótulos que você digitou"))
            return Outcome(CheckStatus.PASS, Text("trained on exactly the table's 6 rows (any order, any per-feature "
                                                  "scaling)",
                                                  "treinou exatamente com as 6 linhas da tabela (em qualquer ordem, "
                                                  "com qualquer escala por atributo)"))
        for i in range(6):
            if affine_residual(np.delete(x, i, 0), np.delete(r, i, 0)).max() <= TOL:
                near.append((i, perm))
    if near:
        i, perm = near[0]
        expected = ref["ax"][perm[i]]
        return Outcome(CheckStatus.FAIL, Text(f"training row {i} does not match the table: it should be weight "
                                              f"{expected[0]:g} kg, skin colour {expected[1]:g} (before "
                                              "preprocessing): check the numbers you typed",
                                              f"a linha de treino {i} não coincide com a tabela: deveria ser peso "
                                              f"{expected[0]:g} kg, cor da pele {expected[1]:g} (antes do "
                                              "pré-processamento): confira os números que você digitou"), {"row": i})
    return Outcome(CheckStatus.FAIL, Text("the training rows are not the table's 6 rows (weight, skin colour) under "
                                          "any per-feature scaling: train on exactly the data given in the exercise",
                                          "as linhas de treino não são as 6 linhas da tabela (peso, cor da pele) sob "
                                          "nenhuma mudança de escala por atributo: treine exatamente com os dados "
                                          "fornecidos no exercício"))


class SkinInvarianceParams(CheckParams):
    weight_step: float = Field(1, gt=0, le=100, description="the grid's step over weights 0..100 kg")
    colour_step: float = Field(5, gt=0, le=100, description="the grid's step over skin colours 0..100")
    learned_min: float = Field(0.9, ge=0, le=1, description="share of weights whose class never changes with colour "
                               "to answer \"yes, colour is noise\"")


@CHECKS.check("skin_invariance", params=SkinInvarianceParams)
def skin_invariance(ctx: Context, params: SkinInvarianceParams) -> Outcome:
    if ctx.model is None:
        return not_reached(ctx, ctx.model_problem)
    mapping = _affine(ctx.test_x.reshape(len(ctx.test_x), -1), data.ABC["qx"]) if ctx.test_x is not None else None
    if mapping is None:
        mapping = _train_mapping(ctx)
    if mapping is None:
        return Outcome(CheckStatus.INFO, Text("not measured: the preprocessing of the inputs could not be inferred as "
                                              "a per-feature scaling of (weight, skin colour)",
                                              "não medido: não foi possível reconhecer o pré-processamento das "
                                              "entradas como uma mudança de escala por atributo de (peso, cor da "
                                              "pele)"))
    a, b = mapping
    weights = np.arange(0, 101, params.weight_step, dtype=np.float64)
    colours = np.arange(0, 101, params.colour_step, dtype=np.float64)
    grid = np.array([[w, c] for w in weights for c in colours]) * a + b
    classes = ctx.decode(ctx.model.predict(grid.astype(np.float32))).reshape(len(weights), -1)
    invariant_weights = float(np.mean((classes == classes[:, :1]).all(1)))
    invariant_points = float(np.mean(classes == np.array([np.bincount(row).argmax() for row in classes])[:, None]))
    learned = invariant_weights >= params.learned_min
    details = {"invariant_weights": round(invariant_weights, 4), "invariant_points": round(invariant_points, 4),
               "grid": f"{len(weights)} weights x {len(colours)} colours"}
    answer = (Text("yes: for almost every weight the class does not depend on skin colour",
                   "sim: para quase todo peso a classe não depende da cor da pele") if learned else
              Text("no: for many weights the class changes with skin colour",
                   "não: para muitos pesos a classe muda com a cor da pele"))
    return Outcome(CheckStatus.INFO, Text("Did the network learn that skin colour is noise? Measured {answer} "
                                          "({weights:.0%} of weights 0..100 kg keep their class for every "
                                          "colour 0..100; {points:.0%} of the grid's points agree with "
                                          "their weight's usual class)",
                                          "A rede aprendeu que a cor da pele é ruído? Medido: {answer} "
                                          "({weights:.0%} dos pesos de 0..100 kg mantêm a classe para toda "
                                          "cor 0..100; {points:.0%} dos pontos da grade concordam com a "
                                          "classe mais comum do seu peso)").format(
                       answer=answer, weights=invariant_weights, points=invariant_points), details)
