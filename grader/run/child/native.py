"""The compiled libraries of the student's process: loaded in an order that works, and crashes in them reported.

**TensorFlow and PyTorch in one process.** Students load MNIST with ``tensorflow.keras.datasets`` and train in
PyTorch, or the other way round. TensorFlow's and Triton's (PyTorch's GPU compiler, installed with every CUDA
build of torch on Linux) shared libraries each carry their own copy of LLVM, of different versions, and export its
symbols. TensorFlow loads ``libtensorflow_framework.so`` with ``RTLD_GLOBAL``; when ``libtriton.so`` is loaded
later, the dynamic linker binds its references to LLVM's global objects (``llvm::DebugCounter``) to TensorFlow's
copy, and its static initialisers crash on a layout they do not know (SIGSEGV in ``free``, under
``_GLOBAL__sub_I_PassBuilder.cpp``). PyTorch loads Triton lazily, from ``torch._dynamo``, which the first
``optimizer.step()`` imports; so the crash needs nothing of the student but ``import tensorflow`` (or ``keras``)
and one training step, whichever of the two was imported first. Loaded first, ``libtriton.so`` binds to its own
LLVM (it is opened ``RTLD_LOCAL``, so TensorFlow's later ``RTLD_GLOBAL`` libraries never see it) and both work.

So a program that names torch gets ``libtriton.so`` loaded before any of its code runs (0.1 s, 70 MiB of
address space; only where Triton is installed). A pin cannot do this: the CUDA wheels the GPU machines need
depend on Triton, and a CPU wheel comes from another index than PyPI's.

**Crashes.** ``faulthandler`` writes the Python stack of a thread that dies of SIGSEGV, SIGBUS, SIGILL, SIGFPE or
SIGABRT to stderr, where the grader reads the innermost frame and the student's line that led there (a notebook's
kernel writes it to a file, which the driver copies to its stderr).
"""

from __future__ import annotations

import ctypes
import faulthandler
import importlib.util
import os
import re

#: A program that names torch or torchvision (an import, a Colab ``!pip``) may load Triton.
NAMES_TORCH = re.compile(r"\btorch")


def load_before_tensorflow(source: str) -> bool:
    """Load Triton's library now when ``source`` names torch, before anything imports TensorFlow; whether it did.

    Called before the audit hook is installed: this is the grader's own loading, not the student's.
    """
    if not NAMES_TORCH.search(source):
        return False
    try:
        spec = importlib.util.find_spec("triton")  # finds the package without importing it
    except (ImportError, ValueError):
        return False
    if spec is None or not spec.submodule_search_locations:
        return False
    for folder in spec.submodule_search_locations:
        library = os.path.join(folder, "_C", "libtriton.so")
        if os.path.isfile(library):
            try:
                ctypes.CDLL(library, mode=os.RTLD_LOCAL)  # Python's own import later finds it loaded
            except OSError:
                return False  # a broken Triton fails where torch imports it, with its own message
            return True
    return False


_dump_file: list[object] = []  # the open file faulthandler writes to, kept open for the process's life


def report_crashes(path: str | None = None) -> None:
    """Have a fatal signal write every thread's Python stack to stderr (or to ``path``) before the process dies."""
    if path is None:
        faulthandler.enable(all_threads=True)
        return
    out = open(path, "w")  # noqa: SIM115 - faulthandler writes to it when the process dies
    _dump_file.append(out)
    faulthandler.enable(out, all_threads=True)
