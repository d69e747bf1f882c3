"""Signals that end a command: Ctrl-C (SIGINT) and SIGTERM unwind the same way, as a
`KeyboardInterrupt`, so what is open gets closed and the command says what it was doing; the
exit code says which signal it was (128 + its number, as shells report it)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from rara.errors import EXIT_SIGINT, EXIT_SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the main thread is."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def interrupt_exit_code(exc: KeyboardInterrupt) -> int:
    """130 for Ctrl-C (SIGINT), 143 for SIGTERM."""
    return EXIT_SIGTERM if isinstance(exc, Terminated) else EXIT_SIGINT


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """For the duration, SIGTERM raises `Terminated` in the main thread (the default action
    would end the process without a word). Elsewhere than the main thread, nothing changes."""
    if threading.current_thread() is not threading.main_thread():  # signal() works only there
        yield
        return
    previous: Callable[[int, FrameType | None], Any] | int | None = signal.signal(
        signal.SIGTERM, _raise_terminated
    )
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
