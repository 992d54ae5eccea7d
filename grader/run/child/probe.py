"""The probe: installed in the student's process before any student code runs.

It records what the submission does with Keras (compile, fit, predict, evaluate,
``to_categorical``, save and load_model), captures the test inputs as the student prepared them and
the figures the student draws, serves the data sets offline, and saves the
graded model when the student's code ends. Everything it writes is untrusted
input to the evaluator: it is a witness, never a judge.

Imports of Keras and matplotlib are hooked, not forced: a submission that
never imports Keras costs nothing.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ... import frameworks
from ...datasets import load_arrays
from ...fingerprint import fingerprints
from ...forward import outputs
from ...handover import (
    EVENTS,
    EXCEPTION,
    SUMMARY,
    TEST_PRED,
    TEST_X,
    ChildSpec,
    figure_image,
    figure_json,
    figure_png,
    fit_train_fingerprints,
    fit_val_fingerprints,
    fit_x,
    fit_y,
)
from .hooks import MAX_CAPTURE_BYTES, SMALL_ARRAY_BYTES, PostImportFinder, caller, test_sized
from .witness import FrameworkProbe

MAX_FIGURES = 40


def _column_match(x: np.ndarray, ref: np.ndarray, rows: int = 100) -> float:
    """How well the columns of ``x`` follow columns of ``ref``, row by row (mean best |correlation|)."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)[:rows]
    r = np.asarray(ref, dtype=np.float64).reshape(len(ref), -1)[: len(x)]
    x, r = x[:, x.std(0) > 0], r[:, r.std(0) > 0]
    if x.shape[1] == 0 or r.shape[1] == 0 or len(x) != len(r):
        return 0.0
    zx, zr = (x - x.mean(0)) / x.std(0), (r - r.mean(0)) / r.std(0)
    return float(np.abs(zx.T @ zr / len(x)).max(1).mean())


def _jsonable(v: Any) -> Any:
    """Best-effort conversion of Keras/NumPy values into JSON values."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if np.isfinite(v) else str(v)
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    try:
        a = np.asarray(v)
        if a.dtype.kind in "biuf" and a.size <= 64:
            return _jsonable(a.tolist())
    except Exception:
        pass
    return repr(v)[:200]


def _as_array(x: Any) -> np.ndarray | None:
    """``x`` as one NumPy array, or None (datasets, generators, multi-input lists)."""
    if x is None or isinstance(x, dict):
        return None
    if isinstance(x, (list, tuple)) and x and all(hasattr(e, "shape") for e in x):
        return None  # several inputs
    if not isinstance(x, np.ndarray) and not hasattr(x, "__array__") and not isinstance(x, (list, tuple)):
        return None  # tf.data.Dataset, generators, PyDataset
    try:
        a = np.asarray(x)
    except Exception:
        return None
    return a if a.dtype.kind in "biuf" and a.ndim >= 1 else None


def _rows(x: Any) -> int | None:
    shape = getattr(x, "shape", None)
    if shape is not None:
        try:
            return int(shape[0]) if len(shape) and shape[0] is not None else None
        except (TypeError, ValueError):
            return None
    if isinstance(x, (list, tuple)) and x and not all(hasattr(e, "shape") for e in x):
        return len(x)
    return None


def _describe(fn: Any) -> Any:
    """A loss or optimizer as a small JSON value: name and interesting config."""
    if fn is None or isinstance(fn, str):
        return fn
    if isinstance(fn, (list, tuple, dict)):
        return _jsonable([_describe(f) for f in fn] if not isinstance(fn, dict) else {k: _describe(f) for k, f in fn.items()})
    out: dict[str, Any] = {"class": type(fn).__name__, "name": getattr(fn, "__name__", None) or getattr(fn, "name", None)}
    try:
        cfg = fn.get_config()
        for key in ("from_logits", "learning_rate", "reduction", "name"):
            if key in cfg:
                out[key] = _jsonable(cfg[key])
    except Exception:
        pass
    return out


class Probe:
    """The base probe: the witness every framework's probe reports to (``witness.Witness``), and Keras's own."""

    def __init__(self, spec: ChildSpec):
        self.art = Path(spec.artifacts)
        self.art.mkdir(parents=True, exist_ok=True)
        self.data_root = Path(spec.data_root)
        #: the data sets served offline, from the grader's table (datasets.served): name -> {"keras": modules whose
        #: load_data is replaced, "torchvision": the torchvision.datasets class it stands for}
        self.datasets: dict[str, dict[str, Any]] = spec.datasets
        self.n_test = int(spec.n_test)
        self.quick_epochs = spec.quick_epochs
        self.quick_steps = spec.quick_steps
        self.seed = spec.seed
        self.keras2_compat = spec.keras2_compat  # run Keras 2 idioms as Keras 2 did (keras2.py)
        # where the training and test sets have the same number of rows (noisynote), row counts
        # cannot tell a prediction on the test set from one on the training set: geometry can
        self.ref_paths = spec.disambiguate
        self._refs: tuple[np.ndarray, np.ndarray] | None = None
        self.models: list[Any] = []  # per model id, the object last used under it (see model_id)
        self.model_index: dict[int, int] = {}
        self._held: list[Any] = []  # every model object seen: the student may `del model`, and an id() must not recur
        self.fitted: set[int] = set()  # model ids that fit was called on
        self.saves: dict[str, list[dict[str, Any]]] = {}  # weights digest -> the saves that wrote them (_record_load)
        self._saving_graded = False  # the probe's own save of the graded model is not the student's
        self.reloads: dict[int, str] = {}  # model id -> where it was reloaded from a save of this run
        self.last_fit: int | None = None
        self.test_call: dict[str, Any] | None = None  # the latest call on the test inputs
        self.superset_call: dict[str, Any] | None = None  # ... on more rows (the test rows among others?)
        self.val_candidate: dict[str, Any] | None = None
        self.n_fit = 0
        self.n_figures = 0
        self.originals: dict[str, Callable[..., Any]] = {}  # unwrapped Keras/matplotlib functions
        self.busy = 0  # > 0 while inside a wrapped Keras call (inner calls are Keras's own)
        #: the probes of other frameworks (grader/frameworks.py: PyTorch's), by framework id, each made when the
        #: program imports its framework
        self.watchers: dict[str, FrameworkProbe] = {}
        self._finder: PostImportFinder | None = None
        self._events = open(self.art / EVENTS, "a", buffering=1)

    # --- recording ------------------------------------------------------------------
    def event(self, name: str, /, **fields: Any) -> None:
        fields = {"event": name, "t": round(time.time(), 3), **fields}
        self._events.write(json.dumps(_jsonable(fields)) + "\n")

    def model_id(self, model: Any) -> int:
        """The model's id in the events. A model reloaded from a save of this run shares the id of the model it
        was saved from (``_record_load``); the object last used under an id is the one graded at the end."""
        key = id(model)
        if key not in self.model_index:
            self.model_index[key] = len(self.models)
            self.models.append(model)
            self._held.append(model)
        mid = self.model_index[key]
        self.models[mid] = model
        return mid

    def model(self, model_id: int) -> Any:
        return self.models[model_id]

    def new_fit(self, model_id: int) -> int:
        k = self.n_fit
        self.n_fit += 1
        self.last_fit = model_id
        return k

    def notice(self, msg: str) -> None:
        print(f"[grader] {msg}", file=sys.stderr, flush=True)

    # --- installation -----------------------------------------------------------------
    def install(self) -> None:
        import random

        if self.seed is not None:
            random.seed(self.seed)
            np.random.seed(self.seed)
        stubs = str(Path(__file__).with_name("stubs"))
        sys.path.append(stubs)  # google.colab, after the real packages
        served = {module: functools.partial(self._patch_dataset, name=name)
                  for name, how in self.datasets.items() for module in how.get("keras", ())}
        hooks = {
            **served,
            "keras.src.models.model": self._patch_model,
            "keras.src.saving.saving_api": self._patch_saving,
            "keras.src.utils.numerical_utils": self._patch_numerical,
            "keras.src.utils.model_visualization": self._patch_plot_model,
            "keras": self._seed_keras,
            # each backend's deterministic mode, switched on only when the program imports that backend
            "tensorflow": self._deterministic_tensorflow,
            "jax": self._deterministic_jax,
            "torch": self._deterministic_torch,  # Keras's torch backend as well as plain PyTorch
            "matplotlib": self._patch_matplotlib,
            "matplotlib.pyplot": self._patch_pyplot,
            "cv2": self._patch_cv2,
        }
        for framework in frameworks.TABLE.values():  # another framework's probe, made when the program imports it
            if framework.probe_on:
                hooks[framework.probe_on] = _then(hooks.get(framework.probe_on),
                                                  functools.partial(self._attach, framework=framework))
        self._finder = PostImportFinder(hooks)
        sys.meta_path.insert(0, self._finder)
        if self.keras2_compat:
            from .keras2 import Keras2

            Keras2(self).install()

    def _seed_keras(self, keras: Any) -> None:
        if self.seed is not None:
            try:
                with _keras_without_tensorflow():
                    keras.utils.set_random_seed(self.seed)
            except Exception as e:  # never let the witness break the run
                self.notice(f"could not seed Keras: {e}")

    # A seed makes the run repeatable only where the backend's ops are deterministic too: GPU kernels
    # (cuDNN, cuBLAS, XLA's GPU reductions) may sum in a different order on each run unless told not to.
    # Each switch is cheap (a flag or an environment variable read when the device is first used).
    def _deterministic_tensorflow(self, tf: Any) -> None:
        if self.seed is not None:
            try:
                tf.random.set_seed(self.seed)  # with op determinism on, an unseeded random op is an error
                tf.config.experimental.enable_op_determinism()
            except Exception as e:  # an old or partial TensorFlow: the run goes on, unseeded ops and all
                self.notice(f"could not turn on TensorFlow's op determinism: {e}")

    def _deterministic_jax(self, jax: Any) -> None:
        # read when JAX creates its first device client, which is after `import jax`
        if self.seed is not None and "xla_gpu_deterministic_ops" not in os.environ.get("XLA_FLAGS", ""):
            os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_gpu_deterministic_ops=true").strip()

    def _attach(self, module: Any, framework: frameworks.Framework) -> None:
        """The framework's own probe (its record's ``probe``: torch_probe.py for plain PyTorch programs), made now
        that the program imported the framework; it reports to this one (``witness.Witness``)."""
        try:
            watcher = framework.attr("probe")(self)
            watcher.install(module)
            self.watchers[framework.id] = watcher
            if self._finder is not None:  # the modules it patches are imported after the framework (torchvision)
                self._finder.hooks.update(watcher.hooks())
        except Exception as e:  # an old or partial framework: the run goes on, unwatched
            self.notice(f"could not watch {framework.name}: {type(e).__name__}: {e}")

    def _deterministic_torch(self, torch: Any) -> None:
        if self.seed is not None:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # read when CUDA starts
            try:
                # warn_only: an op without a deterministic kernel warns instead of breaking the student's run
                torch.use_deterministic_algorithms(True, warn_only=True)
            except Exception as e:
                self.notice(f"could not turn on torch's deterministic algorithms: {e}")

    def dataset(self, name: str, **recorded: Any) -> dict[str, np.ndarray]:
        """A served data set's x_train, y_train, x_test, y_test from the verified cache, its loading recorded
        (with ``recorded``: which API asked, which part).

        What every framework's offline loader returns (``keras.datasets``, ``torchvision.datasets``).
        """
        arrays = load_arrays(name, self.data_root)
        self.event("load_data", dataset=name, **recorded)
        return arrays

    def _patch_dataset(self, module: Any, name: str) -> None:
        probe = self

        def load_data(*args: Any, **kwargs: Any):
            arrays = probe.dataset(name)
            return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])

        load_data.__doc__ = module.load_data.__doc__
        module.load_data = load_data

    def _patch_numerical(self, module: Any) -> None:
        orig, probe = module.to_categorical, self

        def to_categorical(x, *args, **kwargs):
            probe.event("to_categorical", caller=caller(), shape=list(np.shape(x)))
            return orig(x, *args, **kwargs)

        module.to_categorical = to_categorical

    def _patch_plot_model(self, module: Any) -> None:
        orig, probe = module.plot_model, self

        def plot_model(model, to_file="model.png", *args, **kwargs):
            try:
                return orig(model, to_file, *args, **kwargs)
            except Exception as e:  # pydot/graphviz are not part of the grading machine
                probe.notice(f"plot_model skipped ({type(e).__name__}: {str(e)[:120]}); not graded")
                probe.event("plot_model_skipped", error=str(e)[:300])
                return None

        module.plot_model = plot_model

    def _patch_model(self, module: Any) -> None:
        Model, probe = module.Model, self
        for name in ("compile", "fit", "predict", "evaluate", "__call__"):
            orig = self.originals[name] = getattr(Model, name)
            setattr(_defining_class(Model, name) if name == "compile" else Model, name,
                    getattr(self, f"_wrap_{name.strip('_')}")(orig))
        probe.event("keras_hooked")

    # --- Model wrappers ------------------------------------------------------------------
    def _wrap_compile(self, orig):
        probe = self

        def compile(model, *args, **kwargs):
            if probe.busy:  # load_model compiling the model it rebuilt: the student's compile was recorded at save
                return orig(model, *args, **kwargs)
            try:
                a = inspect.signature(orig).bind(model, *args, **kwargs).arguments
                probe.event("compile", model=probe.model_id(model), caller=caller(),
                            loss=_describe(a.get("loss")), optimizer=_describe(a.get("optimizer", "rmsprop")),
                            metrics=_jsonable(a.get("metrics")))
            except Exception:
                pass
            return orig(model, *args, **kwargs)

        return compile

    def _wrap_fit(self, orig):
        probe = self

        def fit(model, *args, **kwargs):
            if probe.busy:
                return orig(model, *args, **kwargs)
            try:
                bound = inspect.signature(orig).bind(model, *args, **kwargs)
            except TypeError:
                return orig(model, *args, **kwargs)  # let Keras explain the mistake
            try:
                k, mid = probe._record_fit_start(model, bound)
            except Exception as e:  # the witness never breaks the run
                probe.notice(f"could not record fit: {type(e).__name__}: {e}")
                return orig(model, *args, **kwargs)
            probe.last_fit = mid
            probe.fitted.add(mid)
            t0 = time.perf_counter()
            probe.busy += 1
            try:
                history = orig(*bound.args, **bound.kwargs)
            finally:
                probe.busy -= 1
                probe.event("fit_end", fit=k, model=mid, seconds=round(time.perf_counter() - t0, 3))
            hist = getattr(history, "history", None)
            if isinstance(hist, dict):
                probe.event("history", fit=k, history={m: [float(v) for v in vals][-1000:] for m, vals in hist.items()})
            return history

        return fit

    def _record_fit_start(self, model: Any, bound: inspect.BoundArguments) -> tuple[int, int]:
        """Record a fit call and apply quick mode to its arguments; returns (fit index, model id)."""
        bound.apply_defaults()
        a = bound.arguments
        k = self.n_fit
        self.n_fit += 1
        mid = self.model_id(model)
        record: dict[str, Any] = {"fit": k, "model": mid, "caller": caller(), "epochs_requested": a["epochs"],
                                  "batch_size": a["batch_size"], "validation_split": a["validation_split"]}
        if self.quick_epochs is not None and isinstance(a["epochs"], int):
            capped = min(a["epochs"], (a["initial_epoch"] or 0) + int(self.quick_epochs))
            if capped != a["epochs"]:
                self.notice(f"quick mode: fit capped at {capped} epoch(s) instead of {a['epochs']}")
            bound.arguments["epochs"] = capped
            if self.quick_steps is not None:
                record["steps_cap"] = int(self.quick_steps)
                given = a["callbacks"]  # Keras takes a list, a tuple or a single callback
                given = list(given) if isinstance(given, (list, tuple)) else [] if given is None else [given]
                bound.arguments["callbacks"] = [*given, self._quick_stop(k, int(self.quick_steps))]
        record["epochs"] = bound.arguments["epochs"]
        x, y = _as_array(a["x"]), _as_array(a["y"])
        record["x"] = _arr_info(a["x"], x)
        record["y"] = _arr_info(a["y"], y)
        if y is not None:
            record["y"]["integer_valued"] = bool(np.all(np.mod(y, 1) == 0)) if y.dtype.kind == "f" else True
        if x is not None:
            np.save(self.art / fit_train_fingerprints(k), fingerprints(x))
            if x.nbytes <= SMALL_ARRAY_BYTES and (y is None or y.nbytes <= SMALL_ARRAY_BYTES):
                np.save(self.art / fit_x(k), x, allow_pickle=False)
                if y is not None:
                    np.save(self.art / fit_y(k), y, allow_pickle=False)
        vd = a["validation_data"]
        if isinstance(vd, (list, tuple)) and len(vd) >= 2:
            vx = _as_array(vd[0])
            record["validation_x"] = _arr_info(vd[0], vx)
            if vx is not None:
                np.save(self.art / fit_val_fingerprints(k), fingerprints(vx))
                if len(vx) == self.n_test and vx.nbytes <= MAX_CAPTURE_BYTES:
                    self.val_candidate = {"model": mid, "x": np.array(vx, copy=True), "pred": None,
                                           "kind": "validation_data", "caller": record["caller"]}
        elif vd is not None:
            record["validation_x"] = {"type": type(vd).__name__}
        self.event("fit_start", **record)
        return k, mid

    def _quick_stop(self, k: int, steps: int) -> Any:
        """Quick mode's callback: fit ``k`` stops after ``steps`` training batches, its epochs together.

        Keras checks ``stop_training`` after every batch, so the epoch ends there; its validation (if any), the
        program's own callbacks and everything after ``fit`` run as written. A ``quick_stop`` event says it
        happened (the evaluator then grades the run as quick)."""
        from keras.callbacks import Callback

        probe = self

        class QuickStop(Callback):
            def __init__(self) -> None:
                super().__init__()
                self.batches = 0

            def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
                self.batches += 1
                if self.batches >= steps and not self.model.stop_training:
                    self.model.stop_training = True
                    probe.event("quick_stop", fit=k, steps=self.batches)
                    probe.notice(f"quick mode: fit stopped after {self.batches} training batches")

        return QuickStop()

    def looks_like_training_set(self, xa: np.ndarray) -> bool:
        if not self.ref_paths:
            return False
        if self._refs is None:
            self._refs = tuple(np.load(self.ref_paths[k], allow_pickle=False) for k in ("train", "test"))
        return _column_match(xa, self._refs[0]) > _column_match(xa, self._refs[1])

    def _capture(self, model: Any, kind: str, x: Any, pred: Any, result: Any = None) -> None:
        try:
            self._record_test_call(model, kind, x, pred, result)
        except Exception as e:  # the witness never breaks the run
            self.notice(f"could not record {kind} on the test inputs: {type(e).__name__}: {e}")

    def _record_test_call(self, model: Any, kind: str, x: Any, pred: Any, result: Any) -> None:
        xa = _as_array(x)
        info = {"model": self.model_id(model), "kind": kind, "caller": caller(), "x": _arr_info(x, xa)}
        if xa is not None and self.looks_like_training_set(xa):
            self.event("train_call", **info)
            return
        if kind == "evaluate":
            info["result"] = _jsonable(result)
        self.event("test_call", **info)
        if xa is not None and xa.nbytes <= MAX_CAPTURE_BYTES:
            p = None
            try:
                p = np.asarray(pred) if pred is not None else None
            except Exception:
                pass
            call = {"model": info["model"], "x": np.array(xa, copy=True), "pred": p, "kind": kind,
                    "caller": info["caller"], "result": info.get("result")}
            if len(xa) == self.n_test:
                self.test_call = call
            else:  # used only when no call had the test set's row count (the evaluator finds the test rows in it)
                self.superset_call = call

    def _wrap_predict(self, orig):
        probe = self

        def predict(model, x, *args, **kwargs):
            if probe.busy:
                return orig(model, x, *args, **kwargs)
            probe.busy += 1
            try:
                out = orig(model, x, *args, **kwargs)
            finally:
                probe.busy -= 1
            if test_sized(_rows(x), probe.n_test):
                probe._capture(model, "predict", x, out)
            return out

        return predict

    def _wrap_evaluate(self, orig):
        probe = self

        def evaluate(model, x=None, *args, **kwargs):
            if probe.busy:
                return orig(model, x, *args, **kwargs)
            probe.busy += 1
            try:
                out = orig(model, x, *args, **kwargs)
                pred = None
                if test_sized(_rows(x), probe.n_test) and (xa := _as_array(x)) is not None:
                    # the student's own predictions, for `consistency`: eagerly, as the evaluator computes its
                    # own; through predict with big batches where that fails (Keras's default of 32 costs 313
                    # steps on a 10,000-row test set, half a second on a CPU)
                    pred = outputs(model, xa)
                    if pred is None:
                        pred = probe.originals["predict"](model, x, verbose=0, batch_size=1000)
            finally:
                probe.busy -= 1
            if test_sized(_rows(x), probe.n_test):
                probe._capture(model, "evaluate", x, pred, out)
            return out

        return evaluate

    def _wrap_call(self, orig):
        probe = self

        def __call__(model, *args, **kwargs):
            if probe.busy or not args:
                return orig(model, *args, **kwargs)
            probe.busy += 1
            try:
                out = orig(model, *args, **kwargs)
            finally:
                probe.busy -= 1
            if test_sized(_rows(args[0]), probe.n_test) and _as_array(args[0]) is not None:
                probe._capture(model, "call", args[0], out)
            return out

        return __call__

    # --- saving and reloading ------------------------------------------------------------
    # The handout saves the trained net and loads it back to evaluate it (in one notebook, or one script).
    # The model load_model returns is a new object; when its weights are those a save of this run wrote
    # from a trained model, it is that model again: it takes its id, so its fit and compile are its own and
    # it is graded once, as the trained model, not as a second model that was never trained.
    def _patch_saving(self, saving_api: Any) -> None:
        orig_save, orig_load, probe = saving_api.save_model, saving_api.load_model, self

        def save_model(model, filepath, *args, **kwargs):
            out = orig_save(model, filepath, *args, **kwargs)
            if not probe._saving_graded:
                probe._witness("save", probe._record_save, model, filepath)
            return out

        def load_model(filepath, *args, **kwargs):
            probe.busy += 1  # the compile, build and calls inside are Keras's own
            try:
                model = orig_load(filepath, *args, **kwargs)
            finally:
                probe.busy -= 1
            probe._witness("load_model", probe._record_load, model, filepath)
            return model

        functools.update_wrapper(save_model, orig_save)
        functools.update_wrapper(load_model, orig_load)
        saving_api.save_model, saving_api.load_model = save_model, load_model

    def _witness(self, what: str, record: Callable[..., None], *args: Any) -> None:
        try:
            record(*args)
        except Exception as e:  # the witness never breaks the run
            self.notice(f"could not record {what}: {type(e).__name__}: {e}")

    def _digest(self, model: Any, what: str, where: dict[str, Any] | None) -> str | None:
        """The model's weights digest, or None (told in the log) when its weights cannot be read."""
        try:
            return _weights_digest(model)
        except Exception as e:  # a model of the student's own making: it is then matched to no save
            self.notice(f"could not read the weights of the model {what}{_at(where)}: {type(e).__name__}: {e}")
            return None

    def _record_save(self, model: Any, filepath: Any) -> None:
        mid, where = self.model_id(model), caller()
        digest = self._digest(model, "saved", where)
        trained = mid in self.fitted or _optimizer_steps(model) > 0
        if digest is not None:
            self.saves.setdefault(digest, []).append({"model": mid, "caller": where, "trained": trained,
                                                      "path": _abspath(filepath)})
        self.event("save_model", model=mid, caller=where, path=_path_text(filepath), trained=trained)

    def _record_load(self, model: Any, filepath: Any) -> None:
        where = caller()
        digest = self._digest(model, "loaded", where)
        saves = self.saves.get(digest, []) if digest is not None else []
        # the same weights may have been saved several times (in each format): the save of this file, else the last
        save = next((s for s in reversed(saves) if s["path"] == _abspath(filepath)), saves[-1] if saves else None)
        if save is None or not save["trained"]:
            self.event("load_model", model=self.model_id(model), caller=where, path=_path_text(filepath),
                       saved_model=None)
            return
        mid = save["model"]
        self.model_index[id(model)] = mid
        self._held.append(model)
        self.model_id(model)  # the reloaded object is the one graded, unless the program goes back to the other
        self.event("load_model", model=mid, caller=where, path=_path_text(filepath), saved_model=mid,
                   saved_caller=save["caller"])
        self.reloads[mid] = f"reloaded with load_model{_at(where)} from the save{_at(save['caller'])}"
        self.notice(f"the model loaded{_at(where)} has the weights saved{_at(save['caller'])} from a trained "
                    "model: graded as that model")

    # --- figures -------------------------------------------------------------------------
    def _patch_matplotlib(self, mpl: Any) -> None:
        orig_use, probe = mpl.use, self

        def use(backend, *args, **kwargs):
            if str(backend).lower() != "agg":
                probe.notice(f"matplotlib.use({backend!r}) ignored: grading draws off-screen (Agg)")
            return orig_use("Agg", *args, **kwargs)

        mpl.use = use
        try:
            orig_use("Agg")
        except Exception:
            pass

    def _patch_pyplot(self, plt: Any) -> None:
        from matplotlib.figure import Figure

        probe = self
        orig_savefig = self.originals["savefig"] = Figure.savefig

        def show(*args, **kwargs):
            probe.capture_open_figures("show")  # and closes them, as a closed window or Colab's display does

        def savefig(fig, fname, *args, **kwargs):
            probe.capture_figure(fig, "savefig")
            return orig_savefig(fig, fname, *args, **kwargs)

        plt.show = show
        Figure.savefig = savefig

    def _patch_cv2(self, cv2: Any) -> None:
        """OpenCV's windows, which the course's headless OpenCV lacks (``cv2.imshow`` raises there): the image is
        shown as a captured figure, as Colab's ``cv2_imshow`` is, and waiting for a key returns at once (no key)."""
        from google.colab.patches import cv2_imshow  # the stub beside this file

        def imshow(winname: str, mat: Any) -> None:
            cv2_imshow(mat)

        cv2.imshow = imshow
        cv2.waitKey = lambda delay=0: -1
        cv2.namedWindow = cv2.destroyWindow = lambda *args, **kwargs: None
        cv2.destroyAllWindows = lambda: None

    def capture_open_figures(self, how: str) -> None:
        """Capture and close every open figure (at plt.show, and at the end of a notebook cell)."""
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is None:
            return
        for num in plt.get_fignums():
            self.capture_figure(plt.figure(num), how)
        plt.close("all")

    def capture_figure(self, fig: Any, how: str) -> None:
        if self.n_figures >= MAX_FIGURES:
            return
        k = self.n_figures
        self.n_figures += 1
        try:
            from matplotlib.colors import to_hex

            def text_info(t: Any, role: str) -> dict[str, Any] | None:
                s = t.get_text()
                if not s:
                    return None
                return {"role": role, "text": s[:200], "color": to_hex(t.get_color(), keep_alpha=False),
                        "position": _jsonable(list(t.get_position()))}

            axes = []
            for i, ax in enumerate(fig.axes):
                images = []
                for j, im in enumerate(ax.get_images()):
                    arr = np.asarray(im.get_array())
                    fname = figure_image(k, i, j)
                    np.save(self.art / fname, np.ma.getdata(arr), allow_pickle=False)
                    images.append({"file": fname, "shape": list(arr.shape)})
                texts = [text_info(t, "text") for t in ax.texts]
                texts += [text_info(t, "title") for t in (ax.title, ax._left_title, ax._right_title)]
                texts += [text_info(ax.xaxis.label, "xlabel"), text_info(ax.yaxis.label, "ylabel")]
                axes.append({"index": i, "bounds": _jsonable(list(ax.get_position().bounds)),
                             "images": images, "texts": [t for t in texts if t]})
            fig_texts = [text_info(t, "figtext") for t in fig.texts]
            if getattr(fig, "_suptitle", None) is not None:
                fig_texts.append(text_info(fig._suptitle, "suptitle"))
            png = figure_png(k)
            self.originals["savefig"](fig, self.art / png, format="png", dpi=80)
            with open(self.art / figure_json(k), "w") as f:
                json.dump({"figure": k, "how": how, "axes": axes, "texts": [t for t in fig_texts if t]}, f)
            self.event("figure", figure=k, how=how, n_axes=len(axes))
        except Exception as e:
            self.notice(f"could not capture a figure: {type(e).__name__}: {e}")

    # --- the end of the student's code -----------------------------------------------------------
    def finalize(self, exc: BaseException | None, script: str) -> None:
        if exc is not None and not (isinstance(exc, SystemExit) and exc.code in (None, 0)):
            tb = traceback.extract_tb(exc.__traceback__)
            frames = [f for f in tb if os.path.abspath(f.filename) == os.path.abspath(script)]
            with open(self.art / EXCEPTION, "w") as f:
                json.dump({"type": type(exc).__name__, "message": str(exc)[:2000],
                           "line": frames[-1].lineno if frames else getattr(exc, "lineno", None),
                           "traceback": "".join(traceback.format_exception(exc))[-8000:]}, f)
        summary: dict[str, Any] = {"models": len(self.models), "fits": self.n_fit, "figures": self.n_figures}
        # every fit was another framework's (a PyTorch program): its probe hands the graded model over
        watcher = next((w for w in self.watchers.values() if w.n_fits and w.n_fits == self.n_fit), None)
        if watcher is not None:
            try:
                watcher.finalize(summary)
            except Exception as e:  # the witness never breaks the run; the evaluator says what is missing
                summary.setdefault("save_error", f"{type(e).__name__}: {str(e)[:1000]}")
        else:
            self._finalize_keras(summary)
        if self.watchers and "framework" not in summary and "keras" not in sys.modules:
            summary["framework"] = next(iter(self.watchers))  # it imported that framework, not Keras, then stopped
        with open(self.art / SUMMARY, "w") as f:
            json.dump(_jsonable(summary), f)
        self._events.close()

    def _finalize_keras(self, summary: dict[str, Any]) -> None:
        capture = self.test_call or self.superset_call or self.val_candidate
        graded = capture["model"] if capture else self.last_fit
        if "keras" in sys.modules:
            import keras

            summary["keras_version"] = keras.__version__
            summary["backend"] = keras.backend.backend()
        if graded is not None:
            summary["graded_model"] = graded
            summary["graded_reason"] = ("the model run on the test inputs" if capture
                                        else "the last model fitted (none was run on the test inputs)")
            if graded in self.reloads:
                summary["graded_reason"] += f"; {self.reloads[graded]}"
            try:
                self._saving_graded = True
                with _keras_without_tensorflow():
                    self.models[graded].save(self.art / frameworks.KERAS.model_file)
                summary["model_file"] = frameworks.KERAS.model_file
            except Exception as e:
                summary["save_error"] = f"{type(e).__name__}: {str(e)[:1000]}"
            finally:
                self._saving_graded = False
        if capture:
            summary["test_inputs"] = {"kind": capture["kind"], "caller": capture["caller"], "model": capture["model"],
                                      "result": capture.get("result")}
            if capture["model"] == graded:
                np.save(self.art / TEST_X, capture["x"], allow_pickle=False)
                if capture["pred"] is not None and capture["pred"].dtype.kind in "biuf":
                    np.save(self.art / TEST_PRED, capture["pred"], allow_pickle=False)


@contextlib.contextmanager
def _keras_without_tensorflow() -> Iterator[None]:
    """Keep Keras from importing TensorFlow under another backend, for the calls made in this block.

    ``keras.utils.set_random_seed`` (the probe seeds every job) asks ``tf.available`` to seed TensorFlow too,
    and ``serialize_keras_object`` asks it to test ``isinstance(obj, tf.TensorShape)``; where TensorFlow is
    installed that import costs seconds per job (3.6 s measured under JAX). A program that has not imported
    TensorFlow holds no TensorFlow object and no TensorFlow random state, so the answer is no; it is given
    for the block only, so Keras still finds TensorFlow if the program imports it later (and the probe's
    TensorFlow hook then seeds it).
    """
    lazy = None
    if "tensorflow" not in sys.modules:
        try:
            from keras.src.utils import module_utils

            candidate = getattr(module_utils, "tensorflow", None)
            if isinstance(candidate, module_utils.LazyModule) and candidate._available is None:
                lazy = candidate
        except ImportError:
            pass
    if lazy is not None:
        lazy._available = False
    try:
        yield
    finally:
        if lazy is not None and lazy.module is None:
            lazy._available = None


def _then(first: Callable[[Any], None] | None, second: Callable[[Any], None]) -> Callable[[Any], None]:
    """One import hook that runs ``first`` (if any), then ``second``, on the module just imported."""
    if first is None:
        return second

    def both(module: Any) -> None:
        first(module)
        second(module)

    return both


def _defining_class(cls: type, name: str) -> type:
    """The class in ``cls``'s hierarchy that defines ``name``.

    Keras compiles a reloaded model only when the model's ``compile`` is Keras's own
    (``Trainer.compile_from_config`` compares ``type(model).compile`` with ``Trainer.compile`` and
    otherwise skips compiling with a warning): a wrapper set on ``Model`` would leave every model
    load_model returns uncompiled, and its evaluate would fail with "No loss to compute". Set on the
    class that defines ``compile``, the wrapper is ``Trainer.compile`` itself.
    """
    return next(c for c in cls.__mro__ if name in vars(c))


def _weights_digest(model: Any) -> str | None:
    """A hash of a model's weights (values, shapes and types, in order), or None for a model without any."""
    weights = model.get_weights()
    if not weights:
        return None
    h = hashlib.sha256()
    for w in weights:
        a = np.ascontiguousarray(w)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _optimizer_steps(model: Any) -> int:
    """How many updates the model's optimizer made (a loop of train_on_batch trains without fit)."""
    try:
        return int(np.asarray(model.optimizer.iterations))
    except Exception:
        return 0


def _path_text(filepath: Any) -> str:
    return str(os.fspath(filepath) if isinstance(filepath, (str, os.PathLike)) else type(filepath).__name__)[:300]


def _abspath(filepath: Any) -> str | None:
    return os.path.abspath(os.fspath(filepath)) if isinstance(filepath, (str, os.PathLike)) else None


def _at(where: dict[str, Any] | None) -> str:
    return f" at line {where['line']}" if where and where.get("line") else ""


def _arr_info(raw: Any, a: np.ndarray | None) -> dict[str, Any]:
    if a is None:
        return {"type": type(raw).__name__}
    return {"type": type(raw).__name__, "shape": list(a.shape), "dtype": str(a.dtype)}
