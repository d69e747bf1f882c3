"""The rule-based lesson line: what a gate verdict says about one candidate, in one line of prose.

It reads a `LearningView` (the gate report minus the holdout, by construction), so nothing it
writes can carry a holdout figure. The line is for people and for the LLM's prompts; proposers
read the lesson's structured fields (failing check, validation trades), never this text.
"""

from __future__ import annotations

from collections.abc import Mapping

from rara.domain.gate import LearnableCheckName, LearningView
from rara.research.models import Candidate, JsonScalar

MAX_INSIGHT = 300
# what a failed check measured, and the comparison that failed it
LABELS: Mapping[LearnableCheckName, tuple[str, str]] = {
    "floor.sharpe": ("validation Sharpe", "<"),
    "floor.max_drawdown": ("max drawdown", ">="),
    "min_trades": ("trades", "<"),
    "costs_doubled": ("return at doubled costs", "<="),
    "deflated_sharpe": ("deflated Sharpe", "<"),
    "pbo": ("PBO", ">="),
}
LOOKAHEAD_CHECKS: frozenset[LearnableCheckName] = frozenset(
    {"lookahead.truncation", "lookahead.perturbation", "lookahead.warmup"}
)


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def short_params(params: Mapping[str, JsonScalar] | None, limit: int = 6) -> str:
    if not params:
        return ""
    items = list(params.items())
    text = " ".join(f"{k}={_fmt(v)}" for k, v in items[:limit])
    return text + (" ..." if len(items) > limit else "")


def reflect_report(candidate: Candidate, view: LearningView) -> str:
    """One line: the failed checks with their values and thresholds, or that it passed."""
    head = f"{candidate.hypothesis.family} {short_params(candidate.params)}".strip()
    val = view.validation.metrics if view.validation is not None else None
    sharpe = val.sharpe if val is not None else None
    trades = val.trades if val is not None else None
    sandbox = view.check("sandbox")
    if sandbox is not None and not sandbox.passed:
        return f"{head}: sandbox {sandbox.value}: {sandbox.detail[:160]}"
    failed = [c for c in view.checks if not c.passed and not c.skipped]
    parts: list[str] = []
    for c in failed:
        if c.name in LOOKAHEAD_CHECKS:
            parts.append(f"{c.name} failed: {c.detail[:120]}")
        elif c.name in LABELS:
            label, op = LABELS[c.name]
            if c.name == "min_trades":
                parts.append(f"{_fmt(c.value)} trades {op} {_fmt(c.threshold)}")
            elif c.value is None:
                parts.append(f"no {label} (nothing traded)")
            else:
                parts.append(f"{label} {_fmt(c.value)} {op} {_fmt(c.threshold)}")
        else:
            parts.append(f"{c.name} failed")
    if not parts:
        stats = f"validation Sharpe {_fmt(sharpe)}, {_fmt(trades)} trades"
        return f"{head}: passed research checks ({stats})"
    if sharpe is not None and not any(c.name == "floor.sharpe" for c in failed):
        parts.insert(0, f"validation Sharpe {_fmt(sharpe)}")
    return (f"{head}: " + "; ".join(parts))[:MAX_INSIGHT]
