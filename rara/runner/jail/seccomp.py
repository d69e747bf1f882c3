"""A seccomp-bpf syscall filter for the jailed child, written as raw BPF and installed via ctypes.

Why a denylist and not an allowlist: the child is a full CPython with numpy, whose exact syscall
set changes with every libc, numpy and Python release; an allowlist that misses one kills good
strategies at random. The denylist blocks what an escape needs: new programs (exec), new processes
(fork, clone without CLONE_THREAD), the network (socket and its kin), other processes (ptrace,
process_vm_*, kill/tgkill aimed at anyone but itself, pidfd_*), namespaces and mounts, kernel
attack surface (bpf, perf, io_uring, userfaultfd, keyctl, modules, kexec, modify_ldt...). The other
layers (Landlock, namespaces, rlimits, unprivileged uid) hold if a syscall slips past it.

Actions, chosen so a report is clear:
* EPERM for what plain Python code may try (os.fork, subprocess, socket, os.kill): the call fails
  with PermissionError, the runtime reports it as the strategy's error, the process lives on.
* ENOSYS for clone3, so glibc falls back to clone, whose flags a classic BPF filter can inspect
  (clone3 passes them in a struct it cannot read).
* KILL_PROCESS for what only an escape attempt does (ptrace, mount, bpf...): the child dies by
  SIGSYS and the host reports "forbidden syscall".
* A foreign architecture or the x32 ABI (a second syscall table on x86_64) is killed outright.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import struct
from typing import Any

# seccomp_data field offsets: int nr; u32 arch; u64 instruction_pointer; u64 args[6]
_OFF_NR, _OFF_ARCH, _OFF_ARGS = 0, 4, 16

# classic BPF opcodes
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K

RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000

_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2

_CLONE_THREAD = 0x00010000
_X32_SYSCALL_BIT = 0x40000000
_EPERM, _ENOSYS = 1, 38

_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}

# Syscall numbers per architecture (x86_64 from asm/unistd_64.h, aarch64 from the generic table).
# Numbers >= 424 are shared by every architecture.
# fmt: off
_COMMON_NEW = {
    "pidfd_send_signal": 424, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427, "open_tree": 428, "move_mount": 429, "fsopen": 430,
    "fsconfig": 431, "fsmount": 432, "fspick": 433, "pidfd_open": 434, "clone3": 435,
    "pidfd_getfd": 438, "process_madvise": 440, "mount_setattr": 442, "quotactl_fd": 443,
    "statmount": 457, "listmount": 458, "open_tree_attr": 467,
}
_X86_64 = {
    "execve": 59, "execveat": 322, "fork": 57, "vfork": 58, "clone": 56,
    "socket": 41, "socketpair": 53, "connect": 42, "bind": 49, "listen": 50, "accept": 43,
    "accept4": 288, "ptrace": 101, "mount": 165, "umount2": 166, "pivot_root": 155,
    "chroot": 161, "setns": 308, "unshare": 272, "kexec_load": 246, "kexec_file_load": 320,
    "init_module": 175, "finit_module": 313, "delete_module": 176, "bpf": 321,
    "perf_event_open": 298, "process_vm_readv": 310, "process_vm_writev": 311, "keyctl": 250,
    "add_key": 248, "request_key": 249, "userfaultfd": 323, "personality": 135,
    "open_by_handle_at": 304, "name_to_handle_at": 303, "kill": 62, "tkill": 200,
    "tgkill": 234, "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297, "swapon": 167,
    "swapoff": 168, "reboot": 169, "sethostname": 170, "setdomainname": 171, "iopl": 172,
    "ioperm": 173, "acct": 163, "settimeofday": 164, "adjtimex": 159, "clock_settime": 227,
    "clock_adjtime": 305, "syslog": 103, "vhangup": 153, "quotactl": 179, "modify_ldt": 154,
    "lookup_dcookie": 212, "fanotify_init": 300, "kcmp": 312, "uselib": 134, "ustat": 136,
    "sysfs": 139, "_sysctl": 156, "nfsservctl": 180, "mknod": 133, "mknodat": 259,
    "create_module": 174, "get_kernel_syms": 177, "query_module": 178,
    **_COMMON_NEW,
}
_AARCH64 = {
    "execve": 221, "execveat": 281, "clone": 220, "socket": 198, "socketpair": 199,
    "connect": 203, "bind": 200, "listen": 201, "accept": 202, "accept4": 242, "ptrace": 117,
    "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51, "setns": 268, "unshare": 97,
    "kexec_load": 104, "kexec_file_load": 294, "init_module": 105, "finit_module": 273,
    "delete_module": 106, "bpf": 280, "perf_event_open": 241, "process_vm_readv": 270,
    "process_vm_writev": 271, "keyctl": 219, "add_key": 217, "request_key": 218,
    "userfaultfd": 282, "personality": 92, "open_by_handle_at": 265, "name_to_handle_at": 264,
    "kill": 129, "tkill": 130, "tgkill": 131, "rt_sigqueueinfo": 138, "rt_tgsigqueueinfo": 240,
    "swapon": 224, "swapoff": 225, "reboot": 142, "sethostname": 161, "setdomainname": 162,
    "acct": 89, "settimeofday": 170, "adjtimex": 171, "clock_settime": 112,
    "clock_adjtime": 266, "syslog": 116, "vhangup": 58, "quotactl": 60, "lookup_dcookie": 18,
    "fanotify_init": 262, "kcmp": 272, "nfsservctl": 42, "mknodat": 33,
    **_COMMON_NEW,
}
TABLES = {"x86_64": _X86_64, "aarch64": _AARCH64}

# What ordinary Python may try: fail with EPERM so the strategy sees an exception.
ERRNO_SYSCALLS = (
    "execve", "execveat", "fork", "vfork", "socket", "socketpair", "connect", "bind",
    "listen", "accept", "accept4", "tkill", "pidfd_send_signal", "pidfd_open", "pidfd_getfd",
    "mknod", "mknodat",
)
# Signals: only to itself (arg0 == own pid; kill(0, sig) is its own process group).
SELF_SIGNAL_SYSCALLS = ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")
# Only an escape attempt calls these: kill the process (SIGSYS).
KILL_SYSCALLS = (
    "ptrace", "mount", "umount2", "pivot_root", "chroot", "setns", "unshare", "kexec_load",
    "kexec_file_load", "init_module", "finit_module", "delete_module", "bpf",
    "perf_event_open", "process_vm_readv", "process_vm_writev", "keyctl", "add_key",
    "request_key", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "personality", "open_by_handle_at", "name_to_handle_at", "swapon", "swapoff", "reboot",
    "sethostname", "setdomainname", "iopl", "ioperm", "acct", "settimeofday", "adjtimex",
    "clock_settime", "clock_adjtime", "syslog", "vhangup", "quotactl", "quotactl_fd",
    "modify_ldt", "lookup_dcookie", "fanotify_init", "kcmp", "uselib", "ustat", "sysfs",
    "_sysctl", "nfsservctl", "create_module", "get_kernel_syms", "query_module", "open_tree",
    "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "process_madvise", "statmount", "listmount", "open_tree_attr",
)
# fmt: on


class _Asm:
    """A few-instruction BPF assembler with forward labels (jump offsets are 8-bit)."""

    def __init__(self) -> None:
        self.ins: list[tuple[int, int | str, int | str, int]] = []
        self.labels: dict[str, int] = {}

    def label(self, name: str) -> None:
        self.labels[name] = len(self.ins)

    def emit(self, code: int, k: int, jt: int | str = 0, jf: int | str = 0) -> None:
        self.ins.append((code, jt, jf, k & 0xFFFFFFFF))

    def assemble(self) -> bytes:
        out = bytearray()
        for pc, (code, jt, jf, k) in enumerate(self.ins):
            offs = []
            for target in (jt, jf):
                off = target if isinstance(target, int) else self.labels[target] - pc - 1
                if not 0 <= off <= 255:
                    raise ValueError(f"BPF jump out of range at {pc}: {off}")
                offs.append(off)
            out += struct.pack("=HBBI", code, offs[0], offs[1], k)
        return bytes(out)


def build_filter(machine: str | None = None, pid: int | None = None) -> bytes:
    """The filter program as packed `struct sock_filter` array for `machine` (default: this one).

    `pid` is the process the filter is for: signal syscalls are allowed only towards it. The
    program is assembled once per machine and the pid patched in (a fork pays no assembly).
    """
    machine = machine or platform.machine()
    if machine not in TABLES:
        raise OSError(f"no syscall table for {machine}")
    program, pid_at = _template(machine)
    out = bytearray(program)
    struct.pack_into("=I", out, pid_at * 8 + 4, os.getpid() if pid is None else pid)
    return bytes(out)


@functools.cache
def _template(machine: str) -> tuple[bytes, int]:
    """The program with a zero pid, and the index of the instruction that compares the pid."""
    table = TABLES[machine]
    a = _Asm()
    a.emit(_LD_W_ABS, _OFF_ARCH)
    a.emit(_JEQ_K, _AUDIT_ARCH[machine], 1, 0)
    a.emit(_RET_K, RET_KILL_PROCESS)
    a.emit(_LD_W_ABS, _OFF_NR)
    if machine == "x86_64":
        a.emit(_JGE_K, _X32_SYSCALL_BIT, "kill", 0)
    for name in ERRNO_SYSCALLS:
        if name in table:
            a.emit(_JEQ_K, table[name], "eperm", 0)
    for name in KILL_SYSCALLS:
        if name in table:
            a.emit(_JEQ_K, table[name], "kill", 0)
    a.emit(_JEQ_K, table["clone3"], "enosys", 0)
    a.emit(_JEQ_K, table["clone"], "clone", 0)
    for name in SELF_SIGNAL_SYSCALLS:
        a.emit(_JEQ_K, table[name], "signal", 0)
    a.emit(_RET_K, RET_ALLOW)
    a.label("clone")  # a thread (CLONE_THREAD set) is fine; a new process is not
    a.emit(_LD_W_ABS, _OFF_ARGS)
    a.emit(_JSET_K, _CLONE_THREAD, "allow", "eperm")
    a.label("signal")  # arg0 is the target pid (tgid); the kernel reads it as a 32-bit int
    a.emit(_LD_W_ABS, _OFF_ARGS)
    pid_at = len(a.ins)
    a.emit(_JEQ_K, 0, "allow", 0)
    a.emit(_JEQ_K, 0, "allow", "eperm")
    a.label("allow")
    a.emit(_RET_K, RET_ALLOW)
    a.label("eperm")
    a.emit(_RET_K, RET_ERRNO | _EPERM)
    a.label("enosys")
    a.emit(_RET_K, RET_ERRNO | _ENOSYS)
    a.label("kill")
    a.emit(_RET_K, RET_KILL_PROCESS)
    return a.assemble(), pid_at


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


@functools.cache
def _prctl() -> Any:
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong)
    prctl.restype = ctypes.c_int
    return prctl


def install(program: bytes | None = None) -> str:
    """Set no_new_privs and install the filter on the calling thread (the whole process: the
    child is single-threaded). Returns a one-line description; raises OSError on failure."""
    program = build_filter() if program is None else program
    prctl = _prctl()
    # no_new_privs: required to install a filter without CAP_SYS_ADMIN, and it means no setuid
    # binary could ever raise privileges again (exec is denied anyway).
    if prctl(_PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"PR_SET_NO_NEW_PRIVS: {os.strerror(err)}")
    buf = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    if prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"PR_SET_SECCOMP: {os.strerror(err)}")
    return (
        f"seccomp-bpf ({len(program) // 8} instructions): exec, fork, socket, foreign "
        "signals -> EPERM; ptrace, mount, bpf and kin -> SIGSYS"
    )
