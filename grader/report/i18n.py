"""The words of the reports in the course's two languages: pt (pt-BR) and en.

Check messages come bilingual from the checks themselves (``message``/``message_pt``);
this module names the checks and statuses and holds the reports' fixed sentences.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..schema import CheckStatus, JobResult, JobStatus
from ..text import Text

CHECKS: dict[str, dict[str, str]] = {
    "runs": {"en": "runs to the end and trains a model", "pt": "executa até o fim e treina um modelo"},
    "correspondence": {"en": "graded inputs are the test set", "pt": "entradas avaliadas são o conjunto de teste"},
    "leakage": {"en": "no test row in training", "pt": "nenhuma linha de teste no treino"},
    "consistency": {"en": "saved model reproduces the predictions", "pt": "modelo salvo reproduz as predições"},
    "test_as_validation": {"en": "test set not used as validation", "pt": "teste não usado como validação"},
    "dense_only": {"en": "dense layers only", "pt": "somente camadas densas"},
    "threshold": {"en": "test error below the target", "pt": "erro de teste abaixo da meta"},
    "test_accuracy": {"en": "test accuracy", "pt": "acurácia de teste"},
    "honest_claim": {"en": "stated test error matches", "pt": "erro de teste declarado confere"},
    "two_inputs": {"en": "network takes 2 inputs", "pt": "rede recebe 2 entradas"},
    "train_rows": {"en": "trained on the table", "pt": "treinada com a tabela"},
    "skin_invariance": {"en": "skin colour ignored", "pt": "cor da pele ignorada"},
    "sparse_loss": {"en": "sparse cross-entropy loss", "pt": "perda entropia cruzada esparsa"},
    "no_to_categorical": {"en": "integer labels (no to_categorical)", "pt": "rótulos inteiros (sem to_categorical)"},
    "figure": {"en": "figure of 20 test images", "pt": "figura com 20 imagens de teste"},
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

TEXTS: dict[str, dict[str, str]] = {
    "feedback": {"en": "Feedback", "pt": "Retorno"},
    "total": {"en": "Total", "pt": "Total"},
    "points": {"en": "points", "pt": "pontos"},
    "check": {"en": "check", "pt": "verificação"},
    "result": {"en": "result", "pt": "resultado"},
    "measured": {"en": "what was measured", "pt": "o que foi medido"},
    "next": {"en": "What to do next", "pt": "O que fazer agora"},
    "all_good": {"en": "Nothing to fix: every check passed.", "pt": "Nada a corrigir: todas as verificações passaram."},
    "test_error": {"en": "Test error measured by the grader", "pt": "Erro de teste medido pelo corretor"},
    "test_error_short": {"en": "test error", "pt": "erro de teste"},
    "quick_short": {"en": "quick mode", "pt": "modo rápido"},
    "target": {"en": "target", "pt": "meta"},
    "figures": {"en": "Figures your program drew", "pt": "Figuras que seu programa desenhou"},
    "notebook": {"en": "Your notebook as it ran here", "pt": "Seu notebook como foi executado aqui"},
    "quick": {"en": "Quick mode (CI feedback): training was capped at a few epochs and the test-error targets "
                    "are not graded; the final grade comes from a full run.",
              "pt": "Modo rápido (retorno do CI): o treino foi limitado a poucas épocas e as metas de erro de "
                    "teste não são avaliadas; a nota final vem de uma execução completa."},
    "missing": {"en": "Not submitted: put your program in `{file}` (or a notebook with the same name and .ipynb).",
                "pt": "Não entregue: coloque seu programa em `{file}` (ou um notebook com o mesmo nome e .ipynb)."},
    "graded_by": {"en": "Graded by keras-grader {version} on {device}, Keras backend {backend}, {when}.",
                  "pt": "Corrigido pelo keras-grader {version} em {device}, backend do Keras {backend}, {when}."},
    "keras2": {"en": "Keras 2 code", "pt": "Código do Keras 2"},
    "keras2_notice": {"en": "graded as Keras 2 ran it; for Keras 3 write {write}",
                      "pt": "avaliado como o Keras 2 o executava; no Keras 3 escreva {write}"},
    "keras2_penalty": {"en": "{points} point(s) off for Keras 2 code (a rule of this course)",
                       "pt": "{points} ponto(s) a menos por código do Keras 2 (regra desta disciplina)"},
    "line": {"en": "line {line}", "pt": "linha {line}"},
    "attempts": {"en": "What the sandbox stopped", "pt": "O que o ambiente isolado bloqueou"},
    "attempts_intro": {"en": "Your program tried these actions, which no exercise needs; the grader recorded them "
                             "for the instructor. They do not change your score.",
                       "pt": "Seu programa tentou estas ações, de que nenhum exercício precisa; o corretor as "
                             "registrou para o professor. Elas não mudam sua nota."},
    "quick_full": {"en": "Quick mode, but your program never trains longer than the quick cap: it ran as in a full "
                         "run, so its test-error target and stated error are graded.",
                   "pt": "Modo rápido, mas seu programa nunca treina mais do que o limite do modo rápido: ele rodou "
                         "como numa execução completa, então a meta de erro de teste e o erro declarado são avaliados."},
    "runs": {"en": "Runs (seed: test error)", "pt": "Execuções (semente: erro de teste)"},
    # the instructor's decisions (grader/decisions.py): what the grader gave, what the instructor set, and why
    "decisions": {"en": "The instructor's decision", "pt": "Decisão do professor"},
    "grader_gave": {"en": "grader: {points}", "pt": "corretor: {points}"},
    "decided_points": {"en": "{what}: {points} points instead of the grader's {grader}: {reason}",
                       "pt": "{what}: {points} pontos em vez dos {grader} do corretor: {reason}"},
    "decided_score": {"en": "the exercise", "pt": "o exercício"},
    "decided_excuse": {"en": "excused: this exercise counts in no total: {reason}",
                       "pt": "dispensado: este exercício não conta em nenhum total: {reason}"},
    "decided_confirm": {"en": "{flag}: the alert was confirmed: {reason}",
                        "pt": "{flag}: o alerta foi confirmado: {reason}"},
    "decided_dismiss": {"en": "{flag}: the alert was dismissed: {reason}",
                        "pt": "{flag}: o alerta foi descartado: {reason}"},
    "excused": {"en": "excused", "pt": "dispensado"},
    "not_final": {"en": "Not a final grade: {why}. The final grade comes from a full run.",
                  "pt": "Não é a nota final: {why}. A nota final vem de uma execução completa."},
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
    text = TEXTS[key].get(lang) or TEXTS[key]["en"]
    return text.format(**values) if values else text


def check_title(name: str, lang: str) -> str:
    return CHECKS.get(name, {}).get(lang) or name


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
