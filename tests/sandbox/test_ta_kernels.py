"""The vectorised `ta` kernels against straightforward references kept here: the smoother (EMA,
Wilder) within 1e-12 of the plain per-bar loop it replaced, the rolling extremes exactly, and
both bit-for-bit causal (a prefix in gives exactly the prefix out) on random walks, constant
series, NaN gaps, infinities and lengths 1..3 and 100k."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rara_sandbox import ta
from rara_sandbox.ta.recursive import HEAD, MAX_BLOCK, rolling_extreme, smooth

# -- references ------------------------------------------------------------------------------------


def ref_smooth(a: np.ndarray, n: int, alpha: float) -> np.ndarray:
    """The per-bar loop `ta` used before it was vectorised, verbatim in behaviour."""
    out = [math.nan] * len(a)
    state: float | None = None
    run, total = 0, 0.0
    for i, v in enumerate(a.tolist()):
        if v != v:
            run, total = 0, 0.0
            continue
        if state is None:
            run += 1
            total += v
            if run == n:
                state = total / n
                out[i] = state
        else:
            state += alpha * (v - state)
            out[i] = state
    return np.asarray(out)


def ref_extreme(a: np.ndarray, n: int, largest: bool) -> np.ndarray:
    out = np.full(len(a), np.nan)
    for t in range(n - 1, len(a)):
        w = a[t - n + 1 : t + 1]
        out[t] = w.max() if largest else w.min()
    return out


# -- inputs ----------------------------------------------------------------------------------------


def _walk(size: int, seed: int, level: float = 60_000.0, step: float = 100.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return level + np.cumsum(rng.normal(0.0, step, size))


def _gappy(size: int, seed: int) -> np.ndarray:
    """A walk with NaN at the start, single NaN bars and NaN runs."""
    rng = np.random.default_rng(seed)
    x = _walk(size, seed)
    x[:3] = np.nan
    x[rng.integers(0, size, size // 40 + 1)] = np.nan
    start = size // 3
    x[start : start + 7] = np.nan
    return x


SERIES = {
    "walk": _walk(3_000, 1),
    "walk around zero": _walk(3_000, 2, level=0.0, step=1.0),  # the MACD line's kind
    "tiny steps": _walk(3_000, 3, level=1.0, step=1e-6),
    "constant 0.1": np.full(700, 0.1),
    "constant 100": np.full(700, 100.0),
    "nan gaps": _gappy(3_000, 4),
    "all nan": np.full(300, np.nan),
}
PERIODS = (1, 2, 3, 14, 50, 200)


def _alpha(n: int, kind: str) -> float:
    return 2.0 / (n + 1.0) if kind == "ema" else 1.0 / n


def _assert_close(new: np.ndarray, ref: np.ndarray, x: np.ndarray, what: str) -> None:
    """Same NaN bars; values within 1e-12 of the running scale of the input (for a series
    near zero a relative error is meaningless: the loop's own rounding is of that scale)."""
    np.testing.assert_array_equal(np.isnan(new), np.isnan(ref), err_msg=what)
    np.testing.assert_array_equal(new[np.isinf(ref)], ref[np.isinf(ref)], err_msg=what)
    ok = np.isfinite(ref)
    scale = np.fmax.accumulate(np.where(np.isnan(x), 0.0, np.abs(x)))
    bound = 1e-12 * np.maximum(np.abs(ref), scale)
    worst = np.max(np.abs(new[ok] - ref[ok]) - bound[ok], initial=-1.0)
    assert worst <= 0.0, f"{what}: off by more than 1e-12 ({worst:g} over)"


def _cuts(size: int, seed_bar: int) -> list[int]:
    """Prefix lengths at and around every kind of boundary: the seed, the loop's part, the
    closed-form blocks, plus a few anywhere."""
    edge = seed_bar + 1 + HEAD
    cuts = {1, 2, 3, size - 1, size, seed_bar, seed_bar + 1, seed_bar + 2}
    for k in range(4):
        for d in (-1, 0, 1):
            cuts.add(edge + k * MAX_BLOCK + d)
    cuts |= set(np.random.default_rng(size).integers(1, size + 1, 8).tolist())
    return sorted(c for c in cuts if 1 <= c <= size)


# -- the smoother ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SERIES))
@pytest.mark.parametrize("kind", ["ema", "rma"])
def test_smoother_matches_the_loop_and_is_causal(name: str, kind: str) -> None:
    x = SERIES[name]
    for n in PERIODS:
        alpha = _alpha(n, kind)
        new, ref = smooth(x, n, alpha), ref_smooth(x, n, alpha)
        _assert_close(new, ref, x, f"{name} {kind}({n})")
        seeded = np.flatnonzero(~np.isnan(ref))
        if seeded.size:
            # the seed and the loop's part are the loop's own bits
            head = seeded[: HEAD + 1]
            np.testing.assert_array_equal(new[head], ref[head])
        seed_bar = int(seeded[0]) if seeded.size else 0
        for m in _cuts(len(x), seed_bar):
            np.testing.assert_array_equal(
                smooth(x[:m], n, alpha), new[:m], err_msg=f"{name} {kind}({n}) cut at {m}"
            )


@pytest.mark.parametrize("size", [1, 2, 3])
def test_smoother_on_the_shortest_series(size: int) -> None:
    x = _walk(size, 5)
    for n in (1, 2, 3, 4):
        for alpha in (_alpha(n, "ema"), _alpha(n, "rma")):
            np.testing.assert_array_equal(smooth(x, n, alpha), ref_smooth(x, n, alpha))


def test_smoother_on_100k_bars() -> None:
    x = _walk(100_000, 6)
    x[50_000:50_010] = np.nan
    for n in (2, 14, 200, 1_000):
        alpha = _alpha(n, "ema")
        new = smooth(x, n, alpha)
        _assert_close(new, ref_smooth(x, n, alpha), x, f"100k ema({n})")
        for m in (HEAD + n, 40_001, 50_005, 99_999):
            np.testing.assert_array_equal(smooth(x[:m], n, alpha), new[:m])


@pytest.mark.parametrize("at", [10, HEAD + 40, HEAD + 5 * MAX_BLOCK + 3])
@pytest.mark.parametrize("value", [math.inf, -math.inf])
def test_an_infinite_input_gives_what_the_loop_gives(at: int, value: float) -> None:
    """inf makes the state inf, and every later step inf - inf: NaN (bars before untouched)."""
    x = _walk(1_000, 7)
    x[at] = value
    x[at + 3] = np.nan
    for n in (3, 20):
        alpha = _alpha(n, "ema")
        new, ref = smooth(x, n, alpha), ref_smooth(x, n, alpha)
        _assert_close(new, ref, np.where(np.isinf(x), 0.0, x), f"inf at {at}, ema({n})")
        if at >= n:  # after the seed (before it, the inf is in the seed's sum)
            assert new[at] == ref[at] == value
    seed_inf = _walk(300, 8)
    seed_inf[1] = math.inf
    finite = np.where(np.isinf(seed_inf), 0.0, seed_inf)
    _assert_close(smooth(seed_inf, 3, 0.5), ref_smooth(seed_inf, 3, 0.5), finite, "seed inf")


def test_public_smoothers_use_the_kernel() -> None:
    x = SERIES["nan gaps"]
    h, lo = x + 30.0, x - 30.0
    _assert_close(ta.ema(x, 20), ref_smooth(x, 20, 2 / 21), x, "ema")
    _assert_close(ta.rma(x, 20), ref_smooth(x, 20, 1 / 20), x, "rma")
    tr = ta.true_range(h, lo, x)
    _assert_close(ta.atr(h, lo, x, 14), ref_smooth(tr, 14, 1 / 14), tr, "atr")


# -- rolling extremes ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SERIES))
def test_rolling_extremes_are_exact_and_causal(name: str) -> None:
    x = SERIES[name][:1_000]
    for n in (1, 2, 3, 7, 50, 200, 999, 1_000, 1_001):
        for largest, public in ((True, ta.highest), (False, ta.lowest)):
            new = rolling_extreme(x, n, largest)
            np.testing.assert_array_equal(new, ref_extreme(x, n, largest), err_msg=f"{n}")
            np.testing.assert_array_equal(public(x, n), new)
            for m in (1, n - 1, n, n + 1, 2 * n - 1, 2 * n, 2 * n + 1, 577):
                if 1 <= m <= len(x):
                    np.testing.assert_array_equal(rolling_extreme(x[:m], n, largest), new[:m])


def test_rolling_extremes_on_short_and_long_series() -> None:
    for size in (1, 2, 3):
        x = _walk(size, 9)
        for n in (1, 2, 3, 4):
            np.testing.assert_array_equal(ta.highest(x, n), ref_extreme(x, n, True))
            np.testing.assert_array_equal(ta.lowest(x, n), ref_extreme(x, n, False))
    x = _gappy(100_000, 10)
    for n in (5, 300):
        full = ta.highest(x, n)
        np.testing.assert_array_equal(full, ref_extreme(x, n, True))
        np.testing.assert_array_equal(ta.highest(x[:77_777], n), full[:77_777])
