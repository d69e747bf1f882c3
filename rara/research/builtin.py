"""The built-in proposer: the offline default, a real search over strategy families.

Each `propose` call is a pure function of (seed, iteration, history, lessons, timeframe), so a
resumed run redraws the same candidate for the same iteration and history:

1. **Rewards.** Every finished experiment of this run scores its family: the validation Sharpe,
   clipped to +-3, times ``share = min(1, trades / min_trades)`` (a Sharpe on 5 trades is mostly
   noise) minus ``1 - share`` (too few trades cannot pass, however good they look), +1 when it
   passed the gate; errors, duplicates and look-ahead/sandbox failures get fixed
   penalties. Lessons recalled from earlier runs set each family's prior the same way, weighted
   less than this run's own results (and less again for other symbols).
2. **Bandit.** Gaussian Thompson sampling over families: first every catalogue family once (in a
   Thompson order, so memory decides which go first), then a posterior draw per family picks one.
3. **Move.** In the chosen family: a fresh sample from the parameter space (explore), a local
   mutation of one of its best trials, a uniform crossover of two good trials, or wrapping a good
   trial with a filter it lacks (trend or volatility regime), which makes a new family.
4. **Steering.** Validation trade shortfalls and ``min_trades`` failures skew sampling towards
   faster params (shorter periods, looser thresholds), ``costs_doubled`` failures towards slower
   ones; drawdown failures make stops likelier.
5. **No repeats.** The source is a pure function of (family, params, timeframe), so a known
   source hash means a known candidate; the same family's params are compared too. On a repeat
   the move is redrawn, falling back to exploration.

The code comes from `rara.research.families` and takes the same path as LLM code (lint, sandbox,
look-ahead checks, gate), so `fix` has nothing to repair and returns None.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rara.domain.gate import LearnableCheckName, LearningView
from rara.research.families import (
    CATALOGUE,
    FILTER_ORDER,
    Bias,
    Family,
    Params,
    default_max_lookback,
    family,
    family_name,
)
from rara.research.models import (
    Candidate,
    ExperimentOutcome,
    Forecast,
    Hypothesis,
    Proposal,
    ProposerContext,
    Reflection,
)
from rara.research.ports import ProposerError
from rara.research.reflect import reflect_report

SHARPE_CLIP = 3.0
PASS_BONUS = 1.0
SHORTFALL_PENALTY = 1.0  # reward lost at zero trades, pro rata up to min_trades
PENALTY = {"error": -2.0, "duplicate": -1.0, "broken": -3.0, "no_sharpe": -1.5}
SIGMA = 1.0  # assumed reward noise per trial (Sharpe units)
PRIOR_N = 1.0  # pseudo-trials behind every family's prior mean
LESSON_MAX_N = 3.0  # memory never outweighs more than three trials of this run
MAX_ATTEMPTS = 60
# move shares once a family has trials: explore, mutate, recombine; the rest wraps
MOVES = (0.30, 0.75, 0.90)
# checks whose failure means the code is broken, not that the idea lost: a fixed penalty
BROKEN: frozenset[LearnableCheckName] = frozenset(
    {"sandbox", "lookahead.truncation", "lookahead.perturbation", "lookahead.warmup"}
)


def _clip(x: float, lo: float = -SHARPE_CLIP, hi: float = SHARPE_CLIP) -> float:
    return min(hi, max(lo, x))


def reward(
    outcome: str,
    failed_check: LearnableCheckName | None,
    validation_sharpe: float | None,
    trades: int | None = None,
    min_trades: int = 30,
) -> float:
    """One experiment's score for its family (see the module docstring)."""
    if outcome in ("error", "duplicate"):
        return PENALTY[outcome]
    if failed_check in BROKEN:
        return PENALTY["broken"]
    if validation_sharpe is None or not math.isfinite(validation_sharpe):
        return PENALTY["no_sharpe"]
    r = _clip(validation_sharpe)
    if trades is not None and min_trades > 0:
        # too few trades can never pass: shrink the (noisy) Sharpe and charge the shortfall
        share = min(1.0, max(trades, 0) / min_trades)
        r = r * share - SHORTFALL_PENALTY * (1.0 - share)
    return r + (PASS_BONUS if outcome == "paper_candidate" else 0.0)


@dataclass
class ArmStats:
    """One family's trials in this run (rewards, passes, validation Sharpes)."""

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
class Trial:
    experiment_id: str
    family: str
    params: Params
    sharpe: float


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
        f, s, d = (self.faster + other.faster, self.slower + other.slower,
                   self.drawdowns + other.drawdowns)  # fmt: skip
        return Bias(speed=_clip((f - s) / (f + s + 4.0), -0.8, 0.8), p_stop=0.5 + 0.4 * d / (d + 3))


@dataclass
class History:
    """What the run's history says, folded one outcome at a time.

    History only grows within a run, so the proposer keeps the fold and extends it with the new
    outcomes (a fold over a longer list in the same order gives the same floats), which keeps
    propose() cheap however long the run. Any other change to the history refolds from scratch.
    """

    min_trades: int
    ids: list[str] = field(default_factory=list)
    stats: dict[str, ArmStats] = field(default_factory=dict)
    trials: dict[str, list[Trial]] = field(default_factory=dict)
    by_family: dict[str, list[ExperimentOutcome]] = field(default_factory=dict)
    shas: set[str] = field(default_factory=set)
    steer: Steer = field(default_factory=Steer)
    sharpe_n: int = 0  # over every family: the market's base rate
    sharpe_total: float = 0.0

    def add(self, o: ExperimentOutcome) -> None:
        self.ids.append(o.experiment_id)
        st = self.stats.get(o.family)
        if st is None:
            st = self.stats[o.family] = ArmStats()
        st.n += 1
        trades = o.validation_trades
        st.total += reward(o.outcome, o.failed_check, o.validation_sharpe, trades, self.min_trades)
        vs = o.validation_sharpe
        if vs is not None and math.isfinite(vs):
            st.sharpe_n += 1
            st.sharpe_total += _clip(vs)
            self.sharpe_n += 1
            self.sharpe_total += _clip(vs)
            if o.params is not None:
                self.trials.setdefault(o.family, []).append(
                    Trial(o.experiment_id, o.family, dict(o.params), vs)
                )
        st.passes += o.outcome == "paper_candidate"
        self.shas.add(o.source_sha256)
        self.by_family.setdefault(o.family, []).append(o)
        # a known trade count says "too few trades" even when another check failed first
        if trades is not None:
            self.steer.faster += trades < self.min_trades
            if o.failed_check != "min_trades":
                self.steer.add(o.failed_check, 1.0)
        else:
            self.steer.add(o.failed_check, 1.0)


@dataclass
class Memory:
    """What the recalled lessons say: a prior per family of ours, and steering."""

    priors: dict[str, tuple[float, float]] = field(default_factory=dict)
    sharpes: dict[str, tuple[float, float]] = field(default_factory=dict)
    sharpe_w: float = 0.0  # over every lesson, ours or not
    sharpe_total: float = 0.0
    steer: Steer = field(default_factory=Steer)
    used: int = 0


def _normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


class BuiltinProposer:
    """The offline proposer. ``seed`` None takes the run's ``ctx.seed``; ``max_lookback`` None
    takes `default_max_lookback` of the run's timeframe; ``min_sharpe`` and ``min_trades`` are the
    gate's thresholds (reward shrinkage and forecasts use them)."""

    name = "builtin"

    def __init__(
        self,
        seed: int | None = None,
        *,
        max_lookback: int | None = None,
        min_sharpe: float = 1.0,
        min_trades: int = 30,
    ) -> None:
        self.seed = seed
        self.max_lookback = max_lookback
        self.min_sharpe = min_sharpe
        self.min_trades = min_trades
        self._arms_cache: dict[int, tuple[str, ...]] = {}
        self._fold: History | None = None
        self._lock = threading.Lock()  # the fold is shared state; keep propose() one at a time

    # -- Proposer protocol ---------------------------------------------------------------------

    def propose(self, ctx: ProposerContext) -> Proposal:
        with self._lock:
            return Proposal(candidate=self._propose(ctx))  # no LLM calls

    def _propose(self, ctx: ProposerContext) -> Candidate:
        seed = (self.seed if self.seed is not None else ctx.seed) % 2**63
        rng = np.random.default_rng([seed, ctx.iteration % 2**63, 0xB1])
        cap = self.max_lookback or default_max_lookback(ctx.timeframe)
        hist = self._history(ctx.history)
        mem = self._memory(ctx)
        bias = hist.steer.bias(mem.steer)
        arms = self._arms(cap, hist, mem)
        for attempt in range(MAX_ATTEMPTS):
            fam, params, move, parents, note = self._draw(
                ctx, hist, mem, arms, rng, cap, bias, attempt
            )
            if any(o.params == params for o in hist.by_family.get(fam.name, ())):
                continue
            source = fam.render(params, ctx.timeframe)
            if hashlib.sha256(source.encode()).hexdigest() in hist.shas:
                continue
            return self._candidate(
                ctx, hist, mem, arms, fam, params, source, move, parents, note, bias
            )
        raise ProposerError(
            "builtin_exhausted",
            f"no new candidate in {MAX_ATTEMPTS} draws: this market's spaces look exhausted",
            "use another proposer, symbol or timeframe",
        )

    def fix(
        self,
        ctx: ProposerContext,
        candidate: Candidate,
        error: str,
        round_no: int,
        max_rounds: int,
    ) -> Proposal | None:
        return None  # rendered from templates: a failure is a template bug, not a typo to repair

    def reflect(self, ctx: ProposerContext, candidate: Candidate, view: LearningView) -> Reflection:
        return Reflection(insight=reflect_report(candidate, view))

    # -- evidence ------------------------------------------------------------------------------

    def _history(self, outcomes: list[ExperimentOutcome]) -> History:
        h = self._fold
        ids = [o.experiment_id for o in outcomes]
        if h is None or len(h.ids) > len(ids) or ids[: len(h.ids)] != h.ids:
            h = History(self.min_trades)
        for o in outcomes[len(h.ids) :]:
            h.add(o)
        self._fold = h
        return h

    def _memory(self, ctx: ProposerContext) -> Memory:
        mem = Memory()
        for lesson in ctx.lessons:
            # this market counts fully, other symbols half, other timeframes half again
            w = 1.0 if lesson.symbol == ctx.symbol else 0.5
            w *= 1.0 if lesson.timeframe == ctx.timeframe else 0.5
            mem.steer.add(lesson.failed_check, w)
            vs = lesson.validation_sharpe
            if vs is not None and math.isfinite(vs):
                mem.sharpe_w += w
                mem.sharpe_total += w * _clip(vs)
            trades = lesson.validation_trades
            if (
                lesson.failed_check != "min_trades"
                and trades is not None
                and trades < self.min_trades
            ):
                # another check failed first, yet the trade count says "too few" all the same
                mem.steer.faster += w
            if family(lesson.family) is None:
                continue  # an LLM family: its failed check still steers, its prior means nothing
            r = reward(lesson.outcome, lesson.failed_check, lesson.validation_sharpe)
            pw, pt = mem.priors.get(lesson.family, (0.0, 0.0))
            mem.priors[lesson.family] = (pw + w, pt + w * r)
            if vs is not None and math.isfinite(vs):
                sw, st = mem.sharpes.get(lesson.family, (0.0, 0.0))
                mem.sharpes[lesson.family] = (sw + w, st + w * _clip(vs))
            mem.used += 1
        return mem

    def _arms(self, cap: int, hist: History, mem: Memory) -> tuple[str, ...]:
        """Catalogue families that fit the lookback cap, then any other of ours seen so far."""
        base = self._arms_cache.get(cap)
        if base is None:
            base = tuple(n for n in CATALOGUE if _fits(n, cap))
            self._arms_cache[cap] = base
        seen = {*hist.stats, *mem.priors}
        return base + tuple(sorted(n for n in seen if n not in base and _fits(n, cap)))

    # -- moves ---------------------------------------------------------------------------------

    def _thompson(
        self, hist: History, mem: Memory, arms: Sequence[str], rng: np.random.Generator
    ) -> str:
        empty = ArmStats()
        post = [hist.stats.get(a, empty).posterior(mem.priors.get(a, (0.0, 0.0))) for a in arms]
        means = np.array([m for m, _ in post])
        sds = np.array([s for _, s in post])
        return arms[int(np.argmax(means + sds * rng.standard_normal(len(arms))))]

    def _parents(self, hist: History, fam: Family, k: int = 5) -> list[Trial]:
        """The family's best few trials that can be bred from, best validation Sharpe first."""
        ranked = sorted(hist.trials.get(fam.name, ()), key=lambda t: (-t.sharpe, t.experiment_id))
        out: list[Trial] = []
        for t in ranked:
            if fam.accepts(t.params):  # e.g. an LLM candidate that reused our family name
                out.append(t)
                if len(out) == k:
                    break
        return out

    def _draw(
        self,
        ctx: ProposerContext,
        hist: History,
        mem: Memory,
        arms: tuple[str, ...],
        rng: np.random.Generator,
        cap: int,
        bias: Bias,
        attempt: int,
    ) -> tuple[Family, Params, str, list[Trial], str]:
        # warm-up: every catalogue family once, in an order the priors (memory) decide
        untried = [a for a in arms if a in CATALOGUE and a not in hist.stats]
        if untried and len(ctx.history) < 2 * len(CATALOGUE):
            name = self._thompson(hist, mem, untried, rng)
            fam = _family(name)
            return fam, fam.sample(rng, bias, cap), "explore", [], "first draw of this family"
        name = self._thompson(hist, mem, arms, rng)
        fam = _family(name)
        # after a third of the attempts only exploring is left: repeats mean a worn-out parent
        parents = self._parents(hist, fam) if attempt < MAX_ATTEMPTS // 3 else []
        u = float(rng.random())
        if not parents or u < MOVES[0]:
            return fam, fam.sample(rng, bias, cap), "explore", [], "fresh draw from its space"
        # rank-weighted choice among the best few: mostly the best, sometimes a runner-up
        w = np.array([0.5**i for i in range(len(parents))])
        a = parents[int(rng.choice(len(parents), p=w / w.sum()))]
        scale = max(0.4, 1.0 / (1.0 + len(parents) / 10.0) + 0.1 * attempt)
        if u < MOVES[1] or (u < MOVES[2] and len(parents) < 2):
            note = f"mutated {a.experiment_id} (validation Sharpe {a.sharpe:.2f})"
            return fam, fam.mutate(a.params, rng, cap, scale, bias), "mutate", [a], note
        if u < MOVES[2]:
            b = next(t for t in parents if t is not a) if a is parents[0] else parents[0]
            child = fam.crossover(a.params, b.params, rng, cap)
            if child == a.params or child == b.params:
                child = fam.mutate(child, rng, cap, 0.5, bias)
            note = f"crossed {a.experiment_id} x {b.experiment_id}"
            return fam, child, "recombine", [a, b], note
        have = [c.name for c in fam.filters]
        missing = [f for f in FILTER_ORDER if f not in have]
        pick = missing[int(rng.integers(len(missing)))] if missing else ""
        wrapped = family(family_name(fam.base.name, [*have, pick])) if pick else None
        if wrapped is None or not _fits(wrapped.name, cap):
            note = f"mutated {a.experiment_id} (validation Sharpe {a.sharpe:.2f})"
            return fam, fam.mutate(a.params, rng, cap, scale, bias), "mutate", [a], note
        params = wrapped.fit(wrapped.sample_filter(a.params, rng, bias), cap)
        note = f"wrapped {a.experiment_id} ({fam.name}, Sharpe {a.sharpe:.2f}) with a {pick} filter"
        return wrapped, params, "wrap", [a], note

    # -- the candidate -------------------------------------------------------------------------

    def _candidate(
        self,
        ctx: ProposerContext,
        hist: History,
        mem: Memory,
        arms: tuple[str, ...],
        fam: Family,
        params: Params,
        source: str,
        move: str,
        parents: list[Trial],
        note: str,
        bias: Bias,
    ) -> Candidate:
        st = hist.stats.get(fam.name) or ArmStats()
        prior = mem.priors.get(fam.name, (0.0, 0.0))
        mean, sd = st.posterior(prior)
        # empirical Bayes: a family with little evidence is expected to do what this market's
        # candidates do on average (mostly below zero after costs), not zero
        base = (hist.sharpe_total + mem.sharpe_total) / (PRIOR_N + hist.sharpe_n + mem.sharpe_w)
        expected = st.sharpe_mean(base, mem.sharpes.get(fam.name, (0.0, 0.0)))
        if parents:  # a child of a known trial resembles it
            expected = 0.5 * expected + 0.5 * _clip(sum(p.sharpe for p in parents) / len(parents))
        spread = math.sqrt(SIGMA**2 + sd**2)
        tail = _normal_sf((self.min_sharpe - expected) / spread)
        # Beta-style: observed passes of this family plus two pseudo-trials at the normal tail
        p_pass = (st.passes + 2.0 * tail) / (st.n + 2.0)
        if prior[0]:
            memory = f"; memory: lesson weight {prior[0]:.1f} on this family"
        else:
            memory = f"; memory: {mem.used} lessons, none on this family" if ctx.lessons else ""
        rationale = (
            f"{move}: Thompson sampling over {len(arms)} families picked {fam.name} "
            f"(posterior reward {mean:+.2f} +- {sd:.2f} after {st.n} trials in this run{memory}); "
            f"{note}. Steering: speed {bias.speed:+.2f} (+ = faster params for more trades), "
            f"stop probability {bias.p_stop:.2f}. Lookback {fam.lookback(params)} bars."
        )
        return Candidate(
            hypothesis=Hypothesis(
                hypothesis=fam.hypothesis(params, ctx.timeframe, ctx.symbol),
                rationale=rationale,
                family=fam.name,
                forecast=Forecast(
                    validation_sharpe=round(expected, 4),
                    pass_probability=round(min(1.0, max(0.0, p_pass)), 4),
                ),
            ),
            source=source,
            params=params,
            origin=f"builtin:{move}",
            parent=parents[0].experiment_id if parents else None,
        )


def _family(name: str) -> Family:
    fam = family(name)
    if fam is None:  # arms only ever hold our own names
        raise ProposerError("builtin_family", f"unknown family {name!r}")
    return fam


_FITS: dict[tuple[str, int], bool] = {}


def _fits(name: str, cap: int) -> bool:
    key = (name, cap)
    ok = _FITS.get(key)
    if ok is None:
        fam = family(name)
        ok = _FITS[key] = fam is not None and fam.min_lookback() <= cap
    return ok
