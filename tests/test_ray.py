"""The Ray executor grades the demo class on a local Ray instance, as the local pool does."""

from __future__ import annotations

import subprocess
import sys

import pytest

from grader import results as results_io
from grader.config import course_root

#: one pytest-xdist worker runs every test that reads `graded_class`, so it is graded once
pytestmark = pytest.mark.xdist_group("graded_class")


pytest.importorskip("ray", reason="the Ray executor's test needs ray (pip install -e '.[test]' installs it)")


def test_ray_executor_grades_the_demo_class_like_the_local_pool(tmp_path, graded_class):
    out = tmp_path / "out"
    args = [sys.executable, "-m", "grader.cli", "all", str(course_root() / "examples" / "class"), "--quick",
            "--exercise", "abc_skin", "--executor", "ray", "--jobs", "2", "--out", str(out), "--lang", "en"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "executor ray" in proc.stderr

    on_ray = {r["student"]: r for r in results_io.read_all(out / "results")}
    local = {r["student"]: r for r in results_io.read_all(graded_class / "results") if r["exercise"] == "abc_skin"}
    assert sorted(on_ray) == sorted(local) == ["alice", "bruno", "carla", "diego", "eva", "fabio", "gabriel", "helena",
                                               "igor", "joana", "kaio", "lara"]
    for student, result in on_ray.items():
        assert result["status"] == local[student]["status"], (student, result.get("error"))
        if result["status"] != "missing":
            assert result["executor"] == "ray" and result["submission"]["path"].endswith(f"{student}/abc_skin"
                                                                                       + (".ipynb" if student in ("fabio", "kaio", "lara") else ".py"))
            assert [c["name"] for c in result["checks"]] == [c["name"] for c in local[student]["checks"]]
    assert list((out / "results" / "fabio" / "abc_skin").glob("fig*.png")), "figures come back from the worker"
    assert (out / "reports" / "fabio" / "feedback.md").is_file()
