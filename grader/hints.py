"""What to do about the errors real students of this course hit (docs/compatibility.md).

The handout was written for Keras 2 (TensorFlow 2.13-2.15); grading runs Keras 3,
where several of its idioms fail. Those whose meaning Keras 3 kept run anyway when the
course's Keras 2 layer is on (``grader/run/child/keras2.py``); their entries here serve a course
that turns it off, and the idioms whose meaning changed. One entry per known cause: the exception it
raises, and the fix, in English and Portuguese. Add an entry with a test in
``tests/test_hints.py`` that reproduces the error for real.

PyTorch programs (issue 16) have their own entries; the torch mistakes that raise nothing (a shuffled
test loader, a forgotten ``model.eval()``, a softmax before ``CrossEntropyLoss``) show in a check's
verdict instead, and ``TORCH_ADVICE`` holds what to tell the student there.
"""

from __future__ import annotations

import os
import re
import signal
from dataclasses import dataclass, replace
from typing import Any

from .text import Text


@dataclass(frozen=True)
class Hint:
    id: str
    type: str            # regex on the exception's class name
    message: str         # regex on its message; named groups fill the text
    text: Text           # the fix; ``find`` returns the hint with its ``{group}`` fields filled in

    def match(self, exc_type: str, exc_message: str) -> dict[str, str] | None:
        if not re.fullmatch(self.type, exc_type):
            return None
        m = re.search(self.message, exc_message)
        return {k: v or "" for k, v in m.groupdict().items()} if m else None

    def record(self) -> dict[str, str]:
        """As a check's details keep a hint (the stored shape): ``{id, en, pt}``."""
        return {"id": self.id, **self.text.by_lang()}


CATALOGUE = [
    Hint("integer_learning_rate", "ValueError", r"learning_rate.*Received instead: learning_rate=(?P<lr>-?\d+)\b",
         Text("Keras 3 rejects an integer learning rate: write learning_rate={lr}.0",
              "o Keras 3 não aceita taxa de aprendizado inteira: escreva learning_rate={lr}.0")),
    Hint("lr_renamed", "ValueError|TypeError", r"not recognized: \{'lr'|unexpected keyword argument 'lr'",
         Text("the optimizer argument `lr` is now `learning_rate`: e.g. optimizers.Adam(learning_rate=0.001)",
              "o argumento `lr` do otimizador agora se chama `learning_rate`: "
              "ex. optimizers.Adam(learning_rate=0.001)")),
    Hint("nb_epoch", "TypeError", r"unexpected keyword argument 'nb_epoch'",
         Text("fit's `nb_epoch` is now `epochs`", "o `nb_epoch` de fit agora se chama `epochs`")),
    Hint("predict_classes", "AttributeError", r"no attribute 'predict_(?P<what>classes|proba)'",
         Text("predict_{what} was removed: use model.predict(x).argmax(axis=1) (or > 0.5 for one sigmoid output)",
              "predict_{what} não existe mais: use model.predict(x).argmax(axis=1) "
              "(ou > 0.5 para uma saída sigmoide)")),
    Hint("save_extension", "ValueError", r"Invalid filepath extension for saving",
         Text("Keras 3 saves to a file ending in .keras (or .h5): model.save('model.keras')",
              "o Keras 3 grava em arquivo terminado em .keras (ou .h5): model.save('modelo.keras')")),
    Hint("keras2_module", "ModuleNotFoundError|ImportError",
         r"(No module named|cannot import name) '(?P<name>np_utils|(tensorflow\.)?keras\.(layers\.core|utils\.np_utils|"
         r"layers\.convolutional|optimizers\.legacy|wrappers[\w.]*))'",
         Text("{name} is Keras 2: import layers from keras.layers and to_categorical from keras.utils",
              "{name} é do Keras 2: importe as camadas de keras.layers e to_categorical de keras.utils")),
    Hint("legacy_optimizer", "ImportError", r"`keras\.optimizers\.legacy` is not supported",
         Text("keras.optimizers.legacy is Keras 2: use keras.optimizers.SGD, Adam, RMSprop ... (the same algorithms)",
              "keras.optimizers.legacy é do Keras 2: use keras.optimizers.SGD, Adam, RMSprop ... "
              "(os mesmos algoritmos)")),
    Hint("monitor_acc", "ValueError", r"received monitor=(?P<monitor>(val_)?acc), but Keras isn't able",
         Text("Keras 3 logs the metric 'accuracy' under the name you gave it: write monitor='{monitor}uracy'",
              "o Keras 3 registra a métrica 'accuracy' com o nome que você deu: escreva monitor='{monitor}uracy'")),
    Hint("generator_method", "AttributeError", r"no attribute '(?P<what>fit|evaluate|predict)_generator'",
         Text("{what}_generator was removed: call model.{what}(...) with the same generator",
              "{what}_generator não existe mais: chame model.{what}(...) com o mesmo gerador")),
    Hint("keras1_init", "ValueError|TypeError", r"Unrecognized keyword arguments passed to (?P<layer>\w+): \{'init'",
         Text("init= is Keras 1 (Keras 2 already refused it): write {layer}(..., kernel_initializer=...)",
              "init= é do Keras 1 (o Keras 2 já o recusava): escreva {layer}(..., kernel_initializer=...)")),
    # Before missing_module: PyTorch is allowed, but only where the grader was installed with it.
    Hint("torch_missing", "ModuleNotFoundError", r"No module named '(?P<name>torch|torchvision)(\.[\w.]*)?'",
         Text("{name} is not installed where grading runs: PyTorch programs are graded for the exercises whose "
              "exercise.toml lists torch in `frameworks`, by a grader installed with its torch extra "
              "(pip install 'keras-grader[torch]'); ask your instructor, or write this program in Keras",
              "o {name} não está instalado no corretor: programas em PyTorch são corrigidos nos exercícios cujo "
              "exercise.toml inclui torch em `frameworks`, por um corretor instalado com o extra torch "
              "(pip install 'keras-grader[torch]'); fale com o professor, ou escreva este programa em Keras")),
    Hint("numpy_on_device", "TypeError", r"can't convert (?P<device>[\w:]+) device type tensor to numpy",
         Text("a tensor on the {device} device cannot become a NumPy array: copy it to the CPU first, "
              "e.g. outputs.cpu().numpy()",
              "um tensor no dispositivo {device} não pode virar array NumPy: copie-o antes para a CPU, "
              "por exemplo saidas.cpu().numpy()")),
    Hint("numpy_requires_grad", "RuntimeError", r"Can't call numpy\(\) on Tensor that requires grad",
         Text("this tensor still records gradients: predict inside `with torch.no_grad():` (after model.eval()), or "
              "write tensor.detach().numpy()",
              "este tensor ainda registra gradientes: faça a predição dentro de `with torch.no_grad():` (depois de "
              "model.eval()), ou escreva tensor.detach().numpy()")),
    Hint("cuda_unavailable", "RuntimeError|AssertionError",
         r"No CUDA GPUs are available|Found no NVIDIA driver|Torch not compiled with CUDA enabled",
         Text("this run has no GPU: choose the device as device = 'cuda' if torch.cuda.is_available() else 'cpu', and "
              "move the model and the tensors with .to(device) instead of .cuda()",
              "esta execução não tem GPU: escolha o dispositivo com device = 'cuda' if torch.cuda.is_available() else "
              "'cpu', e mova o modelo e os tensores com .to(device) em vez de .cuda()")),
    Hint("missing_module", "ModuleNotFoundError", r"No module named '(?P<name>[\w.]+)'",
         Text("the module {name} is not installed where grading runs and cannot be (pip install does not run): "
              "the course allows {allowed}",
              "o módulo {name} não está instalado no corretor e não pode ser instalado (pip install não roda): "
              "a disciplina permite {allowed}")),
    Hint("missing_file", "FileNotFoundError", r"No such file or directory: '(?P<file>[^']+)'",
         Text("{file} does not exist where grading runs: the course's data files (ax.txt ... qy.txt, "
              "noisynote.zip) are in the current folder and in noisynote/, MNIST comes from keras.datasets; do not "
              "use paths of your own computer or Drive",
              "{file} não existe no corretor: os arquivos do curso (ax.txt ... qy.txt, noisynote.zip) estão no "
              "diretório atual e em noisynote/, o MNIST vem de keras.datasets; não use caminhos do seu computador "
              "ou do Drive")),
    Hint("out_of_memory", "ResourceExhaustedError|MemoryError|XlaRuntimeError", r"(?i)OOM|out of memory|^$|RESOURCE_EXHAUSTED",
         Text("the program ran out of memory: use a smaller batch_size or a smaller network",
              "o programa ficou sem memória: use batch_size menor ou uma rede menor")),
]


#: What to tell a PyTorch student when a check's verdict comes from a mistake that raises nothing. Keyed by the
#: mistake; each names the check it shows in.
TORCH_ADVICE = {
    # correspondence notices: the captured test inputs are the test set in another order (graded all the same).
    "shuffled_test_loader": Text(
        "A DataLoader with shuffle=True on the test set gives the model the test images in a new order on each pass; "
        "the grader matches each image to its label, so nothing is lost, but shuffle=False keeps them in order "
        "(shuffle only the training data)",
        "Um DataLoader com shuffle=True no conjunto de teste entrega as imagens de teste ao modelo numa ordem nova a "
        "cada passada; o corretor associa cada imagem ao seu rótulo, então nada se perde, mas shuffle=False as "
        "mantém em ordem (embaralhe só os dados de treino)"),
    # consistency flags: the student's own predictions (dropout on) differ from the exported network's (off).
    "eval_mode": Text(
        "call model.eval() before predicting on the test set: in training mode Dropout drops units at random and "
        "BatchNorm uses the batch's statistics, so your predictions are not those of the trained network; call "
        "model.train() again before training more",
        "chame model.eval() antes de fazer as predições no conjunto de teste: no modo de treino o Dropout desliga "
        "unidades ao acaso e o BatchNorm usa as estatísticas do lote, e as suas predições não são as da rede "
        "treinada; chame model.train() de novo antes de treinar mais"),
    # the network ends in Softmax and was trained with CrossEntropyLoss: it trains slowly, to a worse error.
    "softmax_before_cross_entropy": Text(
        "nn.CrossEntropyLoss applies the softmax itself and expects the raw scores (logits): end the network with "
        "its last nn.Linear, without nn.Softmax; a softmax before this loss flattens its gradients and the network "
        "learns slower and worse (take argmax of the logits to predict: the class is the same)",
        "a nn.CrossEntropyLoss aplica a softmax ela mesma e espera os escores brutos (logits): termine a rede na "
        "última nn.Linear, sem nn.Softmax; uma softmax antes dessa perda achata os seus gradientes e a rede aprende "
        "mais devagar e pior (para prever, tome o argmax dos logits: a classe é a mesma)"),
}


def find(exception: dict[str, Any] | None) -> Hint | None:
    """The first hint for an exception record ({type, message}), its text filled in; None if unknown."""
    if not exception:
        return None
    exc_type, message = str(exception.get("type", "")), str(exception.get("message", ""))
    for hint in CATALOGUE:
        groups = hint.match(exc_type, message)
        if groups is not None:
            if "{allowed}" in hint.text.en:
                from .environment import allowed_text

                groups["allowed"] = allowed_text()
            return replace(hint, text=hint.text.format(**groups))
    return None


def text(exception: dict[str, Any] | None) -> Text:
    """' Hint: ...' (' Dica: ...' in Portuguese) for a known cause, else an empty text."""
    hint = find(exception)
    if not hint:
        return Text.same("")
    return Text(" Hint: ", " Dica: ") + hint.text + "."


# --- a process killed by a signal from inside compiled code ---------------------------------------------------------

#: The signals a process gets from its own compiled code: a bad address, a bad instruction, a division by zero in C,
#: an ``abort()``. (SIGKILL is the watchdog's or the kernel's memory limit, which the runner reports itself.)
CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGABRT}

#: A frame of ``faulthandler``'s dump: ``  File "/path/x.py", line 15 in <module>`` (innermost first).
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+) in (?P<func>\S+)', re.M)


@dataclass(frozen=True)
class Crash:
    """How a student's process died of a signal: the signal, the innermost Python frame that ran (in a library,
    most often), and the line of the student's program that led there, as ``faulthandler`` wrote them."""

    signal: str                 # "SIGSEGV"
    frame: str | None = None    # "triton/knobs.py:15 (<module>)"
    line: int | None = None     # the student's line, in the program's own file
    cell: str | None = None     # a notebook's: "cell 2 (`import ctypes`)", the cell its kernel died in

    def record(self) -> dict[str, Any]:
        return {"signal": self.signal, "frame": self.frame, "line": self.line, "cell": self.cell}

    def text(self) -> Text:
        """'killed by SIGSEGV in triton/knobs.py:15 (<module>), reached from line 9 of your program'."""
        where = Text(f" in {self.frame}", f" em {self.frame}") if self.frame else Text.same("")
        if self.line is not None and self.frame:
            where += Text(f", reached from line {self.line} of your program",
                          f", a partir da linha {self.line} do seu programa")
        elif self.line is not None:
            where = Text(f" at line {self.line} of your program", f" na linha {self.line} do seu programa")
        if self.cell:
            # ``cell`` is stored in English ("cell 2 (`import ctypes`)"), as the notebook runner names it
            where += Text(f", during {self.cell}", f", durante a {re.sub(r'^cell ', 'célula ', self.cell)}")
        killed = Text(f"the program was killed by {self.signal}", f"o programa foi morto pelo sinal {self.signal}")
        return killed + where


def crash_signal(returncode: int | None) -> str | None:
    """The crash signal a return code reports, or None: -N from Python's ``subprocess``, 128+N from a shell or a
    sandbox's init (bwrap, unshare) that passes the child's death on as its own status."""
    if returncode is None:
        return None
    number = -returncode if returncode < 0 else returncode - 128 if 128 < returncode < 160 else 0
    return signal.Signals(number).name if number in CRASH_SIGNALS else None


def crash(returncode: int | None, stderr: str, script: str = "") -> Crash | None:
    """The crash a run ended in, read from its return code and the last ``faulthandler`` dump on its stderr; None when
    it did not die of a crash signal. ``script`` is the program's file name, to find the student's line."""
    name = crash_signal(returncode)
    if name is None:
        return None
    frames = [m for m in _FRAME.finditer(_crashed_thread(stderr)) if not m["file"].startswith("<frozen")]
    mine = [script and os.path.basename(m["file"]) == script for m in frames]
    own = [int(m["line"]) for m, is_mine in zip(frames, mine) if is_mine]
    if not frames or mine[0]:  # no dump, or the student's own line is the innermost frame (os.kill, say)
        return Crash(name, None, own[0] if own else None)
    return Crash(name, f"{_short(frames[0]['file'])}:{frames[0]['line']} ({frames[0]['func']})",
                 own[0] if own else None)


def _crashed_thread(stderr: str) -> str:
    """The stack of the thread that crashed, from the last dump on stderr (``Current thread`` where every thread's
    is written, else the only one); '' when there is none."""
    dump = stderr[stderr.rfind("Fatal Python error"):] if "Fatal Python error" in stderr else ""
    start = dump.find("Current thread")
    start = start if start >= 0 else dump.find("most recent call first")
    if start < 0:
        return ""
    end = dump.find("\n\n", start)
    return dump[start:end if end >= 0 else None]


def _short(path: str) -> str:
    """A library file as its package names it (``triton/knobs.py``), else the file's name."""
    for marker in ("site-packages/", "dist-packages/"):
        if marker in path:
            return path.rsplit(marker, 1)[1]
    stdlib = re.search(r"/python3\.\d+/(.+)$", path)
    return stdlib[1] if stdlib else os.path.basename(path)
