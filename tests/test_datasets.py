"""A data set is one entry of the table in grader/datasets.py: one added there alone is fetched, verified,
split and served offline to a real student process, with no other change to the grader.

The added set is synthetic (a few hundred small images) and ships in a wheel the test builds; pip
downloads it from a local folder standing in for the registry, as it downloads kosmos-core from PyPI.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from grader import cli, data, datasets
from grader.errors import GraderError
from grader.run.host.runner import Limits, run_submission

N_TRAIN, N_TEST, SHAPE = 300, 100, (8, 8, 3)
REQUIREMENT = "synthetic-images==1.0"
MEMBER = "synthetic_images/images.csv.gz"


def _arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(N_TRAIN + N_TEST, *SHAPE), dtype=np.uint8)
    y = rng.integers(0, 10, size=N_TRAIN + N_TEST, dtype=np.uint8)
    return {"x_train": x[:N_TRAIN], "y_train": y[:N_TRAIN], "x_test": x[N_TRAIN:], "y_test": y[N_TRAIN:]}


def _wheel(folder: Path, arrays: dict[str, np.ndarray]) -> Path:
    """A wheel shipping the images as kosmos-core ships MNIST: a gzipped CSV, pixels then label, training rows first."""
    x = np.concatenate([arrays["x_train"], arrays["x_test"]]).reshape(N_TRAIN + N_TEST, -1)
    y = np.concatenate([arrays["y_train"], arrays["y_test"]])
    csv = io.BytesIO()
    np.savetxt(csv, np.column_stack([x, y]), fmt="%d", delimiter=",")
    dist = "synthetic_images-1.0"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as whl:
        whl.writestr(MEMBER, gzip.compress(csv.getvalue()))
        whl.writestr(f"{dist}.dist-info/METADATA", "Metadata-Version: 2.1\nName: synthetic-images\nVersion: 1.0\n")
        whl.writestr(f"{dist}.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                                "Tag: py3-none-any\n")
        whl.writestr(f"{dist}.dist-info/RECORD", "")
    return path


def _entry(arrays: dict[str, np.ndarray], wheel: Path) -> datasets.DataSet:
    """The table entry of the synthetic set: its hashes, its wheel, and the Keras path the probe answers."""
    sha = {k: hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest() for k, a in arrays.items()}
    return datasets.DataSet(
        name="synthetic",
        description="synthetic 8x8 colour images, 300 training and 100 test rows (a test's)",
        contents=datasets.image_contents(sha, N_TRAIN, N_TEST, SHAPE),
        wheel=datasets.WheelMember(datasets.Wheel(REQUIREMENT, hashlib.sha256(wheel.read_bytes()).hexdigest(), "3.13"),
                                   MEMBER, datasets.csv_images(N_TRAIN, N_TEST, SHAPE)),
        keras=datasets.Keras("cifar10"),  # served as keras.datasets.cifar10: a path Keras really has
        split=datasets.stored_arrays,
    )


@contextlib.contextmanager
def _registered(entry: datasets.DataSet):
    datasets.register(entry)
    try:
        yield entry
    finally:
        datasets.unregister(entry.name)
        data.splits.cache_clear()  # it remembers the set by name


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data cache, and a folder pip downloads from instead of the registry (nothing leaves the machine)."""
    monkeypatch.setenv("KERAS_GRADER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "index"))
    return tmp_path / "index"


def test_a_set_added_to_the_table_is_fetched_split_and_served(registry: Path, tmp_path: Path):
    arrays = _arrays()
    with _registered(_entry(arrays, _wheel(registry, arrays))):
        assert "synthetic" in datasets.fetchable()
        # grade data fetch: pip downloads the wheel, the arrays are verified against the entry's hashes
        assert cli.main(["data", "fetch", "synthetic", "--source", "pypi"]) == 0
        assert data.is_cached("synthetic")
        splits = data.splits("synthetic")
        for key, a in arrays.items():
            expected = a.astype(int) if key.startswith("y") else a
            assert splits[key].shape == expected.shape and np.array_equal(splits[key], expected)

        # the probe serves it offline in a real student process, as keras.datasets.cifar10, and the work dir
        # holds its files where an exercise's workdir_data names it
        submission = tmp_path / "synthetic.py"
        submission.write_text(
            "import os\n"
            "from keras.datasets import cifar10\n"
            "(x, y), (xt, yt) = cifar10.load_data()\n"
            "print('served', x.shape, x.dtype, int(x.sum()), xt.shape, int(yt.sum()),"
            " os.path.isfile('synthetic/x_test.npy'))\n"
        )
        out = run_submission(submission, filename="synthetic.py", jobdir=tmp_path / "job", dataset="synthetic",
                             workdir_data=["synthetic"], quick_epochs=None, seed=1, limits=Limits(wall_s=120),
                             env={"KERAS_BACKEND": "jax"})
        assert out.returncode == 0, out.stderr[-3000:]
        line = (f"served {arrays['x_train'].shape} uint8 {int(arrays['x_train'].astype(int).sum())} "
                f"{arrays['x_test'].shape} {int(arrays['y_test'].astype(int).sum())} True")
        assert line in out.stdout, out.stdout + out.stderr[-3000:]
        events = [json.loads(e) for e in (out.artifacts / "events.jsonl").read_text().splitlines()]
        assert {"event": "load_data", "dataset": "synthetic"}.items() <= next(
            e for e in events if e["event"] == "load_data").items()


@pytest.mark.unit
def test_the_help_and_the_wheel_copied_by_hand_come_from_the_table(registry: Path, tmp_path: Path, capsys):
    arrays = _arrays()
    wheel = _wheel(tmp_path / "copied", arrays)
    with _registered(_entry(arrays, wheel)):
        with pytest.raises(SystemExit):
            cli.main(["data", "fetch", "--help"])
        help_text = capsys.readouterr().out
        assert "synthetic 8x8 colour images" in help_text and REQUIREMENT in help_text
        assert cli.main(["data", "fetch", "--wheel", str(wheel)]) == 0
        assert np.array_equal(datasets.load_arrays("synthetic", tmp_path / "cache")["x_test"], arrays["x_test"])


@pytest.mark.unit
def test_a_source_that_differs_from_the_entry_is_refused(registry: Path):
    arrays = _arrays()
    tampered = {k: a.copy() for k, a in arrays.items()}
    tampered["x_test"][0, 0, 0, 0] ^= 1
    # the wheel is the one the entry names, but an array in it is not the one the entry recorded
    entry = _entry(arrays, _wheel(registry, tampered))
    with _registered(entry):
        with pytest.raises(GraderError, match="could not fill the data cache with synthetic") as info:
            data.fetch(["synthetic"], source="pypi")
        assert f"--python-version 3.13 {REQUIREMENT}" in str(info.value)
        assert not data.is_cached("synthetic")
    # the same from a Keras cache: the entry's reader finds the arrays, the entry's hashes refuse them
    with _registered(dataclasses.replace(entry, wheel=None,
                                         keras_cache=datasets.KerasCache("synthetic.npz", lambda home: tampered))):
        said: list[str] = []
        with pytest.raises(GraderError, match="put Keras's synthetic.npz files in"):
            data.fetch(["synthetic"], source="keras-cache", progress=said.append)
        assert any("synthetic/x_test does not match its recorded sha256" in m for m in said), said
        assert not data.is_cached("synthetic")


@pytest.mark.unit
def test_the_table_is_looked_up_by_name():
    with pytest.raises(GraderError, match="unknown data set 'cifar': choose one of mnist, fashion_mnist"):
        datasets.get("cifar")
    with pytest.raises(GraderError, match="already in the table"):
        datasets.register(datasets.MNIST)
    with pytest.raises(ValueError, match="verified contents need a source"):
        dataclasses.replace(datasets.MNIST, name="orphan", keras_cache=None, wheel=None, keras=None, torchvision=None)
    served = datasets.served()
    assert served["mnist"] == {"keras": ["keras.src.datasets.mnist"], "torchvision": "MNIST"}
    assert served["fashion_mnist"]["torchvision"] == "FashionMNIST" and "noisynote" not in served
