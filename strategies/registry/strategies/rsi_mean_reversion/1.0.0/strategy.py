"""RSI mean reversion: buy a recovery from oversold inside a long-term uptrend, sell the bounce."""


def meta():
    return {
        "name": "rsi_mean_reversion",
        "version": "1.0.0",
        "api_version": 1,
        "timeframe": "1h",
        "lookback": 200,
        "description": (
            "Enter when RSI crosses back above the oversold level while close is above the "
            "trend SMA; exit when RSI reaches the exit level. Fixed stop-loss and take-profit."
        ),
        "params": {
            "rsi_period": 14,
            "oversold": 30.0,
            "exit_level": 55.0,
            "trend": 200,
            "stop_loss": 0.03,
            "take_profit": 0.06,
        },
    }


def on_candles(candles, params):
    close = candles.close
    strength = ta.rsi(close, params["rsi_period"])
    uptrend = close > ta.sma(close, params["trend"])
    entries = ta.crossover(strength, params["oversold"]) & uptrend
    exits = strength >= params["exit_level"]
    return entries, exits


def risk_levels(candles, params):
    return params["stop_loss"], params["take_profit"]
