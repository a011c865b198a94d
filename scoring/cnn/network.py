"""The network: a small AstroNet-style 1-D CNN in Keras 3 on the JAX backend.

One convolutional branch per view (global 201 bins, local 61, secondary 61), their outputs
concatenated with a few scalars, then a small dense head with one sigmoid output: P(PC).
Shallue & Vanderburg (2018) and Yu et al. (2019) use the same shape with wider layers (blocks of
two 5-wide convolutions then a max-pool, 512-unit dense layers); this one is narrowed to train on
two CPU cores in minutes.

Keras picks its backend once, at its first import: this module is the one place that sets it,
so every ExoHunter module imports keras through here (:func:`keras_module`).
"""

from __future__ import annotations

import os
import sys
from types import ModuleType
from typing import Any

import numpy as np

from scoring.errors import ExoHunterError

BACKEND = "jax"
VIEW_BINS = {"global_view": 201, "local_view": 61, "secondary_view": 61}
#: (filters per block, pool size) per view: the global view is long enough for three blocks.
BRANCHES = {
    "global_view": ((16, 5), (32, 5), (64, 5)),
    "local_view": ((16, 7), (32, 7)),
    "secondary_view": ((8, 7), (16, 7)),
}
DENSE = (128, 64)
DROPOUT = 0.3


class NetworkError(ExoHunterError):
    pass


def keras_module() -> ModuleType:
    """Keras, on the JAX backend (the JAX that NumPyro already brings; no TensorFlow)."""
    if "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = BACKEND
    import keras

    if keras.backend.backend() != BACKEND:
        raise NetworkError(
            f"keras was imported with the {keras.backend.backend()!r} backend before ExoHunter "
            f"set it: unset KERAS_BACKEND or set it to {BACKEND!r}"
        )
    return keras


def _branch(keras: ModuleType, name: str, blocks: tuple[tuple[int, int], ...]) -> tuple[Any, Any]:
    layers = keras.layers
    inputs = keras.Input(shape=(VIEW_BINS[name], 1), name=name)
    x = inputs
    for filters, pool in blocks:
        x = layers.Conv1D(filters, 5, padding="same", activation="relu")(x)
        x = layers.Conv1D(filters, 5, padding="same", activation="relu")(x)
        x = layers.MaxPooling1D(pool, strides=2, padding="same")(x)
    return inputs, layers.Flatten()(x)


def build(n_scalars: int, seed: int) -> Any:
    """The untrained network for ``n_scalars`` scalar inputs, its weights drawn from ``seed``."""
    keras = keras_module()
    keras.utils.set_random_seed(seed)
    inputs, features = [], []
    for name, blocks in BRANCHES.items():
        view_input, flat = _branch(keras, name, blocks)
        inputs.append(view_input)
        features.append(flat)
    scalars = keras.Input(shape=(n_scalars,), name="scalars")
    inputs.append(scalars)
    x = keras.layers.Concatenate()([*features, scalars])
    for units in DENSE:
        x = keras.layers.Dense(units, activation="relu")(x)
        x = keras.layers.Dropout(DROPOUT, seed=seed)(x)
    output = keras.layers.Dense(1, activation="sigmoid", name="p_pc")(x)
    return keras.Model(inputs, output, name="astronet_small")


def inputs(views: dict[str, np.ndarray], scalars: np.ndarray) -> dict[str, np.ndarray]:
    """The network's input dict: views as [n, bins, 1] float32, scalars as [n, k]."""
    batch = {name: np.asarray(views[name], np.float32)[..., None] for name in VIEW_BINS}
    batch["scalars"] = np.asarray(scalars, np.float32)
    return batch


def weights(model: Any) -> list[np.ndarray]:
    """The trained weights as plain arrays: what the artifact stores (joblib, sha256-checked)."""
    return [np.asarray(w) for w in model.get_weights()]


def restore(n_scalars: int, stored: list[np.ndarray]) -> Any:
    """The network rebuilt from its stored weights."""
    model = build(n_scalars, seed=0)
    model.set_weights(stored)
    return model
