"""Payload models for the event store's own tests: any type name, any JSON object.

The store chains whatever `EventPayload` model it is handed; its tests need payloads of any shape
(nested unicode, NaN to refuse, type names of every spelling) that the schema v1 models would
reject before the store saw them. `probe("a_b", {"i": 1})` is such a payload: a model whose
``event_type`` is the name given and whose fields are the mapping's keys.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import ConfigDict

from rara.domain import events as ev
from rara.domain.events import EventPayload
from rara.domain.gate import WeakenedThreshold
from rara.domain.lifecycle import Gate2Check, Gate2Report
from rara.events import EventDraft


class Probe(EventPayload):
    """Any JSON object as a payload: every key is an extra field, dumped as given."""

    model_config = ConfigDict(extra="allow")

    event_type: ClassVar[str] = "test_probe"


@functools.cache
def probe_type(event_type: str) -> type[Probe]:
    """A Probe subclass whose type name is `event_type` (valid or not: the store checks)."""
    return type(f"Probe[{event_type}]", (Probe,), {"event_type": event_type})


def probe(event_type: str, payload: Mapping[str, Any] | None = None) -> Probe:
    return probe_type(event_type).model_validate(dict(payload or {}))


def draft(d: Mapping[str, Any]) -> EventDraft:
    """An EventDraft from the old dict spelling {"type", "payload", "source", ...}."""
    rest = {k: v for k, v in d.items() if k not in ("type", "payload")}
    return EventDraft(payload=probe(d["type"], d.get("payload")), **rest)


def drafts(ds: Iterable[Mapping[str, Any]]) -> list[EventDraft]:
    return [draft(d) for d in ds]


def make(
    event_type: str, payload: Mapping[str, Any] | None = None, source: str = "t", **envelope: Any
) -> EventDraft:
    """A draft of a probe payload: make("a_b", {"i": 1}, "research", correlation_id="run-1")."""
    return EventDraft(payload=probe(event_type, payload), source=source, **envelope)


def examples() -> list[EventPayload]:
    """One payload of every schema v1 type, with the values each type is about."""
    order = {
        "client_order_id": "co-st_9ad0-1714521600000-entry",
        "strategy_id": "st_9ad0a0d46074b159",
        "account": "paper:dep_1",
        "exchange": "binance",
        "mode": "paper",
        "symbol": "BTC/USDT",
    }
    decided = {"strategy_id": "st_9ad0a0d46074b159", "stage": "paper"}
    return [
        ev.ResearchRunStarted(
            config=ev.ResearchRunConfig(
                exchange="binance",
                symbol="BTC/USDT",
                timeframe="1h",
                proposer="builtin",
                model=None,
                seed=7,
                iterations=6,
                max_cost_usd=None,
                max_duration_s=90.0,
                backend="subprocess",
            )
        ),
        ev.ResearchRunEnded(
            stop_reason="iterations", counts={"rejected": 5, "paper_candidate": 1}, cost_usd=0.0
        ),
        ev.ResearchHypothesisCreated(
            experiment_id="run-4fd6a47df471-0000",
            iteration=0,
            family="roc_momentum+trend",
            hypothesis="44-bar momentum above 1.4 sigma persists on 1h bars ✓",
            origin="builtin:explore",
            forecast=ev.HypothesisForecast(validation_sharpe=0.0, pass_probability=0.2398),
        ),
        ev.ResearchExperimentCompleted(
            experiment_id="run-4fd6a47df471-0001",
            iteration=1,
            family="macd_trend",
            outcome="rejected",
            failed_check="floor.sharpe",
            fix_rounds=0,
            validation_sharpe=-1.453929056003647,
            validation_trades=29,
            cost_usd=0.0,
            insight="validation Sharpe -1.45 < 1",
        ),
        ev.ResearchStrategyCandidate(
            experiment_id="run-27d5698bd0c5-0005",
            name="donchian_breakout_deed526d",
            path="strategies/promoted/donchian_breakout_deed526d",
            stage="paper_candidate",
            trial_ids={"train": "tr_5b42", "validation": "tr_5331", "holdout": "tr_b74e"},
        ),
        ev.ValidationGateDecided(
            strategy="donchian_breakout_deed526d",
            instrument="synthetic:EDGE/USDT:1h",
            decision="rejected",
            failed=["min_trades", "holdout.psr"],
            n_trials=10,
        ),
        ev.TradingOrderSubmitted(
            **order,
            side="buy",
            intent_seq=0,
            order_type="limit",
            quantity=Decimal("0.0015"),
            cost=None,
            limit_price=Decimal("64000.50"),
            trigger_price=None,
            reduce_only=False,
            reason="entry",
            signal_bar_ms=1_714_521_600_000,
        ),
        ev.TradingOrderFilled(
            **order,
            venue_order_id="8389765",
            fill_id="t-1",
            side="buy",
            quantity=Decimal("0.0010"),
            price=Decimal("64000.5"),
            fee=Decimal("0.0640005"),
            fee_currency="USDT",
            cumulative_quantity=Decimal("0.0010"),
            filled_ms=1_714_525_200_012,
        ),
        ev.TradingOrderRejected(
            **order,
            side="sell",
            quantity=Decimal("2"),
            rejected_by="risk_gate",
            reason_code="max_position",
            reason="position would exceed 0.5 BTC",
        ),
        ev.TradingOrderUpdated(
            **order,
            venue_order_id="8389765",
            status="partially_filled",
            filled_quantity=Decimal("0.0010"),
            remaining_quantity=Decimal("0.0005"),
            average_fill_price=Decimal("64000.5"),
            detail="",
        ),
        ev.SentinelSignalDetected(
            signal="drawdown_breach",
            severity="critical",
            strategy_id="st_9ad0a0d46074b159",
            symbol="BTC/USDT",
            value=-0.21,
            threshold=-0.15,
        ),
        ev.FeedbackStrategyPromote(
            **decided,
            reason="paper tracks its backtest",
            to_stage="live_candidate",
            decided_by="gate2",
            report=Gate2Report(
                strategy_id="st_9ad0a0d46074b159",
                run_id="paper_0123456789abcdef",
                instrument="binance:BTC/USDT:1h",
                first_bar_ms=1_714_521_600_000,
                last_bar_ms=1_716_000_000_000,
                bars=410,
                passed=True,
                failed=[],
                checks=[
                    Gate2Check(name="paper_trades", passed=True, value=12.0, threshold=5.0),
                    Gate2Check(name="tracking_error", passed=True, value=0.004, threshold=0.02),
                ],
            ),
        ),
        ev.FeedbackStrategyDemote(**decided, reason="drawdown breach", to_stage="retired"),
        ev.FeedbackStrategyHold(**decided, reason="12 trades so far; 30 needed"),
        ev.FeedbackStrategyConfirmed(
            strategy_id="st_9ad0a0d46074b159",
            stage="live_candidate",
            reason="approved after review",
            to_stage="live",
            confirmed_by="ops@example",
            account="main",
        ),
        ev.SentinelSourceFailed(
            source="http://127.0.0.1:8000/feed.xml",
            kind="feed",
            code="http_500",
            detail="the feed answered 500",
            consecutive=2,
        ),
        ev.DaemonStarted(
            daemon_id="daemon_0123456789ab",
            pid=4242,
            version="0.1.0",
            options={"paper_only": False, "research": True, "feed": "replay", "speed": None},
        ),
        ev.DaemonReady(
            daemon_id="daemon_0123456789ab",
            head_seq=1234,
            accounts_reconciled=["main"],
            deadman_armed=["main"],
            components=["research", "feedback", "sentinel"],
            startup_ms=850,
        ),
        ev.DaemonComponentChanged(
            daemon_id="daemon_0123456789ab",
            component="research",
            kind="research",
            state="restarting",
            restarts=1,
            detail="SandboxError: worker died",
            next_restart_s=2.0,
        ),
        ev.DaemonConfigReloaded(
            daemon_id="daemon_0123456789ab",
            applied=True,
            changed=["sentinel.poll_interval_s"],
        ),
        ev.DaemonStopped(
            daemon_id="daemon_0123456789ab",
            reason="sigterm",
            orders="canceled",
            open_orders_canceled=2,
            exit_code=0,
        ),
        ev.ResearchPaused(by="ops", reason="looking at the last run"),
        ev.ResearchResumed(by="ops", reason="resumed by a person"),
        ev.ResearchRetrainStarted(
            request_event_id="feedback:retrain:st_9ad0a0d46074b159:42",
            strategy_id="st_9ad0a0d46074b159",
            reason="live drawdown 34.0% beyond 30%",
        ),
        ev.FeedbackResearchRetrainRequested(
            **decided, reason="edge decayed", exchange="binance", symbol="BTC/USDT", timeframe="1h"
        ),
        ev.ValidationGateWeakened(
            gate="research",
            thresholds=[
                WeakenedThreshold(setting="gates.research.min_trades", value=5.0, default=30.0)
            ],
        ),
        ev.RegistryIndexSeen(
            key_id="0123456789abcdef",
            index_version=3,
            index_sha256="ab" * 32,
            url="https://registry.example/",
            expires="2027-06-01T00:00:00Z",
        ),
        ev.RegistryStrategyInstalled(
            name="sma_crossover",
            version="1.0.0",
            path="strategies/installed/sma_crossover",
            stage="paper_candidate",
            key_id="0123456789abcdef",
            index_version=3,
            files={"strategy.py": "cd" * 32},
            gate_passed=True,
        ),
        ev.StateRowRecorded(
            table="trials",
            row_id="tr_0123456789abcdef0123",
            row_sha256="ab" * 32,
            columns={"sharpe": "0123456789abcdef"},
            adopted=False,
        ),
        ev.TradingStateChanged(
            state="HALTED", previous="ACTIVE", reason="manual", flatten=True, requested_by="cli"
        ),
        ev.TradingLockSet(
            lock_id="lk_1",
            scope="symbol",
            target="BTC/USDT",
            until_ms=1_714_525_200_000,
            reason="daily loss limit",
            set_by="guard:daily_loss",
        ),
        ev.TradingLockReleased(lock_id="lk_1", reason="reviewed", released_by="cli"),
        ev.TradingAccountFunded(
            account="paper:dep_1",
            currency="USDT",
            amount=Decimal("10000"),
            tx_id="fund_dep_1",
            mode="paper",
        ),
        ev.TradingSessionStarted(
            run_id="dep_1",
            strategy_id="st_9ad0a0d46074b159",
            strategy_path="strategies/examples/sma_crossover/strategy.py",
            account="paper:dep_1",
            exchange="binance",
            symbol="BTC/USDT",
            timeframe="1h",
            mode="paper",
            feed="replay",
            trailing_window=100,
            resumed=False,
        ),
        ev.TradingSessionEnded(
            run_id="dep_1",
            strategy_id="st_9ad0a0d46074b159",
            reason="feed ended",
            bars=5976,
            last_bar_ms=1_725_577_200_000,
        ),
        ev.TradingEquityMarked(
            account="paper:dep_1",
            symbol="BTC/USDT",
            bar_ms=1_714_521_600_000,
            mark=Decimal("64000.5"),
            cash=Decimal("0"),
            position=Decimal("0.156"),
            equity=Decimal("9984.078"),
            peak_equity=Decimal("10120.5"),
        ),
        ev.TradingFeedStale(
            exchange="binance",
            symbol="BTC/USDT",
            timeframe="1h",
            stale=True,
            last_bar_ms=1_714_521_600_000,
            since_ms=1_714_532_400_000,
        ),
        ev.TradingSignalDivergence(
            strategy_id="st_9ad0a0d46074b159",
            symbol="BTC/USDT",
            timeframe="1h",
            trailing_window=60,
            bars_checked=500,
            bars_differing=3,
            first_bar_ms=1_714_521_600_000,
            detail="entry differs at 3 bars",
        ),
        ev.TradingReconciled(
            account="testnet:main",
            exchange="binance",
            mode="testnet",
            trigger="startup",
            ok=False,
            open_orders_journal=1,
            open_orders_venue=2,
            fills_booked=1,
            orders_resolved=1,
            external_orders=["8812"],
            balances={"USDT": Decimal("9000.12"), "BTC": Decimal("0.0155")},
            discrepancies=["BTC: ledger 0.0155, venue 0.0154"],
            error=None,
        ),
        ev.TradingExternalOrder(
            account="testnet:main",
            exchange="binance",
            symbol="BTC/USDT",
            venue_order_id="8812",
            client_order_id="web_1f2e",
            side="sell",
            order_type="limit",
            quantity=Decimal("0.01"),
            price=Decimal("70000"),
            status="acknowledged",
            lock_id="external:testnet:main:8812",
        ),
        ev.TradingExternalFill(
            account="testnet:main",
            exchange="binance",
            symbol="BTC/USDT",
            fill_id="BTC/USDT#77",
            venue_order_id="8813",
            client_order_id=None,
            side="buy",
            quantity=Decimal("0.001"),
            price=Decimal("64000.5"),
            fee=Decimal("0.064"),
            fee_currency="USDT",
            filled_ms=1_714_521_600_123,
        ),
        ev.TradingDeadmanArmed(
            account="testnet:main",
            exchange="bybit",
            method="exchange",
            timeout_ms=60_000,
            expires_ms=1_714_521_660_000,
        ),
        ev.TradingDeadmanRefreshed(
            account="testnet:main",
            exchange="bybit",
            method="exchange",
            timeout_ms=60_000,
            expires_ms=1_714_521_720_000,
            refreshes=4,
        ),
        ev.TradingDeadmanFired(
            account="testnet:main",
            exchange="binance",
            method="watchdog",
            expired_ms=1_714_521_720_000,
            detected_by="watchdog",
            canceled=["rara0123456789abcdef0123456789ab"],
        ),
        ev.TradingWindDown(
            strategy_id="strat_01",
            account="main",
            symbol="BTC/USDT",
            step="flat",
            demotion_seq=812,
            held=Decimal("0"),
            open_orders=[],
            sales=["rara0123456789abcdef0123456789ab"],
            detail="sold 0.001 BTC in 1 sale; flat",
        ),
    ]
