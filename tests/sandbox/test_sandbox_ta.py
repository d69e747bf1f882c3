"""The `ta` library: every function causal (prefix in, prefix out, bit for bit), values right."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rara_sandbox import ta


@dataclass
class Data:
    x: np.ndarray  # close-like, may hold NaN
    h: np.ndarray
    lo: np.ndarray
    c: np.ndarray
    b: np.ndarray  # bool series

    def prefix(self, m: int) -> Data:
        return Data(self.x[:m], self.h[:m], self.lo[:m], self.c[:m], self.b[:m])


def _hours(n: int) -> np.ndarray:
    """n hourly bar timestamps (epoch ms) from 2024-01-01."""
    return 1_704_067_200_000 + np.arange(n, dtype=np.int64) * 3_600_000


# One call per API name: the test below fails if a new ta function has no causality case.
CASES: dict[str, Callable[[Data], object]] = {
    "sma": lambda d: ta.sma(d.x, 5),
    "ema": lambda d: ta.ema(d.x, 7),
    "wma": lambda d: ta.wma(d.x, 6),
    "rma": lambda d: ta.rma(d.x, 9),
    "rsi": lambda d: ta.rsi(d.x, 14),
    "macd": lambda d: ta.macd(d.x, 5, 13, 4),
    "bbands": lambda d: ta.bbands(d.x, 10, 2.0),
    "atr": lambda d: ta.atr(d.h, d.lo, d.c, 5),
    "true_range": lambda d: ta.true_range(d.h, d.lo, d.c),
    "stdev": lambda d: ta.stdev(d.x, 8, 1),
    "zscore": lambda d: ta.zscore(d.x, 12),
    "roc": lambda d: ta.roc(d.x, 3),
    "highest": lambda d: ta.highest(d.h, 10),
    "lowest": lambda d: ta.lowest(d.lo, 10),
    "rolling_mean": lambda d: ta.API["rolling_mean"](d.x, 4),
    "rolling_sum": lambda d: ta.rolling_sum(d.x, 4),
    "rolling_max": lambda d: ta.API["rolling_max"](d.x, 3),
    "rolling_min": lambda d: ta.API["rolling_min"](d.x, 3),
    "rolling_std": lambda d: ta.API["rolling_std"](d.x, 6),
    "crossover": lambda d: ta.crossover(ta.ema(d.x, 3), ta.sma(d.x, 8)),
    "crossunder": lambda d: ta.crossunder(d.x, 50.0),
    "shift": lambda d: (ta.shift(d.x, 3), ta.shift(d.b, 2)),
    "diff": lambda d: ta.diff(d.x, 2),
    "ffill": lambda d: ta.ffill(d.x),
    "abs": lambda d: ta.API["abs"](ta.diff(d.x)),
    "log": lambda d: ta.log(d.x),
    "exp": lambda d: ta.exp(ta.roc(d.x)),
    "sqrt": lambda d: ta.sqrt(d.x),
    "sign": lambda d: ta.sign(ta.diff(d.x)),
    "minimum": lambda d: ta.minimum(d.h, d.x),
    "maximum": lambda d: ta.maximum(d.lo, 60.0),
    "where": lambda d: (ta.where(d.b, d.x, 0.0), ta.where(d.b, d.b, False)),
    "clip": lambda d: ta.clip(d.x, 40.0, 60.0),
    "nan_to_num": lambda d: ta.nan_to_num(d.x, -1.0),
    "isnan": lambda d: ta.isnan(d.x),
    "isfinite": lambda d: ta.isfinite(d.x),
    "logical_and": lambda d: ta.logical_and(d.b, d.x > 50),
    "logical_or": lambda d: ta.logical_or(d.b, d.x > 50),
    "logical_not": lambda d: ta.logical_not(d.b),
    "full": lambda d: ta.full(len(d.x), True),
    "array": lambda d: ta.array(list(d.x)),
    "as_bool": lambda d: ta.as_bool(d.x - 50.0),
    "as_float": lambda d: ta.as_float(d.b),
    "hour_of_day": lambda d: ta.hour_of_day(_hours(len(d.x))),
    "day_of_week": lambda d: ta.day_of_week(_hours(len(d.x)) * 5),
}
NOT_SERIES = {"nan"}  # constants


def test_every_api_name_has_a_causality_case() -> None:
    assert set(ta.API) - NOT_SERIES == set(CASES)


def _outputs(value: object) -> list[np.ndarray]:
    return list(value) if isinstance(value, tuple) else [value]  # type: ignore[list-item]


def _data(values: list[float], nan_at: list[int], flags: list[bool]) -> Data:
    c = np.asarray(values, dtype=np.float64)
    x = c.copy()
    for i in nan_at:
        x[i % len(x)] = np.nan
    wick = np.abs(np.sin(np.arange(len(c)))) + 0.1
    b = np.resize(np.asarray(flags or [False], dtype=bool), len(c))
    return Data(x, c + wick, c - wick, c, b)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(1.0, 100.0), min_size=1, max_size=120),
    nan_at=st.lists(st.integers(0, 10_000), max_size=4),
    flags=st.lists(st.booleans(), max_size=30),
    cut=st.floats(0.0, 1.0),
)
def test_prefix_output_equals_prefix_of_output(
    values: list[float], nan_at: list[int], flags: list[bool], cut: float
) -> None:
    d = _data(values, nan_at, flags)
    m = max(1, round(cut * len(values)))
    for name, fn in CASES.items():
        full, part = _outputs(fn(d)), _outputs(fn(d.prefix(m)))
        for f, p in zip(full, part, strict=True):
            assert p.shape == (m,), name
            assert p.dtype == f.dtype and f.dtype in (np.float64, np.bool_), name
            np.testing.assert_array_equal(p, f[:m], err_msg=name)


def test_changing_future_bars_never_changes_past_outputs() -> None:
    rng = np.random.default_rng(3)
    base = _data(list(50 + np.cumsum(rng.normal(0, 1, 400))), [7, 150], [True, False, False])
    for t in (30, 200, 399):
        moved = _data(list(base.c), [7, 150], [True, False, False])
        for arr in (moved.x, moved.h, moved.lo, moved.c):
            arr[t + 1 :] *= 3.0
        for name, fn in CASES.items():
            for a, b in zip(_outputs(fn(base)), _outputs(fn(moved)), strict=True):
                np.testing.assert_array_equal(a[: t + 1], b[: t + 1], err_msg=name)


# -- reference loops ------------------------------------------------------------------------------


def ref_sma(x: list[float], n: int) -> list[float]:
    return [math.nan if t < n - 1 else sum(x[t - n + 1 : t + 1]) / n for t in range(len(x))]


def ref_ema(x: list[float], n: int, alpha: float | None = None) -> list[float]:
    a = 2 / (n + 1) if alpha is None else alpha
    out = [math.nan] * len(x)
    if len(x) < n:
        return out
    s = sum(x[:n]) / n
    out[n - 1] = s
    for t in range(n, len(x)):
        s = a * x[t] + (1 - a) * s
        out[t] = s
    return out


def ref_rsi(x: list[float], n: int) -> list[float]:
    out = [math.nan] * len(x)
    if len(x) <= n:
        return out
    gains = [max(x[i] - x[i - 1], 0.0) for i in range(1, len(x))]
    losses = [max(x[i - 1] - x[i], 0.0) for i in range(1, len(x))]
    ag, al = sum(gains[:n]) / n, sum(losses[:n]) / n
    for t in range(n, len(x)):
        if t > n:
            ag = (ag * (n - 1) + gains[t - 1]) / n
            al = (al * (n - 1) + losses[t - 1]) / n
        out[t] = 100.0 if al == 0 else 100 - 100 / (1 + ag / al)
    return out


def ref_atr(h: list[float], lo: list[float], c: list[float], n: int) -> list[float]:
    tr = [h[0] - lo[0]] + [
        max(h[t] - lo[t], abs(h[t] - c[t - 1]), abs(lo[t] - c[t - 1])) for t in range(1, len(c))
    ]
    return ref_ema(tr, n, alpha=1 / n)


def ref_std(x: list[float], n: int) -> list[float]:
    out = []
    for t in range(len(x)):
        if t < n - 1:
            out.append(math.nan)
            continue
        w = x[t - n + 1 : t + 1]
        m = sum(w) / n
        out.append(math.sqrt(sum((v - m) ** 2 for v in w) / n))
    return out


@pytest.fixture
def walk() -> Data:
    rng = np.random.default_rng(11)
    c = 100 + np.cumsum(rng.normal(0, 1, 250))
    return Data(c.copy(), c + rng.uniform(0, 2, 250), c - rng.uniform(0, 2, 250), c, c > 100)


def close(a: object, b: list[float]) -> None:
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-10, atol=1e-9)


def test_values_match_reference_loops(walk: Data) -> None:
    x = list(walk.x)
    close(ta.sma(walk.x, 20), ref_sma(x, 20))
    close(ta.ema(walk.x, 12), ref_ema(x, 12))
    close(ta.rma(walk.x, 12), ref_ema(x, 12, alpha=1 / 12))
    close(ta.rsi(walk.x, 14), ref_rsi(x, 14))
    close(ta.atr(walk.h, walk.lo, walk.c, 14), ref_atr(list(walk.h), list(walk.lo), x, 14))
    close(ta.stdev(walk.x, 20), ref_std(x, 20))
    up, mid, low = ta.bbands(walk.x, 20, 2.0)
    sd = np.asarray(ref_std(x, 20))
    close(mid, ref_sma(x, 20))
    close(up, list(np.asarray(ref_sma(x, 20)) + 2 * sd))
    close(low, list(np.asarray(ref_sma(x, 20)) - 2 * sd))
    line, sig, hist = ta.macd(walk.x, 12, 26, 9)
    ref_line = np.asarray(ref_ema(x, 12)) - np.asarray(ref_ema(x, 26))
    ref_sig = [math.nan] * 25 + ref_ema(list(ref_line[25:]), 9)
    close(line, list(ref_line))
    close(sig, ref_sig)
    close(hist, list(ref_line - np.asarray(ref_sig)))
    w = np.arange(1.0, 6.0)
    close(
        ta.wma(walk.x, 5)[4:], [float(np.dot(walk.x[t - 4 : t + 1], w) / 15) for t in range(4, 250)]
    )
    close(ta.roc(walk.x, 3)[3:], [x[t] / x[t - 3] - 1 for t in range(3, 250)])
    close(ta.highest(walk.h, 5)[4:], [max(walk.h[t - 4 : t + 1]) for t in range(4, 250)])
    z = (walk.x - np.asarray(ref_sma(x, 10))) / np.asarray(ref_std(x, 10))
    close(ta.zscore(walk.x, 10), list(z))


def test_warm_up_lengths(walk: Data) -> None:
    def first_valid(a: np.ndarray) -> int:
        return int(np.argmax(~np.isnan(a)))

    assert first_valid(ta.sma(walk.x, 20)) == 19
    assert first_valid(ta.ema(walk.x, 20)) == 19
    assert first_valid(ta.rsi(walk.x, 14)) == 14
    assert first_valid(ta.atr(walk.h, walk.lo, walk.c, 14)) == 13
    line, sig, _ = ta.macd(walk.x, 12, 26, 9)
    assert (first_valid(line), first_valid(sig)) == (25, 33)
    assert first_valid(ta.shift(walk.x, 4)) == 4
    assert np.isnan(ta.sma(walk.x[:5], 20)).all()  # shorter than the period: all warm-up


def test_rsi_edges() -> None:
    assert ta.rsi(np.arange(1.0, 30.0), 14)[-1] == 100.0
    assert ta.rsi(np.full(30, 5.0), 14)[-1] == 50.0
    assert ta.rsi(np.arange(30.0, 1.0, -1), 14)[-1] == 0.0


def test_nan_inside_a_smoother_skips_the_bar() -> None:
    x = np.array([1.0, 2.0, 3.0, np.nan, 5.0, 6.0])
    e = ta.ema(x, 2)
    assert np.isnan(e[:1]).all() and np.isnan(e[3])
    assert e[4] == pytest.approx(e[2] + (2 / 3) * (5.0 - e[2]))


def test_crossings_and_shift() -> None:
    a = np.array([1.0, 2.0, 3.0, 2.0, 1.0, np.nan, 3.0])
    assert ta.crossover(a, 2.5).tolist() == [False, False, True, False, False, False, False]
    assert ta.crossunder(a, 2.5).tolist() == [False, False, False, True, False, False, False]
    assert ta.shift(np.array([True, False, True]), 1).tolist() == [False, True, False]
    with pytest.raises(ValueError, match="future"):
        ta.shift(a, -1)
    with pytest.raises(ValueError):
        ta.crossover(np.ones(3), np.ones(4))


def test_types_and_errors() -> None:
    x = np.arange(10.0)
    assert ta.where(x > 3, True, False).dtype == np.bool_
    assert ta.where(x > 3, x, 0.0).dtype == np.float64
    assert ta.full(3, False).dtype == np.bool_ and ta.full(3, 1).dtype == np.float64
    assert ta.ffill(np.array([np.nan, 1.0, np.nan, 3.0, np.nan])).tolist()[1:] == [1, 1, 3, 3]
    assert ta.sma(x, 3.0)[2] == 1.0  # whole floats are accepted as periods
    for bad in (0, -1, True, 2.5, "3", None):
        with pytest.raises(ValueError, match=r"ta\.sma"):
            ta.sma(x, bad)
    with pytest.raises(ValueError, match="numeric"):
        ta.sma(["a", "b"], 1)
    with pytest.raises(ValueError, match="1-D"):
        ta.sma(np.ones((2, 2)), 1)
    with pytest.raises(ValueError):
        ta.full(10**9, 0.0)
    for name, fn in ta.API.items():
        assert name == "nan" or (callable(fn) and fn.__doc__), name
