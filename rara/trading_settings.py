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
    slippage, whole fills, no spread."""


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


class TradingSettings(_Section):
    lookback_margin: int = Field(
        50,
        ge=0,
        description="bars added to a strategy's declared lookback in its trailing window",
    )
    risk: RiskSettings = Field(default_factory=RiskSettings)
    paper: PaperSettings = Field(default_factory=PaperSettings)
    feed: FeedSettings = Field(default_factory=FeedSettings)
