"""The HTML tear sheet and equity PNG: sections, offline-ness, determinism, size on big inputs,
edge cases, the monthly-returns arithmetic against a hand-computed example, and a research
candidate's sheet (the gate verdict, the train/validation boundary, the holdout withheld)."""

from __future__ import annotations

import math
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from rara.backtest import BacktestConfig, BacktestResult, Metrics, compute_metrics, run_backtest
from rara.backtest.charts import minmax_indices, underwater
from rara.backtest.report import ReportFiles, buy_and_hold_equity, monthly_returns, write_report
from rara.data.synth import generate
from rara.domain.market import Candles, parse_utc
from rara.errors import BadInput
from rara.validation.splits import split_by_fractions
from tests.backtest.helpers import sma_cross
from tests.kit.gate_reports import HOLDOUT_TRIAL, with_holdout
from tests.kit.gate_reports import report as gate_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHART_SECTIONS = ("equity", "drawdown", "trades")
ALL_SECTIONS = ("summary", *CHART_SECTIONS, "monthly", "metrics", "strategy", "costs", "data")
META = {"strategy": "sma_cross", "version": "1.0.0", "params": {"slow": 40, "fast": 10}}


class Page(HTMLParser):
    """What the tests need from a page, gathered by the standard library's HTML parser."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: dict[str, str] = {}  # id -> text content
        self.svgs: dict[str, int] = {}  # section id -> inline <svg> count
        self.links: list[str] = []  # every src/href value
        self.fields: list[str] = []  # data-field of the metrics rows
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.links += [v or "" for k, v in attrs if k in ("src", "href", "xlink:href")]
        if tag == "section":
            sid = a.get("id") or ""
            self._open.append(sid)
            self.sections[sid] = ""
        elif tag == "svg" and self._open:
            self.svgs[self._open[-1]] = self.svgs.get(self._open[-1], 0) + 1
        if "data-field" in a:
            self.fields.append(a["data-field"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open:
            self.sections[self._open[-1]] += data


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    assert page._open == [], "a <section> was left open"
    return page


def backtest(
    candles: Candles, fast: int = 10, slow: int = 40, **kw: float
) -> tuple[BacktestResult, Metrics]:
    result = run_backtest(candles, *sma_cross(candles.close, fast, slow), BacktestConfig(), **kw)
    return result, compute_metrics(result, candles)


def render(tmp: Path, candles: Candles, result: BacktestResult, metrics: Metrics) -> ReportFiles:
    return write_report(
        tmp / "report.html",
        title="SMA 10/40 on BTC/USDT 1h ($, <b>, & escaped)",
        candles=candles,
        result=result,
        metrics=metrics,
        meta=META,
    )


def section_svgs(html: str) -> dict[str, str]:
    out = {}
    for sid in CHART_SECTIONS:
        start = html.index(f'<section id="{sid}"')
        chunk = html[start : html.index("</section>", start)]
        out[sid] = chunk[chunk.index("<svg") : chunk.index("</svg>") + len("</svg>")]
    return out


def assert_offline_and_finite(html: str) -> None:
    # Not even a namespace URI: nothing in the file can be mistaken for something to fetch.
    assert "http://" not in html and "https://" not in html
    assert "//" not in " ".join(parse(html).links)
    assert all(link.startswith("#") for link in parse(html).links)
    assert "<script" not in html.lower() and "@import" not in html and "url(http" not in html
    text = re.sub(r"<[^>]+>", " ", html)  # visible text only
    assert not re.search(r"\b(nan|inf|infinity)\b", text, re.I), "a NaN/inf reached the page"


# ---------------------------------------------------------------- real candles


Real = tuple[ReportFiles, Metrics]


@pytest.fixture
def real(btc_1h: Candles, tmp_path: Path) -> Real:
    result, metrics = backtest(btc_1h, stop_loss=0.03)
    assert metrics.trades > 20  # the report below is about a strategy that trades
    return render(tmp_path, btc_1h, result, metrics), metrics


def test_report_on_real_candles(real: Real) -> None:
    files, metrics = real
    assert files.html.name == "report.html" and files.png == files.html.with_suffix(".png")
    assert files.png.read_bytes().startswith(PNG_SIGNATURE)
    html = files.html.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "<b>" not in html and "&lt;b&gt;, &amp; escaped" in html  # the title is text
    page = parse(html)
    assert tuple(page.sections) == ALL_SECTIONS
    assert {sid: page.svgs.get(sid) for sid in CHART_SECTIONS} == dict.fromkeys(CHART_SECTIONS, 1)
    assert_offline_and_finite(html)
    # every metric is in the table, and the page names the data range, costs and meta
    assert page.fields == [f for f in Metrics.model_fields if f != "benchmark"]
    assert metrics.start in page.sections["data"] and metrics.end in page.sections["data"]
    assert "0.100%" in page.sections["costs"] and "0.050%" in page.sections["costs"]
    assert "sma_cross" in page.sections["strategy"] and '"fast": 10' in page.sections["strategy"]
    assert f"entry ({metrics.trades})" in page.sections["trades"]
    assert f"Trade list ({metrics.trades})" in page.sections["trades"]


def test_charts_are_well_formed_svg_and_keep_every_trade_marker(
    real: Real,
) -> None:
    files, metrics = real
    html = files.html.read_text(encoding="utf-8")
    svgs = section_svgs(html)
    ids: list[str] = []
    for svg in svgs.values():
        # HTML knows xlink:href without a declaration; XML needs the prefix bound.
        root = ET.fromstring(svg.replace("<svg ", '<svg xmlns:xlink="x" ', 1))
        ids += [el.attrib["id"] for el in root.iter() if "id" in el.attrib]
    assert len(ids) == len(set(ids)), "element ids collide between the inline charts"
    # entries and exits are markers (<use>), as are the axis ticks: at least two per trade
    assert svgs["trades"].count("<use") >= 2 * metrics.trades
    assert svgs["trades"].count("<use") - svgs["equity"].count("<use") >= 2 * metrics.trades


def test_monthly_table_on_real_candles(real: Real) -> None:
    files, metrics = real
    html = files.html.read_text(encoding="utf-8")
    start = html.index('<section id="monthly"')
    table = html[start : html.index("</section>", start)]
    cell = r'<td class=m style="background:rgba\(([\d,]+),[\d.]+\)">([^<]+)</td>'
    cells = re.findall(cell, table)
    assert len(cells) == 9  # the sample runs from January to early September 2024
    for rgb, text in cells:
        if text.startswith("+"):
            assert rgb == "22,163,74"
        elif text.startswith("-"):
            assert rgb == "220,38,38"
    assert table.count("<td class=na>") == 3  # October to December: no data
    total = re.search(r"<td class=yr[^>]*>([^<]+)</td>", table)
    assert total is not None and total.group(1) == f"{metrics.total_return * 100:+.2f}%"


def test_report_is_deterministic(btc_1h: Candles, tmp_path: Path) -> None:
    result, metrics = backtest(btc_1h)
    a = render(tmp_path / "a", btc_1h, result, metrics)
    b = render(tmp_path / "b", btc_1h, result, metrics)
    assert a.html.read_bytes() == b.html.read_bytes()
    assert a.png.read_bytes() == b.png.read_bytes()


def test_buy_and_hold_curve_matches_the_metric(btc_1h: Candles) -> None:
    result, metrics = backtest(btc_1h)
    curve = buy_and_hold_equity(btc_1h, result.config)
    assert curve.shape == btc_1h.close.shape
    assert curve[-1] == pytest.approx(metrics.benchmark.final_equity, rel=1e-12)


# ---------------------------------------------------------------- edge cases


def test_zero_trades_still_renders(btc_1h: Candles, tmp_path: Path) -> None:
    n = len(btc_1h)
    result = run_backtest(btc_1h, np.zeros(n, bool), np.zeros(n, bool))
    metrics = compute_metrics(result, btc_1h)
    files = render(tmp_path, btc_1h, result, metrics)
    html = files.html.read_text(encoding="utf-8")
    page = parse(html)
    assert tuple(page.sections) == ALL_SECTIONS
    assert "no trades" in page.sections["trades"].lower()
    assert "Trade list" not in html
    assert_offline_and_finite(html)
    assert files.png.read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("bars", [1, 2, 3])
def test_very_short_series(btc_1h: Candles, tmp_path: Path, bars: int) -> None:
    c = btc_1h.slice(0, bars)
    entries = np.zeros(bars, bool)
    entries[0] = True  # fills at bar 1's open when there is one, then closes at the end
    result = run_backtest(c, entries, np.zeros(bars, bool), BacktestConfig(bars_per_day=24))
    metrics = compute_metrics(result, c)
    files = render(tmp_path, c, result, metrics)
    html = files.html.read_text(encoding="utf-8")
    assert tuple(parse(html).sections) == ALL_SECTIONS
    assert_offline_and_finite(html)


def test_bad_input_is_refused(btc_1h: Candles, tmp_path: Path) -> None:
    result, metrics = backtest(btc_1h)
    kw = {"title": "t", "candles": btc_1h, "result": result, "metrics": metrics}
    with pytest.raises(BadInput):
        write_report(tmp_path / "r.png", **kw)  # the PNG would overwrite it
    with pytest.raises(BadInput):
        write_report(tmp_path / "r.html", **{**kw, "candles": btc_1h.slice(0, 100)})
    with pytest.raises(BadInput):
        write_report(tmp_path / "r.html", **{**kw, "metrics": backtest(btc_1h.slice(0, 99))[1]})
    with pytest.raises(BadInput):
        write_report(tmp_path / "r.html", benchmark_equity=np.ones(3), **kw)
    nan = np.full(len(btc_1h), np.nan)
    with pytest.raises(BadInput):
        write_report(tmp_path / "r.html", benchmark_equity=nan, **kw)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_a_year_of_minute_bars_stays_small(tmp_path: Path) -> None:
    c = generate(365 * 1440, "1m", seed=3, start_price=40_000.0).candles
    result, metrics = backtest(c, fast=60, slow=240)
    files = render(tmp_path, c, result, metrics)
    html = files.html.read_text(encoding="utf-8")
    assert files.html.stat().st_size < 3_000_000
    assert len(parse(html).sections) == len(ALL_SECTIONS)
    svgs = section_svgs(html)
    assert svgs["trades"].count("<use") >= 2 * metrics.trades  # markers are never thinned
    assert metrics.trades > 200 and f"{metrics.trades - 200:,} trades not listed" in html
    assert_offline_and_finite(html)


def test_import_is_light() -> None:
    code = "import sys, rara.backtest.report; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # matplotlib loads on the first write_report


# ---------------------------------------------------------------- monthly returns


def test_monthly_returns_hand_computed() -> None:
    ts = [
        parse_utc(s)
        for s in (
            "2023-12-31T22:00",  # December
            "2023-12-31T23:00",  # opens in December, closes in January: still December's
            "2024-01-01T00:00",
            "2024-01-15T12:00",
            "2024-01-31T23:59",
            "2024-03-01T00:00",  # no February bars: a gap, so February is absent
        )
    ]
    equity = [110.0, 105.0, 120.0, 90.0, 126.0, 63.0]
    assert monthly_returns(ts, equity, start_equity=100.0) == [
        (2023, 12, pytest.approx(0.05)),  # 105 / 100 - 1
        (2024, 1, pytest.approx(0.20)),  # 126 / 105 - 1: intra-month swings compound away
        (2024, 3, pytest.approx(-0.50)),  # 63 / 126 - 1: measured from January's end
    ]
    # without a starting value the first month is measured from the first bar's close
    assert monthly_returns(ts, equity)[0] == (2023, 12, pytest.approx(105 / 110 - 1))


def test_monthly_returns_compound_to_the_total(btc_1h: Candles) -> None:
    result, metrics = backtest(btc_1h)
    months = monthly_returns(btc_1h.ts, result.equity, start_equity=result.config.init_cash)
    assert [(y, m) for y, m, _ in months] == [(2024, m) for m in range(1, 10)]
    growth = math.prod(1.0 + r for _, _, r in months)
    assert growth - 1.0 == pytest.approx(metrics.total_return, rel=1e-12, abs=1e-12)


def test_monthly_returns_edges() -> None:
    assert monthly_returns([], []) == []
    assert monthly_returns([0], [5.0], start_equity=4.0) == [(1970, 1, pytest.approx(0.25))]
    with pytest.raises(BadInput):
        monthly_returns([0, 1], [1.0])
    with pytest.raises(BadInput):
        monthly_returns([parse_utc("2024-02-01"), parse_utc("2024-01-01")], [1.0, 1.0])


# ---------------------------------------------------------------- chart helpers


def test_minmax_decimation_keeps_extremes_and_ends() -> None:
    rng = np.random.default_rng(0)
    y = np.cumsum(rng.standard_normal(1_000_003))
    keep = minmax_indices(y, 4_000)
    assert keep.shape[0] <= 4_000
    assert (np.diff(keep) > 0).all()  # sorted, no repeats
    assert keep[0] == 0 and keep[-1] == y.shape[0] - 1
    assert y[keep].min() == y.min() and y[keep].max() == y.max()
    assert np.array_equal(minmax_indices(y[:50], 4_000), np.arange(50))


def test_underwater_agrees_with_the_metric(btc_1h: Candles) -> None:
    dd = underwater(np.array([100.0, 120.0, 90.0, 130.0]), start=110.0)
    assert dd == pytest.approx([100 / 110 - 1, 0.0, 90 / 120 - 1, 0.0])
    result, metrics = backtest(btc_1h)
    assert -underwater(result.equity, result.config.init_cash).min() == pytest.approx(
        metrics.max_drawdown, rel=1e-12
    )


# ---------------------------------------------------------------- a research candidate's sheet


def test_gate_verdict_boundary_and_withheld_holdout(btc_1h: Candles, tmp_path: Path) -> None:
    split = split_by_fractions(btc_1h.ts)
    gate = with_holdout(
        gate_report(
            [
                {"name": "sandbox", "passed": True, "value": "ok"},
                {"name": "floor.sharpe", "passed": False, "value": 0.4321, "threshold": 1.0},
                {"name": "min_trades", "passed": True, "value": 31.0, "threshold": 30.0},
                {"name": "pbo", "passed": True, "skipped": True, "threshold": 0.3},
            ]
        ),
        passed=True,
    ).model_copy(update={"split": split.model_dump()})
    seen = btc_1h.slice(0, split.validation[1])  # a research sheet: train + validation only
    result, metrics = backtest(seen)
    files = write_report(
        tmp_path / "r.html", title="t", candles=seen, result=result, metrics=metrics, gate=gate
    )
    html = files.html.read_text(encoding="utf-8")
    page = parse(html)
    assert tuple(page.sections) == ("summary", "gate", *ALL_SECTIONS[1:])
    rows = re.findall(r'<tr class=\w+ data-check="([^"]+)" data-result="(\w+)">', html)
    assert rows == [
        ("sandbox", "pass"),
        ("floor.sharpe", "fail"),
        ("min_trades", "pass"),
        ("pbo", "skipped"),
        ("holdout.sharpe", "withheld"),
        ("holdout.psr", "withheld"),
    ]
    assert "<td>0.4321</td><td>1</td><td>FAIL</td>" in html
    gate_text = page.sections["gate"]
    assert "failed: floor.sharpe" in gate_text
    # not one holdout figure reaches the page, though the report carries them
    assert not any(mark in html for mark in ("7.654", "0.9877", "987,131", HOLDOUT_TRIAL))
    h0, h1 = split.holdout_dates
    assert f"Holdout withheld (bars opening {h0[:10]} {h0[11:16]} to {h1[:10]}" in gate_text
    # the boundary: a dashed line on the equity chart (and in the PNG), said in the note
    assert '<g id="equity-boundary-train-validation">' in section_svgs(html)["equity"]
    v0 = split.validation_dates[0]
    assert (
        f"{v0[:10]} {v0[11:16]} UTC divides train (left) from validation" in page.sections["equity"]
    )
    assert_offline_and_finite(html)
    plain = write_report(
        tmp_path / "p.html", title="t", candles=seen, result=result, metrics=metrics
    )
    assert plain.png.read_bytes() != files.png.read_bytes()  # the PNG has the line too
