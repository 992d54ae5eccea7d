"""Are two gradings of the same jobs the same verdicts? For a change that must not change behaviour.

    python benchmarks/same_verdicts.py BEFORE/results AFTER/results

Grade the same class (or set of job variants) with the grader before and after the change, each into its own
``--out``, then compare: every job's result JSON, without what differs from run to run by nature (times, dates,
paths of temporary folders, the job key that holds the grader's version, the raw output tails, memory peaks).
Prints each difference and exits 1 when there is one.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

#: Keys whose values are the run's, not the verdict's.
VOLATILE = {"times", "started_at", "finished_at", "key", "stdout_tail", "stderr_tail", "peak_memory_mb", "run_s",
            "grader_version", "all_runs_s", "artifacts", "eval_seconds"}

JOB_DIR = re.compile(r"/[^\s\"']*/jobs/keras-grader-[\w-]+")


def strip(value: Any, path: str = "") -> Any:
    if path.endswith(".traceback") and isinstance(value, str):  # the grader's own frames: its checkout's path and lines
        value = "\n".join(line for line in value.splitlines() if "/grader/" not in line)
    elif isinstance(value, dict):
        return {k: strip(v, f"{path}.{k}") for k, v in value.items()
                if k not in VOLATILE and not (path == ".submission" and k == "path")}
    if isinstance(value, list):
        return [strip(v, path) for v in value]
    if isinstance(value, str):  # a job's temporary folder, named anew for each run
        return JOB_DIR.sub("<job>", value)
    return value


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{where}.{k}: {'only after' if k not in a else 'only before'}")
            else:
                out += differences(a[k], b[k], f"{where}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{where}[{i}]")]
    return [] if a == b else [f"{where}: {json.dumps(a)[:300]} -> {json.dumps(b)[:300]}"]


def main(before: Path, after: Path) -> int:
    jobs = sorted({p.relative_to(root) for root in (before, after) for p in root.rglob("*.json")})
    changed = 0
    for job in jobs:
        if not (before / job).is_file() or not (after / job).is_file():
            print(f"{job}: graded only {'after' if (after / job).is_file() else 'before'}")
            changed += 1
            continue
        found = differences(strip(json.loads((before / job).read_text())), strip(json.loads((after / job).read_text())))
        if found:
            changed += 1
            print(f"{job}:")
            for line in found:
                print(f"   {line}")
    print(f"{len(jobs)} jobs compared, {changed} differ")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
