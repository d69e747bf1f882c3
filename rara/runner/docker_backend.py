"""The container sandbox: one fresh, locked-down container per evaluation, through the docker SDK.

Each `DockerSandbox.run` creates a container from the sandbox image (docker/sandbox.Dockerfile)
with no network, a read-only root, a small noexec /tmp, every capability dropped,
no-new-privileges, uid/gid 65534, memory == memory+swap (so no swap escape), CPU and pid limits and
no log file; it checks that the engine really recorded those settings before starting it, streams
the request in over the attached stdin and half-closes it, reads the demultiplexed stdout (capped)
and stderr (truncated), kills the container at a wall-clock deadline, and always removes it.

The transport is bytes in, bytes out: the request and response are the frames of
`rara_sandbox.protocol`, which `evaluate` encodes and decodes. Failures of the container itself
(deadline, OOM kill, output cap, crash) come back as a `ContainerError` with a stable code, never as
an exception; only an unusable engine or image raises (a `RaraError`).

The docker SDK is imported lazily, so rara works without it until this backend is chosen.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import selectors
import socket
import struct
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rara.errors import RaraError
from rara.runner.capabilities import Layer

if TYPE_CHECKING:  # pragma: no cover
    import numpy.typing as npt

    from rara_sandbox.results import EvaluationResult

log = logging.getLogger(__name__)

DEFAULT_IMAGE = "rara-sandbox:latest"
# `python3 -s -P -m rara_sandbox`, after one stdlib line that caps the address space at the memory
# limit, as the jail's RLIMIT_AS does: a strategy's oversized allocation then fails as a
# MemoryError inside evaluate (a coded runtime_error with its line, the same answer the jail
# gives) instead of an OOM kill; the cgroup limit stays the hard stop for everything else.
# (Docker's own `ulimits` cannot carry RLIMIT_AS: runc itself then fails to start.)
PRELUDE = (
    "import resource, runpy, sys; n = int(sys.argv[1]); "
    "resource.setrlimit(resource.RLIMIT_AS, (n, n)); "
    "runpy.run_module('rara_sandbox', run_name='__main__', alter_sys=True)"
)

# Every container this module creates carries these labels: tests and `remove_leftovers` find
# them by label, and the deadline label lets any process tell an orphan from a running evaluation.
LABEL = "rara.sandbox"
LABEL_DEADLINE = "rara.sandbox.deadline"
LABEL_SOURCE_HASH = "rara.sandbox.source_sha256"  # on the image: which rara_sandbox it holds
SANDBOX_USER = "65534:65534"  # nobody:nogroup on Debian and in python slim images
TMPFS_OPTIONS = "noexec,nosuid,nodev"
MiB = 1024 * 1024

# How long after its deadline a container counts as an orphan: the owner kills at the deadline,
# so anything labelled and still present well past it was left by a process that died.
ORPHAN_GRACE_S = 120.0

# Named like rara.runner.jail's codes where the meaning is the same, so callers (and the shared
# behavioural tests) treat both backends alike; the last two exist only here.
ERROR_CODES = {
    "timeout": "the wall-clock deadline passed; the container was killed",
    "memory_limit": "the memory limit was hit; the kernel OOM-killed the process",
    "output_too_large": "stdout exceeded the output cap; the container was killed",
    "crashed": "the process exited with a non-zero status (or was killed by a signal)",
    "protocol_error": "the process exited 0 without a response",
    "protection_missing": "the engine did not record a requested restriction; not started",
    "engine_error": "the Docker engine failed during the run",
}


@dataclass(frozen=True)
class ContainerLimits:
    """Per-evaluation limits. memory_bytes is also the memory+swap limit (swap is never granted).

    The first four fields mean what rara.runner.confine.Limits' fields of the same name mean, so
    one set of limits can drive either backend (`from_limits`).
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


def sandbox_command(limits: ContainerLimits) -> list[str]:
    """The container's command for real evaluations (-s: no user site, -P: no current directory
    on sys.path; not -I, which would also drop PYTHONHASHSEED)."""
    return ["python3", "-s", "-P", "-c", PRELUDE, str(limits.memory_bytes)]


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


def _require_sdk() -> Any:
    try:
        import docker
    except ImportError:
        raise RaraError(
            "docker_sdk_missing",
            "the container sandbox needs the docker SDK, which is not installed",
            "pip install 'docker>=7.0' into rara's environment",
        ) from None
    return docker


def connect(timeout: float = 60.0) -> Any:  # a docker.DockerClient (the SDK is untyped)
    """A client for the engine named by DOCKER_HOST (default the local socket), pinged once."""
    docker = _require_sdk()
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except Exception as exc:  # DockerException, requests errors, socket errors: all "no engine"
        raise RaraError(
            "docker_unavailable",
            f"no Docker engine answered: {exc}",
            "start dockerd (scripts/ci-docker.sh does it on Debian) or use the subprocess sandbox",
        ) from None
    return client


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


class _Demux:
    """Splits the engine's multiplexed attach stream (8-byte header: stream, 0, 0, 0, size BE).

    Payloads are consumed as they arrive, partial frames included, so memory stays bounded by
    the caps whatever frame sizes the stream declares."""

    HEADER = struct.Struct(">BxxxL")

    def __init__(self, stdout_cap: int, stderr_cap: int) -> None:
        self.buf = bytearray()
        self.stream, self.left = 0, 0  # the frame being read and its bytes still to come
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.stdout_cap, self.stderr_cap = stdout_cap, stderr_cap
        self.stdout_over = False
        self.stderr_truncated = False

    def feed(self, data: bytes) -> None:
        self.buf += data
        while self.buf:
            if self.left == 0:
                if len(self.buf) < self.HEADER.size:
                    return
                self.stream, self.left = self.HEADER.unpack_from(self.buf)
                del self.buf[: self.HEADER.size]
                continue
            chunk = bytes(self.buf[: self.left])
            del self.buf[: len(chunk)]
            self.left -= len(chunk)
            if self.stream == 1:
                room = self.stdout_cap - len(self.stdout)
                self.stdout += chunk[:room]
                self.stdout_over |= len(chunk) > room
            elif self.stream == 2:
                room = max(self.stderr_cap - len(self.stderr), 0)
                self.stderr += chunk[:room]
                self.stderr_truncated |= len(chunk) > room


def _stderr_tail(stderr: bytes, limit: int = 400) -> str:
    """The last non-empty line of stderr (usually `SomeError: message`), for error messages."""
    lines = [ln for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1][-limit:] if lines else ""


class DockerSandbox:
    """Runs the sandbox image once per request. Thread-safe: each run has its own container."""

    def __init__(
        self,
        image: str = DEFAULT_IMAGE,
        limits: ContainerLimits | None = None,
        *,
        command: Sequence[str] | None = None,
        client: Any | None = None,
        extra_labels: Mapping[str, str] | None = None,
    ) -> None:
        self.image = image
        self.limits = limits or ContainerLimits()
        self.command = None if command is None else list(command)  # None: sandbox_command
        self._client = client
        self.extra_labels = dict(extra_labels or {})
        self._image_checked = False

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = connect()
        return self._client

    # -- readiness and reporting ------------------------------------------------------------------

    def image_info(self) -> dict[str, Any]:
        """The image's id and labels; raises `RaraError` when the image is not there."""
        docker = _require_sdk()
        try:
            attrs = self.client.api.inspect_image(self.image)
        except docker.errors.ImageNotFound:
            raise RaraError(
                "sandbox_image_missing",
                f"the sandbox image {self.image} is not in the local engine",
                "build it: rara sandbox build-image (offline: scripts/ci-docker.sh)",
            ) from None
        labels = (attrs.get("Config") or {}).get("Labels") or {}
        return {"id": attrs["Id"], "labels": labels, "created": attrs.get("Created")}

    def protections(self) -> list[Layer]:
        """Which container protections are active here: what we request plus what the engine can
        enforce (a cgroup controller it lacks turns a limit into a no-op, so say so). The
        settings themselves are checked in the engine's record before every start
        (`check_host_config`), so a run never starts with one of them missing."""
        info = self.client.info()
        security = " ".join(info.get("SecurityOptions") or [])
        lim = self.limits
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
            Layer("docker_deadline", True, f"killed and removed after {lim.wall_s:g} s wall clock"),
            Layer(
                "docker_address_space",
                self.command is None,
                f"RLIMIT_AS {lim.memory_bytes} bytes inside, as in the jail"
                if self.command is None
                else "custom command: no RLIMIT_AS inside (the cgroup limit still holds)",
            ),
        ]
        if "apparmor" in security:
            layers.append(Layer("docker_apparmor", True, "engine default AppArmor profile"))
        if "userns" in security:
            layers.append(Layer("docker_userns", True, "user namespace remapping"))
        if "rootless" in security:
            layers.append(Layer("docker_rootless", True, "rootless engine"))
        try:
            labels = self.image_info()["labels"]
            current = labels.get(LABEL_SOURCE_HASH) == sandbox_source_hash()
            layers.append(
                Layer(
                    "docker_image_current",
                    current,
                    f"{self.image} holds this rara_sandbox"
                    if current
                    else f"{self.image} holds another rara_sandbox; rebuild it",
                )
            )
        except RaraError as exc:
            layers.append(Layer("docker_image_current", False, exc.message))
        return layers

    def leftovers(self) -> list[Any]:
        """Containers carrying our label, running or not (normally none outside a run)."""
        return list(self.client.containers.list(all=True, filters={"label": LABEL}))

    def remove_leftovers(self, grace_s: float = ORPHAN_GRACE_S) -> int:
        """Remove labelled containers whose deadline passed more than `grace_s` ago: their owner
        died before its `finally` ran. Running evaluations of other processes are left alone."""
        now, n = time.time(), 0
        for c in self.leftovers():
            try:
                deadline = float(c.labels.get(LABEL_DEADLINE, "0"))
            except ValueError:
                deadline = 0.0
            if deadline + grace_s < now:
                with contextlib.suppress(Exception):
                    c.remove(force=True)
                    n += 1
        return n

    # -- one evaluation ---------------------------------------------------------------------------

    def create_container(self, limits: ContainerLimits | None = None) -> str:
        """Create (not start) one sandbox container with every restriction; returns its id.
        `run` uses it; tests use it to inspect what the engine recorded. The caller removes it."""
        lim = limits or self.limits
        api = self.client.api
        labels = {
            LABEL: "1",
            LABEL_DEADLINE: f"{time.time() + lim.wall_s:.3f}",
            **self.extra_labels,
        }
        # The command goes in as the entrypoint: that replaces any ENTRYPOINT of the base image
        # and keeps the image's CMD from being appended to it. stdin_open without detach also
        # sets StdinOnce, which turns our half-close into the child's EOF. SANDBOX_ENV is all we add
        # to the image's own (PATH only, for the Debian base).
        return str(
            api.create_container(
                self.image,
                entrypoint=self.command or sandbox_command(lim),
                user=SANDBOX_USER,
                environment=dict(SANDBOX_ENV),
                stdin_open=True,
                tty=False,
                network_disabled=True,
                working_dir="/",
                labels=labels,
                name=f"rara-sandbox-{uuid.uuid4().hex[:12]}",
                host_config=api.create_host_config(**host_config_kwargs(lim)),
            )["Id"]
        )

    def run(self, request: bytes, limits: ContainerLimits | None = None) -> ContainerResult:
        """Run one container with `request` on its stdin; never leaves the container behind."""
        lim = limits or self.limits
        docker = _require_sdk()
        if not self._image_checked:
            self.image_info()  # a missing image is the caller's problem to fix, so raise
            self._image_checked = True
        api = self.client.api
        timings: dict[str, float] = {}
        t0 = time.monotonic()
        deadline = t0 + lim.wall_s
        cid = ""
        attached: Any = None

        def lap(name: str, since: float) -> float:
            now = time.monotonic()
            timings[name] = round((now - since) * 1000, 2)
            return now

        def failed(code: str, message: str) -> ContainerResult:
            return ContainerResult(
                b"", ContainerError(code, message), None, container_id=cid, timings_ms=timings
            )

        try:
            try:
                cid = self.create_container(lim)
                t = lap("create", t0)
                missing = check_host_config(api.inspect_container(cid), lim)
                t = lap("verify", t)
                if missing:
                    return failed(
                        "protection_missing", "the engine did not apply: " + ", ".join(missing)
                    )
                # Attach before start: no early output is lost, and nothing can have been
                # buffered by the HTTP layer ahead of the raw socket we read.
                attached = api.attach_socket(
                    cid, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
                )
                sock = getattr(attached, "_sock", attached)
                if not isinstance(sock, socket.socket):
                    raise RaraError(
                        "docker_transport",
                        "the engine connection is not a plain socket (TLS or ssh)",
                        "use a local engine (unix socket)",
                    )
                api.start(cid)
                t = lap("start", t)
            except (docker.errors.DockerException, OSError) as exc:  # requests' errors are OSError
                return failed("engine_error", str(exc))
            try:
                demux, timed_out = self._pump(sock, request, lim, deadline)
            except OSError as exc:  # the engine dropped the stream: not the child's doing
                return failed("engine_error", f"attach stream failed: {exc}")
            finally:
                # Close the stream before kill/wait: an engine still pushing output into a
                # socket nobody reads can stall its own API calls on this container.
                self._close(attached)
                attached = None
            t = lap("io", t)
            return self._finish(cid, demux, timed_out, lim, deadline, timings, t)
        finally:
            self._close(attached)
            if cid:
                t_rm = time.monotonic()
                try:
                    api.remove_container(cid, force=True)  # force: kills it if still running
                except docker.errors.NotFound:
                    pass
                except (docker.errors.DockerException, OSError) as exc:
                    # logged, and the deadline label lets remove_leftovers mop it up later
                    log.warning("could not remove sandbox container %s: %s", cid[:12], exc)
                lap("remove", t_rm)
            timings["total"] = round((time.monotonic() - t0) * 1000, 2)

    @staticmethod
    def _close(attached: Any) -> None:
        if attached is not None:  # the raw socket first: SocketIO.close() forgets it
            for closable in (getattr(attached, "_sock", None), attached):
                if closable is not None:
                    with contextlib.suppress(OSError):
                        closable.close()

    def _pump(
        self, sock: socket.socket, request: bytes, lim: ContainerLimits, deadline: float
    ) -> tuple[_Demux, bool]:
        """Write stdin and read stdout/stderr at once (a child that writes before reading must
        not deadlock us), until the engine closes the stream, the cap is passed or time is up."""
        demux = _Demux(lim.max_output, lim.stderr_tail)
        view, sent = memoryview(request), 0
        sock.setblocking(False)
        sel = selectors.DefaultSelector()
        sel.register(sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if request else 0))
        writing = bool(request)
        if not writing:
            sock.shutdown(socket.SHUT_WR)
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return demux, True
                for _key, events in sel.select(timeout=remaining):
                    if events & selectors.EVENT_WRITE and writing:
                        try:
                            sent += sock.send(view[sent : sent + 256 * 1024])
                        except BlockingIOError:
                            pass
                        except OSError as exc:  # the child exited without reading everything
                            if exc.errno not in (errno.EPIPE, errno.ECONNRESET):
                                raise
                            sent = len(view)
                        if sent >= len(view):
                            writing = False
                            # half-close: with stdin_once the engine closes the child's stdin
                            with contextlib.suppress(OSError):
                                sock.shutdown(socket.SHUT_WR)
                            sel.modify(sock, selectors.EVENT_READ)
                    if events & selectors.EVENT_READ:
                        try:
                            data = sock.recv(256 * 1024)
                        except BlockingIOError:
                            continue
                        except ConnectionResetError:
                            data = b""
                        if not data:
                            return demux, False
                        demux.feed(data)
                        if demux.stdout_over:
                            return demux, False
        finally:
            sel.close()

    def _finish(
        self,
        cid: str,
        demux: _Demux,
        timed_out: bool,
        lim: ContainerLimits,
        deadline: float,
        timings: dict[str, float],
        t: float,
    ) -> ContainerResult:
        api = self.client.api
        docker = _require_sdk()

        def result(error: ContainerError | None, exit_code: int | None) -> ContainerResult:
            timings["wait"] = round((time.monotonic() - t) * 1000, 2)
            return ContainerResult(
                bytes(demux.stdout),
                error,
                exit_code,
                bytes(demux.stderr),
                demux.stderr_truncated,
                cid,
                timings,
            )

        if timed_out:
            with contextlib.suppress(docker.errors.DockerException):
                api.kill(cid)
            return result(
                ContainerError("timeout", f"no answer within {lim.wall_s:g} s; killed"), None
            )
        if demux.stdout_over:
            with contextlib.suppress(docker.errors.DockerException):
                api.kill(cid)
            return result(
                ContainerError("output_too_large", f"stdout passed {lim.max_output} bytes; killed"),
                None,
            )
        # The stream closed: the process is exiting. Wait for the engine to record it.
        try:
            status = api.wait(cid, timeout=max(deadline - time.monotonic(), 1.0))
            state = api.inspect_container(cid)["State"]
        except Exception as exc:  # requests' ReadTimeout is not a DockerException
            with contextlib.suppress(docker.errors.DockerException):
                api.kill(cid)
            return result(ContainerError("timeout", f"did not exit in time: {exc}"), None)
        code = int(status.get("StatusCode", state.get("ExitCode", -1)))
        tail = _stderr_tail(bytes(demux.stderr))
        if state.get("OOMKilled"):
            return result(
                ContainerError(
                    "memory_limit",
                    f"memory limit of {lim.memory_bytes} bytes hit; killed (exit {code})",
                ),
                code,
            )
        if code != 0:
            signal = f" (signal {code - 128})" if code > 128 else ""
            return result(
                ContainerError("crashed", f"exited {code}{signal}" + (f": {tail}" if tail else "")),
                code,
            )
        if not demux.stdout:
            return result(
                ContainerError(
                    "protocol_error",
                    "exited 0 without a response" + (f"; stderr: {tail}" if tail else ""),
                ),
                code,
            )
        return result(None, code)

    # -- the rara_sandbox protocol on top ---------------------------------------------------------

    def evaluate(
        self,
        source: str,
        candles: Mapping[str, npt.NDArray[Any]],
        params: Mapping[str, Any] | None = None,
        windows: Sequence[int] = (),
        *,
        limits: ContainerLimits | None = None,
        **request: Any,
    ) -> tuple[EvaluationResult | None, ContainerResult]:
        """Encode a request, run it, decode the answer. The `EvaluationResult` is None when the
        container failed (see the `ContainerResult`'s error) or answered with a bad frame.
        Other keywords (probes, print_limit, ...) go to `rara_sandbox.protocol.encode_request`."""
        from rara_sandbox.protocol import ProtocolError, decode_response, encode_request

        lim = limits or self.limits
        run = self.run(encode_request(source, candles, params, windows, **request), lim)
        # exit 2 is rara_sandbox's "malformed request", which still carries a response
        if run.output and (
            run.ok or (run.error and run.error.code == "crashed" and run.exit_code == 2)
        ):
            try:
                return decode_response(run.output, max_bytes=lim.max_output), run
            except ProtocolError as exc:
                return None, ContainerResult(
                    run.output,
                    ContainerError("protocol_error", f"unreadable response: {exc}"),
                    run.exit_code,
                    run.stderr,
                    run.stderr_truncated,
                    run.container_id,
                    run.timings_ms,
                )
        return None, run
