"""Feedback: where each strategy stands in its lifecycle and what moves it.

- `lifecycle`: the stages projected from the event log, and `move` / `hold`, which append the
  events that change them (every move checked against `rara.domain.lifecycle.MOVES`);
- `metrics`: annualised results from a run's ledger equity marks (not per-trade averages);
- `runs`: a trading run as feedback reads it from the log, and its backtest over the same bars;
- `gate2`: paper -> live candidate: duration, trades, Sharpe, drawdown, agreement with the
  backtest over the same bars;
- `evaluator`: judges paper and live strategies on an interval: gate 2, demotion on drawdown,
  on a critical sentinel signal, on live results below a fraction of the backtest's; a demotion
  asks research for a successor (``feedback_research_retrain_requested``), which
  `rara.research.retrain` takes up;
- `component`: the evaluator as a daemon component, a pass every interval.
"""
