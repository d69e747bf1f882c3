"""SMA crossover: long when the fast simple moving average crosses above the slow one."""


def meta():
    return {
        "name": "sma_crossover",
        "version": "1.0.0",
        "api_version": 1,
        "timeframe": "1h",
        "lookback": 50,
        "description": "Enter when SMA(fast) crosses above SMA(slow); exit on the cross back below.",
        "params": {"fast": 20, "slow": 50},
    }


def on_candles(candles, params):
    close = candles.close
    fast = ta.sma(close, params["fast"])
    slow = ta.sma(close, params["slow"])
    return ta.crossover(fast, slow), ta.crossunder(fast, slow)
