"""Entry functions the jail tests run inside the child (imported by the zygote as `jail_entries`).

Each takes the request bytes and returns bytes, like the real sandbox entry. Probes report what
happened as JSON, but the tests never trust that alone: they check canaries, listeners and
processes from outside.
"""

from __future__ import annotations

import ctypes
import io
import json
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from typing import Any

import numpy as np

from rara_sandbox.__main__ import serve

FRAME = struct.Struct("<Q")


def _try(fn: Any) -> str:
    try:
        out = fn()
    except BaseException as exc:
        return f"denied: {type(exc).__name__}: {exc}"
    return f"ALLOWED: {out!r}"


def echo(request: bytes) -> bytes:
    return request


def numpy_sum(request: bytes) -> bytes:
    arr = np.frombuffer(request, dtype="<f8")
    return np.array([arr.sum(), arr.mean()], dtype="<f8").tobytes()


def buffers(request: bytes) -> list[Any]:
    """A header plus raw array bytes, without joining them first."""
    arr = np.arange(int(request), dtype="<i8")
    return [b"HEAD", arr.data]


def network(request: bytes) -> bytes:
    port = int(request)

    def connect() -> str:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"escaped")
        return "connected"

    return json.dumps(
        {
            "socket": _try(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM)),
            "unix": _try(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)),
            "socketpair": _try(socket.socketpair),
            "connect": _try(connect),
        }
    ).encode()


def exec_shell(request: bytes) -> bytes:
    canary = request.decode()
    cmd = f"echo pwned > {canary}"
    return json.dumps(
        {
            "execv": _try(lambda: os.execv("/bin/sh", ["/bin/sh", "-c", cmd])),
            "subprocess": _try(lambda: subprocess.run(["/bin/sh", "-c", cmd], check=False)),
            "system": _try(lambda: os.system(cmd)),
        }
    ).encode()


def fork(request: bytes) -> bytes:
    def do_fork() -> int:
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        return pid

    return json.dumps(
        {
            "fork": _try(do_fork),
            "thread": _try(lambda: threading.Thread(target=time.sleep, args=(0,)).start()),
        }
    ).encode()


def write_files(request: bytes) -> bytes:
    out = {}
    for path in json.loads(request):

        def write(p: str = path) -> int:
            with open(p, "w") as fh:
                return fh.write("pwned")

        out[path] = _try(write)
    return json.dumps(out).encode()


def read_file(request: bytes) -> bytes:
    path = request.decode()

    def read() -> str:
        with open(path) as fh:
            return fh.read()

    return json.dumps(
        {"read": _try(read), "listdir": _try(lambda: os.listdir(os.path.dirname(path)))}
    ).encode()


def memory_bomb(request: bytes) -> bytes:
    hog = np.ones(4 << 30, dtype=np.uint8)  # 4 GiB, far over the limit
    return bytes(hog[:1])


def memory_creep(request: bytes) -> bytes:
    chunks = []
    while True:
        chunks.append(np.ones(32 << 20, dtype=np.uint8))


def cpu_loop(request: bytes) -> bytes:
    while True:
        pass


def sleep(request: bytes) -> bytes:
    time.sleep(float(request or b"3600"))
    return b"woke"


def swallow_alarm(request: bytes) -> bytes:
    """What an alarm inside the child cannot stop: a loop that ignores SIGALRM."""
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    signal.alarm(1)
    while True:
        time.sleep(0.05)


def flood(request: bytes) -> bytes:
    return b"x" * int(request)


def lying_header_big(request: bytes) -> bytes:
    os.write(3, FRAME.pack(1 << 62))
    time.sleep(3600)
    return b""


def lying_header_short(request: bytes) -> bytes:
    os.write(3, FRAME.pack(1000) + b"only a few bytes")
    os._exit(0)


def trailing_bytes(request: bytes) -> bytes:
    os.write(3, FRAME.pack(3) + b"abc" + b"and then some")
    os._exit(0)


def close_response(request: bytes) -> bytes:
    os.close(3)
    return b"nobody hears this"


def close_and_exit(request: bytes) -> bytes:
    os.close(3)
    os._exit(0)


def exit_code(request: bytes) -> bytes:
    os._exit(int(request))


def abort(request: bytes) -> bytes:
    os.abort()


def raise_error(request: bytes) -> bytes:
    print("about to fail")
    raise ValueError("strategy bug")


def not_bytes(request: bytes) -> bytes:
    return 42  # type: ignore[return-value]


def noisy(request: bytes) -> bytes:
    for i in range(20000):
        print(f"line {i} " + "." * 100)
    sys.stderr.write("last words\n")
    return b"done"


def environment(request: bytes) -> bytes:
    return json.dumps(dict(os.environ)).encode()


def identity(request: bytes) -> bytes:
    open_fds = []
    for fd in range(256):
        try:
            os.fstat(fd)
        except OSError:
            continue
        open_fds.append(fd)
    limits = {
        name: resource.getrlimit(getattr(resource, name))
        for name in (
            "RLIMIT_AS",
            "RLIMIT_CPU",
            "RLIMIT_FSIZE",
            "RLIMIT_NOFILE",
            "RLIMIT_NPROC",
            "RLIMIT_CORE",
        )
    }
    return json.dumps(
        {
            "resuid": os.getresuid(),
            "resgid": os.getresgid(),
            "groups": os.getgroups(),
            "fds": open_fds,
            "hostname": os.uname().nodename,
            "pgid": os.getpgid(0),
            "pid": os.getpid(),
            "sid": os.getsid(0),
            "rlimits": limits,
        }
    ).encode()


def signal_others(request: bytes) -> bytes:
    out = {}
    for pid in json.loads(request):
        out[str(pid)] = _try(lambda p=pid: os.kill(p, signal.SIGKILL))
    out["self_signal_0"] = _try(lambda: os.kill(os.getpid(), 0))
    return json.dumps(out).encode()


def ptrace(request: bytes) -> bytes:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall(101, 16, os.getppid(), 0, 0)  # PTRACE_ATTACH to the zygote: SIGSYS
    return b"survived ptrace"


def unshare(request: bytes) -> bytes:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.unshare(0x10000000)  # CLONE_NEWUSER: SIGSYS
    return b"survived unshare"


def sandbox_evaluate(request: bytes) -> bytes:
    """rara_sandbox's stdin/stdout loop over bytes: what the integration's entry will do."""
    out = io.BytesIO()
    serve(io.BytesIO(request), out)
    return out.getvalue()
