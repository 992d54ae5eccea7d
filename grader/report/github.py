"""GitHub Actions feedback: a job summary, ``::error``/``::warning`` annotations and an exit code.

See GitHub's "Workflow commands": annotations are lines on stdout, the job summary is Markdown
appended to the file named by ``$GITHUB_STEP_SUMMARY``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..schema import CheckStatus, JobResult, JobStatus
from . import i18n
from .feedback import render

#: The annotation level of a check's status; the other statuses get none.
ERROR, WARNING = (CheckStatus.FAIL,), (CheckStatus.PARTIAL, CheckStatus.FLAG)


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _file(result: JobResult, workspace: Path) -> str | None:
    path = (result.get("submission") or {}).get("path")
    if not path:
        return None
    try:
        return os.path.relpath(Path(path).resolve(), workspace.resolve())
    except ValueError:
        return str(path)


def annotations(results: list[JobResult], workspace: Path, lang: str = "en") -> list[str]:
    """One workflow command per failed (error) or partial/flagged (warning) check, at its line when known."""
    lines = []
    for r in results:
        file = _file(r, workspace)
        if file is None:
            continue
        located = (r.get("submission") or {}).get("kind") == "py"
        for c in r.get("checks", []):  # a check not reached has none: its root cause has one
            level = "error" if c["status"] in ERROR else "warning" if c["status"] in WARNING else None
            if level is None:
                continue
            props = [f"file={_prop(file)}"]
            line = (c.get("details") or {}).get("line")
            if located and isinstance(line, int) and line > 0:
                props.append(f"line={line}")
            props.append(f"title={_prop(r['exercise'] + ': ' + i18n.check_title(c['name'], lang))}")
            lines.append(f"::{level} {','.join(props)}::{_data(i18n.message(c, lang))}")
        for notice, text in zip(r.get("notices") or [], i18n.notices(r, lang)):
            line = f",line={notice['line']}" if located and isinstance(notice.get("line"), int) else ""
            lines.append(f"::notice file={_prop(file)}{line},title={_prop(r['exercise'] + ': ' + i18n.t('keras2', lang))}"
                         f"::{_data(text)}")
        if r.get("error") and not any(c["status"] in ERROR for c in r.get("checks", [])):
            lines.append(f"::error file={_prop(file)},title={_prop(r['exercise'])}::{_data(i18n.message(r, lang))}")
    return lines


def failed(results: list[JobResult]) -> bool:
    """Whether the CI job should fail: a submitted exercise has a failing check or did not run."""
    return any(r["status"] not in (JobStatus.OK, JobStatus.PARTIAL, JobStatus.MISSING) for r in results)


def publish(student: str, results: list[JobResult], workspace: Path, lang: str = "en") -> list[str]:
    """Append the job summary (the page of feedback.md; its figures stay in the artifacts) to
    ``$GITHUB_STEP_SUMMARY`` when set; return the annotation lines to print."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with open(target, "a", encoding="utf-8") as f:
            f.write(render(student, results, lang) + "\n")
    return annotations(results, workspace, lang)
