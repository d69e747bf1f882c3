"""Settings of the trading wing, ``[trading]`` in ``config.toml`` (a section of
`rara.config.Settings`; kept here so config.py stays one screenful per concern).

- ``[trading]``: how a deployed strategy is evaluated (its trailing window's margin);
- ``[trading.risk]``: every limit of the risk gate (`rara.trading.risk`);
- ``[trading.paper]``: the paper venue's fill model (`rara.trading.venues.paper`); its defaults are
  the backtest's semantics, so paper results compare directly with the gate's numbers;
- ``[trading.feed]``: polling and staleness of live feeds (`rara.trading.feeds`);
- ``[trading.accounts.NAME]``: a venue account traded through ccxt (`rara.trading.venues.ccxt`):
  its exchange, its mode (testnet by default; live needs ``trading.live_enabled``, keys and
  ``--live``), reconciliation and its dead man's switch.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RiskSettings(_Section):
    """Limits of the risk gate, run on every submit in paper and live alike (cancels pass).

    A limit set to None is off. The defaults never bind on a paper account that commits all its
    cash to one long position (so paper results equal the backtest's): spot without leverage is
    always enforced, the loss limits are off until a person sets them. An exposure-reducing order
    (a sell on spot) passes every exposure guard, so a stop-loss can always sell."""

    allowed_symbols: tuple[str, ...] | None = Field(
        None, description="unified symbols that may gain exposure, e.g. BTC/USDT; None: any"
    )
    max_position_notional: Decimal | None = Field(
        None, gt=0, description="quote value of one symbol's position at the mark, after the order"
    )
    max_exposure: Decimal = Field(
        Decimal(1),
        gt=0,
        le=1,
        description="all positions at their marks, after the order, as a multiple of equity "
        "(spot: at most 1, no leverage)",
    )
    max_drawdown: Decimal | None = Field(
        None, gt=0, le=1, description="fall from the running equity peak that stops new exposure"
    )
    max_daily_loss: Decimal | None = Field(
        None, gt=0, le=1, description="loss since the UTC day's starting equity, as a fraction"
    )
    max_window_loss: Decimal | None = Field(
        None, gt=0, le=1, description="loss over the last loss_window_hours, as a fraction"
    )
    loss_window_hours: int = Field(24, ge=1, description="the rolling loss limit's window")
    max_orders: int | None = Field(
        60,
        ge=1,
        description="orders sent within order_window_s past which no order adding exposure is "
        "sent (exits still are); None: no limit",
    )
    order_window_s: int = Field(60, ge=1, description="the order rate limit's window")
    stale_after_intervals: int | None = Field(
        2, ge=1, description="a feed whose last bar closed this many intervals ago is stale"
    )


class PaperSettings(_Section):
    """The paper venue's fill model. Defaults: next-open market fills at the backtest's fee and
    slippage, whole fills, no spread. Fee and slippage themselves are the backtest's
    (`BacktestConfig.from_settings` for the venue), so they are not repeated here. Each option
    that shapes a fill is recorded in the fill's ``detail``."""

    half_spread: float = Field(
        0.0,
        ge=0,
        lt=0.1,
        allow_inf_nan=False,
        description="fraction of the price: buys pay open x (1 + it), sells get open x (1 - it), "
        "before slippage",
    )
    volume_cap: float | None = Field(
        None,
        gt=0,
        le=1,
        allow_inf_nan=False,
        description="a fill takes at most this fraction of the bar's volume; the rest of the "
        "order waits for the next bar (None: whole fills)",
    )
    limit_orders: bool = Field(
        False, description="accept limit orders (filled when a bar trades through the limit)"
    )
    seed: int = Field(
        0,
        ge=0,
        description="seed of any randomised fill option; the options above are deterministic",
    )


class FeedSettings(_Section):
    """Live feeds: how often to poll and when a feed is stale."""

    poll_interval_s: float = Field(
        5.0, gt=0, description="seconds between polls while a bar is due but not yet served"
    )
    close_delay_s: float = Field(
        2.0,
        ge=0,
        description="seconds after a bar's close before it is taken as final (the venue's clock "
        "and late trades); a bar is never emitted before it has closed",
    )
    stale_after_intervals: float = Field(
        2.0,
        gt=0,
        description="a feed with no new bar for this many bar intervals is stale",
    )
    retry_max_s: float = Field(
        60.0, gt=0, description="longest wait between retries of a failing poll (never given up)"
    )
    clock: Literal["exchange", "local"] = Field(
        "exchange",
        description="live trading: whose clock says a bar has closed (the exchange's server "
        "time, re-read every clock_resync_s; or this machine's)",
    )
    clock_resync_s: float = Field(
        60.0, ge=0, description="re-read the exchange's time this often (0: on every reading)"
    )
    stream: bool = Field(
        True,
        description="closed bars over the exchange's WebSocket (ccxt.pro watch_ohlcv) where it "
        "has one, REST polling behind it; false: poll only",
    )
    ws_url_overrides: dict[str, str] = Field(
        default_factory=dict,
        description="per exchange id, the WebSocket base URL replacing ccxt.pro's (emulators); "
        "an exchange with data.url_overrides streams only when it has one here",
    )


class AccountSettings(_Section):
    """One account at one exchange, traded through ccxt. Keys are never here: they come from
    ``RARA_<EXCHANGE>_API_KEY``/``_SECRET`` or the 0600 ``secrets.toml`` (`rara.credentials`)."""

    exchange: str = Field(min_length=1, description="ccxt exchange id, e.g. binance, kraken")
    mode: Literal["testnet", "live"] = Field(
        "testnet",
        description="testnet: the exchange's sandbox or demo trading; live: real money (also "
        "needs trading.live_enabled, keys and --live)",
    )
    symbols: tuple[str, ...] | None = Field(
        None, description="unified symbols this account may trade; None: any the market lists"
    )
    deadman: Literal["auto", "exchange", "watchdog", "off"] = Field(
        "auto",
        description="dead man's switch: the exchange's cancel-all-after where it has one, else "
        "rara's watchdog process (auto); off only on testnet",
    )
    deadman_timeout_s: float = Field(
        60.0,
        ge=5,
        le=86_400,
        description="open orders are canceled this long after the last re-arm",
    )
    deadman_refresh_s: float = Field(
        15.0, gt=0, description="re-arm at most this often (well inside the timeout)"
    )
    reconcile_interval_s: float = Field(
        300.0, gt=0, description="seconds between periodic reconciliations"
    )
    unknown_order_timeout_s: float = Field(
        60.0,
        gt=0,
        description="an order whose send got no answer, and that neither the order lookup nor "
        "the account's trades show, is declared rejected after this long",
    )
    trades_lookback_h: float = Field(
        24.0, gt=0, description="how far back reconciliation reads the account's trades"
    )
    rate_limit_retries: int = Field(
        2,
        ge=0,
        le=10,
        description="resends (same client id) of a request the venue refused "
        "with 429/418, after waiting out its Retry-After",
    )
    rate_limit_wait_max_s: float = Field(
        10.0, ge=0, description="longest Retry-After waited out before a resend"
    )


def ledger_account_of(mode: str, name: str) -> str:
    """The ledger account of configured account `name` in `mode`: ``testnet:main``,
    ``live:main`` (a testnet's play money never mixes with real balances)."""
    return f"{mode}:{name}"


class TradingSettings(_Section):
    lookback_margin: int = Field(
        50,
        ge=0,
        description="bars added to a strategy's declared lookback in its trailing window",
    )
    risk: RiskSettings = Field(default_factory=RiskSettings)
    paper: PaperSettings = Field(default_factory=PaperSettings)
    feed: FeedSettings = Field(default_factory=FeedSettings)
    live_enabled: bool = Field(
        False,
        description="allow accounts in live mode at all (with their keys and --live on the "
        "command line)",
    )
    accounts: dict[str, AccountSettings] = Field(
        default_factory=dict, description="venue accounts by name: [trading.accounts.NAME]"
    )
