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
KERNEL = 5
POOL_STRIDE = 2
OUTPUT = "p_pc"


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
    for block, (filters, pool) in enumerate(blocks):
        for conv in conv_names(name, block):
            x = layers.Conv1D(filters, KERNEL, padding="same", activation="relu", name=conv)(x)
        x = layers.MaxPooling1D(pool, strides=POOL_STRIDE, padding="same")(x)
    return inputs, layers.Flatten()(x)


def conv_names(view: str, block: int) -> tuple[str, str]:
    """The two convolutions of a block, named so that the stored weights say whose they are."""
    return f"{view}_block{block}_conv0", f"{view}_block{block}_conv1"


def dense_names() -> tuple[str, ...]:
    return (*(f"dense{i}" for i in range(len(DENSE))), OUTPUT)


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
    for units, name in zip(DENSE, dense_names(), strict=False):
        x = keras.layers.Dense(units, activation="relu", name=name)(x)
        x = keras.layers.Dropout(DROPOUT, seed=seed)(x)
    output = keras.layers.Dense(1, activation="sigmoid", name=OUTPUT)(x)
    return keras.Model(inputs, output, name="astronet_small")


def inputs(views: dict[str, np.ndarray], scalars: np.ndarray) -> dict[str, np.ndarray]:
    """The network's input dict: views as [n, bins, 1] float32, scalars as [n, k]."""
    batch = {name: np.asarray(views[name], np.float32)[..., None] for name in VIEW_BINS}
    batch["scalars"] = np.asarray(scalars, np.float32)
    return batch


Weights = dict[str, list[np.ndarray]]


def weights(model: Any) -> Weights:
    """The trained weights as plain arrays by layer name: what the artifact stores (joblib,
    sha256-checked), and all that :mod:`scoring.cnn.forward` needs to score without Keras."""
    return {
        layer.name: [np.asarray(w) for w in layer.get_weights()]
        for layer in model.layers
        if layer.weights
    }


def restore(n_scalars: int, stored: Weights | list[np.ndarray]) -> Any:
    """The network rebuilt from its stored weights. A list is the flat ``get_weights()`` of an
    artifact written before the layers were named (the order is the graph's, not the names')."""
    model = build(n_scalars, seed=0)
    if isinstance(stored, list):
        model.set_weights(stored)
    else:
        for name, arrays in stored.items():
            model.get_layer(name).set_weights(arrays)
    return model


# -- the forward pass in numpy ------------------------------------------------------------------
# Scoring an upload runs in a fresh analysis process (scoring/web/workers.py): there, importing
# Keras and rebuilding the network took 14 s (10 s of it JAX compiling each layer's initialiser),
# against milliseconds for these few lines on the stored weights. The layers are Keras's own
# (same padding, cross-correlation, channels last); tests/unit/test_cnn_forward.py checks the
# two give the same scores.
def _same_padding(length: int, window: int, stride: int) -> tuple[int, int]:
    out = -(-length // stride)
    total = max((out - 1) * stride + window - length, 0)
    return total // 2, total - total // 2


def _conv_relu(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Conv1D, stride 1, same padding, ReLU: x [n, length, in] -> [n, length, out]."""
    window = kernel.shape[0]
    padded = np.pad(x, ((0, 0), _same_padding(x.shape[1], window, 1), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, window, axis=1)  # [n, l, in, k]
    return np.maximum(np.einsum("nlik,kio->nlo", windows, kernel) + bias, 0)


def _max_pool(x: np.ndarray, pool: int) -> np.ndarray:
    padded = np.pad(
        x,
        ((0, 0), _same_padding(x.shape[1], pool, POOL_STRIDE), (0, 0)),
        constant_values=-np.inf,
    )
    windows = np.lib.stride_tricks.sliding_window_view(padded, pool, axis=1)
    return windows[:, ::POOL_STRIDE].max(axis=-1)


def forward(stored: Weights, batch: dict[str, np.ndarray]) -> np.ndarray:
    """P(PC) of a batch (:func:`inputs`) from the stored weights (:func:`weights`), without
    Keras: the network of :func:`build` in inference (dropout off)."""
    features = []
    for view, blocks in BRANCHES.items():
        x = batch[view].astype(np.float32)
        for block, (_, pool) in enumerate(blocks):
            for conv in conv_names(view, block):
                x = _conv_relu(x, *stored[conv])
            x = _max_pool(x, pool)
        features.append(x.reshape(len(x), -1))
    x = np.concatenate([*features, batch["scalars"].astype(np.float32)], axis=1)
    *hidden, output = dense_names()
    for name in hidden:
        kernel, bias = stored[name]
        x = np.maximum(x @ kernel + bias, 0)
    kernel, bias = stored[output]
    logit = (x @ kernel + bias).ravel()
    return np.exp(-np.logaddexp(0, -logit))  # the sigmoid, without overflow at large |logit|
