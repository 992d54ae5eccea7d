"""The data sets (docs/data.md): one table, one entry per data set.

An entry is all the grader knows about a data set: where its bytes come from and the sha256 that
admits them to the cache, the files its cache folder holds, how it splits into x_train, y_train,
x_test, y_test, what the probe serves offline in the student's process (``keras.datasets.<x>``, and
the ``torchvision.datasets`` class it stands for), the files a handout expects in the work dir, and a
line for the CLI's help. The cache (``data.py``), the runner (which hands the probe its part in the
job's spec) and the CLI read the table; no other module names a data set.

To add a data set, add an entry to ``TABLE``. Code that extends the grader without editing it (a
test, a course's own module) may ``register`` an entry instead; the table is per process, so every
grader process that meets the data set must register it (the student's process needs nothing: the
runner sends the probe what to serve).

The student's process imports this module too (``load_arrays``), so it imports only NumPy, the
standard library and the grader's exceptions; pandas and Keras are imported by the loaders that need
them, which only the grader's side calls.
"""

from __future__ import annotations

import gzip
import io
import math
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import GraderError

SPLIT_KEYS = ("x_train", "y_train", "x_test", "y_test")

Arrays = dict[str, np.ndarray]
#: What a source yields, before verification: arrays by key and raw files by name, as ``DataSet.contents`` names them.
Contents = Mapping[str, "np.ndarray | bytes"]


# --- the parts of an entry --------------------------------------------------------------------

@dataclass(frozen=True)
class Array:
    """An array stored as ``<key>.npy``, admitted by the sha256 of its C-order bytes (as Keras's files hold them)."""

    sha256: str
    shape: tuple[int, ...]
    dtype: str = "uint8"

    def file(self, key: str) -> str:
        return f"{key}.npy"


@dataclass(frozen=True)
class File:
    """A file stored byte for byte as its source ships it, admitted by its sha256."""

    sha256: str

    def file(self, key: str) -> str:
        return key


@dataclass(frozen=True)
class Wheel:
    """A wheel on the package registry that ships data files: downloaded with pip and read as a zip, never installed."""

    requirement: str     # what pip downloads, e.g. "kosmos-core==0.3.0"
    sha256: str
    python_version: str  # the Python the wheel is built for (``pip download --python-version``)


@dataclass(frozen=True)
class WheelMember:
    """A data set's file inside a wheel, and how to read the data set's contents out of its bytes."""

    wheel: Wheel
    path: str
    parse: Callable[[bytes], Contents]


@dataclass(frozen=True)
class KerasCache:
    """A data set as Keras's own cache folder (``~/.keras/datasets``) holds it, where Keras downloaded it before."""

    files: str                                    # what to put there by hand, for the error that lists the ways
    read: Callable[[Path], Contents | None]       # the cache folder -> contents, or None where they are absent


@dataclass(frozen=True)
class Keras:
    """The data set as ``keras.datasets.<name>.load_data()`` returns it (also reached as ``tf.keras.datasets.<name>``).

    The probe answers ``load_data`` offline from the cache; ``grade data fetch --source keras`` calls the real
    one, which downloads from Keras's origin.
    """

    name: str

    @property
    def modules(self) -> tuple[str, ...]:
        """The modules whose ``load_data`` the probe replaces as they first execute.

        Keras 3 defines ``load_data`` in ``keras.src.datasets.<name>``, and ``keras.datasets.<name>`` and
        ``tf.keras.datasets.<name>`` import it from there, so one replacement answers every path a program
        may take. The function is replaced rather than a file faked: Keras checks a hash on its own file
        and deletes one that does not match.
        """
        return (f"keras.src.datasets.{self.name}",)


@dataclass(frozen=True)
class DataSet:
    """One data set. ``contents`` with at least one source, or ``build``, or neither (built into the grader)."""

    name: str         # the cache folder's name; exercise.toml's ``dataset`` and ``workdir_data`` use it
    description: str  # one line for the CLI's help
    #: the cache folder's verified contents: array keys (stored as ``<key>.npy``) and file names
    contents: Mapping[str, Array | File] = field(default_factory=dict)
    # the sources, tried in the order of data.SOURCES
    keras_cache: KerasCache | None = None
    wheel: WheelMember | None = None
    keras: Keras | None = None  # also what the probe serves
    #: a data set made deterministically from others, with no source of its own: ``build(root)`` returns the
    #: bytes of ``built_files`` (by name), made from the caches of ``built_from`` under the cache root ``root``
    built_from: tuple[str, ...] = ()
    build: Callable[[Path], Mapping[str, bytes]] | None = None
    built_files: tuple[str, ...] = ()
    #: the cache folder (None for a set built into the grader) -> x_train, y_train, x_test, y_test as the set holds
    #: them (``data.splits`` turns labels into class ids); None for a set that is only the input of others
    split: Callable[[Path | None], Arrays] | None = None
    #: what an exercise's ``workdir_data`` copies into the work dir: the files the handout's recipes expect
    #: (empty: every file of the cache folder)
    handout_files: tuple[str, ...] = ()
    torchvision: str | None = None  # the ``torchvision.datasets`` class it stands for ("MNIST"), served offline too

    def __post_init__(self) -> None:
        # a wrong entry is the grader's bug: say so when the table is built, not in a student's job
        if self.contents and not (self.keras_cache or self.wheel or self.keras):
            raise ValueError(f"data set {self.name}: verified contents need a source")
        if bool(self.build) != bool(self.built_from) or bool(self.build) != bool(self.built_files):
            raise ValueError(f"data set {self.name}: build, built_from and built_files go together")
        if self.build and self.contents:
            raise ValueError(f"data set {self.name}: a built set has no contents of its own")
        if self.served and not (set(self.contents) == set(SPLIT_KEYS)
                                and all(isinstance(c, Array) for c in self.contents.values())):
            raise ValueError(f"data set {self.name}: a served set holds the arrays {', '.join(SPLIT_KEYS)}")
        if self.served and self.split is not stored_arrays:  # the student gets the arrays the grader grades against
            raise ValueError(f"data set {self.name}: a served set splits as stored_arrays")
        if not set(self.handout_files) <= set(self.files):
            raise ValueError(f"data set {self.name}: handout files must be files of its cache folder")

    @property
    def files(self) -> tuple[str, ...]:
        """The files of the cache folder (none for a set built into the grader)."""
        return (*(c.file(key) for key, c in self.contents.items()), *self.built_files)

    @property
    def served(self) -> bool:
        """Whether the probe serves it offline in the student's process (from its ``.npy`` arrays)."""
        return self.keras is not None or self.torchvision is not None

    @property
    def workdir_files(self) -> tuple[str, ...]:
        return self.handout_files or self.files


# --- loaders: the pieces entries are made of ---------------------------------------------------

def load_arrays(name: str, root: Path | str) -> Arrays:
    """A served data set's x_train, y_train, x_test, y_test from the verified cache at ``root``, as Keras returns them.

    For the student's process (the probe's ``keras.datasets`` and ``torchvision.datasets``): the runner
    sends the cache root and the served names in the job's spec. Reads ``.npy`` files only, never pickles,
    and imports nothing heavy. The cache holds only what passed its sha256, so nothing is hashed again.
    """
    return stored_arrays(Path(root) / name)


def stored_arrays(folder: Path | None) -> Arrays:
    """The split of a set whose cache folder holds its four arrays as ``.npy`` (a Keras-style set)."""
    assert folder is not None  # only sets with a cache folder split this way
    return {key: np.load(folder / f"{key}.npy", allow_pickle=False) for key in SPLIT_KEYS}


def image_contents(sha256: Mapping[str, str], n_train: int, n_test: int, shape: tuple[int, ...]) -> dict[str, Array]:
    """The contents of a Keras-style image set: uint8 images and uint8 labels, with their recorded hashes."""
    rows = {"x_train": (n_train, *shape), "y_train": (n_train,), "x_test": (n_test, *shape), "y_test": (n_test,)}
    return {key: Array(sha256[key], rows[key]) for key in SPLIT_KEYS}


def csv_images(n_train: int, n_test: int, shape: tuple[int, ...]) -> Callable[[bytes], Arrays]:
    """A parser of a gzipped CSV of images: one row per image, its pixels then its label, training rows first."""

    def parse(raw_gz: bytes) -> Arrays:
        import pandas as pd

        rows = pd.read_csv(io.BytesIO(raw_gz), header=None, compression="gzip", dtype=np.uint8).to_numpy()
        expected = (n_train + n_test, math.prod(shape) + 1)
        if rows.shape != expected:
            raise GraderError(f"unexpected image table shape {rows.shape} (expected {expected})")
        x, y = rows[:, :-1].reshape(-1, *shape), rows[:, -1]
        return {"x_train": x[:n_train], "y_train": y[:n_train], "x_test": x[n_train:], "y_test": y[n_train:]}

    return parse


def read_matrix(path: Path) -> np.ndarray:
    """Read a course matrix file: a "rows cols" first line, then the rows."""
    with open(path) as f:
        rows, cols = (int(v) for v in f.readline().split())
        a = np.loadtxt(f, dtype=np.float32, ndmin=2)
    if a.shape != (rows, cols):
        raise GraderError(f"{path}: header says {rows}x{cols}, file holds {a.shape}")
    return a


# --- MNIST and Fashion-MNIST -------------------------------------------------------------------

#: The PyPI wheel that ships MNIST, Fashion-MNIST and banknote (it needs Python 3.13, torch and qiskit to install).
KOSMOS = Wheel("kosmos-core==0.3.0", "97248f6b4219affc3e21a4d021bcfc53c8ae48c65eb6ff030aaf8020ce32291d", "3.13")


def _mnist_keras_cache(home: Path) -> Arrays | None:
    if not (home / "mnist.npz").is_file():
        return None
    with np.load(home / "mnist.npz", allow_pickle=False) as f:
        return {key: f[key] for key in SPLIT_KEYS}


FASHION_KERAS_FILES = {
    "y_train": "train-labels-idx1-ubyte.gz", "x_train": "train-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz", "x_test": "t10k-images-idx3-ubyte.gz",
}


def _fashion_keras_cache(home: Path) -> Arrays | None:
    folder = home / "fashion-mnist"
    if not all((folder / f).is_file() for f in FASHION_KERAS_FILES.values()):
        return None
    out = {}
    for key, fname in FASHION_KERAS_FILES.items():  # IDX: a header (8 bytes for labels, 16 for images), then bytes
        raw = gzip.decompress((folder / fname).read_bytes())
        if key.startswith("y"):
            out[key] = np.frombuffer(raw, np.uint8, offset=8)
        else:
            out[key] = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28)
    return out


MNIST = DataSet(
    name="mnist",
    description="MNIST: 70,000 handwritten digits, 28x28 grey (keras.datasets.mnist)",
    contents=image_contents({
        "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
        "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
        "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
        "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
    }, 60000, 10000, (28, 28)),
    keras_cache=KerasCache("mnist.npz", _mnist_keras_cache),
    wheel=WheelMember(KOSMOS, "kosmos/ml/datasets/data/mnist.data.gz", csv_images(60000, 10000, (28, 28))),
    keras=Keras("mnist"),
    split=stored_arrays,
    torchvision="MNIST",
)

FASHION_MNIST = DataSet(
    name="fashion_mnist",
    description="Fashion-MNIST: 70,000 clothing images in 10 classes, 28x28 grey (keras.datasets.fashion_mnist)",
    contents=image_contents({
        "x_train": "2e487a6c89124f78f2d7521542223cafe96f7123c3ca13d447772ac6ecbb3012",
        "y_train": "657fbd221bfc9f4198cc14b5619cc33ec57c58dd0e47af4d99d6650759e869a7",
        "x_test": "c867c93ff95360594e8ec3287995350b824dd110b11595c0e13d5423f621867a",
        "y_test": "3d0e6c6ea990b53b6f8f500a41cac93881d981b315f84578b7d915342ade01e9",
    }, 60000, 10000, (28, 28)),
    keras_cache=KerasCache("fashion-mnist/*-ubyte.gz", _fashion_keras_cache),
    wheel=WheelMember(KOSMOS, "kosmos/ml/datasets/data/fashion_mnist.data.gz", csv_images(60000, 10000, (28, 28))),
    keras=Keras("fashion_mnist"),
    split=stored_arrays,
    torchvision="FashionMNIST",
)


# --- banknote and noisynote ----------------------------------------------------------------------

BANKNOTE_FILE = "data_banknote_authentication.txt"  # the UCI file's name; the wheel's banknote.data is byte-identical

BANKNOTE = DataSet(
    name="banknote",
    description="UCI banknote authentication: 1,372 notes, 4 attributes (the source of noisynote)",
    contents={BANKNOTE_FILE: File("d0539aaed2139ba7a587b3e34fb345ce503ff7d5d33dbf9912d8e195ce425cb9")},
    wheel=WheelMember(KOSMOS, "kosmos/ml/datasets/data/banknote.data", lambda raw: {BANKNOTE_FILE: raw}),
)

#: noisynote: banknote + 3 noise columns uniform in [-30, 30] drawn with this seed; even lines train, odd lines test.
NOISYNOTE_SEED = 20240607
NOISYNOTE_FILES = ("ax.txt", "ay.txt", "qx.txt", "qy.txt")
NOISYNOTE_ZIP = "noisynote.zip"


def _matrix_text(a: np.ndarray, fmt: str) -> bytes:
    lines = [f"{a.shape[0]} {a.shape[1]}"]
    lines += [" ".join(fmt % v for v in row) for row in a]
    return ("\n".join(lines) + "\n").encode()


def _build_noisynote(root: Path) -> dict[str, bytes]:
    """noisynote's files, the same bytes on every machine, from the verified banknote file under ``root``."""
    raw = (root / BANKNOTE.name / BANKNOTE_FILE).read_bytes()
    table = np.loadtxt(io.StringIO(raw.decode()), delimiter=",")
    features, labels = table[:, :4], table[:, 4:5].astype(int)
    noise = np.random.default_rng(NOISYNOTE_SEED).uniform(-30.0, 30.0, size=(len(table), 3))
    x = np.hstack([features, noise])
    texts = {
        "ax.txt": _matrix_text(x[0::2], "%.6g"), "ay.txt": _matrix_text(labels[0::2], "%d"),
        "qx.txt": _matrix_text(x[1::2], "%.6g"), "qy.txt": _matrix_text(labels[1::2], "%d"),
    }
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as z:
        for fname, data in texts.items():
            z.writestr(zipfile.ZipInfo(fname, date_time=(2024, 6, 7, 0, 0, 0)), data)  # fixed date: fixed bytes
    return {**texts, NOISYNOTE_ZIP: zbuf.getvalue()}


def _noisynote_split(folder: Path | None) -> Arrays:
    assert folder is not None
    a = {fname[:-4]: read_matrix(folder / fname) for fname in NOISYNOTE_FILES}
    return {"x_train": a["ax"], "y_train": a["ay"], "x_test": a["qx"], "y_test": a["qy"]}


NOISYNOTE = DataSet(
    name="noisynote",
    description="banknote + 3 noise attributes in [-30, 30]; even lines train, odd lines test "
                "(ax.txt ... qy.txt, noisynote.zip)",
    built_from=(BANKNOTE.name,),
    build=_build_noisynote,
    built_files=(*NOISYNOTE_FILES, NOISYNOTE_ZIP),
    split=_noisynote_split,
    # the handout's recipes fetch and unzip noisynote.zip: with its files already there, `wget -nc` and `unzip -u`
    # are no-ops and either path works
    handout_files=(*NOISYNOTE_FILES, NOISYNOTE_ZIP),
)


# --- abc: built into the grader ------------------------------------------------------------------

#: The handout's homework #1 (abc1.py with skin colour): weight in kg, skin colour 0 (dark) .. 100 (light).
ABC_CLASSES = ("A", "B", "C")
ABC = {
    "ax": np.array([[4, 6], [15, 8], [65, 70], [5, 90], [18, 70], [70, 10]], dtype=np.float32),
    "ay": np.array([1, 2, 0, 1, 2, 0]),      # B C A B C A
    "qx": np.array([[20, 6], [3, 50], [75, 55]], dtype=np.float32),
    "qy": np.array([2, 1, 0]),               # C B A
}

ABC_SET = DataSet(
    name="abc",
    description="homework #1's table: 6 training and 3 test rows of weight and skin colour (built into the grader)",
    split=lambda _: {"x_train": ABC["ax"], "y_train": ABC["ay"], "x_test": ABC["qx"], "y_test": ABC["qy"]},
)


# --- the table -------------------------------------------------------------------------------------

TABLE: dict[str, DataSet] = {e.name: e for e in (MNIST, FASHION_MNIST, BANKNOTE, NOISYNOTE, ABC_SET)}


def get(name: str) -> DataSet:
    """The entry of ``name``; a ``GraderError`` naming the known data sets when there is none."""
    try:
        return TABLE[name]
    except (KeyError, TypeError):
        raise GraderError(f"unknown data set {name!r}: choose one of {', '.join(TABLE)}") from None


def register(entry: DataSet) -> None:
    """Add ``entry`` to this process's table (for code that extends the grader without editing ``TABLE``)."""
    if entry.name in TABLE:
        raise GraderError(f"a data set named {entry.name!r} is already in the table")
    for dep in entry.built_from:
        get(dep)
    TABLE[entry.name] = entry


def unregister(name: str) -> None:
    """Take ``name`` out of this process's table again (a test's clean-up)."""
    get(name)
    del TABLE[name]


def fetchable() -> list[str]:
    """The data sets that have a cache folder to fill: all but those built into the grader."""
    return [e.name for e in TABLE.values() if e.files]


def wheels() -> list[Wheel]:
    """The registry's wheels the data sets come from, each once, in table order."""
    return list(dict.fromkeys(e.wheel.wheel for e in TABLE.values() if e.wheel))


def served() -> dict[str, dict[str, Any]]:
    """What the probe serves offline in the student's process, as the job's spec carries it (JSON).

    ``{name: {"keras": [module, ...], "torchvision": class name or None}}``; the arrays are read from
    ``<data_root>/<name>`` with ``load_arrays``.
    """
    return {e.name: {"keras": list(e.keras.modules) if e.keras else [], "torchvision": e.torchvision}
            for e in TABLE.values() if e.served}
