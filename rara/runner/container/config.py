"""What a sandbox container is asked for, and what comes back of it.

The limits of one evaluation (`ContainerLimits`), the command and environment it runs with, the
labels every container and image carries, the host config every container is created with
(`host_config_kwargs`) and the check of what the engine really recorded of it
(`check_host_config`), the report of which of those protections the engine can enforce
(`protection_layers`), the hash of rara_sandbox's source an image is labelled with, and the
result and error types of a run (`ContainerResult`, `ContainerError`).

Nothing here talks to the engine: `runner.ContainerRunner` creates and runs the containers, and
`io` carries the bytes.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rara.errors import RaraError
from rara.runner.capabilities import Layer

# The one name of the sandbox image: what `rara sandbox build-image` tags and every run starts.
DEFAULT_IMAGE = "rara-sandbox:latest"
# `python3 -s -P -m rara_sandbox`, after one stdlib line that sets two rlimits, as the jail does.
# RLIMIT_AS at the memory limit: a strategy's oversized allocation then fails as a MemoryError
# inside evaluate (a coded runtime_error with its line, the same answer the jail gives) instead of
# an OOM kill; the cgroup limit stays the hard stop for everything else. RLIMIT_CPU at the
# container's own deadline: the kernel's SIGKILL reaches even code that holds the GIL for minutes
# (7 ** 10**8), where rara_sandbox's own deadline thread cannot run. (Docker's own `ulimits`
# cannot carry RLIMIT_AS: runc itself then fails to start.)
PRELUDE = (
    "import resource, runpy, sys; n, s = int(sys.argv[1]), int(sys.argv[2]); "
    "resource.setrlimit(resource.RLIMIT_AS, (n, n)); "
    "resource.setrlimit(resource.RLIMIT_CPU, (s, s)); del sys.argv[1:3]; "
    "runpy.run_module('rara_sandbox', run_name='__main__', alter_sys=True)"
)
# The container's own deadline comes this long after the host's: the host kills at its deadline
# and reports a timeout; the container stops itself only when no host is left to do that.
OWN_DEADLINE_MARGIN_S = 10.0

# Every container this module creates carries these labels (and the owner's, `owner`): tests and
# `remove_leftovers` find them by label, and the owner and deadline labels let any process tell an
# orphan from a running evaluation.
LABEL = "rara.sandbox"
LABEL_DEADLINE = "rara.sandbox.deadline"
LABEL_SOURCE_HASH = "rara.sandbox.source_sha256"  # on the image: which rara_sandbox it holds
SANDBOX_USER = "65534:65534"  # nobody:nogroup on Debian and in python slim images
TMPFS_OPTIONS = "noexec,nosuid,nodev"
MiB = 1024 * 1024

# How long after its deadline a container whose owner cannot be checked (started from another
# host) counts as an orphan: the owner kills at the deadline, so anything labelled and still
# present well past it was left by a process that died.
ORPHAN_GRACE_S = 120.0

# Named like the jail's codes (rara.runner.jail.jailed_run) where the meaning is the same, so
# callers (and the shared behavioural tests) treat both backends alike; the last two exist only
# here.
ERROR_CODES = {
    "timeout": "the wall-clock deadline passed; the container was killed",
    "memory_limit": "the memory limit was hit; the kernel OOM-killed the process",
    "cpu_limit": "the CPU time limit (the container's own deadline) was hit; the kernel killed it",
    "output_too_large": "stdout exceeded the output cap; the container was killed",
    "crashed": "the process exited with a non-zero status (or was killed by a signal)",
    "protocol_error": "the process exited 0 without a response",
    "protection_missing": "the engine did not record a requested restriction; not started",
    "engine_error": "the Docker engine failed during the run",
}


@dataclass(frozen=True)
class ContainerLimits:
    """Per-evaluation limits. memory_bytes is also the memory+swap limit (swap is never granted).

    The first four fields mean what rara.runner.jail.confine.Limits' fields of the same name
    mean, so one set of limits can drive either backend (`from_limits`).
    """

    wall_s: float = 30.0  # create to exit; the container is killed and removed after it
    memory_bytes: int = 512 * MiB  # cgroup limit: past it the kernel OOM-kills (no MemoryError)
    max_output: int = 64 * MiB  # stdout: the response frame
    stderr_tail: int = 64 * 1024  # stderr kept; the rest is read and dropped
    cpus: float = 1.0
    pids: int = 64
    tmpfs_bytes: int = 16 * MiB

    @classmethod
    def from_limits(cls, limits: Any, **overrides: Any) -> ContainerLimits:
        """From any object with wall_s / memory_bytes / max_output / stderr_tail attributes."""
        shared = {
            k: getattr(limits, k)
            for k in ("wall_s", "memory_bytes", "max_output", "stderr_tail")
            if hasattr(limits, k)
        }
        return cls(**{**shared, **overrides})

    def __post_init__(self) -> None:
        if not (self.wall_s > 0 and self.cpus > 0):
            raise ValueError("wall_s and cpus must be positive")
        # the engine refuses memory limits under 6 MiB; pids must leave room for python itself
        if self.memory_bytes < 6 * MiB or self.pids < 4 or self.tmpfs_bytes < 4096:
            raise ValueError("memory_bytes >= 6 MiB, pids >= 4 and tmpfs_bytes >= 4 KiB")
        if self.max_output < 1 or self.stderr_tail < 0:
            raise ValueError("max_output >= 1 and stderr_tail >= 0")


# Only this reaches the container's environment (the image adds PATH): fixed str hashing, so set
# order and anything built from it are the same in every container and in the jail.
SANDBOX_ENV = {"PYTHONHASHSEED": "0"}


def own_deadline_s(limits: ContainerLimits) -> float:
    """When the container stops itself (seconds after its start): past the host's deadline."""
    return limits.wall_s + OWN_DEADLINE_MARGIN_S


def own_cpu_limit_s(limits: ContainerLimits) -> int:
    """The container's CPU-time rlimit: the backstop behind its own deadline for code that never
    lets the deadline thread run. It counts the process's start-up too (imports), which the
    deadline does not, so it sits a margin past the CPU the deadline allows; the CPU quota caps
    CPU time at `cpus` seconds per second."""
    return math.ceil(own_deadline_s(limits) * max(limits.cpus, 1.0) + OWN_DEADLINE_MARGIN_S)


def sandbox_command(limits: ContainerLimits) -> list[str]:
    """The container's command for real evaluations (-s: no user site, -P: no current directory
    on sys.path; not -I, which would also drop PYTHONHASHSEED).

    `--host-stdin`: the host holds stdin open until it has the answer, so EOF means the host is
    gone and the process exits at once; `--deadline-s`: it exits at its own deadline whatever
    the host does. The CPU rlimit (`own_cpu_limit_s`) backs both for code that never lets the
    deadline thread run."""
    own = own_deadline_s(limits)
    return [
        *("python3", "-s", "-P", "-c", PRELUDE, str(limits.memory_bytes)),
        str(own_cpu_limit_s(limits)),
        *("--host-stdin", "--deadline-s", f"{own:.3f}"),
    ]


@dataclass(frozen=True)
class ContainerError:
    code: str  # one of ERROR_CODES
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class ContainerResult:
    output: bytes  # everything the process wrote on stdout (at most limits.max_output)
    error: ContainerError | None
    exit_code: int | None  # None when it never exited on its own (killed at the deadline)
    stderr: bytes = b""
    stderr_truncated: bool = False
    container_id: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


def sandbox_package_dir() -> Path:
    """Where rara_sandbox's source lives. Goes by __path__, not __file__: an editable install made
    before the package had its __init__.py imports it as a namespace package (no __file__)."""
    import rara_sandbox

    for entry in rara_sandbox.__path__:
        if (Path(entry) / "__init__.py").is_file():
            return Path(entry).resolve()
    raise RaraError(
        "sandbox_package_missing",
        "rara_sandbox's source was not found",
        "reinstall rara: pip install -e .",
    )


def sandbox_source_hash(package_dir: Path | None = None) -> str:
    """sha256 over rara_sandbox's source files: images are labelled with it to spot stale ones."""
    package_dir = package_dir or sandbox_package_dir()
    digest = hashlib.sha256()
    for path in sorted(package_dir.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            digest.update(path.relative_to(package_dir).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def host_config_kwargs(limits: ContainerLimits) -> dict[str, Any]:
    """Keyword arguments of `APIClient.create_host_config`: every restriction, in one place."""
    return {
        "network_mode": "none",
        "read_only": True,
        "tmpfs": {"/tmp": f"size={limits.tmpfs_bytes},{TMPFS_OPTIONS}"},
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "mem_limit": limits.memory_bytes,
        "memswap_limit": limits.memory_bytes,  # equal: the container gets no swap at all
        "nano_cpus": int(limits.cpus * 1e9),
        "pids_limit": limits.pids,
        "shm_size": 1 * MiB,  # /dev/shm is always mounted rw; keep it tiny (it counts as memory)
        "ulimits": [{"Name": "core", "Soft": 0, "Hard": 0}],  # no core dumps
        "log_config": {"Type": "none", "Config": {}},  # output goes over attach only, not to disk
        "ipc_mode": "private",
        "oom_kill_disable": False,
    }


def check_host_config(inspect: Mapping[str, Any], limits: ContainerLimits) -> list[str]:
    """What the engine did not record of what we asked for; empty means all of it is in place.

    Checked on every container before it starts: an engine that silently drops a setting (an old
    API version, a rootless engine without a cgroup controller) must not run the code unconfined.
    """
    hc, cfg = inspect.get("HostConfig") or {}, inspect.get("Config") or {}
    want = {
        "network none": hc.get("NetworkMode") == "none",
        "read-only root": hc.get("ReadonlyRootfs") is True,
        "tmpfs /tmp": (hc.get("Tmpfs") or {})
        .get("/tmp", "")
        .startswith(f"size={limits.tmpfs_bytes}"),
        "cap_drop ALL": "ALL" in (hc.get("CapDrop") or []) and not hc.get("CapAdd"),
        "no-new-privileges": any(
            o.startswith("no-new-privileges") for o in hc.get("SecurityOpt") or []
        ),
        "not privileged": hc.get("Privileged") is False,
        "memory limit": hc.get("Memory") == limits.memory_bytes,
        "memory+swap limit": hc.get("MemorySwap") == limits.memory_bytes,
        "cpu limit": hc.get("NanoCpus") == int(limits.cpus * 1e9),
        "pids limit": hc.get("PidsLimit") == limits.pids,
        f"user {SANDBOX_USER}": cfg.get("User") == SANDBOX_USER,
        "no extra mounts": not hc.get("Binds") and not hc.get("Mounts"),
        "no devices": not hc.get("Devices"),
    }
    return [name for name, ok in want.items() if not ok]


def protection_layers(
    info: Mapping[str, Any], lim: ContainerLimits, command: Sequence[str] | None
) -> list[Layer]:
    """The container protections `ContainerRunner.protections` reports, from the engine's `info`
    (`DockerClient.info()`): what we request plus what the engine can enforce. `command` is the
    sandbox's custom command, None for `sandbox_command` (which sets RLIMIT_AS inside)."""
    security = " ".join(info.get("SecurityOptions") or [])
    layers = [
        Layer("docker_network_none", True, "network_mode=none: loopback only"),
        Layer("docker_read_only_root", True, "read-only root filesystem"),
        Layer("docker_tmpfs", True, f"/tmp tmpfs {lim.tmpfs_bytes} bytes, {TMPFS_OPTIONS}"),
        Layer("docker_cap_drop_all", True, "every capability dropped"),
        Layer("docker_no_new_privileges", True, "no-new-privileges: setuid bits are inert"),
        Layer("docker_user", True, f"runs as uid:gid {SANDBOX_USER}"),
        Layer(
            "docker_memory",
            bool(info.get("MemoryLimit")),
            f"memory limit {lim.memory_bytes} bytes"
            if info.get("MemoryLimit")
            else "the engine has no memory cgroup: memory limit not enforced",
        ),
        Layer(
            "docker_no_swap",
            bool(info.get("SwapLimit")),
            "memory+swap limit equals the memory limit"
            if info.get("SwapLimit")
            else "the engine cannot limit swap (no swap accounting)",
        ),
        Layer(
            "docker_cpu",
            bool(info.get("CpuCfsQuota")),
            f"{lim.cpus} CPU"
            if info.get("CpuCfsQuota")
            else "the engine has no CFS quota: CPU limit not enforced",
        ),
        Layer(
            "docker_pids",
            bool(info.get("PidsLimit")),
            f"at most {lim.pids} processes"
            if info.get("PidsLimit")
            else "the engine has no pids cgroup: process limit not enforced",
        ),
        Layer(
            "docker_seccomp",
            "seccomp" in security,
            "engine default seccomp profile"
            if "seccomp" in security
            else "the engine runs without seccomp",
        ),
        Layer(
            "docker_deadline",
            True,
            f"killed and removed after {lim.wall_s:g} s wall clock"
            + (
                f"; stops itself when rara's process is gone or after {own_deadline_s(lim):g} s"
                if command is None
                else ""
            ),
        ),
        Layer(
            "docker_address_space",
            command is None,
            f"RLIMIT_AS {lim.memory_bytes} bytes inside, as in the jail"
            if command is None
            else "custom command: no RLIMIT_AS inside (the cgroup limit still holds)",
        ),
    ]
    if "apparmor" in security:
        layers.append(Layer("docker_apparmor", True, "engine default AppArmor profile"))
    if "userns" in security:
        layers.append(Layer("docker_userns", True, "user namespace remapping"))
    if "rootless" in security:
        layers.append(Layer("docker_rootless", True, "rootless engine"))
    return layers
