"""The Yu et al. (2019) TESS views, read from the paper's own TFRecords into numpy arrays once.

The records are ``tf.train.Example`` protos; the ``tfrecord`` package parses them without
TensorFlow. Reading the 10 shards takes seconds, so the arrays are cached in
``$EXOHUNTER_HOME/cache/`` as one ``.npz`` keyed by the shards' checksums: a changed shard is
read again, never served stale.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tfrecord.reader import tfrecord_loader

from scoring import settings
from scoring.errors import ExoHunterError

DATA = settings.DATA_DIR / "tess" / "astronet_views_yu2019"
SPLITS = ("train", "val", "test")
VIEWS = {"global_view": 201, "local_view": 61, "secondary_view": 61}
#: Every scalar a record holds. ``Transit_Depth`` and ``Tmag`` were standardised by the paper's
#: script (divided by the training set's standard deviation, minus the mean), so they are not in
#: ppm and magnitudes; ``toi_id`` and ``row_id`` are identifiers.
SCALARS = (
    "Period",
    "Epoc",
    "Duration",
    "Transit_Depth",
    "SN",
    "Tmag",
    "Qingress",
    "depth_change",
    "Sectors",
    "camera",
    "ccd",
    "is_multi",
    "toi_id",
    "row_id",
)
LABELS = ("PC", "EB", "J")


class ViewDataError(ExoHunterError):
    pass


@dataclass(frozen=True)
class Views:
    """All records: views [n, bins], scalars by name [n], label, TIC and the paper's split."""

    global_view: np.ndarray
    local_view: np.ndarray
    secondary_view: np.ndarray
    scalars: dict[str, np.ndarray]
    label: np.ndarray  # 'PC' | 'EB' | 'J'
    tic_id: np.ndarray
    split: np.ndarray  # the paper's: 'train' | 'val' | 'test'

    def __len__(self) -> int:
        return len(self.label)

    @property
    def is_planet(self) -> np.ndarray:
        """The vetting task's label: PC against the rest (EB, J)."""
        return (self.label == "PC").astype(np.int8)

    def counts(self) -> dict[str, dict[str, int]]:
        """Records per split and label, and in all."""
        parts = {split: self.split == split for split in SPLITS}
        parts["all"] = np.ones(len(self), bool)
        return {
            part: {label: int(np.sum(rows & (self.label == label))) for label in LABELS}
            for part, rows in parts.items()
        }


def shards(folder: Path = DATA) -> list[Path]:
    found = sorted(p for p in folder.glob("*-of-*") if p.name.split("-")[0] in SPLITS)
    if not found:
        raise ViewDataError(f"no TFRecord shards in {folder}: see data/README.md")
    return found


def fingerprint(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def _read_shards(paths: list[Path]) -> dict[str, np.ndarray]:
    columns: dict[str, list] = {name: [] for name in (*VIEWS, *SCALARS, "label", "tic_id", "split")}
    for path in paths:
        split = path.name.split("-")[0]
        for record in tfrecord_loader(str(path), None):
            for name, bins in VIEWS.items():
                if record[name].shape != (bins,):
                    raise ViewDataError(f"{path.name}: a {name} of {record[name].shape} bins")
                columns[name].append(record[name])
            for name in SCALARS:
                columns[name].append(record[name][0])
            columns["label"].append(record["Disposition"].decode())
            columns["tic_id"].append(int(record["tic_id"][0]))
            columns["split"].append(split)
    return {name: np.asarray(values) for name, values in columns.items()}


def load(folder: Path = DATA) -> Views:
    """Every record of the shards in ``folder``, from the cache when the shards are unchanged."""
    paths = shards(folder)
    cache = settings.home() / "cache" / f"astronet_views_{fingerprint(paths)}.npz"
    if cache.exists():
        with np.load(cache, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    else:
        arrays = _read_shards(paths)
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(".partial.npz")
        np.savez(partial, **arrays)
        partial.replace(cache)
    return Views(
        global_view=arrays["global_view"].astype(np.float32),
        local_view=arrays["local_view"].astype(np.float32),
        secondary_view=arrays["secondary_view"].astype(np.float32),
        scalars={name: arrays[name].astype(np.float64) for name in SCALARS},
        label=arrays["label"].astype(str),
        tic_id=arrays["tic_id"].astype(np.int64),
        split=arrays["split"].astype(str),
    )


def grouped_split(tic_id: np.ndarray, seed: int = 0, fractions=(0.8, 0.1)) -> np.ndarray:
    """A train/val/test split by star: every TIC's signals on one side, 80/10/10 of the stars
    in a seeded random order (the project's rule; the paper shuffled signals, not stars)."""
    stars = np.unique(tic_id)
    order = np.random.default_rng(seed).permutation(len(stars))
    cut_train = int(fractions[0] * len(stars))
    cut_val = int((fractions[0] + fractions[1]) * len(stars))
    side = np.empty(len(stars), dtype="<U5")
    side[order[:cut_train]] = "train"
    side[order[cut_train:cut_val]] = "val"
    side[order[cut_val:]] = "test"
    return side[np.searchsorted(stars, tic_id)]


def stars_on_both_sides(tic_id: np.ndarray, split: np.ndarray) -> dict[str, int]:
    """How many stars have signals in more than one part of a split, per pair of parts."""
    sides = {part: set(tic_id[split == part].tolist()) for part in SPLITS}
    return {
        f"{a}/{b}": len(sides[a] & sides[b]) for i, a in enumerate(SPLITS) for b in SPLITS[i + 1 :]
    }
