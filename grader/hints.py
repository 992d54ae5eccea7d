"""What to do about the errors real students of this course hit (DESIGN §9).

The handout was written for Keras 2 (TensorFlow 2.13-2.15); grading runs Keras 3,
where several of its idioms fail. Those whose meaning Keras 3 kept run anyway when the
course's Keras 2 layer is on (``grader/run/child/keras2.py``); their entries here serve a course
that turns it off, and the idioms whose meaning changed. One entry per known cause: the exception it
raises, and the fix, in English and Portuguese. Add an entry with a test in
``tests/test_hints.py`` that reproduces the error for real.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Hint:
    id: str
    type: str            # regex on the exception's class name
    message: str         # regex on its message; named groups fill the texts
    en: str
    pt: str

    def match(self, exc_type: str, exc_message: str) -> dict[str, str] | None:
        if not re.fullmatch(self.type, exc_type):
            return None
        m = re.search(self.message, exc_message)
        return {k: v or "" for k, v in m.groupdict().items()} if m else None


CATALOGUE = [
    Hint("integer_learning_rate", "ValueError", r"learning_rate.*Received instead: learning_rate=(?P<lr>-?\d+)\b",
         "Keras 3 rejects an integer learning rate: write learning_rate={lr}.0",
         "o Keras 3 não aceita taxa de aprendizado inteira: escreva learning_rate={lr}.0"),
    Hint("lr_renamed", "ValueError|TypeError", r"not recognized: \{'lr'|unexpected keyword argument 'lr'",
         "the optimizer argument `lr` is now `learning_rate`: e.g. optimizers.Adam(learning_rate=0.001)",
         "o argumento `lr` do otimizador agora se chama `learning_rate`: ex. optimizers.Adam(learning_rate=0.001)"),
    Hint("nb_epoch", "TypeError", r"unexpected keyword argument 'nb_epoch'",
         "fit's `nb_epoch` is now `epochs`", "o `nb_epoch` de fit agora se chama `epochs`"),
    Hint("predict_classes", "AttributeError", r"no attribute 'predict_(?P<what>classes|proba)'",
         "predict_{what} was removed: use model.predict(x).argmax(axis=1) (or > 0.5 for one sigmoid output)",
         "predict_{what} não existe mais: use model.predict(x).argmax(axis=1) (ou > 0.5 para uma saída sigmoide)"),
    Hint("save_extension", "ValueError", r"Invalid filepath extension for saving",
         "Keras 3 saves to a file ending in .keras (or .h5): model.save('model.keras')",
         "o Keras 3 grava em arquivo terminado em .keras (ou .h5): model.save('modelo.keras')"),
    Hint("keras2_module", "ModuleNotFoundError|ImportError",
         r"(No module named|cannot import name) '(?P<name>np_utils|(tensorflow\.)?keras\.(layers\.core|utils\.np_utils|"
         r"layers\.convolutional|optimizers\.legacy|wrappers[\w.]*))'",
         "{name} is Keras 2: import layers from keras.layers and to_categorical from keras.utils",
         "{name} é do Keras 2: importe as camadas de keras.layers e to_categorical de keras.utils"),
    Hint("legacy_optimizer", "ImportError", r"`keras\.optimizers\.legacy` is not supported",
         "keras.optimizers.legacy is Keras 2: use keras.optimizers.SGD, Adam, RMSprop ... (the same algorithms)",
         "keras.optimizers.legacy é do Keras 2: use keras.optimizers.SGD, Adam, RMSprop ... (os mesmos algoritmos)"),
    Hint("monitor_acc", "ValueError", r"received monitor=(?P<monitor>(val_)?acc), but Keras isn't able",
         "Keras 3 logs the metric 'accuracy' under the name you gave it: write monitor='{monitor}uracy'",
         "o Keras 3 registra a métrica 'accuracy' com o nome que você deu: escreva monitor='{monitor}uracy'"),
    Hint("generator_method", "AttributeError", r"no attribute '(?P<what>fit|evaluate|predict)_generator'",
         "{what}_generator was removed: call model.{what}(...) with the same generator",
         "{what}_generator não existe mais: chame model.{what}(...) com o mesmo gerador"),
    Hint("keras1_init", "ValueError|TypeError", r"Unrecognized keyword arguments passed to (?P<layer>\w+): \{'init'",
         "init= is Keras 1 (Keras 2 already refused it): write {layer}(..., kernel_initializer=...)",
         "init= é do Keras 1 (o Keras 2 já o recusava): escreva {layer}(..., kernel_initializer=...)"),
    Hint("missing_module", "ModuleNotFoundError", r"No module named '(?P<name>[\w.]+)'",
         "the module {name} is not installed where grading runs and cannot be (pip install does not run): "
         "the course allows {allowed}",
         "o módulo {name} não está instalado no corretor e não pode ser instalado (pip install não roda): "
         "a disciplina permite {allowed}"),
    Hint("missing_file", "FileNotFoundError", r"No such file or directory: '(?P<file>[^']+)'",
         "{file} does not exist where grading runs: the course's data files (ax.txt ... qy.txt, noisynote.zip) are "
         "in the current folder and in noisynote/, MNIST comes from keras.datasets; do not use paths of your own "
         "computer or Drive",
         "{file} não existe no corretor: os arquivos do curso (ax.txt ... qy.txt, noisynote.zip) estão no diretório "
         "atual e em noisynote/, o MNIST vem de keras.datasets; não use caminhos do seu computador ou do Drive"),
    Hint("out_of_memory", "ResourceExhaustedError|MemoryError|XlaRuntimeError", r"(?i)OOM|out of memory|^$|RESOURCE_EXHAUSTED",
         "the program ran out of memory: use a smaller batch_size or a smaller network",
         "o programa ficou sem memória: use batch_size menor ou uma rede menor"),
]


def find(exception: dict[str, Any] | None) -> dict[str, str] | None:
    """The first hint for an exception record ({type, message}), as {id, en, pt}; None if unknown."""
    if not exception:
        return None
    exc_type, message = str(exception.get("type", "")), str(exception.get("message", ""))
    for hint in CATALOGUE:
        groups = hint.match(exc_type, message)
        if groups is not None:
            if "{allowed}" in hint.en:
                from .environment import allowed_text

                groups["allowed"] = allowed_text()
            return {"id": hint.id, "en": hint.en.format(**groups), "pt": hint.pt.format(**groups)}
    return None


def text(exception: dict[str, Any] | None, lang: str = "en") -> str:
    """' Hint: ...' (or ' Dica: ...' for lang 'pt') for a known cause, else ''."""
    hint = find(exception)
    if not hint:
        return ""
    return f" Dica: {hint['pt']}." if lang == "pt" else f" Hint: {hint['en']}."
