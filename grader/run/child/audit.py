"""What the student's process tries beyond its folder, seen from inside it (PEP 578 audit hooks).

The sandbox (``sandbox.py``) stops most of it; this hook makes it visible to the instructor. It
is installed before any student code (``main.py`` for scripts, the first hidden cell of a
notebook kernel) and, like every audit hook, cannot be removed. For each attempt it records the
student's line that made it (in a notebook: the cell and its line) into ``audit.jsonl`` in the
artifacts: opening files outside the job's folders (read or write), deleting there, socket
connections and servers, starting programs, signalling processes. It records facts only; the
trusted evaluator (``grader/evaluation/attempts.py``) decides what the instructor must look at.

An attempt is something the student's code did. Each event that passes the path filters is
attributed by walking its Python stack outwards (``Recorder.locate``): the innermost frame of the
submission (the script, or a cell the kernel ran for the notebook) is the line that acted, and the
innermost library frame inside it, if any, the library it called (``via``: ``np.loadtxt`` on
another student's file is that student line's attempt). A stack with no student frame but with a
frame of the grader (the driver, the probe, a hidden cell) or of the Jupyter kernel's machinery
(ipykernel, ZeroMQ, tornado: its threads, its shutdown listing the machine's processes with
psutil; IPython on the thread that runs the cells) is theirs, and is not recorded. An event with
neither (a thread or exit handler the program started on a library or built-in function) is
recorded with no line. What happens in the grader's own folders (the job's temporary folder, the
torch probe's short folder for multiprocessing's sockets, declared with ``allow``) is never an
attempt. The hook is a witness, not a barrier: code in the process can always lie to it; the
sandbox is what stops the attempt.

It must cost nothing measurable: the hook runs on every audited event (about 100,000 in a Keras
job, mostly imports, compilations and attribute lookups). An unwatched event costs one dict
lookup; reading a file under Python's own folders (every import) one ``str.startswith``. Only an
event the filters keep walks the stack (``sys._getframe``; a few comparisons a frame, under 100 µs
for 40 frames on a busy machine). Each kind is recorded at most ``PER_KIND`` times, repeats of the same
attempt from the same line once. The hook never raises, except to refuse the student's own
opening or removing of its log.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import site
import sys
import time
from _thread import get_ident
from typing import Any

from ...handover import AUDIT_LOG, ChildSpec

PER_KIND = 50
_WRITE = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
#: Read by libraries in every job (fonts, time zones, CPU and GPU detection): no attempt to report.
_SYSTEM_READ = ("/usr/", "/lib/", "/lib32/", "/lib64/", "/libx32/", "/bin/", "/sbin/", "/etc/", "/opt/", "/sys/",
                "/dev/", "/run/", "/snap/", "/nix/", "/var/lib/", "/var/cache/", "/proc/self/", "/proc/thread-self/")
#: Written by libraries and harmless (subprocess's /dev/null, shared memory, GPU devices, the process's own settings).
_QUIET_WRITE = ("/dev/null", "/dev/shm/", "/dev/nvidia", "/dev/tty", "/dev/pts/", "/proc/self/", "/proc/thread-self/")
_HERE = os.path.abspath(__file__)
#: The grader's package (``grader/``): the driver, the probe, the hidden cells' imports.
_GRADER = os.path.dirname(os.path.dirname(os.path.dirname(_HERE)))
#: The Colab stubs the student's cells call (``google.colab``): a library to the student, not the grader at work.
_STUBS = os.path.join(os.path.dirname(_HERE), "stubs")
#: The Jupyter kernel's machinery, in site-packages: a stack through these and no cell is the kernel at work.
_KERNEL = ("ipykernel/", "ipykernel_launcher.py", "jupyter_client/", "jupyter_core/", "zmq/", "tornado/",
           "traitlets/", "comm/", "debugpy/")
#: IPython runs the cells, on the thread that runs them. In any other thread an IPython frame is a function of the
#: shell the student's code called: the ``open`` a cell sees is IPython's wrapper of it, ``get_ipython().system``.
_SHELL = ("IPython/",)
#: Package metadata beside the grader's package (``keras_grader.egg-info`` of an editable install), which
#: ``importlib.metadata`` reads when a library lists the installed distributions (JAX at import).
_METADATA = (".egg-info", ".dist-info")


class _LogRefused(PermissionError):
    """Raised into the student's code when it opens or removes the audit log."""


def _roots(paths: list[str | None]) -> tuple[str, ...]:
    """Folders as ``str.startswith`` prefixes (as given and resolved, ending in a slash); never ``/`` itself."""
    out = {form.rstrip("/") + "/" for p in paths if p for form in (os.path.abspath(p), os.path.realpath(p))}
    return tuple(sorted(out - {"/"}))


def cell_keys(sources: dict[int, str]) -> dict[str, list[int]]:
    """Notebook cell numbers by the hash of their source, so the kernel can tell which cell runs."""
    keys: dict[str, list[int]] = {}
    for number, source in sources.items():
        keys.setdefault(_digest(source), []).append(number)
    return keys


def _digest(source: str) -> str:
    return hashlib.sha1(source.encode("utf-8", "replace")).hexdigest()


def _address(address: Any) -> tuple[str, int | None]:
    """A socket address as text, and its port (None for Unix sockets and other families)."""
    if isinstance(address, tuple) and len(address) >= 2 and isinstance(address[1], int):
        host = str(address[0])
        return (f"[{host}]:{address[1]}" if ":" in host else f"{host}:{address[1]}"), address[1]
    if isinstance(address, (bytes, bytearray)):
        return os.fsdecode(bytes(address)) or "(abstract Unix socket)", None
    return str(address)[:300], None


def _command(args: Any) -> str:
    """A program's command line as one string (shell-quoted when it came as a list)."""
    if isinstance(args, (str, bytes, os.PathLike)):
        return os.fsdecode(args)
    try:
        return shlex.join(os.fsdecode(a) if isinstance(a, (bytes, os.PathLike)) else str(a) for a in args)
    except TypeError:
        return repr(args)[:300]


class Recorder:
    """The hook's state: where the job may read and write, the log, what was recorded."""

    def __init__(self, spec: ChildSpec):
        self.script = os.path.abspath(spec.script)
        work = os.path.dirname(self.script)
        art = os.path.realpath(spec.artifacts)
        self.log_path = os.path.join(art, AUDIT_LOG)
        self.writable = _roots([work, art, "/content", os.environ.get("TMPDIR")])  # /content: Colab's name for work
        self.readable = self.writable + _roots([spec.data_root, os.path.dirname(art)])
        self.python = _roots([sys.prefix, sys.base_prefix, sys.exec_prefix, _GRADER,
                              *site.getsitepackages(), site.getusersitepackages()])
        self.sitepkgs = _roots([*site.getsitepackages(), site.getusersitepackages()])
        self.checkout = _roots([os.path.dirname(_GRADER)])  # on the child's sys.path (PYTHONPATH)
        self.libraries = self.sitepkgs + _roots([_STUBS])  # what ``via`` names
        self.stubs = _roots([_STUBS])
        self.machinery = _roots([_GRADER]) + tuple(root + name for root in self.sitepkgs for name in _KERNEL)
        self.shell_thread = get_ident()  # installed by the driver, or by a hidden cell: where cells run
        self.shell_code = tuple(root + name for root in self.sitepkgs for name in _SHELL)
        self.shell_machinery = self.machinery + self.shell_code
        self.quiet_read = self.readable + self.python + _SYSTEM_READ
        self.counts: dict[str, int] = {}
        self.seen: set[tuple[Any, ...]] = set()
        self.shell: Any = None                       # the IPython shell, in a notebook kernel
        self.cells: dict[str, list[int]] = {}        # source hash -> notebook cell numbers not yet run
        self.runs: dict[str, tuple[int | None, list[str]]] = {}  # cell file name -> (cell number, its lines)
        self.script_lines: list[str] = []
        try:
            with open(self.script, encoding="utf-8", errors="replace") as f:
                self.script_lines = f.read().splitlines()
        except OSError:
            pass
        self._open_log()

    # --- the log ---------------------------------------------------------------------------------------
    def _open_log(self) -> None:
        self.fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        st = os.fstat(self.fd)
        self.identity, self.pid = (st.st_dev, st.st_ino), os.getpid()

    def _write(self, entry: dict[str, Any]) -> None:
        try:  # the student may have closed our descriptor (os.closerange) and reused its number
            st = os.fstat(self.fd)
            intact = (st.st_dev, st.st_ino) == self.identity
        except OSError:
            intact = False
        if not intact:
            forked = os.getpid() != self.pid  # a forked child about to exec closes every descriptor (pexpect)
            self._open_log()
            if not forked:
                self._emit({"event": "attempt", "kind": "tamper", "target": self.log_path, "how": "close",
                            "t": round(time.time(), 3)})
        self._emit(entry)

    def _emit(self, entry: dict[str, Any]) -> None:
        os.write(self.fd, (json.dumps(entry) + "\n").encode())

    def allow(self, folder: str) -> None:
        """A folder the grader itself makes in the student's process: what happens in it is no attempt."""
        self.writable = tuple(sorted(set(self.writable + _roots([folder]))))
        self.readable = tuple(sorted(set(self.readable + self.writable)))
        self.quiet_read = self.readable + self.python + _SYSTEM_READ

    def record(self, kind: str, target: str, **extra: Any) -> None:
        n = self.counts.get(kind, 0)
        if n > PER_KIND:
            return
        where = self.locate()
        if where is None:
            return  # the grader's or the kernel's own doing
        key = (kind, target, where.get("line"), where.get("cell"))
        if key in self.seen:
            return
        self.seen.add(key)
        self.counts[kind] = n + 1
        if n == PER_KIND:
            self._write({"event": "capped", "kind": kind, "limit": PER_KIND})
            return
        self._write({"event": "attempt", "kind": kind, "target": target[:300], **where, **extra,
                     "t": round(time.time(), 3)})

    # --- the student's line ------------------------------------------------------------------------------
    def watch_cells(self, shell: Any, cells: dict[str, list[int]]) -> None:
        """In a notebook kernel: learn which notebook cell each execution is (IPython's pre_run_cell)."""
        self.shell, self.cells = shell, cells
        shell.events.register("pre_run_cell", self._pre_run_cell)

    def _pre_run_cell(self, info: Any) -> None:
        if not getattr(info, "store_history", False):
            return  # the grader's hidden cells: never the student's frames
        raw = str(getattr(info, "raw_cell", "") or "")
        queue = self.cells.get(_digest(raw))
        shell = self.shell
        # the file name IPython is about to compile this cell under (ipykernel: a hash of its source)
        name = shell.compile.get_code_name(raw, shell.transform_cell(raw), shell.execution_count)
        self.runs[name] = (queue.pop(0) if queue else None, raw.splitlines())

    def locate(self) -> dict[str, Any] | None:
        """Who acted: the innermost frame of the student's code, and the innermost library frame inside it
        (``via``); None when no student frame is on the stack and the grader's or the kernel's is."""
        frame: Any = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename == _HERE:
            frame = frame.f_back  # the hook's own frames: the first one after them raised the event
        via = None
        machinery, ours = False, self.shell_machinery if get_ident() == self.shell_thread else self.machinery
        script, runs = self.script, self.runs
        while frame is not None:
            filename = frame.f_code.co_filename
            # the student's: the script, or a cell the kernel ran (its number, its lines)
            found = (None, self.script_lines) if filename == script else runs.get(filename)
            if found is not None:
                cell, lines = found
                line = frame.f_lineno
                text = lines[line - 1].strip()[:200] if 0 < line <= len(lines) else ""
                out: dict[str, Any] = {"line": line, "code": text, "via": via}
                if self.shell is not None:
                    out["cell"] = cell
                return out
            if via is None and filename.startswith(self.libraries) and not filename.startswith(self.shell_code):
                via = self._short(filename, frame.f_lineno)
            if not machinery and filename.startswith(ours) and not filename.startswith(self.stubs):
                machinery = True
            frame = frame.f_back
        return None if machinery else {"line": None, "code": None, "via": via}

    def _short(self, filename: str, line: int) -> str:
        root = next(r for r in self.libraries if filename.startswith(r))
        return f"{filename[len(root):]}:{line}"

    # --- the events ------------------------------------------------------------------------------------
    def _path(self, path: Any, dir_fd: Any = None) -> str | None:
        if isinstance(path, int):
            return None  # an open descriptor: its path was checked when it was opened
        path = os.fsdecode(path)
        if isinstance(dir_fd, int) and not os.path.isabs(path):  # shutil.rmtree removes by names in a folder
            try:
                path = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), path)
            except OSError:
                pass
        return os.path.realpath(path)

    def _guard_log(self, full: str, what: str) -> None:
        if full == self.log_path:
            self.record("tamper", full, how=what)
            raise _LogRefused(13, "the grader's audit log cannot be opened or removed", full)

    def on_open(self, args: tuple[Any, ...]) -> None:
        path, _mode, flags = args
        write = isinstance(flags, int) and flags & _WRITE
        if not write and isinstance(path, str) and path.startswith(self.python):
            return  # imports: the hot path
        full = self._path(path)
        if full is None:
            return
        self._guard_log(full, "open")
        if _inside(full, self.writable):
            return
        if write:
            if not full.startswith(_QUIET_WRITE):
                self.record("write", full)
        elif not full.startswith(self.quiet_read) and not _plain_proc(full) and not self._metadata(full):
            self.record("read", full)

    def _metadata(self, path: str) -> bool:
        """A file of the package metadata beside the grader's package (read by ``importlib.metadata``)."""
        if not path.startswith(self.checkout):
            return False
        root = next(r for r in self.checkout if path.startswith(r))
        return path[len(root):].split("/", 1)[0].endswith(_METADATA)

    def on_change(self, args: tuple[Any, ...], paths: int = 1, kind: str = "delete", folders: bool = True) -> None:
        """Removing, renaming, truncating or hard-linking files: the first ``paths`` arguments are paths, and (where
        ``folders``) the next ``paths`` the descriptors of the folders relative ones are in."""
        for i, path in enumerate(args[:paths]):
            full = self._path(path, args[paths + i] if folders and len(args) > paths + i else None)
            if full is None:
                continue
            self._guard_log(full, "remove")
            if not _inside(full, self.writable):
                self.record(kind, full)

    def on_socket(self, kind: str, args: tuple[Any, ...]) -> None:
        target, port = _address(args[1])
        if kind == "bind" and port == 0:
            return  # libraries probe for IPv6 by binding an ephemeral port (urllib3 at import)
        if port is None and _inside(os.path.realpath(target), self.writable):
            return  # a Unix socket in the job's own folder (multiprocessing)
        self.record(kind, target)

    def on_spawn(self, command: Any) -> None:
        self.record("spawn", _command(command)[:300])

    def on_signal(self, pid: int, sig: int, group: bool) -> None:
        self.record("signal", f"{'group' if group else 'process'} {pid}", signal=sig,
                    relation=_relation(pid, group))

    def hook(self) -> Any:
        """The audit hook, a closure: one dict lookup for the events it does not watch."""
        rec = self
        handlers = {
            "open": rec.on_open,
            "os.remove": rec.on_change, "os.rmdir": rec.on_change, "shutil.rmtree": rec.on_change,
            "os.rename": lambda a: rec.on_change(a, paths=2),
            "os.truncate": lambda a: rec.on_change(a, kind="write", folders=False),
            "os.link": lambda a: rec.on_change(a, paths=2, kind="write"),
            "socket.connect": lambda a: rec.on_socket("connect", a),
            "socket.sendto": lambda a: rec.on_socket("connect", a),
            "socket.bind": lambda a: rec.on_socket("bind", a),
            "subprocess.Popen": lambda a: rec.on_spawn(a[1] if a[1] is not None else a[0]),
            "os.system": lambda a: rec.on_spawn(a[0]),
            "os.exec": lambda a: rec.on_spawn(a[1]),
            "os.posix_spawn": lambda a: rec.on_spawn(a[1]),
            "os.spawn": lambda a: rec.on_spawn(a[2]),
            "os.kill": lambda a: rec.on_signal(a[0], a[1], group=False),
            "os.killpg": lambda a: rec.on_signal(a[0], a[1], group=True),
        }
        get = handlers.get
        busy: set[int] = set()  # threads inside a handler: the hook's own file reads are not attempts

        def audit(event: str, args: tuple[Any, ...]) -> None:
            handler = get(event)
            if handler is None:
                return
            thread = get_ident()
            if thread in busy:
                return
            busy.add(thread)
            try:
                handler(args)
            except _LogRefused:
                raise
            except Exception:  # noqa: BLE001 - a witness never breaks the student's program
                pass
            finally:
                busy.discard(thread)

        return audit


def _inside(path: str, roots: tuple[str, ...]) -> bool:
    """Whether ``path`` is one of ``roots`` (``_roots``'s prefixes) or lies in one."""
    return path.startswith(roots) or path + "/" in roots


def _plain_proc(path: str) -> bool:
    """/proc files about the machine (cpuinfo, meminfo), not about another process."""
    if not path.startswith("/proc/"):
        return False
    first = path[6:].split("/", 1)[0]
    return not first.isdigit() or first == str(os.getpid())


def _relation(pid: int, group: bool) -> str:
    """Who a signal goes to, seen from the sender: self, child, parent, own_group, group, all or other."""
    if group:
        return "own_group" if pid in (0, os.getpgrp()) else "group"
    if pid == -1:
        return "all"
    if pid == 0:
        return "own_group"
    if pid < 0:
        return "own_group" if -pid == os.getpgrp() else "group"
    if pid == os.getpid():
        return "self"
    if pid == os.getppid():
        return "parent"
    ancestor, me = pid, os.getpid()
    for _ in range(64):  # a descendant of this process?
        try:
            with open(f"/proc/{ancestor}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            return "other"
        ancestor = int(stat[stat.rfind(b")") + 2:].split()[1])
        if ancestor == me:
            return "child"
        if ancestor <= 1:
            return "other"
    return "other"


_installed: Recorder | None = None


def install(spec: ChildSpec, *, shell: Any = None, cells: dict[str, list[int]] | None = None) -> None:
    """Install the hook in this process (once): before any student code runs."""
    global _installed
    if _installed is None:
        _installed = Recorder(spec)
        sys.addaudithook(_installed.hook())
    if shell is not None:
        _installed.watch_cells(shell, cells or {})


def allow(folder: str) -> None:
    """Tell the hook, if installed, of a folder the grader makes in the student's process (the torch probe's
    short folder for multiprocessing's sockets): reading, writing and removing it are not attempts."""
    if _installed is not None:
        _installed.allow(folder)

