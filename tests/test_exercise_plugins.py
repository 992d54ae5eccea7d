"""Exercises bring their own checks, and the trusted evaluation is built in layers without an import circle.

A course adds an exercise with checks of its own (``assignments/<id>/checks.py``) without a new grader;
one long-lived evaluator grades it next to a built-in exercise whose check has the same name, and each
gets its own. The import graph of ``grader/`` is read from the source: a lower layer never imports a
higher one.
"""

from __future__ import annotations

import ast
import os
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import check

from grader import exercise
from grader.config import course_root
from grader.errors import CheckConflict, ConfigError
from grader.evaluation.checks import GENERIC, CheckSet, Outcome
from grader.evaluation.client import Evaluator
from grader.evaluation.exercises import checks_for, configure
from grader.jobs import Options, grade
from grader.schema import CheckStatus
from grader.text import Text

# --- a sixth exercise, from the course's folder ------------------------------------------------------------------

MNIST_SMALL_TOML = """\
id = "mnist_small"
title = "A small dense network on MNIST, and its training curve"
title_pt = "Uma rede densa pequena no MNIST, e a sua curva de treino"
dataset = "mnist"

[limits]
wall_clock_cpu_s = 600
wall_clock_gpu_s = 300
memory_mb = 6144
max_processes = 256
output_bytes = 8388608
disk_mb = 2048

[quick]
epochs = 1

[checks.runs]
points = 1

[checks.figure]
points = 1                 # the course's own check: any figure passes (fashion_mnist's wants 20 labelled images)
axes_min = 1               # a parameter the course's check declares (FigureParams below)
"""

#: The course's own "figure": a figure of any kind. fashion_mnist's built-in "figure" wants 20 labelled test images.
MNIST_SMALL_CHECKS = '''\
"""mnist_small's own checks: the course's, next to the grader's generic ones."""

from pydantic import Field

from grader.errors import Untrusted
from grader.evaluation.artifacts import read_json
from grader.evaluation.checks import CheckParams, CheckSet, Outcome
from grader.evaluation.context import Context
from grader.schema import CheckStatus
from grader.text import Text

CHECKS = CheckSet("mnist_small")


class FigureParams(CheckParams):
    """What exercise.toml's [checks.figure] may say: a key it does not declare is refused when the exercise loads."""

    axes_min: int = Field(1, ge=1, description="axes the figure must have")


@CHECKS.check("figure", params=FigureParams)
def any_figure(ctx: Context, params: FigureParams) -> Outcome:
    try:
        fig = read_json(ctx.artifacts / "fig0.json")
    except Untrusted:
        fig = None
    if isinstance(fig, dict) and isinstance(fig.get("axes"), list) and len(fig["axes"]) >= params.axes_min:
        return Outcome(CheckStatus.PASS, Text("the program drew its training curve", "o programa desenhou a sua curva "
                                              "de treino"), {"course_check": True})
    return Outcome(CheckStatus.FAIL, Text("no figure was drawn: plot the training curve",
                                          "nenhuma figura foi desenhada: desenhe a curva de treino"))
'''

#: Trains a little, evaluates on the test set, and plots its loss: no figure of 20 test images.
PROGRAM = """\
import keras
import matplotlib.pyplot as plt

(AX, AY), (QX, QY) = keras.datasets.{dataset}.load_data()
model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(AX[:1000] / 255.0, AY[:1000], epochs=1, verbose=0)
model.evaluate(QX / 255.0, QY, verbose=0)
plt.plot(history.history["loss"])
plt.savefig("loss.png")
"""


@pytest.fixture
def course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the repository's course with a sixth exercise whose checks live in the course's folder."""
    root = tmp_path / "course"
    shutil.copytree(course_root() / "assignments", root / "assignments")
    if (course_root() / "course.toml").is_file():
        shutil.copy(course_root() / "course.toml", root / "course.toml")
    small = root / "assignments" / "mnist_small"
    small.mkdir()
    (small / "exercise.toml").write_text(MNIST_SMALL_TOML)
    (small / "checks.py").write_text(MNIST_SMALL_CHECKS)
    monkeypatch.setenv("KERAS_GRADER_COURSE", str(root))  # the grader, and the evaluator's sandbox, read it
    return root


def test_a_course_exercise_and_a_built_in_one_each_get_their_own_figure_check(course: Path, tmp_path: Path):
    """fashion_mnist, mnist_small, fashion_mnist through one evaluator: a shared registry would hand the third
    job the check registered last (mnist_small's), which passes any figure."""
    results = []
    with Evaluator() as evaluator:
        for k, exercise_id in enumerate(("fashion_mnist", "mnist_small", "fashion_mnist")):
            ex = exercise.load(exercise_id)
            dataset = "mnist" if exercise_id == "mnist_small" else "fashion_mnist"
            path = tmp_path / "class" / f"s{k}" / f"{exercise_id}.py"
            path.parent.mkdir(parents=True)
            path.write_text(PROGRAM.format(dataset=dataset))
            results.append(grade(f"s{k}", ex, path, evaluator, Options(quick=True)))
    fashion, small, fashion_again = results
    assert check(small, "runs")["status"] == "pass", small
    assert check(small, "figure")["status"] == "pass" and check(small, "figure")["details"] == {"course_check": True}
    assert check(small, "figure")["message_pt"] == "o programa desenhou a sua curva de treino"
    for result in (fashion, fashion_again):
        figure = check(result, "figure")
        assert figure["status"] == "fail" and "no figure with 20 images was drawn" in figure["message"], figure
    assert [c["name"] for c in small["checks"]] == ["runs", "figure"]


@pytest.mark.unit
def test_a_course_check_declares_its_parameters_and_a_misspelled_one_is_refused(course: Path):
    """The course's checks.py declares FigureParams with its check: exercise.toml's keys are read into it, typed, and
    a key it does not declare is refused before anything is graded, with the declared key it is closest to."""
    configured = configure(exercise.load("mnist_small"), course)
    assert configured["figure"].params.axes_min == 1 and type(configured["figure"].params).__name__ == "FigureParams"
    toml = course / "assignments" / "mnist_small" / "exercise.toml"
    toml.write_text(MNIST_SMALL_TOML.replace("axes_min = 1", "axis_min = 2"))
    with pytest.raises(ConfigError, match=r"\[checks\.figure\] axis_min is an unknown key; did you mean axes_min\?"):
        configure(exercise.load("mnist_small"), course)
    toml.write_text(MNIST_SMALL_TOML.replace("axes_min = 1", "axes_min = 0"))
    with pytest.raises(ConfigError, match=r"axes_min = 0 is not a whole number >= 1"):
        configure(exercise.load("mnist_small"), course)


@pytest.mark.unit
def test_a_check_set_refuses_a_name_twice_and_a_generic_name():
    demo = CheckSet("demo")

    @demo.check("figure")
    def first(ctx, params):
        return Outcome(CheckStatus.PASS, Text("first", "primeira"))

    with pytest.raises(CheckConflict, match=r"'figure' is registered twice in demo's checks.*test_exercise_plugins"):
        @demo.check("figure")
        def second(ctx, params):
            return Outcome(CheckStatus.PASS, Text("second", "segunda"))

    with pytest.raises(CheckConflict, match=r"demo's check 'runs'.*has the name of a generic check"):
        @demo.check("runs")
        def runs(ctx, params):
            return Outcome(CheckStatus.PASS, Text("runs", "roda"))

    assert demo.get("figure") is first and list(demo) == ["figure"] and "runs" not in demo
    assert list(GENERIC.merged(demo)) == [*GENERIC, "figure"]


@pytest.mark.unit
def test_a_course_module_that_reuses_a_generic_name_is_refused_and_a_changed_one_is_read_again(tmp_path: Path):
    folder = tmp_path / "assignments" / "plugin_demo"
    folder.mkdir(parents=True)
    module = folder / "checks.py"
    template = textwrap.dedent("""\
        from grader.evaluation.checks import CheckSet, Outcome
        from grader.schema import CheckStatus
        from grader.text import Text

        CHECKS = CheckSet("plugin_demo")


        @CHECKS.check("{name}")
        def own(ctx, params):
            return Outcome(CheckStatus.PASS, Text("own", "própria"))
        """)
    module.write_text(template.format(name="drawing"))
    assert "drawing" in checks_for("plugin_demo", tmp_path) and "runs" in checks_for("plugin_demo", tmp_path)
    assert checks_for("plugin_demo", tmp_path).get("drawing") is checks_for("plugin_demo", tmp_path).get("drawing")

    module.write_text(template.format(name="threshold"))
    os.utime(module, ns=(module.stat().st_atime_ns, module.stat().st_mtime_ns + 10**9))  # a later edit
    with pytest.raises(CheckConflict, match=rf"'threshold'.*{module}.*generic check"):
        checks_for("plugin_demo", tmp_path)

    module.write_text(template.format(name="sketch"))
    os.utime(module, ns=(module.stat().st_atime_ns, module.stat().st_mtime_ns + 2 * 10**9))
    own = checks_for("plugin_demo", tmp_path)
    assert "sketch" in own and "drawing" not in own
    assert list(checks_for("no_such_exercise", tmp_path)) == list(GENERIC)  # no module: the generic checks


# --- the import graph --------------------------------------------------------------------------------------------

GRADER = Path(__file__).resolve().parent.parent / "grader"

#: A package, and what none of its modules may import: a lower layer never reaches a higher one.
FORBIDDEN = {
    "grader.evaluation": ("grader.report", "grader.jobs", "grader.cli", "grader.results", "grader.executors",
                          "grader.lms"),
    # the student's process: it must run with the probe and its own modules alone
    "grader.run.child": ("grader.run.host", "grader.evaluation", "grader.jobs", "grader.results", "grader.report",
                         "grader.executors", "grader.lms", "grader.cli", "grader.data", "grader.config"),
}
#: Packages whose modules import one another without a circle.
ACYCLIC = ("grader.evaluation", "grader")
#: Inside a package, its modules from the bottom up: each imports only from its own layer or those below.
LAYERS = {
    # the whole package, from the bottom up (grader/README.md draws it)
    "grader": (
        # handover: the names and shapes the student's process and the grader agree on, below both
        ("grader.errors", "grader.text", "grader.schema", "grader.fingerprint", "grader.forward", "grader.handover"),
        ("grader.config",),
        # frameworks: the table of frameworks (its advice is hints')
        ("grader.datasets", "grader.devices", "grader.exercise", "grader.environment", "grader.notebooks",
         "grader.hints", "grader.frameworks"),
        ("grader.data", "grader.claims", "grader.similarity"),
        ("grader.run",),  # run.child (the student's process) and run.host (what launches it)
        ("grader.evaluation",),
        ("grader.results", "grader.decisions"),
        ("grader.jobs",),
        ("grader.executors", "grader.solutions"),  # solutions: references and starters graded, judged
        ("grader.report",),
        ("grader.lms", "grader.release"),
        ("grader.cli",),
    ),
    "grader.evaluation": (
        ("grader.evaluation.model", "grader.evaluation.artifacts", "grader.evaluation.attempts"),
        ("grader.evaluation.context",),
        ("grader.evaluation.correspondence", "grader.evaluation.source", "grader.evaluation.keras_model",
         "grader.evaluation.onnx_model", "grader.evaluation.frameworks"),
        ("grader.evaluation.checks",),
        ("grader.evaluation.exercises",),  # the loader and the built-in exercises' modules
        ("grader.evaluation.evaluator",),
        ("grader.evaluation.worker", "grader.evaluation.client"),
    ),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(GRADER.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(GRADER.rglob("*.py"))}


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(name: str) -> set[str]:
    """The grader modules ``name`` imports, at module level or inside functions (not under TYPE_CHECKING),
    with the packages Python runs first (importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__``)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:  # `from . import checks` imports a module; `from .checks import X` a name
                found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in MODULES else target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    with_packages = set()
    for target in found:
        parts = target.split(".")
        with_packages.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return {m for m in with_packages if m in MODULES and m != name and not _under(name, m)}


GRAPH = {name: _imports(name) for name in MODULES}


@pytest.mark.unit
def test_the_import_graph_is_read():
    """The graph this file checks is the real one: a few edges it must hold."""
    assert "grader.evaluation.checks" in GRAPH["grader.evaluation.evaluator"]
    assert "grader.evaluation.context" in GRAPH["grader.evaluation.exercises.abc_skin"]
    assert "grader.evaluation.evaluator" in GRAPH["grader.evaluation.worker"]  # inside a function
    assert "grader.evaluation.context" not in GRAPH["grader.evaluation.source"]  # only under TYPE_CHECKING


@pytest.mark.parametrize("package", list(FORBIDDEN))
@pytest.mark.unit
def test_no_module_imports_a_higher_layer(package):
    wrong = [f"{name} imports {target}" for name, targets in GRAPH.items() if _under(name, package)
             for target in sorted(targets) if any(_under(target, f) for f in FORBIDDEN[package])]
    assert not wrong, "; ".join(wrong)


@pytest.mark.parametrize("package", list(LAYERS))
@pytest.mark.unit
def test_each_module_imports_only_its_own_layer_or_lower(package):
    def layer(name: str) -> int | None:
        for i, members in enumerate(LAYERS[package]):
            if any(_under(name, m) for m in members):
                return i
        return None

    inside = [name for name in MODULES if _under(name, package) and name != package]
    unplaced = [name for name in inside if layer(name) is None]
    assert not unplaced, f"modules in no layer of LAYERS[{package!r}] (place them): {unplaced}"
    upward = [f"{name} (layer {layer(name)}) imports {target} (layer {layer(target)})"
              for name in inside for target in sorted(GRAPH[name])
              if target in inside and layer(target) > layer(name)]
    assert not upward, "; ".join(upward)


@pytest.mark.parametrize("package", ACYCLIC)
@pytest.mark.unit
def test_no_import_circle(package):
    inside = {name for name in MODULES if _under(name, package)}
    edges = {name: GRAPH[name] & inside for name in inside}
    circles, state = [], {}  # state: 1 while on the current path, 2 when done

    def walk(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(edges[name]):
            if state.get(target) == 1:
                circles.append(" -> ".join([*path[path.index(target):], target]))
            elif target not in state:
                walk(target, [*path, target])
        state[name] = 2

    for name in sorted(inside):
        if name not in state:
            walk(name, [name])
    assert not circles, "import circles: " + "; ".join(circles)


# --- the hand-over: the witness and the judge learn each other's names from grader/handover.py -----------------------

def _static_imports(name: str) -> set[str]:
    """Every grader module ``name`` names in an import, under TYPE_CHECKING too (a type is a name learnt as well)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - (node.level - 1)] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            found.update(f"{target}.{alias.name}" if f"{target}.{alias.name}" in MODULES else target
                         for alias in node.names)
    return found


@pytest.mark.unit
def test_the_witness_and_the_judge_import_neither_side_of_the_other():
    """The evaluation side (grader/evaluation, jobs.py) never imports the student's process's modules, nor the
    student's side the evaluation's: both learn the artifacts' names, the child's spec and the job from
    grader/handover.py, and the frameworks from grader/frameworks.py."""
    judge = [name for name in MODULES if _under(name, "grader.evaluation") or name == "grader.jobs"]
    wrong = [f"{name} imports {target}" for name in judge for target in sorted(_static_imports(name))
             if _under(target, "grader.run.child")]
    wrong += [f"{name} imports {target}" for name in MODULES if _under(name, "grader.run.child")
              for target in sorted(_static_imports(name)) if _under(target, "grader.evaluation")]
    assert not wrong, "; ".join(wrong)
    assert "grader.handover" in _static_imports("grader.run.child.probe")
    assert "grader.handover" in _static_imports("grader.evaluation.evaluator")


@pytest.mark.unit
def test_the_handover_and_the_framework_table_need_only_the_standard_library():
    """The child imports both inside the sandbox before any of the student's imports (the table names the
    frameworks' code as strings, imported on use): importing them, and the grader modules they import when they
    are imported, needs the standard library alone. (A function may import more when it is called: the hints'
    catalogue reads the course's settings, in the evaluator.)"""

    def executed(body: list[ast.stmt]) -> list[ast.AST]:
        """The statements run when the module is imported: not those inside a function."""
        found: list[ast.AST] = []
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            found.append(node)
            for field in ("body", "orelse", "finalbody", "handlers"):
                found += executed([n for n in getattr(node, field, []) if isinstance(n, ast.AST)])
        return found

    seen, todo, outside = set(), ["grader.handover", "grader.frameworks"], set()
    while todo:
        name = todo.pop()
        seen.add(name)
        path = MODULES[name]
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in executed(ast.parse(path.read_text()).body):
            if isinstance(node, ast.Import):
                outside |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                outside.add(node.module.split(".")[0])
            elif isinstance(node, ast.ImportFrom):
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
                todo += [m for m in (target, *(f"{target}.{a.name}" for a in node.names))
                         if m in MODULES and m not in seen]
    assert outside - {"grader"} <= set(sys.stdlib_module_names) | {"__future__"}, outside


@pytest.mark.unit
def test_the_probes_import_each_other_in_one_direction_only():
    """PyTorch's probe talks to the base probe through witness.Witness: it never imports probe.py (not even for a
    type), and the base probe makes it from the framework table, so neither names the other."""
    probes = [name for name in MODULES if name.rpartition(".")[0] == "grader.run.child"
              and name.endswith("probe")]
    assert {"grader.run.child.probe", "grader.run.child.torch_probe"} <= set(probes)
    both = [f"{a} <-> {b}" for a in probes for b in probes if a < b
            and b in _static_imports(a) and a in _static_imports(b)]
    assert not both, both
    assert "grader.run.child.probe" not in _static_imports("grader.run.child.torch_probe")
