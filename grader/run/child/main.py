"""Entry point of the student's process: ``python -m grader.run.child.main SPEC.json``.

A script is run unmodified as ``__main__`` with the probe installed first; a
notebook (or a script with Colab's ``!``/``%`` lines) is run cell by cell in an
IPython kernel (``notebook.py``). Either way the probe saves what the evaluator
needs, whatever way the student's code ended.
"""

from __future__ import annotations

import time

STARTED = time.time()  # the first thing the child does: what came before is the sandbox's and Python's start

import atexit  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import runpy  # noqa: E402
import sys  # noqa: E402

from ...errors import KernelUnavailable  # noqa: E402
from ...handover import EXCEPTION, KERNEL_UNAVAILABLE, SCRIPT_ENV, STAGE_TIMES, STARTED_FD_ENV, ChildSpec  # noqa: E402

#: When each stage of the child began (wall clock, as the host's): the benchmark's breakdown (``handover.STAGE_TIMES``).
STAMPS: dict[str, float] = {"main": STARTED}


def main(spec_path: str) -> int:
    atexit.register(_leave)  # first registered, so it runs last: after the program's own exit handlers
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
        STAMPS["finalized"] = time.time()
        _write_stamps(spec.artifacts)
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
    STAMPS["program"] = time.time()
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
        STAMPS["finalize"] = time.time()
        probe.finalize(error, script)
        STAMPS["finalized"] = time.time()
        _write_stamps(spec.artifacts)
    if isinstance(error, SystemExit):
        return error.code if isinstance(error.code, int) else (0 if error.code is None else 1)
    return 1 if error else 0


def _write_stamps(artifacts: str) -> None:
    """The stages' start times, for the benchmark only: the evaluator never reads them (the child could lie)."""
    try:
        with open(os.path.join(artifacts, STAGE_TIMES), "w") as f:
            json.dump(STAMPS, f)
    except OSError:
        pass


_exit_status = 1


def _leave() -> None:
    """End the process once the program's threads and exit handlers are done, without Python's teardown.

    Python runs this after joining the program's non-daemon threads and after every exit handler registered
    later (the program's, the libraries'), so the program ends as it would have; what is skipped is the
    interpreter's finalization: clearing every module and running TensorFlow's and XLA's C++ destructors, a
    second of nothing per job (0.95 s measured with TensorFlow loaded, against 0.03 s for this). The probe has
    written everything before this point; the student's open files are not graded.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a stream the program closed or replaced
            pass
    os._exit(_exit_status)


def _read(path: str) -> str:
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


if __name__ == "__main__":
    _exit_status = main(sys.argv[1])
    sys.exit(_exit_status)
