"""Where a strategy's ``print`` goes: a bounded buffer, never stdout.

Stdout of a sandbox child carries the wire protocol, so ``print`` must not reach it; and a
strategy printing in a loop must not grow memory without bound. Only data may be printed
(`is_data`): the text of anything else carries a heap address.
"""

from __future__ import annotations

from rara_sandbox.addresses import SandboxViolation, is_data

DEFAULT_PRINT_LIMIT = 16_384


class PrintBuffer:
    """Shared, bounded sink for everything a strategy prints, across all its calls."""

    def __init__(self, limit: int = DEFAULT_PRINT_LIMIT) -> None:
        self.limit = limit
        self._parts: list[str] = []
        self._size = 0
        self.truncated = False

    def write(self, text: str) -> None:
        room = self.limit - self._size
        if len(text) > room:
            self.truncated = True
            text = text[: max(room, 0)]
        if text:
            self._parts.append(text)
            self._size += len(text)

    @property
    def text(self) -> str:
        return "".join(self._parts)


class PrintCollector:
    """RestrictedPython rewrites ``print(...)`` to ``_print._call_print(...)``; this is _print."""

    def __init__(self, buffer: PrintBuffer) -> None:
        self._buffer = buffer

    def _call_print(self, *objects: object, sep: object = " ", end: object = "\n") -> None:
        s = sep if isinstance(sep, str) else " "
        e = end if isinstance(end, str) else "\n"
        if not all(is_data(o) for o in objects):
            raise SandboxViolation("print() is available for data only (numbers, strings, arrays)")
        if self._buffer.truncated:
            return
        self._buffer.write(s.join(str(o) for o in objects) + e)

    def __call__(self) -> str:
        return self._buffer.text
