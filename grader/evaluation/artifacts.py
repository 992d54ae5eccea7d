"""Readers of what the student's process left in its artifacts folder: the bottom of the trusted evaluation.

Everything here is untrusted input (docs/architecture.md): each reader caps the size it reads, refuses pickles and
raises ``errors.Untrusted`` (or names the fault) rather than letting a crafted file crash the evaluator.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import Untrusted
from ..text import Text

MAX_JSON_BYTES = 8 * 2**20
MAX_ARRAY_BYTES = 1 * 2**30
MAX_MODEL_BYTES = 1 * 2**30
#: A Keras archive holds config.json, metadata.json and the weights (plus assets for a few layers).
MAX_MODEL_MEMBERS = 64
MAX_MODEL_UNPACKED_BYTES = 2 * 2**30


def read_json(path: Path, default: Any = None) -> Any:
    if not path.is_file():
        return default
    if path.stat().st_size > MAX_JSON_BYTES:
        raise Untrusted(f"{path.name} is larger than {MAX_JSON_BYTES} bytes")
    try:
        return json.loads(path.read_text(errors="replace"))
    except json.JSONDecodeError as e:
        raise Untrusted(f"{path.name} is not valid JSON: {e}") from e


def read_events(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    events = []
    with open(path, errors="replace") as f:
        for line in f.read(MAX_JSON_BYTES).splitlines():
            try:
                ev = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(ev, dict) and isinstance(ev.get("event"), str):
                events.append(ev)
    return events


def read_array(path: Path, kinds: str = "biuf") -> np.ndarray | None:
    if not path.is_file():
        return None
    if path.stat().st_size > MAX_ARRAY_BYTES:
        raise Untrusted(f"{path.name} is larger than {MAX_ARRAY_BYTES} bytes")
    try:
        a = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise Untrusted(f"{path.name} is not a NumPy array file: {e}") from e
    if not isinstance(a, np.ndarray) or a.dtype.kind not in kinds or a.ndim < 1:
        raise Untrusted(f"{path.name} holds {getattr(a, 'dtype', type(a))}, not numbers")
    return a


def archive_problem(path: Path) -> Text | None:
    """What makes ``path`` unfit to be loaded as a ``.keras`` file, read as a plain zip.

    The student's process can overwrite the file the probe saved, so before Keras reads it: its size,
    its members' names (no path outside the archive), their unpacked sizes (no zip bomb) and a
    config.json that is a JSON object naming a class. None for a file that passes (or is absent).
    """
    if not path.is_file():
        return None
    if path.stat().st_size > MAX_MODEL_BYTES:
        return Text(f"it is larger than {MAX_MODEL_BYTES // 2**20} MiB",
                    f"ele tem mais de {MAX_MODEL_BYTES // 2**20} MiB")
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > MAX_MODEL_MEMBERS:
                return Text(f"it holds {len(members)} files", f"ele contém {len(members)} arquivos")
            for m in members:
                parts = m.filename.replace("\\", "/").split("/")
                if m.filename.startswith("/") or ".." in parts or "\0" in m.filename:
                    return Text(f"it holds a file outside the archive ({m.filename[:100]!r})",
                                f"ele contém um arquivo fora do arquivo compactado ({m.filename[:100]!r})")
            unpacked = sum(m.file_size for m in members)
            if unpacked > MAX_MODEL_UNPACKED_BYTES:
                return Text(f"it unpacks to {unpacked // 2**20} MiB",
                            f"ele descompactado ocupa {unpacked // 2**20} MiB")
            names = {m.filename for m in members}
            if "config.json" not in names or not names & {"model.weights.h5", "model.weights.npz"}:
                return Text("it lacks config.json or the weights (model.weights.h5)",
                            "faltam nele o config.json ou os pesos (model.weights.h5)")
            if archive.getinfo("config.json").file_size > MAX_JSON_BYTES:
                return Text(f"its config.json is larger than {MAX_JSON_BYTES // 2**20} MiB",
                            f"seu config.json tem mais de {MAX_JSON_BYTES // 2**20} MiB")
            with archive.open("config.json") as f:
                raw = f.read(MAX_JSON_BYTES + 1)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
        return Text(f"it is not a readable zip archive ({type(e).__name__}: {str(e)[:200]})",
                    f"ele não é um arquivo zip legível ({type(e).__name__}: {str(e)[:200]})")
    try:
        config = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        return Text(f"its config.json is not JSON ({str(e)[:200]})", f"seu config.json não é JSON ({str(e)[:200]})")
    if not (isinstance(config, dict) and isinstance(config.get("class_name"), str)):
        return Text("its config.json does not describe a Keras model", "seu config.json não descreve um modelo Keras")
    return None


def archive_config(path: Path) -> dict[str, Any]:
    """The model's config.json, read as plain JSON from an archive ``archive_problem`` passed ({} if unreadable)."""
    try:
        with zipfile.ZipFile(path) as archive, archive.open("config.json") as f:
            config = json.loads(f.read(MAX_JSON_BYTES + 1))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, OSError, EOFError, ValueError, NotImplementedError):
        return {}
    return config if isinstance(config, dict) else {}
