"""The probe's eyes on plain PyTorch: installed when the student's program imports ``torch``.

A PyTorch program has no ``fit`` or ``predict`` to wrap: it writes its own loops. So the probe watches
what every training loop must do, and leaves the same artifacts the Keras side leaves (``probe.py``):

- **training**: ``Optimizer.step`` (a global post-step hook) says which module is trained: the one
  whose parameters the optimizer updates. The batches that module was called on since the previous
  step, and whose outputs a gradient flowed back through, are its training rows (fingerprinted for the
  leakage check); each pass of a ``DataLoader`` that
  fed it is an epoch, and without a loader, epochs are the rows trained over the distinct rows.
- **the test set**: the calls of a trained module outside training (eval mode or ``no_grad``, not followed
  by a step) are grouped by where their batches come from (one pass of a ``DataLoader``, or one tensor
  sliced in batches); a group whose rows add up to the test set's is a candidate, and the graded model is
  the module of the latest one. A group of more rows, fewer than twice as many (``hooks.test_sized``), is a
  candidate only where no group had the test set's row count: the evaluator looks for the test rows in it
  (a test loader may shuffle, or hold a few other rows). Its inputs and outputs, joined across batches, are
  ``test_x``/``test_pred``.
- **quick mode** caps the training, not the program: once a training loader has made its capped number of
  full passes, its later passes yield only a few batches, so the program's loops, prints and figures run.
- **the hand-over**: at the end the graded module is exported to ONNX (``graded.onnx``), which the
  evaluator runs with ONNX Runtime: no pickle and no student Python crosses the trust boundary.

``torchvision.datasets.MNIST``/``FashionMNIST`` are served from the grader's verified cache, the arrays
``keras.datasets`` gets, whatever ``root`` and ``download`` say.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import warnings
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...fingerprint import fingerprints
from ...frameworks import TORCH
from ...handover import TEST_PRED, TEST_X, fit_train_fingerprints, fit_val_fingerprints, fit_x, fit_y
from . import audit
from .hooks import MAX_CAPTURE_BYTES, SMALL_ARRAY_BYTES, caller, test_sized
from .witness import Witness

#: In quick mode, the batches a training loader still yields per pass once its capped passes are done.
QUICK_BATCHES = 2
#: Forward calls kept per module while waiting for an optimizer step (gradient accumulation takes a few).
MAX_PENDING = 32
#: The losses that take raw scores (logits): a single output unit is then read as positive above 0, not 0.5.
LOGIT_LOSSES = {"CrossEntropyLoss", "BCEWithLogitsLoss", "MultiLabelSoftMarginLoss"}
MODEL_FILE = TORCH.model_file  # graded.onnx


def _numpy(t: Any) -> np.ndarray:
    """A tensor's values as a NumPy array on the CPU (types NumPy lacks, like bfloat16, as float32)."""
    t = t.detach().cpu()
    try:
        return t.numpy()
    except TypeError:
        return t.float().numpy()


def _first_tensor(value: Any) -> Any:
    """The tensor a module was called on or returned (the first one of a tuple or list), or None."""
    import torch

    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], torch.Tensor):
        return value[0]
    return None


@dataclass
class _Fit:
    """One trained module: what the evaluator reads as one ``fit``."""

    index: int
    model: int
    caller: dict[str, Any] | None
    optimizer: dict[str, Any]
    loss: str | None = None
    rows: int = 0                                   # rows trained on, epochs included
    fps: list[np.ndarray] = field(default_factory=list)
    val_fps: list[np.ndarray] = field(default_factory=list)  # the test set's rows, run on between two steps
    small: dict[int, tuple[np.ndarray, Any]] | None = field(default_factory=dict)  # distinct rows of a tiny data set
    passes: int = 0                                 # loader passes that trained it
    full_passes: int = 0                            # ... of which quick mode did not cut short
    last_step: int = 0
    example: Any = None                             # one input row, for the export when no test call was seen


@dataclass
class _Group:
    """Consecutive calls of one module outside training, on batches from one source."""

    module: Any
    key: Any
    seq: int
    rows: int = 0
    xs: list[np.ndarray] = field(default_factory=list)
    outs: list[np.ndarray | None] = field(default_factory=list)
    nbytes: int = 0
    overflow: bool = False
    caller: dict[str, Any] | None = None
    training_set: bool | None = None   # whether its rows look like the training set's (noisynote), once asked

    def joined(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Its inputs and outputs, joined across batches (no outputs where some are missing or differ in shape)."""
        x = np.concatenate(self.xs) if len(self.xs) > 1 else self.xs[0]
        pred = None
        if all(o is not None for o in self.outs):
            try:
                pred = np.concatenate(self.outs) if len(self.outs) > 1 else self.outs[0]
            except ValueError:  # outputs of different shapes: no predictions to compare
                pred = None
        return x, pred


class TorchProbe:
    """PyTorch's probe (``witness.FrameworkProbe``): it reports to the base probe through ``witness.Witness``."""

    def __init__(self, witness: Witness):
        self.witness = witness
        self.fits: dict[int, _Fit] = {}          # id(module) -> its fit
        self.pending: dict[int, tuple[Any, list[dict[str, Any]]]] = {}  # id(module) -> (module, calls since a step)
        self.updates: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # optimizer -> {id(module): trains it}
        self.group: _Group | None = None
        self.candidates: dict[int, dict[str, Any]] = {}  # id(module) -> its latest run on the test set's rows
        self.supersets: dict[int, dict[str, Any]] = {}   # id(module) -> its latest run on somewhat more rows
        self.seq = 0                                  # orders calls and steps
        self.depth = 0                                # > 0 inside a module's call: inner calls are its own
        self.exporting = False
        self.loader_pass: dict[str, Any] | None = None   # the DataLoader pass that yielded the latest batch
        self.passes = 0                                  # DataLoader passes begun, to tell them apart
        # id(data set) -> (the data set, its loaders' full passes that trained a module): a loader made anew for
        # each epoch over the same data set counts as one
        self.full_passes: dict[int, tuple[Any, int]] = {}
        self.keras_types: dict[type, bool] = {}
        self.last_target: Any = None
        self.cut_notice = False

    # --- installation ---------------------------------------------------------------------------
    def install(self, torch: Any) -> None:
        from torch.optim.optimizer import register_optimizer_step_post_hook
        from torch.utils.data import DataLoader

        if self.witness.seed is not None:
            torch.manual_seed(self.witness.seed)  # every device's generator; Keras seeds it again alike
        register_optimizer_step_post_hook(self._after_step)
        _short_socket_dir()
        orig_call, probe = torch.nn.Module.__call__, self

        def __call__(module, *args, **kwargs):
            if probe.depth or probe.exporting:
                return orig_call(module, *args, **kwargs)
            probe.depth += 1
            try:
                out = orig_call(module, *args, **kwargs)
            finally:
                probe.depth -= 1
            try:
                probe._record_call(module, args, kwargs, out)
            except Exception as e:  # the witness never breaks the run
                probe.witness.notice(f"could not record a call of {type(module).__name__}: {type(e).__name__}: {e}")
            return out

        torch.nn.Module.__call__ = __call__
        orig_iter = DataLoader.__iter__

        def __iter__(loader):
            return probe._loader_pass(loader, orig_iter(loader))

        DataLoader.__iter__ = __iter__
        self.witness.event("torch_hooked", version=torch.__version__)

    def hooks(self) -> dict[str, Any]:
        return {"torchvision.datasets.mnist": self.patch_torchvision}  # torchvision imports torch first

    def patch_torchvision(self, module: Any) -> None:
        """Serve ``torchvision.datasets.MNIST``/``FashionMNIST`` from the grader's verified cache."""
        import torch

        probe, base = self.witness, module.MNIST
        # the torchvision.datasets class each served data set stands for, from the grader's table (datasets.py)
        classes = {entry["torchvision"]: name for name, entry in probe.datasets.items() if entry.get("torchvision")}
        originals = {name: getattr(base, name) for name in ("_check_legacy_exist", "_check_exists", "download",
                                                            "_load_data")}

        def served(ds: Any) -> str | None:
            # the torchvision class it is (a student's subclass of MNIST is MNIST); KMNIST, EMNIST and QMNIST
            # are not the course's data sets and keep torchvision's own behaviour
            cls = next((c for c in type(ds).__mro__ if c.__module__ == module.__name__), None)
            return classes.get(getattr(cls, "__name__", ""))

        def replace(name: str, ours: Any) -> None:
            def method(ds, *args, **kwargs):
                if served(ds) is None:
                    return originals[name](ds, *args, **kwargs)
                return ours(ds)
            method.__doc__ = originals[name].__doc__
            setattr(base, name, method)

        def load(ds: Any) -> tuple[Any, Any]:
            name = served(ds)
            part = "train" if ds.train else "test"
            arrays = probe.dataset(name, api="torchvision", part=part)  # as keras.datasets gets them
            return torch.from_numpy(arrays[f"x_{part}"]), torch.from_numpy(arrays[f"y_{part}"].astype(np.int64))

        replace("_check_legacy_exist", lambda ds: False)
        replace("_check_exists", lambda ds: True)
        replace("download", lambda ds: None)  # nothing leaves the machine: the cache holds the data
        replace("_load_data", load)

    # --- data loaders ---------------------------------------------------------------------------
    def _loader_pass(self, loader: Any, iterator: Any):
        """One pass over a DataLoader; a training loader's later passes are cut short in quick mode."""
        self.passes += 1
        state: dict[str, Any] = {"pass": self.passes, "trained": set(), "cut": False}
        data = getattr(loader, "dataset", loader)
        quick = self.witness.quick_epochs
        capped = quick is not None and self.full_passes.get(id(data), (None, 0))[1] >= int(quick)
        n = 0
        try:
            for batch in iterator:
                if capped and n >= QUICK_BATCHES:
                    state["cut"] = True
                    if not self.cut_notice:
                        self.cut_notice = True
                        self.witness.notice(f"quick mode: training capped at {quick} epoch(s); later passes over the "
                                          f"training data yield {QUICK_BATCHES} batches")
                    return
                self.loader_pass = state
                yield batch
                n += 1
        finally:
            if self.loader_pass is state:
                self.loader_pass = None
            for fit in self.fits.values():
                if fit.index in state["trained"]:
                    fit.passes += 1
                    fit.full_passes += not state["cut"]
            if state["trained"] and not state["cut"]:
                self.full_passes[id(data)] = (data, self.full_passes.get(id(data), (None, 0))[1] + 1)

    # --- module calls ---------------------------------------------------------------------------
    def _is_keras(self, module: Any) -> bool:
        """Keras layers are torch modules under Keras's torch backend: the Keras probe watches those."""
        cls = type(module)
        if cls not in self.keras_types:
            self.keras_types[cls] = any(c.__module__.split(".")[0] == "keras" for c in cls.__mro__)
        return self.keras_types[cls]

    def _record_call(self, module: Any, args: tuple, kwargs: dict, out: Any) -> None:
        import torch

        if self._is_keras(module):
            return
        if isinstance(module, torch.nn.modules.loss._Loss):
            self._record_loss(module, args, kwargs)
            return
        x, y = _first_tensor(args[0] if args else None), _first_tensor(out)
        if x is None or x.ndim < 1 or next(module.parameters(), None) is None:
            return
        self.seq += 1
        grad = torch.is_grad_enabled() and y is not None and y.requires_grad
        call = {"seq": self.seq, "rows": int(x.shape[0]), "x": x.detach(), "training": module.training and grad,
                "loader": self.loader_pass, "backward": False}
        if grad:
            # training rows are those whose outputs a gradient flowed back through before a step of this
            # module's optimizer: not a test set checked with gradients on before or between epochs
            y.register_hook(lambda _grad, call=call: call.update(backward=True))
            pending = self.pending.setdefault(id(module), (module, []))[1]
            pending.append(call)
            del pending[:-MAX_PENDING]
        if not call["training"]:
            self._record_inference(module, x, y)

    def _record_loss(self, loss: Any, args: tuple, kwargs: dict) -> None:
        target = args[1] if len(args) > 1 else kwargs.get("target")
        self.last_target = (type(loss).__name__, target.detach() if hasattr(target, "detach") else None)

    def _record_inference(self, module: Any, x: Any, y: Any) -> None:
        """A call outside training: part of a group of calls that may add up to the test set."""
        n_test, rows = self.witness.n_test, int(x.shape[0])
        if self.loader_pass is not None:
            key: Any = ("loader", self.loader_pass["pass"])
        elif x._base is not None:  # a slice of a larger tensor: its batches share that tensor's storage
            key = ("tensor", x.untyped_storage().data_ptr())
        else:
            key = ("calls",)
        g = self.group
        if rows >= n_test or g is None or g.module is not module or g.key != key:
            g = self.group = _Group(module=module, key=key, seq=self.seq)
        g.rows += rows
        if g.overflow:
            return
        xa = _numpy(x).copy()
        g.nbytes += xa.nbytes
        if g.nbytes > MAX_CAPTURE_BYTES or (g.rows > n_test and not test_sized(g.rows, n_test)):
            g.overflow, g.xs, g.outs = True, [], []  # too many rows to be the test set
            self._drop(module, g)
            return
        g.xs.append(xa)
        g.outs.append(_numpy(y).copy() if y is not None else None)
        if g.caller is None:
            g.caller = caller()
        if test_sized(g.rows, n_test):
            self._candidate(module, g)

    def _drop(self, module: Any, g: _Group) -> None:
        for kept in (self.candidates, self.supersets):
            if (c := kept.get(id(module))) is not None and c["group"] is g:
                del kept[id(module)]

    def _candidate(self, module: Any, g: _Group) -> None:
        """The group as its module's latest run on the test set's rows (or, past them, on a superset)."""
        exact = g.rows == self.witness.n_test
        if g.training_set is None:
            x = np.concatenate(g.xs[:8])  # the first rows tell (looks_like_training_set reads 100)
            g.training_set = self.witness.looks_like_training_set(x)  # noisynote: as many training rows as test rows
        info = {"model": self.witness.model_id(module), "kind": "call", "caller": g.caller,
                "x": {"type": "Tensor", "shape": [g.rows, *g.xs[0].shape[1:]], "dtype": str(g.xs[0].dtype)}}
        if g.training_set:
            if exact:
                self.witness.event("train_call", **info)
            return
        fresh = not any(c["group"] is g for c in (self.candidates.get(id(module)), self.supersets.get(id(module)))
                        if c is not None)
        self._drop(module, g)
        if fresh:  # one event per group
            self.witness.event("test_call", **info)
        (self.candidates if exact else self.supersets)[id(module)] = {
            "module": module, "group": g, "seq": g.seq, "caller": g.caller, "trained": id(module) in self.fits,
            "validation": False}

    # --- optimizer steps ------------------------------------------------------------------------
    def _after_step(self, optimizer: Any, args: tuple, kwargs: dict) -> None:
        try:
            self._record_step(optimizer)
        except Exception as e:  # the witness never breaks the run
            self.witness.notice(f"could not record an optimizer step: {type(e).__name__}: {e}")

    def _trains(self, optimizer: Any, module: Any) -> bool:
        known = self.updates.setdefault(optimizer, {})
        if id(module) not in known:
            params = {id(p) for g in optimizer.param_groups for p in g["params"]}
            known[id(module)] = any(id(p) in params for p in module.parameters())
        return known[id(module)]

    def _record_step(self, optimizer: Any) -> None:
        self.seq += 1
        for key, (module, calls) in list(self.pending.items()):
            if not self._trains(optimizer, module):
                continue
            del self.pending[key]
            calls = [c for c in calls if c["backward"]]
            if not calls:
                continue
            fit = self.fits.get(key) or self._new_fit(module, optimizer)
            for call in calls:
                self._train_rows(fit, call)
            for kept in (self.candidates, self.supersets):
                if (c := kept.get(key)) is None:
                    continue
                if c["seq"] >= calls[0]["seq"]:  # calls that looked like inference were training: no test set
                    del kept[key]
                elif c["trained"] and not c["validation"]:
                    # run on the test set's rows between two steps: the test set used as validation data
                    c["validation"] = True
                    fit.val_fps.append(fingerprints(c["group"].joined()[0]))
            if self.group is not None and self.group.module is module:
                self.group = None
            fit.last_step = self.seq

    def _new_fit(self, module: Any, optimizer: Any) -> _Fit:
        mid = self.witness.model_id(module)
        k = self.witness.new_fit(mid)
        described: dict[str, Any] = {"class": type(optimizer).__name__, "name": type(optimizer).__name__}
        lr = optimizer.param_groups[0].get("lr") if optimizer.param_groups else None
        if isinstance(lr, (int, float)):
            described["learning_rate"] = float(lr)
        fit = self.fits[id(module)] = _Fit(index=k, model=mid, caller=caller(), optimizer=described)
        return fit

    def _train_rows(self, fit: _Fit, call: dict[str, Any]) -> None:
        x = _numpy(call["x"])
        fp = fingerprints(x)
        fit.fps.append(fp)
        fit.rows += len(fp)
        if fit.example is None:
            fit.example = call["x"][:1].cpu().clone()
        if call["loader"] is not None:
            call["loader"]["trained"].add(fit.index)
        if len(fit.fps) >= 64:  # keep the distinct ones only: epochs repeat the same rows
            fit.fps = [np.unique(np.concatenate(fit.fps))]
        name, target = self.last_target or (None, None)
        if name is not None:
            fit.loss = name
        if fit.small is not None:  # a tiny data set is kept whole, as the Keras side keeps small fit arrays
            labels = _numpy(target) if target is not None and len(target) == len(x) else None
            for i, f in enumerate(fp.tolist()):
                fit.small.setdefault(f, (x[i].copy(), labels[i].copy() if labels is not None else None))
            if sum(v[0].nbytes for v in fit.small.values()) > SMALL_ARRAY_BYTES:
                fit.small = None

    # --- the end of the student's code ----------------------------------------------------------
    @property
    def n_fits(self) -> int:
        return len(self.fits)

    def finalize(self, summary: dict[str, Any]) -> None:
        """Write the torch side's fits, the graded module (ONNX) and its test inputs and outputs."""
        import torch

        art, probe = self.witness.art, self.witness
        summary.update(framework=TORCH.id, backend="torch", torch_version=torch.__version__)
        for fit in sorted(self.fits.values(), key=lambda f: f.index):
            self._write_fit(fit)
        # a run on the test set's row count first; a superset only where there is none
        live = ([c for key, c in self.candidates.items() if key in self.fits]
                or [c for key, c in self.supersets.items() if key in self.fits])
        capture = max(live, key=lambda c: c["seq"]) if live else None
        if capture is not None:
            capture["x"], capture["pred"] = capture["group"].joined()
        if capture is not None:
            graded_fit = self.fits[id(capture["module"])]
            reason = "the model run on the test inputs"
        else:
            graded_fit = max(self.fits.values(), key=lambda f: f.last_step)
            reason = "the last model trained (none was run on the test inputs)"
        module = self.witness.model(graded_fit.model)
        summary["graded_model"], summary["graded_reason"] = graded_fit.model, reason
        if capture is not None:
            summary["test_inputs"] = {"kind": "call", "caller": capture["caller"], "model": graded_fit.model,
                                      "result": None}
            np.save(art / TEST_X, capture["x"], allow_pickle=False)
            if capture["pred"] is not None and capture["pred"].dtype.kind in "biuf":
                np.save(art / TEST_PRED, capture["pred"], allow_pickle=False)
        example = (torch.from_numpy(np.ascontiguousarray(capture["x"][:2])) if capture is not None
                   else graded_fit.example)
        try:
            self._export(module, example)
            summary["model_file"] = MODEL_FILE
        except Exception as e:
            summary["save_error"] = f"{type(e).__name__}: {str(e).strip()[:1000]}"
            probe.notice(f"the graded module could not be exported to ONNX: {summary['save_error'][:300]}")

    def _write_fit(self, fit: _Fit) -> None:
        art = self.witness.art
        distinct = np.unique(np.concatenate(fit.fps)) if fit.fps else np.zeros(0, np.uint64)
        if fit.passes:
            epochs, requested = fit.full_passes, fit.passes
        else:  # loops of its own over tensors: each pass over the distinct rows is an epoch
            epochs = requested = max(1, round(fit.rows / max(len(distinct), 1)))
        record: dict[str, Any] = {"fit": fit.index, "model": fit.model, "caller": fit.caller, "epochs": epochs,
                                  "epochs_requested": requested, "batch_size": None, "validation_split": None,
                                  "framework": "torch", "rows_trained": fit.rows}
        np.save(art / fit_train_fingerprints(fit.index), distinct)
        if fit.val_fps:
            np.save(art / fit_val_fingerprints(fit.index), np.unique(np.concatenate(fit.val_fps)))
            record["validation_x"] = {"type": "Tensor", "rows": self.witness.n_test}
        if fit.small:
            xs = np.stack([v[0] for v in fit.small.values()])
            record["x"] = {"type": "Tensor", "shape": list(xs.shape), "dtype": str(xs.dtype)}
            np.save(art / fit_x(fit.index), xs, allow_pickle=False)
            if all(v[1] is not None for v in fit.small.values()):
                ys = np.stack([v[1] for v in fit.small.values()])
                record["y"] = {"type": "Tensor", "shape": list(ys.shape), "dtype": str(ys.dtype)}
                np.save(art / fit_y(fit.index), ys, allow_pickle=False)
        loss = {"class": fit.loss, "name": fit.loss, "from_logits": fit.loss in LOGIT_LOSSES} if fit.loss else None
        self.witness.event("compile", model=fit.model, caller=fit.caller, loss=loss, optimizer=fit.optimizer,
                         metrics=None, framework="torch")
        self.witness.event("fit_start", **record)

    def _export(self, module: Any, example: Any) -> None:
        """The module as an ONNX graph, traced on the CPU in eval mode, with any number of rows."""
        import torch

        if example is None:
            raise RuntimeError("no input of the graded module was recorded")
        self.exporting = True
        try:
            module = module.cpu().eval()
            with warnings.catch_warnings(), torch.no_grad(), _quiet():
                warnings.simplefilter("ignore")  # tracer warnings are about the export, not the student's run
                t0 = time.perf_counter()
                torch.onnx.export(module, (example,), str(self.witness.art / MODEL_FILE), dynamo=False,
                                  input_names=["x"], output_names=["y"],
                                  dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
            self.witness.event("onnx_export", seconds=round(time.perf_counter() - t0, 3))
        finally:
            self.exporting = False


def _short_socket_dir() -> None:
    """Give multiprocessing a temporary folder short enough for a Unix socket's path (107 bytes at most).

    DataLoader workers (``num_workers > 0``) hand each batch back by passing file descriptors over a socket that
    multiprocessing makes in TMPDIR; the sandbox's TMPDIR, inside the job's work dir, is too long a path for
    one, so the workers fail and the loader waits for them until the time limit.
    """
    import multiprocessing.process
    import multiprocessing.util
    import shutil
    import tempfile

    config = multiprocessing.process.current_process()._config
    if len(tempfile.gettempdir()) <= 60 or "tempdir" in config:  # multiprocessing adds about 40 bytes
        return
    try:
        config["tempdir"] = tempfile.mkdtemp(prefix="kg-mp-", dir="/tmp")  # the sandbox's private /tmp
    except OSError:
        return
    audit.allow(config["tempdir"])  # the grader's folder: its sockets and its removal at exit are no attempts
    multiprocessing.util.Finalize(None, shutil.rmtree, args=(config["tempdir"], True), exitpriority=-100)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Keep what the exporter prints (from C++, on file descriptors 1 and 2) out of the student's output:
    its failure is reported through the summary, with the reason."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)
