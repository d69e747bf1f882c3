"""What isolation this machine can give a sandboxed strategy, probed without side effects.

Each probe runs in a forked child where it could change process state (unshare), so the caller is
never altered. Results name the layer, whether it is available and why not.
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import socket
from dataclasses import asdict, dataclass

CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
# landlock_create_ruleset is 444 on both x86_64 and aarch64
SYS_LANDLOCK_CREATE_RULESET = 444
LANDLOCK_CREATE_RULESET_VERSION = 1


@dataclass(frozen=True)
class Layer:
    name: str
    available: bool
    detail: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _in_child(fn_flags: int) -> bool:
    """unshare(flags) in a throwaway child; True if the kernel allowed it."""
    pid = os.fork()
    if pid == 0:  # child: never return into the caller's stack
        code = 0 if _libc().unshare(fn_flags) == 0 else 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def probe_namespaces() -> Layer:
    flags = CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    if os.geteuid() == 0 and _in_child(flags):
        return Layer("namespaces", True, "network, IPC and UTS namespaces (as root)")
    if _in_child(flags | CLONE_NEWUSER):
        return Layer("namespaces", True, "network, IPC and UTS namespaces inside a user namespace")
    return Layer(
        "namespaces",
        False,
        "unshare refused: no root and unprivileged user "
        "namespaces are disabled (kernel.unprivileged_userns_clone)",
    )


def probe_seccomp() -> Layer:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            has = any(line.startswith("Seccomp:") for line in fh)
    except OSError:
        has = False
    if platform.machine() not in ("x86_64", "aarch64"):
        return Layer("seccomp", False, f"no syscall table for {platform.machine()}")
    return Layer("seccomp", has, "seccomp-bpf filter" if has else "kernel built without seccomp")


def probe_landlock() -> Layer:
    libc = _libc()
    abi = libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, 0, LANDLOCK_CREATE_RULESET_VERSION)
    if abi >= 1:
        return Layer("landlock", True, f"Landlock ABI v{abi}: read-only filesystem")
    err = ctypes.get_errno()
    why = {38: "kernel too old (ENOSYS)", 95: "disabled at boot (EOPNOTSUPP)"}.get(
        err, f"errno {err}"
    )
    return Layer("landlock", False, f"Landlock unavailable: {why}")


def probe_rlimits() -> Layer:
    names = (
        "RLIMIT_AS",
        "RLIMIT_CPU",
        "RLIMIT_FSIZE",
        "RLIMIT_NOFILE",
        "RLIMIT_NPROC",
        "RLIMIT_CORE",
    )
    missing = [n for n in names if not hasattr(resource, n)]
    return Layer(
        "rlimits",
        not missing,
        "address space, CPU, file size, open files, processes, core"
        if not missing
        else f"missing {', '.join(missing)}",
    )


def probe_unprivileged_uid() -> Layer:
    if os.geteuid() == 0:
        return Layer("unprivileged_uid", True, "started as root: the child drops to uid 65534")
    return Layer("unprivileged_uid", True, f"already unprivileged (uid {os.geteuid()})")


def probe_restricted_python() -> Layer:
    try:
        import RestrictedPython  # noqa: F401
    except ImportError:
        return Layer("restricted_python", False, "RestrictedPython is not installed")
    return Layer("restricted_python", True, "RestrictedPython compile and guards (lint layer)")


def sandbox_layers() -> list[Layer]:
    return [
        probe_restricted_python(),
        probe_namespaces(),
        probe_seccomp(),
        probe_landlock(),
        probe_rlimits(),
        probe_unprivileged_uid(),
    ]


def docker_engine(socket_path: str = "/var/run/docker.sock", timeout: float = 2.0) -> Layer:
    """Ping the engine's API over its Unix socket; DOCKER_HOST=unix://... is honoured."""
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        socket_path = host[len("unix://") :]
    elif host:
        return Layer("docker", False, f"DOCKER_HOST={host} is not a unix socket; not probed")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(socket_path)
            s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            reply = s.recv(256)
    except OSError as exc:
        return Layer("docker", False, f"no engine at {socket_path}: {exc.strerror or exc}")
    ok = reply.startswith(b"HTTP/1.") and b" 200 " in reply.split(b"\r\n", 1)[0]
    return Layer(
        "docker",
        ok,
        f"engine answering at {socket_path}"
        if ok
        else f"{socket_path} answered but not like a Docker engine",
    )
