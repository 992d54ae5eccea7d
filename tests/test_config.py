"""The course's declared configuration: course.toml and exercise.toml read once into validated models.

A misspelled key, a value of the wrong type or out of range is refused when the file is loaded, naming the file,
the key, the closest known key and what is allowed, in both languages; a key only a newer grader knows is reported
as "upgrade" when course.toml says it needs that grader. Nothing here trains or runs a program.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from grader import __version__, cli, config, exercise
from grader.config import Course, course_root
from grader.errors import ConfigError
from grader.evaluation import checks as generic
from grader.evaluation.exercises import abc_skin, configure, problems

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A copy of the repository's course folder, to break."""
    root = tmp_path / "course"
    shutil.copytree(course_root() / "assignments", root / "assignments")
    shutil.copy(course_root() / "course.toml", root / "course.toml")
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def refused(call, *needles: str) -> ConfigError:
    """``call()`` raises ConfigError, one of whose problems holds each needle (a file, a key, what is allowed)."""
    with pytest.raises(ConfigError) as e:
        call()
    for needle in needles:
        assert any(needle in p.en for p in e.value.problems), (needle, str(e.value))
    return e.value


def test_the_shipped_course_and_its_exercises_load_to_the_values_they_had():
    """The values the grader used before the models (read key by key with these defaults): same verdicts."""
    root = course_root()
    assert problems(root) == []
    settings = config.course(root)
    assert (settings.course.lang, settings.grader.backend, settings.grader.seed, settings.grader.borderline_runs,
            settings.grader.keras2_compat, settings.grader.keras2_penalty, settings.lms.grade_scale,
            settings.similarity.threshold, settings.environment.packages) == (
        "pt", "tensorflow", 20261128, 3, True, 0.0, 100, 0.6, [])
    mnist = exercise.load("mnist_dense", root)
    assert (mnist.max_score, mnist.quick_epochs, mnist.timeout(), mnist.timeout(quick=True), mnist.noise_band) == (
        10.0, 1, 1800.0, 300.0, pytest.approx(3 * 0.059))
    assert mnist.limits.model_dump() == {"wall_clock_cpu_s": 1800, "wall_clock_gpu_s": 600, "memory_mb": 6144,
                                         "max_processes": 256, "output_bytes": 8388608, "disk_mb": 2048,
                                         "cell_timeout_s": 0}
    checks = configure(mnist, root)
    assert list(checks) == ["runs", "correspondence", "leakage", "consistency", "test_as_validation", "dense_only",
                            "threshold", "honest_claim"]
    assert checks["threshold"].params == generic.ThresholdParams(full_credit_max=1.6, zero_credit_min=2.0)
    assert checks["honest_claim"].params == generic.HonestClaimParams(tolerance=0.3, tolerance_max=0.45)
    abc = configure(exercise.load("abc_skin", root), root)
    assert abc["correspondence"].fn is abc_skin.abc_correspondence and abc["test_accuracy"].fn is generic.threshold
    assert abc["skin_invariance"].params == abc_skin.SkinInvarianceParams(weight_step=1, colour_step=5, learned_min=0.9)


def test_the_demo_course_validates_cleanly():
    """`grade exercises --check` on the course the README grades (examples/class is graded with it)."""
    assert cli.main(["exercises", "--check", str(ROOT)]) == cli.Exit.OK


def test_a_misspelled_check_parameter_is_refused_with_its_key_and_the_closest_one(course: Path):
    toml = course / "assignments" / "mnist_dense" / "exercise.toml"
    edit(toml, "tolerance = 0.3", "tolerence = 0.1")
    ex = exercise.load("mnist_dense", course)  # the exercise's own tables are right: the check's declaration decides
    e = refused(lambda: configure(ex, course), str(toml), "[checks.honest_claim] tolerence")
    (problem,) = e.problems
    assert "did you mean tolerance?" in problem.en and "você quis dizer tolerance?" in problem.pt
    assert "tolerance, tolerance_max" in problem.en  # what is allowed: the keys of that table


def test_a_misspelled_exercise_key_is_refused_at_load(course: Path):
    toml = course / "assignments" / "noisynote" / "exercise.toml"
    edit(toml, "wall_clock_gpu_s = 300", "wall_clock_gpu = 300")
    e = refused(lambda: exercise.load("noisynote", course), str(toml), "[limits] wall_clock_gpu")
    assert any("did you mean wall_clock_gpu_s?" in p.en for p in e.problems)
    assert any("[limits] wall_clock_gpu_s is missing" in p.en and "falta [limits] wall_clock_gpu_s" in p.pt
               for p in e.problems)


def test_a_wrong_type_is_refused_with_what_is_allowed(course: Path):
    toml = course / "assignments" / "fashion_mnist" / "exercise.toml"
    edit(toml, "[checks.runs]\npoints = 1", '[checks.runs]\npoints = "1"')
    e = refused(lambda: exercise.load("fashion_mnist", course), "[checks.runs] points = \"1\"")
    assert e.problems[0].en.endswith('is not a number >= 0: fix the file and run again')
    assert 'não é um número >= 0' in e.problems[0].pt
    (course / "course.toml").write_text("[grader]\nkeras2_compat = \"no\"\n")
    refused(lambda: config.course(course), "[grader] keras2_compat = \"no\" is not true or false")


def test_an_out_of_range_value_is_refused(course: Path):
    toml = course / "assignments" / "sparse_cce" / "exercise.toml"
    edit(toml, "agreement_min = 0.995", "agreement_min = 99.5")
    edit(toml, "zero_credit_min = 3.0", "zero_credit_min = 2.0")
    ex = exercise.load("sparse_cce", course)
    e = refused(lambda: configure(ex, course), "[checks.consistency] agreement_min = 99.5 is not a number >= 0 and <= 1")
    assert any("zero_credit_min (2) must be above full_credit_max (2.3)" in p.en for p in e.problems)
    edit(course / "course.toml", "borderline_runs = 3", "borderline_runs = 0")
    problem = config.course_problems(course)[1][0]
    assert "[grader] borderline_runs = 0 is not a whole number >= 1" in problem.en
    assert "não é um número inteiro >= 1" in problem.pt


def test_a_key_of_another_table_is_sent_where_it_belongs(course: Path):
    """The bug the models found: course.toml once set seed and borderline_runs under [environment], which nothing
    read (the defaults applied, silently)."""
    edit(course / "course.toml", "packages = []", "packages = []\nseed = 7")
    problem = config.course_problems(course)[1][0]
    assert "[environment] seed is not a key of [environment]: seed belongs in [grader]" in problem.en
    assert "seed pertence a [grader]" in problem.pt


def test_a_key_of_a_newer_grader_is_reported_as_an_upgrade_not_a_typo(course: Path):
    toml = course / "assignments" / "mnist_dense" / "exercise.toml"
    edit(toml, "tolerance = 0.3", "tolerance = 0.3\ntolerance_floor = 0.1")
    ex = exercise.load("mnist_dense", course)
    typo = refused(lambda: configure(ex, course), "tolerance_floor is an unknown key").problems[0]
    assert "requires_grader" in typo.en  # it says how a newer course would have told

    edit(course / "course.toml", 'requires_grader = ">=0.2"', 'requires_grader = ">=9.1"')
    found = problems(course)
    assert "this course needs keras-grader >=9.1 (this is " + __version__ + "): upgrade" in found[0].en
    assert "esta disciplina precisa do keras-grader >=9.1" in found[0].pt
    newer = [p for p in found if "tolerance_floor" in p.en]
    assert len(newer) == 1 and "a key this keras-grader (" + __version__ + ") does not know" in newer[0].en
    assert "did you mean" not in newer[0].en and "atualize o corretor" in newer[0].pt

    edit(course / "course.toml", 'requires_grader = ">=9.1"', 'requires_grader = "<0.1"')  # unmet, but not newer
    found = problems(course)
    assert "needs keras-grader <0.1" in found[0].en
    assert any("tolerance_floor is an unknown key" in p.en for p in found)  # a typo then, as without a requirement


def test_check_lists_every_problem_of_every_file_at_once(course: Path, capsys):
    edit(course / "course.toml", "threshold = 0.6", "threshold = 6")
    edit(course / "assignments" / "mnist_dense" / "exercise.toml", "tolerance = 0.3", "tolerence = 0.3")
    edit(course / "assignments" / "mnist_dense" / "exercise.toml", "epochs = 1", "epochs = 0")
    edit(course / "assignments" / "abc_skin" / "exercise.toml", 'check = "threshold"', 'check = "treshold"')
    edit(course / "assignments" / "noisynote" / "exercise.toml", 'requires = ["correspondence", "leakage"]',
         'requires = ["correspondance", "leakage"]')
    assert cli.main(["exercises", "--check", str(course)]) == cli.Exit.USAGE
    out = capsys.readouterr().out
    for needle in ("course.toml: [similarity] threshold = 6", "mnist_dense/exercise.toml: [quick] epochs = 0",
                   'abc_skin/exercise.toml: [checks.test_accuracy] check = "treshold"', "did you mean threshold?",
                   "noisynote/exercise.toml: [checks.threshold] requires names correspondance",
                   "did you mean correspondence?"):
        assert needle in re.sub(r"\s*\n\s*", " ", out), needle
    assert "[checks.honest_claim] tolerence is an unknown key" in out  # with the same file's [quick] problem
    assert "5 problem(s)" in out


def test_the_docs_list_every_key_as_the_models_declare_it():
    """docs/exercises.md's tables are ``config.reference`` of the models: a key added to a model and not documented
    (or documented with another default) fails here."""
    text = (ROOT / "docs" / "exercises.md").read_text()
    tables = [(Course, name) for name in Course.model_fields] + [
        (exercise.Exercise, ""), (exercise.Limits, "limits"), (exercise.Quick, "quick"), (exercise.Starter, "starter"),
        (exercise.Noise, "noise"), (exercise.CheckEntry, "checks.<name>")]
    for model, table in tables:
        if model is Course:
            model = Course.model_fields[table].annotation
        rows = config.reference(model, table)
        assert rows in text, f"docs/exercises.md lacks the rows of {table or 'exercise.toml'}:\n{rows}"
    for name, checks in (("generic", generic.GENERIC), ("abc_skin", abc_skin.CHECKS)):
        for check in checks:
            params = checks.params(check)
            if params.model_fields:
                rows = config.reference(params, f"checks.<{check}>")
                assert rows in text, f"docs/exercises.md lacks the parameters of {name}'s {check}:\n{rows}"
