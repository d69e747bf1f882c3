"""The daemon's side of winding down a live strategy that left stage live (demoted, retired).

The conductor finds every strategy whose last move out of live has no ending
``trading_wind_down`` event after it (`WindDowns.pending`): one whose component runs is told to
wind down; one without a component (the daemon was killed mid-way, or it was demoted while no
daemon ran) gets a fresh live component that opens its session (reconciles, books what the
exchange filled meanwhile) and then winds down, so a flatten cut by SIGKILL is finished, never
sold twice (`rara.trading.wind_down`).

With ``daemon.flatten_on_demote`` (the default) the position is sold; without it only the
entries are canceled and the position stays at the exchange with its stop-loss and take-profit
resting, the dead man's switch disarmed so nothing cancels them, and the event says it is left
unmanaged. Every step is an event: ``started``, then ``flat``, ``still_open`` or ``left_open``
(each ends it) or ``failed`` (the session could not open, or the daemon stopped mid-way: tried
again), with a log line naming what is still open.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from rara.domain.events import TradingWindDown, WindDownStep
from rara.events import EventFilter, EventStore, open_event_store
from rara.feedback.lifecycle import StrategyRecord
from rara.home import Home
from rara.supervision import Progress
from rara.trading.wind_down import FlattenOutcome, book, cancel_for_exit, flatten


class TradingPlan(Protocol):
    """What a wind-down reads of `rara.daemon.trading.TradingPlan`."""

    @property
    def strategy_id(self) -> str: ...
    @property
    def strategy_name(self) -> str: ...
    @property
    def symbol(self) -> str: ...
    @property
    def account(self) -> str | None: ...


log = logging.getLogger(__name__)
SOURCE = "daemon"
ENDS: tuple[WindDownStep, ...] = ("flat", "still_open", "left_open")


@dataclass(frozen=True)
class WindDown:
    """What a live strategy that left stage live asks of its component before it stops: sell
    the position (`flatten`) within `timeout_s`, or leave it and its protective orders."""

    demotion_seq: int
    why: str
    flatten: bool
    timeout_s: float


@dataclass(frozen=True)
class PendingWindDown:
    strategy_id: str
    account: str
    demotion_seq: int
    why: str


class WindDowns:
    """Which moves out of live have been wound down (an ending ``trading_wind_down`` event),
    kept current from the log like `rara.trading.control.Control`."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._seq = 0
        self._ended: set[tuple[str, int]] = set()  # (strategy_id, demotion_seq)
        self.refresh()

    def refresh(self) -> None:
        for ev in self.store.query(EventFilter(types=[TradingWindDown]), after_seq=self._seq):
            self._seq = ev.seq
            p = ev.typed()
            if isinstance(p, TradingWindDown) and p.step in ENDS:
                self._ended.add((p.strategy_id, p.demotion_seq))

    def pending(self, records: list[StrategyRecord]) -> list[PendingWindDown]:
        """Strategies out of live whose move out has not been wound down, oldest first."""
        self.refresh()
        out: list[PendingWindDown] = []
        for rec in records:
            seq, account = rec.left_live_seq, rec.live_account
            if rec.stage == "live" or seq is None or account is None:
                continue
            if (rec.strategy_id, seq) in self._ended:
                continue
            why = next((t.reason for t in rec.history if t.seq == seq), "")
            out.append(PendingWindDown(rec.strategy_id, account, seq, f"{rec.stage}: {why}"))
        return out


def wind_down_session(
    session: Any,
    plan: TradingPlan,
    order: WindDown,
    progress: Progress,
    stopping: threading.Event,
) -> WindDownStep:
    """Wind down the open live `session` as `order` says (see the module); the ending step."""
    engine = session.engine
    store: EventStore = session.store
    run_id: str = session.deployment.run_id

    def say(step: WindDownStep, out: FlattenOutcome | None, detail: str) -> None:
        store.append(
            TradingWindDown(
                strategy_id=plan.strategy_id,
                account=plan.account or "",
                symbol=plan.symbol,
                step=step,
                demotion_seq=order.demotion_seq,
                held=None if out is None else out.held,
                open_orders=[] if out is None else out.open_orders,
                sales=[] if out is None else out.sales,
                detail=detail[:1000],
            ),
            source=SOURCE,
            correlation_id=run_id,
            strategy_id=plan.strategy_id,
        )

    _, held = engine.account.holdings()
    what = "sells its position" if order.flatten else "leaves its position"
    say("started", None, f"left stage live ({order.why}); it {what} ({held} {plan.symbol} held)")
    progress.beat(f"winding down ({what})")

    def interrupted() -> bool:
        progress.beat()
        return stopping.is_set()

    if order.flatten:
        out = flatten(engine, timeout_s=order.timeout_s, interrupted=interrupted)
    else:
        book(engine)
        canceled = cancel_for_exit(engine, keep_protective=True)
        _, held = engine.account.holdings()
        open_ids = [o.client_order_id for o in engine.orders.open_orders()]
        out = FlattenOutcome("left_open", held, open_ids, canceled=canceled)
        out.detail = (
            "daemon.flatten_on_demote is off: the position is left at the exchange, unmanaged "
            "(no strategy trades it); its protective orders stay resting, the dead man's "
            "switch disarmed"
        )
    step: WindDownStep = "failed" if out.interrupted else out.step
    if step == "flat":
        detail = f"flat: {len(out.sales)} flatten sale(s) filled and booked"
        log.info("%s (%s) wound down: %s", plan.strategy_name, plan.strategy_id, detail)
    else:
        detail = (
            f"{out.detail}; still held: {out.held} {plan.symbol}, open orders: "
            f"{', '.join(out.open_orders) or 'none'}"
        )
        log.warning(
            "%s (%s) on account %s stopped without flattening: %s. Check the account at the "
            "exchange (`rara status`, `rara kill --flatten`).",
            plan.strategy_name,
            plan.strategy_id,
            plan.account,
            detail,
        )
    say(step, out, detail)
    return step


def report_open_failure(
    home: Home, plan: TradingPlan, order: WindDown, exc: BaseException, *, event: bool = True
) -> None:
    """A wind-down whose session could not open (no keys, the venue down): a log line, and an
    event unless `event` is false (the conductor's retries, after a backoff, only log)."""
    detail = f"the live session could not open ({type(exc).__name__}: {exc})"[:1000]
    log.error(
        "cannot wind down %s (%s) on account %s: %s; its position is not managed",
        plan.strategy_name,
        plan.strategy_id,
        plan.account,
        detail,
    )
    if not event:
        return
    with open_event_store(home.state_db) as store:
        store.append(
            TradingWindDown(
                strategy_id=plan.strategy_id,
                account=plan.account or "",
                symbol=plan.symbol,
                step="failed",
                demotion_seq=order.demotion_seq,
                detail=detail,
            ),
            source=SOURCE,
            strategy_id=plan.strategy_id,
        )
