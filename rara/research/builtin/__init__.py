"""The built-in proposer: the offline default, a real search over strategy families.

Each `propose` call is a pure function of (seed, iteration, history, lessons, timeframe), so a
resumed run redraws the same candidate for the same iteration and history:

1. **Rewards.** Every finished experiment of this run scores its family: the validation Sharpe,
   clipped to +-3, times ``share = min(1, trades / min_trades)`` (a Sharpe on 5 trades is mostly
   noise) minus ``1 - share`` (too few trades cannot pass, however good they look), +1 when it
   passed every check before the holdout (what the holdout said is never learned from); errors,
   duplicates and look-ahead/sandbox failures get fixed penalties. Lessons recalled from earlier
   runs set each family's prior the same way, weighted less than this run's own results (and less
   again for other symbols).
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

The code comes from `family` (`Family.render`) and takes the same path as LLM code (lint, sandbox,
look-ahead checks, gate), so `fix` has nothing to repair and returns None.

Modules: `space` (params and lookback rules), `catalogue` (the components and the starting
families), `family` (`Family`: sampling, mutation, crossover, rendering), `bandit` (rewards, arm
statistics, history and memory folds, steering) and `proposer` (`BuiltinProposer`).
"""

from rara.research.builtin.bandit import reward
from rara.research.builtin.proposer import BuiltinProposer

__all__ = ["BuiltinProposer", "reward"]
