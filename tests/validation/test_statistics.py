"""PSR, expected max Sharpe, DSR, MinTRL, MinBTL and PBO (CSCV) against the published examples."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pytest

from rara.validation.pbo import (
    PBOResult,
    default_n_blocks,
    probability_of_backtest_overfitting,
)
from rara.validation.statistics import (
    EULER_MASCHERONI,
    annualisation_factor,
    annualised_sharpe,
    deflated_sharpe_ratio,
    deflated_sharpe_ratio_from_moments,
    expected_max_sharpe,
    minimum_backtest_length,
    minimum_track_record_length,
    norm_cdf,
    norm_ppf,
    probabilistic_sharpe_ratio,
    probabilistic_sharpe_ratio_from_moments,
    return_moments,
    sharpe_ratio,
)

# --------------------------------------------------------------------------- published examples


def test_euler_mascheroni_constant() -> None:
    assert abs(EULER_MASCHERONI - 0.5772156649015329) < 1e-16


def test_expected_max_sharpe_of_100_standard_normals() -> None:
    value = expected_max_sharpe(100)
    assert round(value, 4) == 2.5306
    assert value == pytest.approx(2.5306028932016846, abs=1e-12)


def test_expected_max_sharpe_scales_with_sqrt_variance() -> None:
    assert expected_max_sharpe(100, 0.25) == pytest.approx(0.5 * expected_max_sharpe(100))
    assert expected_max_sharpe(1) == 0.0
    assert expected_max_sharpe(100, 0.0) == 0.0
    ns = (2, 10, 100, 1000, 10_000)
    values = [expected_max_sharpe(n) for n in ns]
    assert values == sorted(values)
    assert all(v <= math.sqrt(2 * math.log(n)) for v, n in zip(values, ns, strict=True))


def test_deflated_sharpe_ratio_paper_example() -> None:
    """Bailey & López de Prado (2014): N=100, T=1250 daily, SR 2.5 ann., V 0.5 ann. → 0.9004."""
    periods = 250
    dsr = deflated_sharpe_ratio_from_moments(
        2.5 / math.sqrt(periods),
        1250,
        -3.0,
        10.0,
        n_trials=100,
        trial_sharpe_variance=0.5 / periods,
    )
    assert round(dsr, 4) == 0.9004
    assert dsr == pytest.approx(0.9003968344493904, abs=1e-6)
    # The threshold SR0 in annualised terms: sqrt(0.5) * 2.5306 ≈ 1.7894.
    sr0 = expected_max_sharpe(100, 0.5 / periods) * math.sqrt(periods)
    assert sr0 == pytest.approx(math.sqrt(0.5) * 2.5306028932016846, abs=1e-12)


def test_probabilistic_sharpe_ratio_paper_example() -> None:
    """Bailey & López de Prado (2012): 24 monthly returns, SR 1.585 ann., γ3 -2.448, γ4 10.164."""
    psr = probabilistic_sharpe_ratio_from_moments(1.585 / math.sqrt(12), 24, -2.448, 10.164, 0.0)
    assert round(psr, 4) == 0.9132
    assert psr == pytest.approx(0.9132343068848602, abs=1e-9)


def test_minimum_backtest_length_paper_example() -> None:
    """Bailey, Borwein, López de Prado & Zhu (2014): 45 trials, target SR 1 → about 5 years."""
    years = minimum_backtest_length(45, 1.0)
    assert years == pytest.approx(4.998087004443402, abs=1e-9)
    assert round(years, 1) == 5.0
    assert years < 2 * math.log(45)  # the paper's upper bound
    assert minimum_backtest_length(45, 2.0) == pytest.approx(years / 4)


# --------------------------------------------------------------------------- PSR / MinTRL


def test_psr_normal_returns_reduces_to_textbook_form() -> None:
    sr, t = 0.1, 500
    expected = norm_cdf(sr * math.sqrt(t - 1) / math.sqrt(1 + sr**2 / 2))
    assert probabilistic_sharpe_ratio_from_moments(sr, t, 0.0, 3.0) == pytest.approx(expected)


def test_psr_is_half_at_the_benchmark_and_monotone() -> None:
    assert probabilistic_sharpe_ratio_from_moments(0.2, 100, -1.0, 6.0, 0.2) == 0.5
    lo = probabilistic_sharpe_ratio_from_moments(0.1, 100, 0.0, 3.0)
    hi = probabilistic_sharpe_ratio_from_moments(0.1, 1000, 0.0, 3.0)
    fat = probabilistic_sharpe_ratio_from_moments(0.1, 1000, -2.0, 12.0)
    assert 0.5 < lo < hi and fat < hi


def test_psr_from_returns_matches_from_moments() -> None:
    rng = np.random.default_rng(7)
    r = rng.standard_t(4, size=2000) * 0.01 + 0.0005
    m = return_moments(r)
    assert probabilistic_sharpe_ratio(r, 0.01) == pytest.approx(
        probabilistic_sharpe_ratio_from_moments(m.sharpe, m.n_obs, m.skew, m.kurtosis, 0.01)
    )


def test_return_moments_use_non_excess_population_kurtosis() -> None:
    # Two-point distribution ±1: skew 0, kurtosis exactly 1 (excess would be -2).
    m = return_moments([1.0, -1.0] * 50)
    assert m.n_obs == 100 and m.skew == pytest.approx(0.0) and m.kurtosis == pytest.approx(1.0)
    # A large normal sample has kurtosis near 3, not 0.
    big = return_moments(np.random.default_rng(1).normal(0.0, 1.0, 200_000))
    assert big.kurtosis == pytest.approx(3.0, abs=0.05)
    # Hand-computed: r = [0, 0, 0, 4]: mean 1, m2 3, m3 6, m4 21.
    h = return_moments([0.0, 0.0, 0.0, 4.0])
    assert h.skew == pytest.approx(6 / 3**1.5) and h.kurtosis == pytest.approx(21 / 9)
    assert h.sharpe == pytest.approx(1 / 2.0)  # std(ddof=1) = 2


def test_return_moments_agree_with_scipy_conventions() -> None:
    stats = pytest.importorskip("scipy.stats")
    r = np.random.default_rng(3).lognormal(0.0, 0.5, 1000) - 1.0
    m = return_moments(r)
    assert m.skew == pytest.approx(float(stats.skew(r)), rel=1e-12)
    assert m.kurtosis == pytest.approx(float(stats.kurtosis(r, fisher=False)), rel=1e-12)
    assert m.kurtosis == pytest.approx(float(stats.kurtosis(r)) + 3.0, rel=1e-12)


def test_normal_helpers_round_trip() -> None:
    for p in (1e-9, 0.01, 0.5, 0.975, 1 - 1e-9):
        assert norm_cdf(norm_ppf(p)) == pytest.approx(p, rel=1e-9)
    assert norm_ppf(0.975) == pytest.approx(1.959963984540054, abs=1e-12)
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="strictly inside"):
            norm_ppf(bad)


def test_excess_kurtosis_is_rejected() -> None:
    with pytest.raises(ValueError, match="NON-excess"):
        probabilistic_sharpe_ratio_from_moments(0.1, 100, 0.0, 0.0)  # normal, excess convention
    with pytest.raises(ValueError, match="NON-excess"):
        probabilistic_sharpe_ratio_from_moments(0.1, 100, -3.0, 7.0)  # 7 < 1 + 9
    with pytest.raises(ValueError, match="at least 2"):
        probabilistic_sharpe_ratio_from_moments(0.1, 1, 0.0, 3.0)


def test_minimum_track_record_length_inverts_psr() -> None:
    sr, skew, kurt = 1.585 / math.sqrt(12), -2.448, 10.164
    min_trl = minimum_track_record_length(sr, skew, kurt, confidence=0.95)
    assert min_trl == pytest.approx(34.597103487169576, abs=1e-9)
    # At exactly MinTRL observations PSR equals the confidence level (continuous T).
    z = (sr - 0) * math.sqrt(min_trl - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    assert norm_cdf(z) == pytest.approx(0.95, abs=1e-12)
    assert probabilistic_sharpe_ratio_from_moments(sr, math.ceil(min_trl), skew, kurt) >= 0.95
    assert probabilistic_sharpe_ratio_from_moments(sr, math.floor(min_trl), skew, kurt) < 0.95
    assert minimum_track_record_length(0.1, 0.0, 3.0, benchmark_sharpe=0.1) == math.inf
    assert minimum_track_record_length(0.05, 0.0, 3.0, benchmark_sharpe=0.1) == math.inf
    with pytest.raises(ValueError, match="confidence"):
        minimum_track_record_length(0.1, 0.0, 3.0, confidence=1.0)


# --------------------------------------------------------------------------- Sharpe helpers, DSR


def test_annualisation_is_24_7() -> None:
    assert annualisation_factor(1) == pytest.approx(math.sqrt(365))
    assert annualisation_factor(24) == pytest.approx(math.sqrt(8760))
    assert annualisation_factor(24 * 60) == pytest.approx(math.sqrt(525_600))
    assert annualisation_factor(1 / 7) == pytest.approx(math.sqrt(365 / 7))  # weekly bars
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="bars_per_day"):
            annualisation_factor(bad)


def test_sharpe_ratio_per_period_and_annualised() -> None:
    r = np.array([0.01, -0.02, 0.03, 0.0, 0.015])
    expected = r.mean() / r.std(ddof=1)
    assert sharpe_ratio(r) == pytest.approx(expected)
    assert annualised_sharpe(r, 24) == pytest.approx(expected * math.sqrt(8760))
    with pytest.raises(ValueError, match="zero variance"):
        sharpe_ratio([0.01, 0.01, 0.01])
    with pytest.raises(ValueError, match="at least 2"):
        sharpe_ratio([0.01])
    with pytest.raises(ValueError, match="NaN"):
        sharpe_ratio([0.01, math.nan, 0.02])
    with pytest.raises(ValueError, match="one-dimensional"):
        sharpe_ratio(np.zeros((3, 2)))


def test_dsr_from_returns_and_deflation() -> None:
    rng = np.random.default_rng(11)
    r = rng.normal(0.001, 0.01, 1500)
    m = return_moments(r)
    one = deflated_sharpe_ratio(r, n_trials=1, trial_sharpe_variance=0.01**2)
    assert one == pytest.approx(probabilistic_sharpe_ratio(r))  # one trial: no deflation
    many = deflated_sharpe_ratio(r, n_trials=1000, trial_sharpe_variance=m.sharpe**2)
    assert many < one
    assert many == pytest.approx(
        deflated_sharpe_ratio_from_moments(
            m.sharpe,
            m.n_obs,
            m.skew,
            m.kurtosis,
            n_trials=1000,
            trial_sharpe_variance=m.sharpe**2,
        )
    )


def test_bad_trial_inputs() -> None:
    with pytest.raises(ValueError, match="n_trials"):
        expected_max_sharpe(0.5)
    with pytest.raises(ValueError, match="sharpe_variance"):
        expected_max_sharpe(10, -1.0)
    with pytest.raises(ValueError, match="target_annual_sharpe"):
        minimum_backtest_length(10, 0.0)


# --------------------------------------------------------------------------- PBO (CSCV)


def _sharpe_columns(a: np.ndarray) -> np.ndarray:
    return np.asarray(a.mean(axis=0) / a.std(axis=0, ddof=1))


def test_pbo_pure_noise_is_near_one_half() -> None:
    # One noise matrix's PBO varies a lot between seeds (its C(16,8) combinations share data),
    # so average a fixed set of seeds: the mean is ≈ 0.5 with a spread of a few hundredths.
    pbos = []
    for seed in range(10):
        x = np.random.default_rng(seed).normal(0.0, 0.01, size=(1000, 200))
        result = probability_of_backtest_overfitting(x)
        assert result.n_combinations == math.comb(16, 8) == 12_870
        assert result.logits.shape == (12_870,)
        assert result.n_blocks == 16 and result.n_trials == 200 and result.n_obs == 1000
        pbos.append(result.pbo)
    assert 0.3 < float(np.mean(pbos)) < 0.7


def test_pbo_single_seed_noise() -> None:
    x = np.random.default_rng(2024).normal(0.0, 1.0, size=(1000, 200))
    result = probability_of_backtest_overfitting(x)
    assert 0.3 < result.pbo < 0.7


def test_pbo_skilled_strategy_among_noise_is_near_zero() -> None:
    rng = np.random.default_rng(42)
    x = rng.normal(0.0, 1.0, size=(1000, 200))
    x[:, 17] += 0.3  # per-period Sharpe ≈ 0.3, far above the best of 200 noise columns
    result = probability_of_backtest_overfitting(x)
    assert result.pbo < 0.05
    assert np.mean(result.selected == 17) > 0.95
    assert result.prob_oos_loss == 0.0
    assert np.all(result.oos_performance > 0.15)


def test_pbo_fast_path_matches_generic_metric() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(0.0005, 0.01, size=(203, 25))  # 203 rows: blocks of unequal length
    x[:120, 3] = 0.0  # a trial that did not trade for a while
    x[:, 4] = 0.0  # a trial that never traded (zero variance everywhere)

    def metric(a: np.ndarray) -> np.ndarray:
        sd = a.std(axis=0, ddof=1)
        out = np.zeros(a.shape[1])
        np.divide(a.mean(axis=0), sd, out=out, where=sd > 0)
        return out

    fast = probability_of_backtest_overfitting(x, n_blocks=8)
    slow = probability_of_backtest_overfitting(x, n_blocks=8, metric=metric)
    assert fast.n_combinations == slow.n_combinations == 70
    np.testing.assert_allclose(fast.is_performance, slow.is_performance, atol=1e-12)
    np.testing.assert_allclose(fast.oos_performance, slow.oos_performance, atol=1e-12)
    np.testing.assert_allclose(fast.logits, slow.logits, atol=1e-12)
    np.testing.assert_array_equal(fast.selected, slow.selected)
    assert fast.pbo == slow.pbo


def test_pbo_matches_a_direct_reference_implementation() -> None:
    """Straight from the paper's steps, one combination at a time, equal blocks."""
    rng = np.random.default_rng(9)
    t, n, s = 120, 12, 6
    x = rng.normal(0.0, 1.0, size=(t, n)) + rng.normal(0.0, 0.05, size=n)
    blocks = np.split(np.arange(t), s)
    logits = []
    for combo in combinations(range(s), s // 2):
        is_rows = np.concatenate([blocks[b] for b in combo])
        oos_rows = np.concatenate([blocks[b] for b in range(s) if b not in combo])
        best = int(np.argmax(_sharpe_columns(x[is_rows])))
        oos = _sharpe_columns(x[oos_rows])
        rank = 1 + int(np.sum(oos < oos[best]))  # no ties in continuous data
        omega = rank / (n + 1)
        logits.append(math.log(omega / (1 - omega)))
    result = probability_of_backtest_overfitting(x, n_blocks=s)
    np.testing.assert_allclose(result.logits, logits, atol=1e-12)
    assert result.pbo == pytest.approx(np.mean(np.array(logits) <= 0))


def test_pbo_result_summary_and_degradation() -> None:
    x = np.random.default_rng(1).normal(0.0, 1.0, size=(400, 50))
    result = probability_of_backtest_overfitting(x, n_blocks=10)
    assert isinstance(result, PBOResult)
    assert result.n_combinations == math.comb(10, 5)
    summary = result.summary()
    assert summary["pbo"] == result.pbo and summary["n_combinations"] == 252
    assert isinstance(summary["degradation_slope"], float)
    # Logits are bounded by the extreme relative ranks 1/(N+1) and N/(N+1).
    assert np.all(np.abs(result.logits) <= math.log(50) + 1e-12)
    assert 0.0 <= result.prob_oos_loss <= 1.0


def test_pbo_identical_trials_tie_at_the_median() -> None:
    col = np.random.default_rng(0).normal(0.0, 1.0, size=(64, 1))
    result = probability_of_backtest_overfitting(np.repeat(col, 5, axis=1), n_blocks=4)
    # All five OOS values tie: average rank 3 of 5, ω = 0.5, λ = 0, counted as overfit.
    np.testing.assert_allclose(result.logits, 0.0, atol=1e-12)
    assert result.pbo == 1.0
    assert np.all(result.selected == 0)


def test_default_n_blocks() -> None:
    assert default_n_blocks(2000) == 16
    assert default_n_blocks(64) == 16
    assert default_n_blocks(63) == 14
    assert default_n_blocks(40) == 10
    assert default_n_blocks(8) == 2
    with pytest.raises(ValueError, match="at least 8 rows"):
        default_n_blocks(7)
    x = np.random.default_rng(0).normal(size=(30, 4))
    assert probability_of_backtest_overfitting(x).n_blocks == 6


@pytest.mark.parametrize(
    ("shape", "n_blocks", "message"),
    [
        ((100, 1), None, "at least 2 columns"),
        ((100,), None, "T×N matrix"),
        ((100, 5), 7, "even"),
        ((100, 5), 0, "even"),
        ((1000, 5), 22, "even number from 2 to 20"),
        ((20, 5), 12, "too many"),
        ((6, 5), None, "at least 8 rows"),
    ],
)
def test_pbo_rejects_bad_input(shape: tuple[int, ...], n_blocks: int | None, message: str) -> None:
    x = np.random.default_rng(0).normal(size=shape)
    with pytest.raises(ValueError, match=message):
        probability_of_backtest_overfitting(x, n_blocks=n_blocks)


def test_pbo_rejects_nan_and_bad_metric() -> None:
    x = np.random.default_rng(0).normal(size=(100, 5))
    x[3, 2] = math.nan
    with pytest.raises(ValueError, match="NaN"):
        probability_of_backtest_overfitting(x)
    with pytest.raises(ValueError, match="one value per trial"):
        probability_of_backtest_overfitting(
            np.random.default_rng(0).normal(size=(100, 5)),
            n_blocks=4,
            metric=lambda a: np.zeros(3),
        )
    with pytest.raises(ValueError, match="finite"):
        probability_of_backtest_overfitting(
            np.random.default_rng(0).normal(size=(100, 5)),
            n_blocks=4,
            metric=lambda a: np.full(5, math.nan),
        )
