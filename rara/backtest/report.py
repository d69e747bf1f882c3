"""The backtest tear sheet: one self-contained HTML file and a PNG of the equity curve.

The HTML has no scripts, stylesheets, fonts or images to fetch: CSS is inline and the charts are
inline SVG (`rara.backtest.charts`), so the file opens offline, attaches to an e-mail and archives
as one artefact. Sections, each a ``<section id=...>``: ``summary``, ``gate`` (the research
gate's verdict, when one is given), ``equity`` (strategy vs buy and hold), ``drawdown``
(underwater curves), ``trades`` (entries and exits on the price, plus a trade list), ``monthly``
(calendar-month returns, UTC), ``metrics`` (every `Metrics` field next to its buy-and-hold
counterpart), ``strategy`` (the caller's meta and params), ``costs`` and ``data`` (the range of
bars).

Curves are drawn on the bar-close time axis, starting from the initial cash at the first bar's
open, because the equity at index ``t`` is measured at bar ``t``'s close. Prices are drawn at bar
open times, which is also where signal fills happen (a stop fill inside a bar is drawn at that
bar's open time).

Determinism: the output is a pure function of the arguments (no clock, no random ids), so a
report can be regenerated and diffed; pass a timestamp in `meta` if you want one shown.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from rara.backtest import verdict
from rara.backtest.engine import EXIT_REASONS, BacktestConfig, BacktestResult
from rara.backtest.metrics import BenchmarkMetrics, Metrics
from rara.domain.gate import GateReport
from rara.domain.market import Candles, ms_to_iso
from rara.errors import BadInput

F64 = npt.NDArray[np.float64]
MS_PER_DAY = 86_400_000
MAX_TRADE_ROWS = 200  # the trade list shows the first and last 100 beyond this; the chart shows all
_TRADE_COLUMNS = (
    "#",
    "Entry (UTC)",
    "Exit (UTC)",
    "Price in",
    "Price out",
    "Bars",
    "PnL",
    "Return",
    "Reason",
)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Metrics field -> (label, format). Fields not listed here (added later) still appear, under
# their own name, formatted by value type.
_FIELDS: dict[str, tuple[str, str]] = {
    "bars": ("Bars", "int"),
    "start": ("First bar open (UTC)", "text"),
    "end": ("Last bar close (UTC)", "text"),
    "years": ("Years", "num"),
    "bars_per_day": ("Bars per day", "num"),
    "init_cash": ("Initial cash", "money"),
    "final_equity": ("Final equity", "money"),
    "total_return": ("Total return", "spct"),
    "cagr": ("CAGR", "spct"),
    "sharpe": ("Sharpe (annualised, 365 d)", "ratio"),
    "sortino": ("Sortino (annualised, 365 d)", "ratio"),
    "calmar": ("Calmar", "ratio"),
    "max_drawdown": ("Max drawdown", "pct"),
    "max_drawdown_bars": ("Longest time under a peak (bars)", "int"),
    "max_drawdown_days": ("Longest time under a peak (days)", "num"),
    "trades": ("Trades", "int"),
    "win_rate": ("Win rate", "pct"),
    "profit_factor": ("Profit factor", "ratio"),
    "avg_trade_return": ("Mean trade return", "spct"),
    "exposure": ("Exposure (bars in market)", "pct"),
    "turnover": ("Turnover (x mean equity)", "ratio"),
    "fees_paid": ("Fees paid", "money"),
    "open_at_end": ("Position open at the end", "bool"),
}


class ReportFiles(NamedTuple):
    html: Path
    png: Path


def write_report(
    path: Path,
    *,
    title: str,
    candles: Candles,
    result: BacktestResult,
    metrics: Metrics,
    benchmark_equity: np.ndarray | None = None,
    meta: dict[str, Any] | None = None,
    gate: GateReport | None = None,
) -> ReportFiles:
    """Write the HTML tear sheet to `path` and the equity-curve PNG next to it (same stem,
    ``.png``). `benchmark_equity` is the buy-and-hold curve, one value per bar; by default the
    one `rara.backtest.metrics.buy_and_hold` measures (same costs). `meta` (strategy name,
    version, params, instrument, anything JSON-able) is shown as given. `gate`, the research
    gate's report on this strategy, adds a ``gate`` section (`rara.backtest.verdict`) and marks
    the train/validation boundary on the equity charts; the candles are then train + validation
    only, the holdout withheld."""
    # Deferred: matplotlib costs ~0.3 s to import; monthly_returns and friends do not need it.
    from rara.backtest import charts

    path = Path(path)
    png = path.with_suffix(".png")
    equity, bench = _checked_curves(path, candles, result, metrics, benchmark_equity)
    cfg = result.config
    step = round(MS_PER_DAY / metrics.bars_per_day)
    ts = candles.ts.astype(np.int64)
    # Curves start at the initial cash at the first open; equity[t] is at bar t's close.
    curve_ts = np.concatenate((ts[:1], ts + step))
    init = cfg.init_cash
    strat = charts.Series(curve_ts, np.concatenate(([init], equity)))
    hold = charts.Series(curve_ts, np.concatenate(([init], bench)))
    xlim = (int(curve_ts[0]), int(curve_ts[-1]))
    t = result.trades
    marks = charts.TradeMarks(
        entry_ts=ts[t["entry_idx"]],
        entry_price=t["entry_price"].astype(np.float64),
        exit_ts=ts[t["exit_idx"]],
        exit_price=t["exit_price"].astype(np.float64),
        exit_reason=[EXIT_REASONS[int(r)] for r in t["exit_reason"]],
    )
    months = monthly_returns(ts, equity, start_equity=init)
    marks_at = verdict.boundaries(gate) if gate is not None else []
    gate_html = (
        _section("gate", "Research gate verdict", verdict.gate_section(gate))
        if gate is not None
        else None
    )

    body = "\n".join(
        (
            _header(title, metrics),
            _summary(metrics),
            *([gate_html] if gate_html else []),
            _section(
                "equity",
                "Equity vs buy &amp; hold",
                charts.equity_svg(strat, hold, xlim, marks_at),
                "Mark-to-market equity at each bar close; buy &amp; hold buys with all the cash "
                "at the first open and pays the same fee and slippage."
                + "".join(_boundary_note(b) for b in marks_at),
            ),
            _section(
                "drawdown",
                "Drawdown (underwater)",
                charts.drawdown_svg(
                    charts.Series(curve_ts, charts.underwater(strat.y, init)),
                    charts.Series(curve_ts, charts.underwater(hold.y, init)),
                    xlim,
                ),
                f"Fall from the running peak. Max drawdown {_fmt(metrics.max_drawdown, 'pct')} "
                f"(buy &amp; hold {_fmt(metrics.benchmark.max_drawdown, 'pct')}).",
            ),
            _section(
                "trades",
                "Trades on price",
                charts.trades_svg(charts.Series(ts, candles.close), marks, xlim)
                + _trade_table(result, ts),
                _trade_note(marks.exit_reason),
            ),
            _section("monthly", "Monthly returns (UTC, compounded)", _monthly_table(months)),
            _section("metrics", "Metrics", _metrics_table(metrics)),
            _section("strategy", "Strategy", _meta_table(meta)),
            _section("costs", "Costs and sizing", _costs_table(cfg, result.engine, metrics)),
            _section("data", "Data", _data_table(candles, metrics, step)),
        )
    )
    html = _PAGE.format(title=escape(title), css=_CSS, body=body)

    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(path, html.encode("utf-8"))
    _write_atomic(png, charts.equity_png(strat, hold, xlim, title, marks_at))
    return ReportFiles(html=path, png=png)


def monthly_returns(
    ts: npt.ArrayLike, equity: npt.ArrayLike, start_equity: float | None = None
) -> list[tuple[int, int, float]]:
    """``(year, month, return)`` per calendar month (UTC) that has bars, in time order.

    A bar belongs to the month of its open time ``ts`` (epoch ms); `equity` is the value at each
    bar's close. A month's return is its last equity over the previous month's last equity, minus
    one: the bar returns compounded, and months chain, so (1 + r) multiplied over a year is that
    year's return. The first month is measured from `start_equity` (the initial cash) when given,
    else from the first bar's equity. Months without bars are left out (a gap in the data)."""
    t = np.asarray(ts, dtype=np.int64)
    eq = np.asarray(equity, dtype=np.float64)
    if t.shape != eq.shape or t.ndim != 1:
        raise BadInput(
            "report_input", f"ts {t.shape} and equity {eq.shape} differ", "one value per bar"
        )
    if t.shape[0] == 0:
        return []
    month = t.astype("datetime64[ms]").astype("datetime64[M]").astype(np.int64)  # since 1970-01
    if (np.diff(month) < 0).any():
        raise BadInput("report_input", "timestamps are not sorted", "sort the bars by time")
    last = np.append(np.flatnonzero(np.diff(month)), t.shape[0] - 1)
    ends = eq[last]
    first = eq[0] if start_equity is None else float(start_equity)
    bases = np.concatenate(([first], ends[:-1]))
    out = []
    for m, end, base in zip(month[last].tolist(), ends.tolist(), bases.tolist(), strict=True):
        r = end / base - 1.0 if base > 0 else 0.0  # a wiped-out account stays at zero
        out.append((1970 + m // 12, m % 12 + 1, r))
    return out


def buy_and_hold_equity(candles: Candles, config: BacktestConfig) -> F64:
    """The buy-and-hold equity curve that `rara.backtest.metrics.buy_and_hold` summarises: all
    the cash buys at the first open x (1 + slippage) with the fee, marked at each close, sold at
    the last close x (1 - slippage) with the fee."""
    fill = candles.open[0] * (1.0 + config.slippage)
    size = config.init_cash / (fill * (1.0 + config.fee))
    equity: F64 = size * candles.close
    equity[-1] *= (1.0 - config.slippage) * (1.0 - config.fee)
    return equity


# ---------------------------------------------------------------- sections


def _checked_curves(
    path: Path,
    candles: Candles,
    result: BacktestResult,
    metrics: Metrics,
    benchmark_equity: np.ndarray | None,
) -> tuple[F64, F64]:
    """The strategy and buy-and-hold equity curves, after refusing inputs that would give a
    wrong or NaN-bearing page."""
    if path.suffix.lower() == ".png":
        raise BadInput("report_path", f"{path} is where the PNG goes", "name the report .html")
    n = len(candles)
    equity = np.asarray(result.equity, dtype=np.float64)
    if n == 0 or equity.shape != (n,) or metrics.bars != n:
        raise BadInput(
            "report_input",
            f"{n} candles, an equity curve of {equity.shape[0]} bars, metrics of {metrics.bars}",
            "pass the candles the backtest ran on and the metrics computed on them",
        )
    bench = (
        buy_and_hold_equity(candles, result.config)
        if benchmark_equity is None
        else np.asarray(benchmark_equity, dtype=np.float64)
    )
    if bench.shape != (n,):
        raise BadInput(
            "report_input",
            f"benchmark_equity has shape {bench.shape}, candles have {n} bars",
            "pass one buy-and-hold equity value per bar, or None",
        )
    if not (np.isfinite(equity).all() and np.isfinite(bench).all()):
        raise BadInput("report_input", "an equity curve has NaN or inf", "check the backtest")
    return equity, bench


def _header(title: str, m: Metrics) -> str:
    return (
        f"<header><h1>{escape(title)}</h1>"
        f"<p class=sub>{escape(m.start)} to {escape(m.end)} &middot; {m.bars:,} bars "
        f"&middot; {_bar_label(round(MS_PER_DAY / m.bars_per_day))}</p></header>"
    )


def _summary(m: Metrics) -> str:
    b = m.benchmark
    cards = (
        ("Total return", _fmt(m.total_return, "spct"), f"B&H {_fmt(b.total_return, 'spct')}"),
        ("CAGR", _fmt(m.cagr, "spct"), f"B&H {_fmt(b.cagr, 'spct')}"),
        ("Sharpe", _fmt(m.sharpe, "ratio"), f"B&H {_fmt(b.sharpe, 'ratio')}"),
        ("Max drawdown", _fmt(m.max_drawdown, "pct"), f"B&H {_fmt(b.max_drawdown, 'pct')}"),
        ("Trades", _fmt(m.trades, "int"), f"win rate {_fmt(m.win_rate, 'pct')}"),
        ("Exposure", _fmt(m.exposure, "pct"), f"fees {_fmt(m.fees_paid, 'money')}"),
    )
    inner = "".join(
        f"<div class=card><div class=k>{escape(k)}</div><div class=v>{v}</div>"
        f"<div class=b>{escape(sub)}</div></div>"
        for k, v, sub in cards
    )
    return f'<section id="summary" class=cards>{inner}</section>'


def _boundary_note(b: verdict.Boundary) -> str:
    return (
        f' <span class=boundary data-boundary="{escape(b.gid)}">The dashed line at '
        f"{_when(b.ts)} UTC divides {escape(b.before)} (left) from {escape(b.after)} (right)."
        "</span>"
    )


def _section(sid: str, heading: str, content: str, note: str = "") -> str:
    note_html = f"<p class=note>{note}</p>" if note else ""
    return f'<section id="{sid}"><h2>{heading}</h2>{note_html}\n{content}</section>'


def _trade_note(exit_reasons: Sequence[str]) -> str:
    n = len(exit_reasons)
    if n == 0:
        return "No trades: the strategy never entered a position, so equity stayed flat."
    counts = {r: exit_reasons.count(r) for r in EXIT_REASONS}
    by = ", ".join(f"{r.replace('_', ' ')} {c}" for r, c in counts.items() if c)
    return f"{n:,} trades, every one marked (exits by reason: {by}). Price line: bar closes."


def _trade_table(result: BacktestResult, ts: npt.NDArray[np.int64]) -> str:
    rows = result.trade_dicts()
    if not rows:
        return ""
    shown: list[dict[str, Any] | None] = list(rows)
    if len(rows) > MAX_TRADE_ROWS:
        half = MAX_TRADE_ROWS // 2
        shown = [*rows[:half], None, *rows[-half:]]
    head = "".join(f"<th>{h}</th>" for h in _TRADE_COLUMNS)
    body = []
    number = 0
    for d in shown:
        if d is None:
            body.append(
                f"<tr><td colspan=9 class=gap>&hellip; {len(rows) - MAX_TRADE_ROWS:,} "
                "trades not listed (all are on the chart) &hellip;</td></tr>"
            )
            number = len(rows) - MAX_TRADE_ROWS // 2
            continue
        number += 1
        cls = "pos" if d["pnl"] > 0 else "neg" if d["pnl"] < 0 else ""
        body.append(
            f"<tr class={cls or 'flat'}><td>{number}</td>"
            f"<td>{_when(int(ts[d['entry_idx']]))}</td><td>{_when(int(ts[d['exit_idx']]))}</td>"
            f"<td>{_fmt(d['entry_price'], 'price')}</td><td>{_fmt(d['exit_price'], 'price')}</td>"
            f"<td>{d['exit_idx'] - d['entry_idx']}</td><td>{_fmt(d['pnl'], 'money')}</td>"
            f"<td>{_fmt(d['ret'], 'spct')}</td><td>{escape(d['exit_reason'])}</td></tr>"
        )
    return (
        f"<details><summary>Trade list ({len(rows):,})</summary><table class=num>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></details>"
    )


def _monthly_table(months: list[tuple[int, int, float]]) -> str:
    if not months:
        return "<p class=note>No complete data.</p>"
    by_year: dict[int, dict[int, float]] = {}
    for year, month, r in months:
        by_year.setdefault(year, {})[month] = r
    # One colour scale for the whole grid, so a deep red means the same everywhere.
    scale = max(abs(r) for _, _, r in months) or 1.0
    head = "".join(f"<th>{m}</th>" for m in MONTHS)
    rows = []
    for year in sorted(by_year):
        cells = []
        for month in range(1, 13):
            got = by_year[year].get(month)
            cells.append("<td class=na></td>" if got is None else _colour_cell(got, scale))
        total = math.prod(1.0 + r for r in by_year[year].values()) - 1.0
        cells.append(_colour_cell(total, max(scale, abs(total)), cls="yr"))
        rows.append(f"<tr><th>{year}</th>{''.join(cells)}</tr>")
    return (
        f"<table class=monthly><thead><tr><th></th>{head}<th>Year</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _colour_cell(r: float, scale: float, cls: str = "m") -> str:
    alpha = 0.08 + 0.72 * min(abs(r) / scale, 1.0) if r else 0.0
    rgb = "22,163,74" if r > 0 else "220,38,38"
    return f'<td class={cls} style="background:rgba({rgb},{alpha:.3f})">{_fmt(r, "spct")}</td>'


def _metrics_table(m: Metrics) -> str:
    bench = m.benchmark.model_dump()
    rows = []
    for name in Metrics.model_fields:
        if name == "benchmark":
            continue
        value = getattr(m, name)
        label, kind = _FIELDS.get(name, (name, _kind_of(value)))
        b = _fmt(bench[name], kind) if name in bench else ""
        rows.append(
            f'<tr data-field="{name}"><th>{escape(label)}</th>'
            f"<td>{_fmt(value, kind)}</td><td>{b}</td></tr>"
        )
    for name in BenchmarkMetrics.model_fields:  # any benchmark-only field, should one appear
        if name not in Metrics.model_fields:
            value = bench[name]
            rows.append(
                f'<tr data-field="benchmark.{name}"><th>{escape(name)}</th><td></td>'
                f"<td>{_fmt(value, _kind_of(value))}</td></tr>"
            )
    return (
        "<table class=kv><thead><tr><th>Metric</th><th>Strategy</th><th>Buy &amp; hold</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        "<p class=note>n/a: undefined (no trades, no losses, a flat curve or too short a span)."
        "</p>"
    )


def _meta_table(meta: dict[str, Any] | None) -> str:
    if not meta:
        return "<p class=note>No strategy metadata was given.</p>"
    rows = "".join(
        f"<tr><th>{escape(str(k))}</th><td><code>{escape(_meta_value(v))}</code></td></tr>"
        for k, v in meta.items()
    )
    return f"<table class=kv><tbody>{rows}</tbody></table>"


def _costs_table(cfg: BacktestConfig, engine: str, m: Metrics) -> str:
    rows = (
        ("Initial cash", _fmt(cfg.init_cash, "money")),
        ("Fee per side (of notional)", _fmt(cfg.fee, "pct3")),
        ("Slippage per fill", _fmt(cfg.slippage, "pct3")),
        ("Share of cash per entry", _fmt(cfg.size_fraction, "pct")),
        ("Fees paid", _fmt(m.fees_paid, "money")),
        ("Simulator kernel", escape(engine)),
        ("Fills", "a signal on a bar fills at the next bar's open; long only, one position"),
    )
    return _kv(rows)


def _data_table(c: Candles, m: Metrics, step: int) -> str:
    hi = c.high.max()
    expected = (int(c.ts[-1]) - int(c.ts[0])) // step + 1 if step > 0 else len(c)
    rows = (
        ("First bar open (UTC)", escape(m.start)),
        ("Last bar close (UTC)", escape(m.end)),
        ("Bars", f"{len(c):,}"),
        ("Bar length", _bar_label(step)),
        ("Missing bars in the range", f"{max(expected - len(c), 0):,}"),
        ("Span (years)", _fmt(m.years, "num")),
        ("First open / last close", f"{_fmt(c.open[0], 'price')} / {_fmt(c.close[-1], 'price')}"),
        ("Lowest low / highest high", f"{_fmt(c.low.min(), 'price')} / {_fmt(hi, 'price')}"),
    )
    return _kv(rows)


# ---------------------------------------------------------------- formatting


def _kv(rows: tuple[tuple[str, str], ...]) -> str:
    body = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table class=kv><tbody>{body}</tbody></table>"


def _fmt(value: Any, kind: str) -> str:
    """One value for the page; None and non-finite numbers read "n/a" (never nan/inf)."""
    if value is None:
        return "n/a"
    if kind == "bool":
        return "yes" if value else "no"
    if kind == "text" or isinstance(value, str):
        return escape(str(value))
    v = float(value)
    if not math.isfinite(v):
        return "n/a"
    v = v + 0.0  # no "-0.00"
    if kind == "int":
        return f"{int(v):,}"
    if kind in ("pct", "spct", "pct3"):
        digits = 3 if kind == "pct3" else 2
        text = f"{v * 100:{'+' if kind == 'spct' else ''},.{digits}f}%"
        return "0.00%" if text in ("+0.00%", "-0.00%") else text
    if kind == "money":
        return f"{v:,.2f}"
    if kind == "price":
        return f"{v:,.2f}" if abs(v) >= 1 else f"{v:.6g}"
    if kind == "ratio":
        return f"{v:,.2f}"
    return f"{v:,.4g}" if abs(v) < 1e6 else f"{v:,.0f}"


def _kind_of(value: Any) -> str:
    return "bool" if isinstance(value, bool) else "int" if isinstance(value, int) else "num"


def _meta_value(v: Any) -> str:
    if isinstance(v, str):
        return v
    # sort_keys: dicts built in a different order still give the same bytes
    return json.dumps(_finite(v), sort_keys=True, default=str)


def _finite(v: Any) -> Any:
    """JSON-able meta with NaN/inf spelled "n/a", so the page never shows NaN."""
    if isinstance(v, float) and not math.isfinite(v):
        return "n/a"
    if isinstance(v, dict):
        return {str(k): _finite(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_finite(x) for x in v]
    return v


def _when(ms: int) -> str:
    iso = ms_to_iso(ms)  # 2024-01-02T16:00:00Z -> 2024-01-02 16:00 (bars start on the minute)
    return f"{iso[:10]} {iso[11:16]}"


def _bar_label(ms: int) -> str:
    for unit, size in (("w", 604_800_000), ("d", MS_PER_DAY), ("h", 3_600_000), ("m", 60_000)):
        if ms >= size and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms / 1000:g}s"


def _write_atomic(path: Path, data: bytes) -> None:
    """Readers (a browser, a file watcher) never see half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
{body}
<footer>rara backtest tear sheet &middot; self-contained: no scripts, no network.</footer>
</body>
</html>
"""

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1d1f;
max-width:1080px;margin:0 auto;padding:24px;background:#fff}
h1{font-size:22px;margin:0}h2{font-size:17px;margin:28px 0 6px;border-bottom:1px solid #e3e3e3}
.sub,.note,footer{color:#666;font-size:13px}.note{margin:4px 0 8px}footer{margin-top:32px}
svg.chart{width:100%;height:auto;display:block}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;
margin-top:16px}.card{border:1px solid #e3e3e3;border-radius:6px;padding:8px 12px}
.card .k{color:#666;font-size:12px}.card .v{font-size:20px;font-weight:600}
.card .b{color:#888;font-size:12px}
table{border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums}
th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:right}
table.kv th{text-align:left;font-weight:500;color:#444}table.kv td{text-align:left}
table.monthly td.na{background:#fafafa}table.monthly td.yr{font-weight:600}
table.num tr.pos td:nth-child(7){color:#15803d}table.num tr.neg td:nth-child(7){color:#b91c1c}
td.gap{text-align:center;color:#888}details{margin-top:10px}summary{cursor:pointer}
table.gate tr.ok td:nth-child(4){color:#15803d}table.gate tr.bad td:nth-child(4){color:#b91c1c;
font-weight:600}table.gate tr.na td{color:#888}table.gate th{text-align:left}
table.gate td.detail{text-align:left;color:#666;max-width:420px}.verdict{font-size:15px}
code{font:12px ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;word-break:break-all}
"""
