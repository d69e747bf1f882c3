"""Settings of the closed loop, sections of `rara.config.Settings` (kept here so config.py stays
one screenful per concern):

- ``[daemon]``: the `rara run` supervisor: restarts, stalls, stop, and how many paper
  strategies trade at once; ``[daemon.research]``: the research it runs between trading;
- ``[gates.paper]``: gate 2 (`rara.feedback.gate2`), paper -> live candidate;
- ``[feedback]``: when a paper or live strategy is demoted (`rara.feedback`);
- ``[sentinel]``: its sources, rules and what a critical signal does (`rara.sentinel`).

Durations are seconds of wall time, except where a name says bars or days of market time (a
replay at speed max crosses days of market time in seconds).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DaemonResearchSettings(_Section):
    """The research the daemon runs continuously: run after run of ``iterations_per_run``
    candidates on one market, and the runs a retrain request asks for."""

    enabled: bool = True
    exchange: str | None = Field(None, description="None: data.default_exchange")
    symbol: str = "BTC/USDT"
    timeframe: str = "1h"
    proposer: Literal["builtin", "llm"] = "builtin"
    iterations_per_run: int = Field(20, ge=1)
    seed: int = Field(0, description="the first run's seed; each next run adds 1")
    daily_llm_budget_usd: float = Field(
        1.0, ge=0, description="LLM spend per UTC day across runs; research waits when spent"
    )
    cpu_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="fraction of wall time research may keep a core busy (it pauses in between)",
    )


class DaemonSettings(_Section):
    research: DaemonResearchSettings = Field(default_factory=DaemonResearchSettings)
    max_paper_strategies: int = Field(
        3, ge=0, description="paper candidates that start paper trading at once"
    )
    auto_approve: bool = Field(
        False,
        description="move a live candidate to live without a person (needs approve_account)",
    )
    approve_account: str | None = Field(
        None, description="the [trading.accounts.NAME] auto_approve trades on"
    )
    stop_orders: Literal["cancel", "leave_under_deadman"] = Field(
        "cancel", description="on SIGTERM: cancel open orders, or leave them to the armed switch"
    )
    stop_timeout_s: float = Field(30.0, gt=0, description="a clean stop's time limit")
    flatten_on_demote: bool = Field(
        True,
        description="a live strategy that leaves stage live (demoted, retired) sells its "
        "position through the reduce path before its component stops; false: the position and "
        "its protective orders stay at the exchange, unmanaged (only its entries are canceled)",
    )
    flatten_timeout_s: float = Field(
        120.0,
        gt=0,
        description="how long a wind-down waits for its sale to be filled and booked before it "
        "stops and reports what is still open",
    )
    restart_backoff_s: float = Field(1.0, gt=0, description="first restart delay, doubled")
    restart_backoff_max_s: float = Field(60.0, gt=0)
    restart_max: int = Field(5, ge=0, description="restarts per window before giving up")
    restart_window_s: float = Field(600.0, gt=0)
    stall_after_s: float = Field(
        300.0, gt=0, description="a component without progress this long is stalled"
    )
    status_interval_s: float = Field(2.0, gt=0, description="how often `rara status` is updated")
    feedback_interval_s: float = Field(30.0, gt=0, description="how often feedback judges")
    replay_from: str | None = Field(
        None,
        description="with --feed replay: the date paper trading replays from; research sees "
        "only the bars before it. None: the last replay_fraction of the research market's bars",
    )
    replay_fraction: float = Field(0.3, gt=0, lt=1)
    heap_arenas: int = Field(
        2, ge=0, description="malloc arenas at most (glibc; 0: its default of 8 per core)"
    )
    heap_mmap_threshold_kb: int = Field(
        256,
        ge=0,
        le=32 * 1024,
        description="heap blocks this large (KB) are mapped on their own and given back when "
        "freed (glibc; 0: its default, which rises with what was freed)",
    )
    heap_trim_interval_s: float = Field(
        60.0, ge=0, description="how often free heap pages go back to the OS (0: never)"
    )


class PaperGateSettings(_Section):
    """Gate 2: a paper run becomes a live candidate when every check passes. Days are market
    time (bars x timeframe)."""

    min_days: float = Field(14.0, ge=0)
    min_trades: int = Field(5, ge=0)
    min_sharpe: float = Field(0.5, description="annualised, from the ledger's equity marks")
    max_drawdown: float = Field(0.25, gt=0, le=1)
    max_tracking_error: float = Field(
        0.02,
        ge=0,
        description="std of per-bar return differences between paper and backtest equity, "
        "annualised",
    )
    max_parity_mismatches: int = Field(
        0, ge=0, description="trades that differ from the backtest's over the same bars"
    )


class FeedbackSettings(_Section):
    retire_drawdown: float = Field(
        0.30, gt=0, le=1, description="a paper or live drawdown beyond this retires it"
    )
    min_live_fraction: float = Field(
        0.5,
        ge=0,
        description="live annualised return below this fraction of the backtest's demotes it",
    )
    min_days_to_judge: float = Field(
        7.0, ge=0, description="market days of live or paper results before a demotion by return"
    )
    demote_on_critical: bool = Field(
        True, description="a critical sentinel signal on its symbol demotes a live strategy"
    )


class SentinelMarketSettings(_Section):
    """Signals computed from the candles of the symbols being traded."""

    enabled: bool = True
    window_bars: int = Field(48, ge=5, description="the baseline the last bar is compared with")
    volatility_jump: float = Field(5.0, gt=1, description="bar range / baseline mean range")
    gap: float = Field(0.05, gt=0, description="|open - previous close| / previous close")
    volume_spike: float = Field(10.0, gt=1, description="bar volume / baseline mean volume")


class SentinelSettings(_Section):
    enabled: bool = True
    feeds: tuple[str, ...] = Field(
        (), description="RSS/Atom feeds: http(s) URLs or local file paths"
    )
    poll_interval_s: float = Field(300.0, gt=0)
    request_timeout_s: float = Field(10.0, gt=0)
    webhook_port: int | None = Field(
        None, ge=0, le=65535, description="serve the webhook on 127.0.0.1:PORT (0: any); None: off"
    )
    critical_keywords: tuple[str, ...] = (
        "hack",
        "exploit",
        "insolvent",
        "insolvency",
        "halts withdrawals",
        "withdrawals suspended",
        "depeg",
        "bankrupt",
    )
    warning_keywords: tuple[str, ...] = ("outage", "delisting", "investigation", "lawsuit")
    classify_with_llm: bool = Field(
        False, description="ask the configured LLM; its reply is validated, rules are the fallback"
    )
    lock_minutes: float = Field(
        240.0, gt=0, description="how long a critical signal locks its symbols"
    )
    reduce_on_critical: bool = Field(
        False, description="a critical signal also sets the trading state to REDUCING"
    )
    market: SentinelMarketSettings = Field(default_factory=SentinelMarketSettings)


class ServerSettings(_Section):
    """``[server]``: the gRPC server (`rara.server`) inside the daemon and of ``rara serve``.
    Anything but a loopback address needs TLS (`tls_cert` and `tls_key`) or an explicit
    ``--insecure``."""

    enabled: bool = Field(True, description="`rara run` serves the API (`--no-server`: not)")
    host: str = "127.0.0.1"
    port: int = Field(50051, ge=0, le=65535, description="0: any free port")
    tls_cert: str | None = Field(None, description="PEM certificate chain file")
    tls_key: str | None = Field(None, description="PEM private key file")
    tls_client_ca: str | None = Field(
        None, description="PEM CA file: when set, clients must present a certificate it signed"
    )
    heartbeat_s: float = Field(
        5.0, gt=0, description="StreamEvents sends a heartbeat after this long without events"
    )
    stream_batch: int = Field(
        500, ge=1, le=100_000, description="events StreamEvents reads from the log at a time"
    )
    poll_s: float = Field(
        0.02,
        gt=0,
        description="how often the server looks for events other processes appended (one look "
        "for all its streams; appends in the server's own process wake them at once)",
    )
