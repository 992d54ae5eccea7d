"""The evaluator process: ``python -m grader.evaluation.worker [BACKEND]``, started sandboxed by ``executors.py``.

It imports Keras once, answers ``{"ready": true, ...}``, then reads one JSON request per line on
stdin and writes one JSON answer per line on stdout, until end of file:

- ``{"id": N, "op": "evaluate", "job": {...}}`` -> ``{"id": N, "ok": true, "result": {...}}``
  (``evaluator.evaluate_job``: the checks of one finished run);
- ``{"id": N, "op": "inspect", "artifacts": DIR}`` -> ``{"id": N, "ok": true, "result": null | [en, pt]}``
  (what makes the model file in ``DIR`` (``graded.keras``, ``graded.onnx``: ``frameworks.handed_over``) an
  invalid file of its kind, read without the framework);
- an exception in the grader's own code -> ``{"id": N, "ok": false, "error": "Type: message"}``.

Nothing else reaches stdout: what TensorFlow, Keras or a model prints goes to stderr (the log).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from .frameworks import handed_over


def send(channel: Any, text: str) -> None:
    channel.write(text + "\n")
    channel.flush()


def handle(request: dict[str, Any]) -> Any:
    if request.get("op") == "inspect":
        artifacts = Path(request["artifacts"])
        framework = handed_over(artifacts)
        problem = framework.inspect(artifacts / framework.model_file)
        return None if problem is None else [problem.en, problem.pt]
    from .evaluator import evaluate_job

    return evaluate_job(request["job"])


def main(argv: list[str]) -> int:
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # stray prints (fd 1) go to the log, never into an answer
    from . import evaluator as evaluate

    evaluate.warm_up(argv[1] if len(argv) > 1 else None)
    import keras

    send(channel, json.dumps({"ready": True, "keras": keras.__version__, "backend": keras.backend.backend()}))
    for line in sys.stdin.buffer:
        request = json.loads(line)
        try:
            reply = {"id": request.get("id"), "ok": True, "result": handle(request)}
            text = json.dumps(reply)
        except Exception as e:  # noqa: BLE001 - the grader's own fault, reported to the parent
            traceback.print_exc()
            text = json.dumps({"id": request.get("id"), "ok": False, "error": f"{type(e).__name__}: {e}"[:2000]})
        send(channel, text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
