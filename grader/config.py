"""Where things live (the course folder, the data cache), and the course's declared configuration.

``course.toml`` and every ``exercise.toml`` are read once into typed, validated objects (pydantic models:
``Course`` here, ``exercise.Exercise``; each check declares its own parameters with the check). A key the
models do not declare, a value of the wrong type or out of range is refused when the file is loaded, with
the file, the key, the closest known key and what is allowed, in both languages (``ConfigError``): a
misspelled ``tolerence = 0.1`` would otherwise grade a whole class with the default.

``grade release`` copies course.toml into students' repositories, whose CI may install another grader
version, so course.toml may say which versions it needs (``[course] requires_grader``): a key that only a
newer grader knows is then reported as "upgrade", not as a typo.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import annotated_types
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import __version__
from .errors import ConfigError, GraderError
from .text import Text

PACKAGE_DIR = Path(__file__).resolve().parent


LANGS = ("pt", "en")
BACKENDS = ("tensorflow", "jax", "torch")


def course_root() -> Path:
    """The folder holding ``assignments/`` (and, for the instructor, ``solutions/``).

    ``KERAS_GRADER_COURSE`` wins; else the nearest folder holding ``course.toml`` from the
    current directory up (a student repository made by ``grade release``, or the instructor's
    checkout); else the checkout the package was installed from (editable install); else the
    current directory.
    """
    env = os.environ.get("KERAS_GRADER_COURSE")
    if env:
        candidates = [Path(env)]
    else:
        here = Path.cwd()
        marked = [d for d in (here, *here.parents) if (d / "course.toml").is_file()][:1]
        candidates = [*marked, PACKAGE_DIR.parent, here]
    for root in candidates:
        if (root / "assignments").is_dir():
            return root.resolve()
    raise GraderError(
        "cannot find the course's assignments/ folder "
        f"(looked in {', '.join(str(c) for c in candidates)}): run grade from the course's folder "
        "(the keras-grader checkout, or a repository made by `grade release`) or set KERAS_GRADER_COURSE "
        "to the folder that holds assignments/"
    )


# --- the declared configuration ------------------------------------------------------------------------------------

class Section(BaseModel):
    """A table of a configuration file: only its declared keys, each of its declared type (no "3" for 3, no true for
    1), frozen once read. Every model of course.toml, exercise.toml and a check's parameters derives from it."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


#: The course's seed when course.toml names none (any fixed number would do: it only has to stay the same).
DEFAULT_SEED = 20261128
#: Runs of a job whose test error sits in the noise band of a threshold boundary (the median one is graded).
DEFAULT_BORDERLINE_RUNS = 3
#: course.toml's ``[ci] grader_spec`` as this repository ships it: an example location that no course has published.
EXAMPLE_SPEC = "keras-grader @ git+https://github.com/keras-grader/keras-grader@main"


class CourseSection(Section):
    name: str = Field("Keras exercises", description="the course's name, the title of the students' README")
    lang: Literal["pt", "en"] | None = Field(
        None, description="feedback language (`--lang` overrides); absent: English for the instructor's commands, "
        "Portuguese in the students' CI workflow")
    requires_grader: str | None = Field(
        None, description="the keras-grader versions this course folder needs, as pip writes them (`\">=0.2\"`); "
        "a key that only a newer grader knows is then reported as \"upgrade\", not as a typo")


class GraderSection(Section):
    backend: Literal["tensorflow", "jax", "torch"] = Field(
        "tensorflow", description="KERAS_BACKEND of student programs and of the evaluator (`$KERAS_BACKEND` and "
        "`--backend` win)")
    keras2_compat: bool = Field(True, description="run Keras 2 idioms as Keras 2 ran them, with a notice; false: "
                                "they fail, with their hint")
    keras2_penalty: float = Field(0.0, ge=0, description="points taken from an exercise whose program needed the "
                                  "Keras 2 layer (0: notices only)")
    seed: int = Field(DEFAULT_SEED, ge=0, description="every job's seed derives from it, mixed with the exercise id "
                      "(`--seed` overrides)")
    borderline_runs: int = Field(DEFAULT_BORDERLINE_RUNS, ge=1, description="runs in all of a job whose test error "
                                 "lies in an exercise's noise band of a threshold boundary (the median is graded)")


class EnvironmentSection(Section):
    packages: list[str] = Field([], description="modules students may import besides the grader's own: "
                                "\"requirement\" or \"requirement:module\" (`\"scikit-image:skimage\"`)")


class CiSection(Section):
    grader_spec: str = Field(EXAMPLE_SPEC, description="what a student repository's workflow pip-installs "
                             "(`--grader-spec` overrides); the default is an example no course has published")
    python: str = Field("3.11", description="the Python version of the students' workflow")


class LmsSection(Section):
    grade_scale: float = Field(100, gt=0, description="`grade export moodle`: the assignment's maximum grade in "
                               "Moodle (`--scale` overrides)")


class SimilaritySection(Section):
    threshold: float = Field(0.6, gt=0, le=1, description="share of a submission's code found in another's that "
                             "lists the pair under \"Needs the instructor\"")
    boilerplate: list[str] = Field([], description="the course's code besides the starters, discounted (globs "
                                   "from the course folder)")


class Course(Section):
    """``course.toml``: the course's defaults (a command-line option wins over them); every table may be absent."""

    course: CourseSection = CourseSection()
    grader: GraderSection = GraderSection()
    environment: EnvironmentSection = EnvironmentSection()
    ci: CiSection = CiSection()
    lms: LmsSection = LmsSection()
    similarity: SimilaritySection = SimilaritySection()


COURSE_FILE = "course.toml"


def read_toml(path: Path) -> dict[str, Any]:
    """A configuration file's tables, or ``ConfigError`` saying where its TOML is broken."""
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError([Text(f"{path}: not valid TOML ({e}): fix the file and run again",
                                f"{path}: não é um TOML válido ({e}): corrija o arquivo e rode de novo")]) from e


def requirement(root: Path) -> str | None:
    """course.toml's ``[course] requires_grader``, read alone and leniently: it decides how every other file's
    unknown keys are explained, so it must be had even when the rest of course.toml is wrong."""
    path = root / COURSE_FILE
    try:
        value = tomllib.loads(path.read_text()).get("course", {}).get("requires_grader")
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def version_problem(spec: str, path: Path) -> Text | None:
    """Why this grader cannot use a course folder that declares ``requires_grader = spec``, or None."""
    try:
        wanted = SpecifierSet(spec)
    except InvalidSpecifier:
        return Text(f"{path}: [course] requires_grader = {json.dumps(spec)} is not a version requirement as pip "
                    "writes one, e.g. \">=0.2\": fix it",
                    f"{path}: [course] requires_grader = {json.dumps(spec)} não é um requisito de versão como o pip "
                    "escreve, por exemplo \">=0.2\": corrija-o")
    if wanted.contains(__version__, prereleases=True):
        return None
    return Text(f"{path}: this course needs keras-grader {spec} (this is {__version__}): upgrade the grader "
                "(pip install -U with course.toml's [ci] grader_spec) and run again",
                f"{path}: esta disciplina precisa do keras-grader {spec} (este é o {__version__}): atualize o corretor "
                "(pip install -U com o [ci] grader_spec do course.toml) e rode de novo")


def needs_newer(spec: str | None) -> bool:
    """Whether ``spec`` asks for a grader newer than this one (so an unknown key is a newer version's, not a typo)."""
    if not spec:
        return False
    try:
        wanted = SpecifierSet(spec)
    except InvalidSpecifier:
        return False
    running = Version(__version__)
    return not wanted.contains(running, prereleases=True) and any(
        s.operator in (">=", ">", "==", "~=", "===") and Version(s.version.removesuffix(".*")) > running
        for s in wanted)


def validate(model: type[BaseModel], data: Mapping[str, Any], path: Path, spec: str | None,
             where: tuple[str, ...] = (), also: Iterable[str] = ()) -> tuple[Any, list[Text]]:
    """``model`` read from ``data`` (a file's tables, or the part of them at ``where``), and every problem found
    (the model is None when there is any). ``also``: keys the same table holds for another reader (a check entry's
    ``points`` beside the check's own parameters), named among the known ones."""
    try:
        return model.model_validate(dict(data)), []
    except ValidationError as e:
        return None, [problem(error, model, path, spec, where, also) for error in e.errors()]


def problem(error: Mapping[str, Any], model: type[BaseModel], path: Path, spec: str | None,
            where: tuple[str, ...] = (), also: Iterable[str] = ()) -> Text:
    """One pydantic error as the user reads it: the file, the key, what is wrong and what is allowed."""
    loc = tuple(str(part) for part in error["loc"])
    owner, info = _field(model, loc)
    place = _place((*where, *loc))
    fix = Text(": fix the file and run again", ": corrija o arquivo e rode de novo")
    kind = error["type"]
    if kind == "extra_forbidden":
        known = [*(owner.model_fields if owner is not None else ()), *(also if len(loc) == 1 else ())]
        return unknown_key(path, (*where, *loc), known, spec, _homes(model, loc[-1], where))
    if kind == "missing":
        allowed = describe(info) if info is not None else Text("a value", "um valor")
        return (Text(f"{path}: {place} is missing: give ", f"{path}: falta {place}: dê ") + allowed
                + Text(" (fix the file and run again)", " (corrija o arquivo e rode de novo)"))
    ctx = error.get("ctx") or {}
    if isinstance(ctx.get("rule"), Text):  # a model's own rule (config_rule), said of its whole table
        full = (*where, *loc)
        return Text.same(f"{path}: " + (f"[{'.'.join(full)}]: " if full else "")) + ctx["rule"] + fix
    value = _toml(error.get("input"))
    if info is None:
        return Text(f"{path}: {place} = {value}: {error['msg']}", f"{path}: {place} = {value}: {error['msg']}") + fix
    return Text(f"{path}: {place} = {value} is not ", f"{path}: {place} = {value} não é ") + describe(info) + fix


def unknown_key(path: Path, loc: tuple[str, ...], known: Iterable[str], spec: str | None,
                homes: Iterable[str] = ()) -> Text:
    """A key the grader does not declare: the closest known one (or the table it belongs in), or, where the course
    declares a newer grader, the version it needs."""
    place, key, known, homes = _place(loc), loc[-1], sorted(known), list(homes)
    if needs_newer(spec):
        return Text(f"{path}: {place} is a key this keras-grader ({__version__}) does not know, and this course "
                    f"needs keras-grader {spec}: upgrade the grader (pip install -U with course.toml's [ci] "
                    "grader_spec) and run again",
                    f"{path}: {place} é uma chave que este keras-grader ({__version__}) não conhece, e esta "
                    f"disciplina precisa do keras-grader {spec}: atualize o corretor (pip install -U com o [ci] "
                    "grader_spec do course.toml) e rode de novo")
    close = difflib.get_close_matches(key, known, n=1)
    table = (Text.same(f"[{'.'.join(loc[:-1])}]") if len(loc) > 1
             else Text("the file's top level", "o nível de cima do arquivo"))
    if homes and not close:  # the right key in the wrong table
        return Text(f"{path}: {place} is not a key of {table.en}: {key} belongs in {' or '.join(homes)}; move it "
                    "there and run again",
                    f"{path}: {place} não é uma chave de {table.pt}: {key} pertence a {' ou '.join(homes)}; mova-a "
                    "para lá e rode de novo")
    return Text(f"{path}: {place} is an unknown key" + (f"; did you mean {close[0]}?" if close else ".")
                + f" The keys of {table.en} are: {', '.join(known) or 'none'}. Fix the file and run again (if it was "
                "written for a newer keras-grader, say so with [course] requires_grader in course.toml)",
                f"{path}: {place} é uma chave desconhecida" + (f"; você quis dizer {close[0]}?" if close else ".")
                + f" As chaves de {table.pt} são: {', '.join(known) or 'nenhuma'}. Corrija o arquivo e rode de novo "
                "(se ele foi escrito para um keras-grader mais novo, diga-o com [course] requires_grader no "
                "course.toml)")


def _homes(model: type[BaseModel], key: str, where: tuple[str, ...]) -> list[str]:
    """The tables of ``model`` (one level down) that declare ``key``: where a key written in the wrong table goes."""
    homes = []
    for name, info in model.model_fields.items():
        tp = _unoptional(info.annotation)
        if isinstance(tp, type) and issubclass(tp, BaseModel) and key in tp.model_fields:
            homes.append(f"[{'.'.join((*where, name))}]")
    return homes


def _place(loc: tuple[str, ...]) -> str:
    """``("checks", "threshold", "points")`` -> ``[checks.threshold] points``; a top-level key alone."""
    return f"[{'.'.join(loc[:-1])}] {loc[-1]}" if len(loc) > 1 else (loc[0] if loc else "the file")


def _field(model: type[BaseModel], loc: tuple[str, ...]) -> tuple[type[BaseModel] | None, Any]:
    """The model that owns the last key of ``loc`` and that key's FieldInfo (None where ``loc`` leaves the models:
    a list's item, a dict's key)."""
    owner: Any = model
    info = None
    i = 0
    while i < len(loc):
        if not (isinstance(owner, type) and issubclass(owner, BaseModel)):
            return None, info
        info = owner.model_fields.get(loc[i])
        if i == len(loc) - 1 or info is None:
            return owner, info
        tp = _unoptional(info.annotation)
        if typing.get_origin(tp) is dict:  # a table of tables: the next part is a name of the user's
            tp, i = typing.get_args(tp)[1], i + 1
        owner, i = tp, i + 1
    return owner, info


def _unoptional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else tp
    return tp


def _toml(value: Any) -> str:
    """A value as TOML writes it (true, "text", [1, 2])."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


_KINDS = {bool: ("true or false", "true ou false", "true or false values", "valores true ou false"),
          int: ("a whole number", "um número inteiro", "whole numbers", "números inteiros"),
          float: ("a number", "um número", "numbers", "números"),
          str: ("a text in quotes", "um texto entre aspas", "texts in quotes", "textos entre aspas")}


def _kind(tp: Any, plural: bool = False) -> Text:
    tp = _unoptional(tp)
    origin = typing.get_origin(tp)
    if origin is Literal:
        choices = ", ".join(json.dumps(a) for a in typing.get_args(tp))
        return Text(f"one of {choices}", f"um dentre {choices}") if not plural else Text(choices, choices)
    if origin in (list, tuple):
        return Text("a list of ", "uma lista de ") + _kind(typing.get_args(tp)[0], plural=True)
    if origin is dict:
        return Text("tables", "tabelas") if plural else Text("a table of tables", "uma tabela de tabelas")
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return Text("tables", "tabelas") if plural else Text("a table", "uma tabela")
    if tp in _KINDS:
        en, pt, en_plural, pt_plural = _KINDS[tp]
        return Text(en_plural, pt_plural) if plural else Text(en, pt)
    return Text.same(str(tp))


_BOUNDS = ((annotated_types.Gt, ">", "gt"), (annotated_types.Ge, ">=", "ge"), (annotated_types.Lt, "<", "lt"),
           (annotated_types.Le, "<=", "le"))


def describe(info: Any) -> Text:
    """What a key allows, from its declaration: "a number >= 0 and <= 1", "one of "pt", "en"", "a list of texts"."""
    parts: list[Text] = []
    for item in info.metadata:
        for cls, sign, attr in _BOUNDS:
            if isinstance(item, cls):
                parts.append(Text.same(f"{sign} {getattr(item, attr):g}"))
        if isinstance(item, annotated_types.MinLen):
            parts.append(Text("with at least {n}", "com pelo menos {n}").format(n=str(item.min_length)))
    text = _kind(info.annotation)
    if parts:
        text = text + Text.same(" ") + Text(" and ", " e ").join(parts)
    return text


def config_rule(en: str, pt: str) -> Exception:
    """A model's own rule broken (zero_credit_min <= full_credit_max), for ``problem`` to say in both languages."""
    from pydantic_core import PydanticCustomError

    return PydanticCustomError("config_rule", "{message}", {"message": en, "rule": Text(en, pt)})


def reference(model: type[BaseModel], table: str) -> str:
    """The Markdown rows that document ``model``'s keys (docs/exercises.md holds them; a test keeps them equal)."""
    rows = []
    for name, info in model.model_fields.items():
        kind = describe(info).en
        if info.is_required():
            default = "required"
        elif isinstance(info.default, BaseModel):
            continue  # a table: documented by its own rows
        else:
            default = f"`{_toml(info.default)}`" if info.default is not None else "absent"
        rows.append(f"| `{f'[{table}] ' if table else ''}{name}` | {kind} | {default} | {info.description or ''} |")
    return "\n".join(rows)


# --- course.toml ----------------------------------------------------------------------------------------------------

@functools.cache
def _course_config(root: Path) -> Course:
    path = root / COURSE_FILE
    if not path.is_file():
        return Course()
    loaded, problems = course_problems(root)
    if problems:
        raise ConfigError(problems)
    return loaded


def course_problems(root: Path) -> tuple[Course | None, list[Text]]:
    """``root``'s course.toml and every problem in it (all of them: `grade exercises --check` lists them)."""
    path = root / COURSE_FILE
    if not path.is_file():
        return Course(), []
    try:
        data = read_toml(path)
    except ConfigError as e:
        return None, e.problems
    spec = requirement(root)
    loaded, problems = validate(Course, data, path, spec)
    if spec is not None and (wrong := version_problem(spec, path)) is not None:
        problems.insert(0, wrong)
        loaded = None
    return loaded, problems


def course(root: Path | None = None) -> Course:
    """The course's ``course.toml``, read and validated once (defaults where it is absent)."""
    return _course_config(root or course_root())


def keras2_settings() -> tuple[bool, float]:
    """course.toml's ``[grader] keras2_compat`` (run Keras 2 idioms as Keras 2 did; default true) and
    ``keras2_penalty`` (points taken from an exercise whose program needed that; default 0)."""
    grader = course().grader
    return grader.keras2_compat, grader.keras2_penalty


def default_backend() -> str:
    """The Keras backend when no option names one: ``$KERAS_BACKEND``, else course.toml's, else tensorflow."""
    return os.environ.get("KERAS_BACKEND") or course().grader.backend


def course_seed() -> int:
    """``[grader] seed`` of course.toml: every job's seed derives from it (``--seed`` overrides)."""
    return course().grader.seed


def borderline_runs() -> int:
    """``[grader] borderline_runs`` of course.toml: runs in all of a job measured near a threshold boundary."""
    return course().grader.borderline_runs


def cache_dir() -> Path:
    """The data cache: ``KERAS_GRADER_CACHE`` or ``~/.cache/keras-grader``."""
    env = os.environ.get("KERAS_GRADER_CACHE")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "keras-grader"
    return base.expanduser()
