"""The built-in search's parameter spaces: one `Param` per parameter, the lookback rules that say
how many bars an indicator needs before its value is exact, and the steering `Bias` that skews
draws towards more or fewer trades.

Lookback rules: a rolling window of n needs n bars; a recursive smoother needs enough bars for its
start-up state to decay below float noise (EMA, alpha 2/(n+1): n + 10(n+1) bars, e^-20; Wilder's
RSI/ATR/RMA, alpha 1/n: n + 20n bars, e^-20), plus two bars for crossovers and shifts. They are
the rules the gate's warm-up check enforces, so a declared lookback passes it by construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from rara.domain.market import Timeframe
from rara.research.models import JsonScalar

Params = dict[str, JsonScalar]
WARMUP_MARGIN = 2  # crossover / shift(…, 1) look one bar further back than the indicator


def lb_window(n: int) -> int:
    """Rolling windows (sma, stdev, highest, zscore) are exact once n bars exist."""
    return n + 1


def lb_ema(n: int) -> int:
    """EMA start-up error shrinks by (1 - 2/(n+1)) a bar: 10(n+1) bars after the seed is e^-20."""
    return n + 10 * (n + 1)


def lb_wilder(n: int) -> int:
    """Wilder smoothing (rsi, atr, rma) decays by (1 - 1/n) a bar: 20n bars after the seed."""
    return n + 20 * n + 1


def default_max_lookback(timeframe: str) -> int:
    """The largest lookback the search will declare, by timeframe.

    The warm-up check compares signals after ``lookback`` bars of histories that start a tenth and
    a third of the way in, and fails a lookback that leaves nothing to compare, so the lookback must
    stay well inside the data. The proposer does not see the bar count (`ProposerContext` has
    none), so this assumes at least the shipped sample's length (about 8 months: ~6,000 1h bars,
    ~1,500 4h bars, ~250 1d bars); pass ``max_lookback`` to the proposer for shorter data.
    """
    ms = Timeframe.parse(timeframe).ms
    if ms <= 3_600_000:
        return 1000
    if ms <= 4 * 3_600_000:
        return 400
    if ms <= 86_400_000:
        return 200
    return 120


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter's space. ``speed`` says which way trades get more frequent: -1 when a smaller
    value trades more (periods, entry thresholds), +1 when a larger one does, 0 when neutral."""

    name: str
    kind: Literal["int", "float", "choice"]
    lo: float = 0.0
    hi: float = 0.0
    step: float = 1.0
    choices: tuple[str, ...] = ()
    speed: int = 0
    linear: bool = False

    @property
    def digits(self) -> int:
        """Decimals of the grid (0.005 -> 3), so rounding prints cleanly (no 0.30000000000004)."""
        text = repr(float(self.step))
        return len(text.split(".")[1].rstrip("0")) if "." in text else 0

    def clip(self, v: float) -> JsonScalar:
        """Onto the grid and inside [lo, hi]."""
        if self.kind == "int":
            return int(min(self.hi, max(self.lo, round(v))))
        x = round(round(v / self.step) * self.step, self.digits)
        return float(min(self.hi, max(self.lo, x)))

    def sample(self, rng: np.random.Generator, speed_bias: float = 0.0) -> JsonScalar:
        """Ints log-uniform (periods matter in ratios), floats uniform; ``speed_bias`` in [-1, 1]
        skews the draw towards the more-trades end (+) or fewer-trades end (-)."""
        if self.kind == "choice":
            return self.choices[int(rng.integers(len(self.choices)))]
        u = float(rng.random())
        skew = speed_bias * self.speed
        if skew:
            # u -> u^(1+2|skew|) piles mass near 0; mirror it for the other direction.
            a = 1.0 + 2.0 * abs(skew)
            toward_hi = skew > 0
            u = 1.0 - (1.0 - u) ** a if toward_hi else u**a
        if self.kind == "int" and self.linear:
            return self.clip(math.floor(self.lo + u * (self.hi - self.lo + 0.999)))
        if self.kind == "int":
            lo, hi = math.log(self.lo), math.log(self.hi + 0.999)
            return self.clip(math.floor(math.exp(lo + u * (hi - lo))))
        return self.clip(self.lo + u * (self.hi - self.lo))

    def mutate(
        self, v: JsonScalar, rng: np.random.Generator, scale: float = 1.0, speed_bias: float = 0.0
    ) -> JsonScalar:
        """A local step: periods by a log-normal factor, floats by a fraction of the range. The
        step drifts towards more trades when ``speed_bias`` > 0 (fewer when < 0)."""
        if self.kind == "choice":
            return self.sample(rng) if rng.random() < 0.5 else v
        x = float(v)
        drift = speed_bias * self.speed
        if self.kind == "int" and self.linear:
            width = self.hi - self.lo
            step = float(rng.normal(0.05 * drift * width, 0.15 * scale * width))
            y = x + (step if round(step) else (1 if rng.random() < 0.5 else -1))
            return self.clip(y)
        if self.kind == "int":
            # speed -1 (smaller trades more) and bias +: a negative log drift, ~-0.16 at most
            y = x * math.exp(float(rng.normal(0.2 * drift, 0.25 * scale)))
            if round(y) == x:  # small periods: make the step count
                y = x + (1 if rng.random() < 0.5 else -1)
            return self.clip(y)
        width = self.hi - self.lo
        return self.clip(x + float(rng.normal(0.05 * drift * width, 0.15 * scale * width)))

    def contains(self, v: object) -> bool:
        if self.kind == "choice":
            return v in self.choices
        if self.kind == "int":
            return type(v) is int and self.lo <= v <= self.hi
        return isinstance(v, int | float) and not isinstance(v, bool) and self.lo <= v <= self.hi


def int_of(p: Params, k: str) -> int:
    return int(p[k])


def float_of(p: Params, k: str) -> float:
    return float(p[k])


@dataclass(frozen=True)
class Bias:
    """Steering from memory: ``speed`` in [-1, 1] (+: more trades wanted, -: fewer) and the
    probability that a sampled candidate carries a fixed stop loss."""

    speed: float = 0.0
    p_stop: float = 0.5
