"""A Keras model's outputs on many rows, called eagerly in batches: shared by the probe and the evaluator.

``model.predict`` traces (TensorFlow) or compiles (JAX) a new function for every model it meets: 0.1-0.5 s
per job, where each job brings a new model, while a dense network's forward pass on 10,000 rows takes
milliseconds eagerly (same outputs, measured to the last bit on TensorFlow's CPU kernels).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def outputs(model: Any, x: np.ndarray, batch: int = 2000) -> np.ndarray | None:
    """``model(x[i:i + batch], training=False)`` for every batch, joined; None where the model cannot be called
    that way (several inputs or outputs, a layer that needs ``predict``): the caller then uses ``predict``."""
    from keras import ops

    try:
        parts = [ops.convert_to_numpy(model(x[i:i + batch], training=False)) for i in range(0, len(x), batch)]
    except Exception:  # noqa: BLE001 - the caller's ``predict`` says what is wrong, if anything
        return None
    if parts and all(isinstance(p, np.ndarray) for p in parts):
        return np.concatenate(parts)
    return None
