"""The util-linux sandbox's inside: ``python -I -S jail.py OP ARG... -- CMD...`` run by ``unshare``.

``unshare`` has already made the network, PID, mount, IPC and UTS namespaces; this process is PID 1
in them. It builds the file system of ``sandbox.plan`` (its operations, flattened: each kind
followed by its arguments) the way bubblewrap does: a new
root on a tmpfs, the host's folders bind-mounted into it (read-only unless the plan says
``bind``), private tmpfs over hidden folders, then ``pivot_root`` into it so nothing else stays
reachable. It brings the loopback up (kernels need 127.0.0.1), runs CMD as its child in a new
session, reaps orphans, and exits with CMD's status, which ends every process left in the sandbox.

Standard library only, no ``site``, and only modules that import nothing heavy (no json, re or
socket: this runs once per job): it starts in a few milliseconds, and sees nothing the student's
code could have planted. Every module is imported before the root changes. A failure
to build the sandbox exits with status 125 and a line starting with ``keras-grader sandbox:``;
the runner, which never hears from its child then, reports it as the machine's fault.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import struct
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC, MS_PRIVATE, MS_RELATIME = 1024, 2048, 4096, 16384, 1 << 18, 1 << 21
MNT_DETACH = 2
#: per-mount options kept on a read-only remount (a user namespace forbids clearing them)
KEPT = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": MS_NOATIME,
        "nodiratime": MS_NODIRATIME, "relatime": MS_RELATIME}
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
ARITY = {"ro-bind": 2, "bind": 2, "dev-bind": 2, "symlink": 2, "dir": 2, "tmpfs": 3, "dev": 1, "proc": 1,
         "remount-ro": 1}
OLD, NEW = "/oldroot", "/newroot"
FAILED = 125

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(src: str | None, dst: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = (lambda s: s.encode() if s is not None else None)
    _check(libc.mount(enc(src), enc(dst), enc(fstype), flags, enc(data)), f"mount {src or fstype} on {dst}")


def umount(path: str) -> None:
    _check(libc.umount2(path.encode(), MNT_DETACH), f"umount {path}")


def pivot_root(new: str, old: str) -> None:
    _check(libc.syscall(SYS_PIVOT_ROOT[os.uname().machine], new.encode(), old.encode()), f"pivot_root {new}")


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash in paths as octal escapes."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mounts_under(path: str) -> list[tuple[str, int]]:
    """Mount points at or below ``path`` with the option flags to keep, in mount order."""
    found = []
    with open(f"{OLD}/proc/self/mountinfo") as f:  # the host's /proc until the new root has its own
        for line in f:
            fields = line.split()
            point = _unescape(fields[4])
            if point == path or point.startswith(path.rstrip("/") + "/"):
                found.append((point, sum(KEPT.get(o, 0) for o in fields[5].split(","))))
    return found


def remount_ro(path: str, recursive: bool) -> None:
    """Make the mount on top at ``path`` read-only, and with ``recursive`` the mounts it brought along.

    Mounts made at or below ``path`` before the one on top are covered by it (a course folder bound again
    over the grader's Python, bound inside it): still listed, no longer reachable by their path, and the
    kernel refuses to remount what a path no longer names (EINVAL). The mounts listed from the top one on
    are the ones a path reaches.
    """
    found = mounts_under(path)
    tops = [i for i, (point, _) in enumerate(found) if point == path]
    if not tops:
        return
    for point, flags in found[tops[-1]:] if recursive else found[tops[-1]:tops[-1] + 1]:
        mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)


def _make(dst: str, like_dir: bool) -> None:
    if like_dir:
        os.makedirs(dst, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if not os.path.exists(dst):
            open(dst, "w").close()


def bind(src: str, dst: str, readonly: bool) -> None:
    _make(dst, os.path.isdir(src))
    mount(src, dst, None, MS_BIND | MS_REC)
    if readonly:
        remount_ro(dst, recursive=True)


def tmpfs(dst: str, size: int | None, mode: int, flags: int = MS_NOSUID | MS_NODEV) -> None:
    os.makedirs(dst, exist_ok=True)
    mount("tmpfs", dst, "tmpfs", flags, f"mode={mode:o}" + (f",size={size}" if size else ""))


def minimal_dev(dst: str) -> None:
    """A /dev with the usual character devices, a private /dev/pts and /dev/shm, as bubblewrap's --dev."""
    tmpfs(dst, None, 0o755, MS_NOSUID)
    for name in DEVICES:
        bind(f"{OLD}/dev/{name}", f"{dst}/{name}", readonly=False)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx")):
        os.symlink(target, f"{dst}/{name}")
    os.mkdir(f"{dst}/shm")
    os.mkdir(f"{dst}/pts")
    try:  # pseudo-terminals are a comfort, not a need (no kernel or script requires one)
        mount("devpts", f"{dst}/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620")
    except OSError:
        pass


def apply(op: list[str]) -> None:
    kind, *args = op
    if kind in ("ro-bind", "bind", "dev-bind"):
        bind(OLD + args[0], NEW + args[1], readonly=kind == "ro-bind")
    elif kind == "dir":
        os.makedirs(NEW + args[0], exist_ok=True)
        os.chmod(NEW + args[0], int(args[1], 8))
    elif kind == "symlink":
        os.makedirs(os.path.dirname(NEW + args[1]), exist_ok=True)
        os.symlink(args[0], NEW + args[1])
    elif kind == "tmpfs":
        tmpfs(NEW + args[0], int(args[1]) if args[1] else None, int(args[2], 8))
    elif kind == "dev":
        minimal_dev(NEW + args[0])
    elif kind == "proc":
        os.makedirs(NEW + args[0], exist_ok=True)
        mount("proc", NEW + args[0], "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    elif kind == "remount-ro":
        remount_ro(NEW + args[0].rstrip("/"), recursive=False)
    else:
        raise ValueError(f"unknown operation {kind!r}")


def loopback_up() -> None:
    """``ip link set lo up``: SIOCGIFFLAGS, then SIOCSIFFLAGS with IFF_UP (the kernel adds 127.0.0.1 and ::1)."""
    sock = libc.socket(2, 2, 0)  # AF_INET, SOCK_DGRAM: any socket can carry the ioctl
    _check(min(sock, 0), "socket")
    try:
        ifreq = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock, 0x8913, ifreq))[1]
        fcntl.ioctl(sock, 0x8914, struct.pack("16sH22x", b"lo", flags | 1))
    finally:
        os.close(sock)


def parse(args: list[str]) -> tuple[list[list[str]], list[str]]:
    """``OP ARG... -- CMD...`` -> the operations and the command."""
    ops, i = [], 0
    while args[i] != "--":
        ops.append(args[i:i + 1 + ARITY[args[i]]])
        i += 1 + ARITY[args[i]]
    return ops, args[i + 1:]


def build(ops: list[list[str]]) -> None:
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing done here propagates to the host
    # a scratch root holding the old root and the new one, as bubblewrap does
    tmpfs("/tmp", None, 0o755)
    os.mkdir("/tmp" + OLD)
    os.mkdir("/tmp" + NEW)
    pivot_root("/tmp", "/tmp" + OLD)
    os.chdir("/")
    tmpfs(NEW, None, 0o755)
    for op in ops:
        apply(op)
    umount(OLD)
    os.chdir(NEW)
    pivot_root(".", ".")  # the new root on top, the scratch one under it, then detached
    umount(".")
    os.chdir("/")


def main(argv: list[str]) -> int:
    cwd = os.getcwd()
    try:
        ops, cmd = parse(argv[1:])
        build(ops)
        loopback_up()
    except (OSError, ValueError, KeyError, IndexError) as e:
        print(f"keras-grader sandbox: cannot build the sandbox: {e}", file=sys.stderr, flush=True)
        return FAILED
    child = os.fork()
    if child == 0:
        try:
            os.setsid()
            os.chdir(cwd if os.path.isdir(cwd) else "/")
            os.execvp(cmd[0], cmd)
        except OSError as e:
            print(f"keras-grader sandbox: cannot run {cmd[0]}: {e}", file=sys.stderr, flush=True)
        os._exit(FAILED)
    while True:  # PID 1: reap every orphan until the command itself ends
        pid, status = os.wait()
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
