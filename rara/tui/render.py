"""Text for the panes: gate reports, check values, trading states. Pure functions of the
proto messages, so a test reads them without a terminal."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from rara.v1 import rara_pb2 as pb

TRADING_STATES = {
    pb.TRADING_STATE_UNSPECIFIED: "UNKNOWN",
    pb.TRADING_STATE_ACTIVE: "ACTIVE",
    pb.TRADING_STATE_REDUCING: "REDUCING",
    pb.TRADING_STATE_HALTED: "HALTED",
}

COMPONENT_STATES: dict[int, str] = {
    int(value): name.removeprefix("COMPONENT_STATE_").lower()
    for name, value in pb.ComponentState.items()
}


def trading_state(state: int) -> str:
    return TRADING_STATES.get(pb.TradingState.ValueType(state), "UNKNOWN")


def check_value(value: pb.CheckValue, has: bool) -> str:
    if not has:
        return "-"
    kind = value.WhichOneof("value")
    if kind == "number":
        return f"{value.number:.4g}"
    if kind == "flag":
        return "yes" if value.flag else "no"
    if kind == "text":
        return value.text
    return "-"


def gate_report(report: pb.GateReport, title: str) -> str:
    """A gate report as lines: verdict, then one line per check with value and threshold."""
    if not report.gate and not report.checks:
        return f"{title}: no report"
    verdict = "PASSED" if report.passed else "FAILED"
    lines = [f"{title} ({report.gate}): {verdict}  {report.decision}".rstrip()]
    if report.failed:
        lines.append("  failed: " + ", ".join(report.failed))
    for c in report.checks:
        mark = "skip" if c.skipped else ("ok" if c.passed else "FAIL")
        value = check_value(c.value, c.HasField("value"))
        threshold = check_value(c.threshold, c.HasField("threshold"))
        lines.append(f"  {mark:4} {c.name:<22} {value:>10}  vs {threshold}")
    return "\n".join(lines)


def short(text: str, n: int = 12) -> str:
    return text if len(text) <= n else text[:n]


def money(text: str, places: int = 2) -> str:
    """A decimal string as the ledger keeps it, shown to `places` (the exact value stays in
    the ledger); empty or not a number: as given."""
    try:
        return f"{Decimal(text):,.{places}f}" if text else "-"
    except InvalidOperation:
        return text


def quantity(text: str) -> str:
    """A quantity to 8 places, trailing zeros dropped."""
    try:
        value = Decimal(text).quantize(Decimal("1e-8"))
    except InvalidOperation:
        return text or "-"
    shown = format(value.normalize(), "f")
    return "0" if shown in ("-0", "") else shown
