"""Live against paper on the Binance emulator's candles, where a spot exchange differs: a
take-profit cannot rest beside a stop-loss (the stop locks the position), and a stop the market
has already passed is refused by the exchange.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from rara.domain.events import TradingOrderRejected, TradingOrderSubmitted
from rara.events import EventFilter, open_event_store
from rara.trading.engine import PAST_TRIGGER, SECOND_SELL
from rara.trading.parity import fills_of, payloads_of
from tests.emulators.exchange import BinanceEmulator
from tests.kit.live import (
    HOUR_MS,
    KEY,
    SECRET,
    START_MS,
    TradeRun,
    configure_live_home,
    strategy_file,
)


def _bar(ms: int) -> int:
    return ms - ms % HOUR_MS


def test_a_take_profit_beside_a_stop_loss_is_refused_by_the_market_rules(
    rara_home: Path,
) -> None:
    """A spot exchange locks the base a resting sell would sell: with the stop-loss resting, a
    take-profit would be refused for want of funds. The engine does not send it: it journals it
    refused by the market's rules with both levels, and the exchange never hears of it."""
    with BinanceEmulator(api_keys={KEY: SECRET}, now_ms=START_MS) as emu:
        emu.fund(KEY, "USDT", "10000")
        home = configure_live_home(rara_home, emu)
        with TradeRun(home, emu, strategy_file(home)) as run:  # 30% stop, 50% target
            run.step_bars(2)
            assert run.stop() == 0, run.stderr
        out = run.result()
        assert [o.kind for o in emu.book.orders(KEY)] == ["market", "stop_market"]
        assert out["orders"]["denials"] == {SECOND_SELL: 1}
        with open_event_store(home / "rara.db") as store:
            types = [TradingOrderSubmitted, TradingOrderRejected]
            events = [e.typed() for e in store.iter_query(EventFilter(types=types))]
        refused = [e for e in events if isinstance(e, TradingOrderRejected)]
        assert len(refused) == 1
        tp = refused[0]
        assert (tp.rejected_by, tp.reason_code) == ("market_rules", SECOND_SELL)
        assert {"stop_loss", "take_profit", "quantity"} <= set(tp.context)
        submitted = [e for e in events if isinstance(e, TradingOrderSubmitted)]
        assert [e.reason for e in submitted] == ["entry", "stop_loss"]
        assert tp.client_order_id not in {e.client_order_id for e in submitted}


ALWAYS_LONG_TIGHT_STOP = """
def meta():
    return {"name": "always_long_tight_stop", "version": "1.0.0", "api_version": 1,
            "timeframe": "1h", "lookback": 2, "description": "long whenever flat, 0.1% stop",
            "params": {}}


def on_candles(candles, params):
    n = len(candles)
    return ta.full(n, True), ta.full(n, False)


def risk_levels(candles, params):
    return ta.full(len(candles), 0.001), None
"""


def test_a_stop_the_market_has_already_passed_sells_at_market_at_once(rara_home: Path) -> None:
    """The entry bar closes below the stop level, so the exchange refuses the stop ("would
    trigger immediately"). The position is sold at market at once, at the next bar's open,
    which is where the paper venue fills a stop the open has gapped past."""
    start = START_MS + HOUR_MS
    with BinanceEmulator(api_keys={KEY: SECRET}, now_ms=start + 3 * HOUR_MS) as emu:
        bars = emu.closed_bars("BTCUSDT", "1h", start, start + 3 * HOUR_MS)  # the premise
        emu.now_ms = start
        entry_open, entry_close = (Decimal(repr(float(bars[1][k]))) for k in (1, 4))
        assert entry_close < entry_open * Decimal("0.999")
        emu.fund(KEY, "USDT", "10000")
        home = configure_live_home(rara_home, emu)
        source = strategy_file(home, ALWAYS_LONG_TIGHT_STOP, "tight_stop.py")
        with TradeRun(home, emu, source) as run:
            run.step_bars(3)
            assert run.stop() == 0, run.stderr
        out = run.result()
        with open_event_store(home / "rara.db") as store:
            refused = payloads_of(store, out["run_id"], TradingOrderRejected)
            fills = fills_of(store, out["run_id"])
        assert [(r.rejected_by, r.reason_code) for r in refused] == [("venue", PAST_TRIGGER)]
        assert [(f.side, f.reason) for f in fills][:2] == [("buy", "entry"), ("sell", "stop_loss")]
        sold = fills[1]
        assert _bar(sold.filled_ms) == start + 2 * HOUR_MS and sold.price == entry_close
        assert sold.quantity == fills[0].quantity
        kinds = [(o.kind, o.side, o.status) for o in emu.book.orders(KEY)][:2]
        assert kinds == [("market", "buy", "filled"), ("market", "sell", "filled")]
