"""Text a strategy controls (its printed output, `meta()`, its assertion messages, a file name in
its home) reaches a person escaped: no raw control, bidi-override or zero-width character on
stdout or stderr, and the JSON still decodes to exactly what the strategy said."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from rara.domain.text import UNSAFE_CATEGORIES, is_unsafe, json_escaped, printable

# clear the screen, right-to-left override, first-strong isolate, carriage return, bell, C1 CSI,
# zero-width space, a Unicode tag character (astral, format)
EVIL = "\x1b[2J\u202egnp.exe\u2066\r\x07\x9b31m\u200b\U000e0041"
EVIL_SOURCE = r"\x1b[2J\u202egnp.exe\u2066\r\x07\x9b31m\u200b\U000e0041"

STRATEGY = '''"""A strategy whose every word is hostile to a terminal."""

EVIL = "{evil}"


def meta():
    return {{
        "name": {name},
        "version": "1.0.0",
        "api_version": 1,
        "timeframe": "1h",
        "lookback": 50,
        "description": "clears the screen " + EVIL,
        "params": {{"fast": 12}},
    }}


def on_candles(candles, params):
    {body}
    entries = candles.close > ta.ema(candles.close, params["fast"])
    return entries, ~entries
'''


def unsafe_in(text: str) -> list[str]:
    return sorted({f"U+{ord(c):04X}" for c in text if is_unsafe(c) or c == "\r"})


def write(tmp_path: Path, file: str, name: str = '"hostile"', body: str = "pass") -> Path:
    path = tmp_path / file
    path.write_text(STRATEGY.format(evil=EVIL_SOURCE, name=name, body=body))
    return path


# ---- the one function ---------------------------------------------------------------------


def test_printable_escapes_every_unsafe_character_visibly() -> None:
    out = printable("ok " + EVIL + "\tand\nmore")
    assert unsafe_in(out) == []
    for seen in (r"\x1b[2J", r"\u202e", r"\u2066", r"\x0d", r"\x07", r"\x9b", r"\u200b"):
        assert seen in out
    assert r"\U000e0041" in out and "\tand\nmore" in out  # tab and newline kept
    assert printable("a\nb", one_line=True) == r"a\nb"
    assert printable("plain text, € and 日本") == "plain text, € and 日本"


def test_the_unsafe_set_is_the_unicode_categories() -> None:
    for cp in (*range(0x0, 0x250), *range(0x2000, 0x2070), 0xFEFF, 0xE0001, 0x10FFFF):
        ch = chr(cp)
        expected = ch not in "\n\t" and unicodedata.category(ch) in UNSAFE_CATEGORIES
        assert is_unsafe(ch) == expected, f"U+{cp:04X}"


def test_json_escaping_is_lossless() -> None:
    doc = {"description": EVIL, EVIL: [EVIL], "plain": "é €"}
    text = json_escaped(json.dumps(doc, ensure_ascii=False))
    assert unsafe_in(text) == [] and "é €" in text
    assert json.loads(text) == doc
    ascii_only = {"printed": "rub\x7fout \x1b[2J"}  # json.dumps escapes ESC, not DEL
    text = json_escaped(json.dumps(ascii_only, ensure_ascii=False))
    assert unsafe_in(text) == [] and json.loads(text) == ascii_only


# ---- through the real CLI ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "name", "body", "code"),
    [
        ("printing.py", '"hostile"', 'print("printed " + EVIL)', 0),
        ("asserting.py", '"hostile"', 'assert candles.close[0] < 0, "boom " + EVIL', 1),
        ("misnamed.py", '"hostile" + EVIL', "pass", 1),
    ],
)
def test_sandbox_run_shows_strategy_text_escaped(
    cli, tmp_path: Path, file: str, name: str, body: str, code: int
) -> None:
    path = write(tmp_path, file, name, body)
    r = cli("sandbox", "run", str(path), "--symbol", "BTC/USDT", "--timeframe", "1h")
    assert unsafe_in(r.stdout) == [] and unsafe_in(r.stderr) == []
    assert (r.code != 0) == bool(code), r.stdout + r.stderr
    out = r.json  # the escapes are JSON's: the value is what the strategy said, whole
    if file == "printing.py":
        assert out["printed"] == f"printed {EVIL}\n"
        assert out["meta"]["description"] == "clears the screen " + EVIL
    elif file == "asserting.py":
        assert "boom " + EVIL in out["error"]["message"]
    else:
        assert out["error"]["code"] == "strategy_bad_meta"


def test_log_lines_on_stderr_are_escaped(cli, rara_home: Path) -> None:
    # a promoted directory whose name the strategy's author chose, with a broken manifest: its
    # path is in the warning on stderr
    bad = rara_home / "strategies" / "promoted" / f"evil{EVIL}x"
    bad.mkdir(parents=True)
    (bad / "manifest.json").write_text("{}")
    r = cli("research", "promoted")
    assert r.code == 0, r.stdout + r.stderr
    assert "skipped" in r.stderr and r"\x1b[2J" in r.stderr.replace("\n", "").replace(" ", "")
    assert unsafe_in(r.stderr) == [] and unsafe_in(r.stdout) == []
