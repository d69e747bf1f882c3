"""What a research run's JSON summary says about its candidates: one compact line per experiment
(its failing check, measured value against threshold, and validation trade count), the best
candidate among those with enough trades to be judged, and the commands to try next.

"Best" is never a fluke: a candidate with fewer validation trades than the gate's ``min_trades``
floor has a Sharpe ratio that says little, and one that failed a look-ahead or determinism check
was not a fair strategy at all, so neither can be best. When no candidate qualifies the summary
says so and names the closest one (the most validation trades) instead.

Holdout values never appear here: a holdout check that failed is named, its value withheld.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rara.credentials import LLM_KEY_ENV
from rara.domain.gate import HOLDOUT_CHECKS, WITHHELD
from rara.domain.market import Instrument
from rara.research.store import Experiment

# A candidate that failed one of these was not judged on its merit: its numbers are not a fair
# strategy's (it read the future, or gave different signals on the same bars).
_UNFAIR_PREFIXES = ("lookahead", "determinism", "sandbox", "meta.timeframe")
_DIGITS = 4  # numbers in the candidate list: enough to compare, short enough to scan
# the example model the LLM command names when no llm.model is set (the repo's own example)
EXAMPLE_MODEL = "openai/gpt-4o-mini"


def candidate_lines(experiments: Sequence[Experiment]) -> list[dict[str, Any]]:
    """One compact row per experiment, in iteration order."""
    return [_line(e) for e in sorted(experiments, key=lambda e: e.iteration)]


def _line(e: Experiment) -> dict[str, Any]:
    failed = _failed_check(e)
    return {
        "iteration": e.iteration,
        "experiment_id": e.experiment_id,
        "family": e.family,
        "outcome": e.outcome,
        "failed_check": e.failed_check,
        "failed_value": failed[0],
        "failed_threshold": failed[1],
        "validation_trades": e.validation_trades,
        "validation_sharpe": _round(e.validation_sharpe),
    }


def _failed_check(e: Experiment) -> tuple[Any, Any]:
    """The failing check's (value, threshold) from the gate report; withheld for a holdout
    check, None where the failure is no gate check (sandbox, proposer, duplicate)."""
    if e.failed_check is None:
        return None, None
    if e.failed_check in HOLDOUT_CHECKS:
        return WITHHELD, WITHHELD
    checks = (e.report or {}).get("checks") or []
    check = next((c for c in checks if c.get("name") == e.failed_check), None)
    if check is None:
        return None, None
    return _round(check.get("value")), _round(check.get("threshold"))


def _round(v: Any) -> Any:
    return round(v, _DIGITS) if isinstance(v, float) else v


def _failed_names(e: Experiment) -> list[str]:
    failed = (e.report or {}).get("failed")
    if isinstance(failed, list):
        return [str(n) for n in failed]
    return [e.failed_check] if e.failed_check else []


def _fair(e: Experiment) -> bool:
    """No look-ahead, determinism, sandbox or timeframe failure: its numbers are a strategy's."""
    return not any(n.startswith(_UNFAIR_PREFIXES) for n in _failed_names(e))


def judged(e: Experiment, min_trades: int) -> bool:
    """Enough validation trades to be judged, a validation Sharpe, and no unfair-play failure."""
    return e.validation_sharpe is not None and (e.validation_trades or 0) >= min_trades and _fair(e)


def best_section(experiments: Sequence[Experiment], min_trades: int) -> dict[str, Any]:
    """The summary's keys about the run's best candidate: ``best`` (or None), ``best_why`` and
    ``closest`` (the candidate with the most validation trades, when there is no best; else
    None)."""
    pool = [e for e in experiments if judged(e, min_trades)]
    best = max(pool, key=lambda e: (e.validation_sharpe or 0.0, -e.iteration), default=None)
    if best is not None:
        why = (
            f"highest validation Sharpe of the {len(pool)} candidate(s) with at least "
            f"{min_trades} validation trades (the gate's min_trades) and no look-ahead or "
            "determinism failure"
        )
        return {"best": _brief(best), "best_why": why, "closest": None}
    closest = max(
        filter(_fair, experiments),
        key=lambda e: (
            e.validation_trades or 0,
            e.validation_sharpe or float("-inf"),
            -e.iteration,
        ),
        default=None,
    )
    if closest is None or not closest.validation_trades:
        why = f"no candidate made a validation trade (the gate needs {min_trades})"
        return {"best": None, "best_why": why, "closest": None}
    why = (
        f"no candidate had the {min_trades} validation trades the gate needs to judge it; the "
        f"closest, {closest.experiment_id}, had {closest.validation_trades}"
    )
    return {"best": None, "best_why": why, "closest": _brief(closest)}


def _brief(e: Experiment) -> dict[str, Any]:
    return {
        "experiment_id": e.experiment_id,
        "iteration": e.iteration,
        "family": e.family,
        "outcome": e.outcome,
        "failed_check": e.failed_check,
        "validation_sharpe": e.validation_sharpe,
        "validation_trades": e.validation_trades,
    }


def strategy_file_of(report: Path) -> Path:
    """Where the best candidate's source is written, beside its tear sheet."""
    return report.with_suffix(".py")


def next_commands(
    summary: dict[str, Any],
    inst: Instrument,
    iterations: int,
    model: str | None,
    report: Path | None,
    best: Experiment | None,
) -> list[dict[str, str]]:
    """The commands to try after this run, each ``{"do": why, "command": shell text}``. The
    backtest of the best candidate (`report` its tear sheet) ends where the holdout starts, so
    trying the next command does not spend the holdout."""
    market = ["--symbol", inst.symbol, "--timeframe", str(inst.timeframe)]
    out: list[dict[str, str]] = []
    pick = summary.get("best") or summary.get("closest")
    if pick:
        what = "the best candidate" if summary.get("best") else "the closest candidate"
        out.append(
            _cmd(
                f"{what} in full: source, gate report, LLM calls",
                ["research", "show", "--experiment-id", pick["experiment_id"]],
            )
        )
    if report is not None and best is not None:
        args = ["backtest", "run", str(strategy_file_of(report)), *market]
        holdout = ((best.report or {}).get("split") or {}).get("holdout_dates")
        if holdout:
            args += ["--end", str(holdout[0])]
        if best.params:
            args += ["--params", _json(best.params)]
        out.append(
            _cmd(
                "backtest the best candidate's source on train + validation (holdout kept out)",
                args,
            )
        )
    out.append(_cmd("every experiment of this run and earlier ones", ["research", "list"]))
    out.append(
        _cmd(
            "continue this run with as many iterations again",
            ["research", "run", "--resume", summary["run_id"], "--iterations", str(2 * iterations)],
        )
    )
    llm = [
        "research",
        "run",
        "--proposer",
        "llm",
        "--model",
        model or EXAMPLE_MODEL,
        *market,
        "--iterations",
        "10",
        "--max-cost-usd",
        "1",
    ]
    out.append(_cmd(f"let an LLM propose (needs {LLM_KEY_ENV}; capped at $1)", llm))
    return out


def next_steps_text(summary: dict[str, Any]) -> str:
    """The human block on stderr: the best candidate (or why there is none), its tear sheet,
    and each next command under what it does."""
    best = summary.get("best")
    if best:
        lines = [
            f"Best: {best['experiment_id']} (validation Sharpe {best['validation_sharpe']:.2f} "
            f"on {best['validation_trades']} trades, {best['outcome']})"
        ]
    else:
        lines = [f"No best candidate: {summary.get('best_why', '')}"]
    if summary.get("best_report"):
        lines.append(f"Tear sheet: {summary['best_report']}")
    lines.append("Next:")
    for c in summary.get("next_commands", []):
        lines += [f"  # {c['do']}", f"  {c['command']}"]
    return "\n".join(lines)


def _cmd(do: str, args: list[str]) -> dict[str, str]:
    return {"do": do, "command": shlex.join(["rara", *args])}


def _json(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"))
