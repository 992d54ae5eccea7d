"""Isolation of a student's process (DESIGN §7).

Levels, best first, recorded in every result:

- ``bwrap``: bubblewrap. New network, PID, IPC and UTS namespaces (no network;
  leftover and daemonised processes die with the sandbox); the whole file
  system read-only, except the job's work dir (also seen as Colab's
  ``/content``) and artifacts dir; a private ``/tmp``; the grader's home hidden except what Python and the data need; the
  course's ``solutions/``, the results and the other submissions hidden; all
  capabilities dropped; a new session (no terminal injection).
- ``netns``: ``unshare -n`` only (no network), where bubblewrap is missing.
- ``none``: neither works; the grader warns loudly.
"""

from __future__ import annotations

import functools
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

from ..config import PACKAGE_DIR, cache_dir


def _works(cmd: list[str]) -> bool:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@functools.cache
def detect() -> str:
    if os.environ.get("KERAS_GRADER_ISOLATION") in ("netns", "none"):  # for testing the fallbacks
        return os.environ["KERAS_GRADER_ISOLATION"]
    bwrap = shutil.which("bwrap")
    if bwrap and _works([bwrap, "--unshare-net", "--unshare-pid", "--die-with-parent", "--ro-bind", "/", "/",
                         "--dev", "/dev", "--proc", "/proc", "true"]):
        return "bwrap"
    unshare = shutil.which("unshare")
    if unshare and _works([unshare, "-n", "true"]):
        return "netns"
    return "none"


def _under(path: Path, parent: Path) -> bool:
    try:
        path.resolve().relative_to(parent.resolve())
        return True
    except ValueError:
        return False


def _needed() -> list[Path]:
    """What the child must see even in a hidden home or /tmp: Python, its packages, the grader, the data."""
    paths = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(sys.executable).parent,
             PACKAGE_DIR.parent, cache_dir()}
    paths.update(Path(p) for p in site.getsitepackages() + [site.getusersitepackages()])
    return sorted(p for p in paths if p.exists())


COLAB_ROOT = "/content"  # Colab's working folder; the handout's recipes write there


def _root_entries() -> list[str]:
    """The host's top-level entries, mounted one by one (read-only) so /content can be added."""
    args = []
    for entry in sorted(os.scandir("/"), key=lambda e: e.name):
        path = f"/{entry.name}"
        if path in ("/proc", "/dev", "/tmp", COLAB_ROOT):
            continue
        if entry.is_symlink():
            args += ["--symlink", os.readlink(path), path]
        else:
            args += ["--ro-bind", path, path]
    return args


def wrap(cmd: list[str], *, isolation: str, writable: list[Path], readable: list[Path],
         hidden: list[Path], content: Path | None = None) -> list[str]:
    """``cmd`` run under the given isolation level; ``content`` is also seen as /content (bwrap only)."""
    if isolation == "netns":
        return [shutil.which("unshare") or "unshare", "-n", "--", *cmd]
    if isolation != "bwrap":
        return cmd
    args = [shutil.which("bwrap") or "bwrap", "--die-with-parent", "--new-session", "--unshare-net",
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--cap-drop", "ALL",
            *_root_entries(), "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/dev/shm"]
    for dev in sorted(Path("/dev").glob("nvidia*")):  # GPU jobs keep their devices
        args += ["--dev-bind", str(dev), str(dev)]
    # /tmp is private and the home folder hidden; what the child needs from either is mounted back
    masked = [Path("/tmp")]
    home = Path.home()
    if home != Path("/") and home.is_dir():
        args += ["--tmpfs", str(home)]
        masked.append(home)
    for p in _needed():
        if any(_under(p, m) and p.resolve() != m.resolve() for m in masked):
            args += ["--ro-bind", str(p), str(p)]
    keep = [*_needed(), *writable, *readable]
    for p in hidden:  # after the binds above: solutions/ inside an editable checkout stays hidden
        # never hide a folder that holds what the child needs (a submission in /tmp or in $HOME)
        if p.is_dir() and not any(_under(k, p) for k in keep):
            args += ["--tmpfs", str(p.resolve())]
    for p in readable:
        args += ["--ro-bind", str(p), str(p)]
    for p in writable:
        args += ["--bind", str(p), str(p)]
    if content is not None:
        args += ["--bind", str(content), COLAB_ROOT]
    return [*args, "--remount-ro", "/", "--", *cmd]


def tree_usage(root_pid: int) -> tuple[int, int]:
    """Resident memory (bytes) and number of processes of ``root_pid`` and all its descendants."""
    parent: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        parent[int(entry.name)] = int(fields[1])
    children: dict[int, list[int]] = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    page = os.sysconf("SC_PAGE_SIZE")
    rss, count, stack = 0, 0, [root_pid]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/statm") as f:
                rss += int(f.read().split()[1]) * page
            count += 1
        except (OSError, IndexError, ValueError):
            pass
        stack.extend(children.get(pid, []))
    return rss, count


def tree_size(path: Path) -> int:
    """Apparent size in bytes of everything under ``path``."""
    total = 0
    stack = [path]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for e in it:
                    try:
                        if e.is_dir(follow_symlinks=False):
                            stack.append(Path(e.path))
                        else:
                            total += e.stat(follow_symlinks=False).st_size
                    except OSError:
                        continue
        except OSError:
            continue
    return total
