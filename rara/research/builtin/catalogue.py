"""The built-in search's components: nine base signals and two entry filters, each with its
parameter space, constraints (repaired after every draw), lookback rule, code lines and words; and
the catalogue of families the bandit starts from.

A base signal sets entries and exits (trend, breakout, mean reversion, momentum, calendar); a
filter only gates entries (a trend filter, a volatility-regime filter). Every value the code uses
is read from ``params`` (the calendar bases also read ``bar_ms``, the timeframe's bar length, which
the module declares in ``meta()`` anyway), so a sandbox override computes what the params say.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from rara.research.builtin.space import (
    Param,
    Params,
    float_of,
    int_of,
    lb_ema,
    lb_wilder,
    lb_window,
)
from rara.research.models import JsonScalar

FILTER_ORDER = ("trend", "vol")  # canonical order of filters in a family name


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
    uses_bar_ms: bool = False  # the code reads ``bar_ms``, one bar's length in epoch ms


def _repair_ma(p: Params) -> None:
    need = math.ceil(1.5 * int_of(p, "fast"))
    if int_of(p, "slow") < need:
        p["slow"] = min(200, need)
        if int_of(p, "slow") < need:
            p["fast"] = int(int_of(p, "slow") / 1.5)


def _repair_donchian(p: Params) -> None:
    if int_of(p, "exit") > int_of(p, "entry") - 2:
        p["exit"] = max(5, int_of(p, "entry") // 2)


def _repair_rsi(p: Params) -> None:
    if float_of(p, "exit_level") < float_of(p, "oversold") + 10:
        p["exit_level"] = min(80.0, float_of(p, "oversold") + 10)


def _repair_zscore(p: Params) -> None:
    if float_of(p, "exit_z") < 0.3 - float_of(p, "entry_z"):
        p["exit_z"] = round(0.3 - float_of(p, "entry_z"), 1)


def _repair_roc(p: Params) -> None:
    if float_of(p, "exit_t") > float_of(p, "entry_t") - 0.5:
        p["exit_t"] = round(max(-2.0, float_of(p, "entry_t") - 0.5), 1)


def _repair_macd(p: Params) -> None:
    if int_of(p, "slow") < int_of(p, "fast") + 4:
        p["slow"] = min(50, int_of(p, "fast") + 4)


def _repair_vol(p: Params) -> None:
    if int_of(p, "vol_long") < 3 * int_of(p, "vol_window"):
        p["vol_long"] = min(300, 3 * int_of(p, "vol_window"))


def repair_risk(p: Params) -> None:
    if "take_profit" in p and float_of(p, "take_profit") < 1.5 * float_of(p, "stop_loss"):
        p["take_profit"] = RISK_PARAMS[1].clip(math.ceil(150 * float_of(p, "stop_loss")) / 100)


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
    lambda p: _ma_lb(p["kind"], int_of(p, "slow")),
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
    lambda p: max(lb_window(int_of(p, "entry")), lb_wilder(int_of(p, "atr_period"))),
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
    lambda p: lb_wilder(int_of(p, "rsi_period")),
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
    lambda p: lb_window(int_of(p, "window")),
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
    lambda p: lb_window(int_of(p, "period")) + 1,
    lambda p, tf: (
        f"{p['period']}-bar momentum above {p['entry_t']:g} sigma persists on {tf} bars "
        f"(exit below {p['exit_t']:g} sigma)"
    ),
    _repair_roc,
)

# Time-series momentum: in the market while the close is above the close `period` bars ago by at
# least `threshold` of the move's own volatility. Threshold 0 is "close > close `period` bars ago",
# the textbook rule, so the grid starts there and the draw piles mass at 0 (values under half a
# step round to it); entries and exits are one level, not a crossing band.
TSMOM = Component(
    "tsmom",
    "base",
    "momentum",
    (
        Param("period", "int", 3, 200, speed=-1),
        Param("threshold", "float", 0.0, 1.0, 0.25),
    ),
    (
        "# in the market while the period's return, in units of its own volatility, beats the bar",
        'period = params["period"]',
        "noise = ta.stdev(ta.diff(ta.log(close), 1), period) * (period**0.5)",
        'held = (ta.roc(close, period) / noise) > params["threshold"]',
        "entries = held",
        "exits = ta.logical_not(held)",
    ),
    lambda p: lb_window(int_of(p, "period")) + 1,
    lambda p, tf: (
        f"Holding while the close is above the close {p['period']} bars ago rides {tf} momentum"
        if not float_of(p, "threshold")
        else f"Holding while the {p['period']}-bar return is above {p['threshold']:g} sigma of "
        f"its own volatility rides {tf} momentum"
    ),
)

# Calendar effects: in the market while the bar the signal trades (the next one: a signal fills at
# the next open, `bar_ms` later) opens inside a window of hours of the UTC day or days of the week.
# Windows wrap around midnight / Sunday. The lookback is nominal: a timestamp needs no history.
HOUR_WINDOW = Component(
    "hour_window",
    "base",
    "calendar",
    (
        Param("start_hour", "int", 0, 23, linear=True),
        Param("hours", "int", 1, 12, linear=True),
    ),
    (
        "# the UTC hour of the bar each signal trades: it fills at the next bar's open",
        'since_start = ta.hour_of_day(candles.timestamps + bar_ms) - params["start_hour"]',
        'held = ta.where(since_start < 0, since_start + 24, since_start) < params["hours"]',
        "entries = held",
        "exits = ta.logical_not(held)",
    ),
    lambda p: 1,
    lambda p, tf: (
        f"Holding the {tf} bars that open from {int_of(p, 'start_hour'):02d}:00 UTC for "
        f"{p['hours']} hours harvests an hour-of-day effect"
    ),
    uses_bar_ms=True,
)

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

WEEKDAY_WINDOW = Component(
    "weekday_window",
    "base",
    "calendar",
    (
        Param("start_day", "int", 0, 6, linear=True),
        Param("days", "int", 1, 5, linear=True),
    ),
    (
        "# the UTC weekday (Monday 0) of the bar each signal trades: it fills at the next open",
        'since_start = ta.day_of_week(candles.timestamps + bar_ms) - params["start_day"]',
        'held = ta.where(since_start < 0, since_start + 7, since_start) < params["days"]',
        "entries = held",
        "exits = ta.logical_not(held)",
    ),
    lambda p: 1,
    lambda p, tf: (
        f"Holding {tf} bars from {WEEKDAYS[int_of(p, 'start_day')]} for {p['days']} days "
        "harvests a day-of-week effect"
    ),
    uses_bar_ms=True,
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
    lambda p: lb_ema(int_of(p, "slow")) + lb_ema(int_of(p, "signal")),
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
    lambda p: _ma_lb(p["trend_kind"], int_of(p, "trend_len")),
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
        (lb_wilder if p["vol_kind"] == "atr" else lb_window)(int_of(p, "vol_window"))
        + 1
        + int_of(p, "vol_long")
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
    for c in (
        MA_CROSS,
        DONCHIAN,
        RSI_REVERSION,
        ZSCORE_REVERSION,
        ROC_MOMENTUM,
        MACD_TREND,
        TSMOM,
        HOUR_WINDOW,
        WEEKDAY_WINDOW,
    )
}
FILTERS: dict[str, Component] = {c.name: c for c in (TREND_FILTER, VOL_FILTER)}

# The bandit's arms: every base alone plus the combinations that make sense a priori (trend
# filter under mean reversion / momentum, volatility regime around trend and breakout; the
# calendar bases alone, since a regime filter on a clock rule mostly cuts its sample). The
# `wrap` move can still reach any base+filter family; those join the arms once tried.
CATALOGUE: tuple[str, ...] = (
    "ma_cross",
    "donchian_breakout",
    "rsi_reversion",
    "zscore_reversion",
    "roc_momentum",
    "macd_trend",
    "tsmom",
    "hour_window",
    "weekday_window",
    "rsi_reversion+trend",
    "zscore_reversion+trend",
    "roc_momentum+trend",
    "tsmom+trend",
    "ma_cross+vol",
    "donchian_breakout+vol",
    "rsi_reversion+trend+vol",
)
