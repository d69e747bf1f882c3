"""One jailed run seen from the host: request out, layer report and response in, verdict.

`JailedRun` drives the three pipes of one child with non-blocking I/O and a single deadline: it
writes the request frame, reads frame 1 (the layer report, at most MAX_REPORT_BYTES) and frame 2
(the response, at most `Limits.max_output`), keeps a bounded tail of the child's stdout/stderr, and
SIGKILLs the child's process group the moment a cap is exceeded or the deadline passes. A length
header is checked before anything is allocated for its body. Then it turns the zygote's wait
status into one of ERROR_CODES. Nothing the child sent is ever unpickled, imported or called: the
host sees a length, JSON (parsed into plain values, every field type-checked) and raw bytes.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from rara.runner.jail.confine import LAYERS, Limits
from rara.runner.jail.zygote import (
    EXIT_BAD_REQUEST,
    EXIT_BAD_RETURN,
    EXIT_ENTRY_RAISED,
    EXIT_MEMORY,
    EXIT_OK,
    EXIT_SETUP,
    EXIT_WRITE_FAILED,
    FRAME,
    MAX_REPORT_BYTES,
)

ERROR_CODES = frozenset(
    {
        "timeout",
        "cpu_limit",
        "memory_limit",
        "output_too_large",
        "forbidden_syscall",
        "killed",
        "crashed",
        "entry_error",
        "protocol_error",
        "setup_failed",
        "spawn_failed",
        "zygote_died",
    }
)

_GRACE_S = 5.0  # how long past the deadline to wait for the zygote's spawn or exit report


@dataclass(frozen=True)
class LayerStatus:
    name: str
    active: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "active": self.active, "detail": self.detail}


@dataclass
class JailResult:
    """What came back: `response` only when `ok`; otherwise `error` is one of ERROR_CODES."""

    ok: bool
    response: bytes | None
    error: str | None
    message: str
    layers: dict[str, LayerStatus] = field(default_factory=dict)
    exit_code: int | None = None
    signal: int | None = None
    stderr: bytes = b""
    wall_ms: float = 0.0
    cpu_s: float | None = None
    max_rss_kib: int | None = None
    pid: int | None = None

    @property
    def missing_layers(self) -> list[str]:
        return [n for n in LAYERS if not (n in self.layers and self.layers[n].active)]


class Pending:
    """What the zygote said about one spawn request; filled in by the dispatcher thread."""

    def __init__(self) -> None:
        self.spawned = threading.Event()
        self.exited = threading.Event()
        self.pid: int | None = None
        self.spawn_error: str | None = None
        self.zygote_died = False
        self.status: int | None = None
        self.cpu_s: float | None = None
        self.max_rss_kib: int | None = None


class JailedRun:
    """One run's I/O: request out, report and response in, stderr tail, deadline and caps."""

    def __init__(
        self,
        pending: Pending,
        limits: Limits,
        t0: float,
        deadline: float,
        in_w: int,
        out_r: int,
        err_r: int,
    ) -> None:
        self.p, self.limits = pending, limits
        self.in_w, self.out_r, self.err_r = in_w, out_r, err_r
        # Each fd is closed exactly once: another thread may get the same number right after.
        self.open_fds = {in_w, out_r, err_r}
        self.t0, self.deadline = t0, deadline
        self.killed_for: str | None = None
        self.kill_detail = ""
        self.stderr = bytearray()
        self.frames: list[bytes] = []
        self.buf = bytearray(FRAME.size)
        self.got = 0
        self._in_header = True

    def kill(self, reason: str, detail: str) -> None:
        if self.killed_for is None:
            self.killed_for, self.kill_detail = reason, detail
        # The pid is the group id (setsid) and stays reserved until the zygote reaps it.
        if self.p.pid is not None and not self.p.exited.is_set():
            with contextlib.suppress(OSError):
                os.killpg(self.p.pid, signal.SIGKILL)

    def _on_out(self, fd: int) -> bool:
        """Read into the current frame; False at EOF. Enforces the caps as soon as a header
        arrives, before allocating anything for the body."""
        if len(self.frames) == 2:  # both frames are in: nothing more may come
            if os.read(fd, 1):
                self.kill("protocol_error", "bytes after the response frame")
                return False
            return False
        view = memoryview(self.buf)[self.got :]
        n = os.readv(fd, [view])
        if n == 0:
            return False
        self.got += n
        if self.got < len(self.buf):
            return True
        if self._in_header:
            (size,) = FRAME.unpack(self.buf)
            cap = MAX_REPORT_BYTES if not self.frames else self.limits.max_output
            if size > cap:
                what = "output_too_large" if self.frames else "protocol_error"
                self.kill(what, f"frame of {size} bytes announced; the cap is {cap}")
                return False
            self.buf, self.got, self._in_header = bytearray(size), 0, False
            if size:
                return True
        self.frames.append(bytes(self.buf))
        self.buf, self.got, self._in_header = bytearray(FRAME.size), 0, True
        return True

    def close_fd(self, fd: int) -> None:
        if fd in self.open_fds:
            self.open_fds.discard(fd)
            os.close(fd)

    def close_all(self) -> None:
        for fd in list(self.open_fds):
            self.close_fd(fd)

    def run(self, head: bytes, request: bytes) -> JailResult:
        try:
            return self._run(head, request)
        except BaseException:  # e.g. KeyboardInterrupt in this thread: leave no child behind
            self.kill("crashed", "the host side of the run failed")
            raise

    def _run(self, head: bytes, request: bytes) -> JailResult:
        in_w, out_r, err_r = self.in_w, self.out_r, self.err_r
        # A fork answered after the deadline is still taken (and killed at once below): only a
        # zygote silent for the grace period too is declared hung (and replaced by the runner).
        if not self.p.spawned.wait(max(0.0, self.deadline - time.monotonic()) + _GRACE_S):
            msg = "the zygote did not answer a spawn request"
            return JailResult(False, None, "spawn_failed", msg, wall_ms=self._ms())
        if self.p.spawn_error is not None:
            code = "zygote_died" if self.p.zygote_died else "spawn_failed"
            return JailResult(False, None, code, self.p.spawn_error, wall_ms=self._ms())
        for fd in (in_w, out_r, err_r):
            os.set_blocking(fd, False)
        todo = [memoryview(head), memoryview(request)]
        sel = selectors.DefaultSelector()
        sel.register(in_w, selectors.EVENT_WRITE)
        sel.register(out_r, selectors.EVENT_READ)
        sel.register(err_r, selectors.EVENT_READ)
        open_reads = 2
        with sel:
            while open_reads:
                left = self.deadline - time.monotonic()
                if left <= 0:
                    self.kill("timeout", f"wall-clock deadline of {self.limits.wall_s:g} s")
                    break
                for key, _ in sel.select(left):
                    fd = key.fd
                    if fd == in_w:
                        if not self._write(in_w, todo):
                            sel.unregister(in_w)
                            self.close_fd(in_w)  # EOF for the child; no more wakeups
                    elif fd == out_r and not self._on_out(out_r):
                        sel.unregister(out_r)
                        open_reads -= 1
                    elif fd == err_r and not self._on_err(err_r):
                        sel.unregister(err_r)
                        open_reads -= 1
                if self.killed_for is not None:
                    break
        left = self.deadline - time.monotonic()
        if not self.p.exited.wait(max(0.0, left)):
            self.kill("timeout", f"wall-clock deadline of {self.limits.wall_s:g} s")
            self.p.exited.wait(_GRACE_S)
        return self._result()

    def _write(self, fd: int, todo: list[memoryview]) -> bool:
        try:
            while todo:
                n = os.write(fd, todo[0])
                todo[0] = todo[0][n:]
                if not len(todo[0]):
                    todo.pop(0)
        except BlockingIOError:
            return True
        except OSError:  # EPIPE: the child is gone or stopped reading
            return False
        return False

    def _on_err(self, fd: int) -> bool:
        data = os.read(fd, 65536)
        if not data:
            return False
        self.stderr += data
        cap = self.limits.stderr_tail
        if len(self.stderr) > 2 * cap:
            del self.stderr[:-cap]
        return True

    def _ms(self) -> float:
        return (time.monotonic() - self.t0) * 1000

    def _layers(self) -> dict[str, LayerStatus]:
        if not self.frames:
            return {}
        try:
            raw = json.loads(self.frames[0])
        except ValueError:
            return {}
        out = {}
        if isinstance(raw, dict):
            for name, v in raw.items():
                if isinstance(name, str) and isinstance(v, dict):
                    out[name] = LayerStatus(
                        name, v.get("active") is True, str(v.get("detail", ""))[:500]
                    )
        return out

    def _result(self) -> JailResult:
        p = self.p
        status = p.status
        code = os.WEXITSTATUS(status) if status is not None and os.WIFEXITED(status) else None
        sig = os.WTERMSIG(status) if status is not None and os.WIFSIGNALED(status) else None
        error, message = self._classify(code, sig)
        ok = error is None
        return JailResult(
            ok=ok,
            response=self.frames[1] if ok else None,
            error=error,
            message=message,
            layers=self._layers(),
            exit_code=code,
            signal=sig,
            stderr=bytes(self.stderr[-self.limits.stderr_tail :]),
            wall_ms=self._ms(),
            cpu_s=p.cpu_s,
            max_rss_kib=p.max_rss_kib,
            pid=p.pid,
        )

    def _classify(self, code: int | None, sig: int | None) -> tuple[str | None, str]:
        if self.killed_for is not None:
            return self.killed_for, self.kill_detail
        if self.p.status is None:
            return "zygote_died", "the zygote died; the child's exit status is unknown"
        if sig is not None:
            cpu = self.p.cpu_s or 0.0
            if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= self.limits.cpu_s):
                return "cpu_limit", f"CPU time limit of {self.limits.cpu_s} s (RLIMIT_CPU)"
            if sig == signal.SIGSYS:
                return "forbidden_syscall", "killed by the seccomp filter (SIGSYS)"
            if sig == signal.SIGKILL:
                return "killed", "killed by SIGKILL from outside (the kernel OOM killer?)"
            return "crashed", f"killed by {signal.Signals(sig).name}"
        if code == EXIT_OK:
            if len(self.frames) < 2:
                what = "no layer report" if not self.frames else "no response frame"
                if self.got:
                    what = f"truncated frame ({self.got} of {len(self.buf)} bytes)"
                return "protocol_error", f"the child exited cleanly but sent {what}"
            return None, "ok"
        known = {
            EXIT_ENTRY_RAISED: ("entry_error", "the entry raised (see stderr)"),
            EXIT_BAD_RETURN: ("entry_error", "the entry returned something that is not bytes"),
            EXIT_MEMORY: (
                "memory_limit",
                f"memory limit of {self.limits.memory_bytes >> 20} MiB (RLIMIT_AS)",
            ),
            EXIT_SETUP: ("setup_failed", "the jail could not be set up (see stderr)"),
            EXIT_BAD_REQUEST: ("protocol_error", "the child could not read the request"),
            EXIT_WRITE_FAILED: ("protocol_error", "the child could not write its response"),
        }
        return known.get(code or 0, ("crashed", f"exited with code {code}"))
