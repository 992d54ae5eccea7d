"""Reading untrusted archives and folders: every member is checked before a byte of it is used.

A member is refused (reported, never written) when its name is absolute or climbs out with `..`,
when it is a symbolic link (zip's external attributes, or a link in a cloned repository), when it
declares more bytes than the per-member cap or than what is left of the total cap, or when its
data does not match what it declares (a lying header or a corrupt member: `zipfile` never
inflates past the declared size and checks the CRC at the end, so a zip bomb stops there).
"""

from __future__ import annotations

import io
import os
import stat
import time
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..text import Text

#: Caps on what an import reads: one member, everything together, how many members. A course's
#: notebooks with their outputs stay well under 50 MiB; a class of 200 under 2 GiB.
MAX_MEMBER_BYTES = 50 * 2**20
MAX_TOTAL_BYTES = 2 * 2**30
MAX_MEMBERS = 50_000
#: A zip uploaded in a submission is expanded, and a zip inside that one; deeper ones are kept as they are.
MAX_DEPTH = 2


@dataclass
class Budget:
    """What is left to read of the caps, shared by an archive and the archives nested in it."""

    bytes_left: int = MAX_TOTAL_BYTES
    members_left: int = MAX_MEMBERS
    member_cap: int = MAX_MEMBER_BYTES


@dataclass
class Entry:
    """One member read: its path inside the archive (forward slashes), bytes and modification time."""

    path: str
    data: bytes
    mtime: float | None
    is_dir: bool = False


@dataclass
class Refused:
    """A member that was not read, and why."""

    path: str
    reason: Text


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def unsafe_name(name: str) -> Refused | None:
    """Why a member's name may not be used (absolute, `..`, drive letter, NUL), or None."""
    posix = name.replace("\\", "/")
    parts = PurePosixPath(posix).parts
    if "\0" in name:
        return Refused(name, Text("its name holds a NUL byte", "o nome contém um byte NUL"))
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":"):
        return Refused(name, Text("absolute path: it would be written outside the target folder",
                                  "caminho absoluto: seria gravado fora da pasta de destino"))
    if ".." in parts:
        return Refused(name, Text("path with '..': it would be written outside the target folder",
                                  "caminho com '..': seria gravado fora da pasta de destino"))
    return None


def _too_large(path: str, size: int, budget: Budget) -> Refused | None:
    if size > budget.member_cap:
        return Refused(path, Text(f"too large: {_mib(size)} (the cap per file is {_mib(budget.member_cap)})",
                                  f"grande demais: {_mib(size)} (o limite por arquivo é {_mib(budget.member_cap)})"))
    if size > budget.bytes_left:
        return Refused(path, Text("the import's total size cap is reached; import the rest separately",
                                  "o limite total da importação foi atingido; importe o restante separadamente"))
    if budget.members_left <= 0:
        return Refused(path, Text("too many files in the archive", "arquivos demais no arquivo compactado"))
    return None


def link_refused(path: str) -> Refused:
    return Refused(path, Text("symbolic link: it could point outside the target folder",
                              "link simbólico: poderia apontar para fora da pasta de destino"))


def read_zip(source: Path | bytes, budget: Budget, prefix: str = "") -> Iterator[Entry | Refused]:
    """Each member of a zip, checked; `prefix` names the outer member of a nested zip in reports."""
    label = prefix.rstrip("/") or (source.name if isinstance(source, Path) else "archive")
    try:
        archive = zipfile.ZipFile(source if isinstance(source, Path) else io.BytesIO(source))
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        yield Refused(label, Text(f"not a readable zip archive ({e})", f"não é um arquivo zip legível ({e})"))
        return
    with archive:
        for info in archive.infolist():
            path = prefix + info.filename.replace("\\", "/")
            problem = unsafe_name(info.filename)
            if problem is None and stat.S_ISLNK(info.external_attr >> 16):
                problem = link_refused(path)
            if problem is None and not info.is_dir():
                problem = _too_large(path, info.file_size, budget)
            if problem is not None:
                problem.path = path
                yield problem
                continue
            try:
                mtime: float | None = time.mktime((*info.date_time, 0, 0, -1))
            except (OverflowError, ValueError):  # a forged date: the member is still read, just not dated
                mtime = None
            if info.is_dir():
                yield Entry(path.rstrip("/"), b"", mtime, is_dir=True)
                continue
            try:
                with archive.open(info) as f:
                    data = f.read(info.file_size + 1)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as e:
                # a CRC or size mismatch: the header lies about the data (a zip bomb's trick) or it is damaged
                yield Refused(path, Text(f"its data does not match its header ({e}): damaged or forged",
                                         f"os dados não conferem com o cabeçalho ({e}): danificado ou forjado"))
                continue
            if len(data) != info.file_size:
                yield Refused(path, Text("holds more or less data than it declares: damaged or forged",
                                         "contém mais ou menos dados do que declara: danificado ou forjado"))
                continue
            budget.bytes_left -= len(data)
            budget.members_left -= 1
            yield Entry(path, data, mtime)


def walk_folder(root: Path, budget: Budget, skip_dirs: tuple[str, ...] = (".git",)) -> Iterator[Entry | Refused]:
    """Each regular file under root (links and special files refused, never followed)."""
    for folder, dirs, files in os.walk(root, followlinks=False):
        here = Path(folder)
        for d in list(dirs):
            if d in skip_dirs:
                dirs.remove(d)  # version control, not the student's work
            elif (here / d).is_symlink():
                dirs.remove(d)
                files.append(d)  # reported below as a link
        for name in sorted(files):
            path = here / name
            rel = path.relative_to(root).as_posix()
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                yield link_refused(rel)
                continue
            if not stat.S_ISREG(info.st_mode):
                yield Refused(rel, Text("not a regular file", "não é um arquivo comum"))
                continue
            if (problem := _too_large(rel, info.st_size, budget)) is not None:
                yield problem
                continue
            with open(path, "rb") as f:  # read no more than was checked, should the file grow meanwhile
                data = f.read(info.st_size)
            budget.bytes_left -= len(data)
            budget.members_left -= 1
            yield Entry(rel, data, info.st_mtime)
