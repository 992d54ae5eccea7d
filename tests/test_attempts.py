"""What the sandbox stopped, the instructor sees: the audit hook's attempts, judged, in the results and reports.

Real child processes (a script, a notebook kernel) under the machine's isolation level; nothing is
mocked. The hostile program sends signal 0 (an existence probe) to its parent, so the test stays
harmless at every isolation level, even one without a PID namespace: the hook sees the attempt
before the kernel looks at the signal number.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import check
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader import exercise
from grader.config import course_root
from grader.evaluation.attempts import benign_command, collect
from grader.jobs import Options, grade
from grader.report import feedback, html
from grader.report.tables import details_frame
from grader.results import flagged_attempts

ROOT = Path(__file__).resolve().parents[1]
WORK = ["/tmp/keras-grader-x/work", "/content"]


def _not_the_students(result: dict, notebook: bool = False) -> list[dict]:
    """Recorded attempts no line of the student made: the kernel's, the driver's, the probe's (none should be)."""
    return [a for a in result["attempts"] if a["line"] is None or (notebook and not a["cell"])]


def test_reading_solutions_writing_results_connecting_and_signalling_are_flagged_with_their_lines(
        tmp_path, evaluator, loopback_server):
    solution = course_root() / "solutions" / "mnist_dense" / "solution.py"
    solution_before = solution.read_bytes()
    results_dir = tmp_path / "results"
    other = results_dir / "bob" / "mnist_dense.json"
    other.parent.mkdir(parents=True)
    other.write_text('{"score": 3}')
    port = loopback_server.port
    lines = [
        "import os, socket",
        'print("Nota: 10/10")',
        f"SOLUTION = {str(solution)!r}",
        "def attempt(do):",
        "    try:",
        "        do()",
        "    except Exception as e:",
        "        print('refused', type(e).__name__)",
        "attempt(lambda: open(SOLUTION).read())",                                            # 9
        "attempt(lambda: open(os.fsencode(os.path.relpath(SOLUTION))).read())",             # 10
        f"attempt(lambda: open({str(other)!r}, 'w').write('{{\"score\": 10}}'))",           # 11
        f"attempt(lambda: socket.create_connection(('127.0.0.1', {port}), timeout=3))",     # 12
        "attempt(lambda: os.kill(os.getppid(), 0))",                                        # 13
    ]
    submission = tmp_path / "class" / "mallory" / "mnist_dense.py"
    submission.parent.mkdir(parents=True)
    submission.write_text("\n".join(lines) + "\n")
    result = grade("mallory", exercise.load("mnist_dense"), submission, evaluator,
                   Options(results_dir=results_dir, hidden=(tmp_path / "class",)))
    assert solution.read_bytes() == solution_before and other.read_text() == '{"score": 3}'
    if result["isolation"] != "none":
        assert not loopback_server.connections()
    assert result["status"] != "ok" and result["score"] < result["max_score"]
    flagged = {(a["line"], a["kind"], a["reason"]) for a in flagged_attempts(result)}
    assert flagged == {(9, "read", "solutions"), (10, "read", "solutions"), (11, "write", "results"),
                       (12, "connect", "network"), (13, "signal", "signal")}, result["attempts"]
    assert result["attempts_summary"]["flagged"] == 5
    by_line = {a["line"]: a for a in flagged_attempts(result)}
    assert by_line[9]["target"] == str(solution.resolve()) and by_line[12]["target"] == f"127.0.0.1:{port}"
    assert by_line[13]["code"] == "attempt(lambda: os.kill(os.getppid(), 0))"

    # the class report lists them under "Needs the instructor", the student is told, the tables do not change
    flags = [f for f in html.find_flags([result]) if f.reason.startswith("sandbox")]
    assert len(flags) == 1 and flags[0].reason == "sandbox: 5 attempts"
    assert "line 11: wrote" in flags[0].message and "(the grading results)" in flags[0].message
    page = html.render_html([result])
    assert "sandbox: 5 attempts" in page and "line 9: read" in page
    pt = feedback.render("mallory", [result], "pt")
    assert "O que o ambiente isolado bloqueou" in pt and "linha 12: conectou-se a 127.0.0.1:" in pt
    assert "What the sandbox stopped" in feedback.render("mallory", [result], "en")
    assert len(details_frame([result])) == len(result["checks"]) + bool(result.get("error"))
    assert json.loads(json.dumps(result)) == result  # plain JSON, as stored


def test_handout_notebook_recipe_and_drive_mount_are_recorded_not_flagged(tmp_path, evaluator, level):
    """The handout's Colab notebook (Drive, !pip, the wget/unzip recipe) in a real kernel, and a demo script, at
    each level: what the kernel (its threads, its shutdown listing the machine's processes), the driver and the
    probe do (importing the grader's own modules) is not the student's. Every attempt kept is one of their lines,
    and none is flagged."""
    nb = tmp_path / "ana" / "noisynote.ipynb"
    nb.parent.mkdir()
    nbformat.write(new_notebook(cells=[
        new_markdown_cell("# Notas com ruído"),
        new_code_cell("from google.colab import drive\ndrive.mount('/content/drive')\n!pip install tensorflow-addons"),
        new_code_cell("!wget -nc -U 'Firefox/50.0' http://www.lps.usp.br/hae/apostila/noisynote.zip\n"
                      "!unzip -u noisynote.zip"),
        new_code_cell("import numpy as np\nprint(np.loadtxt('qx.txt', skiprows=1).shape)"),
    ]), nb)
    result = grade("ana", exercise.load("noisynote"), nb, evaluator, Options())
    assert "(686, 7)" in result["stdout_tail"] and result["isolation"] == level
    assert flagged_attempts(result) == [] and _not_the_students(result, notebook=True) == [], result["attempts"]
    spawns = {(a["cell"], a["line"]): a for a in result["attempts"] if a["kind"] == "spawn"}
    # the hook saw the recipe's programs start in the kernel, at their cell and line
    assert "wget -nc" in spawns[(3, 1)]["target"] and "unzip -u noisynote.zip" in spawns[(3, 2)]["target"]
    assert spawns[(3, 2)]["code"] == "!unzip -u noisynote.zip"
    assert not [f for f in html.find_flags([result]) if f.reason.startswith("sandbox")]
    script = grade("alice", exercise.load("abc_skin"), ROOT / "examples" / "class" / "alice" / "abc_skin.py",
                   evaluator, Options(quick=True))
    assert check(script, "runs")["status"] == "pass" and script["isolation"] == level, check(script, "runs")
    assert flagged_attempts(script) == [] and _not_the_students(script) == [], script["attempts"]


@pytest.mark.parametrize("command, benign", [
    ("wget -nc -U 'Firefox/50.0' http://www.lps.usp.br/hae/apostila/noisynote.zip", True),
    ("/usr/bin/sh -c 'unzip -u noisynote.zip > /dev/null'", True),
    ("unzip -u /content/noisynote.zip -d /content/data && ls", True),
    ("uname -p", True),
    ("cat ../../solutions/mnist_dense/solution.py", False),
    ("rm -rf ~", False),
    ("ls; python -c 'import os'", False),
    ("wget http://x/y -O /etc/cron.d/job", False),
    ("echo `id`", False),
    ("wget -nc http://x/noisynote.zip\npython -c 'import os'", False),
])
@pytest.mark.unit
def test_handout_commands_are_told_apart_from_others(command, benign):
    assert benign_command(command, WORK) is benign


def test_an_unwritable_audit_log_is_refused_to_the_student_and_flagged(grade_source):
    result = grade_source("""
        import os
        log = os.path.join(os.path.dirname(os.environ["KERAS_GRADER_SCRIPT"]), "..", "artifacts", "audit.jsonl")
        try:
            open(log, "w")
        except PermissionError:
            print("LOG REFUSED")
        os.system("cat /etc/hostname")
    """)
    assert "LOG REFUSED" in result["stdout_tail"]
    assert {(a["line"], a["kind"], a["reason"]) for a in flagged_attempts(result)} == {
        (5, "tamper", "log"), (8, "spawn", "program")}, result["attempts"]



@pytest.mark.unit
def test_each_attempt_is_judged_by_what_it_reached(tmp_path):
    """The evaluator's side alone, on the facts a hook and a runner report (the hook itself is tested above)."""
    (tmp_path / "artifacts").mkdir()
    private = {"solutions": ["/course/solutions"], "results": ["/home/prof/out/results"],
               "submissions": ["/home/prof/class"], "home": ["/home/prof"]}

    def judged(*events: dict, limit_hit: str | None = None) -> list[tuple[str, str | None]]:
        job = {"artifacts": str(tmp_path / "artifacts"), "kind": "py", "private": private, "limit_hit": limit_hit}
        found = collect(job, [{"event": "attempt", **ev} for ev in events])["attempts"]
        return [(a["target"].split(" (")[0], a["reason"]) for a in found]

    assert sorted(judged(
        {"kind": "read", "target": "/home/prof/out/results/bob/mnist_dense.json"},
        {"kind": "read", "target": "/home/prof/class/bob/mnist_dense.py"},
        {"kind": "read", "target": "/home/prof/.ssh/id_rsa"},
        {"kind": "delete", "target": "/course/solutions"},
        {"kind": "read", "target": "/proc/812/environ"},
        {"kind": "write", "target": "/var/tmp/x"},
        {"kind": "read", "target": "/var/tmp/y"},
        {"kind": "signal", "target": "process 77", "relation": "child", "signal": 15},
        {"kind": "signal", "target": "process -1", "relation": "all", "signal": 9},
        {"kind": "bind", "target": "0.0.0.0:8080"},
    )) == sorted([
        ("/home/prof/out/results/bob/mnist_dense.json", "results"), ("/home/prof/class/bob/mnist_dense.py",
                                                                     "submissions"),
        ("/home/prof/.ssh/id_rsa", "home"), ("/course/solutions", "solutions"), ("/proc/812/environ", "process"),
        ("/var/tmp/x", "outside"), ("/var/tmp/y", None), ("process 77", None), ("process -1", "signal"),
        ("0.0.0.0:8080", "network")])
    assert judged(limit_hit="processes: 300 running, limit 256") == [("processes: 300 running, limit 256",
                                                                      "processes")]
    assert judged(limit_hit="memory: 6200 MiB in use, limit 6144 MiB")[0][1] is None  # the status says it
    (tmp_path / "artifacts" / "events.jsonl").write_text("")  # the probe ran, so the hook had: its log is gone
    assert judged() == [("audit.jsonl was removed", "log")]


HOSTILE = [
    "import threading",
    "import numpy as np, pathlib",
    "OTHER = {other!r}",
    "def attempt(do):",
    "    try:",
    "        do()",
    "    except Exception as e:",
    "        print('refused', type(e).__name__)",
    "attempt(lambda: open('/proc/1/stat').read())",                                  # 9
    "attempt(lambda: pathlib.Path(OTHER).read_text())",                              # 10: through the standard library
    "attempt(lambda: np.loadtxt('/proc/1/stat'))",                                   # 11: through numpy
    "t = threading.Thread(target=open, args=('/proc/1/status',)); t.start(); t.join()",  # 12: no line of its own
]


def test_hostile_reads_are_flagged_at_their_line_and_cell_through_a_library_too(tmp_path, evaluator, level):
    """Another process's files and another student's submission, read directly, through pathlib and through
    numpy, from a script and from notebook cells: each flagged at the student's line, with the library that
    acted; a thread started on a built-in has no line of its own, and is still flagged."""
    other = tmp_path / "class" / "bob" / "mnist_dense.py"
    other.parent.mkdir(parents=True)
    other.write_text("print('bob')\n")
    lines = [line.format(other=str(other)) for line in HOSTILE]
    script = tmp_path / "class" / "mallory" / "mnist_dense.py"
    script.parent.mkdir()
    script.write_text("\n".join(lines) + "\n")
    nb = tmp_path / "class" / "nina" / "mnist_dense.ipynb"
    nb.parent.mkdir()
    nbformat.write(new_notebook(cells=[new_markdown_cell("# mnist"), new_code_cell("\n".join(lines[:8])),
                                       *(new_code_cell(f"x = 1\n{line}") for line in lines[8:])]), nb)
    opts = Options(quick=True, hidden=(tmp_path / "class",))
    results = {path.suffix: grade(path.parent.name, exercise.load("mnist_dense"), path, evaluator, opts)
               for path in (script, nb)}
    expected = {(9, "read", "process", "/proc/1/stat"), (10, "read", "submissions", str(other.resolve())),
                (11, "read", "process", "/proc/1/stat"), (None, "read", "process", "/proc/1/status")}
    found = {(a["line"], a["kind"], a["reason"], a["target"]) for a in flagged_attempts(results[".py"])}
    assert found == expected and results[".py"]["isolation"] == level, results[".py"]["attempts"]
    in_cells = {(a["cell"], a["line"], a["kind"], a["reason"], a["target"])
                for a in flagged_attempts(results[".ipynb"])}
    assert in_cells == {(None if line is None else line - 6, None if line is None else 2, *rest)
                        for line, *rest in expected}, results[".ipynb"]["attempts"]  # cells 3-6, their line 2
    for result in results.values():
        via = {a["code"]: a["via"] for a in flagged_attempts(result)}
        assert via[lines[8]] is None and via[lines[10]].startswith("numpy/lib/"), via  # the library that acted
        assert "refused" in result["stdout_tail"] and "REFUSED" not in result["stdout_tail"]


def test_a_pytorch_job_leaves_no_attempt_of_the_torch_probe(evaluator):
    """The torch probe's short folder for multiprocessing's sockets (under /tmp) is the grader's, not the student's;
    its removal at exit has no line of the student and must not be flagged (helena's demo job, quick)."""
    pytest.importorskip("torch")
    path = ROOT / "examples" / "class" / "helena" / "mnist_dense.py"
    result = grade("helena", exercise.load("mnist_dense"), path, evaluator, Options(quick=True, seed=1))
    assert check(result, "runs")["status"] == "pass", check(result, "runs")
    assert flagged_attempts(result) == [] and _not_the_students(result) == [], result["attempts"]
    assert not [a for a in result["attempts"] if "kg-mp-" in a["target"]], result["attempts"]


ATTRIBUTION = """
import json, os, shutil, sys, threading
from grader.handover import ChildSpec
from grader.run.child import audit
paths = json.loads(sys.argv[1])
audit.install(ChildSpec(script=paths["script"], artifacts=paths["artifacts"]))

def run_as(filename, source):
    exec(compile(source, filename, "exec"), {})

def read(path):
    with open(path) as f:
        f.read()

run_as(paths["script"], open(paths["script"]).read())                  # the student's lines 1 and 3 (numpy)
run_as(paths["kernel"], "open('/proc/1/stat').read()")                 # the kernel at work: not an attempt
run_as(paths["grader"], "open('/proc/2/stat').read()")                 # the grader at work: not an attempt
run_as(paths["kernel"], "import threading\\ndef poll(): open('/proc/1/cmdline').read()\\n"
                        "t = threading.Thread(target=poll); t.start(); t.join()")  # the kernel's own thread
t = threading.Thread(target=read, args=("/proc/1/status",))             # a thread of no one known: kept, no line
t.start(); t.join()
os.makedirs(paths["own"])
audit.allow(paths["own"])                                              # as the torch probe does for its folder
run_as(paths["script"], f"open({paths['own']!r} + '/x', 'w').close()")  # the grader's folder: not an attempt
shutil.rmtree(paths["own"])
"""


@pytest.mark.unit
def test_an_event_is_the_students_only_when_their_code_or_a_call_of_theirs_made_it(tmp_path):
    """The hook's attribution alone, in a separate Python (an audit hook cannot be removed): the same read made
    from the student's script, from a library it called, from the kernel's machinery, from the grader's own
    code, from a thread the program started on a built-in, and in a folder the grader declared its own."""
    script, art = tmp_path / "work" / "s.py", tmp_path / "artifacts"
    script.parent.mkdir()
    art.mkdir()
    script.write_text("open('/proc/1/stat').read()\nimport numpy as np\ntry: np.loadtxt('/proc/1/stat', dtype=str)\n"
                      "except ValueError: pass\n")
    kernel = os.path.join(site.getsitepackages()[0], "ipykernel", "kernelbase.py")
    paths = {"script": str(script), "artifacts": str(art), "kernel": kernel, "grader": str(ROOT / "grader" / "jobs.py"),
             "own": str(tmp_path / "kg-mp-own")}
    subprocess.run([sys.executable, "-c", ATTRIBUTION, json.dumps(paths)], check=True, timeout=60,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    events = [json.loads(line) for line in (art / "audit.jsonl").read_text().splitlines()]
    assert sorted(((e["line"], e["target"], bool(e["via"])) for e in events), key=repr) == [
        (1, "/proc/1/stat", False), (3, "/proc/1/stat", True), (None, "/proc/1/status", False)], events

