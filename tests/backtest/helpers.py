"""Signal builders shared by the backtest tests and the reference checks."""

from __future__ import annotations

import numpy as np


def sma(x: np.ndarray, window: int) -> np.ndarray:
    out = np.full(x.shape[0], np.nan)
    cs = np.cumsum(np.insert(x, 0, 0.0))
    out[window - 1 :] = (cs[window:] - cs[:-window]) / window
    return out


def sma_cross(close: np.ndarray, fast: int, slow: int) -> tuple[np.ndarray, np.ndarray]:
    """Entry on the bar the fast SMA closes above the slow one, exit on the cross back."""
    up = sma(close, fast) > sma(close, slow)  # NaN compares False: no signal in the warm-up
    prev = np.concatenate(([False], up[:-1]))
    return up & ~prev, ~up & prev


def sma_levels(close: np.ndarray, fast: int, slow: int) -> tuple[np.ndarray, np.ndarray]:
    """Signals on every bar of the regime: exercises 'entry while long is ignored'."""
    f, s = sma(close, fast), sma(close, slow)
    return f > s, f < s


def random_signals(n: int, seed: int, p: float = 0.08) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random(n) < p, rng.random(n) < p
