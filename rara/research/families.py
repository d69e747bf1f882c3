"""The built-in proposer's strategy catalogue: families, their parameter spaces and code templates.

A *family* is one base signal (trend, breakout, mean reversion, momentum) optionally wrapped by
filters that only gate entries (a trend filter, a volatility-regime filter). Its name is the base
followed by its filters in a fixed order, e.g. ``rsi_reversion+trend+vol``. Every family renders a
complete Strategy API v1 module from concrete params, so what the built-in search emits goes
through exactly the path LLM code takes (lint, sandbox, look-ahead checks, gate).

Why the generated code is correct by construction:

- the module text is fixed per family (and per which optional risk params are present); only the
  ``meta()`` dict changes with the params, and the code reads every value from ``params``, so an
  override in the sandbox computes what the params say;
- ``meta()["lookback"]`` is computed from the params by the same rules the gate's warm-up check
  enforces: a rolling window of n needs n bars; a recursive smoother needs enough bars for its
  start-up state to decay below float noise (EMA, alpha 2/(n+1): n + 10(n+1) bars, e^-20; Wilder's
  RSI/ATR/RMA, alpha 1/n: n + 20n bars, e^-20), plus two bars for crossovers and shifts;
- constraints (fast < slow, exit inside entry ...) are enforced by a repair step after every
  sample, mutation and crossover, and the lookback is kept under a cap the history can test.
"""

from __future__ import annotations

import hashlib
import json
import math
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import numpy as np

from rara.domain.market import Timeframe
from rara.research.models import JsonScalar

Params = dict[str, JsonScalar]
VERSION = "1.0.0"
FILTER_ORDER = ("trend", "vol")  # canonical order of filters in a family name
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


def _int(p: Params, k: str) -> int:
    return int(p[k])


def _num(p: Params, k: str) -> float:
    return float(p[k])


@dataclass(frozen=True, slots=True)
class Component:
    """A base signal or an entry filter: its params, constraints, lookback, code and words."""

    name: str
    role: Literal["base", "filter"]
    style: str  # trend | breakout | mean_reversion | momentum | filter
    params: tuple[Param, ...]
    code: tuple[str, ...]  # body lines of on_candles (base: sets entries/exits; filter: gates)
    lookback: Callable[[Params], int]
    text: Callable[[Params, str], str]
    repair: Callable[[Params], None] = lambda p: None
    fixed_risk: bool = True  # offers the optional stop_loss / take_profit params


def _repair_ma(p: Params) -> None:
    need = math.ceil(1.5 * _int(p, "fast"))
    if _int(p, "slow") < need:
        p["slow"] = min(200, need)
        if _int(p, "slow") < need:
            p["fast"] = int(_int(p, "slow") / 1.5)


def _repair_donchian(p: Params) -> None:
    if _int(p, "exit") > _int(p, "entry") - 2:
        p["exit"] = max(5, _int(p, "entry") // 2)


def _repair_rsi(p: Params) -> None:
    if _num(p, "exit_level") < _num(p, "oversold") + 10:
        p["exit_level"] = min(80.0, _num(p, "oversold") + 10)


def _repair_zscore(p: Params) -> None:
    if _num(p, "exit_z") < 0.3 - _num(p, "entry_z"):
        p["exit_z"] = round(0.3 - _num(p, "entry_z"), 1)


def _repair_roc(p: Params) -> None:
    if _num(p, "exit_t") > _num(p, "entry_t") - 0.5:
        p["exit_t"] = round(max(-2.0, _num(p, "entry_t") - 0.5), 1)


def _repair_macd(p: Params) -> None:
    if _int(p, "slow") < _int(p, "fast") + 4:
        p["slow"] = min(50, _int(p, "fast") + 4)


def _repair_vol(p: Params) -> None:
    if _int(p, "vol_long") < 3 * _int(p, "vol_window"):
        p["vol_long"] = min(300, 3 * _int(p, "vol_window"))


def _repair_risk(p: Params) -> None:
    if "take_profit" in p and _num(p, "take_profit") < 1.5 * _num(p, "stop_loss"):
        p["take_profit"] = RISK_PARAMS[1].clip(math.ceil(150 * _num(p, "stop_loss")) / 100)


def _ma_lb(kind: JsonScalar, n: int) -> int:
    return lb_ema(n) if kind == "ema" else lb_window(n)


def _ma(kind: JsonScalar) -> str:
    return "EMA" if kind == "ema" else "SMA"


MA_CROSS = Component(
    "ma_cross",
    "base",
    "trend",
    (
        Param("kind", "choice", choices=("sma", "ema")),
        Param("fast", "int", 3, 50, speed=-1),
        Param("slow", "int", 10, 200, speed=-1),
    ),
    (
        'if params["kind"] == "ema":',
        '    fast = ta.ema(close, params["fast"])',
        '    slow = ta.ema(close, params["slow"])',
        "else:",
        '    fast = ta.sma(close, params["fast"])',
        '    slow = ta.sma(close, params["slow"])',
        "entries = ta.crossover(fast, slow)",
        "exits = ta.crossunder(fast, slow)",
    ),
    lambda p: _ma_lb(p["kind"], _int(p, "slow")),
    lambda p, tf: (
        f"{_ma(p['kind'])}({p['fast']})/{_ma(p['kind'])}({p['slow']}) crossover captures "
        f"{tf} trends"
    ),
    _repair_ma,
)

DONCHIAN = Component(
    "donchian_breakout",
    "base",
    "breakout",
    (
        Param("entry", "int", 10, 150, speed=-1),
        Param("exit", "int", 5, 80, speed=-1),
        Param("atr_period", "int", 7, 21),
        Param("atr_mult", "float", 1.0, 4.0, 0.25),
    ),
    (
        "# shift(x, 1): the channel of the bars before this one, so this bar can break it",
        'upper = ta.shift(ta.highest(candles.high, params["entry"]), 1)',
        'lower = ta.shift(ta.lowest(candles.low, params["exit"]), 1)',
        "entries = close > upper",
        "exits = close < lower",
    ),
    lambda p: max(lb_window(_int(p, "entry")), lb_wilder(_int(p, "atr_period"))),
    lambda p, tf: (
        f"Closes above the prior {p['entry']}-bar high (exit below the {p['exit']}-bar low, "
        f"{p['atr_mult']}x ATR({p['atr_period']}) stop) ride {tf} breakouts"
    ),
    _repair_donchian,
    fixed_risk=False,
)

RSI_REVERSION = Component(
    "rsi_reversion",
    "base",
    "mean_reversion",
    (
        Param("rsi_period", "int", 2, 30, speed=-1),
        Param("oversold", "float", 10.0, 40.0, 1.0, speed=1),
        Param("exit_level", "float", 45.0, 80.0, 1.0, speed=-1),
    ),
    (
        'strength = ta.rsi(close, params["rsi_period"])',
        'entries = ta.crossover(strength, params["oversold"])',
        'exits = strength >= params["exit_level"]',
    ),
    lambda p: lb_wilder(_int(p, "rsi_period")),
    lambda p, tf: (
        f"RSI({p['rsi_period']}) recovering above {p['oversold']:g} after an oversold dip "
        f"reverts to {p['exit_level']:g} on {tf} bars"
    ),
    _repair_rsi,
)

ZSCORE_REVERSION = Component(
    "zscore_reversion",
    "base",
    "mean_reversion",
    (
        Param("window", "int", 10, 150, speed=-1),
        Param("entry_z", "float", 0.8, 3.0, 0.1, speed=-1),
        Param("exit_z", "float", -0.5, 1.0, 0.1, speed=-1),
    ),
    (
        "# Bollinger-style: the close's distance from its rolling mean in rolling stdevs",
        'z = ta.zscore(close, params["window"])',
        'entries = ta.crossover(z, -params["entry_z"])',
        'exits = z > params["exit_z"]',
    ),
    lambda p: lb_window(_int(p, "window")),
    lambda p, tf: (
        f"Closes back above {p['entry_z']:g} stdev below their {p['window']}-bar mean "
        f"(Bollinger) revert past {p['exit_z']:g} stdev on {tf} bars"
    ),
    _repair_zscore,
)

ROC_MOMENTUM = Component(
    "roc_momentum",
    "base",
    "momentum",
    (
        Param("period", "int", 3, 150, speed=-1),
        Param("entry_t", "float", 0.0, 2.5, 0.1, speed=-1),
        Param("exit_t", "float", -2.0, 1.0, 0.1, speed=1),
    ),
    (
        "# the period's return in units of its own volatility, so thresholds fit any timeframe",
        'period = params["period"]',
        "noise = ta.stdev(ta.diff(ta.log(close), 1), period) * (period**0.5)",
        "score = ta.roc(close, period) / noise",
        'entries = ta.crossover(score, params["entry_t"])',
        'exits = ta.crossunder(score, params["exit_t"])',
    ),
    lambda p: lb_window(_int(p, "period")) + 1,
    lambda p, tf: (
        f"{p['period']}-bar momentum above {p['entry_t']:g} sigma persists on {tf} bars "
        f"(exit below {p['exit_t']:g} sigma)"
    ),
    _repair_roc,
)

MACD_TREND = Component(
    "macd_trend",
    "base",
    "trend",
    (
        Param("fast", "int", 4, 20, speed=-1),
        Param("slow", "int", 12, 50, speed=-1),
        Param("signal", "int", 3, 15, speed=-1),
    ),
    (
        'line, signal, hist = ta.macd(close, params["fast"], params["slow"], params["signal"])',
        "entries = ta.crossover(line, signal)",
        "exits = ta.crossunder(line, signal)",
    ),
    # the signal EMA runs on the MACD line: its own start-up decays after the line's has
    lambda p: lb_ema(_int(p, "slow")) + lb_ema(_int(p, "signal")),
    lambda p, tf: (
        f"MACD({p['fast']},{p['slow']},{p['signal']}) signal-line crosses time {tf} trend turns"
    ),
    _repair_macd,
)

TREND_FILTER = Component(
    "trend",
    "filter",
    "filter",
    (
        Param("trend_kind", "choice", choices=("sma", "ema")),
        Param("trend_len", "int", 30, 250),
    ),
    (
        'if params["trend_kind"] == "ema":',
        '    trend_line = ta.ema(close, params["trend_len"])',
        "else:",
        '    trend_line = ta.sma(close, params["trend_len"])',
        "entries = entries & (close > trend_line)",
    ),
    lambda p: _ma_lb(p["trend_kind"], _int(p, "trend_len")),
    lambda p, tf: f"only above the {_ma(p['trend_kind'])}({p['trend_len']}) trend",
)

VOL_FILTER = Component(
    "vol",
    "filter",
    "filter",
    (
        Param("vol_kind", "choice", choices=("stdev", "atr")),
        Param("vol_window", "int", 5, 40),
        Param("vol_long", "int", 50, 300),
        Param("vol_mode", "choice", choices=("calm", "active")),
        Param("vol_ratio", "float", 0.6, 1.6, 0.05),
    ),
    (
        "# volatility now against its own longer average: trade only in one regime",
        'if params["vol_kind"] == "atr":',
        '    vol = ta.atr(candles.high, candles.low, close, params["vol_window"]) / close',
        "else:",
        '    vol = ta.stdev(ta.diff(ta.log(close), 1), params["vol_window"])',
        'vol_limit = params["vol_ratio"] * ta.sma(vol, params["vol_long"])',
        'if params["vol_mode"] == "calm":',
        "    entries = entries & (vol < vol_limit)",
        "else:",
        "    entries = entries & (vol > vol_limit)",
    ),
    lambda p: (
        (lb_wilder if p["vol_kind"] == "atr" else lb_window)(_int(p, "vol_window"))
        + 1
        + _int(p, "vol_long")
    ),
    lambda p, tf: (
        f"only when {p['vol_kind']} volatility({p['vol_window']}) is "
        f"{'below' if p['vol_mode'] == 'calm' else 'above'} {p['vol_ratio']:g}x its "
        f"{p['vol_long']}-bar average"
    ),
    _repair_vol,
)

RISK_PARAMS = (
    Param("stop_loss", "float", 0.01, 0.10, 0.005),
    Param("take_profit", "float", 0.02, 0.30, 0.01),
)

BASES: dict[str, Component] = {
    c.name: c
    for c in (MA_CROSS, DONCHIAN, RSI_REVERSION, ZSCORE_REVERSION, ROC_MOMENTUM, MACD_TREND)
}
FILTERS: dict[str, Component] = {c.name: c for c in (TREND_FILTER, VOL_FILTER)}

# The bandit's arms: every base alone plus the combinations that make sense a priori (trend
# filter under mean reversion / momentum, volatility regime around trend and breakout). The
# `wrap` move can still reach any base+filter family; those join the arms once tried.
CATALOGUE: tuple[str, ...] = (
    "ma_cross",
    "donchian_breakout",
    "rsi_reversion",
    "zscore_reversion",
    "roc_momentum",
    "macd_trend",
    "rsi_reversion+trend",
    "zscore_reversion+trend",
    "roc_momentum+trend",
    "ma_cross+vol",
    "donchian_breakout+vol",
    "rsi_reversion+trend+vol",
)


@dataclass(frozen=True)
class Bias:
    """Steering from memory: ``speed`` in [-1, 1] (+: more trades wanted, -: fewer) and the
    probability that a sampled candidate carries a fixed stop loss."""

    speed: float = 0.0
    p_stop: float = 0.5


def canonical(params: Mapping[str, JsonScalar]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


def _py(v: JsonScalar) -> str:
    return json.dumps(v) if isinstance(v, str) else repr(v)


@dataclass(frozen=True)
class Family:
    name: str
    base: Component
    filters: tuple[Component, ...] = field(default=())

    @property
    def components(self) -> tuple[Component, ...]:
        return (self.base, *self.filters)

    @property
    def style(self) -> str:
        return self.base.style

    def space(self, params: Mapping[str, object] | None = None) -> tuple[Param, ...]:
        """Every param of this family; the fixed-risk ones only when present in ``params``."""
        out = tuple(p for c in self.components for p in c.params)
        if params is not None and self.base.fixed_risk:
            out += tuple(p for p in RISK_PARAMS if p.name in params)
        return out

    def accepts(self, params: Mapping[str, object] | None) -> bool:
        """Are these exactly this family's params, each inside its space (a usable parent)?"""
        if params is None:
            return False
        space = self.space(params)
        if len(space) != len(params) or ("take_profit" in params and "stop_loss" not in params):
            return False
        return all(p.name in params and p.contains(params[p.name]) for p in space)

    def lookback(self, params: Params) -> int:
        return max(c.lookback(params) for c in self.components) + WARMUP_MARGIN

    def fit(self, params: Params, cap: int) -> Params:
        """Repair constraints, then shrink every period until the lookback fits under ``cap``;
        as a last resort switch recursive smoothers to their windowed choice (EMA -> SMA)."""
        p = dict(params)
        self._repair(p)
        space = self.space(p)
        periods = [q for q in space if q.kind == "int"]
        for attempt in range(60):
            if self.lookback(p) <= cap:
                return p
            if attempt == 30:
                for q in space:
                    if q.kind == "choice":
                        p[q.name] = q.choices[0]
            for q in periods:
                p[q.name] = q.clip(math.floor(_int(p, q.name) * 0.85))
            self._repair(p)
        raise ValueError(f"{self.name}: lookback {self.lookback(p)} cannot fit under {cap}")

    def _repair(self, p: Params) -> None:
        for c in self.components:
            c.repair(p)
        _repair_risk(p)

    def min_lookback(self) -> int:
        """The lookback with every period at its smallest: whether the family fits a cap."""
        # choices[0] is the cheapest choice (sma, stdev) by construction of the catalogue
        p: Params = {
            q.name: q.choices[0] if q.kind == "choice" else q.clip(q.lo) for q in self.space()
        }
        self._repair(p)
        return self.lookback(p)

    def sample(self, rng: np.random.Generator, bias: Bias, cap: int) -> Params:
        p: Params = {q.name: q.sample(rng, bias.speed) for q in self.space()}
        if self.base.fixed_risk and rng.random() < bias.p_stop:
            p["stop_loss"] = RISK_PARAMS[0].sample(rng)
            if rng.random() < 0.5:
                p["take_profit"] = RISK_PARAMS[1].sample(rng)
        return self.fit(p, cap)

    def sample_filter(self, params: Params, rng: np.random.Generator, bias: Bias) -> Params:
        """The params of this family's filters that ``params`` lacks (for wrapping a base)."""
        out = dict(params)
        for c in self.filters:
            for q in c.params:
                if q.name not in out:
                    out[q.name] = q.sample(rng, bias.speed)
        return out

    def mutate(
        self,
        params: Params,
        rng: np.random.Generator,
        cap: int,
        scale: float = 1.0,
        bias: Bias | None = None,
    ) -> Params:
        """Perturb about half the params (at least one) locally, drifting with ``bias.speed``;
        sometimes toggle the stops."""
        speed = bias.speed if bias is not None else 0.0
        space = self.space(params)
        p = dict(params)
        picks = rng.random(len(space)) < 0.5
        if not picks.any():
            picks[int(rng.integers(len(space)))] = True
        for q, pick in zip(space, picks, strict=True):
            if pick:
                p[q.name] = q.mutate(p[q.name], rng, scale, speed)
        if self.base.fixed_risk and rng.random() < 0.1:  # sometimes try with or without stops
            if "take_profit" in p:
                del p["take_profit"]
            elif "stop_loss" in p:
                del p["stop_loss"]
            else:
                p["stop_loss"] = RISK_PARAMS[0].sample(rng)
        return self.fit(p, cap)

    def crossover(self, a: Params, b: Params, rng: np.random.Generator, cap: int) -> Params:
        """Uniform crossover of two parents of this family; risk params come with parent a."""
        p = dict(a)
        for q in self.space():
            if q.name in b and rng.random() < 0.5:
                p[q.name] = b[q.name]
        return self.fit(p, cap)

    # -- text and code ------------------------------------------------------------------------

    def describe(self, params: Params, timeframe: str) -> tuple[str, str]:
        """(base phrase, filter phrase) for hypotheses and meta descriptions."""
        base = self.base.text(params, timeframe)
        filt = "".join(f", {c.text(params, timeframe)}" for c in self.filters)
        return base, filt

    def hypothesis(self, params: Params, timeframe: str, symbol: str) -> str:
        base, filt = self.describe(params, timeframe)
        return f"{base} in {symbol}{filt}"

    def strategy_name(self, params: Params) -> str:
        digest = hashlib.sha256(f"{self.name}\n{canonical(params)}".encode()).hexdigest()
        return f"{self.name.replace('+', '_')}_{digest[:8]}"

    def render(self, params: Params, timeframe: str) -> str:
        """The complete strategy module for these params (Strategy API v1)."""
        base, filt = self.describe(params, timeframe)
        lookback = self.lookback(params)
        risk = self._risk_lines(params)
        desc = (
            f"{base}{filt}. Built-in search family {self.name}; lookback {lookback} bars covers "
            "every window and lets recursive smoothers forget their start."
        )
        doc = textwrap.wrap(f"{self.name}: {base}{filt}.", 96)
        lines = [
            '"""' + "\n".join(doc) + '"""',
            "",
            "",
            "def meta():",
            "    return {",
            f'        "name": "{self.strategy_name(params)}",',
            f'        "version": "{VERSION}",',
            '        "api_version": 1,',
            f'        "timeframe": "{timeframe}",',
            f'        "lookback": {lookback},',
            f'        "description": {json.dumps(desc, ensure_ascii=False)},',
            '        "params": {',
            *(f"            {json.dumps(k)}: {_py(v)}," for k, v in params.items()),
            "        },",
            "    }",
            "",
            "",
            "def on_candles(candles, params):",
            "    close = candles.close",
            *(f"    {line}" for c in self.components for line in c.code),
            "    return entries, exits",
        ]
        if risk:
            lines += ["", "", "def risk_levels(candles, params):", *(f"    {s}" for s in risk)]
        return "\n".join(lines) + "\n"

    def _risk_lines(self, params: Params) -> tuple[str, ...]:
        if not self.base.fixed_risk:  # donchian: a stop at a multiple of ATR below the entry
            return (
                'atr = ta.atr(candles.high, candles.low, candles.close, params["atr_period"])',
                'stop = ta.clip(params["atr_mult"] * atr / candles.close, 0.002, 0.5)',
                "return stop, None",
            )
        if "stop_loss" not in params:
            return ()
        take = 'params["take_profit"]' if "take_profit" in params else "None"
        return (f'return params["stop_loss"], {take}',)


def family_name(base: str, filters: tuple[str, ...] | list[str] = ()) -> str:
    fs = [f for f in FILTER_ORDER if f in filters]
    return "+".join([base, *fs])


@lru_cache(maxsize=256)
def family(name: str) -> Family | None:
    """The family called ``name`` (``base[+filter...]``), or None when it is not one of ours."""
    base, *filters = name.split("+")
    if base not in BASES or any(f not in FILTERS for f in filters):
        return None
    if len(set(filters)) != len(filters) or family_name(base, filters) != name:
        return None
    return Family(name, BASES[base], tuple(FILTERS[f] for f in filters))


def all_families() -> list[Family]:
    """Every base with every subset of filters (6 x 4 = 24 families)."""
    out: list[Family] = []
    for b in BASES:
        for mask in range(1 << len(FILTER_ORDER)):
            fs = [f for i, f in enumerate(FILTER_ORDER) if mask >> i & 1]
            fam = family(family_name(b, fs))
            assert fam is not None
            out.append(fam)
    return out
