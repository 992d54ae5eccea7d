"""Unit tests of the correspondence and leakage rules on the real MNIST test set."""

import numpy as np
import pytest

from grader.evaluation.correspondence import CHUNK, affine_residual, correspondence_texts, leaked_rows, match_rows
from grader.fingerprint import fingerprints

pytestmark = pytest.mark.unit  # NumPy on the real data, trains nothing


def correspondence(captured, raw):
    """The verdict as these tests read it: (ok, the English text, details)."""
    ok, what, details = correspondence_texts(captured, raw)
    return ok, what.en, details


@pytest.fixture(scope="module")
def raw(mnist):
    return mnist["x_test"]


def test_the_chunked_residual_is_the_least_squares_residual_built_whole(raw):
    """affine_residual sums over chunks of rows in the inputs' own dtype; it must equal the residual of the best
    per-column line built explicitly in float64, over the overall spread, for rows past several chunks."""
    rng = np.random.default_rng(3)
    r = raw.reshape(len(raw), -1)[: 2 * CHUNK + 123, 300:340]  # uint8, with all-zero columns among them
    noisy = (r / 255.0 + rng.normal(0, 0.01, r.shape)).astype("float32")
    for x in (noisy, r.astype("float32") * -0.5 + 3, rng.normal(size=r.shape)):
        x64, r64 = x.astype(np.float64), r.astype(np.float64)
        expected = np.empty(r.shape[1])
        for j in range(r.shape[1]):
            design = np.column_stack([r64[:, j], np.ones(len(r64))])
            coef = np.linalg.lstsq(design, x64[:, j], rcond=None)[0]
            expected[j] = np.sqrt(np.mean((x64[:, j] - design @ coef) ** 2))
        expected /= x64.std()
        assert np.allclose(affine_residual(x, r), expected, rtol=1e-6, atol=1e-9)


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


# --- test rows found by content (a shuffled test loader, a permuted test set, extra rows) ---------------------

def matched_rows_equal(x, raw, match):
    """Whether each test row's match is that row, under the preprocessing (here: any affine map of all values)."""
    picked = np.asarray(x, dtype=np.float64).reshape(len(x), -1)[match.order]
    return correspondence_texts(picked, raw)[0]


def test_a_permuted_test_set_is_matched_row_by_row(raw):
    perm = np.random.default_rng(0).permutation(len(raw))
    x = raw[perm].astype("float32") / 255
    match = match_rows(x, raw)
    assert match.complete and match.reordered and match.extra == 0 and match.how == "rows"
    assert matched_rows_equal(x, raw, match)
    # MNIST's own duplicate test images may be matched to either copy; every other row to its own place
    assert (perm[match.order] == np.arange(len(raw))).mean() > 0.999


def test_inverted_and_row_standardised_rows_are_recognised(raw):
    perm = np.random.default_rng(1).permutation(len(raw))
    flat = raw.reshape(len(raw), -1)[perm].astype("float32")
    for x in ((255 - flat) / 255, (flat - flat.mean(1, keepdims=True)) / flat.std(1, keepdims=True)):
        match = match_rows(x, raw)
        assert match.complete and match.how == "rows", match.found


def test_a_superset_with_training_rows_gives_the_test_rows_in_order(raw, mnist):
    perm = np.random.default_rng(2).permutation(len(raw) + 3000)
    x = np.concatenate([raw, mnist["x_train"][:3000]])[perm] / 255.0
    match = match_rows(x, raw)
    assert match.complete and match.extra == 3000
    assert matched_rows_equal(x, raw, match)
    assert (perm[match.order] < len(raw)).all()  # no training row stands for a test row


def test_per_pixel_standardisation_in_another_order_is_matched_per_feature(raw, mnist):
    test = raw[:2000]  # a smaller test set keeps the per-feature search quick
    train = mnist["x_train"].reshape(-1, 784).astype("float64")
    perm = np.random.default_rng(3).permutation(len(test) + 300)
    both = np.concatenate([test.reshape(-1, 784), train[:300]])[perm]
    x = ((both - train.mean(0)) / (train.std(0) + 1e-7)).astype("float32")
    match = match_rows(x, test)
    assert match.complete and match.how == "features" and match.extra == 300
    assert correspondence_texts(x[match.order], test)[0]


def test_a_subset_or_another_data_set_is_not_the_test_set(raw, mnist):
    test = raw[:3000]  # a smaller test set keeps the search quick
    perm = np.random.default_rng(4).permutation(len(test))
    subset = match_rows(np.concatenate([test[perm[:2900]], mnist["x_train"][:200]]) / 255.0, test)
    assert not subset.complete and subset.found == 2900
    other = match_rows(mnist["x_train"][:4000] / 255.0, test)  # MNIST's training and test sets share no image
    assert other.found == 0 and not other.complete
    assert match_rows(raw.reshape(len(raw), -1)[:, :700], raw) is None  # other features: not comparable


def test_the_abc_tables_three_test_rows_are_found_among_training_rows():
    train = np.array([[4, 6], [15, 8], [65, 70], [5, 90], [18, 70], [70, 10]], dtype="float64")
    test = np.array([[20, 6], [3, 50], [75, 55]], dtype="float64")
    for scale in (lambda v: v, lambda v: v / 50.0 - 1.0, lambda v: (v - train.mean(0)) / train.std(0)):
        x = scale(np.concatenate([test[[2, 0]], train[:2], test[[1]]]))
        match = match_rows(x, test)
        assert match.complete and list(match.order) == [1, 4, 0] and match.extra == 2, match
    # two of the three with training rows: not the test set (with three rows, a part is not told apart)
    assert not match_rows(np.concatenate([test[:2], train[:2]]) / 100, test).complete
    assert match_rows(train[:5], test).found == 0


def test_inputs_that_cannot_be_compared_are_no_match(raw):
    """What a hostile or broken program may leave as its test inputs: no match, no exception, no long search."""
    flat = raw.reshape(len(raw), -1)[:50].astype("float64")
    bad = flat.copy()
    bad[3, 5] = np.inf
    for captured in (bad, flat[:0], flat[:, 0], np.zeros((50, 3))):
        assert match_rows(captured, raw[:50]) is None
    constant = match_rows(np.ones((60, 784)), raw[:50])  # one row standing for every test row: not the test set
    assert constant.found == 0 and not constant.complete
