"""The edge's parameter types: what each accepts, what it hands inward, and what it refuses."""

from __future__ import annotations

import pytest

from rara.cli.params import EXCHANGE, FEE, SLIPPAGE, SYMBOL, TIMEFRAME, UTC_TIME
from rara.domain.market import Timeframe, parse_utc
from rara.errors import BadInput


@pytest.mark.parametrize("text", ["BTC/USDT", "BTC-USDT", "btc_usdt", " btc/usdt "])
def test_symbol_spellings_become_the_ccxt_form(text: str) -> None:
    assert SYMBOL.convert(text, None, None) == "BTC/USDT"


def test_derivative_symbol_keeps_its_settle() -> None:
    assert SYMBOL.convert("BTC-USDT:USDT", None, None) == "BTC/USDT:USDT"


def test_typed_values_flow_inward() -> None:
    tf = TIMEFRAME.convert("4h", None, None)
    assert isinstance(tf, Timeframe) and tf.ms == 4 * 3_600_000
    assert TIMEFRAME.convert(tf, None, None) is tf  # already parsed: passed through
    assert EXCHANGE.convert("Binance", None, None) == "binance"


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2024-01-31", "2024-01-31T00:00:00+00:00"),
        ("2024-01-31T12:00", "2024-01-31T12:00:00+00:00"),
        ("2024-01-31T12:00:00Z", "2024-01-31T12:00:00+00:00"),
        ("2024-01-31T14:00:00+02:00", "2024-01-31T12:00:00+00:00"),
    ],
)
def test_dates_are_utc_epoch_ms(text: str, iso: str) -> None:
    assert UTC_TIME.convert(text, None, None) == parse_utc(iso)


@pytest.mark.parametrize(
    ("ptype", "good", "bad"),
    [
        (FEE, ["0", "0.001", "0.4999"], ["0.5", "-0.0001", "nan", "inf", "ten"]),
        (SLIPPAGE, ["0", "0.0005"], ["0.5", "-1", "nan"]),
    ],
)
def test_fractions_keep_the_settings_ranges(ptype, good: list[str], bad: list[str]) -> None:
    for text in good:
        assert ptype.convert(text, None, None) == float(text)
    for text in bad:
        with pytest.raises(BadInput) as e:
            ptype.convert(text, None, None)
        assert e.value.code == f"bad_{ptype.kind}" and "below 0.5" in e.value.suggestion


@pytest.mark.parametrize(
    ("ptype", "text", "code"),
    [
        (SYMBOL, "BTCUSDT", "bad_symbol"),
        (TIMEFRAME, "1M", "bad_timeframe"),
        (TIMEFRAME, "0m", "bad_timeframe"),
        (UTC_TIME, "31/01/2024", "bad_date"),
        (EXCHANGE, "bin ance", "bad_exchange"),
    ],
)
def test_one_code_per_mistake(ptype, text: str, code: str) -> None:
    with pytest.raises(BadInput) as e:
        ptype.convert(text, None, None)
    assert e.value.code == code and repr(text) in e.value.message and e.value.suggestion
