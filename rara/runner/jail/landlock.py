"""Landlock: make the filesystem read-only (and mostly invisible) for the calling process.

The ruleset "handles" every filesystem right the running kernel knows, so anything not granted by
a rule is denied: writing, creating, removing, renaming, truncating, device ioctls. Rules grant
only READ_FILE and READ_DIR beneath the given paths (the Python installation, in practice); EXECUTE
is not granted (exec is denied by seccomp too). From ABI 4 TCP bind/connect are handled with no
rule (denied: a second lock on the network), from ABI 6 signals and abstract Unix sockets are
scoped to the sandbox (it cannot signal the host or the zygote even when they share its uid).

Landlock needs no privilege, only no_new_privs, and it cannot be undone by the process.
"""

from __future__ import annotations

import ctypes
import functools
import os
import stat
from collections.abc import Iterable

SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446  # same on x86_64, aarch64
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

# Filesystem access rights by the ABI that introduced them.
FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
_FS_ABI1 = (1 << 13) - 1  # EXECUTE .. MAKE_SYM (13 rights)
_FS_REFER, _FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # the kernel struct is __attribute__((packed)): 12 bytes
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


@functools.cache
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    ul = ctypes.c_ulong
    libc.prctl.argtypes = (ctypes.c_int, ul, ul, ul, ul)
    return libc


@functools.cache
def abi_version() -> int:
    """The kernel's Landlock ABI, or 0 if it has none (too old, or disabled at boot)."""
    v = int(
        _libc().syscall(
            ctypes.c_long(SYS_CREATE_RULESET),
            None,
            ctypes.c_size_t(0),
            ctypes.c_uint32(_CREATE_RULESET_VERSION),
        )
    )
    return max(v, 0)


def handled_fs(abi: int) -> int:
    rights = _FS_ABI1
    if abi >= 2:
        rights |= _FS_REFER
    if abi >= 3:
        rights |= _FS_TRUNCATE
    if abi >= 5:
        rights |= _FS_IOCTL_DEV
    return rights


def restrict(read_paths: Iterable[str]) -> str:
    """Apply the ruleset to the calling thread (the whole child: it is single-threaded).

    Returns a description of what is now in force; raises OSError if Landlock is unavailable or a
    step fails. Paths that do not exist are skipped; a file gets READ_FILE, a directory both.
    """
    abi = abi_version()
    if abi < 1:
        raise OSError(38, "Landlock unavailable (kernel too old or disabled at boot)")
    libc = _libc()
    sc = libc.syscall
    attr = _RulesetAttr(handled_fs(abi), 0, 0)
    size = 8
    if abi >= 4:
        attr.handled_access_net = _NET_BIND_TCP | _NET_CONNECT_TCP
        size = 16
    if abi >= 6:
        attr.scoped = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL
        size = 24
    rfd = int(
        sc(
            ctypes.c_long(SYS_CREATE_RULESET),
            ctypes.byref(attr),
            ctypes.c_size_t(size),
            ctypes.c_uint32(0),
        )
    )
    if rfd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"landlock_create_ruleset: {os.strerror(err)}")
    granted = 0
    try:
        for path in dict.fromkeys(read_paths):  # dedupe, keep order
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
                rights = FS_READ_FILE | (FS_READ_DIR if is_dir else 0)
                rule = _PathBeneathAttr(rights, fd)
                if (
                    sc(
                        ctypes.c_long(SYS_ADD_RULE),
                        ctypes.c_int(rfd),
                        ctypes.c_int(_RULE_PATH_BENEATH),
                        ctypes.byref(rule),
                        ctypes.c_uint32(0),
                    )
                    != 0
                ):
                    err = ctypes.get_errno()
                    raise OSError(err, f"landlock_add_rule({path}): {os.strerror(err)}")
                granted += 1
            finally:
                os.close(fd)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"PR_SET_NO_NEW_PRIVS: {os.strerror(err)}")
        if sc(ctypes.c_long(SYS_RESTRICT_SELF), ctypes.c_int(rfd), ctypes.c_uint32(0)) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"landlock_restrict_self: {os.strerror(err)}")
    finally:
        os.close(rfd)
    extra = []
    if abi >= 4:
        extra.append("TCP bind/connect denied")
    if abi >= 6:
        extra.append("signals and abstract sockets scoped")
    return f"Landlock ABI v{abi}: no writes anywhere, read-only beneath {granted} paths" + (
        f"; {', '.join(extra)}" if extra else ""
    )
