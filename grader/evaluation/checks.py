"""The checks: each reads an evaluation context and returns an Outcome.

Generic checks live here; an exercise's own checks live in
``grader/exercises/<id>.py`` and register themselves the same way. Which checks
an exercise runs, their points and thresholds come from its ``exercise.toml``.
"""

from __future__ import annotations

import io
import math
import re
import tokenize
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import hints
from ..claims import Claim, find_claims
from ..text import decimal

if TYPE_CHECKING:
    from .evaluator import Context

#: How much of a check's points each status earns (partial sets its own fraction).
EARNS = {"pass": 1.0, "fail": 0.0, "flag": 1.0, "info": 1.0, "not_graded": 0.0, "not_reached": 0.0}


@dataclass(frozen=True)
class Problem:
    """Why a fact the checks need (the graded model, its test inputs, its predictions) is missing.

    One check states it in full, with what to do: ``runs`` when the program's run is the cause, else the
    first check that needs the fact. Every other check that needs it is "not reached" and names the cause
    in short, so the student reads one root cause, not each check's advice for a step never reached.
    """
    message: str           # in full, with what to do
    pt: str
    short: str             # the cause alone, e.g. "the program stopped with SyntaxError at line 3"
    short_pt: str


@dataclass
class Outcome:
    status: str            # pass | fail | partial | flag | info | not_graded | not_reached
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    fraction: float | None = None
    pt: str = ""           # the message in Brazilian Portuguese (same facts, same advice)
    unstated: Problem | None = None  # not_reached for a cause no check may have stated yet (evaluate_job)

    def earned(self) -> float:
        return self.fraction if self.fraction is not None else EARNS[self.status]


CheckFn = Callable[["Context", dict[str, Any]], Outcome]
REGISTRY: dict[str, CheckFn] = {}


def check(name: str) -> Callable[[CheckFn], CheckFn]:
    def register(fn: CheckFn) -> CheckFn:
        REGISTRY[name] = fn
        return fn
    return register


# --- pure helpers (unit-tested on their own) ---------------------------------------------------

def pt_num(x: float, digits: int = 2) -> str:
    """A number in a Portuguese message: decimal comma (11,71)."""
    return decimal(x, digits, "pt")


def _flat(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64).reshape(len(a), -1)


def affine_residual(x: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Per column, the RMS of x - (a*r + b) for the best a, b, relative to x's overall spread.

    With a = sxr/srr the residual's sum of squares is sxx - a*sxr, so three column reductions
    (einsum, no n x d temporaries) replace building the residual: 7x faster on MNIST's test set.
    """
    xc, rc = x - x.mean(0), r - r.mean(0)
    sxx, srr, sxr = (np.einsum("ij,ij->j", u, v) for u, v in ((xc, xc), (rc, rc), (xc, rc)))
    a = np.divide(sxr, srr, out=np.zeros_like(srr), where=srr > 0)
    return np.sqrt(np.maximum(sxx - a * sxr, 0.0) / len(x)) / (float(x.std()) or 1.0)


def match_columns(x: np.ndarray, r: np.ndarray, sample: int = 2000) -> np.ndarray:
    """For each column of x, the column of r it is most correlated with (on the first rows)."""
    xs, rs = x[:sample], r[:sample]
    zx = (xs - xs.mean(0)) / np.where(xs.std(0) > 0, xs.std(0), 1.0)
    zr = (rs - rs.mean(0)) / np.where(rs.std(0) > 0, rs.std(0), 1.0)
    return np.abs(zx.T @ zr).argmax(1)


def rank(v: np.ndarray) -> np.ndarray:
    import pandas as pd

    return pd.Series(v).rank().to_numpy()


def distance_spearman(x: np.ndarray, r: np.ndarray, rows: int = 200) -> float:
    """Spearman correlation of the pairwise distances among the first ``rows`` rows."""
    def dists(a: np.ndarray) -> np.ndarray:
        a = _flat(a[:rows])
        sq = (a * a).sum(1)
        d = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * a @ a.T, 0))
        return d[np.triu_indices(len(a), 1)]
    dx, dr = rank(dists(x)), rank(dists(r))
    if dx.std() == 0 or dr.std() == 0:
        return 0.0
    return float(np.corrcoef(dx, dr)[0, 1])


def correspondence(captured: np.ndarray, raw: np.ndarray, spearman_min: float = 0.9,
                   sample_rows: int = 200, tol: float = 1e-3) -> tuple[bool, str, dict[str, Any]]:
    """Are ``captured`` rows the ``raw`` test rows, in order, under the student's preprocessing?"""
    ok, what, _, details = correspondence_texts(captured, raw, spearman_min, sample_rows, tol)
    return ok, what, details


def correspondence_texts(captured: np.ndarray, raw: np.ndarray, spearman_min: float = 0.9, sample_rows: int = 200,
                         tol: float = 1e-3) -> tuple[bool, str, str, dict[str, Any]]:
    """``correspondence`` with its verdict in English and in Portuguese: (ok, en, pt, details)."""
    if len(captured) != len(raw):
        return (False, f"has {len(captured)} rows; the test set has {len(raw)}",
                f"têm {len(captured)} linhas; o conjunto de teste tem {len(raw)}", {"rows": len(captured)})
    x, r = _flat(captured), _flat(raw)
    if not np.isfinite(x).all():
        return False, "contains NaN or infinite values", "contêm valores NaN ou infinitos", {}
    if x.shape[1] == r.shape[1] and affine_residual(x, r).max() <= tol:
        return (True, "the test set, each feature mapped affinely (scaled, shifted, inverted or standardised)",
                ("o conjunto de teste, cada atributo com uma transformação afim (escalado, deslocado, invertido "
                 "ou padronizado)"), {"mapping": "affine"})
    cols = match_columns(x, r)
    if affine_residual(x, r[:, cols]).max() <= tol:
        used = int(len(np.unique(cols[x.std(0) > 0])))
        return (True,
                f"the test set with {x.shape[1]} of its {r.shape[1]} features (cropped or selected), mapped affinely",
                (f"o conjunto de teste com {x.shape[1]} dos seus {r.shape[1]} atributos (recortado ou selecionado), "
                 "com uma transformação afim"),
                {"mapping": "affine-subset", "features": x.shape[1], "raw_features_used": used})
    if len(x) <= 50 and x.shape[1] == r.shape[1]:  # hard-coded data: find the mistyped row
        bad = [i for i in range(len(x)) if affine_residual(np.delete(x, i, 0), np.delete(r, i, 0)).max() <= tol]
        if len(bad) == 1:
            i = bad[0]
            expected = ", ".join(f"{v:g}" for v in r[i])
            return (False, (f"match the reference test rows except row {i} (0-based), which should be ({expected}) "
                            "before preprocessing: check the numbers you typed"),
                    (f"coincidem com as linhas de teste de referência, exceto a linha {i} (contando a partir de 0), "
                     f"que deveria ser ({expected}) antes do pré-processamento: confira os números que você digitou"),
                    {"mapping": "affine", "bad_row": i})
        if len(x) < sample_rows:
            return (False, "do not match the reference test rows under any per-feature scaling",
                    "não coincidem com as linhas de teste de referência sob nenhuma mudança de escala por atributo",
                    {"mapping": "none"})
    rho = distance_spearman(x, r, sample_rows)
    details = {"mapping": "distances", "spearman": round(rho, 4), "spearman_min": spearman_min}
    if rho >= spearman_min:
        return (True, (f"a transformed test set (resized or similar): the distances among its first {sample_rows} "
                       f"rows match the raw test rows (Spearman {rho:.3f})"),
                (f"um conjunto de teste transformado (redimensionado ou algo parecido): as distâncias entre as suas "
                 f"{sample_rows} primeiras linhas coincidem com as das linhas de teste originais "
                 f"(Spearman {pt_num(rho, 3)})"),
                details)
    return (False, (f"is not the test set in its order: the distances among its first {sample_rows} rows do not match "
                    f"the raw test rows (Spearman {rho:.3f} < {spearman_min})"),
            (f"não são o conjunto de teste na sua ordem: as distâncias entre as suas {sample_rows} primeiras linhas "
             f"não coincidem com as das linhas de teste originais (Spearman {pt_num(rho, 3)} < "
             f"{pt_num(spearman_min, 2)})"), details)


def leaked_rows(test_fp: np.ndarray, train_fps: list[np.ndarray]) -> np.ndarray:
    """Indices of test rows whose fingerprint is among the training rows'."""
    if not train_fps:
        return np.zeros(0, dtype=int)
    return np.flatnonzero(np.isin(test_fp, np.concatenate(train_fps)))


def natural_duplicates(captured: np.ndarray, raw_test: np.ndarray, raw_train: np.ndarray) -> np.ndarray:
    """Test rows that equal some training row in the raw data, on the raw features the student kept.

    Banknote has such rows once its noise columns are dropped: using them is not leakage.
    """
    from ..fingerprint import fingerprints

    x, r = _flat(captured), _flat(raw_test)
    cols = np.arange(r.shape[1]) if x.shape[1] == r.shape[1] else np.unique(match_columns(x, r)[x.std(0) > 0])
    train = np.asarray(raw_train).reshape(len(raw_train), -1)[:, cols]
    return np.flatnonzero(np.isin(fingerprints(np.asarray(raw_test).reshape(len(raw_test), -1)[:, cols]),
                                  fingerprints(train)))


def exception_location(e: dict[str, Any]) -> str:
    """' in cell 3 (`x = 1/0`)' or ' at line 12' for an exception record, '' when unknown."""
    return f" in {e['where']}" if e.get("where") else f" at line {e['line']}" if e.get("line") else ""


def exception_location_pt(e: dict[str, Any]) -> str:
    """``exception_location`` in Portuguese: ' na célula 3 (`x = 1/0`)' or ' na linha 12'."""
    if e.get("where"):
        where = str(e["where"])
        return " na " + re.sub(r"^cell ", "célula ", where) if where.startswith("cell ") else f" em {where}"
    return f" na linha {e['line']}" if e.get("line") else ""


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


# --- the generic checks -------------------------------------------------------------------------

def run_problem(ctx: Context) -> Problem | None:
    """Why the program did not do the exercise's work, or None when it ran to its end and trained a model the
    grader could load. ``runs`` states it; the checks it leaves without a fact are not reached."""
    if ctx.timed_out:
        return Problem(f"the script was stopped by the time limit ({ctx.limit_s:.0f} s): make it train faster "
                       "(fewer epochs, a larger batch) or find the loop that never ends",
                       f"o programa foi interrompido pelo limite de tempo ({ctx.limit_s:.0f} s): faça-o treinar mais "
                       "rápido (menos épocas, batch maior) ou encontre o laço que nunca termina",
                       "the program was stopped by the time limit", "o programa foi interrompido pelo limite de tempo")
    if ctx.limit_hit:
        stopped = f"the program was stopped by a resource limit ({ctx.limit_hit})"
        stopped_pt = f"o programa foi interrompido por um limite de recursos ({ctx.limit_hit})"
        return Problem(stopped, stopped_pt, stopped, stopped_pt)
    if ctx.exception:
        e = ctx.exception
        stopped = f"the program stopped with {e['type']}{exception_location(e)}"
        stopped_pt = f"o programa parou com {e['type']}{exception_location_pt(e)}"
        graded = ("the grader graded the model it had trained" if ctx.model is not None
                  else "no model could be graded")
        graded_pt = ("o corretor avaliou o modelo que já tinha sido treinado" if ctx.model is not None
                     else "nenhum modelo pôde ser avaliado")
        return Problem(f"{stopped}: {e['message'][:300]}; {graded}. Fix the error so the program runs to the end."
                       + hints.text(e),
                       f"{stopped_pt}: {e['message'][:300]}; {graded_pt}. Corrija o erro para que o programa rode "
                       "até o fim." + hints.text(e, "pt"), stopped, stopped_pt)
    if ctx.returncode not in (0, None):
        return Problem(f"the script exited with status {ctx.returncode}; make it exit normally",
                       f"o programa terminou com status {ctx.returncode}; faça-o terminar normalmente",
                       f"the program exited with status {ctx.returncode}",
                       f"o programa terminou com status {ctx.returncode}")
    if not any(ev["event"] == "fit_start" for ev in ctx.events):
        return Problem("the program ran to the end but never trained a model (fit was never called): build, compile "
                       "and train (fit) a Keras model on the training set, as the exercise asks",
                       "o programa rodou até o fim, mas nunca treinou um modelo (fit não foi chamado): monte, compile "
                       "e treine (fit) um modelo Keras com o conjunto de treino, como pede o exercício",
                       "the program never trained a model", "o programa nunca treinou um modelo")
    if ctx.model is None:  # _load_model said why
        p = ctx.model_problem
        return Problem(f"the program ran to the end, but no model could be graded: {p.message}",
                       f"o programa rodou até o fim, mas nenhum modelo pôde ser avaliado: {p.pt}", p.short, p.short_pt)
    return None


def not_reached(ctx: Context, problem: Problem) -> Outcome:
    """A check that cannot be judged for want of a fact: "not reached" and its root cause, in short.

    When the cause is the program's run, ``runs`` states it; else ``evaluate_job`` has the first check that
    meets the cause state it in full.
    """
    return Outcome("not_reached", f"not reached: {problem.short}", pt=f"não alcançada: {problem.short_pt}",
                   unstated=None if problem is ctx.run_problem else problem)


def _no_model(ctx: Context) -> Outcome | None:
    """Not reached when there are no predictions of the graded model on the test inputs."""
    if ctx.model is None or ctx.test_pred is None:
        return not_reached(ctx, ctx.model_problem)
    return None


def _no_test_inputs(ctx: Context) -> Outcome | None:
    return not_reached(ctx, ctx.test_inputs_problem) if ctx.test_x is None else None


@check("runs")
def runs(ctx: Context, params: dict[str, Any]) -> Outcome:
    problem = ctx.run_problem
    if problem is None:
        return Outcome("pass", "the program ran to the end and trained the graded model",
                       pt="o programa rodou até o fim e treinou o modelo avaliado")
    details: dict[str, Any] = {}
    if ctx.exception and not (ctx.timed_out or ctx.limit_hit):  # the exception is the problem
        details = {"exception": ctx.exception, "hint": hints.find(ctx.exception)}
        if (line := script_line(ctx, ctx.exception)) is not None:
            details["line"] = line
    return Outcome("fail", problem.message, details, pt=problem.pt)


@check("correspondence")
def correspondence_check(ctx: Context, params: dict[str, Any]) -> Outcome:
    if (bad := _no_test_inputs(ctx)) is not None:
        return bad
    ok, what, what_pt, details = correspondence_texts(ctx.test_x, ctx.ref_x_test, params.get("spearman_min", 0.9),
                                                      params.get("sample_rows", 200))
    details["source"] = ctx.test_source
    if ok:
        return Outcome("pass", f"the graded inputs are {what}", details, pt=f"as entradas avaliadas são {what_pt}")
    return Outcome("fail", f"the inputs given to the graded model ({ctx.test_source}) {what}. Run the model on the "
                   "whole test set, in its original order, preprocessed as the training data.", details,
                   pt=f"as entradas dadas ao modelo avaliado ({ctx.test_source_pt}) {what_pt}. Rode o modelo no "
                   "conjunto de teste inteiro, na ordem original, pré-processado como os dados de treino.")


@check("leakage")
def leakage(ctx: Context, params: dict[str, Any]) -> Outcome:
    if (bad := _no_test_inputs(ctx)) is not None:
        return bad
    if not ctx.train_fingerprints:
        return Outcome("info", "the training rows could not be fingerprinted (not NumPy arrays); leakage not checked",
                       pt="não foi possível calcular a impressão digital das linhas de treino (não são arrays NumPy); "
                       "vazamento não verificado")
    leaked = leaked_rows(ctx.test_fingerprints, ctx.train_fingerprints)
    natural = natural_duplicates(ctx.test_x, ctx.ref_x_test, ctx.ref_x_train) if len(leaked) else np.zeros(0, int)
    leaked = np.setdiff1d(leaked, natural)
    details = {"leaked_rows": int(len(leaked)), "first": [int(i) for i in leaked[:10]],
               "natural_duplicates": int(len(natural))}
    if len(leaked):
        return Outcome("fail", f"{len(leaked)} test rows (first: {', '.join(map(str, leaked[:5]))}) were among the rows "
                       "given to fit: train on the training set only; the test set measures the error.", details,
                       pt=f"{len(leaked)} linhas de teste (primeiras: {', '.join(map(str, leaked[:5]))}) estavam entre "
                       "as linhas dadas ao fit: treine apenas com o conjunto de treino; o conjunto de teste serve para "
                       "medir o erro.")
    extra = (f" ({len(natural)} test rows equal training rows in the data set itself, on the features used)"
             if len(natural) else "")
    extra_pt = (f" ({len(natural)} linhas de teste são iguais a linhas de treino no próprio conjunto de dados, nos "
                "atributos usados)" if len(natural) else "")
    return Outcome("pass", "no test row was used for training" + extra, details,
                   pt="nenhuma linha de teste foi usada no treino" + extra_pt)


@check("consistency")
def consistency(ctx: Context, params: dict[str, Any]) -> Outcome:
    if (bad := _no_model(ctx)) is not None:
        return bad
    if ctx.child_pred is None or len(ctx.child_pred) != len(ctx.test_pred):
        return Outcome("info", "no predictions of the graded model were seen in the student's process",
                       pt="nenhuma predição do modelo avaliado foi vista no processo do aluno")
    agree = float(np.mean(ctx.decode(ctx.child_pred) == ctx.test_classes))
    details = {"agreement": round(agree, 5)}
    minimum = params.get("agreement_min", 0.995)
    if agree >= minimum:
        return Outcome("pass", f"the evaluator reproduced {agree:.2%} of the student's own test predictions", details,
                       pt=f"o avaliador reproduziu {pt_num(100 * agree)}% das predições que o próprio aluno fez no "
                       "conjunto de teste")
    return Outcome("flag", f"only {agree:.2%} of the student's own test predictions were reproduced by the saved model "
                   f"(< {minimum:.1%}): the instructor should look at this submission", details,
                   pt=f"apenas {pt_num(100 * agree)}% das predições que o próprio aluno fez no conjunto de teste "
                   f"foram reproduzidas pelo modelo salvo (< {pt_num(100 * minimum, 1)}%): o professor deve examinar "
                   "esta submissão")


@check("test_as_validation")
def test_as_validation(ctx: Context, params: dict[str, Any]) -> Outcome:
    if (bad := _no_test_inputs(ctx)) is not None:
        return bad
    hits = []
    for fit, val_fp in ctx.val_fingerprints.items():
        if len(val_fp) and np.isin(val_fp, ctx.test_fingerprints).mean() >= 0.5:
            hits.append(fit)
    if ctx.test_source_kind == "validation_data" and not hits:
        hits.append(-1)
    if hits:
        lines = [ctx.fit_line(f) for f in hits if f >= 0 and ctx.fit_line(f)]
        where = f" (fit at line {', '.join(map(str, lines))})" if lines else ""
        where_pt = f" (fit na linha {', '.join(map(str, lines))})" if lines else ""
        return Outcome("flag", f"the test set was used as validation data{where}: choosing epochs or models on it "
                       "makes the test error optimistic; hold out part of the training set instead",
                       {"fits": hits},
                       pt=f"o conjunto de teste foi usado como dados de validação{where_pt}: escolher épocas ou "
                       "modelos por ele torna o erro de teste otimista; separe uma parte do conjunto de treino para "
                       "a validação")
    return Outcome("pass", "the test set was not used as validation data",
                   pt="o conjunto de teste não foi usado como dados de validação")


def all_layers(model: Any) -> list[Any]:
    try:
        return list(model._flatten_layers(include_self=False, recursive=True))
    except Exception:
        out, stack = [], list(getattr(model, "layers", []))
        while stack:
            layer = stack.pop(0)
            out.append(layer)
            stack.extend(getattr(layer, "layers", []))
        return out


@check("dense_only")
def dense_only(ctx: Context, params: dict[str, Any]) -> Outcome:
    if ctx.model is None:
        return not_reached(ctx, ctx.model_problem)
    forbidden = "|".join(map(re.escape, params.get("forbidden", ["Conv", "Pool"])))
    pattern = re.compile(forbidden)
    names = (ctx.model.layer_kinds() if hasattr(ctx.model, "layer_kinds")  # an ONNX graph's operators
             else [type(layer).__name__ for layer in all_layers(ctx.model)])
    bad = sorted({n for n in names if pattern.search(n)})
    details: dict[str, Any] = {"layers": names}
    if bad:
        if ctx.source_kind == "py":  # a notebook's source is its cells joined: no line of a file
            line = (source_line(ctx.source, "|".join(map(re.escape, bad)))
                    or source_line(ctx.source, rf"\w*(?:{forbidden})\w*"))  # an alias (Convolution2D)
            if line is not None:
                details["line"] = line
        return Outcome("fail", f"the graded model uses {', '.join(bad)}: this exercise asks for a dense "
                       "(non-convolutional, non-recurrent) network; use Dense layers", details,
                       pt=f"o modelo avaliado usa {', '.join(bad)}: este exercício pede uma rede densa (não "
                       "convolucional, não recorrente); use camadas Dense")
    return Outcome("pass", f"dense network: {', '.join(dict.fromkeys(names))}", details,
                   pt=f"rede densa: {', '.join(dict.fromkeys(names))}")


@check("threshold")
def threshold(ctx: Context, params: dict[str, Any]) -> Outcome:
    if (bad := _no_model(ctx)) is not None:
        return bad
    err, full, zero = ctx.test_error, params["full_credit_max"], params["zero_credit_min"]
    details = {"test_error": err, "full_credit_max": full, "zero_credit_min": zero}
    if ctx.quick:
        return Outcome("not_graded", f"quick mode (fit capped at {ctx.quick_epochs} epoch): test error "
                       f"{err:.2f} % measured, not graded; the full run grades it", details,
                       pt=f"modo rápido (fit limitado a {ctx.quick_epochs} época{'s' if ctx.quick_epochs != 1 else ''})"
                       f": erro de teste de {pt_num(err)} % medido, sem nota; a execução completa dá a nota")
    if err <= full:
        return Outcome("pass", f"test error {err:.2f} % <= {full:.2f} %", details,
                       pt=f"erro de teste {pt_num(err)} % <= {pt_num(full)} %")
    if err >= zero:
        return Outcome("fail", f"test error {err:.2f} % (full credit at <= {full:.2f} %, none from {zero:.2f} %): "
                       "train longer, widen the network or regularise (dropout)", details,
                       pt=f"erro de teste {pt_num(err)} % (nota máxima com <= {pt_num(full)} %, nota zero a partir de "
                       f"{pt_num(zero)} %): treine por mais épocas, aumente a rede ou use regularização (dropout)")
    fraction = (zero - err) / (zero - full)
    return Outcome("partial", f"test error {err:.2f} %: partial credit ({fraction:.0%}); full credit at "
                   f"<= {full:.2f} %", details, fraction=round(fraction, 4),
                   pt=f"erro de teste {pt_num(err)} %: nota parcial ({fraction:.0%}); nota máxima com "
                   f"<= {pt_num(full)} %")


#: A stated error this far from the measured one is never noise: a claim of 1.20 % on a net measuring 1.70 % fails.
CLAIM_TOLERANCE_CAP = 0.45


def claim_tolerance(ex: Any, params: dict[str, Any]) -> float:
    """Points a stated test error may lie from the measured one: the configured ``tolerance``, widened to
    k·√2·σ where the exercise's measured run-to-run spread σ (``[noise]``) is larger, capped below half a point.

    The statement comes from the student's run and the measure from the grader's: two independent runs, whose
    difference has standard deviation √2·σ; k of those (k = 3: 99.7 % of honest claims under a normal spread).
    """
    noise = ex.noise_k * math.sqrt(2) * ex.noise_std
    return min(max(float(params.get("tolerance", 0.3)), noise), float(params.get("tolerance_max", CLAIM_TOLERANCE_CAP)))


def _claim_place(ctx: Context, claim: Claim) -> tuple[str, str]:
    """Where the student wrote a claim (English, Portuguese): a script's line, a notebook's cell."""
    if ctx.source_kind != "ipynb":
        return f"line {claim.line}", f"linha {claim.line}"
    if claim.source == "markdown":
        return f"Markdown of cell {claim.line}", f"Markdown da célula {claim.line}"
    if claim.source == "stored_output":
        return f"saved output of cell {claim.line}", f"saída salva da célula {claim.line}"
    return f"cell {claim.line}", f"célula {claim.line}"


@check("honest_claim")
def honest_claim(ctx: Context, params: dict[str, Any]) -> Outcome:
    """The test error the student states (claims.py: never what the grader's run prints) against the measured."""
    claims = find_claims(ctx.statements)
    details = {"claims": [{"error": c.error, "source": c.source, "line": c.line, "text": c.text} for c in claims]}
    if not claims and ctx.source_kind == "ipynb":
        return Outcome("fail", "no stated test error found: write the test error you obtained in a Markdown cell "
                       "(e.g. 'erro de teste: 1,45 %'), or submit the notebook with the output of your run saved in "
                       "it; what the notebook prints while the grader runs it is not a statement", details,
                       pt="nenhum erro de teste declarado foi encontrado: escreva o erro de teste que você obteve numa "
                       "célula de Markdown (por exemplo 'erro de teste: 1,45 %') ou entregue o notebook com a saída da "
                       "sua execução salva nele; o que o notebook imprime enquanto o corretor o executa não é uma "
                       "declaração")
    if not claims:
        return Outcome("fail", "no stated test error found: write the test error your program obtained in a comment "
                       "at the top or at the end of the file, e.g. `# erro de teste: 1,45 %` or `# test error: "
                       "1.45 %`; what the program prints while the grader runs it is not a statement", details,
                       pt="nenhum erro de teste declarado foi encontrado: escreva o erro de teste que o seu programa "
                       "obteve num comentário no início ou no fim do arquivo, por exemplo `# erro de teste: 1,45 %`; "
                       "o que o programa imprime enquanto o corretor o executa não é uma declaração")
    if (bad := _no_model(ctx)) is not None:
        bad.details.update(details)
        return bad
    if ctx.quick:
        return Outcome("not_graded", f"you state {', '.join(f'{c.error:.2f} %' for c in claims)}; quick mode "
                       "cannot measure the full run's error to compare", details,
                       pt=f"você declara {', '.join(f'{pt_num(c.error)} %' for c in claims)}; o modo rápido não "
                       "mede o erro da execução completa para comparar")
    tol = claim_tolerance(ctx.exercise, params)
    close = [c for c in claims if abs(c.error - ctx.test_error) <= tol + 1e-9]
    if close:
        where, where_pt = _claim_place(ctx, close[0])
        return Outcome("pass", f"stated {close[0].error:.2f} % ({where}), measured {ctx.test_error:.2f} %", details,
                       pt=f"declarado {pt_num(close[0].error)} % ({where_pt}), medido {pt_num(ctx.test_error)} %")
    places = [_claim_place(ctx, c) for c in claims[:5]]
    stated = ", ".join(f"{c.error:.2f} % ({where})" for c, (where, _) in zip(claims, places))
    stated_pt = ", ".join(f"{pt_num(c.error)} % ({where_pt})" for c, (_, where_pt) in zip(claims, places))
    return Outcome("fail", f"stated {stated}, but the graded model measures {ctx.test_error:.2f} % (tolerance "
                   f"{tol:.2f} points): report the error your final program obtains", details,
                   pt=f"declarado {stated_pt}, mas o modelo avaliado mede {pt_num(ctx.test_error)} % (tolerância de "
                   f"{pt_num(tol)} pontos): informe o erro que o seu programa final obtém")
