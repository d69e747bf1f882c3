"""SIGKILL of `rara trade run` at the three points where a crash can lose or double an order,
five times each, against the Binance spot emulator, then the same command again:

- after the intent is journaled, before the send: the order's POST hangs before the exchange
  takes it (and is dropped: it never reaches the book);
- after the send, before the acknowledgement: the exchange places the order, its answer hangs;
- after the fill, before the ledger posting: the market order filled at the exchange, the run's
  next read of its trades hangs, so nothing of it is booked.

Each kind runs in one home against one emulator, the point varied across the five kills (an
entry, its stop-loss, an exit). After every restart: one order per client id at the exchange,
every journaled intent placed or rejected, every trade journaled once as a fill, `rara events
verify` and `rara ledger verify` pass, and the ledger holds what the exchange's account holds.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rara.domain.events import (
    TradingOrderFilled,
    TradingOrderRejected,
    TradingOrderSubmitted,
    TradingOrderUpdated,
)
from rara.trading.venues.ccxt_parse import to_venue_client_id
from tests.emulators.exchange import ORDER, BinanceEmulator, Fault
from tests.kit.live import (
    ALTERNATING,
    KEY,
    SECRET,
    START_MS,
    TradeRun,
    configure_live_home,
    journal,
    strategy_file,
    venue_differences,
    verify_cli,
    wait_for,
)

MY_TRADES = "/api/v3/myTrades"
Params = dict[str, str]


def entry(q: Params) -> bool:
    return q.get("side") == "BUY" and q.get("type") == "MARKET"


def stop_loss(q: Params) -> bool:
    return q.get("type") == "STOP_LOSS"


def exit_(q: Params) -> bool:
    return q.get("side") == "SELL" and q.get("type") == "MARKET"


def journaled(home: Path, venue_cid: str) -> bool:
    return any(
        to_venue_client_id("binance", p.client_order_id) == venue_cid
        for p in journal(home, TradingOrderSubmitted)
    )


def order_story(home: Path, venue_cid: str) -> list[str]:
    """What the journal says happened to one order, oldest first (event types, with the
    state or fill)."""
    story: list[str] = []
    events = journal(
        home, TradingOrderSubmitted, TradingOrderUpdated, TradingOrderFilled, TradingOrderRejected
    )
    for p in events:
        if to_venue_client_id("binance", p.client_order_id) != venue_cid:
            continue
        if isinstance(p, TradingOrderUpdated):
            story.append(f"updated:{p.status}")
        elif isinstance(p, TradingOrderFilled):
            story.append(f"filled:{p.fill_id}")
        else:
            story.append(type(p).__name__.removeprefix("TradingOrder").lower())
    return story


def agree(home: Path, emu: BinanceEmulator, why: str) -> None:
    """Until the journal, ledger and exchange agree (the run books between bars), then the
    CLI's verifications."""
    last: list[str] = []

    def agreed() -> bool:
        nonlocal last
        last = venue_differences(home, emu)
        return not last

    try:
        wait_for(agreed, why=why)
    except AssertionError as exc:
        raise AssertionError(f"{why}: {last}") from exc
    verify_cli(home)


def crash_five_times(
    home: Path,
    emu: BinanceEmulator,
    arm: Callable[[int], Fault],
    reached: Callable[[Fault], Any],
) -> list[dict[str, Any]]:
    """Five kills of the run in `home`, each where `arm(i)`'s fault holds it (`reached` says it
    is there, naming the order), each followed by the same command again; what each restart
    found."""
    strategy = strategy_file(home, ALTERNATING, "alternating.py")
    found: list[dict[str, Any]] = []
    run = TradeRun(home, emu, strategy)
    try:
        for i in range(5):
            fault = arm(i)
            cid = run.advance_until(lambda f=fault: reached(f), max_bars=4)
            assert journaled(home, cid), f"kill {i}: {cid} not journaled before the kill"
            run.kill()
            for f in emu.faults:
                f.release()
            run = TradeRun(home, emu, strategy)
            run.step_bars(1)
            agree(home, emu, f"after restart {i}")
            found.append({"order": cid, "journal": order_story(home, cid)})
        assert run.stop() == 0, run.stderr
        agree(home, emu, "after the last stop")
        intents = len(journal(home, TradingOrderSubmitted))
        orders, fills = len(emu.book.orders(KEY)), len(emu.book.trades(KEY))
        print(f"6 runs, {intents} intents, {orders} orders, {fills} fills")
    finally:
        if run.proc.poll() is None:
            run.kill()
    return found


def hung_order(emu: BinanceEmulator) -> Callable[[Fault], str | None]:
    """The client id of the order request a fault holds, once it holds one."""

    def held(fault: Fault) -> str | None:
        if not fault.entered.is_set():
            return None
        pending = [
            r
            for r in emu.calls(ORDER, "POST")
            if r.status is None and (fault.when is None or fault.when(r.query))
        ]
        return pending[-1].query["newClientOrderId"] if pending else None

    return held


@pytest.fixture
def emu() -> Any:
    with BinanceEmulator(api_keys={KEY: SECRET}, now_ms=START_MS) as e:
        e.fund(KEY, "USDT", "10000")
        yield e


def test_killed_between_journal_and_send(rara_home: Path, emu: BinanceEmulator) -> None:
    """The POST hangs before the exchange takes it and is dropped: the restart finds the
    order nowhere and declares it rejected (a market order may be resent under its own id)."""
    home = configure_live_home(rara_home, emu)
    points = [entry, stop_loss, exit_, entry, stop_loss]

    def arm(i: int) -> Fault:
        return emu.add_fault(
            Fault(path=ORDER, method="POST", when=points[i], hang=True, dropped=True, status=503)
        )

    found = crash_five_times(home, emu, arm, hung_order(emu))
    for f in found:  # sent again under its own id, or declared rejected: never a new id
        placed = emu.book.count_by_client_id(KEY).get(f["order"], 0)
        assert f["journal"].count("submitted") == 1, f
        assert placed == 1 or (placed == 0 and "rejected" in f["journal"]), f
    print("between journal and send:", found)


def test_killed_between_send_and_acknowledgement(rara_home: Path, emu: BinanceEmulator) -> None:
    """The exchange places the order and its answer hangs: the restart looks the order up by
    its client id and takes its state (filled, or resting) from the exchange."""
    home = configure_live_home(rara_home, emu)
    points = [entry, stop_loss, exit_, stop_loss, entry]

    def arm(i: int) -> Fault:
        return emu.add_fault(
            Fault(path=ORDER, method="POST", when=points[i], hang=True, after_accept=True)
        )

    found = crash_five_times(home, emu, arm, hung_order(emu))
    for f in found:
        assert emu.book.count_by_client_id(KEY)[f["order"]] == 1
        assert "rejected" not in f["journal"], f
    print("between send and acknowledgement:", found)


def test_killed_between_fill_and_booking(rara_home: Path, emu: BinanceEmulator) -> None:
    """The market order filled at the exchange; the run's next read of its trades hangs: the
    restart books the fill (once) from the exchange's trades."""
    home = configure_live_home(rara_home, emu)
    sides = ["buy", "sell", "buy", "sell", "buy"]
    target: dict[str, str] = {}

    def filled_market(side: str) -> list[str]:
        return [
            o.client_order_id
            for o in emu.book.orders(KEY)
            if o.kind == "market" and o.side == side and o.status == "filled"
        ]

    def arm(i: int) -> Fault:
        before = len(filled_market(sides[i]))

        def after_the_fill(q: Params) -> bool:
            done = filled_market(sides[i])
            if len(done) > before:
                target["cid"] = done[-1]
                return True
            return False

        return emu.add_fault(Fault(path=MY_TRADES, method="GET", when=after_the_fill, hang=True))

    found = crash_five_times(
        home, emu, arm, lambda f: target["cid"] if f.entered.is_set() else None
    )
    for f in found:
        assert sum(s.startswith("filled:") for s in f["journal"]) == 1, f
    print("between fill and booking:", found)
