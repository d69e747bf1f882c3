"""How many trials competed for a promotion, how many of them were effectively independent, and
the spread of their Sharpe ratios: the N and V of the deflated Sharpe ratio.

The false strategy theorem (Bailey, Borwein, López de Prado & Zhu 2014; López de Prado & Lewis
2019) prices selection: the best of N skill-less trials whose Sharpe estimates vary with variance
V shows ``E[max SR] = sqrt(V)·Z(N)`` by luck alone. It holds for independent trials; real trials
are not (a parameter tweak barely moves the returns), so López de Prado clusters the trials'
return series by correlation, takes N as the number of clusters and V as the variance of the
clusters' Sharpe ratios. Counted naively, 1,000 near-duplicates of one strategy raise N a little
and shrink V a lot, and a weak candidate's DSR rises; clustered, they are one trial.

**The clustering** (`leader_clusters`): in the order the trials were made, a trial joins the
most correlated of the cluster leaders made before it when that correlation is at least
`CLUSTER_CORRELATION` (0.9), else it leads a new cluster. Two trials
correlated at 0.9 over T bars have Sharpe estimates whose difference has a standard deviation of
at most ``sqrt(2·0.1/T)``, under half the standard error of either: choosing between them buys
less than half a standard error of luck, so they are one trial. A cluster is a ball around its
leader (members correlate at least ``2·0.9² - 1 = 0.62`` with each other), so chains of bridging
trials cannot merge independent strategies into one cluster, and trials that are not near
duplicates each count. ONC proper (k-means over every k, scored by silhouettes) is not used: it
holds an n x n matrix and runs k-means per k, which does not scale to 10,000 trials, and on
weakly correlated trials it finds a few broad clusters, which would let someone who tried
thousands of independent strategies be deflated as if they had tried a handful. Leader clustering
is sequential in trial order, so the clusters of the trials made so far never change when more
trials come (trials are append-only), and the result does not depend on how the work is blocked.

**Groups**: trials are correlated only over the same bars, so they are grouped by market and
segment bounds (exchange, symbol, timeframe, start, end) and clustered within a group. A trial
stores its per-bar returns, not the bars' timestamps, and candles may have gaps, so aligning two
different ranges on common timestamps could pair the wrong bars. Trials in different groups are
counted as independent of each other: that over-counts N (the safe direction: a higher bar) and
gives no way to lower it.

**V**: each cluster's Sharpe is its leader's per-period Sharpe (every member's is within half a
standard error of it, and trials joining a cluster then move neither N nor V; never-traded trials
have none and join no cluster), converted to the candidate's bar length (a per-period Sharpe
scales with the square root of the period). V is the variance across clusters. It is
floored at the sampling variance of a skill-less Sharpe estimate over the candidate's T returns,
``1/(T-1)`` (the PSR's own denominator at SR = 0): the spread that luck alone gives, so few
clusters, a fresh home or padding with trials that all show the same Sharpe cannot make V, and
the bar, vanish. N is floored by `gates.research.min_trials` (trials made outside rara).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from rara.domain.gate import TrialCount, VarianceSource
from rara.domain.market import Timeframe
from rara.validation.trials import TrialReturns, TrialStore

__all__ = [
    "CLUSTER_CORRELATION",
    "GroupClusters",
    "TrialCounter",
    "count_trials",
    "leader_clusters",
    "null_sharpe_variance",
]

CLUSTER_CORRELATION = 0.9
_BLOCK = 512  # trials compared with the leaders at once: bounds memory, not the result

F64 = npt.NDArray[np.float64]


def _standardised(returns: F64) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """Columns scaled to mean 0 and unit norm (the dot product of two is their correlation),
    and which columns had any variance (a flat one has no correlation and no Sharpe)."""
    r = np.asarray(returns, dtype=np.float64)
    keep = np.ptp(r, axis=0) > 0 if r.shape[0] else np.zeros(r.shape[1], dtype=np.bool_)
    centred = r[:, keep] - r[:, keep].mean(axis=0)
    z = centred / np.sqrt(np.einsum("ij,ij->j", centred, centred))
    return z.astype(np.float32), keep


class GroupClusters:
    """Leader clustering of the trials over one set of bars, grown as trials are made: a trial's
    cluster depends only on the trials before it, so adding trials never moves an earlier one.
    Keeps the leaders' standardised returns and Sharpe ratios."""

    def __init__(self, n_obs: int, period_ms: int, threshold: float = CLUSTER_CORRELATION) -> None:
        self.n_obs, self.period_ms, self.threshold = n_obs, period_ms, threshold
        self._leaders = np.empty((0, n_obs), dtype=np.float32)  # one row per leader
        self._leader_sharpes: list[float] = []
        self.k = 0
        self.trials = 0  # trials added, flat ones included

    def add(self, returns: F64, sharpes: F64) -> npt.NDArray[np.int64]:
        """Cluster the next trials (columns of ``returns``, T x m, in trial order, with their
        per-period Sharpe ratios; NaN: none); returns the labels of those that have variance."""
        z, keep = _standardised(returns)
        self.trials += int(keep.size)
        s = np.asarray(sharpes, dtype=np.float64)[keep]
        labels = np.empty(z.shape[1], dtype=np.int64)
        for lo in range(0, z.shape[1], _BLOCK):
            block = slice(lo, lo + _BLOCK)
            labels[block] = self._add_block(z[:, block], s[block])
        return labels

    def _add_block(self, block: npt.NDArray[np.float32], sharpes: F64) -> npt.NDArray[np.int64]:
        """One block: compared with every earlier leader in one product; the block's own new
        leaders found in order; then each trial assigned among the leaders made before it, so
        the labels are those of the one-at-a-time definition whatever the block size."""
        width, k, thr = block.shape[1], self.k, self.threshold
        old = self._leaders[:k] @ block  # k x width
        best_old = old.max(axis=0) if k else np.full(width, -np.inf, dtype=np.float32)
        open_ = np.flatnonzero(best_old < thr)  # trials no earlier leader reaches
        mutual = block[:, open_].T @ block[:, open_]
        chosen: list[int] = []  # indices into open_, in trial order
        for a in range(open_.size):
            if not chosen or mutual[chosen, a].max() < thr:
                chosen.append(a)
        new = open_[chosen]  # positions within the block
        if k + new.size > self._leaders.shape[0]:
            rows = max(2 * self._leaders.shape[0], k + new.size, 64)
            grown = np.empty((rows, self.n_obs), dtype=np.float32)
            grown[:k] = self._leaders[:k]
            self._leaders = grown
        self._leaders[k : k + new.size] = block[:, new].T
        self._leader_sharpes.extend(float(x) for x in sharpes[new])
        fresh = block[:, new].T @ block  # new.size x width
        # a trial may join only a leader made before it; a leader is its own cluster's
        fresh[new[:, None] > np.arange(width)[None, :]] = -np.inf
        fresh[np.arange(new.size), new] = np.inf
        self.k += int(new.size)
        return np.asarray(np.vstack([old, fresh]).argmax(axis=0), dtype=np.int64)

    def sharpes(self) -> F64:
        """Each cluster's Sharpe: its leader's (NaN where a leader had none)."""
        return np.array(self._leader_sharpes, dtype=np.float64)


def leader_clusters(
    returns: F64, threshold: float = CLUSTER_CORRELATION
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Cluster labels (0..k-1, in order of the leaders) of the columns of ``returns`` (T x n, in
    trial order) that have any variance, and which columns those are."""
    group = GroupClusters(returns.shape[0], 1, threshold)
    labels = group.add(returns, np.zeros(returns.shape[1]))
    return labels, _standardised(returns)[1]


def null_sharpe_variance(n_obs: int) -> float:
    """The variance of a skill-less per-period Sharpe estimate over ``n_obs`` returns:
    ``1/(T-1)``, the PSR's denominator at a Sharpe of zero."""
    return 1.0 / max(n_obs - 1, 1)


def count_trials(
    groups: Iterable[GroupClusters],
    *,
    raw: int,
    floor: int,
    period_ms: int,
    n_obs: int,
    scope: str,
    variance: VarianceSource = "null",
) -> TrialCount:
    """The trial count the DSR uses for a candidate with ``n_obs`` validation returns on bars of
    ``period_ms``: N = max(clusters over every group, ``floor``), and V by ``variance``:

    - ``null`` (the default): 1/(T-1), the variance of a zero-edge trial's Sharpe estimate over
      T bars. That is the false strategy theorem's premise (every trial's true Sharpe is zero,
      so their spread is luck), and padding cannot lower it;
    - ``clusters``: the larger of that and the variance of the clusters' Sharpe ratios in the
      candidate's units. Stricter: the spread across a search's trials is mostly real (costs,
      time in the market, trend exposure), 3-12x the null on planted-edge data, and deflating by
      it prices out an edge the other checks can see (see the README's "How much history").

    Both variances are reported."""
    groups = list(groups)
    per_cluster = [g.sharpes() * math.sqrt(period_ms / g.period_ms) for g in groups]
    effective = sum(g.k for g in groups)
    sharpes = np.concatenate(per_cluster) if per_cluster else np.empty(0)
    sharpes = sharpes[np.isfinite(sharpes)]
    cluster_var = float(np.var(sharpes, ddof=1)) if sharpes.size > 1 else 0.0
    null_var = null_sharpe_variance(n_obs)
    return TrialCount(
        raw=raw,
        effective=float(effective),
        floor=floor,
        used=float(max(effective, floor, 1)),
        sharpe_variance=max(cluster_var, null_var) if variance == "clusters" else null_var,
        cluster_variance=cluster_var,
        null_variance=null_var,
        variance_source=variance,
        scope=scope,
    )


class TrialCounter:
    """The home's validation trials (every market), clustered as they are recorded: each
    `count` reads only the trials made since the last one, so a research run clusters each
    trial once, and a fresh process pays for the home's history once."""

    def __init__(self, trials: TrialStore, threshold: float = CLUSTER_CORRELATION) -> None:
        self.trials, self.threshold = trials, threshold
        self._groups: dict[tuple[str, str, str, int, int, int], GroupClusters] = {}
        self._seq = 0

    def _update(self) -> None:
        rows = self.trials.returns_since(self._seq, "validation")
        if not rows:
            return
        new: dict[tuple[str, str, str, int, int, int], list[TrialReturns]] = {}
        for row in rows:
            new.setdefault(row.bars, []).append(row)
        for bars, group_rows in new.items():
            group = self._groups.get(bars)
            if group is None:
                period = Timeframe.parse(bars[2]).ms
                group = self._groups[bars] = GroupClusters(bars[5], period, self.threshold)
            returns = np.column_stack([r.returns for r in group_rows])
            sharpes = np.array([np.nan if r.sharpe is None else r.sharpe for r in group_rows])
            group.add(returns, sharpes)
        self._seq = rows[-1].seq

    def count(
        self, *, floor: int, period_ms: int, n_obs: int, variance: VarianceSource = "null"
    ) -> TrialCount:
        """`count_trials` over every validation trial recorded so far."""
        self._update()
        raw = sum(g.trials for g in self._groups.values())
        scope = (
            f"validation trials on every market of this home: {raw} over "
            f"{len(self._groups)} sets of bars"
        )
        return count_trials(
            self._groups.values(),
            raw=raw,
            floor=floor,
            period_ms=period_ms,
            n_obs=n_obs,
            scope=scope,
            variance=variance,
        )
