"""Run a notebook (or a Colab-exported script with ``!``/``%`` lines) in a real IPython kernel.

The kernel runs inside the same sandbox as this driver (its loopback is private),
with the audit hook and the probe installed by a hidden first cell. After each cell, the figures
still open are captured and closed, as Colab's inline backend does; after the
last cell, or the first one that fails, a hidden cell lets the probe save the
graded model. ``pip install`` never runs: the student is told the package was
not installed.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import Any

from ...errors import KernelUnavailable
from ...handover import EXECUTED_NOTEBOOK, KERNEL_DUMP, SPEC, ChildSpec
from ...notebooks import load

SETUP = """
import os as _kg_os, re as _kg_re
from grader.handover import ChildSpec as _KgChildSpec
from grader.run.child import audit as _kg_audit, native as _kg_native
_kg_spec = _KgChildSpec.read({spec!r})
_kg_native.report_crashes({dump!r})
_kg_native.load_before_tensorflow({names_torch!r})  # 'torch' or ''
_kg_audit.install(_kg_spec, shell=get_ipython(), cells={cells!r})
from grader.run.child.probe import Probe as _KgProbe
_kg_probe = _KgProbe(_kg_spec)
_kg_probe.install()
_kg_os.chdir({workdir!r})
def _kg_setup_shell():
    ip = get_ipython()
    noop = lambda line="", cell=None: None
    ip.register_magic_function(noop, "line", "matplotlib")  # figures stay off-screen; the grader captures them
    pip = _kg_re.compile(r"^\\s*(sudo\\s+)?((python3?\\s+-m\\s+)?pip3?|apt(-get)?|conda)\\s+install\\b")
    allowed = _kg_spec.modules
    def refuse(line):
        print("[grader] not run while grading: " + line.strip()
              + " (no package can be installed; the course allows " + allowed + ")")
    def pip_magic(line):
        refuse("pip " + line)
    ip.register_magic_function(pip_magic, "line", "pip")
    ip.register_magic_function(pip_magic, "line", "conda")
    system, getoutput = ip.system, ip.getoutput
    ip.system = lambda cmd: refuse(cmd) if pip.match(cmd) else system(cmd)
    ip.system_piped = ip.system
    ip.getoutput = lambda cmd, *a, **k: refuse(cmd) if pip.match(cmd) else getoutput(cmd, *a, **k)
_kg_setup_shell()
del _kg_setup_shell, _kg_spec, _KgChildSpec
"""
AFTER_CELL = "_kg_probe.capture_open_figures('cell_end')"
FINALIZE = "_kg_probe.finalize(None, '')"  # the driver records the failing cell itself


def _first_line(source: str) -> str:
    return next((line.strip() for line in source.splitlines() if line.strip()), "")[:80]


def run(spec: ChildSpec, script: str) -> dict[str, Any] | None:
    """Execute the notebook; returns the exception record of the failing cell, or None."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from nbformat.v4 import new_code_cell

    from . import audit, native

    path = Path(script)
    artifacts = Path(spec.artifacts)
    try:
        nb = load(path)
    except ValueError as e:
        return {"type": "InvalidNotebook", "message": str(e), "line": None}
    client = NotebookClient(nb, timeout=spec.cell_timeout or None, kernel_name="python3",
                            interrupt_on_timeout=True, allow_errors=False, record_timing=False,
                            # once the hidden last cell has saved what the evaluator reads, the kernel is stopped,
                            # not asked to exit: its interpreter's teardown with TensorFlow loaded is a second of
                            # nothing (Colab never runs exit handlers at the end of a notebook either)
                            shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(path.parent)}})
    failure: dict[str, Any] | None = None
    printed = 0

    def hidden(code: str) -> None:
        """Run the grader's own code in the kernel, in a scratch cell that never stays in the notebook."""
        nb.cells.append(new_code_cell(code))
        try:
            client.execute_cell(nb.cells[-1], len(nb.cells) - 1, store_history=False)
        finally:
            nb.cells.pop()

    def echo() -> None:
        """Copy the cells' printed output to this process's stdout (the job's output the feedback shows)."""
        nonlocal printed
        for cell in nb.cells[printed:]:
            for out in cell.get("outputs", []):
                if out.get("output_type") == "stream":
                    (sys.stderr if out.get("name") == "stderr" else sys.stdout).write(out.get("text", ""))
                elif out.get("output_type") == "error":
                    sys.stdout.write("\n".join(out.get("traceback", [])[-3:]) + "\n")
        sys.stdout.flush()
        sys.stderr.flush()

    with contextlib.ExitStack() as kernel:
        cells = audit.cell_keys({i + 1: c.source for i, c in enumerate(nb.cells) if c.cell_type == "code"})
        try:
            kernel.enter_context(client.setup_kernel())
            code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
            hidden(SETUP.format(spec=str(artifacts.parent / SPEC), workdir=str(path.parent),
                                cells=cells, names_torch="torch" if native.NAMES_TORCH.search(code) else "",
                                dump=str(artifacts / KERNEL_DUMP)))
        except Exception as e:  # e.g. "Kernel didn't respond in 60 seconds" where the sandbox has no loopback
            raise KernelUnavailable(f"{type(e).__name__}: {str(e)[:500]}") from e
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            where = f"cell {index + 1} (`{_first_line(cell.source)}`)"
            timeout = {"type": "CellTimeout", "message": f"{where} ran longer than {client.timeout} s",
                       "where": where, "cell": index + 1}
            started = time.monotonic()
            try:
                client.execute_cell(cell, index)
            except CellTimeoutError:
                failure = timeout
            except CellExecutionError as e:
                interrupted = e.ename == "KeyboardInterrupt" and client.timeout and \
                    time.monotonic() - started >= client.timeout  # nbclient interrupts a cell that times out
                failure = timeout if interrupted else {
                    "type": e.ename, "message": str(e.evalue)[:2000], "where": where, "cell": index + 1,
                    "traceback": "\n".join(str(e).splitlines()[-30:])}
            except DeadKernelError as e:
                failure = {"type": "DeadKernel", "message": f"the kernel died during {where}: {e}"[:2000],
                           "where": where, "cell": index + 1, "signal": _killed_by(client, artifacts)}
                break
            finally:
                echo()
                printed = index + 1
            if failure:
                break
            hidden(AFTER_CELL)
        if failure is None or failure["type"] != "DeadKernel":
            try:
                if failure:
                    hidden(AFTER_CELL)  # the failing cell's figures; the others were captured after their cell
                hidden(FINALIZE)
            except Exception as e:  # the kernel is gone: nothing more to save
                print(f"[grader] could not save the graded model: {e}", file=sys.stderr)
    _save_executed(nb, artifacts)
    return failure


def _killed_by(client: Any, artifacts: Path) -> int | None:
    """The crash signal that killed the kernel (its stack, dumped to a file, copied to this process's stderr), or
    None (a SIGKILL is a limit's, which the runner reports)."""
    from ...hints import CRASH_SIGNALS

    process = getattr(getattr(client.km, "provisioner", None), "process", None)
    status = process.poll() if process is not None else None
    dump = artifacts / KERNEL_DUMP
    with contextlib.suppress(OSError):
        sys.stderr.write(dump.read_text(errors="replace")[-64 * 1024:])
        sys.stderr.flush()
    return -status if status is not None and -status in CRASH_SIGNALS else None


def _save_executed(nb: Any, artifacts: Path) -> None:
    import nbformat

    try:
        text = nbformat.writes(nb)
        if len(text) <= 20 * 2**20:
            (artifacts / EXECUTED_NOTEBOOK).write_text(text)
    except Exception as e:
        print(f"[grader] could not keep the executed notebook: {e}", file=sys.stderr)
