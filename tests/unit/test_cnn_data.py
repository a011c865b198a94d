"""The reader on the real TFRecords of Yu et al. 2019: counts per label and split, the split by
star."""

from __future__ import annotations

import numpy as np
import pytest

from scoring.cnn import tfrecords

# data/tess/astronet_views_yu2019/README.md
PAPER_COUNTS = {
    "train": {"PC": 393, "EB": 1748, "J": 11009},
    "val": {"PC": 50, "EB": 176, "J": 1422},
    "test": {"PC": 49, "EB": 230, "J": 1374},
    "all": {"PC": 492, "EB": 2154, "J": 13805},
}


@pytest.fixture(scope="module")
def data() -> tfrecords.Views:
    return tfrecords.load()


def test_counts_per_label_and_split(data):
    assert len(data) == 16_451
    assert data.counts() == PAPER_COUNTS
    assert len(np.unique(data.tic_id)) == 14_818


def test_views_and_scalars(data):
    assert data.global_view.shape == (16_451, 201)
    assert data.local_view.shape == data.secondary_view.shape == (16_451, 61)
    for view in (data.global_view, data.local_view, data.secondary_view):
        assert np.isfinite(view).all()
        assert np.allclose(view.min(axis=1), -1, atol=1e-5)  # normalised: the deepest bin is -1
    assert (data.scalars["Period"] > 0).all()
    assert data.is_planet.sum() == 492


def test_the_cache_gives_the_same_arrays(data):
    again = tfrecords.load()
    assert np.array_equal(again.local_view, data.local_view)
    assert np.array_equal(again.label, data.label)


def test_the_paper_split_puts_some_stars_on_two_sides(data):
    # The paper shuffled signals, not stars: a star seen in several sectors can train and test.
    both = tfrecords.stars_on_both_sides(data.tic_id, data.split)
    assert both == {"train/val": 249, "train/test": 293, "val/test": 31}


def test_the_grouped_split_keeps_every_star_on_one_side(data):
    sides = tfrecords.grouped_split(data.tic_id)
    assert set(tfrecords.stars_on_both_sides(data.tic_id, sides).values()) == {0}
    stars = np.unique(data.tic_id)
    train_stars = np.unique(data.tic_id[sides == "train"])
    assert len(train_stars) == pytest.approx(0.8 * len(stars), abs=1)
    for part in tfrecords.SPLITS:
        assert (data.label[sides == part] == "PC").sum() > 30
    assert np.array_equal(sides, tfrecords.grouped_split(data.tic_id))  # deterministic


def test_a_folder_without_shards_is_refused(tmp_path):
    with pytest.raises(tfrecords.ViewDataError, match="no TFRecord shards"):
        tfrecords.load(tmp_path)
