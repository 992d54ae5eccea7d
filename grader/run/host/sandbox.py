"""Isolation of a student's process (docs/sandbox.md).

Every level gives the same contract, recorded as ``isolation`` in every result:

- its own network namespace: no network, but a loopback that works (Jupyter kernels talk to their
  driver over ZMQ on 127.0.0.1), separate from the host's 127.0.0.1;
- its own PID, IPC and UTS namespaces and a new session: it cannot see or signal the grader, the
  other jobs or the user's processes, and whatever it leaves behind dies with the sandbox;
- the whole file system read-only except the job's work dir (also seen as Colab's ``/content``) and
  artifacts dir; a private ``/tmp`` and ``/dev/shm``; the grader's home, the course's
  ``solutions/``, the results and the other submissions hidden; what the child needs from a hidden
  folder (Python, its packages, the grader, the data cache) mounted back read-only;
- no capabilities, and, where the grader runs as root, the unprivileged user ``nobody``.

Levels, best first:

- ``bwrap``: bubblewrap builds it.
- ``unshare``: util-linux builds it (``unshare`` for the namespaces, ``jail.py`` for the mounts
  and the loopback, ``setpriv`` for the user and capabilities), where bubblewrap is missing.
- ``none``: no isolation; only on the explicit ``--no-sandbox`` request. Without it the grader
  refuses to run student code (``choose``).

``KERAS_GRADER_ISOLATION=bwrap|unshare|none`` forces a level (tests run each one).
"""

from __future__ import annotations

import functools
import os
import pwd
import shutil
import site
import subprocess
import sys
from pathlib import Path

from ...config import PACKAGE_DIR, cache_dir
from ...errors import SandboxUnavailable
from ...text import Text

LEVELS = ("bwrap", "unshare")  # best first
FORCE_ENV = "KERAS_GRADER_ISOLATION"
COLAB_ROOT = "/content"  # Colab's working folder; the handout's recipes write there
TMPFS_BYTES = 1 << 30    # private /tmp and /dev/shm (beyond the job's memory cgroup, when there is one)
JAIL = Path(__file__).with_name("jail.py")


REFUSAL = (
    "no sandbox works on this machine, so student code is not run. Install bubblewrap "
    "(apt-get install bubblewrap), or run where unprivileged user namespaces are allowed (util-linux's "
    "unshare then isolates, e.g. sysctl kernel.unprivileged_userns_clone=1), or run the grader as root. "
    "To run student code WITHOUT isolation anyway (only code you trust), add --no-sandbox.\n"
    "nenhum sandbox funciona nesta máquina, então o código dos alunos não é executado. Instale o bubblewrap "
    "(apt-get install bubblewrap), ou rode onde namespaces de usuário sem privilégio são permitidos (o unshare "
    "do util-linux isola), ou rode o corretor como root. Para rodar o código dos alunos SEM isolamento mesmo "
    "assim (só código em que você confia), acrescente --no-sandbox."
)


def forced() -> str | None:
    value = os.environ.get(FORCE_ENV)
    return value if value in (*LEVELS, "none") else None


def detect() -> str:
    """The level student code runs at: the forced one if it works, else the best that works, else ``none``."""
    level = forced()
    if level is not None:
        return level if level == "none" or works(level) else "none"
    return next((lv for lv in LEVELS if works(lv)), "none")


def choose(no_sandbox: bool = False) -> str:
    """The level to run at: ``none`` when asked (--no-sandbox), else a working level; raises SandboxUnavailable."""
    if no_sandbox:
        return "none"
    level = detect()
    if level == "none":
        raise SandboxUnavailable(REFUSAL + (f"\n({FORCE_ENV}={forced()} is set.)" if forced() else ""))
    return level


def works(level: str) -> bool:
    """Whether ``level`` can build its whole sandbox here (probed once per process with ``true``)."""
    return _fault(level) is None


#: The program that builds each level, as a person knows it.
PROGRAMS = {"bwrap": ("bwrap", "bubblewrap"), "unshare": ("unshare", "util-linux's unshare")}


@functools.cache
def _fault(level: str) -> Text | None:
    """Why ``level`` cannot build its sandbox here (its program missing, or its own first line of error), or None."""
    program, name = PROGRAMS[level]
    if shutil.which(program) is None:
        return Text(f"{name} not found", f"{name} não encontrado")
    try:
        cmd = wrap(["true"], isolation=level, writable=[], readable=[], hidden=[])
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd="/")
    except (OSError, subprocess.SubprocessError) as e:
        why = str(e)
    else:
        if proc.returncode == 0:
            return None
        why = failure(proc.stderr)
    return Text(f"{name} cannot start here ({why})", f"{name} não consegue iniciar aqui ({why})")


def explain(level: str) -> Text:
    """Why student code runs at ``level`` (``detect``'s choice, or ``none`` for --no-sandbox), said at a run's start:
    "unshare: bubblewrap not found"."""
    if level == "none":
        return Text("none: student code runs WITHOUT isolation (--no-sandbox)",
                    "none: o código dos alunos roda SEM isolamento (--no-sandbox)")
    if forced() == level:
        return Text(f"{level}: set by {FORCE_ENV}", f"{level}: definido por {FORCE_ENV}")
    passed_over = [fault for lv in LEVELS[:LEVELS.index(level)] if (fault := _fault(lv)) is not None]
    if not passed_over:
        return Text(f"{level}: the best level, and it works here", f"{level}: o melhor nível, e funciona aqui")
    return f"{level}: " + Text.same("; ").join(passed_over)


@functools.cache
def nobody() -> int | None:
    """The uid (= gid) student code runs as when the grader is root; None when the grader is not root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("nobody").pw_uid
    except KeyError:
        return 65534


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
    return sorted(p for p in paths if os.access(p, os.F_OK))  # (Path.exists raises where we may not look)


def _root_entries() -> list[tuple]:
    """The host's top-level entries, mounted one by one (read-only) so /content can be added."""
    ops: list[tuple] = []
    for entry in sorted(os.scandir("/"), key=lambda e: e.name):
        path = f"/{entry.name}"
        if path in ("/proc", "/dev", "/tmp", COLAB_ROOT):
            continue
        ops.append(("symlink", os.readlink(path), path) if entry.is_symlink() else ("ro-bind", path, path))
    return ops


def plan(*, writable: list[Path], readable: list[Path], hidden: list[Path], content: Path | None) -> list[tuple]:
    """The sandbox's file system as a list of mount operations, in order; bwrap and jail.py both build it.

    ``("ro-bind"|"bind"|"dev-bind", src, dst)``, ``("symlink", target, dst)``, ``("tmpfs", dst, bytes, mode)``,
    ``("dev", dst)``, ``("proc", dst)``, ``("dir", dst, mode)``, ``("remount-ro", dst)``.
    """
    ops = [*_root_entries(), ("dev", "/dev"), ("proc", "/proc"),
           ("tmpfs", "/tmp", TMPFS_BYTES, 0o1777), ("tmpfs", "/dev/shm", TMPFS_BYTES, 0o1777)]
    ops += [("dev-bind", str(d), str(d)) for d in sorted(Path("/dev").glob("nvidia*"))]  # GPU jobs keep their devices
    # /tmp is private and the home folder hidden; what the child needs from either is mounted back
    masked = [Path("/tmp")]
    frozen = []  # tmpfs folders made read-only once everything inside them is mounted
    home = Path.home()
    hide_home = home != Path("/") and home.is_dir()
    if hide_home:
        masked.append(home)
        frozen.append(str(home))
    mounts = [("ro-bind", str(p), str(p)) for p in _needed()
              if any(_under(p, m) and p.resolve() != m.resolve() for m in masked)]
    mounts += [("tmpfs", str(home), None, 0o755)] if hide_home else []
    ops += sorted(mounts, key=lambda op: Path(op[1]).parts)  # outer first: a home inside a checkout in /tmp
    keep, covered = [*_needed(), *writable, *readable], []
    for p in sorted({p.resolve() for p in hidden}):  # after the binds above: solutions/ in a checkout stays hidden
        # never hide a folder that holds what the child needs (a submission in /tmp or in $HOME);
        # a folder inside one already hidden (the student's own, in the class) is hidden with it
        if p.is_dir() and not any(_under(k, p) for k in keep) and not any(_under(p, c) for c in covered):
            ops.append(("tmpfs", str(p), None, 0o755))
            frozen.append(str(p))
            covered.append(p)
    ops += [("ro-bind", str(p), str(p)) for p in readable]
    ops += [("bind", str(p), str(p)) for p in writable]
    if content is not None:
        ops.append(("bind", str(content), COLAB_ROOT))
    return _with_parents([*ops, *(("remount-ro", p) for p in frozen), ("remount-ro", "/")])


def _with_parents(ops: list[tuple]) -> list[tuple]:
    """``ops`` with a ("dir", path, 0o755) before each mount whose parent folders are not there yet.

    The sandbox makes missing folders itself, but private to its owner: ``nobody`` could not cross
    them to reach a bind mount (``/tmp/keras-grader-x/work``, the Python under a hidden home).
    """
    def below(path: str, top: str) -> bool:
        return path == top or path.startswith(top.rstrip("/") + "/")

    out: list[tuple] = []
    made = {"/"}
    mounted: list[str] = []  # binds: what lies below them already exists
    for op in ops:
        kind, *args = op
        dst = args[1] if kind in ("ro-bind", "bind", "dev-bind", "symlink") else args[0]
        if kind != "remount-ro":
            for parent in reversed(Path(dst).parents):
                p = str(parent)
                if p not in made and not any(below(p, m) for m in mounted):
                    out.append(("dir", p, 0o755))
                    made.add(p)
            if kind in ("tmpfs", "dev", "proc"):  # an empty mount: what was below is gone
                mounted = [m for m in mounted if not below(m, dst)]
                made = {m for m in made if not below(m, dst) or m == dst}
            made.add(dst)
            if kind in ("ro-bind", "bind", "dev-bind"):
                mounted.append(dst)
        out.append(op)
    return out


def _drop(keep_user: bool) -> list[str]:
    """setpriv: no capabilities (now or after any exec), no new privileges, and ``nobody`` where we are root."""
    uid = None if keep_user else nobody()
    user = [f"--reuid={uid}", f"--regid={uid}", "--clear-groups"] if uid is not None else []
    return [shutil.which("setpriv") or "setpriv", *user, "--inh-caps=-all", "--bounding-set=-all",
            "--no-new-privs", "--"]


@functools.cache
def _bwrap_has(option: str) -> bool:
    try:
        return option in subprocess.run([shutil.which("bwrap") or "bwrap", "--help"], capture_output=True,
                                        text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False


def _bwrap_args(ops: list[tuple]) -> list[str]:
    args = []
    for op, *rest in ops:
        if op == "dir":
            dst, mode = rest
            args += [*(["--perms", f"{mode:o}"] if _bwrap_has("--size") else []), "--dir", dst]
        elif op == "tmpfs":
            dst, size, mode = rest
            if _bwrap_has("--size"):  # bubblewrap >= 0.8 sizes tmpfs and sets their mode; older ones: 0755, no cap
                args += [*(["--size", str(size)] if size else []), "--perms", f"{mode:o}"]
            args += ["--tmpfs", dst]
        else:
            args += [f"--{op}", *rest]
    return args


def _jail_args(ops: list[tuple]) -> list[str]:
    """The plan flattened for jail.py: each kind, then its arguments as text (modes in octal)."""
    args = []
    for kind, *rest in ops:
        if kind == "tmpfs":
            dst, size, mode = rest
            rest = [dst, "" if size is None else str(size), f"{mode:o}"]
        elif kind == "dir":
            dst, mode = rest
            rest = [dst, f"{mode:o}"]
        args += [kind, *rest]
    return args


def wrap(cmd: list[str], *, isolation: str, writable: list[Path], readable: list[Path],
         hidden: list[Path], content: Path | None = None) -> list[str]:
    """``cmd`` run under the given isolation level; ``content`` is also seen as /content."""
    if isolation == "none":
        return cmd
    ops = plan(writable=writable, readable=readable, hidden=hidden, content=content)
    if isolation == "bwrap":
        root = os.geteuid() == 0  # unprivileged, bubblewrap drops every capability itself (user namespace)
        caps = ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"] if root else []
        return [shutil.which("bwrap") or "bwrap", "--die-with-parent", "--new-session", "--unshare-net",
                "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--cap-drop", "ALL", *caps,
                *_bwrap_args(ops), "--", *(_drop(keep_user=False) if root else []), *cmd]
    if isolation == "unshare":
        # unprivileged: a user namespace where we are root, to mount; setpriv then drops its capabilities
        user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
        return [shutil.which("unshare") or "unshare", *user, "--net", "--pid", "--mount", "--ipc", "--uts",
                "--fork", "--kill-child=SIGKILL", "--", sys.executable, "-I", "-S", str(JAIL),
                *_jail_args(ops), "--", *_drop(keep_user=bool(user)), *cmd]
    raise ValueError(f"unknown isolation level {isolation!r}")


def failure(stderr: str) -> str:
    """Why a sandbox ended before the grader's child started in it: its own first line of error."""
    first = stderr.lstrip().split("\n", 1)[0].strip()
    return first[:300] or "the sandbox ended before the grader's process started in it"


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
