"""Submitted notebooks as the grader reads them (nbformat v4), on either side of the sandbox.

The grader reads a notebook to find what the student stated (claims.py) and to refuse one with no
code before running it (jobs.py); the student's process runs it (run/child/notebook.py). Reading is
shared, so it lives below both.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

#: A line a Colab export leaves for the shell or IPython (``!pip install``, ``%matplotlib inline``).
MAGIC_LINE = re.compile(r"^\s*[!%]", re.M)


def needs_kernel(source: str) -> bool:
    """A .py file with shell or magic lines left by a Colab export needs IPython to run."""
    return bool(MAGIC_LINE.search(source))


def load(path: Path) -> Any:
    """The notebook as nbformat v4, with code to run; raises ValueError with a message for the student."""
    nb = read(path)
    if not any(c.cell_type == "code" and c.source.strip() for c in nb.cells):
        raise ValueError("the notebook has no code cells: submit the notebook with your program")
    return nb


def read(path: Path) -> Any:
    """The notebook as nbformat v4, as submitted; raises ValueError with a message for the student."""
    import nbformat

    try:
        raw = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"the notebook is not UTF-8 text (byte {e.start}): save it again from Colab or Jupyter") from e
    if path.suffix == ".py":
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(raw)])
    try:
        nb = nbformat.reads(raw, as_version=4)  # upgrades v3 notebooks
    except Exception as e:  # NotJSONError, validation errors
        raise ValueError(f"the notebook cannot be read ({type(e).__name__}: {str(e)[:200]}): it may be truncated; "
                         "download it again (File > Download > .ipynb)") from e
    return nb
