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


class TradingSettings(_Section):
    lookback_margin: int = Field(
        50,
        ge=0,
        description="bars added to a strategy's declared lookback in its trailing window",
    )
    risk: RiskSettings = Field(default_factory=RiskSettings)
    paper: PaperSettings = Field(default_factory=PaperSettings)
    feed: FeedSettings = Field(default_factory=FeedSettings)
