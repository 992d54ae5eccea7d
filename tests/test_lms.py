"""From the platforms and back: real archives built here in the documented layouts (no platform mocked).

Moodle's "Download all submissions" ZIP (4.1+ folders `<Full name>_<id>_assignsubmission_file/`),
a `gh classroom clone student-repos` folder, a Gradescope export with `submission_metadata.yml`;
then `grade all` (quick mode, abc_skin only: a few seconds per student) and `grade export moodle`.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader import cli, exercise
from grader.config import course_root
from grader.lms import detect, moodle

EXAMPLES = course_root() / "examples"
TWO_INPUTS = (EXAMPLES / "class" / "alice" / "abc_skin.py").read_bytes()  # passes two_inputs
WEIGHT_ONLY = (EXAMPLES / "class" / "bruno" / "abc_skin.py").read_bytes()  # fails two_inputs
OLD, NEW = (2026, 3, 10, 9, 0, 0), (2026, 3, 12, 22, 30, 0)


def notebook(source: str) -> bytes:
    return json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                  "source": source}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()


def zip_bytes(members: list[tuple[str, bytes, tuple[int, ...]]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data, when in members:
            info = zipfile.ZipInfo(name, when)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o40755 << 16 | 0x10) if name.endswith("/") else 0o644 << 16
            z.writestr(info, data)
    return buf.getvalue()


def folder(name: str, pid: int) -> str:
    return f"{name}_{pid}_assignsubmission_file"


MNIST_NB = notebook("import keras\n(ax, ay), (qx, qy) = keras.datasets.mnist.load_data()\n")
FASHION_NB = notebook("import keras\n(ax, ay), (qx, qy) = keras.datasets.fashion_mnist.load_data()\n")
DOWNLOAD = [  # six participants: accents, two Maria Silva, a zip of notebooks, a resubmission, empty, hostile
    (f"{folder('Ana Luíza Conceição', 201)}/abc_skin.py", TWO_INPUTS, NEW),
    (f"{folder('Maria Silva', 202)}/Lição 1 - abc com pele.py", WEIGHT_ONLY, NEW),
    (f"{folder('Maria Silva', 203)}/notebooks.zip",
     zip_bytes([("Lição 10 - mnist final (2).ipynb", MNIST_NB, NEW), ("roupas.ipynb", FASHION_NB, NEW),
                ("__MACOSX/._roupas.ipynb", b"\0\5\26\7 Mac OS X resource fork", NEW)]), NEW),
    (f"{folder('João Pedro', 204)}/noisynote.py", b"# first try\n", OLD),  # not graded here: saves a job
    (f"{folder('João Pedro', 204)}/noisynote (2).py", b"# resubmitted late\n", NEW),
    (f"{folder('Zoë Vazia', 205)}/", b"", NEW),
    (f"{folder('Hugo Hacker', 206)}/../../evil.py", b"print('escaped')\n", NEW),
]
KEYS = {"201": "ana-luiza-conceicao", "202": "maria-silva-202", "203": "maria-silva-203", "204": "joao-pedro",
        "205": "zoe-vazia", "206": "hugo-hacker"}


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Path:
    """The download above, imported as a user runs it; returns the class folder."""
    root = tmp_path_factory.mktemp("moodle")
    (root / "download.zip").write_bytes(zip_bytes(DOWNLOAD))
    assert cli.main(["import", "moodle", str(root / "download.zip"), "--into", str(root / "class")]) == 0
    return root / "class"


@pytest.mark.unit
def test_moodle_download_lays_out_the_class_and_the_roster(imported):
    assert files_under(imported) == {
        "roster.csv", "import-report.csv",
        "ana-luiza-conceicao/abc_skin.py", "maria-silva-202/abc_skin.py",
        "maria-silva-203/mnist_dense.ipynb", "maria-silva-203/fashion_mnist.ipynb",
        "joao-pedro/noisynote.py", "_unplaced/moodle-download-zip/joao-pedro/noisynote.py"}  # the older one, aside
    assert (imported / "joao-pedro" / "noisynote.py").read_bytes() == b"# resubmitted late\n"  # not the first
    assert (imported / "maria-silva-202" / "abc_skin.py").read_bytes() == WEIGHT_ONLY
    roster = {r["participant_id"]: r for r in read_csv(imported / "roster.csv")}
    assert {pid: r["key"] for pid, r in roster.items()} == KEYS
    assert roster["201"]["full_name"] == "Ana Luíza Conceição" and roster["205"]["full_name"] == "Zoë Vazia"
    assert roster["202"]["folder"] == "Maria Silva_202_assignsubmission_file"


@pytest.mark.unit
def test_import_report_says_where_everything_went_and_why_not(imported):
    rows = read_csv(imported / "import-report.csv")
    outcome = {(r["student"], r["file"].rsplit("/", 1)[-1]): r for r in rows}
    assert outcome[("joao-pedro", "noisynote.py")]["outcome"] == "older"
    assert "noisynote (2).py" in outcome[("joao-pedro", "noisynote.py")]["reason"]
    assert outcome[("maria-silva-202", "Lição 1 - abc com pele.py")]["reason"] == "exercise told by its name"
    assert outcome[("maria-silva-203", "roupas.ipynb")]["reason"] == "exercise told by its contents"
    assert outcome[("maria-silva-203", "roupas.ipynb")]["destination"] == "maria-silva-203/fashion_mnist.ipynb"
    assert outcome[("zoe-vazia", "Zoë Vazia_205_assignsubmission_file")]["outcome"] == "empty"
    refused = outcome[("hugo-hacker", "evil.py")]
    assert refused["outcome"] == "refused" and "'..'" in refused["reason"] and "'..'" in refused["reason_pt"]
    assert outcome[("maria-silva-203", "._roupas.ipynb")]["outcome"] == "ignored"  # zipped on a Mac
    assert len(rows) == 9  # 5 placed, 1 older, 1 ignored, 1 empty, 1 refused: nothing left out


@pytest.mark.unit
def test_an_import_again_keeps_the_keys_and_adds_up(imported, tmp_path):
    """A second Moodle assignment (another exercise, other participant ids) lands in the same folders."""
    second = tmp_path / "noisynote.zip"
    second.write_bytes(zip_bytes([(f"{folder('Ana Luíza Conceição', 901)}/notas.py", b"print(1)\n", NEW),
                                  (f"{folder('Maria Silva', 902)}/x.py", b"print(2)\n", NEW)]))
    into = tmp_path / "class"
    shutil.copytree(imported, into)
    assert cli.main(["import", "moodle", str(second), "--exercise", "noisynote", "--into", str(into)]) == 0
    assert (into / "ana-luiza-conceicao" / "noisynote.py").read_bytes() == b"print(1)\n"
    assert (into / "ana-luiza-conceicao" / "abc_skin.py").is_file()
    # "Maria Silva" is two people in the folder already: this one gets her own id, not someone else's work
    assert (into / "maria-silva-902" / "noisynote.py").is_file()
    roster = read_csv(into / "roster.csv")
    assert len(roster) == 8 and {r["source"] for r in roster} == {"download.zip", "noisynote.zip"}


@pytest.fixture(scope="module")
def graded(imported, tmp_path_factory) -> tuple[Path, Path]:
    """`grade all CLASS --exercise abc_skin --quick` and `grade export moodle`, as a user runs them."""
    out = tmp_path_factory.mktemp("grading")
    proc = subprocess.run([sys.executable, "-m", "grader.cli", "all", str(imported), "--exercise", "abc_skin",
                           "--quick", "--jobs", "2", "--out", str(out / "grading")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert cli.main(["export", "moodle", str(imported), "--results", str(out / "grading"), "--into",
                     str(out / "upload"), "--scale", "10"]) == 2, "quick results are not final grades"
    assert cli.main(["export", "moodle", str(imported), "--results", str(out / "grading"), "--into",
                     str(out / "upload"), "--scale", "10", "--allow-quick"]) == 0
    return out / "grading", out / "upload"


@pytest.mark.xdist_group("lms_graded")  # one worker grades the class once for both
def test_worksheet_rows_match_scores_csv(imported, graded):
    grading, upload = graded
    sheet = read_csv(upload / "worksheet-download.csv")
    assert list(sheet[0]) == moodle.WORKSHEET_COLUMNS  # what Moodle's "Download grading worksheet" writes
    by_id = {r["Identifier"]: r for r in sheet}
    roster = {r["key"]: r for r in read_csv(imported / "roster.csv")}
    scores = read_csv(grading / "reports" / "scores.csv")
    assert {s["student"] for s in scores} == {"ana-luiza-conceicao", "maria-silva-202", "maria-silva-203",
                                              "joao-pedro"}
    for s in scores:
        row = by_id[f"Participant {roster[s['student']]['participant_id']}"]
        assert row["Full name"] == roster[s["student"]]["full_name"]
        assert row["Grade"] == f"{10 * float(s['total']) / float(s['max_total']):.2f}", (s, row)
        assert row["Maximum Grade"] == "10.00" and row["Last modified (grade)"]
    assert float(by_id["Participant 201"]["Grade"]) > float(by_id["Participant 202"]["Grade"])  # 2 inputs vs 1
    # nothing submitted, nothing graded: an empty grade, which Moodle's import skips instead of recording 0
    assert by_id["Participant 205"]["Grade"] == "" and by_id["Participant 206"]["Grade"] == ""
    assert "pontos" in by_id["Participant 201"]["Feedback comments"]


@pytest.mark.xdist_group("lms_graded")  # one worker grades the class once for both
def test_feedback_zip_folders_are_the_downloads(graded):
    _, upload = graded
    with zipfile.ZipFile(upload / "feedback-download.zip") as z:
        names = z.namelist()
        page = z.read(f"{folder('Ana Luíza Conceição', 201)}/feedback.html").decode()
    assert {n.split("/")[0] for n in names} == {folder(n, p) for n, p in [
        ("Ana Luíza Conceição", 201), ("Maria Silva", 202), ("Maria Silva", 203), ("João Pedro", 204)]}
    assert "<table>" in page and "abc_skin" in page and "<script" not in page
    assert "<h1>" in page and "Ana Luíza Conceição</h1>" in page  # the student's name, not the folder's key


@pytest.mark.unit
def test_demo_class_ships_as_a_moodle_download(tmp_path):
    """examples/moodle-download.zip holds the demo class: every file lands back where the class has it."""
    assert cli.main(["import", "moodle", str(EXAMPLES / "moodle-download.zip"), "--into", str(tmp_path)]) == 0
    rows = read_csv(tmp_path / "import-report.csv")
    assert rows and all(r["outcome"] == "placed" for r in rows), rows
    roster = {r["folder"]: r["key"] for r in read_csv(tmp_path / "roster.csv")}
    spec = importlib.util.spec_from_file_location("make_moodle_download", EXAMPLES / "make_moodle_download.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)  # the script that built the zip names the students
    students = sorted(p.name for p in (EXAMPLES / "class").iterdir() if p.is_dir())
    assert len(roster) == len(students), "examples/class changed: run python examples/make_moodle_download.py"
    for student in students:
        key = roster[folder(*builder.person(student))]
        for path in (EXAMPLES / "class" / student).iterdir():
            assert (tmp_path / key / path.name).read_bytes() == path.read_bytes(), (student, path.name)


@pytest.mark.parametrize("name, source, expected", [
    ("Lição 10 - mnist final (2).ipynb", "keras.datasets.mnist.load_data()", "mnist_dense"),
    ("Lição 10 - mnist final (2).ipynb", "loss=keras.losses.SparseCategoricalCrossentropy()", "sparse_cce"),
    ("trabalho.py", "keras.datasets.fashion_mnist.load_data()  # Fashion-MNIST", "fashion_mnist"),
    ("trabalho.py", "mnist.load_data(); model.compile(loss='sparse_categorical_crossentropy')", "mnist_dense"),
    ("notas falsas.py", "ax = le('ax.txt'); qx = le('qx.txt')", "noisynote"),
    ("sparse_cce (3).py", "", "sparse_cce"),
    ("util.py", "def f(): pass", None),
])
@pytest.mark.unit
def test_the_exercise_is_told_from_the_name_then_the_contents(name, source, expected):
    data = notebook(source) if name.endswith(".ipynb") else source.encode()
    assert detect.detect(name, data, exercise.exercise_ids())[0] == expected


@pytest.mark.unit
def test_classroom_clone_imports_the_same_way(tmp_path):
    clone = tmp_path / "redes-densas-submissions"
    (clone / "redes-densas-ana-luiza" / ".git").mkdir(parents=True)
    (clone / "redes-densas-ana-luiza" / ".git" / "config").write_text("[core]\n")
    (clone / "redes-densas-ana-luiza" / "abc_skin.py").write_bytes(TWO_INPUTS)
    (clone / "redes-densas-ana-luiza" / "README.md").write_text("# minhas respostas\n")
    (clone / "redes-densas-MSilva" / "notebooks").mkdir(parents=True)
    (clone / "redes-densas-MSilva" / "notebooks" / "Lição 10 - mnist final.ipynb").write_bytes(MNIST_NB)
    (clone / "redes-densas-hugo").mkdir()
    (clone / "redes-densas-hugo" / "abc_skin.py").symlink_to("/etc/passwd")
    assert cli.main(["import", "classroom", str(tmp_path), "--into", str(tmp_path / "class")]) == 0
    assert files_under(tmp_path / "class") == {"roster.csv", "import-report.csv", "ana-luiza/abc_skin.py",
                                               "msilva/mnist_dense.ipynb"}
    rows = {(r["student"], r["file"]): r for r in read_csv(tmp_path / "class" / "import-report.csv")}
    assert rows[("ana-luiza", "redes-densas-ana-luiza/README.md")]["outcome"] == "ignored"
    assert rows[("hugo", "redes-densas-hugo/abc_skin.py")]["outcome"] == "refused"
    assert "link" in rows[("hugo", "redes-densas-hugo/abc_skin.py")]["reason"]
    assert {r["key"]: r["participant_id"] for r in read_csv(tmp_path / "class" / "roster.csv")} == {
        "ana-luiza": "ana-luiza", "msilva": "MSilva", "hugo": "hugo"}


@pytest.mark.unit
def test_gradescope_export_imports_the_same_way(tmp_path):
    metadata = """submission_11:
  :submitters:
  - :name: Maria Silva
    :sid: '2024001'
    :email: maria.silva@example.edu
  :created_at: 2026-03-12 22:30:00.000000000 -03:00
  :score: 0.0
submission_12:
  :submitters:
  - :name: Maria Silva
    :sid: '2024002'
    :email: maria.s@example.edu
  - :name: João Pedro
    :sid: '2024003'
  :created_at: 2026-03-12 21:00:00.000000000 -03:00
"""
    export = tmp_path / "export.zip"
    export.write_bytes(zip_bytes([
        ("assignment_42_export/submission_metadata.yml", metadata.encode(), NEW),
        ("assignment_42_export/submission_11/abc_skin.py", TWO_INPUTS, NEW),
        ("assignment_42_export/submission_12/roupas.ipynb", FASHION_NB, NEW),
        ("assignment_42_export/submission_12/relatorio.pdf", b"%PDF-1.4\n", NEW)]))
    assert cli.main(["import", "gradescope", str(export), "--into", str(tmp_path / "class")]) == 0
    assert files_under(tmp_path / "class") == {
        "roster.csv", "import-report.csv", "maria-silva-2024001/abc_skin.py",
        "maria-silva-2024002/fashion_mnist.ipynb", "joao-pedro/fashion_mnist.ipynb"}  # a group: both members
    roster = {r["key"]: r for r in read_csv(tmp_path / "class" / "roster.csv")}
    assert roster["maria-silva-2024001"]["email"] == "maria.silva@example.edu"
    assert roster["joao-pedro"]["full_name"] == "João Pedro"
    assert sum(r["outcome"] == "ignored" for r in read_csv(tmp_path / "class" / "import-report.csv")) == 2


def forged(data: bytes, name: str, declared: int) -> bytes:
    """The zip with `name`'s uncompressed size (local and central headers) changed to `declared`."""
    out = bytearray(data)
    encoded = name.encode()
    for signature, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        at = out.find(signature)
        while at >= 0:
            if out[at + name_at: at + name_at + len(encoded)] == encoded:
                out[at + size_at: at + size_at + 4] = declared.to_bytes(4, "little")
            at = out.find(signature, at + 1)
    return bytes(out)


@pytest.mark.unit
def test_hostile_archives_are_refused_without_writing_outside(tmp_path):
    prefix = folder("Hugo Hacker", 206)
    members = [(f"{prefix}/../../../outside.py", b"x = 1\n", NEW), ("/tmp/absolute.py", b"x = 2\n", NEW),
               (f"{prefix}/abc_skin.py", TWO_INPUTS, NEW), (f"{prefix}/huge.py", b"\0" * (60 * 2**20), NEW),
               (f"{prefix}/liar.py", b"#" * 2**20, NEW),
               (f"{prefix}/inner.zip", zip_bytes([("../../../../nested.py", b"x = 3\n", NEW)]), NEW)]
    raw = zip_bytes(members)
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(buf, "w") as z:
        for info in src.infolist():
            z.writestr(info, src.read(info))
        link = zipfile.ZipInfo(f"{prefix}/link.py", NEW)
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(link, "/etc/passwd")
    (tmp_path / "in").mkdir()
    hostile = tmp_path / "in" / "hostile.zip"
    hostile.write_bytes(forged(buf.getvalue(), f"{prefix}/liar.py", 10))
    into = tmp_path / "a" / "b" / "class"
    assert cli.main(["import", "moodle", str(hostile), "--into", str(into)]) == 0
    assert files_under(tmp_path) == {"in/hostile.zip", "a/b/class/roster.csv", "a/b/class/import-report.csv",
                                     "a/b/class/hugo-hacker/abc_skin.py"}
    reasons = {r["file"].rsplit("/", 1)[-1]: r for r in read_csv(into / "import-report.csv")}
    assert all(reasons[n]["outcome"] == "refused" for n in ("outside.py", "absolute.py", "huge.py", "liar.py",
                                                            "link.py", "nested.py"))
    assert "too large" in reasons["huge.py"]["reason"] and "grande demais" in reasons["huge.py"]["reason_pt"]
    assert "does not match its header" in reasons["liar.py"]["reason"]
    assert "symbolic link" in reasons["link.py"]["reason"] and "link simbólico" in reasons["link.py"]["reason_pt"]
    assert "absolute" in reasons["absolute.py"]["reason"]
    assert not os.path.exists("/tmp/absolute.py")


@pytest.mark.unit
def test_older_moodle_layouts_and_blind_marking(tmp_path):
    """3.1-4.0 folders end in `_`; before 3.1 there are no folders; blind marking names everyone "Participant"."""
    download = tmp_path / "old.zip"
    download.write_bytes(zip_bytes([("Participant_301_assignsubmission_file_/mnist_dense.py", b"# a\n", NEW),
                                    ("Participant_302_assignsubmission_file_/mnist_dense.py", b"# b\n", NEW),
                                    ("Old Timer_303_assignsubmission_file_abc_skin.py", b"# c\n", NEW)]))
    assert cli.main(["import", "moodle", str(download), "--into", str(tmp_path / "class")]) == 0
    assert files_under(tmp_path / "class") == {"roster.csv", "import-report.csv", "participant-301/mnist_dense.py",
                                               "participant-302/mnist_dense.py", "old-timer/abc_skin.py"}
    folders = {r["key"]: r["folder"] for r in read_csv(tmp_path / "class" / "roster.csv")}
    assert folders["participant-301"] == "Participant_301_assignsubmission_file_"  # the feedback ZIP reuses it
    assert folders["old-timer"] == "Old Timer_303_assignsubmission_file"


@pytest.mark.unit
def test_a_worksheet_adds_emails_and_who_submitted_nothing(tmp_path):
    download = tmp_path / "d.zip"
    download.write_bytes(zip_bytes([(f"{folder('Ana Luíza Conceição', 201)}/abc_skin.py", b"# a\n", NEW)]))
    sheet = tmp_path / "Grades.csv"
    with open(sheet, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(moodle.WORKSHEET_COLUMNS)
        w.writerow(["Participant 201", "Ana Luíza Conceição", "ana@example.edu", "Submitted for grading"] + [""] * 6)
        w.writerow(["Participant 207", "Rui Ausente", "rui@example.edu", "No submission"] + [""] * 6)
    assert cli.main(["import", "moodle", str(download), "--worksheet", str(sheet), "--into", str(tmp_path / "c")]) == 0
    roster = {r["participant_id"]: r for r in read_csv(tmp_path / "c" / "roster.csv")}
    assert roster["201"]["email"] == "ana@example.edu" and roster["207"]["key"] == "rui-ausente"
    report = {r["student"]: r["outcome"] for r in read_csv(tmp_path / "c" / "import-report.csv")}
    assert report == {"ana-luiza-conceicao": "placed", "rui-ausente": "empty"}


@pytest.mark.unit
def test_user_errors_say_what_to_do_in_both_languages(tmp_path, capsys):
    assert cli.main(["import", "moodle", str(tmp_path / "nope.zip"), "--into", str(tmp_path / "c")]) == 2
    assert cli.main(["import", "gradescope", str(EXAMPLES / "moodle-download.zip"), "--into", str(tmp_path / "c")]) == 2
    assert cli.main(["export", "moodle", str(tmp_path), "--into", str(tmp_path / "up")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "não existe" in err
    assert "submission_metadata.yml" in err and "Export Submissions" in err
    assert "roster.csv" in err and "grade import" in err
    assert cli.main(["export", "moodle", str(tmp_path), "--scale", "0", "--into", str(tmp_path / "up")]) == 2
    err = capsys.readouterr().err
    assert "--scale 0 is not a positive number" in err and "não é um número positivo" in err
