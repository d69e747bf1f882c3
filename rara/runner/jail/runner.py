"""Host side of the jailed subprocess: `JailedRunner.run(entry, request, limits) -> JailResult`.

One fresh child per evaluation, forked by a warm zygote (`zygote`), confined by `confine`
(namespaces, rlimits, uid drop, PDEATHSIG, Landlock, seccomp). The host hands the zygote three pipe
ends per run over SCM_RIGHTS and keeps the others, so it talks to the child directly
(`jailed_run`): it writes the request frame, reads the layer report and the response frame under a
size cap, keeps a bounded tail of the child's stdout/stderr, and on the wall-clock deadline
SIGKILLs the child's whole process group (an alarm inside the child could be swallowed; this
cannot). The child is never trusted: the host only parses a length header, then
JSON (the report) and raw bytes; it never unpickles, imports or calls anything the child produced.

Threads: `run` may be called from several threads at once (that is how two cores are kept busy);
one dispatcher thread per zygote demultiplexes its messages. If the zygote dies, in-flight runs
fail with "zygote_died" and the next `run` starts a new one.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from rara.runner.jail.confine import LAYERS, Limits
from rara.runner.jail.jailed_run import ERROR_CODES, JailedRun, JailResult, LayerStatus, Pending
from rara.runner.jail.zygote import FRAME, MAX_MESSAGE, THREAD_ENV

__all__ = [
    "ERROR_CODES",
    "LAYERS",
    "JailError",
    "JailResult",
    "JailedRunner",
    "LayerStatus",
    "Limits",
]

_BOOT = (
    "import json, sys; c = json.loads(sys.argv[1]); sys.path[:] = c['sys_path']; "
    "from rara.runner.jail.zygote import main; main(c)"
)
_PIPE_SIZE = 1 << 20
_F_SETPIPE_SZ = 1031


class JailError(RuntimeError):
    """The runner itself cannot work (the zygote would not start)."""


def default_read_paths() -> tuple[str, ...]:
    """What the child may read (nothing else, nothing writable): the Python installation, for
    imports that were not warmed in the zygote."""
    paths = sysconfig.get_paths()
    return tuple(dict.fromkeys(paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")))


class _Zygote:
    def __init__(
        self, python: str, sys_path: Sequence[str], warm: Sequence[str], timeout: float
    ) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        config = {"fd": child.fileno(), "warm": list(warm), "sys_path": list(sys_path)}
        # The environment is ours alone (nothing inherited), so -E is not needed for isolation;
        # PYTHONHASHSEED=0 makes str hashes, and so set order, the same in every child.
        env = {**THREAD_ENV, "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "0"}
        try:
            # A new session: Ctrl-C at the terminal and killpg of a child never reach it.
            self.proc = subprocess.Popen(
                [python, "-s", "-P", "-B", "-c", _BOOT, json.dumps(config)],
                pass_fds=[child.fileno()],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            parent.close()
            raise JailError(f"cannot start the zygote with {python}: {exc}") from exc
        finally:
            child.close()
        self.sock = parent
        self.send_lock = threading.Lock()
        self.pending: dict[int, Pending] = {}
        self.lock = threading.Lock()
        self.alive = True
        try:
            parent.settimeout(timeout)
            hello = json.loads(parent.recv(MAX_MESSAGE) or b"{}")
            parent.settimeout(None)
        except (OSError, ValueError) as exc:
            self.close()
            raise JailError(f"the zygote did not start: {exc}") from exc
        if hello.get("op") != "ready" or hello.get("failed"):
            self.close()
            raise JailError(f"the zygote did not start: {hello.get('failed') or hello}")
        self.pid = int(hello["pid"])
        threading.Thread(target=self._dispatch, name="rara-zygote-dispatch", daemon=True).start()

    def _dispatch(self) -> None:
        try:
            while True:
                data = self.sock.recv(MAX_MESSAGE)
                if not data:
                    break
                msg = json.loads(data)
                with self.lock:
                    p = self.pending.get(int(msg.get("id", -1)))
                if p is None:
                    continue
                if msg["op"] == "spawned":
                    p.pid = int(msg["pid"])
                    p.spawned.set()
                elif msg["op"] == "error":
                    p.spawn_error = str(msg["message"])
                    p.spawned.set()
                    p.exited.set()
                elif msg["op"] == "exited":
                    p.status = int(msg["status"])
                    p.cpu_s = float(msg["utime"]) + float(msg["stime"])
                    p.max_rss_kib = int(msg["maxrss_kib"])
                    p.exited.set()
        except (OSError, ValueError):
            pass
        finally:
            self.alive = False
            with self.lock:
                for p in self.pending.values():  # their children die by PDEATHSIG
                    p.zygote_died = True
                    if not p.spawned.is_set():
                        p.spawn_error = "the zygote died"
                    p.spawned.set()
                    p.exited.set()

    def submit(self, rid: int, msg: dict[str, Any], fds: list[int]) -> Pending:
        p = Pending()
        with self.lock:
            if not self.alive:
                raise OSError("the zygote is gone")
            self.pending[rid] = p
        try:
            with self.send_lock:
                socket.send_fds(self.sock, [json.dumps(msg).encode()], fds)
        except OSError:
            self.forget(rid)
            self.alive = False  # so that the runner replaces it
            raise
        return p

    def forget(self, rid: int) -> None:
        with self.lock:
            self.pending.pop(rid, None)

    def close(self) -> None:
        self.alive = False
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class JailedRunner:
    """Runs `module:function` entries in jailed children forked from a warm zygote.

    warm: modules the zygote imports once (the sandbox runtime); numpy is always warmed.
    read_paths: what the child may read (Landlock); default the Python installation.
    require: layer names that must be active, or the child refuses to call the entry.
    """

    def __init__(
        self,
        *,
        warm: Sequence[str] = (),
        read_paths: Sequence[str] | None = None,
        sys_path: Sequence[str] | None = None,
        uid: int = 65534,
        gid: int = 65534,
        require: Iterable[str] = (),
        limits: Limits | None = None,
        python: str = sys.executable,
        start_timeout: float = 60.0,
    ) -> None:
        self.warm = tuple(warm)
        self.read_paths = tuple(default_read_paths() if read_paths is None else read_paths)
        self.sys_path = [p for p in (sys.path if sys_path is None else sys_path) if p]
        self.uid, self.gid = uid, gid
        self.require = tuple(require)
        self.limits = limits or Limits()
        self.python = python
        self.start_timeout = start_timeout
        self._zygote: _Zygote | None = None
        self._start_lock = threading.Lock()
        self._ids = itertools.count(1)
        self.restarts = 0

    def __enter__(self) -> JailedRunner:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> _Zygote:
        """Start the zygote if it is not running (also after it died); idempotent."""
        with self._start_lock:
            z = self._zygote
            if z is not None and z.alive and z.proc.poll() is None:
                return z
            if z is not None:
                z.close()
                self.restarts += 1
            self._zygote = _Zygote(self.python, self.sys_path, self.warm, self.start_timeout)
            return self._zygote

    @property
    def zygote_pid(self) -> int | None:
        return self._zygote.pid if self._zygote is not None else None

    def close(self) -> None:
        with self._start_lock:
            if self._zygote is not None:
                self._zygote.close()
                self._zygote = None

    def layers(self) -> list[LayerStatus]:
        """Run the trivial entry once and return what each layer reported (for `rara validate`)."""
        r = self.run("rara.runner.jail.zygote:echo", b"ping", Limits(wall_s=30.0))
        return [r.layers.get(n, LayerStatus(n, False, r.message or "not reported")) for n in LAYERS]

    def run(self, entry: str, request: bytes, limits: Limits | None = None) -> JailResult:
        """Call `entry` ("module:function", bytes -> bytes) on `request` in a fresh jailed child.

        Never raises for anything the child does; raises JailError only if no zygote can start.
        """
        limits = limits or self.limits
        t0 = time.monotonic()
        deadline = t0 + limits.wall_s
        rid = next(self._ids)
        msg = {
            "op": "spawn",
            "id": rid,
            "entry": entry,
            "plan": {
                "limits": limits.to_dict(),
                "uid": self.uid,
                "gid": self.gid,
                "read_paths": list(self.read_paths),
                "require": list(self.require),
            },
        }
        zygote = self.start()  # before any fd exists: JailError leaks nothing
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        for fd in (in_w, out_r):
            with contextlib.suppress(OSError):  # fewer wakeups for big frames; optional
                fcntl.fcntl(fd, _F_SETPIPE_SZ, _PIPE_SIZE)
        try:
            try:
                pending = zygote.submit(rid, msg, [in_r, out_w, err_w])
            except OSError:  # found dead: replace it once
                zygote = self.start()
                pending = zygote.submit(rid, msg, [in_r, out_w, err_w])
        except (OSError, JailError) as exc:
            for fd in (in_r, in_w, out_r, out_w, err_r, err_w):
                os.close(fd)
            return JailResult(False, None, "spawn_failed", f"could not reach the zygote: {exc}")
        for fd in (in_r, out_w, err_w):
            os.close(fd)  # the child holds them now: EOF on ours means it is gone
        jailed = JailedRun(pending, limits, t0, deadline, in_w, out_r, err_r)
        try:
            return jailed.run(FRAME.pack(len(request)), request)
        finally:
            zygote.forget(rid)
            jailed.close_all()
            if not pending.spawned.is_set() and zygote.alive:
                zygote.close()  # it did not answer a spawn in time: replace it


def probe_layers(timeout: float = 60.0) -> list[LayerStatus]:
    """Start a runner, jail one trivial evaluation, and return what every layer reported: what
    `rara validate` shows. Never raises; if no zygote starts, every layer is reported missing."""
    try:
        with JailedRunner(start_timeout=timeout) as runner:
            return runner.layers()
    except JailError as exc:
        return [LayerStatus(n, False, f"jailed runner unavailable: {exc}") for n in LAYERS]
