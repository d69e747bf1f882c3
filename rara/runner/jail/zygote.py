"""The zygote: a warm, single-threaded process that forks one jailed child per evaluation.

Why a separate process (`python -I -B -c ...`, started by `rara.runner.jail`) and not a fork of
the host: the host may hold threads, sockets, database handles and a big heap; forking it would
copy all that into every child, and forking a threaded process is unsafe. The zygote imports numpy
(threads pinned to one through the environment, before the import) and the configured warm
modules once, freezes the GC (so children do not dirty the shared pages), and then only forks.

Wire (one SOCK_SEQPACKET Unix socket pair, so every message is one datagram-like record):

    host -> zygote   {"op": "spawn", "id", "entry": "module:function", "plan": {...}}
                     + 3 fds by SCM_RIGHTS: request pipe (read end), response pipe (write end),
                     stderr pipe (write end). The host keeps the other ends: it talks to each
                     child directly, the zygote never touches evaluation bytes.
    zygote -> host   {"op": "ready", "pid", "warm"}              once, after the imports
                     {"op": "spawned", "id", "pid"}              the child runs; pgid == pid
                     {"op": "error", "id", "message"}            no child (bad entry, fork failed)
                     {"op": "exited", "id", "pid", "status", "utime", "stime", "maxrss_kib"}

The zygote is the children's parent: it reaps them (SIGCHLD -> wakeup fd), reports the raw wait
status, and SIGKILLs the reaped child's process group in case anything is left in it. It exits when
the host's end closes (the host died or closed the runner), killing its children on the way out;
the children also have PR_SET_PDEATHSIG=SIGKILL on the zygote. A child's pid stays reserved until
the zygote reaps it, so the host's killpg on a deadline cannot hit a recycled pid before "exited".

Child (see `_child`): own session, pipes moved to fds 0 (request), 1 and 2 (stderr pipe: prints
are diagnostics), 3 (response); every other fd closed; environment emptied; `confine.apply`; then
frame 1 (the layer report, JSON, written by trusted code before the entry runs), read the request
frame, call the entry, frame 2 (the response). Frames are an 8-byte little-endian length + bytes.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import select
import signal
import socket
import struct
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from rara.runner.jail import confine

FRAME = struct.Struct("<Q")
MAX_REPORT_BYTES = 64 * 1024
MAX_MESSAGE = 1 << 20
BACKSTOP_S = 10.0  # the zygote's own kill, this long after a child's wall-clock deadline
REQUEST_FD, RESPONSE_FD = 0, 3

# Child exit codes the host maps to errors (a strategy could fake one, but only about itself).
EXIT_OK = 0
EXIT_ENTRY_RAISED = 70
EXIT_MEMORY = 71
EXIT_SETUP = 72
EXIT_BAD_REQUEST = 73
EXIT_BAD_RETURN = 74
EXIT_WRITE_FAILED = 75

# Thread pools pinned before numpy loads: a fork copies only the forking thread, and the seccomp
# filter would refuse new processes anyway; one thread per evaluation is the contract.
THREAD_ENV = {
    name: "1"
    for name in (
        "OPENBLAS_NUM_THREADS",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS",
        "BLIS_NUM_THREADS",
    )
}

Buffers = bytes | bytearray | memoryview | Sequence[bytes | bytearray | memoryview]
Entry = Callable[[bytes], Buffers]


# -- entries shipped with the runner --------------------------------------------------------------


def echo(request: bytes) -> bytes:
    """Return the request unchanged: the self-test and the benchmark's trivial entry."""
    return request


# -- child side -----------------------------------------------------------------------------------


def write_all(fd: int, buffers: Sequence[bytes | bytearray | memoryview]) -> None:
    views = [memoryview(b).cast("B") for b in buffers if len(b)]
    while views:
        n = os.writev(fd, views)
        while views and n >= len(views[0]):
            n -= len(views[0])
            views.pop(0)
        if views and n:
            views[0] = views[0][n:]


def read_exact(fd: int, n: int) -> bytearray:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = os.readv(fd, [view[got:]])
        if k == 0:
            raise EOFError(f"request truncated at {got} of {n} bytes")
        got += k
    return buf


def _flush_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def _child(fds: list[int], entry: Entry, plan: confine.Plan, zygote_pid: int) -> None:
    """Runs in the forked child; never returns."""
    code = EXIT_SETUP
    try:
        os.setsid()  # own session and process group (pgid == pid): the host kills the group
        confine.arm_pdeathsig(zygote_pid)  # now, and again after the credentials change
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        # Park the pipes above 3, then place them; everything else the zygote had is closed.
        high = [os.dup(fd) for fd in fds]
        for target, fd in zip(
            (REQUEST_FD, 1, 2, RESPONSE_FD), (high[0], high[2], high[2], high[1]), strict=True
        ):
            os.dup2(fd, target)  # dup2 clears O_CLOEXEC on the target
        os.closerange(RESPONSE_FD + 1, os.sysconf("SC_OPEN_MAX"))
        os.environ.clear()  # also unsetenv()s the C environment
        for stream in (sys.stdout, sys.stderr):  # prints and tracebacks keep their order
            with contextlib.suppress(Exception):
                stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        report = confine.apply(plan, zygote_pid)
        report["process_group"] = {
            "active": os.getpgid(0) == os.getpid(),
            "detail": "own session and process group",
        }
        report["fds_closed"] = {"active": True, "detail": "only fds 0-3 (pipes) open"}
        report["empty_environment"] = {"active": not os.environ, "detail": "no variables"}
        blob = json.dumps(report).encode()
        write_all(RESPONSE_FD, [FRAME.pack(len(blob)), blob])
        missing = [name for name in plan.require if not report.get(name, {}).get("active")]
        if missing:
            os.write(2, f"required sandbox layers inactive: {', '.join(missing)}\n".encode())
            os._exit(EXIT_SETUP)
        # ---- the jail is closed: from here on, only the request and the entry ----
        code = EXIT_BAD_REQUEST
        (n,) = FRAME.unpack(read_exact(REQUEST_FD, FRAME.size))
        request = bytes(read_exact(REQUEST_FD, n))
        code = EXIT_ENTRY_RAISED
        result = entry(request)
        code = EXIT_BAD_RETURN
        parts: Sequence[bytes | bytearray | memoryview]
        parts = [result] if isinstance(result, bytes | bytearray | memoryview) else list(result)
        size = sum(memoryview(p).nbytes for p in parts)
        code = EXIT_WRITE_FAILED
        write_all(RESPONSE_FD, [FRAME.pack(size), *parts])
        code = EXIT_OK
    except MemoryError:
        code = EXIT_MEMORY
        with contextlib.suppress(BaseException):
            os.write(2, b"MemoryError: the address-space limit was reached\n")
    except BaseException:
        with contextlib.suppress(BaseException):
            os.write(2, traceback.format_exc().encode(errors="replace"))
    finally:
        _flush_stdio()
        os._exit(code)


# -- zygote side ----------------------------------------------------------------------------------


def package_dir(module: str) -> str:
    """The directory of the top-level package (or the single module) `module` belongs to."""
    top = sys.modules[module.partition(".")[0]]
    where = getattr(top, "__path__", None) or [os.path.dirname(top.__file__ or "")]
    return str(next(iter(where)))


class Zygote:
    def __init__(self, sock: socket.socket, warm: Sequence[str]) -> None:
        self.sock = sock
        self.pid = os.getpid()
        self.entries: dict[str, tuple[Entry, str]] = {}
        self.children: dict[int, int] = {}  # pid -> request id
        self.kill_at: dict[int, float] = {}  # pid -> backstop deadline (monotonic)
        self.warm = list(warm)
        # Landlock lets children read these too, for submodules the package imports lazily.
        self.warm_dirs = [package_dir(m) for m in self.warm if m in sys.modules]

    def send(self, msg: dict[str, Any]) -> None:
        self.sock.sendmsg([json.dumps(msg).encode()])

    def resolve(self, name: str) -> tuple[Entry, str]:
        """Import "module:function" here, once, so every child starts with it loaded."""
        if name not in self.entries:
            mod_name, _, fn_name = name.partition(":")
            mod = importlib.import_module(mod_name)
            fn = getattr(mod, fn_name)
            if not callable(fn):
                raise TypeError(f"{name} is not callable")
            self.entries[name] = (fn, package_dir(mod_name))
            gc.collect()
            gc.freeze()
        return self.entries[name]

    def spawn(self, msg: dict[str, Any], fds: list[int]) -> None:
        rid = int(msg["id"])
        try:
            if len(fds) != 3:
                raise ValueError(f"expected 3 fds, got {len(fds)}")
            entry, entry_dir = self.resolve(str(msg["entry"]))
            p = msg["plan"]
            plan = confine.Plan(
                limits=confine.Limits.from_dict(p["limits"]),
                uid=int(p["uid"]),
                gid=int(p["gid"]),
                read_paths=(*map(str, p["read_paths"]), *self.warm_dirs, entry_dir),
                require=tuple(map(str, p["require"])),
            )
            pid = os.fork()
        except Exception as exc:
            for fd in fds:
                os.close(fd)
            self.send({"op": "error", "id": rid, "message": f"{type(exc).__name__}: {exc}"})
            return
        if pid == 0:
            self.sock.close()
            _child(fds, entry, plan, self.pid)
        for fd in fds:
            os.close(fd)
        self.children[pid] = rid
        self.kill_at[pid] = time.monotonic() + plan.limits.wall_s + BACKSTOP_S
        self.send({"op": "spawned", "id": rid, "pid": pid})

    def backstop(self) -> float | None:
        """Kill children past their deadline plus BACKSTOP_S: the host does it on time, this only
        covers a host thread that died mid-run. Returns the wait until the next one is due."""
        now = time.monotonic()
        for pid, when in list(self.kill_at.items()):
            if when <= now:
                with contextlib.suppress(OSError):
                    os.killpg(pid, signal.SIGKILL)
                del self.kill_at[pid]  # reaped (and reported) like any other death
        return max(0.0, min(self.kill_at.values()) - now) if self.kill_at else None

    def reap(self) -> None:
        while self.children:
            try:
                pid, status, ru = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)  # anything the child left in its group
            rid = self.children.pop(pid, -1)
            self.kill_at.pop(pid, None)
            self.send(
                {
                    "op": "exited",
                    "id": rid,
                    "pid": pid,
                    "status": status,
                    "utime": ru.ru_utime,
                    "stime": ru.ru_stime,
                    "maxrss_kib": ru.ru_maxrss,
                }
            )

    def serve(self, failed: dict[str, str]) -> None:
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # the wakeup fd does the work
        self.send({"op": "ready", "pid": self.pid, "warm": self.warm, "failed": failed})
        sock_fd = self.sock.fileno()
        try:
            while True:
                ready, _, _ = select.select([sock_fd, wake_r], [], [], self.backstop())
                if wake_r in ready:
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake_r, 4096)
                if sock_fd in ready:
                    data, fds, _, _ = socket.recv_fds(self.sock, MAX_MESSAGE, 8)
                    if not data:
                        return  # the host closed its end or died
                    msg = json.loads(data)
                    if msg.get("op") == "spawn":
                        self.spawn(msg, fds)
                    else:
                        for fd in fds:
                            os.close(fd)
                self.reap()
        finally:
            for pid in list(self.children):
                with contextlib.suppress(OSError):
                    os.killpg(pid, signal.SIGKILL)


def main(config: dict[str, Any]) -> None:
    """Entry point of the zygote process (see `rara.runner.jail.runner._Zygote.start`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the host's business
    os.environ.update(THREAD_ENV)
    sock = socket.socket(fileno=int(config["fd"]))
    warm = [str(m) for m in config.get("warm", [])]
    failed = {}
    for name in ["numpy", *warm]:
        try:
            importlib.import_module(name)
        except Exception as exc:  # reported to the host, which refuses to start
            failed[name] = f"{type(exc).__name__}: {exc}"
    confine.prewarm()
    gc.collect()
    gc.freeze()  # the children's collections then skip every object the zygote made
    _flush_stdio()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the host went away
        Zygote(sock, warm).serve(failed)
