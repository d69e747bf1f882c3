"""Seeded synthetic candles: a regime-switching random walk with jumps, optionally with a planted
edge, for testing the research loop against a market whose truth is known.

The model, per bar ``t`` of length ``dt`` days (all parameters below are per day and scaled to the
bar: drift by ``dt``, volatility by ``sqrt(dt)``, jump rate by ``dt``):

* **Regimes** follow a Markov chain over `REGIMES` (bull: positive drift, low volatility; bear:
  negative drift, higher volatility; range: mean reversion of the log price towards the level at
  which the regime began; turbulent: no drift, high volatility, frequent jumps). A regime lasts a
  geometric number of bars with mean ``mean_days / dt``; the next regime is drawn from
  `TRANSITIONS`.
* **Log return** ``r_t = mu_t + sigma_t * eps_t + J_t (+ edge_t)`` where ``eps_t`` is standard
  normal, ``mu_t`` the regime drift (in range: ``-kappa * (ln C_{t-1} - anchor)``) and ``J_t`` the
  sum of ``N_t ~ Poisson(rate * dt)`` jumps (at most 3 per bar) of size ``jump_scale * T``, ``T``
  Student-t with 3 degrees of freedom clipped to +-10 (fat tails, bounded).
* **Prices.** ``open_t = close_{t-1}`` (``open_0 = start_price``), ``close_t = open_t * exp(r_t)``.
  Inside the bar the log price follows `SUBSTEPS` steps of a Brownian bridge from 0 to ``r_t`` with
  the bar's volatility, with the jumps placed at a random sub-step; ``high`` and ``low`` are the
  extremes of that path, so ``high >= max(open, close)`` and ``low <= min(open, close)`` always.
* **Volume** is lognormal: ``ln v_t = ln(base * dt * volume_factor) + 0.5 * min(|r_t| /
  sigma_t, 10) + 0.4 * z_t``; busier bars move more.

**Planted edge** (``edge="momentum"``, strength ``s``, lookback ``k`` bars). For every bar
``t + 1`` with ``t >= k``::

    E[r_{t+1} | everything known at the close of bar t]  is shifted by
        s * sigma_{t+1} * sign(ln C_t - ln C_{t-k})

i.e. by ``s`` regime volatilities in the direction of the last ``k`` bars' move (the sum of the
last k log returns). It is causal: the sign uses closes up to bar t only. A strategy that is long
over bar t+1 when ``close_t > close_{t-k}`` and short when below (signal on bar t's close, filled
at bar t+1's open, which equals ``close_t``) earns ``s * E[sigma]`` per bar on top of whatever the
regimes give; `momentum_signal` computes the sign from candles. With ``edge=None`` the returns
carry no planted dependence on the past: the regimes' persistent drift (a momentum of at most
~0.02 sigma) and the range regime's mean reversion roughly cancel, and over 40,000 hourly bars the
conditional mean above measures within +-0.01 sigma of zero (see tests/data/test_synth.py).

**Determinism.** All randomness comes from `numpy.random.default_rng` streams spawned from the
seed, one stream per quantity and drawn bar by bar in order, so the same arguments give
byte-identical candles and a longer run starts with the shorter one's bars.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rara.data.quality import grid_origin
from rara.domain.market import Candles, Timeframe, ms_to_iso
from rara.errors import BadInput

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]

EDGES: tuple[str, ...] = ("momentum",)
MODEL_VERSION = 1  # bump when the same seed would give different candles
SUBSTEPS = 16  # intra-bar path resolution for high/low
MAX_JUMPS = 3  # per bar; P(more) is negligible at these rates
JUMP_DOF = 3.0
JUMP_CLIP = 10.0
BASE_VOLUME_PER_DAY = 10_000.0
_CHUNK = 65_536  # bars per vectorised block when building intra-bar paths (bounds memory)


@dataclass(frozen=True)
class Regime:
    name: str
    mu_day: float  # drift of the log price per day
    sigma_day: float  # diffusive volatility per sqrt(day)
    kappa_day: float  # mean-reversion speed towards the regime's entry level, per day
    jump_rate_day: float  # expected jumps per day
    jump_scale: float  # log size of a jump per unit of the Student-t draw
    volume_factor: float
    mean_days: float  # expected time in the regime


REGIMES: tuple[Regime, ...] = (
    Regime("bull", 0.002, 0.025, 0.0, 0.05, 0.02, 1.0, 30.0),
    Regime("bear", -0.0025, 0.035, 0.0, 0.10, 0.03, 1.2, 20.0),
    Regime("range", 0.0, 0.018, 0.15, 0.03, 0.015, 0.8, 25.0),
    Regime("turbulent", 0.0, 0.070, 0.0, 0.50, 0.04, 1.8, 5.0),
)
# Where a regime goes when it ends (rows: from, columns: to; the diagonal is never used).
TRANSITIONS = np.array(
    [
        [0.00, 0.30, 0.50, 0.20],
        [0.35, 0.00, 0.40, 0.25],
        [0.45, 0.40, 0.00, 0.15],
        [0.30, 0.40, 0.30, 0.00],
    ]
)
RANGE = 2


@dataclass(frozen=True)
class SynthResult:
    candles: Candles
    regimes: I8  # index into regime_names, per bar
    regime_names: tuple[str, ...]
    sigma: F64  # the diffusive volatility (log, per bar) in force for each bar
    timeframe: Timeframe
    seed: int
    edge: str | None
    edge_strength: float
    edge_lookback: int

    def regime_shares(self) -> dict[str, float]:
        counts = np.bincount(self.regimes, minlength=len(self.regime_names))
        n = max(len(self.regimes), 1)
        return {
            name: round(float(c) / n, 4) for name, c in zip(self.regime_names, counts, strict=True)
        }

    def regime_switches(self) -> int:
        return int(np.count_nonzero(np.diff(self.regimes))) if len(self.regimes) > 1 else 0

    @property
    def source(self) -> str:
        """The catalog source tag: enough to regenerate the same candles."""
        tag = f"synth:seed={self.seed},edge={self.edge or 'none'}"
        if self.edge:
            tag += f",strength={self.edge_strength:g},k={self.edge_lookback}"
        return tag + f",model={MODEL_VERSION}"

    def summary(self) -> dict[str, object]:
        c = self.candles
        return {
            "rows": len(c),
            "range": [ms_to_iso(int(c.ts[0])), ms_to_iso(int(c.ts[-1]))] if len(c) else None,
            "seed": self.seed,
            "edge": {
                "kind": self.edge or "none",
                "strength": self.edge_strength if self.edge else 0.0,
                "lookback": self.edge_lookback if self.edge else None,
            },
            "regime_shares": self.regime_shares(),
            "regime_switches": self.regime_switches(),
            "price": {
                "first_open": float(c.open[0]),
                "last_close": float(c.close[-1]),
                "min_low": float(c.low.min()),
                "max_high": float(c.high.max()),
            }
            if len(c)
            else None,
            "model": MODEL_VERSION,
        }


def momentum_signal(close: F64, k: int) -> I8:
    """``sign(ln C_t - ln C_{t-k})`` per bar, 0 for the first ``k`` bars: the planted edge's
    direction for bar ``t + 1``, from closes up to bar ``t`` only."""
    out = np.zeros(close.shape[0], dtype=np.int8)
    if close.shape[0] > k:
        out[k:] = np.sign(np.log(close[k:]) - np.log(close[:-k])).astype(np.int8)
    return out


def generate(
    n_bars: int,
    timeframe: Timeframe | str = "1h",
    start_ms: int = 1_704_067_200_000,  # 2024-01-01T00:00:00Z
    seed: int = 42,
    edge: str | None = None,
    edge_strength: float = 0.0,
    edge_lookback: int = 24,
    start_price: float = 100.0,
) -> SynthResult:
    """``n_bars`` synthetic candles from ``start_ms``; see the module docstring for the model."""
    tf = Timeframe.parse(timeframe) if isinstance(timeframe, str) else timeframe
    _check_args(n_bars, tf, start_ms, seed, edge, edge_strength, edge_lookback, start_price)
    dt = tf.ms / 86_400_000
    # one stream per quantity, so each is drawn in bar order and a longer run extends a shorter
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(7)]
    rng_regime, rng_eps, rng_jump_n, rng_jump_size, rng_path, rng_pos, rng_vol = streams

    regimes = _regime_path(n_bars, dt, rng_regime)
    reg = [REGIMES[i] for i in range(len(REGIMES))]
    mu = np.array([r.mu_day * dt for r in reg])[regimes]
    sig_by_regime = np.array([r.sigma_day * np.sqrt(dt) for r in reg])
    sigma = sig_by_regime[regimes]
    # mean reversion per bar as a fraction of the gap, exact for a discretised OU process
    kappa = np.array([1.0 - np.exp(-r.kappa_day * dt) for r in reg])[regimes]

    eps = rng_eps.standard_normal(n_bars)
    jumps = _jumps(n_bars, dt, regimes, rng_jump_n, rng_jump_size)

    strength = edge_strength if edge == "momentum" else 0.0
    log_close = _returns_path(
        np.log(start_price), mu, sigma, kappa, regimes, eps, jumps, strength, edge_lookback
    )
    close = np.exp(log_close)
    open_ = np.empty(n_bars)
    open_[0] = start_price
    open_[1:] = close[:-1]
    r = np.empty(n_bars)
    r[0] = log_close[0] - np.log(start_price)
    r[1:] = np.diff(log_close)

    high, low = _intrabar_extremes(open_, close, r, sigma, jumps, rng_path, rng_pos)
    z = rng_vol.standard_normal(n_bars)
    vf = np.array([r_.volume_factor for r_ in reg])[regimes]
    volume = np.exp(
        np.log(BASE_VOLUME_PER_DAY * dt * vf) + 0.5 * np.minimum(np.abs(r) / sigma, 10.0) + 0.4 * z
    )

    ts = start_ms + np.arange(n_bars, dtype=np.int64) * tf.ms
    return SynthResult(
        candles=Candles(ts, open_, high, low, close, volume),
        regimes=regimes.astype(np.int8),
        regime_names=tuple(r_.name for r_ in reg),
        sigma=sigma,
        timeframe=tf,
        seed=seed,
        edge=edge,
        edge_strength=strength,
        edge_lookback=edge_lookback,
    )


def _check_args(
    n_bars: int,
    tf: Timeframe,
    start_ms: int,
    seed: int,
    edge: str | None,
    strength: float,
    k: int,
    start_price: float,
) -> None:
    if n_bars < 1:
        raise BadInput(
            "bad_bars",
            f"a synthetic series needs at least 1 bar, not {n_bars}",
            "ask for e.g. 10000 bars, or for the bars up to an end time",
        )
    off = (start_ms - grid_origin(tf)) % tf.ms
    if off:
        raise BadInput(
            "start_off_grid",
            f"start {ms_to_iso(start_ms)} is not on the {tf} grid",
            f"start on a bar boundary, e.g. {ms_to_iso(start_ms - off)}",
        )
    if seed < 0:
        raise BadInput("bad_seed", f"seed must be >= 0, not {seed}", "use e.g. seed 42")
    if edge is not None and edge not in EDGES:
        raise BadInput(
            "bad_edge", f"unknown edge {edge!r}", f"pick one of: none, {', '.join(EDGES)}"
        )
    if edge and not (0.0 <= strength <= 5.0):
        raise BadInput(
            "bad_edge",
            f"edge strength {strength} is outside [0, 5]",
            "0.05 to 0.2 is a realistic, detectable edge",
        )
    if k < 1:
        raise BadInput(
            "bad_edge",
            f"edge lookback must be at least 1 bar, not {k}",
            "e.g. a lookback of 24 bars",
        )
    if not (start_price > 0 and np.isfinite(start_price)):
        raise BadInput("bad_price", f"start price must be positive, not {start_price}", "e.g. 100")


def _regime_path(n: int, dt: float, rng: np.random.Generator) -> I64:
    """Regime index per bar, drawn a whole regime at a time (a geometric number of bars)."""
    out = np.empty(n, dtype=np.int64)
    stay_days = np.array([r.mean_days for r in REGIMES])
    # start in proportion to time spent in each regime, near the chain's stationary mix
    cur = int(np.searchsorted(np.cumsum(stay_days / stay_days.sum()), rng.random(), side="right"))
    cur = min(cur, len(REGIMES) - 1)
    t = 0
    while t < n:
        p_leave = 1.0 - np.exp(-dt / stay_days[cur])
        length = int(rng.geometric(p_leave))
        out[t : t + length] = cur
        t += length
        row = np.cumsum(TRANSITIONS[cur]) / TRANSITIONS[cur].sum()
        cur = min(int(np.searchsorted(row, rng.random(), side="right")), len(REGIMES) - 1)
    return out


def _jumps(
    n: int, dt: float, regimes: I64, rng_n: np.random.Generator, rng_size: np.random.Generator
) -> F64:
    """Total jump (log) per bar. Draws a fixed amount per bar so runs stay prefix-stable."""
    u = rng_n.random(n)
    sizes = np.clip(rng_size.standard_t(JUMP_DOF, size=(n, MAX_JUMPS)), -JUMP_CLIP, JUMP_CLIP)
    lam = np.array([r.jump_rate_day * dt for r in REGIMES])[regimes]
    # Poisson count by inverse CDF, capped at MAX_JUMPS
    count = np.zeros(n, dtype=np.int64)
    p = np.exp(-lam)
    cdf = p.copy()
    for j in range(1, MAX_JUMPS + 1):
        count += u >= cdf
        p = p * lam / j
        cdf = cdf + p
    scale = np.array([r.jump_scale for r in REGIMES])[regimes]
    mask = np.arange(MAX_JUMPS)[None, :] < count[:, None]
    return np.asarray(scale * (sizes * mask).sum(axis=1), dtype=np.float64)


def _returns_path(
    log_p0: float,
    mu: F64,
    sigma: F64,
    kappa: F64,
    regimes: I64,
    eps: F64,
    jumps: F64,
    strength: float,
    k: int,
) -> F64:
    """Log closes, bar by bar: the range regime and the planted edge both depend on the path so
    far, which is what makes this loop sequential."""
    n = mu.shape[0]
    lc = np.empty(n)
    prev = float(log_p0)
    anchor = prev
    prev_regime = -1
    # plain Python floats in the loop: much faster than numpy scalars one at a time
    mu_l, sig_l, kap_l = mu.tolist(), sigma.tolist(), kappa.tolist()
    reg_l, eps_l, jump_l = regimes.tolist(), eps.tolist(), jumps.tolist()
    lc_l = [0.0] * n
    for t in range(n):
        g = reg_l[t]
        drift = mu_l[t]
        if g == RANGE:
            if g != prev_regime:
                anchor = prev
            drift -= kap_l[t] * (prev - anchor)
        if strength and t - 1 >= k:
            move = lc_l[t - 1] - lc_l[t - 1 - k]
            drift += strength * sig_l[t] * (1.0 if move > 0 else -1.0 if move < 0 else 0.0)
        prev = prev + drift + sig_l[t] * eps_l[t] + jump_l[t]
        lc_l[t] = prev
        prev_regime = g
    lc[:] = lc_l
    return lc


def _intrabar_extremes(
    open_: F64,
    close: F64,
    r: F64,
    sigma: F64,
    jumps: F64,
    rng_path: np.random.Generator,
    rng_pos: np.random.Generator,
) -> tuple[F64, F64]:
    """High and low from a Brownian bridge of ``SUBSTEPS`` steps from 0 to ``r`` (log, relative
    to the open) with the bar's volatility, plus the bar's jumps at one random sub-step."""
    n = open_.shape[0]
    high = np.empty(n)
    low = np.empty(n)
    frac = np.arange(1, SUBSTEPS + 1) / SUBSTEPS
    for s in range(0, n, _CHUNK):
        e = min(n, s + _CHUNK)
        m = e - s
        w = np.cumsum(rng_path.standard_normal((m, SUBSTEPS)), axis=1)
        w *= (sigma[s:e] / np.sqrt(SUBSTEPS))[:, None]
        bridge = w - frac[None, :] * w[:, -1:]  # 0 at both ends
        pos = rng_pos.integers(1, SUBSTEPS + 1, size=m)  # the sub-step the jumps land on
        jump_part = jumps[s:e, None] * (np.arange(1, SUBSTEPS + 1)[None, :] >= pos[:, None])
        path = bridge + frac[None, :] * (r[s:e] - jumps[s:e])[:, None] + jump_part
        hi = np.maximum(path.max(axis=1), 0.0)
        lo = np.minimum(path.min(axis=1), 0.0)
        high[s:e] = open_[s:e] * np.exp(hi)
        low[s:e] = open_[s:e] * np.exp(lo)
    # the path ends at r only up to rounding; pin the bar's own prices inside [low, high]
    high = np.maximum(high, np.maximum(open_, close))
    low = np.minimum(low, np.minimum(open_, close))
    return high, low
