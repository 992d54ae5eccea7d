"""The Ray executor grades the demo class on a local Ray instance, as the local pool does."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from grader import results as results_io
from grader.config import course_root

#: one pytest-xdist worker runs every test that reads `graded_class`, so it is graded once
pytestmark = pytest.mark.xdist_group("graded_class")


pytest.importorskip("ray", reason="the Ray executor's test needs ray (pip install -e '.[test]' installs it)")


#: a script, a Colab notebook with figures, a student who submitted no abc_skin: every path a result takes back
RAY_STUDENTS = ("alice", "fabio", "carla")


def test_ray_executor_grades_the_demo_class_like_the_local_pool(tmp_path, graded_class):
    klass, out = tmp_path / "class", tmp_path / "out"
    for student in RAY_STUDENTS:
        shutil.copytree(course_root() / "examples" / "class" / student, klass / student)
    args = [sys.executable, "-m", "grader.cli", "all", str(klass), "--quick", "--exercise", "abc_skin",
            "--executor", "ray", "--jobs", "2", "--out", str(out), "--lang", "en"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "executor ray" in proc.stderr

    on_ray = {r["student"]: r for r in results_io.read_all(out / "results")}
    local = {r["student"]: r for r in results_io.read_all(graded_class / "results")
             if r["exercise"] == "abc_skin" and r["student"] in RAY_STUDENTS}
    assert sorted(on_ray) == sorted(local) == sorted(RAY_STUDENTS)
    assert on_ray["carla"]["status"] == "missing"
    for student, result in on_ray.items():
        assert result["status"] == local[student]["status"], (student, result.get("error"))
        if result["status"] != "missing":
            assert result["executor"] == "ray" and result["submission"]["path"].endswith(
                f"{student}/abc_skin" + (".ipynb" if student == "fabio" else ".py"))
            assert [c["name"] for c in result["checks"]] == [c["name"] for c in local[student]["checks"]]
    assert list((out / "results" / "fabio" / "abc_skin").glob("fig*.png")), "figures come back from the worker"
    assert (out / "reports" / "fabio" / "feedback.md").is_file()
