"""Training and measuring the CNN on the Yu et al. (2019) views, with its baselines.

Label: PC against the rest (EB, J). Two protocols, each trains on its train part, stops early on
its validation part and is measured once on its test part:

- ``paper``: the paper's own train/val/test files (signals shuffled, so about 570 stars have
  signals on two sides: :func:`scoring.cnn.tfrecords.stars_on_both_sides`);
- ``tic``: a split grouped by TIC, 80/10/10 of the stars (the project's rule).

On each, four scorers: ``cnn`` (the views plus period and duration: what ExoHunter's own fold of
an upload gives), ``xgboost_scalars`` (a gradient-boosted model on the records' scalars only),
``cnn_with_scalars`` (the views plus those scalars) and ``cnn_xgboost_mean`` (the mean of the
first two probabilities), so the views' own contribution is measured.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xgboost

from scoring.cnn import network, tfrecords
from scoring.cnn.tfrecords import Views
from scoring.ml.evaluation import Evaluation, binary_evaluation

SEED = 0
#: The scalars a fold of any light curve gives; the product CNN's only scalar inputs.
FOLD_SCALARS = ("Period", "Duration")
#: The records' physical scalars. Left out: ``toi_id`` (a TOI number is given to signals that
#: vetters promoted: it is the label), ``row_id``, ``Epoc`` (a date), ``camera``, ``ccd``,
#: ``Sectors``, ``is_multi`` (where and when, not what).
RECORD_SCALARS = ("Period", "Duration", "Transit_Depth", "SN", "Tmag", "Qingress", "depth_change")
PROTOCOLS = {
    "paper": "Yu et al. 2019's own train/val/test files (split by signal, not by star)",
    "tic": "train/val/test grouped by TIC (80/10/10 of the stars, seed 0)",
}
#: Yu et al. 2019's reported vetting figures (PC against the rest, their test set).
PAPER_FIGURES = {"pr_auc": 0.693, "accuracy": 0.978}
QUANTILES = np.linspace(0.0, 1.0, 101)


@dataclass(frozen=True)
class Config:
    max_epochs: int = 40
    patience: int = 6
    batch_size: int = 128
    learning_rate: float = 1e-3
    #: a fraction of the J and EB training signals (all PCs kept): the tests' tiny run
    negatives_fraction: float = 1.0
    #: the protocols to run, and whether to train the views-plus-scalars CNN beside the product's
    protocols: tuple[str, ...] = ("paper", "tic")
    cnn_with_scalars: bool = True
    seed: int = SEED

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


DEFAULT = Config()
#: The integration test's smoke run: seconds, not minutes; its figures mean nothing.
TINY = Config(
    max_epochs=1, patience=1, negatives_fraction=0.05, protocols=("tic",), cnn_with_scalars=False
)


# -- scalar inputs ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scaler:
    """Each scalar mapped through its training quantiles to [-0.5, 0.5]: robust to the records'
    outliers (``depth_change`` reaches 1e25) and to the paper's odd standardisation of
    ``Transit_Depth`` and ``Tmag``, and monotone, so nothing is lost."""

    names: tuple[str, ...]
    quantiles: np.ndarray  # [len(QUANTILES), len(names)]

    @classmethod
    def fit(cls, columns: dict[str, np.ndarray], names: tuple[str, ...]) -> Scaler:
        table = np.column_stack([columns[n] for n in names])
        return cls(names, np.quantile(table, QUANTILES, axis=0))

    def transform(self, columns: dict[str, np.ndarray]) -> np.ndarray:
        out = [
            np.interp(np.asarray(columns[n], float), self.quantiles[:, j], QUANTILES) - 0.5
            for j, n in enumerate(self.names)
        ]
        return np.column_stack(out).astype(np.float32)


# -- one split ----------------------------------------------------------------------------------
@dataclass
class Split:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def split_indices(views: Views, protocol: str, config: Config) -> Split:
    sides = views.split if protocol == "paper" else tfrecords.grouped_split(views.tic_id, SEED)
    train = np.flatnonzero(sides == "train")
    if config.negatives_fraction < 1.0:
        rng = np.random.default_rng(config.seed)
        keep = (views.label[train] == "PC") | (rng.random(len(train)) < config.negatives_fraction)
        train = train[keep]
    return Split(train, np.flatnonzero(sides == "val"), np.flatnonzero(sides == "test"))


def _rows(views: Views, index: np.ndarray) -> dict[str, np.ndarray]:
    return {name: getattr(views, name)[index] for name in network.VIEW_BINS}


def _columns(views: Views, index: np.ndarray) -> dict[str, np.ndarray]:
    return {name: values[index] for name, values in views.scalars.items()}


@dataclass
class FittedCNN:
    scaler: Scaler
    model: Any
    epochs: int
    seconds: float

    def predict(self, views: dict[str, np.ndarray], columns: dict[str, np.ndarray]) -> np.ndarray:
        batch = network.inputs(views, self.scaler.transform(columns))
        # One batch of everything: each new batch shape is a new JAX compilation.
        n = len(batch["scalars"])
        return np.asarray(self.model.predict(batch, batch_size=n, verbose=0)).ravel()


def class_weights(y: np.ndarray) -> dict[int, float]:
    """Weights that give both classes the same total (about 1:32 for PC here)."""
    positives = max(int(y.sum()), 1)
    return {0: 1.0, 1: (len(y) - positives) / positives}


def whole_batches(index: np.ndarray, batch_size: int, seed: int) -> np.ndarray:
    """``index`` padded with a few of its own rows (seeded) to whole batches: a last, smaller
    batch would be a second JAX compilation of the training step."""
    short = -len(index) % batch_size
    extra = np.random.default_rng(seed).choice(index, short, replace=False)
    return np.concatenate([index, extra])


def fit_cnn(views: Views, split: Split, scalars: tuple[str, ...], config: Config) -> FittedCNN:
    """Train on ``split.train``, stop early on the validation average precision."""
    keras = network.keras_module()
    start = time.perf_counter()
    scaler = Scaler.fit(_columns(views, split.train), scalars)
    model = network.build(len(scalars), config.seed)
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss="binary_crossentropy",
        metrics=[keras.metrics.AUC(curve="PR", name="ap")],
    )
    y = views.is_planet
    fitted = FittedCNN(scaler, model, 0, 0.0)

    def batch(index: np.ndarray) -> dict[str, np.ndarray]:
        return network.inputs(_rows(views, index), scaler.transform(_columns(views, index)))

    stop = keras.callbacks.EarlyStopping(
        monitor="val_ap", mode="max", patience=config.patience, restore_best_weights=True
    )
    train = whole_batches(split.train, config.batch_size, config.seed)
    history = model.fit(
        batch(train),
        y[train],
        validation_data=(batch(split.val), y[split.val]),
        validation_batch_size=len(split.val),
        epochs=config.max_epochs,
        batch_size=config.batch_size,
        class_weight=class_weights(y[train]),
        callbacks=[stop],
        shuffle=True,
        verbose=0,
    )
    fitted.epochs = len(history.history["loss"])
    fitted.seconds = time.perf_counter() - start
    return fitted


def fit_xgboost(views: Views, split: Split, config: Config) -> tuple[Any, float]:
    start = time.perf_counter()
    y = views.is_planet
    X = matrix(views, split.train)
    weights = class_weights(y[split.train])
    model = xgboost.XGBClassifier(
        n_estimators=300,
        max_depth=4,
        learning_rate=0.05,
        subsample=0.8,
        colsample_bytree=0.8,
        scale_pos_weight=weights[1],
        eval_metric="aucpr",
        early_stopping_rounds=30,
        random_state=config.seed,
        n_jobs=2,
    )
    model.fit(X, y[split.train], eval_set=[(matrix(views, split.val), y[split.val])], verbose=0)
    return model, time.perf_counter() - start


def matrix(views: Views, index: np.ndarray) -> np.ndarray:
    return np.column_stack([views.scalars[n][index] for n in RECORD_SCALARS])


# -- measuring ----------------------------------------------------------------------------------
def accuracy_threshold(y_val: np.ndarray, p_val: np.ndarray) -> float:
    """The threshold with the best validation accuracy: class weights move the scores, so 0.5
    is not where accuracy peaks; chosen on validation, applied to test unchanged."""
    candidates = np.unique(np.round(p_val, 4))
    accuracy = [np.mean((p_val >= t) == y_val) for t in candidates]
    return float(candidates[int(np.argmax(accuracy))])


def evaluate(
    name: str, protocol: str, y_test: np.ndarray, p_test: np.ndarray, threshold: float
) -> Evaluation:
    words = (
        f"PC vs EB+J; trained on the train part, early stopping on the validation part, measured "
        f"once on the test part ({len(y_test):,} signals, {int(y_test.sum())} PC) of "
        f"{PROTOCOLS[protocol]}; accuracy at the threshold with the best validation accuracy"
    )
    result = binary_evaluation(
        f"pc_vs_rest_{protocol}", name, y_test, p_test, threshold, True, words
    )
    result.metrics.append(("accuracy", "", float(np.mean((p_test >= threshold) == y_test))))
    return result


@dataclass
class ProtocolResult:
    protocol: str
    split: Split
    cnn: FittedCNN
    booster: Any
    evaluations: list[Evaluation] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    epochs: dict[str, int] = field(default_factory=dict)


def run_protocol(views: Views, protocol: str, config: Config) -> ProtocolResult:
    """Train the four scorers on one protocol's split and measure them on its test part."""
    split = split_indices(views, protocol, config)
    y = views.is_planet
    fitted = {"cnn": fit_cnn(views, split, FOLD_SCALARS, config)}
    if config.cnn_with_scalars:
        fitted["cnn_with_scalars"] = fit_cnn(views, split, RECORD_SCALARS, config)
    booster, booster_seconds = fit_xgboost(views, split, config)
    scores: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, model in fitted.items():
        scores[name] = tuple(
            model.predict(_rows(views, part), _columns(views, part))
            for part in (split.val, split.test)
        )
    scores["xgboost_scalars"] = tuple(
        booster.predict_proba(matrix(views, part))[:, 1] for part in (split.val, split.test)
    )
    scores["cnn_xgboost_mean"] = tuple(
        (scores["cnn"][i] + scores["xgboost_scalars"][i]) / 2 for i in (0, 1)
    )
    result = ProtocolResult(protocol, split, fitted["cnn"], booster)
    for name, (p_val, p_test) in scores.items():
        threshold = accuracy_threshold(y[split.val], p_val)
        result.evaluations.append(evaluate(name, protocol, y[split.test], p_test, threshold))
    result.seconds = {n: m.seconds for n, m in fitted.items()} | {
        "xgboost_scalars": booster_seconds
    }
    result.epochs = {n: m.epochs for n, m in fitted.items()}
    return result


def headline(evaluation: Evaluation) -> dict[str, float]:
    """The figures the issue asks for, by name."""
    names = ("pr_auc", "roc_auc", "recall_at_precision_0.90", "accuracy")
    return {n: evaluation.value(n) for n in names}
