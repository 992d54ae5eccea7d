"""The words of the reports in the course's two languages: pt (pt-BR) and en.

Check messages come bilingual from the checks themselves (``message``/``message_pt``);
this module names the checks and statuses and holds the reports' fixed sentences, each one ``Text``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..schema import CheckStatus, JobResult, JobStatus
from ..text import Text

CHECKS: dict[str, Text] = {
    "runs": Text("runs to the end and trains a model", "executa até o fim e treina um modelo"),
    "correspondence": Text("graded inputs are the test set", "entradas avaliadas são o conjunto de teste"),
    "leakage": Text("no test row in training", "nenhuma linha de teste no treino"),
    "consistency": Text("saved model reproduces the predictions", "modelo salvo reproduz as predições"),
    "test_as_validation": Text("test set not used as validation", "teste não usado como validação"),
    "dense_only": Text("dense layers only", "somente camadas densas"),
    "threshold": Text("test error below the target", "erro de teste abaixo da meta"),
    "test_accuracy": Text("test accuracy", "acurácia de teste"),
    "honest_claim": Text("stated test error matches", "erro de teste declarado confere"),
    "two_inputs": Text("network takes 2 inputs", "rede recebe 2 entradas"),
    "train_rows": Text("trained on the table", "treinada com a tabela"),
    "skin_invariance": Text("skin colour ignored", "cor da pele ignorada"),
    "sparse_loss": Text("sparse cross-entropy loss", "perda entropia cruzada esparsa"),
    "no_to_categorical": Text("integer labels (no to_categorical)", "rótulos inteiros (sem to_categorical)"),
    "figure": Text("figure of 20 test images", "figura com 20 imagens de teste"),
}

#: Every status's name in the reports (a check's ``partial`` and a job's are one string, named once).
STATUSES: dict[str, Text] = {
    # checks
    CheckStatus.PASS: Text("pass", "ok"),
    CheckStatus.FAIL: Text("fail", "falhou"),
    CheckStatus.PARTIAL: Text("partial", "parcial"),
    CheckStatus.FLAG: Text("flag", "alerta"),
    CheckStatus.INFO: Text("info", "informativo"),
    CheckStatus.NOT_GRADED: Text("not graded", "não avaliado"),
    CheckStatus.NOT_REACHED: Text("not reached", "não alcançada"),  # an earlier root cause, stated once
    # jobs
    JobStatus.OK: Text("ok", "ok"),
    JobStatus.FAILED: Text("failed checks", "com falhas"),
    JobStatus.ERROR: Text("error", "erro"),
    JobStatus.TIMEOUT: Text("time limit", "tempo esgotado"),
    JobStatus.RESOURCE_LIMIT: Text("resource limit", "limite de recursos"),
    JobStatus.MISSING: Text("not submitted", "não entregue"),
    JobStatus.EMPTY: Text("empty submission", "entrega vazia"),
    JobStatus.GRADER_ERROR: Text("not graded (grader fault)", "não avaliado (falha do corretor)"),
}

TEXTS: dict[str, Text] = {
    "feedback": Text("Feedback", "Retorno"),
    "total": Text.same("Total"),
    "points": Text("points", "pontos"),
    "check": Text("check", "verificação"),
    "result": Text("result", "resultado"),
    "measured": Text("what was measured", "o que foi medido"),
    "next": Text("What to do next", "O que fazer agora"),
    "all_good": Text("Nothing to fix: every check passed.", "Nada a corrigir: todas as verificações passaram."),
    "test_error": Text("Test error measured by the grader", "Erro de teste medido pelo corretor"),
    "test_error_short": Text("test error", "erro de teste"),
    "quick_short": Text("quick mode", "modo rápido"),
    "target": Text("target", "meta"),
    "figures": Text("Figures your program drew", "Figuras que seu programa desenhou"),
    "notebook": Text("Your notebook as it ran here", "Seu notebook como foi executado aqui"),
    "quick": Text("Quick mode (CI feedback): training was capped at a few epochs and the test-error targets "
                  "are not graded; the final grade comes from a full run.",
                  "Modo rápido (retorno do CI): o treino foi limitado a poucas épocas e as metas de erro de "
                  "teste não são avaliadas; a nota final vem de uma execução completa."),
    "missing": Text("Not submitted: put your program in `{file}` (or a notebook with the same name and .ipynb).",
                    "Não entregue: coloque seu programa em `{file}` (ou um notebook com o mesmo nome e .ipynb)."),
    "graded_by": Text("Graded by keras-grader {version} on {device}, Keras backend {backend}, {when}.",
                      "Corrigido pelo keras-grader {version} em {device}, backend do Keras {backend}, {when}."),
    "keras2": Text("Keras 2 code", "Código do Keras 2"),
    "keras2_notice": Text("graded as Keras 2 ran it; for Keras 3 write {write}",
                          "avaliado como o Keras 2 o executava; no Keras 3 escreva {write}"),
    "keras2_penalty": Text("{points} point(s) off for Keras 2 code (a rule of this course)",
                           "{points} ponto(s) a menos por código do Keras 2 (regra desta disciplina)"),
    "line": Text("line {line}", "linha {line}"),
    "attempts": Text("What the sandbox stopped", "O que o ambiente isolado bloqueou"),
    "attempts_intro": Text("Your program tried these actions, which no exercise needs; the grader recorded them "
                           "for the instructor. They do not change your score.",
                           "Seu programa tentou estas ações, de que nenhum exercício precisa; o corretor as "
                           "registrou para o professor. Elas não mudam sua nota."),
    "quick_full": Text("Quick mode, but your program never trains longer than the quick cap: it ran as in a full "
                       "run, so its test-error target and stated error are graded.",
                       "Modo rápido, mas seu programa nunca treina mais do que o limite do modo rápido: ele rodou "
                       "como numa execução completa, então a meta de erro de teste e o erro declarado são avaliados."),
    "runs": Text("Runs (seed: test error)", "Execuções (semente: erro de teste)"),
    # the instructor's decisions (grader/decisions.py): what the grader gave, what the instructor set, and why
    "decisions": Text("The instructor's decision", "Decisão do professor"),
    "grader_gave": Text("grader: {points}", "corretor: {points}"),
    "decided_points": Text("{what}: {points} points instead of the grader's {grader}: {reason}",
                           "{what}: {points} pontos em vez dos {grader} do corretor: {reason}"),
    "decided_score": Text("the exercise", "o exercício"),
    "decided_excuse": Text("excused: this exercise counts in no total: {reason}",
                           "dispensado: este exercício não conta em nenhum total: {reason}"),
    "decided_confirm": Text("{flag}: the alert was confirmed: {reason}",
                            "{flag}: o alerta foi confirmado: {reason}"),
    "decided_dismiss": Text("{flag}: the alert was dismissed: {reason}",
                            "{flag}: o alerta foi descartado: {reason}"),
    "excused": Text("excused", "dispensado"),
    "not_final": Text("Not a final grade: {why}. The final grade comes from a full run.",
                      "Não é a nota final: {why}. A nota final vem de uma execução completa."),
}


def decision_lines(result: JobResult, lang: str) -> list[str]:
    """The instructor's decisions on a result, one sentence each, with the reason (never the instructor's note,
    which ``decisions.apply`` leaves out of the result)."""
    from .values import points

    out = []
    for d in result.get("decisions") or []:
        reason = d.get("reason", "")
        if d["kind"] == "points":
            what = check_title(d["check"], lang) if d["check"] else t("decided_score", lang)
            out.append(t("decided_points", lang, what=what, points=points(d["points"], lang),
                         grader=points(d["grader_points"], lang), reason=reason))
        elif d["kind"] == "excuse":
            out.append(t("decided_excuse", lang, reason=reason))
        else:
            out.append(t(f"decided_{d['kind']}", lang, flag=check_title(d["flag"] or "", lang), reason=reason))
    return out


def t(key: str, lang: str, **values: Any) -> str:
    """The report's sentence ``key`` in ``lang``, ``values`` filled in."""
    text = TEXTS[key].get(lang)
    return text.format(**values) if values else text


def check_title(name: str, lang: str) -> str:
    title = CHECKS.get(name)
    return title.get(lang) if title is not None else name


def status(value: str, lang: str) -> str:
    label = STATUSES.get(value)
    return label.get(lang) if label is not None else str(value)


def notices(result: JobResult, lang: str) -> list[str]:
    """The Keras 2 notices of a result, one sentence each: "line 14: graded as Keras 2 ran it; ..."."""
    out = []
    for n in result.get("notices") or []:
        where = t("line", lang, line=n["line"]) + ": " if n.get("line") else ""
        out.append(where + t("keras2_notice", lang, write=n.get(lang) or n.get("en", "")))
    return out


def runs_line(result: JobResult, lang: str) -> str:
    """Why a job was run more than once and every run's test error, e.g. 'Runs (seed: test error): 7: 1,58 %, ...'."""
    from .values import decimal, number

    runs = [r for r in result.get("runs") or [] if isinstance(r, dict)]
    errors = ", ".join(f"{r.get('seed')}: " + (f"{decimal(e, 2, lang)} %" if (e := number(r.get("test_error")))
                                               is not None else "—") for r in runs)
    why = Text.read(result, "rerun")
    return f"{t('runs', lang)}: {errors}" + (f" — {why.get(lang)}" if why else "")


def message(item: Mapping[str, Any], lang: str) -> str:
    """A check's or an attempt's ``message``, else a job's ``error``, in ``lang`` ('' when it has none)."""
    text = Text.read(item, "message" if "message" in item else "error")
    return text.get(lang) if text is not None else ""
