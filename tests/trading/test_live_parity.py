"""Live against paper on the Binance emulator's candles. A take-profit cannot rest beside a
stop-loss on a spot exchange (the stop locks the position): the engine refuses it before sending,
by the market's rules, while paper rests both.
"""

from __future__ import annotations

from pathlib import Path

from rara.domain.events import TradingOrderRejected, TradingOrderSubmitted
from rara.events import EventFilter, open_event_store
from rara.trading.engine import SECOND_SELL
from tests.emulators.exchange import BinanceEmulator
from tests.kit.live import KEY, SECRET, START_MS, TradeRun, configure_live_home, strategy_file


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
