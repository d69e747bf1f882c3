"""The container sandbox: one fresh, locked-down container per evaluation, through the docker SDK.

Each `ContainerRunner.run` creates a container from the sandbox image (docker/sandbox.Dockerfile)
with no network, a read-only root, a small noexec /tmp, every capability dropped,
no-new-privileges, uid/gid 65534, memory == memory+swap (so no swap escape), CPU and pid limits and
no log file; it checks that the engine really recorded those settings before starting it, streams
the request in over the attached stdin, reads the demultiplexed stdout (capped) and stderr
(truncated), kills the container at a wall-clock deadline, and always removes it.

A container must not outlive its host either, when this process dies before its `finally` runs.
stdin stays open until the answer is in: the engine closes the container's stdin when our end of
the stream goes, and rara_sandbox exits on that EOF (`python -m rara_sandbox --host-stdin`); it
also stops itself at its own deadline, a margin past ours, with a CPU rlimit behind that. Every
container is labelled with its owner (`owner`), and the first run of each runner removes the
labelled containers whose owner is gone (`remove_leftovers`).

The transport is bytes in, bytes out: the request and response are the frames of
`rara_sandbox.protocol`, which `evaluate` encodes and decodes. Failures of the container itself
(deadline, OOM kill, output cap, crash) come back as a `ContainerError` with a stable code, never as
an exception; only an unusable engine or image raises (a `RaraError`).

The docker SDK is imported lazily, so rara works without it until this backend is chosen. What a
container is asked for (limits, host config, labels, result types, the report of which protections
the engine enforces) lives in `rara.runner.container.config`, the engine connection and the
attached stream in `rara.runner.container.io`; the names other code imports from here are
re-exported.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
import uuid
from collections.abc import Mapping, Sequence
from signal import SIGKILL
from typing import TYPE_CHECKING, Any

from rara.errors import RaraError
from rara.runner.capabilities import Layer
from rara.runner.container.config import (
    DEFAULT_IMAGE,
    ERROR_CODES,
    LABEL,
    LABEL_DEADLINE,
    LABEL_SOURCE_HASH,
    ORPHAN_GRACE_S,
    SANDBOX_ENV,
    SANDBOX_USER,
    ContainerError,
    ContainerLimits,
    ContainerResult,
    check_host_config,
    host_config_kwargs,
    protection_layers,
    sandbox_command,
    sandbox_package_dir,
    sandbox_source_hash,
)
from rara.runner.container.io import (
    _Demux,
    _require_sdk,
    _stderr_tail,
    close_attached,
    connect,
    pump,
)
from rara.runner.container.owner import is_orphan, owner_labels

if TYPE_CHECKING:  # pragma: no cover
    import numpy.typing as npt

    from rara_sandbox.results import EvaluationResult

__all__ = [
    "DEFAULT_IMAGE",
    "ERROR_CODES",
    "LABEL",
    "LABEL_DEADLINE",
    "LABEL_SOURCE_HASH",
    "SANDBOX_ENV",
    "SANDBOX_USER",
    "ContainerError",
    "ContainerLimits",
    "ContainerResult",
    "ContainerRunner",
    "check_host_config",
    "connect",
    "host_config_kwargs",
    "sandbox_command",
    "sandbox_package_dir",
    "sandbox_source_hash",
]

log = logging.getLogger(__name__)


class ContainerRunner:
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
        self.extra_labels = dict(extra_labels or {})  # merged last: tests name other owners
        # The sandbox's own command reads exactly one frame and takes EOF as its host's death, so
        # its stdin stays open; a custom command (tests, the image smoke run) reads to EOF.
        self.hold_stdin = command is None
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
        layers = protection_layers(self.client.info(), self.limits, self.command)
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
        """Remove labelled containers whose owner died before its `finally` ran: its process is
        gone (same host) or, where that cannot be checked, the deadline passed more than
        `grace_s` ago. Running evaluations of live processes are left alone. Returns how many
        were removed."""
        n = 0
        for c in self.leftovers():
            if is_orphan(c.labels, LABEL_DEADLINE, grace_s):
                with contextlib.suppress(Exception):  # gone already, or being removed by another
                    c.remove(force=True)
                    n += 1
        return n

    def _reap_once(self) -> None:
        """`remove_leftovers` on this runner's first run: the next start after a crash cleans up.
        Never fails the run: an engine that cannot list or remove is the run's problem to report."""
        docker = _require_sdk()
        try:
            n = self.remove_leftovers()
        except (docker.errors.DockerException, OSError) as exc:
            log.warning("could not look for orphaned sandbox containers: %s", exc)
            return
        if n:
            log.info("removed %d sandbox container(s) left by a process that died", n)

    # -- one evaluation ---------------------------------------------------------------------------

    def create_container(self, limits: ContainerLimits | None = None) -> str:
        """Create (not start) one sandbox container with every restriction; returns its id.
        `run` uses it; tests use it to inspect what the engine recorded. The caller removes it."""
        lim = limits or self.limits
        api = self.client.api
        labels = {
            LABEL: "1",
            LABEL_DEADLINE: f"{time.time() + lim.wall_s:.3f}",
            **owner_labels(),
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
            self._reap_once()
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
                demux, timed_out = pump(
                    sock, request, lim, deadline, half_close=not self.hold_stdin
                )
            except OSError as exc:  # the engine dropped the stream: not the child's doing
                return failed("engine_error", f"attach stream failed: {exc}")
            finally:
                # Close the stream before kill/wait: an engine still pushing output into a
                # socket nobody reads can stall its own API calls on this container.
                close_attached(attached)
                attached = None
            t = lap("io", t)
            return self._finish(cid, demux, timed_out, lim, deadline, timings, t)
        finally:
            close_attached(attached)
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
        from rara_sandbox.serve import EXIT_DEADLINE

        if self.hold_stdin and code == EXIT_DEADLINE:  # stopped itself: we were too slow to kill
            return result(ContainerError("timeout", f"no answer within {lim.wall_s:g} s"), code)
        if state.get("OOMKilled"):
            return result(
                ContainerError(
                    "memory_limit",
                    f"memory limit of {lim.memory_bytes} bytes hit; killed (exit {code})",
                ),
                code,
            )
        if self.hold_stdin and code == 128 + SIGKILL:
            # Nothing inside can SIGKILL the container's init (pid 1): with no OOM kill and no kill
            # of ours (that path returned above), the kernel's RLIMIT_CPU did it.
            return result(
                ContainerError(
                    "cpu_limit", "CPU time limit of the container's deadline hit; killed"
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
