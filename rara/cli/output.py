"""Output conventions shared by every command: JSON on stdout, people-facing text on stderr."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.logging import RichHandler

stderr_console = Console(stderr=True)


def emit(obj: Any) -> None:
    """One JSON document on stdout."""
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    sys.stdout.flush()


def emit_lines(rows: Iterable[Any]) -> int:
    """NDJSON on stdout, one row per line, for lists that may be long; returns the count."""
    n = 0
    for row in rows:
        sys.stdout.write(json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n")
        n += 1
    sys.stdout.flush()
    return n


def setup_logging(level: str) -> None:
    root = logging.getLogger()
    if any(isinstance(h, RichHandler) for h in root.handlers):
        root.setLevel(level)
        return
    handler = RichHandler(console=stderr_console, show_path=False, rich_tracebacks=False)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("urllib3", "ccxt"):  # their debug lines can include request headers
        logging.getLogger(noisy).setLevel(logging.WARNING)
