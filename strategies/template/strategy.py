"""Strategy template (Strategy API v1). Copy this file, keep the three functions, change the logic.

Rules: no imports (`ta` is already there, `candles` and `params` arrive as arguments), names
that start with "_" are refused, no classes/lambdas/try/with/global, and every output at bar t
may use only bars <= t. The reference is strategies/template/README.md.
"""

# Module-level constants are fine; module-level state is not (the module is re-run per call).
MIN_VOLUME = 0.0


def meta():
    # Returned as-is to the host and validated: all seven keys, exactly these.
    return {
        "name": "ema_trend_template",  # snake_case, unique in the registry
        "version": "1.0.0",  # bump when the logic changes (the id hashes source + version)
        "api_version": 1,  # this API
        "timeframe": "1h",  # the bar length the strategy is designed for
        # bars of history needed before signals mean anything; the gate's warm-up check needs
        # >= 11n for an EMA(n) and >= 21n for Wilder's ATR/RSI(n) (README: "The warm-up check"):
        # 11 x 48 = 528 for the slow EMA, 21 x 14 = 294 for RSI and ATR
        "lookback": 540,
        "description": "Long while a fast EMA is above a slow EMA and RSI is not overbought.",
        "params": {"fast": 12, "slow": 48, "rsi_period": 14, "rsi_max": 70.0},
    }


def on_candles(candles, params):
    # candles.close etc. are read-only float64 numpy arrays, one value per bar, oldest first.
    close = candles.close
    fast = ta.ema(close, params["fast"])  # NaN during warm-up; comparisons with NaN are False
    slow = ta.ema(close, params["slow"])
    strength = ta.rsi(close, params["rsi_period"])

    # Combine conditions with & | ~ and parenthesise each comparison.
    entries = ta.crossover(fast, slow) & (strength < params["rsi_max"])
    entries = entries & (candles.volume > MIN_VOLUME)
    exits = ta.crossunder(fast, slow)

    # Exactly one bool per bar, for both arrays.
    return entries, exits


def risk_levels(candles, params):
    # Optional. Fractions of the entry price: a number for every trade, a float array with one
    # value per bar (NaN = no level on that bar), or None for no level.
    stop_loss = ta.clip(2.0 * ta.atr(candles.high, candles.low, candles.close, 14) / candles.close,
                        0.005, 0.2)
    take_profit = None
    return stop_loss, take_profit
