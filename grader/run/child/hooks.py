"""What every watcher in the student's process shares: import hooks, where a call came from, the capture caps.

The Keras probe (probe.py), the Keras 2 layer (keras2.py) and the PyTorch probe (torch_probe.py) each patch
a framework right after the student's program imports it, and each records the line of the student's
script that made a call; they import these from here, below all three, so none imports another to get them.
"""

from __future__ import annotations

import importlib.abc
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

from ...handover import SCRIPT_ENV

#: The most of the test inputs (and of one fit's training rows) the probe copies out of the student's process.
MAX_CAPTURE_BYTES = 512 * 2**20
#: Training arrays this small are kept whole (hard-coded data sets), so a mistyped row can be named.
SMALL_ARRAY_BYTES = 256 * 2**10


def test_sized(rows: int | None, n_test: int) -> str | None:
    """Whether inputs of ``rows`` rows may be the test set: 'exact' (its row count), 'superset' (more rows, but
    fewer than twice as many: the test rows with some others, which the evaluator looks for by content), or None.

    Below twice the test set's size, the test rows are the majority: a training set or a validation split is
    rarely that close in size (the abc table's 6 training rows against its 3 test rows are not captured).
    """
    if rows is None or rows < n_test:
        return None
    return "exact" if rows == n_test else "superset" if rows < 2 * n_test else None


class PostImportLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader, callback: Callable[[Any], None]):
        self._loader, self._callback = loader, callback

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        loader = self._loader
        while isinstance(loader, PostImportLoader):  # another finder hooked the same module
            loader = loader._loader
        module.__loader__ = loader
        self._callback(module)


class PostImportFinder(importlib.abc.MetaPathFinder):
    """Calls a patch function right after a named module has executed."""

    def __init__(self, hooks: dict[str, Callable[[Any], None]]):
        self.hooks = hooks
        self.searching: set[str] = set()  # another finder that hooks the same module asks this one back

    def find_spec(self, fullname, path, target=None):
        callback = self.hooks.get(fullname)
        if callback is None or fullname in self.searching:
            return None
        self.searching.add(fullname)
        try:
            spec = next((s for finder in sys.meta_path if finder is not self and hasattr(finder, "find_spec")
                         and (s := finder.find_spec(fullname, path, target)) is not None), None)
        finally:
            self.searching.discard(fullname)
        if spec is None:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = PostImportLoader(spec.loader, callback)
        return spec


def caller() -> dict[str, Any] | None:
    """The innermost frame of the student's script that led to this call.

    In a notebook, the innermost frame of a student's cell: its cell number, and its line within the cell as
    ``cell_line`` (``line`` stays None, since readers take it for a line of a file).
    """
    script = os.environ.get(SCRIPT_ENV)
    stack = traceback.extract_stack()[:-2]
    for frame in reversed(stack):
        if script and os.path.abspath(frame.filename) == script:
            return {"line": frame.lineno, "code": (frame.line or "")[:200]}
    cells = _notebook_cells()
    for frame in reversed(stack if cells else []):
        if (found := cells.get(frame.filename)) is not None and found[0] is not None:
            return {"line": None, "cell": found[0], "cell_line": frame.lineno, "code": (frame.line or "")[:200]}
    return None


def _notebook_cells() -> dict[str, tuple[int | None, list[str]]]:
    """In a notebook kernel, the file name of each student's cell run so far -> (its notebook cell number, its
    lines), as the audit hook learns them (``audit.Recorder.watch_cells``); empty elsewhere."""
    recorder = getattr(sys.modules.get("grader.run.child.audit"), "_installed", None)
    if getattr(recorder, "shell", None) is None:
        return {}
    runs = getattr(recorder, "runs", None)
    return runs if isinstance(runs, dict) else {}
