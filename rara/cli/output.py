"""Output conventions shared by every command: JSON on stdout, people-facing text on stderr.

While a command runs, stdout belongs to its JSON alone: `reserved_stdout` points ``sys.stdout``
at stderr, so whatever else prints (a library's log handler bound to stdout, a stray print)
lands on stderr, and `emit` writes to the real stdout. Every string a person may read passes
through `rara.domain.text`: JSON with its unsafe characters as ``\\uXXXX`` escapes (the same
value), log lines with them as visible escapes.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from rich.console import Console
from rich.logging import RichHandler

from rara.domain.text import json_escaped, printable

stderr_console = Console(stderr=True)

_json_out: TextIO | None = None  # the real stdout while a command holds it (`reserved_stdout`)

# Loggers whose debug lines are noise or risk: request headers (urllib3, ccxt), font searches
# (matplotlib, hundreds of lines per chart), image plugins (PIL).
QUIET_LOGGERS = ("urllib3", "ccxt", "matplotlib", "PIL")


def _stdout() -> TextIO:
    return _json_out if _json_out is not None else sys.stdout


@contextmanager
def reserved_stdout() -> Iterator[None]:
    """For the duration, ``sys.stdout`` is stderr and only `emit`/`emit_lines` reach stdout."""
    global _json_out
    if _json_out is not None:  # already held (a command invoking another)
        yield
        return
    _json_out, saved = sys.stdout, sys.stdout
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stdout, _json_out = saved, None


def emit(obj: Any) -> None:
    """One JSON document on stdout."""
    out = _stdout()
    out.write(json_escaped(json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False)) + "\n")
    out.flush()


def emit_lines(rows: Iterable[Any]) -> int:
    """NDJSON on stdout, one row per line, for lists that may be long; returns the count."""
    out = _stdout()
    n = 0
    for row in rows:
        out.write(json_escaped(json.dumps(row, ensure_ascii=False, allow_nan=False)) + "\n")
        n += 1
    out.flush()
    return n


class PrintableFormatter(logging.Formatter):
    """A log line with its control and bidi characters escaped (a message may quote a
    strategy's name, output or error)."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))


def setup_logging(level: str) -> None:
    root = logging.getLogger()
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if any(isinstance(h, RichHandler) for h in root.handlers):
        root.setLevel(level)
        return
    handler = RichHandler(console=stderr_console, show_path=False, rich_tracebacks=False)
    handler.setFormatter(PrintableFormatter("%(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
