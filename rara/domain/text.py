"""Text that came from a strategy (its printed output, `meta()`, its error messages) made safe to
show a person: control, format and bidi-override characters become visible escapes.

A strategy is untrusted code, and so is everything it says. Shown raw on a terminal, ``ESC[2J``
clears the screen, ``\\r`` overwrites a line, U+202E (right-to-left override) or U+2066 (isolate)
reorders what follows so a log line reads other than it is, and zero-width characters hide text.
`printable` is the one place that decides which characters those are: every Unicode control
(Cc), format (Cf: the bidi controls, zero-width characters, the BOM), surrogate (Cs), unassigned
(Cn) and line/paragraph separator (Zl, Zp) character. The CLI and the TUI show text through it;
`json_escaped` does the same for a JSON document, losslessly (the escape decodes to the
original character).
"""

from __future__ import annotations

import re
import unicodedata

# The categories no person should receive raw: Cc control (C0, DEL, C1), Cf format (bidi
# embeddings/overrides/isolates, LRM/RLM/ALM, zero-width space/joiners, word joiner, BOM, ...),
# Cs lone surrogates (unencodable), Cn unassigned (tomorrow's format characters), Zl/Zp (U+2028
# and U+2029 break lines where a reader expects none).
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Cn", "Zl", "Zp"})

# Candidates for a check: anything but printable ASCII and the kept whitespace; most text is
# ASCII, so the category lookup runs only on what might need it.
_CANDIDATE = re.compile(r"[^\x20-\x7e\n\t]")


def is_unsafe(ch: str) -> bool:
    """True for a character `printable` escapes (newline and tab are not among them)."""
    return ch not in "\n\t" and unicodedata.category(ch) in UNSAFE_CATEGORIES


def _visible(ch: str) -> str:
    cp = ord(ch)
    if cp < 0x100:
        return f"\\x{cp:02x}"
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def printable(text: str, *, one_line: bool = False) -> str:
    """`text` with every unsafe character written as a visible escape (``\\x1b``, ``\\u202e``,
    ``\\U000e0001``). Newlines and tabs are kept, unless `one_line`, which escapes newlines too
    (for a log line or a progress line, where a newline would forge the next line)."""

    def escape(m: re.Match[str]) -> str:
        ch = m.group(0)
        return _visible(ch) if is_unsafe(ch) else ch

    out = _CANDIDATE.sub(escape, text)
    return out.replace("\n", "\\n") if one_line else out


def _json_escape(ch: str) -> str:
    cp = ord(ch)
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    cp -= 0x10000  # a UTF-16 surrogate pair, the only way JSON spells an astral code point
    return f"\\u{0xD800 + (cp >> 10):04x}\\u{0xDC00 + (cp & 0x3FF):04x}"


def json_escaped(document: str) -> str:
    """A JSON text (from ``json.dumps(..., ensure_ascii=False)``) with every unsafe character
    inside its strings written as a ``\\uXXXX`` escape: the same JSON value, nothing raw on a
    terminal. (json.dumps already escapes C0; it leaves DEL, C1, bidi and zero-width raw.)"""

    if document.isascii():  # the common case: json.dumps escaped C0 already, DEL remains
        return document.replace("\x7f", "\\u007f")

    def escape(m: re.Match[str]) -> str:
        ch = m.group(0)
        return _json_escape(ch) if is_unsafe(ch) else ch

    return _CANDIDATE.sub(escape, document)
