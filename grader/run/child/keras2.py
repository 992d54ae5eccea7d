"""Keras 2 compatibility in the student's process (docs/compatibility.md), installed by the probe.

The handout was written for Keras 2; grading runs Keras 3. Each shim here makes one Keras 2
idiom whose meaning Keras 3 kept run as Keras 2 ran it, and records a ``keras2`` event (the
idiom's id, the student's line, a few values) that the feedback turns into "graded as Keras 2
ran it; for Keras 3 write ...". Idioms whose meaning changed are not shimmed: they fail and keep
their hint (``grader/hints.py``). ``[grader] keras2_compat = false`` in course.toml leaves this
module out. The texts live in ``grader/handover.py``'s ``NOTICES``, one per shim, below both sides: the
evaluator writes them (the student's process only names the id and its values).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import numbers
import os
import sys
import types
from collections.abc import Iterator
from typing import Any

import numpy as np

from ...handover import NOTICE_VALUE_CHARS as VALUE_CHARS
from ...handover import notice_text
from . import hooks

#: Keras 2 modules that Keras 3 merged into their parent, under each name Keras is imported by.
PREFIXES = ("keras", "tensorflow.keras", "keras._tf_keras.keras")
MERGED = {"layers.core": "layers", "layers.convolutional": "layers", "utils.np_utils": "utils"}
LEGACY_OPTIMIZERS = ("Adagrad", "Adam", "Ftrl", "RMSprop", "SGD")
#: Keras 2's *_generator methods: their parameters in order, and the Keras 3 method that takes the same data.
GENERATOR_METHODS = {
    "fit_generator": ("fit", ("generator", "steps_per_epoch", "epochs", "verbose", "callbacks", "validation_data",
                              "validation_steps", "validation_freq", "class_weight", "max_queue_size", "workers",
                              "use_multiprocessing", "shuffle", "initial_epoch")),
    "evaluate_generator": ("evaluate", ("generator", "steps", "callbacks", "max_queue_size", "workers",
                                        "use_multiprocessing", "verbose")),
    "predict_generator": ("predict", ("generator", "steps", "callbacks", "max_queue_size", "workers",
                                      "use_multiprocessing", "verbose")),
}
#: Keras 2's evaluate_generator and predict_generator were quiet by default; Keras 3 shows a progress bar.
GENERATOR_DEFAULTS = {"evaluate_generator": {"verbose": 0}, "predict_generator": {"verbose": 0}}
#: Keras 2 parameters of the generator methods that configured its worker pool; Keras 3 reads them from a PyDataset.
POOL_PARAMETERS = ("max_queue_size", "workers", "use_multiprocessing")
class Keras2:
    """The shims, installed once per student process; ``probe`` records the notices."""

    def __init__(self, probe: Any):
        self.probe = probe
        self.seen: set[tuple[Any, ...]] = set()

    def install(self) -> None:
        sys.meta_path.insert(0, _AliasFinder(self))
        sys.meta_path.insert(0, hooks.PostImportFinder({
            "keras": self._patch_keras,  # after keras/__init__: models, optimizers and callbacks are loaded
            "keras.src.saving.saving_api": self._patch_saving,  # before keras.saving binds save_model
        }))

    def notice(self, notice_id: str, caller: dict[str, Any] | None = None, **values: Any) -> None:
        """Record one use of a Keras 2 idiom (once per line) and tell the student's log."""
        caller = caller if caller is not None else hooks.caller()
        line = caller.get("line") if caller else None
        values = {k: str(v)[:VALUE_CHARS] for k, v in values.items()}
        key = (notice_id, line, *sorted(values.items()))
        if key in self.seen:
            return
        self.seen.add(key)
        self.probe.event("keras2", id=notice_id, line=line, code=(caller or {}).get("code"), values=values)
        text = notice_text(notice_id, values)
        self.probe.notice(f"Keras 2 idiom{f' at line {line}' if line else ''} run as Keras 2 ran it; "
                          f"for Keras 3 write {text.en if text is not None else notice_id}")

    # --- keras ---------------------------------------------------------------------------------
    def _patch_keras(self, keras: Any) -> None:
        from keras.src.callbacks.monitor_callback import MonitorCallback
        from keras.src.models.model import Model
        from keras.src.models.sequential import Sequential
        from keras.src.optimizers.base_optimizer import BaseOptimizer

        self._patch_optimizers(BaseOptimizer, keras)
        self._patch_fit(Model)
        for name, (modern, params) in GENERATOR_METHODS.items():
            setattr(Model, name, self._generator_method(name, modern, params))
        Sequential.predict_classes = self._predict_classes()
        Sequential.predict_proba = self._predict_proba()
        self._patch_monitor(MonitorCallback)
        self._patch_backend_values(keras)

    def _patch_optimizers(self, base: Any, keras: Any) -> None:
        orig, shim = base.__init__, self

        def __init__(opt, learning_rate, *args, **kwargs):
            if "lr" in kwargs:  # Keras 2: `lr` wins over `learning_rate`
                learning_rate = kwargs.pop("lr")
                shim.notice("lr", value=learning_rate)
            decay = kwargs.pop("decay", None)
            if isinstance(learning_rate, numbers.Integral) and not isinstance(learning_rate, bool):
                shim.notice("integer_learning_rate", value=learning_rate)
                learning_rate = float(learning_rate)
            if decay and isinstance(learning_rate, numbers.Real):
                if not shim.probe.busy:  # not load_model rebuilding a saved optimizer (see _decay_each_update)
                    shim.notice("decay", lr=learning_rate, decay=decay)
                orig(opt, float(learning_rate), *args, **kwargs)
                _decay_each_update(opt, float(decay))
                return
            if decay:
                kwargs["decay"] = decay  # decay on top of a schedule: not the same under Keras 3, not shimmed
            orig(opt, learning_rate, *args, **kwargs)

        base.__init__ = __init__
        base.lr = property(self._get_lr, self._set_lr, doc="Keras 2's name of learning_rate.")
        legacy = sys.modules.get("keras.optimizers.legacy")
        if legacy is not None:
            for name in LEGACY_OPTIMIZERS:
                setattr(legacy, name, self._legacy_optimizer(name, getattr(keras.optimizers, name)))
            legacy.Optimizer = keras.optimizers.Optimizer

    def _get_lr(self, opt: Any) -> Any:
        self.notice("optimizer_lr")
        return opt.learning_rate

    def _set_lr(self, opt: Any, value: Any) -> None:
        self.notice("optimizer_lr")
        opt.learning_rate = value

    def _legacy_optimizer(self, name: str, modern: type) -> Any:
        shim = self

        def make(*args: Any, **kwargs: Any) -> Any:
            shim.notice("legacy_optimizer", name=name)
            return modern(*args, **kwargs)

        make.__name__ = make.__qualname__ = name
        make.__doc__ = f"keras.optimizers.legacy.{name} of Keras 2: Keras 3's keras.optimizers.{name}."
        return make

    def _patch_fit(self, model_class: Any) -> None:
        inner, shim = model_class.fit, self  # the probe's recorder, which needs fit's own arguments

        def fit(model, *args, **kwargs):
            if "nb_epoch" in kwargs and "epochs" not in kwargs:
                kwargs["epochs"] = kwargs.pop("nb_epoch")
                shim.notice("nb_epoch")
            return inner(model, *args, **kwargs)

        model_class.fit = fit

    def _generator_method(self, name: str, modern: str, params: tuple[str, ...]) -> Any:
        shim = self

        def method(model, *args: Any, **kwargs: Any) -> Any:
            if len(args) > len(params):
                raise TypeError(f"{name}() takes at most {len(params)} positional arguments")
            named = dict(zip(params, args))
            twice = set(named) & set(kwargs)
            if twice:
                raise TypeError(f"{name}() got multiple values for argument {sorted(twice)[0]!r}")
            named = {**GENERATOR_DEFAULTS.get(name, {}), **named, **kwargs}
            if "nb_epoch" in named and "epochs" not in named:
                named["epochs"] = named.pop("nb_epoch")
            for pool in POOL_PARAMETERS:
                named.pop(pool, None)
            shim.notice("generator_method", name=name, modern=modern)
            data = named.pop("generator")
            if isinstance(data, Iterator):
                # Keras 2 drew batches from any iterator, and predict_generator's could be bare inputs;
                # Keras 3 takes a Python generator of tuples
                bare = modern == "predict"
                data = ((batch,) if bare and not isinstance(batch, tuple) else batch for batch in data)
            return getattr(model, modern)(data, **named)

        method.__name__ = method.__qualname__ = name
        return method

    def _predict_classes(self) -> Any:
        shim = self

        def predict_classes(model, x, batch_size=32, verbose=0):
            shim.notice("predict_classes")
            proba = model.predict(x, batch_size=batch_size, verbose=verbose)
            if proba.shape[-1] > 1:  # Keras 2's Sequential.predict_classes, as it was
                return proba.argmax(axis=-1)
            return (proba > 0.5).astype("int32")

        return predict_classes

    def _predict_proba(self) -> Any:
        shim = self

        def predict_proba(model, x, batch_size=32, verbose=0):
            shim.notice("predict_proba")
            return model.predict(x, batch_size=batch_size, verbose=verbose)

        return predict_proba

    def _patch_monitor(self, monitor_class: Any) -> None:
        orig_init, orig_set, shim = monitor_class.__init__, monitor_class._set_monitor_op, self

        def __init__(cb, *args, **kwargs):
            orig_init(cb, *args, **kwargs)
            if cb.monitor in ("acc", "val_acc"):
                cb._keras2_caller = hooks.caller()  # the notice names the callback's line, not fit's

        def _set_monitor_op(cb):
            if cb.monitor in ("acc", "val_acc"):
                names = _metric_names(cb.model)
                if "acc" not in names and "accuracy" in names:
                    mapped = cb.monitor + "uracy"
                    shim.notice("monitor_acc", getattr(cb, "_keras2_caller", None), monitor=cb.monitor, mapped=mapped)
                    cb.monitor = mapped
            return orig_set(cb)

        monitor_class.__init__ = __init__
        monitor_class._set_monitor_op = _set_monitor_op

    def _patch_backend_values(self, keras: Any) -> None:
        """``K.set_value(model.optimizer.lr, x)`` and ``K.get_value(...)``, Keras 2's way to set a rate by hand.

        Keras 3 kept them in ``tf.keras.backend`` only, where set_value fails on a Keras 3 variable (it reads
        ``x.dtype.name`` of a dtype that is now a string), and dropped them from ``keras.backend``.
        """
        from keras.src.backend.common.variables import standardize_dtype

        shim = self

        def set_value(x: Any, value: Any) -> None:
            shim.notice("backend_value", name="set_value")
            x.assign(np.asarray(value, dtype=standardize_dtype(x.dtype)))

        def get_value(x: Any) -> Any:
            shim.notice("backend_value", name="get_value")
            return keras.ops.convert_to_numpy(x)

        set_value.__doc__ = "Keras 2's backend.set_value: x.assign(value)."
        get_value.__doc__ = "Keras 2's backend.get_value: x as a NumPy value."
        for name in ("keras.src.legacy.backend", "keras._tf_keras.keras.backend", "keras.backend"):
            module = sys.modules.get(name)
            if module is not None:
                module.set_value, module.get_value = set_value, get_value

    # --- saving ----------------------------------------------------------------------------------
    def _patch_saving(self, saving_api: Any) -> None:
        orig, shim = saving_api.save_model, self

        def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
            path = os.fspath(filepath) if isinstance(filepath, (str, os.PathLike)) else None
            if (isinstance(path, str) and not path.endswith((".keras", ".h5", ".hdf5")) and "://" not in path
                    and zipped is None and kwargs.get("save_format") in (None, "tf")):
                # Keras 2 wrote a SavedModel folder at this path; Keras 3's nearest is its unzipped format,
                # a folder at the same path that keras.models.load_model(path) reads back
                kwargs.pop("save_format", None)
                shim.notice("save_no_extension", path=path)
                return orig(model, filepath, overwrite, zipped=False, **kwargs)
            return orig(model, filepath, overwrite, zipped, **kwargs)

        saving_api.save_model = save_model


def _decay_each_update(optimizer: Any, decay: float) -> None:
    """Keras 2's ``decay=``: each update uses ``learning_rate / (1 + decay * iterations)``.

    As in Keras 2, ``learning_rate`` stays a plain variable, the base rate: ReduceLROnPlateau,
    LearningRateScheduler, ``optimizer.lr = x`` and ``learning_rate.assign(x)`` set it and the decay
    applies on top (Keras 3's nearest spelling, an ``InverseTimeDecay`` schedule, makes the rate
    unsettable: those callbacks then stop the run). The division happens where every backend's
    optimizer receives the rate of an update, with the step count before that update, as Keras 2's
    ``_decayed_lr``. The optimizer's config keeps ``decay``, so load_model under this layer rebuilds it.
    """
    from keras import ops

    update, get_config = optimizer._backend_update_step, optimizer.get_config

    def _backend_update_step(grads: Any, trainable_variables: Any, learning_rate: Any) -> Any:
        step = ops.cast(optimizer.iterations, "float32")
        return update(grads, trainable_variables, ops.divide(learning_rate, 1.0 + decay * step))

    def config() -> dict[str, Any]:
        return {**get_config(), "decay": decay}

    optimizer._backend_update_step = _backend_update_step
    optimizer.get_config = config


def _metric_names(model: Any) -> set[str]:
    """The names of a compiled model's metrics (what its logs call them)."""
    from keras.src.trainers import compile_utils

    names = set()
    for m in getattr(model, "metrics", None) or []:
        inner = m.metrics if isinstance(m, (compile_utils.CompileMetrics, compile_utils.MetricsList)) else [m]
        names.update(getattr(x, "name", None) for x in inner)
    return names


class _AliasLoader(importlib.abc.Loader):
    """A Keras 2 module path that Keras 3 merged into its parent: a module holding the parent's names."""

    def __init__(self, shim: Keras2, target: str, notice: bool):
        self.shim, self.target, self.notify = shim, target, notice

    def create_module(self, spec):
        module = types.ModuleType(spec.name, f"{spec.name} of Keras 2: the names of {self.target}.")
        target = importlib.import_module(self.target)
        module.__dict__.update({k: v for k, v in vars(target).items() if not k.startswith("__")})
        return module

    def exec_module(self, module):
        if self.notify:
            self.shim.notice("keras2_module", name=module.__name__, target=self.target)


class _AliasFinder(importlib.abc.MetaPathFinder):
    def __init__(self, shim: Keras2):
        self.aliases: dict[str, tuple[str, bool]] = {
            f"{prefix}.{old}": (f"{prefix}.{new}", True) for prefix in PREFIXES for old, new in MERGED.items()}
        # other spellings of keras.optimizers.legacy load the file again, without the patched optimizers
        for prefix in PREFIXES[1:]:
            self.aliases[f"{prefix}.optimizers.legacy"] = ("keras.optimizers.legacy", False)
        self.shim = shim

    def find_spec(self, fullname, path, target=None):
        if fullname not in self.aliases:
            return None
        name, notice = self.aliases[fullname]
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(self.shim, name, notice))
