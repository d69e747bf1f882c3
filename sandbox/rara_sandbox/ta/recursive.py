"""Vectorised kernels behind the `ta` indicators: the recursive smoother and rolling extremes.

Both keep the library's contract bit for bit: the value at bar t is computed from bars 0..t by
the same floating-point operations whatever the series' length, so a prefix of the input gives
exactly the prefix of the output (the look-ahead truncation check compares signals exactly).

* `smooth` (EMA, Wilder's RMA): the recursion ``s += alpha * (v - s)`` over the valid values
  after the SMA seed, in closed form within fixed blocks of those values (anchored at the first
  one after the seed, so a block's start never depends on where the series ends) and carried
  from one block to the next by a short scalar loop: one Python step per block, not per bar.
  Within a block, ``s_j = d^(j+1) s_in + alpha * d^j * cumsum(d^-m v_m)`` with ``d = 1 - alpha``;
  the block is short enough that ``d^-m`` stays far from overflow. It agrees with the plain loop
  to a few ulps of the running value (not bit for bit: the sum is ordered differently).
* `rolling_extreme` (highest, lowest): van Herk / Gil-Werman: blocks of n bars anchored at bar 0,
  a running extreme forward and backward within each block; a window ending at bar i is the
  backward run of the block before from i-n+1 and the forward run of its own block to i. Max and
  min are exact, so the result equals the direct window reduction exactly, NaN included.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

MAX_BLOCK = 64  # values per closed-form block: a cumsum over at most this many terms
HEAD = 64  # valid values after the seed computed by the plain loop: short series stay cheap
MAX_SCALE_LOG2 = 60  # d^-m stays below 2^60 within a block, far from float64 overflow


def _block(d: float) -> int:
    """The longest block (at most MAX_BLOCK) over which d^-m stays within 2^MAX_SCALE_LOG2, found
    by repeated multiplication: no libm call, whose last bits differ between C libraries."""
    if d <= 0.0:
        return 1
    if d >= 1.0:
        return MAX_BLOCK
    floor, power, b = 2.0**-MAX_SCALE_LOG2, 1.0, 1
    while b < MAX_BLOCK and power * d >= floor:
        power *= d
        b += 1
    return b


def _seed_index(valid: npt.NDArray[np.bool_], n: int) -> int | None:
    """The first bar that completes a run of n consecutive valid values (None: none does)."""
    # the gaps between invalid bars (and the ends): the first one holding n bars has the seed
    edges = np.concatenate(([-1], np.flatnonzero(~valid), [valid.shape[0]]))
    long_enough = np.flatnonzero(np.diff(edges) > n)
    return int(edges[long_enough[0]]) + n if long_enough.size else None


def _powers(x: float, b: int) -> F64:
    """x^0 .. x^(b-1) as a column, each the previous times x."""
    steps = np.full(b, x)
    steps[0] = 1.0
    return np.cumprod(steps)[:, None]


def _recurse(v: F64, state: float, alpha: float) -> F64:
    """s_k = s_{k-1} + alpha (v_k - s_{k-1}) from s_{-1} = state, all finite, blockwise."""
    m = v.shape[0]
    d = 1.0 - alpha
    if d == 0.0:  # alpha 1 (a period of 1): the state is the value itself
        return v.copy()
    b = _block(d)
    k = -(-m // b)
    # Column i is block i (a bar's place in a block is its row): the cumsum down the rows runs
    # over all blocks at once. Padding after the last value never reaches a real one (a cumsum
    # only looks back).
    w = np.zeros(k * b)
    w[:m] = v
    blocks = w.reshape(k, b).T
    # Powers by repeated multiplication (a cumprod is sequential IEEE products), never np.power:
    # its SIMD paths round differently across CPUs and numpy builds, and the jail, the container
    # and every machine must agree to the last bit.
    up = _powers(d, b)  # d^j
    down = _powers(1.0 / d, b)  # d^-j
    carry_gain = up * d  # d^(j+1): what is left of the incoming state at j
    own = alpha * (np.cumsum(blocks * down, axis=0) * up)
    # The state entering each block, one scalar step per block (Python floats: IEEE doubles).
    entering = np.empty(k)
    gain, s = float(carry_gain[-1, 0]), state
    for i, end in enumerate(own[-1].tolist()):
        entering[i] = s
        s = gain * s + end
    out = carry_gain * entering + own
    return out.T.reshape(-1)[:m]


def _loop(vals: list[float], state: float, alpha: float, out: list[float]) -> float:
    """The recursion in plain Python, appending each state to `out`; returns the last state."""
    for v in vals:
        state += alpha * (v - state)
        out.append(state)
    return state


def _smooth_short(a: F64, n: int, alpha: float) -> F64:
    """`smooth` for a series of at most HEAD bars: one plain loop (cheaper than numpy's setup)."""
    vals = a.tolist()
    out = [math.nan] * len(vals)
    state: float | None = None
    run, total = 0, 0.0
    for i, v in enumerate(vals):
        if v != v:  # NaN
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
    return np.asarray(out, dtype=np.float64)


def smooth(a: F64, n: int, alpha: float) -> F64:
    """EMA-style recursion seeded with the SMA of the first run of n consecutive valid values.

    Before the seed: NaN. After it: NaN inputs give NaN outputs and leave the state untouched.
    The first HEAD valid values after the seed run through the plain loop, the rest blockwise;
    which bar is computed how depends on the bar's place after the seed, never on the length.
    """
    if a.shape[0] <= HEAD:  # no bar past the loop's part: the loop alone, exactly
        return _smooth_short(a, n, alpha)
    out = np.full(a.shape[0], np.nan)
    valid = ~np.isnan(a)
    i0 = _seed_index(valid, n)
    if i0 is None:
        return out
    # the seed's sum in the loop's own order (accumulate is sequential): bit-identical
    seed = float(np.cumsum(a[i0 - n + 1 : i0 + 1])[-1]) / n
    out[i0] = seed
    at = i0 + 1 + np.flatnonzero(valid[i0 + 1 :])
    if at.size == 0:
        return out
    head: list[float] = []
    state = _loop(a[at[:HEAD]].tolist(), seed, alpha, head)
    out[at[:HEAD]] = head
    at = at[HEAD:]
    if at.size == 0:
        return out
    v = a[at]
    if not math.isfinite(state):  # inf - inf from here on
        out[at] = np.nan
        return out
    bad = np.flatnonzero(~np.isfinite(v))
    if bad.size:
        # s + alpha (±inf - s) is ±inf, and every step after it inf - inf: NaN
        p = int(bad[0])
        out[at[p]] = v[p]
        out[at[p + 1 :]] = np.nan
        at, v = at[:p], v[:p]
    out[at] = _recurse(v, state, alpha)
    return out


def rolling_extreme(a: F64, n: int, largest: bool) -> F64:
    """The max (or min) of the n bars ending at each bar; NaN for the first n-1 bars and for
    any window holding a NaN."""
    size = a.shape[0]
    out = np.full(size, np.nan)
    if size < n:
        return out
    op = np.maximum if largest else np.minimum
    k = -(-size // n)
    blocks = np.full(k * n, np.nan)
    blocks[:size] = a
    g = blocks.reshape(k, n)
    forward = op.accumulate(g, axis=1).reshape(-1)
    backward = op.accumulate(g[:, ::-1], axis=1)[:, ::-1].reshape(-1)
    out[n - 1 :] = op(backward[: size - n + 1], forward[n - 1 : size])
    return out
