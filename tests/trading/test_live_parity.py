"""Acceptance 6 of issue 13: the same strategy trading the Binance emulator's candles through
`CcxtVenue` (`rara trade run` on a testnet account, real ccxt over HTTP, the exchange's clock
walked bar by bar) and through `PaperVenue` (`open_paper_session` replaying the same candles,
fetched from the emulator into the home's catalog) gives the same fills.

Costs are made equal: the backtest's fee for the exchange is the emulator's (``[backtest.fees]``,
the market's ``fee_rate``), slippage is 0, and the live account is funded with the paper run's
``init_cash``. Both runs see the same bars with the same history before them.

"The same fills", precisely, fill by fill in journal order:

- the same number of fills; each on the same bar (the bar its time falls in), with the same side
  and the same reason (entry, exit, stop_loss);
- the same price: a market fill is at the bar's open on both, exactly; a stop that fills at its
  trigger fills, live, at the trigger the exchange accepted: the paper trigger rounded to the
  market's price tick (half-even, as `market_rules.conform` rounds it). So the live price equals
  the paper price rounded to the tick, exactly, and differs from it by at most half a tick;
- the same quantity within the market's amount step: the exchange takes whole steps (a cost-sized
  buy is floored to the step, and the sells sell what the buy got), paper does not round;
- the same fee within what that quantity difference costs (fee rate x step x price), plus the
  exchange's 1e-8 fee rounding.

Compared: the fills on the bars both ran. Paper's feed ends, so it drops a signal of the last bar
and sells what it holds at the last close (rules 1 and 5, reason ``end``); a live run is stopped
instead, keeping its position and its resting stop, and a signal of its last bar is sent at the
next bar's open. Neither of those is a fill of the bars compared.

Where a spot exchange cannot do what paper does, the engine does the nearest honest thing, and
the tests below show it: a stop the entry bar already closed past is refused by the exchange
("would trigger immediately"), so the engine sells at market on that bar, at the next open,
which is where paper fills a stop the open gapped past (the same fill); a take-profit cannot
rest beside a stop-loss (the stop locks the position), so the engine refuses it before sending,
by the market's rules, while paper rests both: parity is asked only of strategies without a
take-profit. What rounding can still split: a bar whose low lies between the paper trigger and
its tick-rounded one (less than half a tick) fires the stop on one side only; the runs here have
none (the test would say so).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

from rara.config import load_settings
from rara.data.catalog import Catalog
from rara.data.fetch import fetch_candles
from rara.domain.events import TradingOrderFilled, TradingOrderRejected, TradingOrderSubmitted
from rara.events import EventFilter, open_event_store
from rara.home import Home
from rara.trading.parity import fills_of, payloads_of
from rara.trading.protection import PAST_TRIGGER, SECOND_SELL
from rara.trading.session import open_paper_session
from tests.emulators.exchange import BinanceEmulator
from tests.kit.live import (
    HOUR_MS,
    KEY,
    SECRET,
    START_MS,
    SYMBOL,
    TradeRun,
    configure_live_home,
    keys_env,
    marked_bars,
    strategy_file,
    wait_for,
)
from tests.kit.paths import REPO

BARS = 200
END_MS = START_MS + BARS * HOUR_MS
WARM_UP_BARS = 1_400  # the live feed's history: the longest trailing window (350) + 1,000
INIT_CASH = Decimal(10_000)
DONCHIAN = REPO / "strategies/examples/donchian_breakout/strategy.py"
SMA = REPO / "strategies/examples/sma_crossover/strategy.py"
# A second account at the emulator (each key is one account there).
KEY2 = "parityKEY2b7c1d9e3f5a0b2c4d6e8f0a1b3c5"
SECRET2 = "paritySECRET2f0e1d2c3b4a5968778695a4b3"


@dataclass(frozen=True)
class Case:
    """A strategy with params that trade the emulator's candles several times over `BARS`."""

    name: str
    path: Path
    params: dict[str, Any]
    key: str
    secret: str


CASES = (
    # channel breakouts over 2 bars with a 1.2 ATR stop: stop-losses and signal exits
    Case(
        "donchian",
        DONCHIAN,
        {"entry": 2, "exit": 2, "atr_period": 14, "atr_mult": 1.2},
        KEY,
        SECRET,
    ),
    # a fast moving-average crossover: signal exits only, many round trips
    Case("sma", SMA, {"fast": 3, "slow": 8}, KEY2, SECRET2),
)


def _costs(emu: BinanceEmulator) -> str:
    """The paper run's costs made the exchange's: its fee, no slippage, the live funding."""
    spec = emu.book.markets[SYMBOL]
    return (
        f"[backtest]\ninit_cash = {INIT_CASH}\nslippage = 0\n"
        f"[backtest.fees]\nbinance = {spec.fee_rate}\n"
    )


def _live_fills(home: Path, run_id: str) -> tuple[list[TradingOrderFilled], int]:
    """The run's fills, and how many of its stops the exchange refused as already passed (sold
    at market at once instead); nothing else it asked for was refused."""
    with open_event_store(home / "rara.db") as store:
        refused = payloads_of(store, run_id, TradingOrderRejected)
        assert all((r.rejected_by, r.reason_code) == ("venue", PAST_TRIGGER) for r in refused)
        return fills_of(store, run_id), len(refused)


def _paper_fills(home: Path, case: Case, fee: Decimal) -> list[TradingOrderFilled]:
    """Fetch the emulator's candles into `home`'s catalog (warm-up included) and replay the
    strategy over the bars the live run traded."""
    h = Home.from_env({"RARA_HOME": str(home)})
    fetch_candles(
        "binance",
        SYMBOL,
        "1h",
        START_MS - WARM_UP_BARS * HOUR_MS,
        END_MS,
        settings=load_settings(h),
        catalog=Catalog(h.data_dir),
        now_ms=END_MS,
    )
    session = open_paper_session(
        h,
        str(case.path),
        symbol=SYMBOL,
        timeframe="1h",
        exchange="binance",
        start_ms=START_MS,
        end_ms=END_MS,
        params=case.params,
    )
    with session:
        assert session.run() == "feed_ended"
        assert (session.costs.fee, session.costs.slippage) == (float(fee), 0)
        return fills_of(session.store, session.deployment.run_id)


def _bar(ms: int) -> int:
    return ms - ms % HOUR_MS


@dataclass(frozen=True)
class Parity:
    trades: int
    max_quantity_diff: Decimal
    max_price_diff: Decimal
    stops_at_trigger: int  # stop fills at the trigger (the others gapped: at the open)
    stops_passed: int = 0  # stops refused as already passed, sold at market at once


def _compare(
    paper: list[TradingOrderFilled], live: list[TradingOrderFilled], emu: BinanceEmulator
) -> Parity:
    """Assert the module docstring's "same fills"; say by how much they differ."""
    spec = emu.book.markets[SYMBOL]
    paper = [f for f in paper if f.reason != "end"]
    live = [f for f in live if f.filled_ms < END_MS]

    def row(f: TradingOrderFilled) -> tuple[int, str, str | None]:
        return _bar(f.filled_ms), f.side, f.reason

    assert [row(f) for f in live] == [row(f) for f in paper]
    q_diff = p_diff = Decimal(0)
    at_trigger = 0
    for p, v in zip(paper, live, strict=True):
        on_tick = (p.price / spec.price_step).to_integral_value(ROUND_HALF_EVEN) * spec.price_step
        assert v.price == on_tick, (p, v)
        at_trigger += p.price != on_tick
        assert abs(v.quantity - p.quantity) <= spec.amount_step, (p, v)
        fee_slack = spec.fee_rate * spec.amount_step * p.price + Decimal("1e-8")
        assert abs(v.fee - p.fee) <= fee_slack, (p, v)
        q_diff = max(q_diff, abs(v.quantity - p.quantity))
        p_diff = max(p_diff, abs(v.price - p.price))
    return Parity(len(paper) // 2, q_diff, p_diff, at_trigger)


def test_the_same_strategy_fills_the_same_through_ccxt_and_paper(tmp_path: Path) -> None:
    with BinanceEmulator(api_keys={KEY: SECRET, KEY2: SECRET2}, now_ms=START_MS) as emu:
        runs: list[TradeRun] = []
        try:
            for case in CASES:
                home = configure_live_home(tmp_path / case.name, emu, extra=_costs(emu))
                emu.fund(case.key, "USDT", INIT_CASH)
                env = keys_env(key=case.key, secret=case.secret)
                args = ("--params", json.dumps(case.params))
                runs.append(TradeRun(home, emu, case.path, *args, env=env))
            for run in runs:  # both run at once, on the one exchange clock
                run.wait_ready()
            for _ in range(BARS):
                assert emu.now_ms is not None
                emu.now_ms += HOUR_MS
                closed = emu.now_ms - HOUR_MS
                for run in runs:
                    wait_for(
                        lambda r=run, c=closed: (
                            r.proc.poll() is not None or c in marked_bars(r.home)
                        ),
                        90,
                        why=f"{run.home.name} to mark bar {closed}",
                    )
            for run in runs:
                assert run.stop() == 0, run.stderr
        finally:
            for run in runs:
                if run.proc.poll() is None:
                    run.kill()
        figures = {}
        for case, run in zip(CASES, runs, strict=True):
            out = run.result()
            assert out["bars"] == BARS and out["orders"]["denied"] == 0, out
            assert all(n == 1 for n in emu.book.count_by_client_id(case.key).values())
            live, passed = _live_fills(run.home, out["run_id"])
            paper = _paper_fills(run.home, case, emu.book.markets[SYMBOL].fee_rate)
            parity = replace(_compare(paper, live, emu), stops_passed=passed)
            figures[case.name] = parity
            assert parity.trades >= 5, (case.name, parity)
            reasons = {f.reason for f in live}
            assert reasons >= ({"stop_loss", "exit"} if case.path == DONCHIAN else {"exit"})
        print(json.dumps({k: str(v) for k, v in figures.items()}))


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
