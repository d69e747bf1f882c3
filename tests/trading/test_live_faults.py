"""The emulator's fault matrix through rara's real live order path (`tests.kit.live_orders.Desk`:
`OrderManager` with its unknown-outcome wait, `CcxtVenue` over real HTTP, the ledger booking the
manager's fills, `Reconciler`): for every fault and every order type the engine sends (a market
buy by cost, a market sell by quantity, a stop-loss and a take-profit sell), with and without a
restart (a new manager and venue on the same journal) in the middle of the fault, the order ends
in the right state in the replayed journal, the emulator has exactly one order under its client
id, and the ledger equals the emulator's account (free + locked) with a reconciliation that
finds no difference.

An order the venue never received (a 5xx or a timeout before it was placed) is sent again under
the same client id, and only once the unknown-outcome wait has passed; an entry that stale is
declared rejected (``never_reached_venue``) instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.emulators.exchange import ORDER, BinanceEmulator
from tests.kit.live_orders import (
    HOUR_MS,
    KEY,
    KINDS,
    SECRET,
    START_MS,
    STEP_MS,
    UNKNOWN_MS,
    Desk,
    Kind,
)

Script = Callable[[BinanceEmulator, str], None]
HIDDEN_POLLS = 3  # reads that leave the order out (by id, open orders, trades): < the wait


def _none(emu: BinanceEmulator, cid: str) -> None:
    pass


def _accept_then_timeout(emu: BinanceEmulator, cid: str) -> None:
    emu.accept_then_timeout()


def _accept_then_5xx(emu: BinanceEmulator, cid: str) -> None:
    emu.accept_then_fail(status=503)


def _rate_limited(emu: BinanceEmulator, cid: str) -> None:
    emu.rate_limit_orders(nth=1, retry_after="1")


def _partial_fills(emu: BinanceEmulator, cid: str) -> None:
    emu.partial_fills(0.4)


def _not_found(emu: BinanceEmulator, cid: str) -> None:
    emu.not_found_for(HIDDEN_POLLS, client_order_id=cid)


def _timeout_not_found(emu: BinanceEmulator, cid: str) -> None:
    emu.accept_then_timeout()
    emu.not_found_for(HIDDEN_POLLS, client_order_id=cid)


def _5xx_not_found(emu: BinanceEmulator, cid: str) -> None:
    emu.accept_then_fail(status=500)
    emu.not_found_for(HIDDEN_POLLS, client_order_id=cid)


def _partial_timeout(emu: BinanceEmulator, cid: str) -> None:
    emu.partial_fills(0.4)
    emu.accept_then_timeout()


def _lost_5xx(emu: BinanceEmulator, cid: str) -> None:
    emu.fail_before_accept(status=502)


def _lost_timeout(emu: BinanceEmulator, cid: str) -> None:
    emu.timeout_before_accept()


FAULTS: dict[str, Script] = {
    "none": _none,
    "accept_then_timeout": _accept_then_timeout,
    "accept_then_5xx": _accept_then_5xx,
    "429_retry_after": _rate_limited,
    "partial_fills": _partial_fills,
    "not_found_first_polls": _not_found,
    "timeout+not_found": _timeout_not_found,
    "5xx+not_found": _5xx_not_found,
    "partial+timeout": _partial_timeout,
    "5xx_before_accept": _lost_5xx,
    "timeout_before_accept": _lost_timeout,
}
NEVER_PLACED = {"5xx_before_accept", "timeout_before_accept"}
NO_ANSWER = {
    "accept_then_timeout", "accept_then_5xx", "timeout+not_found", "5xx+not_found",
    "partial+timeout", *NEVER_PLACED,
}  # fmt: skip
# A restart is in the middle of a fault only where submit() returns before the fault is over.
CASES = [
    pytest.param(fault, kind, restart, id=f"{fault}-{kind}{'-restart' if restart else ''}")
    for fault in FAULTS
    for kind in KINDS
    for restart in (False, True)
    if not restart or fault not in ("none", "429_retry_after")
    if fault != "partial+timeout" or kind.startswith("market")  # only market orders split
]


@pytest.fixture
def emu() -> Iterator[BinanceEmulator]:
    with BinanceEmulator(api_keys={KEY: SECRET}, now_ms=START_MS) as e:
        yield e


@pytest.fixture
def desk(emu: BinanceEmulator) -> Iterator[Desk]:
    d = Desk(emu)
    yield d
    d.close()


def posts(emu: BinanceEmulator) -> list[str]:
    """The client ids of the order requests the emulator received, in order."""
    return [r.query.get("newClientOrderId", "") for r in emu.calls(ORDER, "POST")]


def release(emu: BinanceEmulator) -> None:
    """Let every hung request answer (to a client long gone)."""
    for f in emu.faults:
        f.release()


def assert_settled(desk: Desk, cid: str, state: str, orders: int = 1) -> None:
    """The journal's final word, the emulator's orders and the ledger against the venue."""
    journal = desk.journal()
    order = journal.orders[cid]
    assert order.state == state, order
    venue_orders = desk.orders_at_venue()
    assert venue_orders == ({cid: orders} if orders else {}), venue_orders
    if orders:
        (placed,) = desk.emu.book.orders(KEY)
        assert order.filled_quantity == placed.filled, (order, placed)
    assert journal.seen_fills == {f"{t.symbol}#{t.trade_id}" for t in desk.emu.book.trades(KEY)}
    assert desk.ledger_balances() == desk.venue_balances()
    report = desk.reconcile()
    assert report.ok and report.fills_booked == 0 and not report.external_orders, report
    assert desk.ledger.verify(events=desk.store).ok


@pytest.mark.parametrize(("fault", "kind", "restart"), CASES)
def test_every_fault_ends_in_one_order_and_a_ledger_equal_to_the_venue(
    emu: BinanceEmulator, desk: Desk, fault: str, kind: Kind, restart: bool
) -> None:
    cid = desk.manager.client_order_id(0)
    FAULTS[fault](emu, cid)
    order = desk.submit(kind)
    assert order.client_order_id == cid
    if fault in NO_ANSWER:
        assert order.state == "unknown", order
    if restart:
        desk.restart()
    # the unknown-outcome wait, step by step, then the rest of the bar and the next one's open
    desk.walk(START_MS + UNKNOWN_MS + 4 * STEP_MS)
    desk.walk(START_MS + HOUR_MS + STEP_MS, step_ms=10 * 60_000)
    release(emu)
    # sent once; again (same id) only when the first never arrived or was refused with a 429
    sends = 2 if fault in NEVER_PLACED or fault == "429_retry_after" else 1
    assert posts(emu) == [cid] * sends
    assert_settled(desk, cid, "filled")


@pytest.mark.parametrize("fault", sorted(NEVER_PLACED))
@pytest.mark.parametrize("kind", ["market_cost", "market_qty"])
def test_an_order_never_received_is_resent_under_its_id_only_after_the_wait(
    emu: BinanceEmulator, desk: Desk, fault: str, kind: Kind
) -> None:
    cid = desk.manager.client_order_id(0)
    FAULTS[fault](emu, cid)
    assert desk.submit(kind).state == "unknown"
    desk.walk(START_MS + UNKNOWN_MS - STEP_MS)
    assert posts(emu) == [cid] and desk.orders_at_venue() == {}
    assert desk.manager.order(cid).state == "unknown"  # type: ignore[union-attr]
    desk.walk(START_MS + UNKNOWN_MS + STEP_MS)
    assert posts(emu) == [cid, cid]
    release(emu)
    assert_settled(desk, cid, "filled")


@pytest.mark.parametrize("restart", [False, True], ids=["same-process", "restart"])
def test_an_entry_never_received_and_stale_is_rejected_never_reached_venue(
    emu: BinanceEmulator, desk: Desk, restart: bool
) -> None:
    cid = desk.manager.client_order_id(0)
    emu.fail_before_accept(status=503)
    assert desk.submit("market_cost").state == "unknown"
    # the process is gone (or the venue stays down) until its signal is an hour old
    emu.now_ms = START_MS + HOUR_MS + STEP_MS
    if restart:
        desk.restart()
    else:
        desk.sync()
    order = desk.journal().orders[cid]
    assert (order.state, order.reject_code) == ("rejected", "never_reached_venue")
    assert posts(emu) == [cid]  # never sent again
    assert_settled(desk, cid, "rejected", orders=0)


def test_an_exit_never_received_is_resent_even_when_stale(emu: BinanceEmulator, desk: Desk) -> None:
    cid = desk.manager.client_order_id(0)
    emu.fail_before_accept(status=503)
    assert desk.submit("market_qty").state == "unknown"
    emu.now_ms = START_MS + HOUR_MS + STEP_MS
    desk.restart()
    assert posts(emu) == [cid, cid]
    assert_settled(desk, cid, "filled")


def test_without_the_wait_a_lagging_venue_gets_a_second_order(emu: BinanceEmulator) -> None:
    """The control: what the unknown-outcome wait is for. Accepted, unanswered and not shown
    at first, a market order is sent again at once by a manager that does not wait, and the
    venue (whose client ids are unique among open orders only) takes a second one."""
    desk = Desk(emu, unknown_timeout_ms=0)
    try:
        cid = desk.manager.client_order_id(0)
        _timeout_not_found(emu, cid)
        assert desk.submit("market_qty").state == "unknown"
        desk.step()
        release(emu)
        assert desk.orders_at_venue() == {cid: 2}
    finally:
        desk.close()


@pytest.mark.parametrize("restart", [False, True], ids=["same-process", "restart"])
@pytest.mark.parametrize("kind", ["stop_market", "take_profit_market"])
def test_a_resting_order_shown_only_after_the_wait_is_never_taken_for_rejected(
    emu: BinanceEmulator, desk: Desk, kind: Kind, restart: bool
) -> None:
    """Accepted, unanswered, and not shown for longer than the wait: the resend under the same
    id is refused as a duplicate, which proves the venue has the order. It stays unknown (never
    ``rejected``: it is open there) until the venue shows it, then fills and is booked."""
    cid = desk.manager.client_order_id(0)
    emu.accept_then_timeout()
    emu.not_found_for(40, client_order_id=cid)  # ~4 reads a step: well past the wait
    assert desk.submit(kind).state == "unknown"
    desk.walk(START_MS + UNKNOWN_MS + STEP_MS)
    assert posts(emu) == [cid, cid]  # sent again: refused as a duplicate
    assert desk.manager.order(cid).state == "unknown"  # type: ignore[union-attr]
    desk.walk(START_MS + UNKNOWN_MS + 4 * STEP_MS)
    assert posts(emu) == [cid, cid]  # and not again: the venue has it (still not shown)
    assert desk.manager.order(cid).state == "unknown"  # type: ignore[union-attr]
    if restart:
        desk.restart()
    desk.walk(START_MS + HOUR_MS + STEP_MS, step_ms=10 * 60_000)
    release(emu)
    assert_settled(desk, cid, "filled")
