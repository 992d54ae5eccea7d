"""Trusted evaluation (DESIGN §6), in a process apart from the student's.

Reads what the probe left (untrusted: sizes capped, no pickles, the model
loaded with ``safe_mode=True``), recomputes the graded model's predictions on
the captured test inputs and runs the exercise's checks. It is meant to live
in a long-lived, sandboxed worker (``evaluate_worker.py``, started by ``executors.py``) so Keras is
imported once.
"""

from __future__ import annotations

import functools
import json
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import data
from .. import exercise as exercise_mod
from ..errors import Untrusted
from ..fingerprint import fingerprints
from ..run.child.keras2 import notice_text
from . import attempts as attempts_mod
from . import checks as checks_mod
from .checks import Problem
from .exercises import load_checks
from .frameworks import framework_problem

MAX_JSON_BYTES = 8 * 2**20
MAX_ARRAY_BYTES = 1 * 2**30
MAX_MODEL_BYTES = 1 * 2**30
#: A Keras archive holds config.json, metadata.json and the weights (plus assets for a few layers).
MAX_MODEL_MEMBERS = 64
MAX_MODEL_UNPACKED_BYTES = 2 * 2**30


def read_json(path: Path, default: Any = None) -> Any:
    if not path.is_file():
        return default
    if path.stat().st_size > MAX_JSON_BYTES:
        raise Untrusted(f"{path.name} is larger than {MAX_JSON_BYTES} bytes")
    try:
        return json.loads(path.read_text(errors="replace"))
    except json.JSONDecodeError as e:
        raise Untrusted(f"{path.name} is not valid JSON: {e}") from e


def read_events(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    events = []
    with open(path, errors="replace") as f:
        for line in f.read(MAX_JSON_BYTES).splitlines():
            try:
                ev = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(ev, dict) and isinstance(ev.get("event"), str):
                events.append(ev)
    return events


def read_array(path: Path, kinds: str = "biuf") -> np.ndarray | None:
    if not path.is_file():
        return None
    if path.stat().st_size > MAX_ARRAY_BYTES:
        raise Untrusted(f"{path.name} is larger than {MAX_ARRAY_BYTES} bytes")
    try:
        a = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise Untrusted(f"{path.name} is not a NumPy array file: {e}") from e
    if not isinstance(a, np.ndarray) or a.dtype.kind not in kinds or a.ndim < 1:
        raise Untrusted(f"{path.name} holds {getattr(a, 'dtype', type(a))}, not numbers")
    return a


@dataclass
class Context:
    exercise: exercise_mod.Exercise
    quick: bool
    quick_epochs: int
    source: str
    statements: list[dict[str, Any]]  # what the student wrote that may state a test error (claims.statements)
    returncode: int | None
    timed_out: bool
    limit_s: float
    limit_hit: str | None
    artifacts: Path
    ref_x_test: np.ndarray
    ref_y_test: np.ndarray
    ref_x_train: np.ndarray
    events: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    exception: dict[str, Any] | None = None
    model: Any = None
    model_problem: Problem | None = None        # why there are no predictions of the graded model
    test_x: np.ndarray | None = None
    test_inputs_problem: Problem | None = None  # why there are no test inputs
    run_problem: Problem | None = None          # why the program did not do its work (checks.run_problem)
    test_source: str = ""
    test_source_pt: str = ""
    test_source_kind: str = ""
    source_kind: str = ""            # 'py' (source is the file: its lines are file lines) or 'ipynb' ('' if unknown)
    child_pred: np.ndarray | None = None
    test_pred: np.ndarray | None = None
    test_classes: np.ndarray | None = None
    test_error: float | None = None
    logits: bool = False
    train_fingerprints: list[np.ndarray] = field(default_factory=list)
    val_fingerprints: dict[int, np.ndarray] = field(default_factory=dict)

    @functools.cached_property
    def test_fingerprints(self) -> np.ndarray:
        return fingerprints(self.test_x)

    def decode(self, out: np.ndarray) -> np.ndarray:
        """Class ids from model outputs: argmax, or a threshold for a single output unit."""
        out = np.asarray(out, dtype=np.float64).reshape(len(out), -1)
        if out.shape[1] == 1:
            return (out[:, 0] > (0.0 if self.logits else 0.5)).astype(int)
        return out.argmax(1)

    @property
    def graded_model_id(self) -> int | None:
        gm = self.summary.get("graded_model")
        return gm if isinstance(gm, int) else None

    def events_of_graded(self, name: str) -> list[dict[str, Any]]:
        """The graded model's events of one kind (compile, fit_start), oldest first."""
        return [ev for ev in self.events if ev["event"] == name and ev.get("model") == self.graded_model_id]

    def fit_arrays(self, fit: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The whole x and y of a small fit (hard-coded data), when the probe kept them."""
        try:
            return read_array(self.artifacts / f"fit{fit}_x.npy"), read_array(self.artifacts / f"fit{fit}_y.npy")
        except Untrusted:
            return None, None

    def fit_line(self, fit: int) -> int | None:
        for ev in self.events:
            if ev["event"] == "fit_start" and ev.get("fit") == fit and isinstance(ev.get("caller"), dict):
                return ev["caller"].get("line")
        return None


def _describe_source(summary: dict[str, Any]) -> tuple[str, str, str]:
    """Where the test inputs were captured, in English and in Portuguese, and the kind of call."""
    ti = summary.get("test_inputs") if isinstance(summary.get("test_inputs"), dict) else {}
    kind = str(ti.get("kind", ""))
    caller = ti.get("caller") if isinstance(ti.get("caller"), dict) else {}
    calls = {"predict": "model.predict", "evaluate": "model.evaluate", "call": "model(...)"}
    what = {**calls, "validation_data": "fit's validation_data"}.get(kind, kind)
    what_pt = {**calls, "validation_data": "validation_data do fit"}.get(kind, kind)
    if caller.get("line"):
        return f"{what} at line {caller['line']}", f"{what_pt} na linha {caller['line']}", kind
    return what, what_pt, kind


def build_context(job: dict[str, Any]) -> Context:
    ex = exercise_mod.load(job["exercise"], Path(job["course_root"]))
    art = Path(job["artifacts"])
    sets = data.splits(ex.dataset)  # the data the grader trusts, rebuilt from the verified cache
    ref_x, ref_y = sets["x_test"], sets["y_test"]
    ctx = Context(exercise=ex, quick=job["quick"], quick_epochs=ex.quick_epochs, source=job["source"],
                  statements=job.get("statements") or [], returncode=job["returncode"], timed_out=job["timed_out"],
                  limit_s=job["limit_s"], limit_hit=job.get("limit_hit"), artifacts=art,
                  ref_x_test=ref_x, ref_y_test=ref_y, ref_x_train=sets["x_train"],
                  source_kind=str(job.get("kind") or ""))
    problems = []
    try:
        ctx.summary = read_json(art / "summary.json", {}) or {}
        ctx.exception = read_json(art / "exception.json")
        ctx.events = read_events(art / "events.jsonl")
    except Untrusted as e:
        problems.append(str(e))
    if not isinstance(ctx.summary, dict):
        ctx.summary = {}
    if not (isinstance(ctx.exception, dict) and {"type", "message"} <= ctx.exception.keys()):
        ctx.exception = None
    # quick mode caps each fit's epochs; a program that never asked for more than the cap ran as in a full run,
    # so it is graded as one (its threshold and stated error too)
    ctx.quick = ctx.quick and any(ev.get("epochs") != ev.get("epochs_requested")
                                  for ev in ctx.events if ev["event"] == "fit_start")
    ctx.logits = any(isinstance(ev.get("loss"), dict) and ev["loss"].get("from_logits")
                     for ev in ctx.events if ev["event"] == "compile")
    for ev in ctx.events:
        if ev["event"] == "fit_start" and isinstance(ev.get("fit"), int):
            k = ev["fit"]
            try:
                if (fp := read_array(art / f"fit{k}_train_fp.npy", "u")) is not None:
                    ctx.train_fingerprints.append(fp)
                if (fp := read_array(art / f"fit{k}_val_fp.npy", "u")) is not None:
                    ctx.val_fingerprints[k] = fp
            except Untrusted as e:
                problems.append(str(e))
    ctx.test_source, ctx.test_source_pt, ctx.test_source_kind = _describe_source(ctx.summary)
    if (refused := framework_problem(ctx)) is not None:  # a framework the exercise does not accept: nothing to grade
        ctx.run_problem = ctx.model_problem = ctx.test_inputs_problem = refused
        ctx.events, ctx.train_fingerprints, ctx.val_fingerprints = [], [], {}
        return ctx

    # the test inputs, as the student prepared them
    try:
        ctx.test_x = read_array(art / "test_x.npy")
        ctx.child_pred = read_array(art / "test_pred.npy")
    except Untrusted as e:
        ctx.test_x, problems = None, [*problems, str(e)]
    if ctx.test_x is None:
        ctx.test_inputs_problem = Problem(
            f"the graded model was never run on the {len(ref_x)} test inputs: call model.evaluate(x_test, y_test) "
            "or model.predict(x_test) on the whole test set",
            f"o modelo avaliado nunca foi executado nas {len(ref_x)} entradas de teste: chame "
            "model.evaluate(x_test, y_test) ou model.predict(x_test) no conjunto de teste inteiro",
            "the graded model was never run on the test inputs",
            "o modelo avaliado nunca foi executado nas entradas de teste")

    # the graded model
    ctx.model_problem = _load_model(ctx, art, problems)
    if ctx.model is not None and ctx.test_x is not None:
        try:
            ctx.test_pred = predict(ctx.model, ctx.test_x)
            ctx.test_classes = ctx.decode(ctx.test_pred)
            if len(ctx.test_classes) == len(ref_y):
                ctx.test_error = round(100.0 * float(np.mean(ctx.test_classes != ref_y)), 4)
            else:
                counted = f"the model gave {len(ctx.test_classes)} predictions for {len(ref_y)} test rows"
                counted_pt = f"o modelo deu {len(ctx.test_classes)} predições para {len(ref_y)} linhas de teste"
                ctx.model_problem = Problem(counted, counted_pt, counted, counted_pt)
                ctx.test_pred = None
        except Exception as e:
            ctx.model_problem = Problem(
                f"the graded model could not be run on the captured test inputs ({type(e).__name__}: {str(e)[:300]})",
                f"o modelo avaliado não pôde ser executado nas entradas de teste capturadas "
                f"({type(e).__name__}: {str(e)[:300]})",
                "the graded model could not be run on the test inputs",
                "o modelo avaliado não pôde ser executado nas entradas de teste")
            ctx.test_pred = None
    elif ctx.model is not None:
        ctx.model_problem = ctx.test_inputs_problem

    ctx.run_problem = checks_mod.run_problem(ctx)
    if ctx.run_problem is not None:  # the run is the root cause of what it left missing
        if ctx.test_x is None:
            ctx.test_inputs_problem = ctx.run_problem
        if ctx.model is None or ctx.test_x is None:
            ctx.model_problem = ctx.run_problem
    return ctx


def _load_model(ctx: Context, art: Path, problems: list[str]) -> Problem | None:
    """Load the graded model into ctx.model; return what went wrong, if anything."""
    summary = ctx.summary
    if summary.get("framework") == "torch":  # a PyTorch program: its module, exported to ONNX (onnx_model.py)
        from .onnx_model import export_problem, load_onnx

        if summary.get("model_file") == "graded.onnx":
            ctx.model, problem = load_onnx(art / "graded.onnx")
            return problem
        if isinstance(summary.get("save_error"), str):
            return export_problem(summary["save_error"])
    if "model_file" not in summary:
        if summary.get("save_error"):
            return Problem(f"the graded model could not be saved ({summary['save_error'][:300]}): use built-in Keras "
                           "layers so the model can be saved and loaded",
                           f"o modelo avaliado não pôde ser salvo ({summary['save_error'][:300]}): use camadas "
                           "nativas do Keras para que o modelo possa ser salvo e carregado",
                           "the graded model could not be saved", "o modelo avaliado não pôde ser salvo")
        if problems:
            return Problem("; ".join(problems),
                           "arquivos deixados pelo programa não puderam ser usados: " + "; ".join(problems),
                           "files the program left could not be used",
                           "arquivos deixados pelo programa não puderam ser usados")
        # the program stopped or trained nothing (checks.run_problem says which), or it left no model behind
        return Problem("the grader found no model to grade", "o corretor não encontrou um modelo para avaliar",
                       "no model to grade", "nenhum modelo para avaliar")
    path = art / "graded.keras"
    if not path.is_file():
        return Problem("the graded model file is missing", "o arquivo do modelo avaliado não existe",
                       "the graded model file is missing", "o arquivo do modelo avaliado não existe")
    if problem := archive_problem(path):
        return Problem(f"the graded model file is not a valid Keras file: {problem[0]}",
                       f"o arquivo do modelo avaliado não é um arquivo Keras válido: {problem[1]}",
                       "the graded model file is not a valid Keras file",
                       "o arquivo do modelo avaliado não é um arquivo Keras válido")
    import keras

    try:
        ctx.model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as e:
        msg = str(e).splitlines()[0][:300] if str(e) else type(e).__name__
        unsafe = "safe_mode" in str(e) or "Lambda" in str(e) or "custom" in str(e).lower()
        hint = ("Lambda layers and custom Python classes cannot be loaded safely: use built-in Keras layers"
                if unsafe else "use built-in Keras layers and a standard Sequential or functional model")
        hint_pt = ("Camadas Lambda e classes Python próprias não podem ser carregadas com segurança: use camadas "
                   "nativas do Keras" if unsafe
                   else "Use camadas nativas do Keras e um modelo Sequential ou funcional padrão")
        return Problem(f"the graded model could not be loaded ({type(e).__name__}: {msg}). {hint}",
                       f"o modelo avaliado não pôde ser carregado ({type(e).__name__}: {msg}). {hint_pt}",
                       "the graded model could not be loaded", "o modelo avaliado não pôde ser carregado")
    return None


def archive_problem(path: Path) -> tuple[str, str] | None:
    """What makes ``path`` unfit to be loaded as a ``.keras`` file, read as a plain zip (English, Portuguese).

    The student's process can overwrite the file the probe saved, so before Keras reads it: its size,
    its members' names (no path outside the archive), their unpacked sizes (no zip bomb) and a
    config.json that is a JSON object naming a class. None for a file that passes (or is absent).
    """
    if not path.is_file():
        return None
    if path.stat().st_size > MAX_MODEL_BYTES:
        return (f"it is larger than {MAX_MODEL_BYTES // 2**20} MiB", f"ele tem mais de {MAX_MODEL_BYTES // 2**20} MiB")
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > MAX_MODEL_MEMBERS:
                return f"it holds {len(members)} files", f"ele contém {len(members)} arquivos"
            for m in members:
                parts = m.filename.replace("\\", "/").split("/")
                if m.filename.startswith("/") or ".." in parts or "\0" in m.filename:
                    return (f"it holds a file outside the archive ({m.filename[:100]!r})",
                            f"ele contém um arquivo fora do arquivo compactado ({m.filename[:100]!r})")
            unpacked = sum(m.file_size for m in members)
            if unpacked > MAX_MODEL_UNPACKED_BYTES:
                return (f"it unpacks to {unpacked // 2**20} MiB", f"ele descompactado ocupa {unpacked // 2**20} MiB")
            names = {m.filename for m in members}
            if "config.json" not in names or not names & {"model.weights.h5", "model.weights.npz"}:
                return ("it lacks config.json or the weights (model.weights.h5)",
                        "faltam nele o config.json ou os pesos (model.weights.h5)")
            if archive.getinfo("config.json").file_size > MAX_JSON_BYTES:
                return (f"its config.json is larger than {MAX_JSON_BYTES // 2**20} MiB",
                        f"seu config.json tem mais de {MAX_JSON_BYTES // 2**20} MiB")
            with archive.open("config.json") as f:
                raw = f.read(MAX_JSON_BYTES + 1)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
        return (f"it is not a readable zip archive ({type(e).__name__}: {str(e)[:200]})",
                f"ele não é um arquivo zip legível ({type(e).__name__}: {str(e)[:200]})")
    try:
        config = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        return (f"its config.json is not JSON ({str(e)[:200]})", f"seu config.json não é JSON ({str(e)[:200]})")
    if not (isinstance(config, dict) and isinstance(config.get("class_name"), str)):
        return ("its config.json does not describe a Keras model", "seu config.json não descreve um modelo Keras")
    return None


def evaluate_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run the exercise's checks for one finished run; returns plain JSON values."""
    t0 = time.perf_counter()
    ctx = build_context(job)
    outcomes: dict[str, checks_mod.Outcome] = {}
    registry = load_checks(ctx.exercise.id)
    for name, params in ctx.exercise.checks.items():
        fn = registry.get(params.get("check", name))
        if fn is None:
            outcomes[name] = checks_mod.Outcome("fail", f"the grader has no check named {params.get('check', name)!r}"
                                                " (exercise.toml)",
                                                pt=f"o corretor não tem uma verificação chamada "
                                                f"{params.get('check', name)!r} (exercise.toml)")
            continue
        try:
            outcomes[name] = fn(ctx, params)
        except Exception as e:  # a check must not take the others down
            outcomes[name] = checks_mod.Outcome("fail", f"the check could not run on this submission "
                                                f"({type(e).__name__}: {str(e)[:300]})",
                                                pt=f"a verificação não pôde ser executada nesta submissão "
                                                f"({type(e).__name__}: {str(e)[:300]})")
    stated: set[Problem] = set()
    for name, out in outcomes.items():  # a root cause no check states yet: the first check it stops states it
        if out.status == "not_reached" and out.unstated is not None and out.unstated not in stated:
            stated.add(out.unstated)
            outcomes[name] = checks_mod.Outcome("fail", out.unstated.message, out.details, pt=out.unstated.pt)
    results = []
    for name, params in ctx.exercise.checks.items():
        out = outcomes[name]
        unmet = [r for r in params.get("requires", []) if outcomes.get(r) and outcomes[r].status == "fail"]
        if unmet and out.status in ("pass", "partial"):
            out = checks_mod.Outcome("fail", f"{out.message} — but no points, since {', '.join(unmet)} failed",
                                     out.details,
                                     pt=f"{out.pt or out.message} — mas sem pontos, pois "
                                     + (f"a verificação {unmet[0]} falhou" if len(unmet) == 1
                                        else f"as verificações {', '.join(unmet)} falharam"))
        points = float(params.get("points", 0))
        results.append({"name": name, "status": out.status, "points": round(points * out.earned(), 3),
                        "max_points": points, "message": out.message, "message_pt": out.pt or out.message,
                        "details": out.details})
    return {
        "checks": results,
        "test_error": ctx.test_error,
        "quick_capped": ctx.quick,
        "backend": ctx.summary.get("backend"),
        "keras_version": ctx.summary.get("keras_version"),
        "graded_model": {"reason": ctx.summary.get("graded_reason"), "test_inputs": ctx.test_source or None},
        "exception": ctx.exception,
        "notices": keras2_notices(ctx.events),
        **attempts_mod.collect(job, read_events(ctx.artifacts / attempts_mod.LOG)),
        "eval_seconds": round(time.perf_counter() - t0, 3),
    }


def keras2_notices(events: list[dict[str, Any]], limit: int = 50) -> list[dict[str, Any]]:
    """The Keras 2 idioms the probe ran as Keras 2 did: [{id, line, en, pt}], texts from this grader's catalogue."""
    notices = []
    for ev in events:
        if ev["event"] != "keras2" or len(notices) >= limit:
            continue
        values = ev.get("values") if isinstance(ev.get("values"), dict) else {}
        en, pt = (notice_text(str(ev.get("id")), lang, values) for lang in ("en", "pt"))
        if en is None or pt is None:
            continue  # an id this grader never wrote: the student's process is not trusted
        line = ev.get("line")
        notices.append({"id": ev["id"], "line": line if isinstance(line, int) and not isinstance(line, bool) else None,
                        "en": en, "pt": pt})
    return sorted(notices, key=lambda n: (n["line"] is None, n["line"] or 0))  # in the program's order


def predict(model: Any, x: np.ndarray, batch: int = 2000) -> np.ndarray:
    """The model's outputs on ``x``, called eagerly in batches.

    ``model.predict`` traces (TensorFlow) or compiles (JAX) a new function for every model it
    meets, 0.2-0.5 s per job here, where each job brings a new model; a dense network's forward
    pass on 10,000 rows takes milliseconds eagerly. Models that cannot be called that way
    (several inputs or outputs) still go through ``predict``.
    """
    if getattr(model, "framework", "keras") != "keras":  # a GradedModel of another framework (onnx_model.py)
        return model.predict(x)
    from keras import ops

    try:
        parts = [ops.convert_to_numpy(model(x[i:i + batch], training=False)) for i in range(0, len(x), batch)]
        if parts and all(isinstance(p, np.ndarray) for p in parts):
            return np.concatenate(parts)
    except Exception:  # noqa: BLE001 - the general path below says what is wrong
        pass
    return np.asarray(model.predict(x, batch_size=1000, verbose=0))


def warm_up(backend: str | None = None) -> None:
    """Import Keras once, in the evaluator process, before the first job arrives.

    The evaluator uses ``backend`` (a ``.keras`` file loads under any backend) on the CPU: predicting
    10,000 rows is quick there, and the GPUs stay whole for the students' programs.
    """
    import os

    if backend:
        os.environ["KERAS_BACKEND"] = backend
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    os.environ["JAX_PLATFORMS"] = "cpu"
    import keras  # noqa: F401
