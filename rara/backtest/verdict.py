"""The research gate's verdict on a tear sheet: the ``gate`` section (every check with its value,
threshold and result) and where the train/validation boundary falls on the equity chart.

A research tear sheet covers train + validation only. The holdout is withheld: its checks are
listed by name with "withheld" in place of value, threshold and result, and the page says which
bars the holdout holds without showing any of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Any

from rara.domain.gate import HOLDOUT_CHECKS, WITHHELD, GateCheck, GateReport
from rara.domain.market import parse_utc


@dataclass(frozen=True)
class Boundary:
    """A vertical marker on the equity chart at `ts` (epoch ms), `before` and `after` naming the
    segments it divides."""

    ts: int
    before: str
    after: str

    @property
    def gid(self) -> str:
        """The marker's SVG id (before the chart's prefix)."""
        return f"boundary-{self.before}-{self.after}"


def boundaries(gate: GateReport) -> list[Boundary]:
    """The train/validation boundary: the first validation bar's open, which is the last train
    bar's close (where the equity curve's point for it is drawn)."""
    dates = (gate.split or {}).get("validation_dates")
    if not dates:
        return []
    return [Boundary(parse_utc(str(dates[0])), "train", "validation")]


def holdout_note(gate: GateReport) -> str:
    """One sentence saying the holdout was withheld, with its date range when known."""
    split = gate.split or {}
    dates, rows = split.get("holdout_dates"), split.get("holdout")
    where = ""
    if dates:
        where = f" (bars opening {_day_time(str(dates[0]))} to {_day_time(str(dates[1]))} UTC"
        where += f", {int(rows[1]) - int(rows[0]):,} bars)" if rows else ")"
    return (
        f"Holdout withheld{where}: not shown on this page; its checks' values are withheld too, "
        "so it stays an unbiased test."
    )


def gate_section(gate: GateReport) -> str:
    """The inner HTML of the ``gate`` section."""
    shown_failed = [n for n in gate.failed if n not in HOLDOUT_CHECKS]
    verdict = gate.decision.replace("_", " ")
    failed = f" &middot; failed: {escape(', '.join(shown_failed))}" if shown_failed else ""
    rows = "".join(_row(c) for c in gate.checks)
    return (
        f'<p class=verdict data-decision="{escape(gate.decision)}">Gate verdict: '
        f"<b>{escape(verdict)}</b>{failed} &middot; {gate.n_trials:,} trial(s) counted</p>"
        "<table class=gate><thead><tr><th>Check</th><th>Value</th><th>Threshold</th>"
        f"<th>Result</th><th>Detail</th></tr></thead><tbody>{rows}</tbody></table>"
        f"<p class=note id=holdout-withheld>{escape(holdout_note(gate))}</p>"
    )


def _row(c: GateCheck) -> str:
    if c.name in HOLDOUT_CHECKS:
        value = threshold = result = detail = WITHHELD
    else:
        value, threshold, detail = _value(c.value), _value(c.threshold), c.detail
        result = "skipped" if c.skipped else "pass" if c.passed else "FAIL"
    cls = {"pass": "ok", "FAIL": "bad"}.get(result, "na")
    return (
        f'<tr class={cls} data-check="{escape(c.name)}" data-result="{result.lower()}">'
        f"<th>{escape(c.name)}</th><td>{escape(value)}</td><td>{escape(threshold)}</td>"
        f"<td>{result}</td><td class=detail>{escape(detail)}</td></tr>"
    )


def _value(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.4g}" if math.isfinite(v) else "n/a"
    return str(v)


def _day_time(iso: str) -> str:
    return f"{iso[:10]} {iso[11:16]}"
