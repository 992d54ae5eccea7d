"""Entry point of the student's process: ``python -m grader.run.child.main SPEC.json``.

A script is run unmodified as ``__main__`` with the probe installed first; a
notebook (or a script with Colab's ``!``/``%`` lines) is run cell by cell in an
IPython kernel (``notebook.py``). Either way the probe saves what the evaluator
needs, whatever way the student's code ended.
"""

from __future__ import annotations

import json
import os
import runpy
import sys

from ...errors import KernelUnavailable
from ...handover import EXCEPTION, KERNEL_UNAVAILABLE, SCRIPT_ENV, STARTED_FD_ENV, ChildSpec


def main(spec_path: str) -> int:
    started = os.environ.pop(STARTED_FD_ENV, None)
    if started:  # tell the runner the sandbox was built; closed before any student code can use it
        os.write(int(started), b"1")
        os.close(int(started))
    spec = ChildSpec.read(spec_path)
    script = os.path.abspath(spec.script)
    os.environ[SCRIPT_ENV] = script
    from ...notebooks import needs_kernel
    from . import native

    source = _read(script)
    if script.endswith(".ipynb") or needs_kernel(source):
        from . import notebook

        try:
            failure = notebook.run(spec, script)
        except KernelUnavailable as e:
            print(f"[grader] the notebook's kernel could not start: {e}", file=sys.stderr)
            return KERNEL_UNAVAILABLE
        if failure:
            with open(os.path.join(spec.artifacts, EXCEPTION), "w") as f:
                json.dump(failure, f)
        if failure and failure.get("signal"):  # the kernel crashed: exit as a shell reports a crashed script
            return 128 + failure["signal"]
        return 1 if failure else 0

    from . import audit

    native.report_crashes()
    native.load_before_tensorflow(source)  # before the audit hook: the grader's loading, not the student's
    audit.install(spec)  # first: every attempt of the student's code is seen, the probe's imports too
    from .probe import Probe

    probe = Probe(spec)
    probe.install()
    os.chdir(os.path.dirname(script))
    sys.argv = [script]
    sys.path[0] = os.path.dirname(script)
    error: BaseException | None = None
    try:
        runpy.run_path(script, run_name="__main__")
    except BaseException as e:  # noqa: BLE001 - student code may raise anything, even SystemExit
        error = e
        if not isinstance(e, SystemExit):
            import traceback

            tb = e.__traceback__  # show the student's frames, not the grader's
            while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) != script:
                tb = tb.tb_next
            traceback.print_exception(type(e), e, tb or e.__traceback__)
    finally:
        sys.stdout.flush()
        probe.finalize(error, script)
    if isinstance(error, SystemExit):
        return error.code if isinstance(error.code, int) else (0 if error.code is None else 1)
    return 1 if error else 0


def _read(path: str) -> str:
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
