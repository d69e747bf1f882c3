"""Sharpe-ratio statistics that account for non-normal returns, short samples and many trials.

Conventions, shared by every function here:

- **Per-period Sharpe.** ``SR = mean(r) / std(r, ddof=1)`` over simple per-bar returns, with no
  risk-free rate subtracted (returns are taken as excess returns over zero). Every input and
  output called ``sharpe`` is *per period* (per bar) unless its name says ``annual``. Convert an
  annualised Sharpe with ``SR_period = SR_annual / sqrt(periods_per_year)`` and a variance of
  annualised Sharpes with ``V_period = V_annual / periods_per_year``.
- **Annualisation for 24/7 markets.** Crypto trades every day of the year, so a year has
  ``365 * bars_per_day`` bars and the factor is ``sqrt(365 * bars_per_day)``, not ``sqrt(252)``.
- **Skewness and kurtosis.** ``skew`` is the third standardised moment γ3 and ``kurtosis`` is the
  *non-excess* fourth standardised moment γ4 (a normal distribution has γ4 = 3). Both are the
  population (biased, ``1/T``) estimators, i.e. ``scipy.stats.skew(r)`` and
  ``scipy.stats.kurtosis(r, fisher=False)``. pandas' ``.kurt()`` and scipy's default return
  *excess* kurtosis (normal = 0): add 3 before passing such a value here. Every moment-taking
  function checks Pearson's inequality ``γ4 ≥ 1 + γ3²``, which holds for any distribution, so
  an excess kurtosis passed by mistake is usually caught.

The standard normal CDF Φ and its inverse come from the standard library (`statistics.NormalDist`,
exact to about 1e-15 against ``scipy.special.ndtr`` / ``ndtri``), so this module needs only numpy.

References:

- D. H. Bailey, M. López de Prado (2012), "The Sharpe Ratio Efficient Frontier", Journal of Risk
  15(2): the Probabilistic Sharpe Ratio (PSR) and the Minimum Track Record Length (MinTRL).
- D. H. Bailey, M. López de Prado (2014), "The Deflated Sharpe Ratio: Correcting for Selection
  Bias, Backtest Overfitting and Non-Normality", Journal of Portfolio Management 40(5): the
  expected maximum Sharpe ratio of N trials and the Deflated Sharpe Ratio (DSR).
- D. H. Bailey, J. M. Borwein, M. López de Prado, Q. J. Zhu (2014), "Pseudo-Mathematics and
  Financial Charlatanism: The Effects of Backtest Overfitting on Out-of-Sample Performance",
  Notices of the AMS 61(5): the Minimum Backtest Length (MinBTL).
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

# Public API. The gate uses the Sharpe ratio, PSR and DSR; `annualised_sharpe`, MinTRL and MinBTL
# are offered to callers that report them (the tests pin them to the papers; no rara caller yet).
__all__ = [
    "EULER_MASCHERONI",
    "ReturnMoments",
    "annualisation_factor",
    "annualised_sharpe",
    "deflated_sharpe_ratio",
    "deflated_sharpe_ratio_from_moments",
    "expected_max_sharpe",
    "minimum_backtest_length",
    "minimum_track_record_length",
    "norm_cdf",
    "norm_ppf",
    "probabilistic_sharpe_ratio",
    "probabilistic_sharpe_ratio_from_moments",
    "return_moments",
    "sharpe_ratio",
]

#: The Euler–Mascheroni constant γ.
EULER_MASCHERONI = 0.5772156649015329

_NORMAL = NormalDist()


def norm_cdf(x: float) -> float:
    """Standard normal cumulative distribution function Φ(x)."""
    return _NORMAL.cdf(x)


def norm_ppf(p: float) -> float:
    """Inverse of Φ (the standard normal quantile function); ``p`` must lie in (0, 1)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"a normal quantile needs a probability strictly inside (0, 1), got {p}")
    return _NORMAL.inv_cdf(p)


class ReturnMoments(NamedTuple):
    """The sample statistics PSR and DSR need, in this module's conventions."""

    n_obs: int
    sharpe: float  # per period, mean / std(ddof=1)
    skew: float  # γ3, population estimator
    kurtosis: float  # γ4, NON-excess (normal = 3), population estimator


def _as_returns(returns: npt.ArrayLike, min_len: int = 2) -> npt.NDArray[np.float64]:
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1:
        raise ValueError(f"returns must be one-dimensional, got shape {r.shape}")
    if r.size < min_len:
        raise ValueError(f"need at least {min_len} returns, got {r.size}")
    if not np.all(np.isfinite(r)):
        raise ValueError("returns contain NaN or infinite values; clean them first")
    return r


def sharpe_ratio(returns: npt.ArrayLike) -> float:
    """Per-period Sharpe ratio ``mean / std(ddof=1)`` of a 1-D array of per-bar returns.

    Raises ValueError for fewer than two returns, non-finite values or zero variance.
    """
    r = _as_returns(returns)
    sd = float(np.std(r, ddof=1))
    if sd == 0.0:
        raise ValueError("returns have zero variance; the Sharpe ratio is undefined")
    return float(np.mean(r)) / sd


def annualisation_factor(bars_per_day: float) -> float:
    """``sqrt(365 * bars_per_day)``: multiply a per-bar Sharpe by this to annualise it.

    Crypto markets trade 24/7, so a year is 365 days of bars (1h bars: sqrt(8760) ≈ 93.59;
    1d bars: sqrt(365) ≈ 19.10), not the 252 trading days of equity markets.
    """
    if not (math.isfinite(bars_per_day) and bars_per_day > 0):
        raise ValueError(f"bars_per_day must be a positive number, got {bars_per_day}")
    return math.sqrt(365.0 * bars_per_day)


def annualised_sharpe(returns: npt.ArrayLike, bars_per_day: float) -> float:
    """Per-period Sharpe of ``returns`` times `annualisation_factor` (``bars_per_day``)."""
    return sharpe_ratio(returns) * annualisation_factor(bars_per_day)


def return_moments(returns: npt.ArrayLike) -> ReturnMoments:
    """Number of observations, per-period Sharpe, skewness γ3 and non-excess kurtosis γ4.

    Skewness and kurtosis are the population estimators ``m3 / m2**1.5`` and ``m4 / m2**2``
    with central moments ``m_k = mean((r - mean(r))**k)``, equal to
    ``scipy.stats.skew(r)`` and ``scipy.stats.kurtosis(r, fisher=False)``.
    """
    r = _as_returns(returns)
    d = r - r.mean()
    m2 = float(np.mean(d**2))
    if m2 == 0.0:
        raise ValueError("returns have zero variance; Sharpe, skew and kurtosis are undefined")
    m3 = float(np.mean(d**3))
    m4 = float(np.mean(d**4))
    return ReturnMoments(
        n_obs=int(r.size),
        sharpe=sharpe_ratio(r),
        skew=m3 / m2**1.5,
        kurtosis=m4 / m2**2,
    )


def _sharpe_variance_term(sharpe: float, skew: float, kurtosis: float) -> float:
    """``1 - γ3·SR + (γ4 - 1)/4 · SR²``: T-1 times the variance of the Sharpe estimator."""
    for name, v in (("sharpe", sharpe), ("skew", skew), ("kurtosis", kurtosis)):
        if not math.isfinite(v):
            raise ValueError(f"{name} must be finite, got {v}")
    if kurtosis < 1.0 + skew**2 - 1e-9:
        raise ValueError(
            f"kurtosis {kurtosis} with skew {skew} violates kurtosis >= 1 + skew**2; kurtosis "
            "must be the NON-excess fourth moment (normal = 3): add 3 to an excess kurtosis"
        )
    term = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if term <= 0.0:
        raise ValueError(
            f"the Sharpe estimator's variance term 1 - skew*SR + (kurt-1)/4*SR^2 = {term} is not "
            "positive for these moments"
        )
    return term


def probabilistic_sharpe_ratio_from_moments(
    sharpe: float,
    n_obs: int,
    skew: float,
    kurtosis: float,
    benchmark_sharpe: float = 0.0,
) -> float:
    """Probabilistic Sharpe Ratio (Bailey & López de Prado 2012): P(true SR > benchmark).

    ``PSR(SR*) = Φ((SR - SR*) · sqrt(T - 1) / sqrt(1 - γ3·SR + (γ4 - 1)/4 · SR²))``

    ``sharpe`` and ``benchmark_sharpe`` are per period, ``n_obs`` is T (the number of returns
    behind ``sharpe``), ``skew`` is γ3 and ``kurtosis`` is the NON-excess γ4 (normal = 3).
    Example from the paper: T = 24 monthly returns, annualised SR 1.585 (so
    ``sharpe = 1.585 / sqrt(12)``), skew -2.448, kurtosis 10.164, benchmark 0 → PSR ≈ 0.9132.
    """
    if n_obs < 2:
        raise ValueError(f"PSR needs at least 2 observations, got n_obs={n_obs}")
    if not math.isfinite(benchmark_sharpe):
        raise ValueError(f"benchmark_sharpe must be finite, got {benchmark_sharpe}")
    term = _sharpe_variance_term(sharpe, skew, kurtosis)
    z = (sharpe - benchmark_sharpe) * math.sqrt(n_obs - 1) / math.sqrt(term)
    return norm_cdf(z)


def probabilistic_sharpe_ratio(returns: npt.ArrayLike, benchmark_sharpe: float = 0.0) -> float:
    """PSR of a 1-D array of per-period returns against a per-period benchmark Sharpe.

    Uses `return_moments` (population skew, non-excess kurtosis) and
    `probabilistic_sharpe_ratio_from_moments`.
    """
    m = return_moments(returns)
    return probabilistic_sharpe_ratio_from_moments(
        m.sharpe, m.n_obs, m.skew, m.kurtosis, benchmark_sharpe
    )


def expected_max_sharpe(n_trials: float, sharpe_variance: float = 1.0) -> float:
    """Expected maximum of ``n_trials`` independent Sharpe estimates whose true Sharpe is zero.

    ``E[max SR] ≈ sqrt(V) · ((1 - γ) · Φ⁻¹(1 - 1/N) + γ · Φ⁻¹(1 - 1/(N·e)))`` with γ the
    Euler–Mascheroni constant (Bailey, Borwein, López de Prado & Zhu 2014; used as the DSR
    threshold SR0 in Bailey & López de Prado 2014). ``sharpe_variance`` V is the variance of the
    trials' Sharpe ratios in whatever units the result should have (per period for DSR).
    ``n_trials`` may be fractional (an effective number of independent trials); one trial
    gives 0. For N = 100 and V = 1 the result is ≈ 2.5306.
    """
    if not (math.isfinite(n_trials) and n_trials >= 1.0):
        raise ValueError(f"n_trials must be at least 1, got {n_trials}")
    if not (math.isfinite(sharpe_variance) and sharpe_variance >= 0.0):
        raise ValueError(f"sharpe_variance must be a non-negative number, got {sharpe_variance}")
    if n_trials == 1.0:
        return 0.0
    g = EULER_MASCHERONI
    z = (1.0 - g) * norm_ppf(1.0 - 1.0 / n_trials) + g * norm_ppf(1.0 - 1.0 / (n_trials * math.e))
    return math.sqrt(sharpe_variance) * z


def deflated_sharpe_ratio_from_moments(
    sharpe: float,
    n_obs: int,
    skew: float,
    kurtosis: float,
    *,
    n_trials: float,
    trial_sharpe_variance: float,
) -> float:
    """Deflated Sharpe Ratio (Bailey & López de Prado 2014): PSR against the best of N trials.

    ``DSR = PSR(SR0)`` with ``SR0 = expected_max_sharpe(n_trials, trial_sharpe_variance)``: the
    probability that the selected strategy's true Sharpe beats what the best of ``n_trials``
    skill-less trials would show by luck. ``sharpe`` is the selected strategy's per-period
    Sharpe over ``n_obs`` returns, ``skew``/``kurtosis`` its γ3 and NON-excess γ4, and
    ``trial_sharpe_variance`` the variance across all trials of their per-period Sharpe ratios.

    Paper example: N = 100, T = 1250 daily returns (250 a year), best annualised SR 2.5, variance
    of annualised trial Sharpes 0.5, skew -3, kurtosis 10 → ``sharpe = 2.5 / sqrt(250)``,
    ``trial_sharpe_variance = 0.5 / 250`` → DSR ≈ 0.9004.
    """
    sr0 = expected_max_sharpe(n_trials, trial_sharpe_variance)
    return probabilistic_sharpe_ratio_from_moments(sharpe, n_obs, skew, kurtosis, sr0)


def deflated_sharpe_ratio(
    returns: npt.ArrayLike, *, n_trials: float, trial_sharpe_variance: float
) -> float:
    """DSR of the selected strategy's per-period ``returns`` (see the ``_from_moments`` form).

    ``trial_sharpe_variance`` is the variance of the per-period Sharpe ratios of all
    ``n_trials`` trials, e.g. ``np.var(trial_sharpes, ddof=1)``.
    """
    m = return_moments(returns)
    return deflated_sharpe_ratio_from_moments(
        m.sharpe,
        m.n_obs,
        m.skew,
        m.kurtosis,
        n_trials=n_trials,
        trial_sharpe_variance=trial_sharpe_variance,
    )


def minimum_track_record_length(
    sharpe: float,
    skew: float,
    kurtosis: float,
    *,
    benchmark_sharpe: float = 0.0,
    confidence: float = 0.95,
) -> float:
    """Minimum Track Record Length (Bailey & López de Prado 2012), in periods.

    ``MinTRL = 1 + (1 - γ3·SR + (γ4 - 1)/4 · SR²) · (Φ⁻¹(p) / (SR - SR*))²``

    The number of returns needed before ``PSR(SR*) ≥ p`` (``confidence``), given the observed
    per-period ``sharpe`` SR, per-period ``benchmark_sharpe`` SR*, skew γ3 and NON-excess
    kurtosis γ4. Returns ``math.inf`` when ``sharpe <= benchmark_sharpe`` (no length suffices).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly inside (0, 1), got {confidence}")
    if not math.isfinite(benchmark_sharpe):
        raise ValueError(f"benchmark_sharpe must be finite, got {benchmark_sharpe}")
    term = _sharpe_variance_term(sharpe, skew, kurtosis)
    if sharpe <= benchmark_sharpe:
        return math.inf
    return 1.0 + term * (norm_ppf(confidence) / (sharpe - benchmark_sharpe)) ** 2


def minimum_backtest_length(n_trials: float, target_annual_sharpe: float) -> float:
    """Minimum Backtest Length (Bailey, Borwein, López de Prado & Zhu 2014), in years.

    ``MinBTL = ((1 - γ)·Φ⁻¹(1 - 1/N) + γ·Φ⁻¹(1 - 1/(N·e)))² / E[max SR]²``

    With ``n_trials`` skill-less configurations, each backtested over y years, the annualised
    Sharpe estimates have variance ≈ 1/y, so the best of them is expected to show
    ``expected_max_sharpe(N) / sqrt(y)``. MinBTL is the y at which that luck alone reaches
    ``target_annual_sharpe``: a backtest shorter than this can produce the target Sharpe from
    N trials by chance. (The paper's upper bound is ``2·ln N / E[max]²``.) For N = 45 and a
    target annualised Sharpe of 1 the result is ≈ 4.998 years.
    """
    if not (math.isfinite(target_annual_sharpe) and target_annual_sharpe > 0.0):
        raise ValueError(f"target_annual_sharpe must be positive, got {target_annual_sharpe}")
    return (expected_max_sharpe(n_trials) / target_annual_sharpe) ** 2
