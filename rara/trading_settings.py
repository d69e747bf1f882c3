"""Settings of the trading wing, ``[trading]`` in ``config.toml`` (a section of
`rara.config.Settings`; kept here so config.py stays one screenful per concern).

- ``[trading]``: how a deployed strategy is evaluated (its trailing window's margin);
- ``[trading.risk]``: every limit of the risk gate (`rara.trading.risk`);
- ``[trading.paper]``: the paper venue's fill model (`rara.trading.venues.paper`); its defaults are
  the backtest's semantics, so paper results compare directly with the gate's numbers;
- ``[trading.feed]``: polling and staleness of live feeds (`rara.trading.feeds`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RiskSettings(_Section):
    """Limits of the risk gate, run on every submit in paper and live alike (cancels pass)."""


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


class TradingSettings(_Section):
    lookback_margin: int = Field(
        50,
        ge=0,
        description="bars added to a strategy's declared lookback in its trailing window",
    )
    risk: RiskSettings = Field(default_factory=RiskSettings)
    paper: PaperSettings = Field(default_factory=PaperSettings)
    feed: FeedSettings = Field(default_factory=FeedSettings)
