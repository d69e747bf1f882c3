"""``python -m rara_sandbox``: read one request frame on stdin, write one response frame on stdout.

Exit status: 0 when the request was evaluated (whatever the strategy did; the response says),
2 when the request was malformed (a ``bad_request`` response is still written), 1 when even
writing a response failed. The container and subprocess backends run exactly this.

Two options make the process end itself when its host cannot (the container runs with both):

``--host-stdin``
    The host keeps stdin open until it has the answer, so EOF after the request means the host
    is gone: exit at once (status 3), whatever the strategy is computing.
``--deadline-s S``
    Exit S seconds after start (status 124), whatever the strategy is computing.

A guard thread does both: a strategy in a Python loop yields the GIL every few milliseconds, so the
guard runs; code that holds the GIL for longer (one huge C call) is ended by the CPU rlimit the
container sets a margin past that deadline (the kernel's SIGKILL needs no GIL).
"""

from __future__ import annotations

import math
import os
import select
import sys
import threading
import time
from typing import NoReturn

from rara_sandbox.serve import EXIT_DEADLINE, EXIT_HOST_GONE, serve

USAGE = "usage: python -m rara_sandbox [--host-stdin] [--deadline-s SECONDS]"


class HostGuard:
    """Ends the process with `os._exit` (no cleanup can be stalled by the strategy) when stdin
    closes after the request (`watch_stdin`) or the deadline passes."""

    def __init__(self, deadline_s: float | None, stdin_fd: int | None) -> None:
        self.deadline = None if deadline_s is None else time.monotonic() + deadline_s
        self.stdin_fd = stdin_fd
        self._watching = threading.Event()

    def start(self) -> None:
        if self.deadline is not None or self.stdin_fd is not None:
            threading.Thread(target=self._run, name="rara-host-guard", daemon=True).start()

    def watch_stdin(self) -> None:
        """The request is read: from now on, EOF on stdin means the host is gone."""
        self._watching.set()

    def _run(self) -> None:
        while True:
            remaining = None if self.deadline is None else self.deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                _stop(EXIT_DEADLINE, "rara_sandbox: own deadline passed; stopping")
            if self.stdin_fd is None:  # the deadline alone (the thread runs only with one)
                time.sleep(remaining if remaining is not None else 1.0)
                continue
            if not self._watching.is_set():
                self._watching.wait(remaining)
                continue
            readable, _, _ = select.select([self.stdin_fd], [], [], remaining)
            if readable:
                try:
                    data = os.read(self.stdin_fd, 65536)
                except OSError:
                    data = b""
                if not data:
                    _stop(EXIT_HOST_GONE, "rara_sandbox: the host closed stdin; stopping")


def _stop(status: int, message: str) -> NoReturn:
    try:
        os.write(2, message.encode() + b"\n")
    finally:
        os._exit(status)


def _options(argv: list[str]) -> tuple[bool, float | None]:
    host_stdin, deadline_s, rest = False, None, list(argv)
    while rest:
        arg = rest.pop(0)
        if arg == "--host-stdin":
            host_stdin = True
        elif arg == "--deadline-s" and rest:
            deadline_s = float(rest.pop(0))
            if not (deadline_s > 0 and math.isfinite(deadline_s)):
                raise ValueError("--deadline-s must be a positive number of seconds")
        else:
            raise ValueError(f"unknown argument {arg!r}")
    return host_stdin, deadline_s


def main(argv: list[str] | None = None) -> int:
    try:
        host_stdin, deadline_s = _options(sys.argv[1:] if argv is None else argv)
    except ValueError as e:
        print(f"rara_sandbox: {e}\n{USAGE}", file=sys.stderr)
        return 2
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    guard = HostGuard(deadline_s, stdin.fileno() if host_stdin else None)
    guard.start()
    # Anything that prints by accident (a library, a warning hook) must not corrupt the frame.
    sys.stdout = sys.stderr
    try:
        return serve(stdin, stdout, on_request=guard.watch_stdin)
    except Exception as e:  # last resort: say so on stderr, the host sees exit status 1
        print(f"rara_sandbox: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
