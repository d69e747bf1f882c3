"""`BuiltinProposer`: the offline default, a real search over strategy families (the package
docstring says how). Each `propose` is a pure function of (seed, iteration, history, lessons,
timeframe), so a resumed run redraws the same candidate for the same iteration and history.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Sequence

import numpy as np

from rara.domain.gate import LearningView
from rara.research.builtin.bandit import (
    PRIOR_N,
    SIGMA,
    ArmStats,
    History,
    LessonPriors,
    TriedParams,
    clip,
    reward,
)
from rara.research.builtin.catalogue import CATALOGUE, FILTER_ORDER
from rara.research.builtin.family import Family, family, family_name
from rara.research.builtin.space import Bias, Params, default_max_lookback
from rara.research.models import (
    BuiltinMove,
    Candidate,
    ExperimentOutcome,
    Forecast,
    Hypothesis,
    Proposal,
    ProposerContext,
    Reflection,
    builtin_origin,
)
from rara.research.ports import ProposerError
from rara.research.reflect import reflect_report

MAX_ATTEMPTS = 60
# move shares once a family has trials: explore, mutate, recombine; the rest wraps
MOVES = (0.30, 0.75, 0.90)


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
        mem = self.lesson_priors(ctx)
        bias = hist.steer.bias(mem.steer)
        arms = self._arms(cap, hist, mem)
        for attempt in range(MAX_ATTEMPTS):
            fam, params, move, parents, note = self._draw(
                ctx, hist, mem, arms, rng, cap, bias, attempt
            )
            if hist.has_tried(fam.name, params):
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
        """The fold of `outcomes`, extended from the last one when they begin with what it folded
        (the loop hands the same outcome objects again, so a pointer comparison settles it; else
        the experiment ids are compared, as they always were)."""
        h = self._fold
        n = 0 if h is None else len(h.ids)
        if h is None or n > len(outcomes) or not _same_start(outcomes, h):
            h = History(self.min_trades)
            n = 0
        for o in outcomes[n:]:
            h.add(o)
        self._fold = h
        return h

    def lesson_priors(self, ctx: ProposerContext) -> LessonPriors:
        mem = LessonPriors()
        for lesson in ctx.lessons:
            # this market counts fully, other symbols half, other timeframes half again
            w = 1.0 if lesson.symbol == ctx.symbol else 0.5
            w *= 1.0 if lesson.timeframe == ctx.timeframe else 0.5
            mem.steer.add(lesson.failed_check, w)
            vs = lesson.validation_sharpe
            if vs is not None and math.isfinite(vs):
                mem.sharpe_w += w
                mem.sharpe_total += w * clip(vs)
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
                mem.sharpes[lesson.family] = (sw + w, st + w * clip(vs))
            mem.used += 1
        return mem

    def _arms(self, cap: int, hist: History, mem: LessonPriors) -> tuple[str, ...]:
        """Catalogue families that fit the lookback cap, then any other of ours seen so far."""
        base = self._arms_cache.get(cap)
        if base is None:
            base = tuple(n for n in CATALOGUE if _fits(n, cap))
            self._arms_cache[cap] = base
        seen = {*hist.stats, *mem.priors}
        return base + tuple(sorted(n for n in seen if n not in base and _fits(n, cap)))

    # -- moves ---------------------------------------------------------------------------------

    def _thompson(
        self, hist: History, mem: LessonPriors, arms: Sequence[str], rng: np.random.Generator
    ) -> str:
        empty = ArmStats()
        post = [hist.stats.get(a, empty).posterior(mem.priors.get(a, (0.0, 0.0))) for a in arms]
        means = np.array([m for m, _ in post])
        sds = np.array([s for _, s in post])
        return arms[int(np.argmax(means + sds * rng.standard_normal(len(arms))))]

    def _parents(self, hist: History, fam: Family, k: int = 5) -> list[TriedParams]:
        """The family's best few trials that can be bred from, best validation Sharpe first."""
        out: list[TriedParams] = []
        for t in hist.trials.get(fam.name, ()):  # kept ranked (`TriedParams.rank`)
            if fam.accepts(t.params):  # e.g. an LLM candidate that reused our family name
                out.append(t)
                if len(out) == k:
                    break
        return out

    def _draw(
        self,
        ctx: ProposerContext,
        hist: History,
        mem: LessonPriors,
        arms: tuple[str, ...],
        rng: np.random.Generator,
        cap: int,
        bias: Bias,
        attempt: int,
    ) -> tuple[Family, Params, BuiltinMove, list[TriedParams], str]:
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
        mem: LessonPriors,
        arms: tuple[str, ...],
        fam: Family,
        params: Params,
        source: str,
        move: BuiltinMove,
        parents: list[TriedParams],
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
            expected = 0.5 * expected + 0.5 * clip(sum(p.sharpe for p in parents) / len(parents))
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
            origin=builtin_origin(move),
            parent=parents[0].experiment_id if parents else None,
        )


def _same_start(outcomes: list[ExperimentOutcome], h: History) -> bool:
    """Whether `outcomes` begins with the ones `h` folded: the same objects (a C-level pointer
    comparison), else the same experiment ids."""
    n = len(h.ids)
    return outcomes[:n] == h.outcomes or [o.experiment_id for o in outcomes[:n]] == h.ids


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
