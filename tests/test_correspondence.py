"""Unit tests of the correspondence and leakage rules on the real MNIST test set."""

import numpy as np
import pytest

from grader.evaluation.correspondence import correspondence_texts, leaked_rows
from grader.fingerprint import fingerprints


def correspondence(captured, raw):
    """The verdict as these tests read it: (ok, the English text, details)."""
    ok, what, details = correspondence_texts(captured, raw)
    return ok, what.en, details


@pytest.fixture(scope="module")
def raw(mnist):
    return mnist["x_test"]


def test_identity_invert_and_scale_accepted(raw):
    for captured in (raw, (255 - raw) / 255.0, raw.astype("float32") / 127.5 - 1, raw.reshape(-1, 784)):
        ok, what, details = correspondence(captured, raw)
        assert ok, what
        assert details["mapping"] == "affine"


def test_per_pixel_standardisation_accepted(raw, mnist):
    train = mnist["x_train"].astype("float64")
    captured = (raw - train.mean(0)) / (train.std(0) + 1e-7)
    assert correspondence(captured, raw)[0]


def test_crop_accepted_as_feature_subset(raw):
    ok, what, details = correspondence(raw[:, 4:24, 4:24] / 255.0, raw)
    assert ok, what
    assert details["mapping"] == "affine-subset"


def test_resize_accepted_by_distance_structure(raw):
    small = raw.reshape(-1, 14, 2, 14, 2).mean(axis=(2, 4))  # 28x28 -> 14x14
    ok, what, details = correspondence(small, raw)
    assert ok, what
    assert details["mapping"] == "distances" and details["spearman"] > 0.95


def test_shuffled_rows_rejected(raw):
    perm = np.random.default_rng(0).permutation(len(raw))
    ok, what, details = correspondence(raw[perm] / 255.0, raw)
    assert not ok
    assert "not the test set in its order" in what and details["spearman"] < 0.2


def test_training_rows_rejected(raw, mnist):
    ok, what, _ = correspondence(mnist["x_train"][:10000], raw)
    assert not ok


def test_wrong_row_count_rejected(raw):
    ok, what, _ = correspondence(raw[:9999], raw)
    assert not ok and "9999 rows" in what


def test_nan_rejected(raw):
    bad = raw.astype("float32")
    bad[5, 3, 3] = np.nan
    assert not correspondence(bad, raw)[0]


def test_leakage_catches_test_rows_in_training(mnist):
    test = mnist["x_test"].astype("float32") / 255
    train = np.concatenate([mnist["x_train"].astype("float32") / 255, test[:50]])
    leaked = leaked_rows(fingerprints(test), [fingerprints(train)])
    assert list(leaked) == list(range(50))


def test_leakage_ignores_dtype_but_not_augmentation(mnist):
    test = mnist["x_test"][:500]
    assert len(leaked_rows(fingerprints(test), [fingerprints(test.astype("float64"))])) == 500
    shifted = np.roll(test, 1, axis=2)        # an augmented copy is a different row
    noisy = test + np.random.default_rng(0).normal(0, 1, test.shape)
    assert len(leaked_rows(fingerprints(test), [fingerprints(shifted), fingerprints(noisy)])) == 0


def test_no_natural_duplicates_between_mnist_train_and_test(mnist):
    assert len(leaked_rows(fingerprints(mnist["x_test"]), [fingerprints(mnist["x_train"])])) == 0


def test_natural_duplicates_are_not_leakage_but_real_leaks_are():
    from grader import data
    from grader.evaluation.correspondence import natural_duplicates

    nn = data.splits("noisynote")
    ax, qx = nn["x_train"], nn["x_test"]
    assert len(natural_duplicates(qx, qx, ax)) == 0                # the noise makes every row unique
    kept = natural_duplicates((qx[:, :4] - 1) * 3, qx, ax)         # noise dropped, rescaled
    assert 0 < len(kept) < 30
    train = np.concatenate([ax[:, :4], qx[:, :4]])                 # trained on train + test
    leaked = np.setdiff1d(leaked_rows(fingerprints(qx[:, :4]), [fingerprints(train)]), kept)
    assert len(leaked) == len(qx) - len(kept)
