"""The built-in search's evidence, folded: how each experiment scores its family (`reward`), each
family's trials as a Gaussian arm (`ArmStats`), the run's history folded one outcome at a time
(`History`), what recalled lessons say (`LessonPriors`), and the steering both give (`Steer`).

The proposer reads failed checks as `LearnableCheckName`s and trade counts as numbers: nothing
here parses an insight's prose.
"""

from __future__ import annotations

import math
from bisect import insort
from dataclasses import dataclass, field

from rara.domain.gate import LearnableCheckName
from rara.research.builtin.space import Bias, Params
from rara.research.models import PASSED_CHECKS, ExperimentOutcome, JsonScalar, LearnableOutcome

SHARPE_CLIP = 3.0
PASS_BONUS = 1.0
SHORTFALL_PENALTY = 1.0  # reward lost at zero trades, pro rata up to min_trades
PENALTY = {"error": -2.0, "duplicate": -1.0, "broken": -3.0, "no_sharpe": -1.5}
SIGMA = 1.0  # assumed reward noise per trial (Sharpe units)
PRIOR_N = 1.0  # pseudo-trials behind every family's prior mean
LESSON_MAX_N = 3.0  # memory never outweighs more than three trials of this run
# checks whose failure means the code is broken, not that the idea lost: a fixed penalty
BROKEN: frozenset[LearnableCheckName] = frozenset(
    {"sandbox", "lookahead.truncation", "lookahead.perturbation", "lookahead.warmup"}
)


def clip(x: float, lo: float = -SHARPE_CLIP, hi: float = SHARPE_CLIP) -> float:
    return min(hi, max(lo, x))


def reward(
    outcome: LearnableOutcome,
    failed_check: LearnableCheckName | None,
    validation_sharpe: float | None,
    trades: int | None = None,
    min_trades: int = 30,
) -> float:
    """One experiment's score for its family (see the package docstring). The bonus is for
    passing every check before the holdout: what the holdout then said is never learned from."""
    if outcome in ("error", "duplicate"):
        return PENALTY[outcome]
    if failed_check in BROKEN:
        return PENALTY["broken"]
    if validation_sharpe is None or not math.isfinite(validation_sharpe):
        return PENALTY["no_sharpe"]
    r = clip(validation_sharpe)
    if trades is not None and min_trades > 0:
        # too few trades can never pass: shrink the (noisy) Sharpe and charge the shortfall
        share = min(1.0, max(trades, 0) / min_trades)
        r = r * share - SHORTFALL_PENALTY * (1.0 - share)
    return r + (PASS_BONUS if outcome == PASSED_CHECKS else 0.0)


@dataclass
class ArmStats:
    """One family's trials in this run (rewards, passes of every check before the holdout,
    validation Sharpes)."""

    n: int = 0
    total: float = 0.0
    passes: int = 0
    sharpe_n: int = 0
    sharpe_total: float = 0.0

    def posterior(self, prior: tuple[float, float] = (0.0, 0.0)) -> tuple[float, float]:
        """Mean and sd of the family's reward. ``prior`` is (lesson weight, weighted reward sum):
        its mean sits behind PRIOR_N pseudo-trials plus the lesson weight, capped at LESSON_MAX_N
        so this run's own trials soon dominate."""
        w, total = prior
        k = PRIOR_N + min(w, LESSON_MAX_N)
        prior_mean = total / (PRIOR_N + w)
        return (k * prior_mean + self.total) / (k + self.n), SIGMA / math.sqrt(k + self.n)

    def sharpe_mean(self, base: float, prior: tuple[float, float] = (0.0, 0.0)) -> float:
        """Expected validation Sharpe (clipped): this family's trials, then what lessons saw of
        it (capped weight), shrunk towards ``base``, the market's mean over every family."""
        w, total = prior
        k = min(w, LESSON_MAX_N) / w if w else 0.0
        return (PRIOR_N * base + k * total + self.sharpe_total) / (PRIOR_N + k * w + self.sharpe_n)


@dataclass(frozen=True)
class TriedParams:
    """One parameter set a family was tried with, and its validation Sharpe: a possible parent.
    (Not `rara.validation.trials`' trial, which is one recorded backtest of a segment.)"""

    experiment_id: str
    family: str
    params: Params
    sharpe: float

    def rank(self) -> tuple[float, str]:
        """Best validation Sharpe first; the experiment id breaks a tie."""
        return (-self.sharpe, self.experiment_id)


ParamsKey = frozenset[tuple[str, JsonScalar]]


def params_key(params: Params) -> ParamsKey:
    """A parameter set as a set member: two keys are equal exactly when the dicts are (the keys
    are unique names, and equal scalars hash alike)."""
    return frozenset(params.items())


@dataclass
class Steer:
    """Weighted counts of what went wrong: too few trades, too costly, too deep a drawdown."""

    faster: float = 0.0
    slower: float = 0.0
    drawdowns: float = 0.0

    def add(self, failed: LearnableCheckName | None, weight: float) -> None:
        if failed == "min_trades":
            self.faster += weight
        elif failed == "costs_doubled":
            self.slower += weight
        elif failed == "floor.max_drawdown":
            self.drawdowns += weight

    def bias(self, other: Steer) -> Bias:
        f = self.faster + other.faster
        s = self.slower + other.slower
        d = self.drawdowns + other.drawdowns
        return Bias(speed=clip((f - s) / (f + s + 4.0), -0.8, 0.8), p_stop=0.5 + 0.4 * d / (d + 3))


@dataclass
class History:
    """What the run's history says, folded one outcome at a time.

    History only grows within a run, so the proposer keeps the fold and extends it with the new
    outcomes (a fold over a longer list in the same order gives the same floats), which keeps
    propose() cheap however long the run. Any other change to the history refolds from scratch.
    ``trials`` are kept ranked (`TriedParams.rank`) and ``tried`` holds each family's parameter
    sets (`params_key`), so neither a parent nor a repeat is looked for by scanning a family.
    """

    min_trades: int
    ids: list[str] = field(default_factory=list)
    outcomes: list[ExperimentOutcome] = field(default_factory=list)  # folded, in order
    stats: dict[str, ArmStats] = field(default_factory=dict)
    trials: dict[str, list[TriedParams]] = field(default_factory=dict)
    tried: dict[str, set[ParamsKey]] = field(default_factory=dict)
    shas: set[str] = field(default_factory=set)
    steer: Steer = field(default_factory=Steer)
    sharpe_n: int = 0  # over every family: the market's base rate
    sharpe_total: float = 0.0

    def add(self, o: ExperimentOutcome) -> None:
        self.ids.append(o.experiment_id)
        self.outcomes.append(o)
        st = self.stats.get(o.family)
        if st is None:
            st = self.stats[o.family] = ArmStats()
        st.n += 1
        trades = o.validation_trades
        st.total += reward(o.outcome, o.failed_check, o.validation_sharpe, trades, self.min_trades)
        vs = o.validation_sharpe
        if vs is not None and math.isfinite(vs):
            st.sharpe_n += 1
            st.sharpe_total += clip(vs)
            self.sharpe_n += 1
            self.sharpe_total += clip(vs)
            if o.params is not None:
                tried = TriedParams(o.experiment_id, o.family, dict(o.params), vs)
                insort(self.trials.setdefault(o.family, []), tried, key=TriedParams.rank)
        st.passes += o.outcome == PASSED_CHECKS
        self.shas.add(o.source_sha256)
        if o.params is not None:
            self.tried.setdefault(o.family, set()).add(params_key(o.params))
        # a known trade count says "too few trades" even when another check failed first
        if trades is not None:
            self.steer.faster += trades < self.min_trades
            if o.failed_check != "min_trades":
                self.steer.add(o.failed_check, 1.0)
        else:
            self.steer.add(o.failed_check, 1.0)

    def has_tried(self, family: str, params: Params) -> bool:
        """Whether the family was tried with exactly these parameters."""
        return params_key(params) in self.tried.get(family, ())


@dataclass
class LessonPriors:
    """What the recalled lessons (`rara.research.memory`) say: a prior per family of ours, and
    steering."""

    priors: dict[str, tuple[float, float]] = field(default_factory=dict)
    sharpes: dict[str, tuple[float, float]] = field(default_factory=dict)
    sharpe_w: float = 0.0  # over every lesson, ours or not
    sharpe_total: float = 0.0
    steer: Steer = field(default_factory=Steer)
    used: int = 0
