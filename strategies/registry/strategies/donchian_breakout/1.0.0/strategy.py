"""Donchian breakout: buy a close above the prior N-bar high, sell below the prior M-bar low."""


def meta():
    return {
        "name": "donchian_breakout",
        "version": "1.0.0",
        "api_version": 1,
        "timeframe": "1h",
        "lookback": 300,  # Wilder ATR(14) in the stop level needs ~21 x 14 bars to forget its start
        "description": (
            "Enter when close breaks above the highest high of the previous `entry` bars; exit "
            "when it breaks below the lowest low of the previous `exit` bars. ATR-based stop."
        ),
        "params": {"entry": 55, "exit": 20, "atr_period": 14, "atr_mult": 2.5},
    }


def on_candles(candles, params):
    close = candles.close
    # shift(…, 1): the channel of the bars *before* this one, so today's bar can break it.
    upper = ta.shift(ta.highest(candles.high, params["entry"]), 1)
    lower = ta.shift(ta.lowest(candles.low, params["exit"]), 1)
    return close > upper, close < lower


def risk_levels(candles, params):
    atr = ta.atr(candles.high, candles.low, candles.close, params["atr_period"])
    stop = ta.clip(params["atr_mult"] * atr / candles.close, 0.002, 0.5)
    return stop, None
