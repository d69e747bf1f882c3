"""Strategy sources the tests share: small modules that each break one rule on purpose."""

from __future__ import annotations

# Reads the next bar's close: the look-ahead every causality check must catch.
PEEKS_AT_NEXT_CLOSE = """
def meta():
    return {"name": "peek", "version": "1.0.0", "api_version": 1, "timeframe": "1h",
            "lookback": 1, "description": "tomorrow's close", "params": {}}


def on_candles(candles, params):
    close = candles.close
    nxt = close.copy()
    nxt[:-1] = close[1:]
    up = nxt > close
    return up, ta.logical_not(up)
"""


def _strategy(name: str, description: str, body: str, lookback: int = 30, risk: str = "") -> str:
    """A strategy source: meta() with `name` and `lookback`, on_candles with `body` (indented
    four spaces, `close` and `n` bound), and an optional risk_levels body."""
    source = f'''
def meta():
    return {{"name": "{name}", "version": "1.0.0", "api_version": 1, "timeframe": "1h",
            "lookback": {lookback}, "description": "{description}", "params": {{}}}}


def on_candles(candles, params):
    close = candles.close
    n = len(candles)
{body}
'''
    if risk:
        source += f"""

def risk_levels(candles, params):
    close = candles.close
    n = len(candles)
{risk}
"""
    return source


# The next bar's simple return, read by hand (what every leak below is built on).
_NEXT_RETURN = """
    ahead = ta.full(n, 0.0)
    ahead[:-1] = close[1:] / close[:-1] - 1.0"""

# Look-ahead cheats (issue 9, acceptance 1): each looks like ordinary code and leaks the future on
# only some bars, through one route. Every one must be rejected as look-ahead by the exhaustive
# proof; several pass the old fixed probe plan (see tests/validation/test_causality_cheats.py).
LOOKAHEAD_CHEATS: dict[str, str] = {
    # enters only before a large next bar: a few % of bars
    "rare_bar": _strategy(
        "rare_bar",
        "enters before big up bars",
        _NEXT_RETURN
        + """
    big = ahead > 0.012
    return big, ahead < -0.012""",
    ),
    # leaks only on bars picked by a hash of the bar's time, and never where the old fixed plan
    # cut or shuffled (bars 2, 19, n//2-1, n//2, n-5, n-4, n-2): a probe-avoiding leak
    "probe_avoiding": _strategy(
        "probe_avoiding",
        "hash-picked bars",
        _NEXT_RETURN
        + """
    hour = (candles.timestamps // 3600000).astype("f8")
    picked = (hour * 40503.0) % 65536.0 % 13.0 == 0.0
    index = ta.full(n, 1.0).cumsum() - 1.0
    old_plan = (index == 2.0) | (index == 19.0) | (index == n // 2 - 1) | (index == n // 2)
    old_plan = old_plan | (index == n - 5) | (index == n - 4) | (index == n - 2)
    leak = picked & ta.logical_not(old_plan)
    trend = close > ta.sma(close, 20)
    entries = ta.where(leak, ahead > 0.0, trend)
    return entries, ta.where(leak, ahead < 0.0, ta.logical_not(trend))""",
    ),
    # causal entries; exits read the next bar
    "exits_only": _strategy(
        "exits_only",
        "exits before down bars",
        _NEXT_RETURN
        + """
    fast = ta.sma(close, 10)
    slow = ta.sma(close, 30)
    return ta.crossover(fast, slow), ahead < -0.003""",
    ),
    # causal signals; stop-loss and take-profit from the next five bars' low and high
    "risk_levels": _strategy(
        "risk_levels",
        "stops from future prices",
        """
    fast = ta.sma(close, 10)
    slow = ta.sma(close, 30)
    return ta.crossover(fast, slow), ta.crossunder(fast, slow)""",
        risk="""
    low_ahead = ta.full(n, float("nan"))
    low_ahead[:-5] = ta.lowest(candles.low, 5)[5:]
    high_ahead = ta.full(n, float("nan"))
    high_ahead[:-5] = ta.highest(candles.high, 5)[5:]
    stop = ta.clip(1.0 - low_ahead / close + 0.001, 0.001, 0.5)
    take = ta.clip(high_ahead / close - 1.0 + 0.001, 0.001, 5.0)
    return stop, take""",
    ),
    # leaks on the first 150 bars only (the train segment's start: never validation or holdout)
    "first_bars": _strategy(
        "first_bars",
        "early leak",
        _NEXT_RETURN
        + """
    index = ta.full(n, 1.0).cumsum() - 1.0
    early = index < 150.0
    trend = close > ta.sma(close, 20)
    entries = ta.where(early, ahead > 0.0, trend)
    return entries, ta.where(early, ahead < 0.0, ta.logical_not(trend))""",
    ),
    # leaks on the last 20% of whatever history it is given
    "last_fifth": _strategy(
        "last_fifth",
        "late leak",
        _NEXT_RETURN
        + """
    index = ta.full(n, 1.0).cumsum() - 1.0
    late = index >= 0.8 * n
    trend = close > ta.sma(close, 20)
    entries = ta.where(late, ahead > 0.0, trend)
    return entries, ta.where(late, ahead < 0.0, ta.logical_not(trend))""",
    ),
    # a centred 21-bar mean: each bar sees ten bars ahead
    "centred_window": _strategy(
        "centred_window",
        "centred mean",
        """
    mean = ta.sma(close, 21)
    centred = ta.full(n, float("nan"))
    centred[:-10] = mean[10:]
    return close > centred, close < centred""",
    ),
}

# never returns: what a host's deadline, a container's own deadline and a dead host must stop
SPINS_FOREVER = """
def meta():
    return {"name": "spin", "version": "1.0.0", "api_version": 1, "timeframe": "1h",
            "lookback": 0, "description": "never returns", "params": {}}


def on_candles(candles, params):
    while True:
        pass
"""
