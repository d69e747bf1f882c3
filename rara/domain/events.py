"""Event payloads, schema v1: one frozen model per event type, and the registry of them.

An event in the log is an envelope (seq, event_id, type, ts, source, correlation_id,
strategy_id, payload, prev_hash, hash; see `rara.events.model`) around one of these payloads.
The type name is the model's ``event_type`` class variable, so a caller appends a model and the
store derives the type from it; reading an event back gives the model again (`Event.typed()`),
or a `RawPayload` for a type this version does not know, so logs written by a newer rara stay
readable. The gRPC proto, the TUI and the ledger mirror these models field for field.

Conventions of schema v1:

- A payload dumps (``to_payload()``) to plain JSON types: str, int, float, bool, None, lists and
  objects. Every field is always present; an undefined value is None, never omitted.
- Money is exact: quantities, prices and fees are `ExactDecimal` (a `Decimal` in Python, a
  decimal string such as ``"0.0015"`` in the payload), never a float. Quantities are in base
  currency units (BTC in BTC/USDT); prices in quote currency per unit of base (USDT per BTC);
  a fee in the currency its ``fee_currency`` names.
- Times of the market are UTC epoch milliseconds (``*_ms``), like candle timestamps; the
  envelope's ``ts`` is when the event was logged.
- ``symbol`` is the unified market symbol (``BTC/USDT``), ``exchange`` the venue's ccxt id.
- Statistics (Sharpe, costs in USD) are floats: they are measurements, not money held.

Adding a type: write its model here and list it in ``_SCHEMA_V1``. Adding, renaming or retyping
a field of an existing type is a schema change: the proto, the TUI and the ledger change with it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    WithJsonSchema,
    model_serializer,
)

from rara.domain.gate import CheckName, GateDecision, Segment, WeakenedThreshold
from rara.domain.lifecycle import Gate2Report, Stage

SCHEMA_VERSION = 1
# snake_case, starting with a letter: research_hypothesis_created, trading_order_filled.
EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$"
_EVENT_TYPE_RE = re.compile(EVENT_TYPE_PATTERN)


# ---- exact decimals ----------------------------------------------------------------------------


def _exact(value: object) -> Decimal:
    """A finite Decimal from a decimal string, an int or a Decimal; floats are refused because
    0.1 as a float is not 0.1, and money must not drift."""
    if isinstance(value, bool | float):
        raise ValueError(
            f'{value!r} is a {type(value).__name__}; pass an exact decimal string such as "0.0015"'
        )
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal number") from None
    if not isinstance(value, Decimal):
        raise ValueError(f"expected a decimal string, got {type(value).__name__}")
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite number")
    return value


def _decimal_text(value: Decimal) -> str:
    # Fixed-point, exactly the digits held: Decimal("1E+3") -> "1000", "0.0010" stays "0.0010".
    return format(value, "f")


ExactDecimal = Annotated[
    Decimal,
    BeforeValidator(_exact),
    PlainSerializer(_decimal_text, return_type=str, when_used="always"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}),
]
"""An exact decimal: `Decimal` in Python, a fixed-point decimal string in the payload."""


# ---- the base and the raw fallback -------------------------------------------------------------


class EventPayload(BaseModel):
    """The payload of one event type; subclasses set ``event_type`` and declare the fields."""

    # NaN and infinity are refused at construction: JSON has no spelling for them.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    event_type: ClassVar[str]

    def to_payload(self) -> dict[str, Any]:
        """The payload as stored: plain JSON values, every field present (None included)."""
        # Python mode, not JSON mode: JSON mode would turn a NaN smuggled in through an extra
        # field into null; here it reaches the canonical encoder, which refuses it.
        return self.model_dump()


class RawPayload(BaseModel):
    """The payload of an event whose type this version does not know, as stored."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str
    payload: dict[str, Any]


# ---- research ----------------------------------------------------------------------------------

Outcome = Literal["paper_candidate", "rejected", "error", "duplicate"]
StopReason = Literal["iterations", "max_cost_usd", "max_duration"]


class ResearchRunConfig(BaseModel):
    """What a research run was started with (`rara research run` options, resolved)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    exchange: str
    symbol: str
    timeframe: str = Field(description="bar length, e.g. 1h")
    proposer: str = Field(description="builtin, an LLM provider name, or replay")
    model: str | None = Field(description="the LLM model; None for the built-in proposer")
    seed: int
    iterations: int
    max_cost_usd: float | None = Field(description="LLM spend cap in USD; None: no cap")
    max_duration_s: float | None = Field(description="wall-clock cap in seconds; None: no cap")
    backend: str = Field(description="sandbox backend: subprocess or docker")
    as_of_ms: int | None = Field(
        None, description="the run saw only bars opening before this (UTC ms); None: all stored"
    )

    batch: int | None = Field(
        None, description="candidates evaluated together per step; None: the proposer's default"
    )

    @model_serializer(mode="wrap")
    def _drop_unset_as_of(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # absent when None, so a run over all stored bars (or at the default batch) hashes as it
        # did before as_of (or batch) existed
        out: dict[str, Any] = handler(self)
        for optional in ("as_of_ms", "batch"):
            if out.get(optional) is None:
                out.pop(optional, None)
        return out


class ResearchRunStarted(EventPayload):
    """A fresh research run began (not emitted again on resume). Envelope correlation_id: the
    run id."""

    event_type: ClassVar[str] = "research_run_started"

    config: ResearchRunConfig


class ResearchRunEnded(EventPayload):
    """A research run stopped at a limit. Envelope correlation_id: the run id.

    Schema only so far: the run's end is recorded in the research store (``research_run_ends``)
    and no code emits this event yet.
    """

    event_type: ClassVar[str] = "research_run_ended"

    stop_reason: StopReason
    counts: dict[Outcome, int] = Field(description="experiments per outcome")
    cost_usd: float = Field(description="LLM spend of the run in USD")


class HypothesisForecast(BaseModel):
    """The proposer's own prediction for a hypothesis, scored later (calibration)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    validation_sharpe: float | None = Field(description="annualised Sharpe on validation")
    pass_probability: float | None = Field(ge=0.0, le=1.0, description="P(passes the gate)")


class ResearchHypothesisCreated(EventPayload):
    """A proposer proposed a hypothesis, before its code ran. Envelope correlation_id: the run
    id."""

    event_type: ClassVar[str] = "research_hypothesis_created"

    experiment_id: str = Field(description="<run id>-<iteration, 4 digits>")
    iteration: int = Field(ge=0)
    family: str = Field(description="strategy family, e.g. macd_trend")
    hypothesis: str
    origin: str = Field(description="e.g. builtin:explore, builtin:mutate, llm")
    forecast: HypothesisForecast


class ResearchExperimentCompleted(EventPayload):
    """An iteration finished, whatever its outcome. Envelope: correlation_id the run id,
    strategy_id the candidate's (None when no strategy was evaluated)."""

    event_type: ClassVar[str] = "research_experiment_completed"

    experiment_id: str
    iteration: int = Field(ge=0)
    family: str
    outcome: Outcome
    failed_check: str | None = Field(
        description="the first failed gate check, or an error code such as proposer.timeout"
    )
    fix_rounds: int = Field(ge=0, description="tries the proposer took to fix its code")
    validation_sharpe: float | None
    validation_trades: int | None
    cost_usd: float = Field(description="LLM spend of this iteration in USD")
    insight: str = Field(description="the lesson drawn, as prose")


class ResearchRetrainStarted(EventPayload):
    """A research run took up a retrain request (``feedback_research_retrain_requested``): it
    proposes a successor with the demoted strategy's lessons. Envelope: correlation_id the run
    id, strategy_id the demoted strategy's. Its event id is deterministic over the request, so
    a request is taken once."""

    event_type: ClassVar[str] = "research_retrain_started"

    request_event_id: str = Field(description="the retrain request's event id")
    strategy_id: str = Field(min_length=1, description="the strategy that was demoted")
    reason: str = Field(description="why it was demoted, as the request says")


class ResearchStrategyCandidate(EventPayload):
    """A candidate passed the research gate and was written as a paper candidate. Envelope:
    correlation_id the run id, strategy_id the candidate's."""

    event_type: ClassVar[str] = "research_strategy_candidate"

    experiment_id: str
    name: str = Field(description="the promoted strategy's name")
    path: str = Field(description="its directory, relative to $RARA_HOME")
    stage: Literal["paper_candidate"]
    trial_ids: dict[Segment, str] = Field(description="the recorded trial of each segment")


# ---- validation --------------------------------------------------------------------------------


class ValidationGateDecided(EventPayload):
    """The research gate judged a strategy outside a research run (`rara backtest gate`).
    Envelope strategy_id: the strategy's."""

    event_type: ClassVar[str] = "validation_gate_decided"

    strategy: str = Field(description="the strategy's name")
    instrument: str = Field(description="exchange:symbol:timeframe it was judged on")
    decision: GateDecision
    failed: list[CheckName]
    n_trials: int = Field(ge=0, description="trials counted for the deflated Sharpe")


class ValidationGateWeakened(EventPayload):
    """A gate runs with thresholds loosened below their defaults: allowed, and recorded. Published
    when a research run starts or resumes (envelope correlation_id: the run id) and by `rara
    backtest gate` before its decision (envelope strategy_id: the strategy's)."""

    event_type: ClassVar[str] = "validation_gate_weakened"

    gate: Literal["research"] = Field(description="which gate: research (gate 1)")
    thresholds: list[WeakenedThreshold] = Field(
        description="each loosened setting (gates.research.*), its value and its default"
    )


# ---- trading ----------------------------------------------------------------------------------

Side = Literal["buy", "sell"]
OrderType = Literal["market", "limit", "stop_market", "take_profit_market"]
TradingMode = Literal["paper", "testnet", "live"]
# The order state machine of `rara.domain.orders` (its transitions live there).
OrderState = Literal[
    "intent",
    "submitted",
    "acknowledged",
    "partially_filled",
    "filled",
    "canceled",
    "rejected",
    "unknown",
]
# Why an order exists: the backtest's exit reasons, plus what a person or the kill switch asks.
IntentReason = Literal["entry", "exit", "stop_loss", "take_profit", "end", "flatten", "manual"]


class _OrderEvent(EventPayload):
    """What every order event names. The envelope's strategy_id is the payload's; the envelope's
    correlation_id is the deployment's."""

    client_order_id: str = Field(
        min_length=1, description="deterministic id journaled before anything is sent"
    )
    strategy_id: str = Field(min_length=1)
    account: str = Field(min_length=1, description="the ledger account, e.g. paper:<run id>")
    exchange: str = Field(description="ccxt exchange id; for paper, the market it replays")
    mode: TradingMode
    symbol: str = Field(description="unified symbol, e.g. BTC/USDT")


class TradingOrderSubmitted(_OrderEvent):
    """An order intent passed the risk gate and is about to be sent (journaled first, so an
    unknown outcome is resolved by looking this id up, never by resending)."""

    event_type: ClassVar[str] = "trading_order_submitted"

    intent_seq: int = Field(ge=0, description="the deployment's intent sequence number")
    side: Side
    order_type: OrderType
    quantity: ExactDecimal | None = Field(description="base currency units; None: sized by cost")
    cost: ExactDecimal | None = Field(description="quote spent, fee included (market buys)")
    limit_price: ExactDecimal | None = Field(description="quote per base; None for market")
    trigger_price: ExactDecimal | None = Field(description="stop / take-profit trigger")
    reduce_only: bool = Field(description="may only shrink a position (exits, REDUCING state)")
    reason: IntentReason
    signal_bar_ms: int | None = Field(
        description="open time of the closed bar whose signal made the intent; None if manual"
    )
    stop_loss_fraction: float | None = Field(
        None, description="an entry's stop-loss, a fraction below its fill, placed once filled"
    )
    take_profit_fraction: float | None = Field(
        None, description="an entry's take-profit, a fraction above its fill, placed once filled"
    )


class TradingOrderFilled(_OrderEvent):
    """One fill (possibly partial) of an order; the ledger books each fill_id once."""

    event_type: ClassVar[str] = "trading_order_filled"

    venue_order_id: str | None = Field(description="the venue's id of the order")
    fill_id: str = Field(min_length=1, description="the venue's trade id, unique per fill")
    side: Side
    quantity: ExactDecimal = Field(description="base currency units filled by this fill")
    price: ExactDecimal = Field(description="quote per base")
    fee: ExactDecimal = Field(description="in fee_currency")
    fee_currency: str
    cumulative_quantity: ExactDecimal = Field(description="filled so far, this fill included")
    filled_ms: int = Field(description="the venue's time of the fill")
    reason: IntentReason | None = Field(None, description="why the order was placed")
    detail: dict[str, str] = Field(
        default_factory=dict, description="how a simulated fill was made (spread, volume cap)"
    )


class TradingOrderRejected(_OrderEvent):
    """An order was refused, by the risk gate before sending or by the venue after."""

    event_type: ClassVar[str] = "trading_order_rejected"

    side: Side
    quantity: ExactDecimal | None = Field(description="base currency units asked for")
    rejected_by: Literal["risk_gate", "market_rules", "venue"] = Field(
        description="the risk gate, the market's precision and minimums (before sending), or "
        "the venue"
    )
    reason_code: str = Field(description="stable code, e.g. max_position, insufficient_funds")
    reason: str = Field(description="for people")
    context: dict[str, str] = Field(
        default_factory=dict, description="the guard's numbers: value, limit, mark..."
    )


class TradingOrderUpdated(_OrderEvent):
    """An order's state at the venue changed (acknowledged, canceled, resolved after a lookup)."""

    event_type: ClassVar[str] = "trading_order_updated"

    venue_order_id: str | None
    status: OrderState
    filled_quantity: ExactDecimal = Field(description="base currency units filled in total")
    remaining_quantity: ExactDecimal | None = Field(
        description="base currency units still open; None: sized by cost"
    )
    average_fill_price: ExactDecimal | None = Field(description="quote per base; None: no fill")
    detail: str = ""


TradingState = Literal["ACTIVE", "REDUCING", "HALTED"]
LockScope = Literal["global", "strategy", "symbol", "account"]


class TradingStateChanged(EventPayload):
    """The trading state of every account changed: ``rara kill`` (HALTED, optionally flattening),
    ``rara resume --confirm`` (ACTIVE), or a guard or reconciliation moving it to REDUCING. It
    persists until the next such event, across restarts."""

    event_type: ClassVar[str] = "trading_state_changed"

    state: TradingState
    previous: TradingState
    reason: str
    flatten: bool = Field(description="close positions through the reduce path (kill --flatten)")
    requested_by: str = Field(description="who asked: cli, daemon, guard name, sentinel")


class TradingLockSet(EventPayload):
    """A lock: no new exposure in its scope until ``until_ms`` (None: until released). Set by a
    guard, a person or the sentinel; persisted as this event, so it survives a restart."""

    event_type: ClassVar[str] = "trading_lock_set"

    lock_id: str = Field(min_length=1)
    scope: LockScope
    target: str | None = Field(description="strategy_id or symbol; None for global")
    until_ms: int | None = Field(description="UTC epoch ms the lock lapses; None: until released")
    reason: str
    set_by: str


class TradingLockReleased(EventPayload):
    """A lock was lifted before it lapsed."""

    event_type: ClassVar[str] = "trading_lock_released"

    lock_id: str = Field(min_length=1)
    reason: str
    released_by: str


class TradingAccountFunded(EventPayload):
    """Money moved into (positive) or out of (negative) an account outside trading: a paper
    account's starting cash, a deposit. The ledger books it as transaction ``tx_id``."""

    event_type: ClassVar[str] = "trading_account_funded"

    account: str = Field(min_length=1, description="e.g. paper:<deployment>")
    currency: str
    amount: ExactDecimal
    tx_id: str = Field(min_length=1)
    mode: TradingMode


class TradingSessionStarted(EventPayload):
    """A deployment of one strategy on one instrument and account began (or resumed after a
    restart: ``resumed``). The envelope's correlation_id is the deployment's run id."""

    event_type: ClassVar[str] = "trading_session_started"

    run_id: str = Field(min_length=1)
    strategy_id: str = Field(min_length=1)
    strategy_path: str
    account: str
    exchange: str
    symbol: str
    timeframe: str
    mode: TradingMode
    feed: str = Field(description="replay, poll")
    trailing_window: int = Field(ge=1, description="bars handed to the strategy per evaluation")
    resumed: bool


class TradingSessionEnded(EventPayload):
    """A deployment stopped: the feed ended, a kill, an error, or a signal."""

    event_type: ClassVar[str] = "trading_session_ended"

    run_id: str = Field(min_length=1)
    strategy_id: str = Field(min_length=1)
    reason: str
    bars: int = Field(ge=0, description="bars processed in this run")
    last_bar_ms: int | None


class TradingEquityMarked(EventPayload):
    """An account's value at a bar's close, from the ledger and the close as the mark: the
    equity curve paper trading is judged on, and the drawdown guard's running peak."""

    event_type: ClassVar[str] = "trading_equity_marked"

    account: str
    symbol: str
    bar_ms: int = Field(description="open time of the bar whose close is the mark")
    mark: ExactDecimal
    cash: ExactDecimal = Field(description="quote currency held")
    position: ExactDecimal = Field(description="base currency held")
    equity: ExactDecimal = Field(description="cash + position x mark")
    peak_equity: ExactDecimal


class TradingFeedStale(EventPayload):
    """A feed produced no bar for two intervals (``stale``) or bars flow again (not stale)."""

    event_type: ClassVar[str] = "trading_feed_stale"

    exchange: str
    symbol: str
    timeframe: str
    stale: bool
    last_bar_ms: int | None = Field(description="open time of the last bar it produced")
    since_ms: int = Field(description="when it turned stale, or recovered")


ReconcileTrigger = Literal["startup", "periodic", "reconnect", "manual"]
DeadmanMethod = Literal["exchange", "watchdog"]


class TradingReconciled(EventPayload):
    """One reconciliation of a live account: the union of the journal's open orders, the
    venue's open orders, its recent trades and its balances. ``ok`` false means a query failed
    (``error``) and nothing was concluded from it (a failed query is never read as "flat"), or
    a difference remains (``discrepancies``). Fills found missing were journaled and booked."""

    event_type: ClassVar[str] = "trading_reconciled"

    account: str = Field(min_length=1)
    exchange: str
    mode: TradingMode
    trigger: ReconcileTrigger
    ok: bool
    open_orders_journal: int = Field(ge=0, description="open orders the journal knows")
    open_orders_venue: int = Field(ge=0, description="open orders the venue reports")
    fills_booked: int = Field(ge=0, description="fills found at the venue and booked now")
    orders_resolved: int = Field(ge=0, description="orders whose state was brought up to date")
    external_orders: list[str] = Field(
        default_factory=list, description="venue order ids of orders rara did not send"
    )
    balances: dict[str, ExactDecimal] = Field(
        default_factory=dict, description="the venue's total per currency, as read"
    )
    discrepancies: list[str] = Field(
        default_factory=list, description="what differs between ledger and venue, for people"
    )
    error: str | None = Field(None, description="the query that failed and why")


class TradingExternalOrder(EventPayload):
    """An order at the venue that rara did not send (its client id is none of the journal's):
    the account goes REDUCING (an ``account`` lock) until a person acknowledges it."""

    event_type: ClassVar[str] = "trading_external_order"

    account: str = Field(min_length=1)
    exchange: str
    symbol: str
    venue_order_id: str
    client_order_id: str | None
    side: Side
    order_type: str
    quantity: ExactDecimal | None
    price: ExactDecimal | None
    status: str = Field(description="its state at the venue when seen")
    lock_id: str = Field(description="the account lock that holds the account in REDUCING")


class TradingExternalFill(EventPayload):
    """A fill of an order rara did not send, found by reconciliation: booked in the ledger (as
    transaction ``fill_id``) so the ledger keeps equal to the venue's account."""

    event_type: ClassVar[str] = "trading_external_fill"

    account: str = Field(min_length=1)
    exchange: str
    symbol: str
    fill_id: str = Field(min_length=1)
    venue_order_id: str | None
    client_order_id: str | None
    side: Side
    quantity: ExactDecimal
    price: ExactDecimal
    fee: ExactDecimal
    fee_currency: str
    filled_ms: int


class TradingDeadmanArmed(EventPayload):
    """A dead man's switch was armed for an account: at the exchange (a server-side
    cancel-all-after) or by rara's own watchdog process. Unless refreshed before
    ``expires_ms``, the account's open orders are canceled."""

    event_type: ClassVar[str] = "trading_deadman_armed"

    account: str = Field(min_length=1)
    exchange: str
    method: DeadmanMethod
    timeout_ms: int = Field(gt=0)
    expires_ms: int


class TradingDeadmanRefreshed(EventPayload):
    """The switch was re-armed from the loop that services orders (written at most once per
    refresh interval, not per call)."""

    event_type: ClassVar[str] = "trading_deadman_refreshed"

    account: str = Field(min_length=1)
    exchange: str
    method: DeadmanMethod
    timeout_ms: int = Field(gt=0)
    expires_ms: int
    refreshes: int = Field(ge=1, description="re-arms since the last such event")


class TradingDeadmanFired(EventPayload):
    """The switch fired: the loop stopped re-arming and the open orders were canceled (by the
    exchange, or by the watchdog). Written by whoever saw it first: the watchdog when it
    cancels, the engine when it wakes past the expiry and finds its orders canceled."""

    event_type: ClassVar[str] = "trading_deadman_fired"

    account: str = Field(min_length=1)
    exchange: str
    method: DeadmanMethod
    expired_ms: int = Field(description="when the switch expired")
    detected_by: Literal["watchdog", "engine"]
    canceled: list[str] = Field(
        default_factory=list, description="client order ids the cancel took down"
    )


class TradingSignalDivergence(EventPayload):
    """A strategy's signal on its trailing window differs from its signal on the full history
    (an indicator with longer memory than the declared lookback): it is not traded."""

    event_type: ClassVar[str] = "trading_signal_divergence"

    strategy_id: str = Field(min_length=1)
    symbol: str
    timeframe: str
    trailing_window: int
    bars_checked: int
    bars_differing: int
    first_bar_ms: int | None = Field(description="open time of the first differing bar")
    detail: str


WindDownStep = Literal["started", "flat", "still_open", "left_open", "failed"]


class TradingWindDown(EventPayload):
    """A live strategy left stage live (demoted, retired) and its component winds down: its
    entry orders canceled, its position sold through the reduce path (``flatten`` sales, each
    journaled as every order), then stopped. ``started`` when it begins; ``flat`` once the sale
    is filled and booked; ``still_open`` when it gave up (timed out, refused) with what is
    still held and open; ``left_open`` when ``daemon.flatten_on_demote`` is off (the position
    and its protective orders stay); ``failed`` when the session could not be opened or the
    daemon stopped mid-way (tried again). The last three but ``failed`` end it: a restarted
    daemon finishes a wind-down that has none of them after ``demotion_seq``."""

    event_type: ClassVar[str] = "trading_wind_down"

    strategy_id: str = Field(min_length=1)
    account: str = Field(min_length=1, description="the [trading.accounts.NAME] it traded on")
    symbol: str
    step: WindDownStep
    demotion_seq: int = Field(ge=1, description="the lifecycle event that took it out of live")
    held: ExactDecimal | None = Field(None, description="base quantity held (ledger) after it")
    open_orders: list[str] = Field(
        default_factory=list, description="client order ids still open at the venue"
    )
    sales: list[str] = Field(
        default_factory=list,
        description="the run's flatten sales (client ids), before a restart too",
    )
    detail: str = ""


# ---- sentinel ----------------------------------------------------------------------------------


class SentinelSignalDetected(EventPayload):
    """The sentinel saw something that needs attention: a drawdown breach, a data gap, paper
    drifting from its backtest, a venue outage. Feedback decides what to do about it."""

    event_type: ClassVar[str] = "sentinel_signal_detected"

    signal: str = Field(description="stable code, e.g. drawdown_breach, data_gap")
    severity: Literal["info", "warning", "critical"]
    strategy_id: str | None = Field(description="the strategy concerned; None: market-wide")
    symbol: str | None
    value: float | None = Field(description="what was measured")
    threshold: float | None = Field(description="the limit it crossed")
    detail: str = ""


class SentinelSourceFailed(EventPayload):
    """A sentinel source could not be read (a feed that is malformed, answers 500 or never
    answers; a webhook that could not bind). The sentinel keeps running; the next poll tries
    again."""

    event_type: ClassVar[str] = "sentinel_source_failed"

    source: str = Field(description="the feed's URL or path, or webhook / market")
    kind: Literal["feed", "webhook", "market", "classifier"]
    code: str = Field(description="stable code: http_500, timeout, malformed, unreachable ...")
    detail: str
    consecutive: int = Field(ge=1, description="failures in a row of this source")


# ---- feedback ----------------------------------------------------------------------------------

LifecycleStage = Stage  # research, paper_candidate, paper, live_candidate, live, retired


class _FeedbackDecision(EventPayload):
    """A feedback decision about one strategy. The envelope's strategy_id is the payload's."""

    strategy_id: str = Field(min_length=1)
    stage: LifecycleStage = Field(description="the stage the strategy is in when decided")
    reason: str
    decided_by: str = Field(
        "feedback", description="who decided: feedback, gate2, sentinel, daemon, or a person (cli)"
    )
    report: Gate2Report | None = Field(None, description="gate 2's report, when gate 2 decided")


class FeedbackStrategyPromote(_FeedbackDecision):
    """Move a strategy one stage up (gate 2 for paper -> live candidate)."""

    event_type: ClassVar[str] = "feedback_strategy_promote"

    to_stage: LifecycleStage


class FeedbackStrategyDemote(_FeedbackDecision):
    """Move a strategy down or retire it."""

    event_type: ClassVar[str] = "feedback_strategy_demote"

    to_stage: LifecycleStage


class FeedbackStrategyHold(_FeedbackDecision):
    """Keep a strategy where it is (not enough evidence either way)."""

    event_type: ClassVar[str] = "feedback_strategy_hold"


class FeedbackStrategyConfirmed(_FeedbackDecision):
    """A person approved a proposed move (live always needs one)."""

    event_type: ClassVar[str] = "feedback_strategy_confirmed"

    to_stage: LifecycleStage
    confirmed_by: str = Field(min_length=1, description="who approved")
    account: str | None = Field(
        None, description="the trading account approved for live ([trading.accounts.NAME])"
    )


class FeedbackResearchRetrainRequested(_FeedbackDecision):
    """Ask research for a successor to a strategy that stopped working on its market."""

    event_type: ClassVar[str] = "feedback_research_retrain_requested"

    exchange: str
    symbol: str
    timeframe: str


# ---- the daemon --------------------------------------------------------------------------------

ComponentKind = Literal["research", "trading", "feedback", "sentinel", "server", "consumer"]
ComponentState = Literal[
    "starting", "running", "crashed", "restarting", "stalled", "halted", "given_up", "stopped"
]


class DaemonStarted(EventPayload):
    """`rara run` took the home's lock and is starting (before verify and reconcile)."""

    event_type: ClassVar[str] = "daemon_started"

    daemon_id: str = Field(description="this process's run: the correlation id of its events")
    pid: int
    version: str
    options: dict[str, str | int | float | bool | None] = Field(
        description="paper_only, research, feed, speed ... as given"
    )


class DaemonReady(EventPayload):
    """Start-up finished in order: chain verified, projections rebuilt, accounts reconciled,
    dead man's switches armed. systemd hears READY=1 after this event."""

    event_type: ClassVar[str] = "daemon_ready"

    daemon_id: str
    head_seq: int = Field(description="the verified chain's head at start-up")
    accounts_reconciled: list[str]
    deadman_armed: list[str]
    components: list[str]
    startup_ms: int = Field(ge=0)


class DaemonComponentChanged(EventPayload):
    """A component changed state: started, crashed (with the error), restarting (after a
    backoff), stalled (no progress), halted (a trading component: not restarted until
    reconciled), given up (too many restarts in the window), stopped."""

    event_type: ClassVar[str] = "daemon_component_changed"

    daemon_id: str
    component: str = Field(description="stable name, e.g. research, sentinel, trading:<id>")
    kind: ComponentKind
    state: ComponentState
    restarts: int = Field(ge=0, description="restarts within the current window")
    detail: str = ""
    next_restart_s: float | None = Field(description="backoff before the next start, if any")


class DaemonConfigReloaded(EventPayload):
    """SIGHUP: the config was read again. A bad file keeps the old settings (applied=False)."""

    event_type: ClassVar[str] = "daemon_config_reloaded"

    daemon_id: str
    applied: bool
    changed: list[str] = Field(description="dotted keys whose value changed")
    detail: str = ""


class DaemonStopped(EventPayload):
    """The daemon stopped: why, what it did with open orders, and its exit code."""

    event_type: ClassVar[str] = "daemon_stopped"

    daemon_id: str
    reason: Literal["sigterm", "sigint", "replay_finished", "duration", "fatal"]
    orders: Literal["canceled", "left_under_deadman", "none_open"]
    open_orders_canceled: int = Field(ge=0)
    exit_code: int
    detail: str = ""


class ResearchPaused(EventPayload):
    """A person paused research (through the control API): the daemon's research starts no new
    run until ``research_resumed``; a run under way finishes its batch and stops, resumable. It
    persists across restarts: the daemon reads the last of these two events at start."""

    event_type: ClassVar[str] = "research_paused"

    by: str = Field(description="who asked: the caller's token name, never the token")
    reason: str


class ResearchResumed(EventPayload):
    """Research may start runs again after ``research_paused``."""

    event_type: ClassVar[str] = "research_resumed"

    by: str = Field(description="who asked: the caller's token name, never the token")
    reason: str


# ---- the strategy registry (issue 16) -----------------------------------------------------------


class RegistryIndexSeen(EventPayload):
    """A signed registry index was verified and used (`rara strategy fetch`). The highest
    ``index_version`` seen per key is the floor below which an index of that key is refused
    (rollback)."""

    event_type: ClassVar[str] = "registry_index_seen"

    key_id: str = Field(description="the signing key's id (16 hex of its sha256)")
    index_version: int
    index_sha256: str = Field(description="sha256 of the index's exact bytes")
    url: str = Field(description="where it was read")
    expires: str = Field(description="its expiry, ISO 8601 UTC")


class RegistryStrategyInstalled(EventPayload):
    """A strategy fetched from a registry passed its checks and was installed; it enters the
    lifecycle at ``stage`` (paper_candidate after gate 1 on local data, research with --no-gate).
    Envelope strategy_id: the strategy's."""

    event_type: ClassVar[str] = "registry_strategy_installed"

    name: str
    version: str
    path: str = Field(description="its directory, relative to $RARA_HOME")
    stage: Literal["research", "paper_candidate"]
    key_id: str
    index_version: int
    files: dict[str, str] = Field(description="file name -> sha256, as locked")
    gate_passed: bool | None = Field(description="gate 1 on local data; None: --no-gate")


# ---- state ------------------------------------------------------------------------------------


class StateRowRecorded(EventPayload):
    """A row users read (an experiment, a trial) was written, and this is its digest, so `rara
    events verify` can tell whether the row changed since (`rara.events.seal`). Written in the
    row's own transaction; no correlation id, so it is never part of a run's hash."""

    event_type: ClassVar[str] = "state_row_recorded"

    table: str = Field(description="the sealed table: experiments or trials")
    row_id: str = Field(description="the row's experiment_id or trial_id")
    row_sha256: str = Field(description="sha256 over every column's sha256, columns sorted")
    columns: dict[str, str] = Field(description="column -> the first 16 hex of its sha256")
    adopted: bool = Field(
        description="sealed when a home written before seals was first opened, not when written"
    )


# ---- the registry ------------------------------------------------------------------------------

_SCHEMA_V1: tuple[type[EventPayload], ...] = (
    ResearchRunStarted,
    ResearchRunEnded,
    ResearchHypothesisCreated,
    ResearchExperimentCompleted,
    ResearchStrategyCandidate,
    ResearchRetrainStarted,
    ValidationGateDecided,
    ValidationGateWeakened,
    TradingOrderSubmitted,
    TradingOrderFilled,
    TradingOrderRejected,
    TradingOrderUpdated,
    TradingStateChanged,
    TradingLockSet,
    TradingLockReleased,
    TradingAccountFunded,
    TradingSessionStarted,
    TradingSessionEnded,
    TradingEquityMarked,
    TradingFeedStale,
    TradingSignalDivergence,
    TradingReconciled,
    TradingExternalOrder,
    TradingExternalFill,
    TradingDeadmanArmed,
    TradingDeadmanRefreshed,
    TradingDeadmanFired,
    SentinelSignalDetected,
    SentinelSourceFailed,
    FeedbackStrategyPromote,
    FeedbackStrategyDemote,
    FeedbackStrategyHold,
    FeedbackStrategyConfirmed,
    FeedbackResearchRetrainRequested,
    DaemonStarted,
    DaemonReady,
    DaemonComponentChanged,
    DaemonConfigReloaded,
    DaemonStopped,
    ResearchPaused,
    ResearchResumed,
    StateRowRecorded,
    RegistryIndexSeen,
    RegistryStrategyInstalled,
    TradingWindDown,
)


def _registry(models: tuple[type[EventPayload], ...]) -> Mapping[str, type[EventPayload]]:
    out: dict[str, type[EventPayload]] = {}
    for model in models:
        name = model.event_type
        if not _EVENT_TYPE_RE.match(name) or name in out:
            raise ValueError(f"event type {name!r} of {model.__name__} is malformed or taken")
        out[name] = model
    return MappingProxyType(out)


EVENT_MODELS: Mapping[str, type[EventPayload]] = _registry(_SCHEMA_V1)
"""Every known event type name -> its payload model (schema v1)."""


def typed_payload(type_: str, payload: Mapping[str, Any]) -> EventPayload | RawPayload:
    """The model of a stored payload; a `RawPayload` if the type is unknown here.

    Raises pydantic's ValidationError when a known type's payload does not fit its model.
    """
    model = EVENT_MODELS.get(type_)
    if model is None:
        return RawPayload(type=type_, payload=dict(payload))
    return model.model_validate(payload)
