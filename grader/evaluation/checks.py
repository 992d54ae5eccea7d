"""The generic checks, and ``CheckSet``: the registry each exercise's own checks join.

A check reads an evaluation ``Context`` and returns an ``Outcome``. The generic checks, which every
exercise may list, register in ``GENERIC``; an exercise's own module (built in, in
``grader/evaluation/exercises/<id>.py``, or the course's ``assignments/<id>/checks.py``) declares
``CHECKS = CheckSet("<id>")`` and registers its own the same way (``exercises.checks_for`` merges the
two). Which checks an exercise runs, their points and thresholds come from its ``exercise.toml``.

A check declares the parameters it reads as a ``CheckParams`` model, registered with it
(``@CHECKS.check("name", params=Model)``): exercise.toml's keys are validated against it when the exercise is
loaded (``exercises.configure``), and the check receives the typed, defaulted model, never a raw table.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from .. import frameworks, hints
from ..claims import Claim, Unread, match, read_statements
from ..config import Section, config_rule
from ..errors import CheckConflict
from ..schema import EARNS, CheckStatus
from ..text import Text, num
from .context import Context, Problem
from .correspondence import RowMatch, correspondence_texts, leaked_rows, natural_duplicates
from .source import exception_location, script_line, source_line

__all__ = ["GENERIC", "CheckFn", "CheckParams", "CheckSet", "Outcome", "exception_location", "not_reached",
           "run_problem"]


@dataclass
class Outcome:
    """The verdict of one check, with what the student reads."""

    status: CheckStatus
    message: Text
    details: dict[str, Any] = field(default_factory=dict)
    fraction: float | None = None    # the share of the points a ``partial`` verdict earns
    unstated: Problem | None = None  # not_reached for a cause no check may have stated yet (evaluate_job)

    def __post_init__(self) -> None:
        if not isinstance(self.message, Text):  # every verdict is read in both languages
            raise TypeError(f"an Outcome's message is a Text (English and Portuguese), not {type(self.message)}")

    def earned(self) -> float:
        return self.fraction if self.fraction is not None else EARNS[self.status]


class CheckParams(Section):
    """The parameters a check reads from its ``[checks.<name>]`` table, beyond ``check``, ``points`` and ``requires``.

    A check with parameters declares a subclass (each key typed, with its default and range) and registers it with
    the check; one with none registers this class, which allows no key. A key it does not declare is refused when the
    exercise is loaded, with the closest declared one.
    """


CheckFn = Callable[[Context, Any], Outcome]


def _origin(fn: CheckFn) -> str:
    """Where a check is written: its module's file and line, for a message about a clash of names."""
    code = getattr(fn, "__code__", None)
    where = f"{code.co_filename}:{code.co_firstlineno}" if code else getattr(fn, "__module__", "?")
    return f"{getattr(fn, '__qualname__', fn)!s} ({where})"


class CheckSet:
    """The checks one exercise (or the generic set) provides, by the name ``exercise.toml`` calls them.

    A name means one check: registering it twice, or an exercise's check under a generic check's name, is
    refused (``CheckConflict``), so no module can silently replace another's check, and one long-lived
    evaluator holds every exercise's set side by side.
    """

    def __init__(self, name: str):
        self.name = name
        self._checks: dict[str, CheckFn] = {}
        self._params: dict[str, type[CheckParams]] = {}

    def check(self, name: str, params: type[CheckParams] = CheckParams) -> Callable[[CheckFn], CheckFn]:
        """Register the decorated function as the check ``name``, reading the parameters ``params`` declares."""
        if not (isinstance(params, type) and issubclass(params, CheckParams)):
            raise TypeError(f"the check {name!r} of {self.name} declares its parameters as {params!r}: give a "
                            "subclass of grader.evaluation.checks.CheckParams")

        def register(fn: CheckFn) -> CheckFn:
            if name in self._checks:
                raise CheckConflict(f"the check {name!r} is registered twice in {self.name}'s checks: by "
                                    f"{_origin(self._checks[name])} and by {_origin(fn)}; rename one of them")
            if self is not GENERIC and name in GENERIC:
                raise CheckConflict(_generic_clash(self.name, name, fn))
            self._checks[name] = fn
            self._params[name] = params
            return fn
        return register

    def get(self, name: str) -> CheckFn | None:
        return self._checks.get(name)

    def params(self, name: str) -> type[CheckParams]:
        """The parameters the check ``name`` declares."""
        return self._params[name]

    def __contains__(self, name: object) -> bool:
        return name in self._checks

    def __iter__(self) -> Iterator[str]:
        return iter(self._checks)

    def __len__(self) -> int:
        return len(self._checks)

    def merged(self, other: CheckSet) -> CheckSet:
        """This set's checks and ``other``'s, as one set named as ``other``; a name in both is refused."""
        if clash := sorted(self._checks.keys() & other._checks.keys()):
            name = clash[0]
            raise CheckConflict(_generic_clash(other.name, name, other._checks[name]) if self is GENERIC else
                                f"the check {name!r} is in both {self.name}'s checks ({_origin(self._checks[name])}) "
                                f"and {other.name}'s ({_origin(other._checks[name])}); rename one of them")
        both = CheckSet(other.name)
        both._checks = {**self._checks, **other._checks}
        both._params = {**self._params, **other._params}
        return both


def _generic_clash(owner: str, name: str, fn: CheckFn) -> str:
    return (f"{owner}'s check {name!r}, {_origin(fn)}, has the name of a generic check "
            f"({_origin(GENERIC._checks[name])}): give it another name, and point exercise.toml's entry at it "
            f"with check = \"<the new name>\"")


#: The checks any exercise may list in its exercise.toml.
GENERIC = CheckSet("generic")


# --- the generic checks -------------------------------------------------------------------------

def run_problem(ctx: Context) -> Problem | None:
    """Why the program did not do the exercise's work, or None when it ran to its end and trained a model the
    grader could load. ``runs`` states it; the checks it leaves without a fact are not reached."""
    if ctx.timed_out:
        return Problem(Text(f"the script was stopped by the time limit ({ctx.limit_s:.0f} s): make it train faster "
                            "(fewer epochs, a larger batch) or find the loop that never ends",
                            f"o programa foi interrompido pelo limite de tempo ({ctx.limit_s:.0f} s): faça-o treinar "
                            "mais rápido (menos épocas, batch maior) ou encontre o laço que nunca termina"),
                       Text("the program was stopped by the time limit",
                            "o programa foi interrompido pelo limite de tempo"))
    if ctx.limit_hit:
        stopped = Text(f"the program was stopped by a resource limit ({ctx.limit_hit})",
                       f"o programa foi interrompido por um limite de recursos ({ctx.limit_hit})")
        return Problem(stopped, stopped)
    if killed := hints.crash_signal(ctx.returncode):  # before a notebook's DeadKernel: the signal says more
        return Problem(Text(f"the program was killed by {killed}, a crash inside compiled code (a library's, most "
                            "often); the instructor should look at it",
                            f"o programa foi morto pelo sinal {killed}, uma falha dentro de código compilado (de "
                            "uma biblioteca, quase sempre); o professor vai examiná-lo"),
                       Text(f"the program was killed by {killed}", f"o programa foi morto pelo sinal {killed}"))
    if ctx.exception:
        e = ctx.exception
        stopped = Text(f"the program stopped with {e['type']}", f"o programa parou com {e['type']}") \
            + exception_location(e)
        graded = (Text("the grader graded the model it had trained", "o corretor avaliou o modelo que já tinha sido "
                       "treinado") if ctx.model is not None
                  else Text("no model could be graded", "nenhum modelo pôde ser avaliado"))
        return Problem(stopped + f": {e['message'][:300]}; " + graded
                       + Text(". Fix the error so the program runs to the end.",
                              ". Corrija o erro para que o programa rode até o fim.") + hints.text(e),
                       stopped)
    if ctx.returncode not in (0, None):
        return Problem(Text(f"the script exited with status {ctx.returncode}; make it exit normally",
                            f"o programa terminou com status {ctx.returncode}; faça-o terminar normalmente"),
                       Text(f"the program exited with status {ctx.returncode}",
                            f"o programa terminou com status {ctx.returncode}"))
    if not any(ev["event"] == "fit_start" for ev in ctx.events):  # what training is, the framework's record says
        return Problem(frameworks.recorded(ctx.summary).untrained,
                       Text("the program never trained a model", "o programa nunca treinou um modelo"))
    if ctx.model is None:  # build_context said why
        p = ctx.model_problem
        return Problem(Text("the program ran to the end, but no model could be graded: ",
                            "o programa rodou até o fim, mas nenhum modelo pôde ser avaliado: ") + p.message, p.short)
    return None


def not_reached(ctx: Context, problem: Problem) -> Outcome:
    """A check that cannot be judged for want of a fact: "not reached" and its root cause, in short.

    When the cause is the program's run, ``runs`` states it; else ``evaluate_job`` has the first check that
    meets the cause state it in full.
    """
    return Outcome(CheckStatus.NOT_REACHED, Text("not reached: ", "não alcançada: ") + problem.short,
                   unstated=None if problem is ctx.run_problem else problem)


def _advice(ctx: Context, situation: str) -> Text | str:
    """What the program's framework (its record in ``grader/frameworks.py``) tells its students in this
    situation, after a space; nothing where it has no advice."""
    said = frameworks.recorded(ctx.summary).advice.get(situation)
    return " " + said if said is not None else ""


def _no_model(ctx: Context) -> Outcome | None:
    """Not reached when there are no predictions of the graded model on the test inputs."""
    if ctx.model is None or ctx.test_pred is None:
        return not_reached(ctx, ctx.model_problem)
    return None


def _no_test_inputs(ctx: Context) -> Outcome | None:
    return not_reached(ctx, ctx.test_inputs_problem) if ctx.test_x is None else None


@GENERIC.check("runs")
def runs(ctx: Context, params: CheckParams) -> Outcome:
    problem = ctx.run_problem
    if problem is None:
        return Outcome(CheckStatus.PASS, Text("the program ran to the end and trained the graded model",
                                              "o programa rodou até o fim e treinou o modelo avaliado"))
    details: dict[str, Any] = {}
    if ctx.exception and not (ctx.timed_out or ctx.limit_hit):  # the exception is the problem
        hint = hints.find(ctx.exception)
        details = {"exception": ctx.exception, "hint": hint.record() if hint is not None else None}
        if (line := script_line(ctx, ctx.exception)) is not None:
            details["line"] = line
    return Outcome(CheckStatus.FAIL, problem.message, details)


class CorrespondenceParams(CheckParams):
    spearman_min: float = Field(0.9, ge=0, le=1, description="rank correlation of the pairwise-distance structure "
                                "of transformed inputs with the raw test rows")
    sample_rows: int = Field(200, ge=3, description="test rows sampled for that correlation")


@GENERIC.check("correspondence", params=CorrespondenceParams)
def correspondence_check(ctx: Context, params: CorrespondenceParams) -> Outcome:
    if (bad := _no_test_inputs(ctx)) is not None:
        return bad
    ok, what, details = ctx.correspondence or correspondence_texts(ctx.test_x, ctx.ref_x_test, params.spearman_min,
                                                                    params.sample_rows)
    details = {**details, "source": ctx.test_source.en}
    match = ctx.row_match
    if match is not None:
        details["row_match"] = {"how": match.how, "found": match.found, "test_rows": len(match.order),
                                "captured_rows": match.captured_rows, "extra": match.extra,
                                "reordered": match.reordered}
    if ok:
        message = Text("the graded inputs are ", "as entradas avaliadas são ") + what
        if match is not None:
            details["notice"] = "rows_matched"
            message = message + _matched_notice(ctx, match)
        return Outcome(CheckStatus.PASS, message, details)
    message = (Text("the inputs given to the graded model (", "as entradas dadas ao modelo avaliado (")
               + ctx.test_source + ") " + what)
    if match is not None and match.found:
        n = len(match.order)
        message = message + Text(f"; looked up by content, {match.found} of the {n} test rows are among its "
                                 f"{match.captured_rows} rows, and every test row must be",
                                 f"; procuradas pelo conteúdo, {match.found} das {n} linhas de teste estão entre as "
                                 f"suas {match.captured_rows} linhas, e todas as linhas de teste precisam estar")
    message = message + Text(". Run the model on the whole test set, preprocessed as the training data.",
                             ". Rode o modelo no conjunto de teste inteiro, pré-processado como os dados de treino.")
    return Outcome(CheckStatus.FAIL, message, details)


def _matched_notice(ctx: Context, match: RowMatch) -> Text:
    """What the grader noticed and did when it found the test rows by content: a notice, not a fault."""
    n, source = len(match.order), ctx.test_source
    order = (Text(" in another order", " em outra ordem") if match.reordered else Text.same(""))
    extra = (Text(f", with {match.extra} other rows", f", com outras {match.extra} linhas") if match.extra
             else Text.same(""))
    noticed = Text(f"the {n} test rows came", f"as {n} linhas de teste vieram") + order + extra
    did = Text(f"the grader found each test row by its content and graded the model on the {n} test rows alone, in "
               "the test set's order, against their labels",
               f"o corretor encontrou cada linha de teste pelo seu conteúdo e avaliou o modelo só nas {n} linhas de "
               "teste, na ordem do conjunto de teste, com os seus rótulos")
    said = _advice(ctx, "shuffled_test_loader")
    advice = said + "." if match.reordered and said else Text.same("")
    return Text(". Notice (", ". Aviso (") + source + "): " + noticed + "; " + did + "." + advice


@GENERIC.check("leakage")
def leakage(ctx: Context, params: CheckParams) -> Outcome:
    if (bad := _no_test_inputs(ctx)) is not None:
        return bad
    if not ctx.train_fingerprints:
        return Outcome(CheckStatus.INFO, Text("the training rows could not be fingerprinted (not NumPy arrays); "
                                              "leakage not checked",
                                              "não foi possível calcular a impressão digital das linhas de treino "
                                              "(não são arrays NumPy); vazamento não verificado"))
    leaked = leaked_rows(ctx.test_fingerprints, ctx.train_fingerprints)
    natural = natural_duplicates(ctx.test_x, ctx.ref_x_test, ctx.ref_x_train) if len(leaked) else np.zeros(0, int)
    leaked = np.setdiff1d(leaked, natural)
    details = {"leaked_rows": int(len(leaked)), "first": [int(i) for i in leaked[:10]],
               "natural_duplicates": int(len(natural))}
    if len(leaked):
        first = ", ".join(map(str, leaked[:5]))
        return Outcome(CheckStatus.FAIL, Text(f"{len(leaked)} test rows (first: {first}) were among the rows given to "
                                              "fit: train on the training set only; the test set measures the error.",
                                              f"{len(leaked)} linhas de teste (primeiras: {first}) estavam entre as "
                                              "linhas dadas ao fit: treine apenas com o conjunto de treino; o conjunto "
                                              "de teste serve para medir o erro."), details)
    extra = (Text(f" ({len(natural)} test rows equal training rows in the data set itself, on the features used)",
                  f" ({len(natural)} linhas de teste são iguais a linhas de treino no próprio conjunto de dados, nos "
                  "atributos usados)") if len(natural) else "")
    return Outcome(CheckStatus.PASS, Text("no test row was used for training",
                                          "nenhuma linha de teste foi usada no treino") + extra, details)


class ConsistencyParams(CheckParams):
    agreement_min: float = Field(0.995, ge=0, le=1, description="share of the student's own test predictions the "
                                 "evaluator must reproduce (below: a flag)")


@GENERIC.check("consistency", params=ConsistencyParams)
def consistency(ctx: Context, params: ConsistencyParams) -> Outcome:
    if (bad := _no_model(ctx)) is not None:
        return bad
    if ctx.child_pred is None or len(ctx.child_pred) != len(ctx.test_pred):
        return Outcome(CheckStatus.INFO, Text("no predictions of the graded model were seen in the student's process",
                                              "nenhuma predição do modelo avaliado foi vista no processo do aluno"))
    agree = float(np.mean(ctx.decode(ctx.child_pred) == ctx.test_classes))
    details = {"agreement": round(agree, 5)}
    minimum = params.agreement_min
    if agree >= minimum:
        return Outcome(CheckStatus.PASS, Text("the evaluator reproduced {agree}% of the student's own test "
                                              "predictions",
                                              "o avaliador reproduziu {agree}% das predições que o próprio aluno "
                                              "fez no conjunto de teste").format(agree=num(100 * agree)), details)
    return Outcome(CheckStatus.FLAG, Text("only {agree}% of the student's own test predictions were reproduced by "
                                          "the saved model (< {minimum}%): the instructor should look at this "
                                          "submission",
                                          "apenas {agree}% das predições que o próprio aluno fez no conjunto de "
                                          "teste foram reproduzidas pelo modelo salvo (< {minimum}%): o professor "
                                          "deve examinar esta submissão").format(agree=num(100 * agree),
                                                                                 minimum=num(100 * minimum, 1))
                   + _advice(ctx, "eval_mode"),
                   details)


@GENERIC.check("test_as_validation")
def test_as_validation(ctx: Context, params: CheckParams) -> Outcome:
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
        at = ", ".join(map(str, lines))
        where = Text(f" (fit at line {at})", f" (fit na linha {at})") if lines else Text.same("")
        return Outcome(CheckStatus.FLAG, Text("the test set was used as validation data{where}: choosing epochs or "
                                              "models on it makes the test error optimistic; hold out part of the "
                                              "training set instead",
                                              "o conjunto de teste foi usado como dados de validação{where}: "
                                              "escolher épocas ou modelos por ele torna o erro de teste otimista; "
                                              "separe uma parte do conjunto de treino para a validação"
                                              ).format(where=where),
                       {"fits": hits})
    return Outcome(CheckStatus.PASS, Text("the test set was not used as validation data",
                                          "o conjunto de teste não foi usado como dados de validação"))


class DenseOnlyParams(CheckParams):
    forbidden: list[str] = Field(["Conv", "Pool"], min_length=1, description="parts of layer class names the graded "
                                 "model may not use")

    @model_validator(mode="after")
    def _no_empty_name(self) -> DenseOnlyParams:
        if "" in self.forbidden:  # an empty part is found in every layer's name: every model would fail
            raise config_rule("an empty name is in every layer's name: remove it", "um nome vazio está no nome de "
                              "toda camada: retire-o")
        return self


@GENERIC.check("dense_only", params=DenseOnlyParams)
def dense_only(ctx: Context, params: DenseOnlyParams) -> Outcome:
    if ctx.model is None:
        return not_reached(ctx, ctx.model_problem)
    forbidden = "|".join(map(re.escape, params.forbidden))
    pattern = re.compile(forbidden)
    names = ctx.model.layer_kinds()
    bad = sorted({n for n in names if pattern.search(n)})
    details: dict[str, Any] = {"layers": names}
    if bad:
        if ctx.source_kind == "py":  # a notebook's source is its cells joined: no line of a file
            line = (source_line(ctx.source, "|".join(map(re.escape, bad)))
                    or source_line(ctx.source, rf"\w*(?:{forbidden})\w*"))  # an alias (Convolution2D)
            if line is not None:
                details["line"] = line
        return Outcome(CheckStatus.FAIL, Text(f"the graded model uses {', '.join(bad)}: this exercise asks for a "
                                              "dense (non-convolutional, non-recurrent) network; use Dense layers",
                                              f"o modelo avaliado usa {', '.join(bad)}: este exercício pede uma rede "
                                              "densa (não convolucional, não recorrente); use camadas Dense"),
                       details)
    kinds = ", ".join(dict.fromkeys(names))
    return Outcome(CheckStatus.PASS, Text(f"dense network: {kinds}", f"rede densa: {kinds}"), details)


class ThresholdParams(CheckParams):
    full_credit_max: float = Field(ge=0, le=100, description="test error (%) at or below which the check earns its "
                                   "points")
    zero_credit_min: float = Field(ge=0, le=100, description="test error (%) from which it earns none (linear "
                                   "between)")

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdParams:
        if self.zero_credit_min <= self.full_credit_max:
            raise config_rule(f"zero_credit_min ({self.zero_credit_min:g}) must be above full_credit_max "
                              f"({self.full_credit_max:g}): partial credit lies between them",
                              f"zero_credit_min ({self.zero_credit_min:g}) precisa ser maior que full_credit_max "
                              f"({self.full_credit_max:g}): a nota parcial fica entre os dois")
        return self


@GENERIC.check("threshold", params=ThresholdParams)
def threshold(ctx: Context, params: ThresholdParams) -> Outcome:
    if (bad := _no_model(ctx)) is not None:
        return bad
    err, full, zero = ctx.test_error, params.full_credit_max, params.zero_credit_min
    details = {"test_error": err, "full_credit_max": full, "zero_credit_min": zero}
    figures = {"err": num(err), "full": num(full), "zero": num(zero)}
    if ctx.quick:
        epochs = ctx.quick_epochs
        stopped = [ev.get("steps") for ev in ctx.events if ev["event"] == "quick_stop"]
        batches = (Text(", stopped after {n} batches", ", parado após {n} lotes").format(n=stopped[0])
                   if stopped and isinstance(stopped[0], int) else Text.same(""))
        return Outcome(CheckStatus.NOT_GRADED, Text("quick mode (fit capped at {epochs} epoch{s}{batches}): test "
                                                    "error {err} % measured, not graded; the full run grades it",
                                                    "modo rápido (fit limitado a {epochs} época{s}{batches}): erro de "
                                                    "teste de {err} % medido, sem nota; a execução completa dá a nota"
                                                    ).format(epochs=epochs, s="s" if epochs != 1 else "",
                                                             batches=batches, **figures),
                       details)
    if err <= full:
        return Outcome(CheckStatus.PASS, Text("test error {err} % <= {full} %",
                                              "erro de teste {err} % <= {full} %").format(**figures), details)
    if err >= zero:
        return Outcome(CheckStatus.FAIL, Text("test error {err} % (full credit at <= {full} %, none from "
                                              "{zero} %): train longer, widen the network or regularise (dropout)",
                                              "erro de teste {err} % (nota máxima com <= {full} %, nota zero a "
                                              "partir de {zero} %): treine por mais épocas, aumente a rede ou use "
                                              "regularização (dropout)").format(**figures), details)
    fraction = (zero - err) / (zero - full)
    return Outcome(CheckStatus.PARTIAL, Text("test error {err} %: partial credit ({fraction:.0%}); full credit "
                                             "at <= {full} %",
                                             "erro de teste {err} %: nota parcial ({fraction:.0%}); nota "
                                             "máxima com <= {full} %").format(fraction=fraction, **figures),
                   details, fraction=round(fraction, 4))


#: A stated error this far from the measured one is never noise: a claim of 1.20 % on a net measuring 1.70 % fails.
CLAIM_TOLERANCE_CAP = 0.45


class HonestClaimParams(CheckParams):
    tolerance: float = Field(0.3, ge=0, description="points a stated test error may lie from the measured one "
                             "(widened to k x sqrt(2) x [noise] std)")
    tolerance_max: float = Field(CLAIM_TOLERANCE_CAP, gt=0, description="the widened tolerance's cap")


def claim_tolerance(ex: Any, params: HonestClaimParams) -> float:
    """Points a stated test error may lie from the measured one: the configured ``tolerance``, widened to
    k·√2·σ where the exercise's measured run-to-run spread σ (``[noise]``) is larger, capped below half a point.

    The statement comes from the student's run and the measure from the grader's: two independent runs, whose
    difference has standard deviation √2·σ; k of those (k = 3: 99.7 % of honest claims under a normal spread).
    """
    noise = ex.noise_k * math.sqrt(2) * ex.noise_std
    return min(max(params.tolerance, noise), params.tolerance_max)


def claim_place(claim: Claim | Unread, source_kind: str) -> Text:
    """Where the student wrote a statement: a script's line, a notebook's cell (``source_kind`` 'ipynb')."""
    if source_kind != "ipynb":
        return Text(f"line {claim.line}", f"linha {claim.line}")
    if claim.source == "markdown":
        return Text(f"Markdown of cell {claim.line}", f"Markdown da célula {claim.line}")
    if claim.source == "stored_output":
        return Text(f"saved output of cell {claim.line}", f"saída salva da célula {claim.line}")
    return Text(f"cell {claim.line}", f"célula {claim.line}")


#: The forms a statement takes, for a message that asks for one.
CLAIM_FORMS = Text("`# erro de teste: 1,45 %`, `# test error: 1.45 %` or `# acurácia de teste: 98,55 %`",
                   "`# erro de teste: 1,45 %`, `# test error: 1.45 %` ou `# acurácia de teste: 98,55 %`")
#: Asked of a statement whose figure has no unit.
ASK_UNIT = Text("; write the unit next time, e.g. `erro de teste: 1,45 %`",
                "; da próxima vez escreva a unidade, por exemplo `erro de teste: 1,45 %`")


def _stated(claims: list[Claim], source_kind: str) -> Text:
    """Each statement as it was read, with where it is written (the first five)."""
    return Text.same("; ").join(c.described() + " (" + claim_place(c, source_kind) + ")" for c in claims[:5])


def _no_claim(unread: list[Unread], source_kind: str) -> Text:
    """Why no statement was found, and the form to write one in."""
    where = (Text("in a Markdown cell", "numa célula de Markdown") if source_kind == "ipynb"
             else Text("in a comment at the top or at the end of the file", "num comentário no início ou no fim "
                       "do arquivo"))
    if unread:
        lines = Text.same("; ").join(claim_place(u, source_kind) + f": '{u.text[:80]}'" for u in unread[:3])
        found = Text("no figure could be read in what you state (", "nenhum número pôde ser lido no que você "
                     "declara (") + lines + Text("): write the test error you obtained ",
                                                 "): escreva o erro de teste que você obteve ")
    else:
        found = Text("no stated test error found: write the test error your program obtained ",
                     "nenhum erro de teste declarado foi encontrado: escreva o erro de teste que o seu programa "
                     "obteve ")
    saved = (Text(", or submit the notebook with the output of your run saved in it",
                  " ou entregue o notebook com a saída da sua execução salva nele") if source_kind == "ipynb"
             else Text.same(""))
    forms = CLAIM_FORMS if source_kind != "ipynb" else Text(CLAIM_FORMS.en.replace("`# ", "`"),
                                                            CLAIM_FORMS.pt.replace("`# ", "`"))
    return found + where + Text(", e.g. ", ", por exemplo ") + forms + saved + Text(
        "; what the program prints while the grader runs it is not a statement",
        "; o que o programa imprime enquanto o corretor o executa não é uma declaração")


def claim_outcome(claims: list[Claim], unread: list[Unread], measured: float, tolerance: float,
                  source_kind: str) -> Outcome:
    """The verdict on the statements, given the measured test error: the decision alone, testable without a run.

    ``claims.match`` decides (any statement, any of its readings, within ``tolerance``); the message says how
    the statement that matched was read, where it is, and asks for the unit when it had none.
    """
    details = claims_details(claims, unread)
    if not claims:
        return Outcome(CheckStatus.FAIL, _no_claim(unread, source_kind), details)
    found = match(claims, measured, tolerance)
    if found is not None:
        where = claim_place(found.claim, source_kind)
        message = (Text("stated ", "declarado ") + found.claim.described(found.reading) + " (" + where + ")"
                   + Text(", measured {measured} %", ", medido {measured} %").format(measured=num(measured)))
        return Outcome(CheckStatus.PASS, message + (ASK_UNIT if not found.claim.unit else Text.same("")), details)
    unitless = any(not c.unit for c in claims)
    return Outcome(CheckStatus.FAIL, Text("stated ", "declarado ") + _stated(claims, source_kind)
                   + Text(", but the graded model measures {measured} % (tolerance {tolerance} points): "
                          "report the error your final program obtains",
                          ", mas o modelo avaliado mede {measured} % (tolerância de {tolerance} pontos): informe o "
                          "erro que o seu programa final obtém").format(measured=num(measured),
                                                                        tolerance=num(tolerance))
                   + (ASK_UNIT if unitless else Text.same("")), details)


def claims_details(claims: list[Claim], unread: list[Unread]) -> dict[str, Any]:
    """What the result keeps of the statements: each as read, and the lines not understood."""
    return {"claims": [c.as_json() for c in claims],
            "not_understood": [{"source": u.source, "line": u.line, "text": u.text} for u in unread]}


@GENERIC.check("honest_claim", params=HonestClaimParams)
def honest_claim(ctx: Context, params: HonestClaimParams) -> Outcome:
    """The test error the student states (claims.py: never what the grader's run prints) against the measured."""
    claims, unread = read_statements(ctx.statements)
    details = claims_details(claims, unread)
    if not claims:
        return Outcome(CheckStatus.FAIL, _no_claim(unread, ctx.source_kind), details)
    if (bad := _no_model(ctx)) is not None:
        bad.details.update(details)
        return bad
    if ctx.quick:
        return Outcome(CheckStatus.NOT_GRADED, Text("you state ", "você declara ") + _stated(claims, ctx.source_kind)
                       + Text("; quick mode cannot measure the full run's error to compare",
                              "; o modo rápido não mede o erro da execução completa para comparar"), details)
    return claim_outcome(claims, unread, ctx.test_error, claim_tolerance(ctx.exercise, params), ctx.source_kind)
