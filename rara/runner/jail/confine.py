"""The confinement steps a freshly forked child applies to itself before any untrusted code runs.

Called by the zygote's child (rara.runner.jail.zygote) after it has made its own session and
moved its pipes to fds 0-3. Every step is attempted; a step that fails is recorded as an inactive
layer and the rest still apply (no root, an old kernel). The order matters:

1. namespaces as root (unshare needs CAP_SYS_ADMIN, so before the uid drop);
2. rlimits (hard limits, lowered while still privileged, cannot be raised back afterwards);
3. uid drop to `uid` (65534) when root: RLIMIT_NPROC does not bind root, and root could undo
   everything else;
4. namespaces inside a new user namespace when step 1 was not possible (needs no privilege);
5. capabilities cleared, then PR_SET_PDEATHSIG re-armed and the parent checked (the zygote's child
   arms it first thing, but the kernel clears it on any credential change: arming it only before
   the uid drop would silently lose it);
6. Landlock, then seccomp last (the filter denies unshare, so it must come after the namespaces).
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import resource
import signal
from dataclasses import asdict, dataclass
from typing import Any

from rara.runner.jail import landlock, seccomp

CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWNET = (
    0x04000000,
    0x08000000,
    0x10000000,
    0x40000000,
)
_PR_SET_PDEATHSIG, _PR_GET_PDEATHSIG, _PR_SET_DUMPABLE = 1, 2, 4
_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_CAP_VERSION_3 = 0x20080522

# Layer names, in the order they are applied; `rara validate` reports each by this name.
LAYERS = (
    "process_group",
    "fds_closed",
    "empty_environment",
    "namespaces",
    "rlimits",
    "unprivileged_uid",
    "pdeathsig",
    "landlock",
    "seccomp",
)


@dataclass(frozen=True)
class Limits:
    """Per-evaluation limits. The host enforces wall_s and max_output; the kernel the rest."""

    wall_s: float = 10.0  # wall-clock deadline, spawn to exit; the host kills the group after it
    cpu_s: int = 10  # RLIMIT_CPU: SIGXCPU at cpu_s, SIGKILL one second later
    memory_bytes: int = 1 << 30  # RLIMIT_AS: allocations beyond it fail (MemoryError)
    max_output: int = 64 << 20  # response frame cap; more and the host kills the child
    file_size: int = 0  # RLIMIT_FSIZE: no file may grow at all
    open_files: int = 16  # RLIMIT_NOFILE
    processes: int = 0  # RLIMIT_NPROC (binds only a non-root uid, hence the uid drop)
    stderr_tail: int = 8192  # bytes of the child's stdout/stderr kept for the report

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Limits:
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in d.items() if k in fields})


@dataclass(frozen=True)
class Plan:
    """What the child must do to itself, as sent by the host through the zygote."""

    limits: Limits
    uid: int = 65534
    gid: int = 65534
    read_paths: tuple[str, ...] = ()
    require: tuple[str, ...] = ()  # layers that must be active, or the entry is not called
    hostname: str = "sandbox"


Report = dict[str, dict[str, Any]]


@functools.cache
def _libc() -> ctypes.CDLL:
    """libc with the prototypes used here; cached, and built in the zygote by `prewarm` so a
    child pays neither the dlopen nor the function lookups."""
    libc = ctypes.CDLL(None, use_errno=True)
    ul = ctypes.c_ulong
    libc.prctl.argtypes = (ctypes.c_int, ul, ul, ul, ul)
    libc.unshare.argtypes = (ctypes.c_int,)
    libc.sethostname.argtypes = (ctypes.c_char_p, ctypes.c_size_t)
    libc.capset.argtypes = libc.capget.argtypes = (ctypes.c_void_p, ctypes.c_void_p)
    return libc


def prewarm() -> None:
    """Do in the zygote, once, every lookup a child would otherwise repeat."""
    _libc()
    seccomp.build_filter()
    landlock.abi_version()


def _err(what: str) -> str:
    e = ctypes.get_errno()
    return f"{what}: {os.strerror(e)} (errno {e})"


def _layer(report: Report, name: str, active: bool, detail: str) -> None:
    report[name] = {"active": active, "detail": detail}


def _unshare(libc: ctypes.CDLL, flags: int) -> bool:
    return int(libc.unshare(flags)) == 0


def _set_hostname(libc: ctypes.CDLL, name: str) -> bool:
    """In the new UTS namespace (while privileged in it): the strategy need not learn the host's
    name. Always True: a failure here costs nothing but that."""
    raw = name.encode()
    libc.sethostname(raw, len(raw))
    return True


def _rlimits(limits: Limits) -> tuple[bool, str]:
    wanted = [
        ("AS", resource.RLIMIT_AS, limits.memory_bytes, limits.memory_bytes),
        ("CPU", resource.RLIMIT_CPU, limits.cpu_s, limits.cpu_s + 1),
        ("FSIZE", resource.RLIMIT_FSIZE, limits.file_size, limits.file_size),
        ("NOFILE", resource.RLIMIT_NOFILE, limits.open_files, limits.open_files),
        ("NPROC", resource.RLIMIT_NPROC, limits.processes, limits.processes),
        ("CORE", resource.RLIMIT_CORE, 0, 0),
    ]
    failed = []
    for name, res, soft, hard in wanted:
        try:
            _, cur_hard = resource.getrlimit(res)
            if cur_hard != resource.RLIM_INFINITY:  # unprivileged: can only lower
                hard = min(hard, cur_hard)
                soft = min(soft, hard)
            resource.setrlimit(res, (soft, hard))
        except (OSError, ValueError) as exc:
            failed.append(f"{name}: {exc}")
    if failed:
        return False, "failed " + "; ".join(failed)
    return True, (
        f"AS {limits.memory_bytes >> 20} MiB, CPU {limits.cpu_s} s, "
        f"FSIZE {limits.file_size}, NOFILE {limits.open_files}, "
        f"NPROC {limits.processes}, CORE 0"
    )


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


def _drop_capabilities(libc: ctypes.CDLL) -> bool:
    """Empty every capability set (also the ambient one) of this process."""
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    hdr = _CapHeader(_CAP_VERSION_3, 0)
    data = (_CapData * 2)()
    if int(libc.capset(ctypes.addressof(hdr), ctypes.addressof(data))) != 0:
        return False
    got = (_CapData * 2)()
    if int(libc.capget(ctypes.addressof(hdr), ctypes.addressof(got))) != 0:
        return False
    return all(d.effective == d.permitted == d.inheritable == 0 for d in got)


def arm_pdeathsig(parent_pid: int) -> bool:
    """SIGKILL this process when its parent dies; exit now if the parent is already gone (then
    the signal would never come). True if the kernel reports the signal armed."""
    libc = _libc()
    libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)
    sig = ctypes.c_int(0)
    libc.prctl(_PR_GET_PDEATHSIG, ctypes.addressof(sig), 0, 0, 0)
    return sig.value == signal.SIGKILL


def apply(plan: Plan, parent_pid: int) -> Report:
    """Confine the calling (single-threaded, freshly forked) process; return the layer report."""
    libc = _libc()
    report: Report = {}
    was_root = os.geteuid() == 0
    ns_flags = CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    ns_detail = ""
    if was_root:
        if _unshare(libc, ns_flags) and _set_hostname(libc, plan.hostname):
            ns_detail = "network, IPC, UTS namespaces (as root): no network interfaces at all"
        else:
            ns_detail = _err("unshare as root")

    ok, detail = _rlimits(plan.limits)
    _layer(report, "rlimits", ok, detail)

    if was_root:
        try:
            os.setgroups([])
            os.setresgid(plan.gid, plan.gid, plan.gid)
            os.setresuid(plan.uid, plan.uid, plan.uid)
            uid_ok = os.getresuid() == (plan.uid,) * 3 and os.getresgid() == (plan.gid,) * 3
            uid_detail = f"dropped from root to uid {plan.uid}, gid {plan.gid}, no groups"
        except OSError as exc:
            uid_ok, uid_detail = False, f"could not drop root: {exc}"
    else:
        uid_ok, uid_detail = True, f"already unprivileged (uid {os.getuid()})"

    if not ns_detail.startswith("network"):
        real_uid = os.getuid()
        if _unshare(libc, CLONE_NEWUSER | ns_flags) and _set_hostname(libc, plan.hostname):
            ns_detail = (
                f"network, IPC, UTS namespaces inside a user namespace (uid {real_uid} "
                "outside): no network interfaces at all"
            )
        else:
            ns_detail = (ns_detail + "; " if ns_detail else "") + _err("unshare(CLONE_NEWUSER)")
    ns_ok = ns_detail.startswith("network")
    _layer(report, "namespaces", ns_ok, ns_detail)

    # A new user namespace grants a full (namespaced) capability set: clear it. After a uid drop
    # from root the sets are already empty; this verifies it.
    caps_ok = _drop_capabilities(libc)
    _layer(
        report,
        "unprivileged_uid",
        uid_ok and caps_ok and os.geteuid() != 0,
        uid_detail + ("; capabilities empty" if caps_ok else "; capabilities NOT cleared"),
    )
    libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)  # nobody of the same uid may attach or read /proc

    # Re-arm: commit_creds() cleared the parent-death signal when the uid or caps changed.
    armed = arm_pdeathsig(parent_pid)
    _layer(
        report,
        "pdeathsig",
        armed,
        "SIGKILL when the zygote dies (and the zygote dies with the host)"
        if armed
        else "PR_SET_PDEATHSIG not in force",
    )

    try:
        _layer(report, "landlock", True, landlock.restrict(plan.read_paths))
    except OSError as exc:
        _layer(report, "landlock", False, str(exc))
    try:
        _layer(report, "seccomp", True, seccomp.install(seccomp.build_filter(pid=os.getpid())))
    except OSError as exc:
        _layer(report, "seccomp", False, f"{exc} ({platform.machine()})")
    return report
