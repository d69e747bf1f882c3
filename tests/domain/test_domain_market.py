"""Property tests of the market vocabulary: symbols in every spelling a user types, the symbol's
path segment and back, and timeframes."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rara.domain.market import Instrument, Timeframe, normalize_symbol, symbol_from_path

CANONICAL = re.compile(r"[A-Z0-9]{1,20}/[A-Z0-9]{1,20}(:[A-Z0-9]{1,20})?")
# Written out here, not imported: the test restates what a bar length is.
UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}

asset = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=20)
settle = st.none() | asset
timeframe_text = st.builds(
    lambda n, unit: f"{n}{unit}", st.integers(1, 100_000), st.sampled_from(sorted(UNIT_MS))
)


def canonical(base: str, quote: str, settle: str | None) -> str:
    return f"{base}/{quote}" + (f":{settle}" if settle else "")


@given(
    asset,
    asset,
    settle,
    st.sampled_from(["/", "-", "_"]),
    st.booleans(),
    st.text(" \t", max_size=2),
)
def test_every_user_spelling_normalizes_to_the_ccxt_form(
    base: str, quote: str, settle: str | None, delim: str, lower: bool, pad: str
) -> None:
    typed = f"{base}{delim}{quote}" + (f":{settle}" if settle else "")
    typed = pad + (typed.lower() if lower else typed) + pad
    assert normalize_symbol(typed) == canonical(base, quote, settle)


@given(st.text(max_size=50))
def test_any_text_is_a_canonical_symbol_or_a_value_error(text: str) -> None:
    try:
        symbol = normalize_symbol(text)
    except ValueError as exc:
        assert "BASE/QUOTE" in str(exc)  # the message says what a symbol looks like
        return
    assert CANONICAL.fullmatch(symbol), symbol
    assert normalize_symbol(symbol) == symbol  # idempotent


@pytest.mark.parametrize(
    "text",
    [
        "",
        "BTCUSDT",
        "BTC-USDT-PERP",
        "BTC__USDT",
        "BTC/",
        "/USDT",
        "BTC/USDT:",
        "BTC/US DT",
        "BTC/USDT:USDT:X",
        "A" * 21 + "/USDT",
        "BTC.USDT",
        "BTC/USDT\n:X",
    ],
)
def test_what_is_not_a_symbol_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        normalize_symbol(text)


@given(asset, asset, settle, timeframe_text)
def test_symbol_path_round_trips(base: str, quote: str, settle: str | None, tf: str) -> None:
    inst = Instrument(
        exchange="binance", symbol=canonical(base, quote, settle), timeframe=Timeframe.parse(tf)
    )
    assert "/" not in inst.symbol_path and ":" not in inst.symbol_path
    assert symbol_from_path(inst.symbol_path) == inst.symbol


@given(st.integers(1, 100_000), st.sampled_from(sorted(UNIT_MS)), st.text(" \t", max_size=2))
def test_timeframe_parses_to_its_length_in_ms(n: int, unit: str, pad: str) -> None:
    tf = Timeframe.parse(f"{pad}{n}{unit}{pad}")
    assert str(tf) == f"{n}{unit}"
    assert tf.ms == n * UNIT_MS[unit]
    assert tf.bars_per_day * tf.ms == pytest.approx(86_400_000)
    assert tf.period_kind == ("month" if tf.ms < 3_600_000 else "year")
    assert tf == Timeframe.parse(str(tf))


@pytest.mark.parametrize(
    "text", ["", "0m", "0h", "1", "h", "h1", "1M", "1y", "1mo", "1.5h", "-1h", "1 h", "1H"]
)
def test_what_is_not_a_timeframe_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not like 1m"):
        Timeframe.parse(text)


@pytest.mark.parametrize("text", ["01h", "\u0661h", "1h\n"])
def test_a_timeframe_has_one_spelling(text: str) -> None:
    with pytest.raises(ValueError):
        Timeframe(value=text)
