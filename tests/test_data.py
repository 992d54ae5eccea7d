"""The data cache holds the real data sets, verified; broken sources are refused with clear messages."""

import numpy as np
import pytest

from grader import data, datasets
from grader.errors import GraderError

pytestmark = pytest.mark.unit  # reads and verifies the data cache, trains nothing


def test_mnist_known_facts(mnist):
    assert mnist["x_train"].shape == (60000, 28, 28) and mnist["x_test"].shape == (10000, 28, 28)
    assert mnist["x_train"].dtype == np.uint8
    assert list(np.bincount(mnist["y_train"])) == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert mnist["y_train"][0] == 5 and mnist["y_test"][0] == 7


def test_fashion_known_facts():
    f = data.load_images("fashion_mnist")
    assert list(np.bincount(f["y_train"])) == [6000] * 10 and list(np.bincount(f["y_test"])) == [1000] * 10
    assert f["y_train"][0] == 9


def test_banknote_and_noisynote():
    raw = (data.ensure("banknote") / datasets.BANKNOTE_FILE).read_text().splitlines()
    assert len(raw) == 1372 and raw[0].strip() == "3.6216,8.6661,-2.8073,-0.44699,0"
    assert sum(line.strip().endswith(",0") for line in raw) == 762
    nn = data.load("noisynote")  # ax.txt, ay.txt, qx.txt, qy.txt
    assert nn["x_train"].shape == (686, 7) and nn["x_test"].shape == (686, 7) and nn["y_test"].shape == (686, 1)
    assert np.allclose(nn["x_train"][0, :4], [3.6216, 8.6661, -2.8073, -0.44699])      # line 0 -> train
    assert np.allclose(nn["x_test"][0, :4], [float(v) for v in raw[1].split(",")[:4]])  # line 1 -> test
    noise = np.vstack([nn["x_train"][:, 4:], nn["x_test"][:, 4:]])
    assert noise.min() >= -30 and noise.max() <= 30 and abs(noise.mean()) < 2


def test_noisynote_is_deterministic(tmp_path):
    cache = data.dataset_dir("banknote").parent
    (tmp_path / "banknote").mkdir()
    banknote = cache / "banknote" / datasets.BANKNOTE_FILE
    (tmp_path / "banknote" / datasets.BANKNOTE_FILE).write_bytes(banknote.read_bytes())
    data.fetch(["noisynote"], root=tmp_path)  # banknote is cached: noisynote is built, nothing fetched
    for f in (*datasets.NOISYNOTE_FILES, datasets.NOISYNOTE_ZIP):
        assert (tmp_path / "noisynote" / f).read_bytes() == (cache / "noisynote" / f).read_bytes()


def test_corrupted_source_is_refused(tmp_path, mnist):
    arrays = {k: v.copy() for k, v in mnist.items()}
    arrays["x_test"][0, 0, 0] ^= 1
    with pytest.raises(GraderError, match="does not match its recorded sha256"):
        data._store("mnist", arrays, tmp_path)
    assert not data.is_cached("mnist", tmp_path)


def test_keras_cache_source_is_used_and_verified(tmp_path, monkeypatch, mnist):
    keras_home = tmp_path / "keras"
    (keras_home / "datasets").mkdir(parents=True)
    np.savez(keras_home / "datasets" / "mnist.npz", **mnist)
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    data.fetch(["mnist"], source="keras-cache", root=tmp_path / "cache")
    assert data.is_cached("mnist", tmp_path / "cache")
    assert np.array_equal(np.load(tmp_path / "cache" / "mnist" / "x_test.npy"), mnist["x_test"])


def test_no_source_says_what_was_tried_and_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty"))
    with pytest.raises(GraderError) as info:
        data.fetch(["fashion_mnist"], source="keras-cache", root=tmp_path / "cache")
    msg = str(info.value)
    assert "Keras cache" in msg and "grade data fetch --wheel" in msg and "--source keras" in msg


def test_unknown_data_set_named():
    with pytest.raises(GraderError, match="unknown data set 'cifar'"):
        data.fetch(["cifar"])


def test_matrix_reader_checks_its_header(tmp_path):
    p = tmp_path / "m.txt"
    p.write_text("3 2\n1 2\n3 4\n")
    with pytest.raises(GraderError, match="header says 3x2"):
        datasets.read_matrix(p)
