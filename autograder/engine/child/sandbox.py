"""Confinement a grading child applies to itself before it runs any student code.

Linux only.  Every layer is best effort and reports whether it took hold, so the grader can say
what protected a run:

- `no_network()`: a fresh network namespace (no interface but a downed loopback);
- `limit_resources()`: address space, file size, open files, core dumps, CPU seconds;
- `landlock()`: the file system shrinks to read-only system and Python directories plus the
  child's own read-write folders; the dataset, the repository, the hidden graders and the
  grader's reports are out of reach; TCP bind/connect is refused where the kernel supports it;
- `seccomp()`: no new processes (fork, vfork, exec; threads stay allowed), no ptrace, no
  signals to other processes, no sockets but Unix ones.
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import struct
from collections.abc import Iterable
from pathlib import Path

__all__ = ["expand_allowed", "landlock", "limit_resources", "no_network", "seccomp"]

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.restype = ctypes.c_int

_X86_64 = platform.machine() == "x86_64"
_SYS = {"landlock_create_ruleset": 444, "landlock_add_rule": 445, "landlock_restrict_self": 446}
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000


def _errno() -> str:
    return os.strerror(ctypes.get_errno())


def no_network() -> str:
    """Move into a new network namespace (as root), or a new user+network namespace (unprivileged)."""
    if _libc.unshare(_CLONE_NEWNET) == 0:
        return "network namespace"
    if _libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) == 0:
        return "user+network namespace"
    why, threads = _errno(), len(os.listdir("/proc/self/task"))
    if threads > 1:  # unshare(CLONE_NEWUSER) refuses a multi-threaded process (EINVAL)
        return f"none ({why}: a user namespace needs a single-threaded process, this one has {threads} threads)"
    return f"none ({why})"


def limit_resources(address_space: int | None, file_size: int, open_files: int, cpu_seconds: int) -> None:
    """Hard limits; the child cannot raise them again."""
    if address_space is not None:
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
    resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))


# --- landlock ---------------------------------------------------------------------------------

_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 14, 1 << 15
_FS_ALL_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1}
_NET_ALL = (1 << 0) | (1 << 1)  # bind and connect TCP
_SCOPE_ALL = (1 << 0) | (1 << 1)  # abstract unix sockets, signals
_RULE_PATH_BENEATH, _RULE_NET_PORT = 1, 2


def expand_allowed(allowed: Iterable[Path], denied: Iterable[Path]) -> list[Path]:
    """The allowed paths with every denied path carved out (by allowing its siblings instead)."""
    denied_res = [p.resolve() for p in denied if p.exists()]
    out: list[Path] = []

    def visit(path: Path) -> None:
        if any(path == d for d in denied_res):
            return
        if any(path in d.parents for d in denied_res) and path.is_dir():
            try:
                children = list(path.iterdir())
            except OSError:
                return
            for child in children:
                visit(child)
            return
        out.append(path)

    for p in allowed:
        if p.exists():
            visit(p.resolve())
    return sorted(set(out))


def landlock(read_only: Iterable[Path], read_write: Iterable[Path], files_rw: Iterable[Path] = ()) -> str:
    """Restrict this process (and its threads started later) to the given paths; no TCP."""
    abi = _libc.syscall(_SYS["landlock_create_ruleset"], None, 0, 1)
    if abi < 1:
        return f"none (landlock unavailable: {_errno()})"
    fs_all = _FS_ALL_BY_ABI.get(abi, (1 << 16) - 1)
    attr = struct.pack("QQQ", fs_all, _NET_ALL if abi >= 4 else 0, _SCOPE_ALL if abi >= 6 else 0)
    size = 8 if abi < 4 else (16 if abi < 6 else 24)
    buf = ctypes.create_string_buffer(attr[:size], size)
    ruleset = _libc.syscall(_SYS["landlock_create_ruleset"], buf, size, 0)
    if ruleset < 0:
        return f"none (landlock ruleset: {_errno()})"
    file_rights = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | (_FS_TRUNCATE if abi >= 3 else 0) \
        | (_FS_IOCTL_DEV if abi >= 5 else 0)
    ro_dir = _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR
    ro_file = _FS_EXECUTE | _FS_READ_FILE

    def add(path: Path, rights: int) -> None:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return
        try:
            is_dir = path.is_dir()
            mask = rights if is_dir else rights & file_rights
            rule = ctypes.create_string_buffer(struct.pack("=Qi", mask, fd), 12)
            if _libc.syscall(_SYS["landlock_add_rule"], ruleset, _RULE_PATH_BENEATH, rule, 0) != 0:
                raise OSError(ctypes.get_errno(), f"landlock_add_rule {path}: {_errno()}")
        finally:
            os.close(fd)

    try:
        for p in read_only:
            add(p, ro_dir if p.is_dir() else ro_file)
        for p in read_write:
            add(p, fs_all)
        for p in files_rw:
            add(p, file_rights)
        if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return f"none (no_new_privs: {_errno()})"
        if _libc.syscall(_SYS["landlock_restrict_self"], ruleset, 0) != 0:
            return f"none (landlock_restrict_self: {_errno()})"
    finally:
        os.close(ruleset)
    net = "; TCP refused" if abi >= 4 else ""
    return f"landlock ABI {abi}{net}"


# --- seccomp ----------------------------------------------------------------------------------

_BPF_LD_W_ABS, _BPF_JEQ_K, _BPF_JGE_K, _BPF_JSET_K, _BPF_RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
_X32_SYSCALL_BIT = 0x40000000
_RET_ALLOW = 0x7FFF0000
_AUDIT_ARCH_X86_64 = 0xC000003E
_NR = {"clone": 56, "fork": 57, "vfork": 58, "execve": 59, "kill": 62, "ptrace": 101, "tkill": 200,
       "tgkill": 234, "execveat": 322, "pidfd_send_signal": 424, "clone3": 435, "socket": 41,
       "process_vm_readv": 310, "process_vm_writev": 311}
_EPERM, _ENOSYS, _EAFNOSUPPORT = 1, 38, 97
_CLONE_THREAD = 0x00010000
_AF_UNIX = 1


def _ins(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k & 0xFFFFFFFF)


def _errno_ret(err: int) -> int:
    return 0x00050000 | err


def _filter(pid: int) -> list[bytes]:
    """A BPF program: the listed syscalls refused, everything else allowed."""
    prog: list[bytes] = []
    ret = lambda k: _ins(_BPF_RET_K, k)  # noqa: E731
    # Other architectures' calling conventions (i386 through int 0x80, x32) would number the same
    # calls differently: refuse them outright rather than let them slip past the checks below.
    prog += [_ins(_BPF_LD_W_ABS, 4), _ins(_BPF_JEQ_K, _AUDIT_ARCH_X86_64, 1, 0), ret(_errno_ret(_ENOSYS)),
             _ins(_BPF_LD_W_ABS, 0), _ins(_BPF_JGE_K, _X32_SYSCALL_BIT, 0, 1), ret(_errno_ret(_ENOSYS))]
    simple = {"fork": _EPERM, "vfork": _EPERM, "execve": _EPERM, "execveat": _EPERM, "ptrace": _EPERM,
              "pidfd_send_signal": _EPERM, "clone3": _ENOSYS, "process_vm_readv": _EPERM,
              "process_vm_writev": _EPERM}
    for name, err in simple.items():
        prog += [_ins(_BPF_JEQ_K, _NR[name], 0, 1), ret(_errno_ret(err))]
    # clone: only threads (CLONE_THREAD set) are allowed.
    prog += [_ins(_BPF_JEQ_K, _NR["clone"], 0, 4), _ins(_BPF_LD_W_ABS, 16),
             _ins(_BPF_JSET_K, _CLONE_THREAD, 0, 1), ret(_RET_ALLOW), ret(_errno_ret(_EPERM))]
    # socket: Unix sockets only.
    prog += [_ins(_BPF_JEQ_K, _NR["socket"], 0, 4), _ins(_BPF_LD_W_ABS, 16),
             _ins(_BPF_JEQ_K, _AF_UNIX, 0, 1), ret(_RET_ALLOW), ret(_errno_ret(_EAFNOSUPPORT))]
    # kill, tkill, tgkill: only this process (or its own process group, 0).
    for name in ("kill", "tkill", "tgkill"):
        allowed = (pid, 0, -pid) if name == "kill" else (pid,)
        if name == "tkill":
            prog += [_ins(_BPF_JEQ_K, _NR[name], 0, 1), ret(_errno_ret(_EPERM))]
            continue
        n = len(allowed)
        prog += [_ins(_BPF_JEQ_K, _NR[name], 0, n + 3), _ins(_BPF_LD_W_ABS, 16)]
        for i, value in enumerate(allowed):
            prog.append(_ins(_BPF_JEQ_K, value, n - i, 0))
        prog += [ret(_errno_ret(_EPERM)), ret(_RET_ALLOW), _ins(_BPF_LD_W_ABS, 0)]
    prog.append(ret(_RET_ALLOW))
    return prog


def seccomp() -> str:
    """Install the filter on this process (inherited by threads created afterwards)."""
    if not _X86_64:
        return "none (seccomp filter is built for x86_64 only)"
    prog = b"".join(_filter(os.getpid()))
    n = len(prog) // 8
    filt = ctypes.create_string_buffer(prog, len(prog))

    class _SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = _SockFprog(n, ctypes.cast(filt, ctypes.c_void_p))
    if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return f"none (no_new_privs: {_errno()})"
    if _libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        return f"none (seccomp: {_errno()})"
    return "seccomp (no fork/exec, no foreign signals, Unix sockets only)"
