"""Charts for the backtest tear sheet: matplotlib (Agg, no pyplot) rendered to inline SVG and PNG.

Three rules keep the output fit for a self-contained HTML file:

- Size: curves are thinned with `minmax_indices` before plotting, so a year of 1m bars draws a few
  thousand points per line (a chart is ~1,000 px wide; more points only add bytes). Keeping each
  bucket's min and max preserves every spike and the deepest drawdown. Trade markers are never
  thinned.
- Determinism: matplotlib names SVG ids with a hash salted by ``svg.hashsalt`` (a random uuid
  when unset) and stamps a date into the SVG metadata; we fix the salt per chart and drop the
  metadata, so the same inputs give the same bytes.
- Offline: no metadata block (it carries matplotlib's URL and Dublin Core URIs), no XML prolog or
  DTD URL, no namespace URIs (the HTML parser puts an inline ``<svg>`` in the SVG namespace and
  knows ``xlink:href`` by itself), and text stays text (``svg.fonttype = none``) in the browser's
  own sans-serif instead of glyph outlines or a web font.

pyplot is never imported: `Figure` objects are independent of any global figure manager, so
rendering neither picks a GUI backend nor leaks figures.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import matplotlib as mpl
import matplotlib.dates as mdates
import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from rara.backtest.verdict import Boundary

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Idx = npt.NDArray[np.intp]

MS_PER_DAY = 86_400_000
MAX_POINTS = 4_000  # per drawn curve; the brief's ceiling for the price line is ~5,000
WIDTH_IN = 10.0

STRATEGY = "#1f6fb4"
BENCHMARK = "#8a8a8a"
LOSS = "#d62728"
BOUNDARY = "#6b4fbb"
ENTRY = "#2ca02c"
EXIT_STYLE = {  # exit reason -> (marker, colour); stops stand out from signal exits
    "signal": ("v", "#d62728"),
    "stop_loss": ("X", "#7b1fa2"),
    "take_profit": ("D", "#ff8c00"),
    "end": ("s", "#555555"),
}

_RC: dict[str, Any] = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    # DejaVu ships with matplotlib (the PNG); the browser falls back to its own sans-serif
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 9.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "legend.fontsize": 8.0,
    "path.simplify": True,
    "timezone": "UTC",
}
# Every metadata key matplotlib would write, set to None: no <metadata> block, no date.
_SVG_META: dict[str, str | None] = {"Format": None, "Type": None, "Creator": None, "Date": None}
_PNG_META: dict[str, str | None] = {"Software": None}  # same bytes across matplotlib versions
_PROLOG_RE = re.compile(r"\A.*?(?=<svg\b)", re.S)
_XMLNS_RE = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')
_SIZE_RE = re.compile(r'(<svg\b[^>]*?)\s+width="[^"]*"\s+height="[^"]*"')
_LONG_DECIMAL_RE = re.compile(r"(\d\.\d\d)\d+")
_USE_RE = re.compile(r'<use ((?:xlink:)?href="[^"]+" x="[^"]*" y="[^"]*") style="([^"]*)"/>')
_COORD_ATTR_RE = re.compile(r'(\s(?:d|x|y)=")([^"]*)"')


@dataclass(frozen=True)
class Series:
    """A curve on the date axis: x in epoch ms, y in any unit."""

    ts: I64
    y: F64


@dataclass(frozen=True)
class TradeMarks:
    entry_ts: I64
    entry_price: F64
    exit_ts: I64
    exit_price: F64
    exit_reason: Sequence[str]


def minmax_indices(y: F64, max_points: int = MAX_POINTS) -> Idx:
    """Sorted indices of at most ~`max_points` points of `y` that keep its shape: split it into
    buckets and keep each bucket's first, last, lowest and highest point (the M4 decimation).
    Every extreme survives, so a thinned drawdown still reaches the true maximum drawdown."""
    n = int(y.shape[0])
    if n <= max_points:
        return np.arange(n, dtype=np.intp)
    buckets = max(1, max_points // 4)
    size = -(-n // buckets)
    buckets = -(-n // size)
    pad = buckets * size - n
    # Padding repeats the last value, which argmin/argmax (first occurrence) never prefer over the
    # real copy earlier in the bucket; the clip below is only a guard.
    grid = (np.pad(y, (0, pad), mode="edge") if pad else y).reshape(buckets, size)
    start = np.arange(buckets, dtype=np.intp) * size
    idx = np.concatenate(
        (start, start + grid.argmin(axis=1), start + grid.argmax(axis=1), start + size - 1)
    )
    return np.unique(np.minimum(idx, n - 1))


def thin(s: Series, max_points: int = MAX_POINTS) -> Series:
    keep = minmax_indices(s.y, max_points)
    return Series(s.ts[keep], s.y[keep])


def underwater(equity: F64, start: float) -> F64:
    """Drawdown at each point: equity / running peak - 1 (<= 0); `start` counts as a peak."""
    peak = np.maximum.accumulate(np.concatenate(([start], equity)))[1:]
    return np.divide(equity, peak, out=np.zeros_like(equity), where=peak > 0) - 1.0


# ---------------------------------------------------------------- charts


def equity_svg(
    strategy: Series,
    benchmark: Series,
    xlim: tuple[int, int],
    boundaries: Sequence[Boundary] = (),
) -> str:
    """The equity chart; each of `boundaries` (a segment boundary: train | validation) is a
    dashed vertical line, its SVG group id ``equity-<Boundary.gid>``, labelled both sides."""
    with _style("equity"):
        return _svg(_equity(strategy, benchmark, xlim, 3.4, boundaries), "equity")


def drawdown_svg(strategy: Series, benchmark: Series, xlim: tuple[int, int]) -> str:
    with _style("drawdown"):
        fig, ax = _figure(2.4, xlim)
        s, b = thin(strategy), thin(benchmark)
        # One closed polygon, outlined: half the points of fill_between plus a separate line.
        x = _days(s.ts)
        ax.fill(
            np.concatenate((x, x[-1:], x[:1])),
            np.concatenate((s.y, [0.0, 0.0])),
            facecolor=(*to_rgb(LOSS), 0.3),
            edgecolor=LOSS,
            lw=0.8,
            label="Strategy",
        )
        ax.plot(_days(b.ts), b.y, color=BENCHMARK, lw=0.9, ls="--", label="Buy & hold")
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_ylabel("drawdown")
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=2)
        return _svg(fig, "drawdown")


def trades_svg(price: Series, marks: TradeMarks, xlim: tuple[int, int]) -> str:
    with _style("trades"):
        fig, ax = _figure(3.8, xlim)
        p = thin(price)
        ax.plot(_days(p.ts), p.y, color="#333333", lw=0.8, label="close")
        n = marks.entry_ts.shape[0]
        size = 6.0 if n <= 200 else 4.0 if n <= 2_000 else 2.5  # legible whatever the count
        if n:
            ax.plot(
                _days(marks.entry_ts),
                marks.entry_price,
                ls="none",
                marker="^",
                ms=size,
                color=ENTRY,
                label=f"entry ({n})",
            )
        reasons = np.asarray(marks.exit_reason, dtype=object)
        for reason, (marker, colour) in EXIT_STYLE.items():
            hit = reasons == reason
            if hit.any():
                label = f"exit: {reason.replace('_', ' ')} ({int(hit.sum())})"
                ax.plot(
                    _days(marks.exit_ts[hit]),
                    marks.exit_price[hit],
                    ls="none",
                    marker=marker,
                    ms=size,
                    color=colour,
                    label=label,
                )
        ax.yaxis.set_major_formatter(FuncFormatter(_money))
        ax.set_ylabel("price")
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=5)
        return _svg(fig, "trades")


def equity_png(
    strategy: Series,
    benchmark: Series,
    xlim: tuple[int, int],
    title: str,
    boundaries: Sequence[Boundary] = (),
    dpi: int = 100,
) -> bytes:
    with _style("png"):
        fig = _equity(strategy, benchmark, xlim, 4.5, boundaries)
        # parse_math off: a "$" in a strategy name is text, not the start of a formula
        # the legend sits above the axes (as in the HTML); the PNG's title goes on the right
        fig.axes[0].set_title(title, loc="right", fontsize=10, parse_math=False)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, metadata=_PNG_META)
        return buf.getvalue()


# ---------------------------------------------------------------- helpers


@contextmanager
def _style(salt: str) -> Iterator[None]:
    """Our rc settings for building AND saving a figure: matplotlib reads rcParams both when an
    artist is created (fonts, legend frame) and when it is drawn (hash salt, date timezone)."""
    rc: Any = {**_RC, "svg.hashsalt": f"rara-{salt}"}  # Any: the stubs want literal rc keys
    with mpl.rc_context(rc):
        yield


def _equity(
    strategy: Series,
    benchmark: Series,
    xlim: tuple[int, int],
    height: float,
    boundaries: Sequence[Boundary] = (),
) -> Figure:
    fig, ax = _figure(height, xlim)
    s, b = thin(strategy), thin(benchmark)
    ax.plot(_days(b.ts), b.y, color=BENCHMARK, lw=1.0, label="Buy & hold")
    ax.plot(_days(s.ts), s.y, color=STRATEGY, lw=1.3, label="Strategy")
    for mark in boundaries:
        _boundary(ax, mark)
    ax.yaxis.set_major_formatter(FuncFormatter(_money))
    ax.set_ylabel("equity")
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=2)
    return fig


def _boundary(ax: Axes, mark: Boundary) -> None:
    """A dashed vertical line with the segment names either side of it, near the top."""
    x = float(_days(np.array([mark.ts], dtype=np.int64))[0])
    line = ax.axvline(x, color=BOUNDARY, lw=1.0, ls="--")
    line.set_gid(mark.gid)
    top = ax.get_xaxis_transform()  # x in data, y in axes fraction
    for side, text, ha in (
        ("before", f"\u2190 {mark.before} ", "right"),
        ("after", f" {mark.after} \u2192", "left"),
    ):
        label = ax.text(x, 0.97, text, transform=top, ha=ha, va="top", color=BOUNDARY)
        label.set_gid(f"{mark.gid}-{side}")


def _figure(height_in: float, xlim: tuple[int, int]) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(WIDTH_IN, height_in), layout="constrained")
    ax = fig.add_subplot()
    lo, hi = xlim
    if hi <= lo:  # a single instant: give the axis some width
        hi = lo + MS_PER_DAY
    ax.set_xlim(*_days(np.array([lo, hi], dtype=np.int64)))
    # (matplotlib.dates has no type annotations, hence the ignores)
    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    formatter = mdates.ConciseDateFormatter(locator)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(formatter)
    return fig, ax


def _svg(fig: Figure, id_prefix: str) -> str:
    """The figure as an ``<svg>`` element to inline in HTML, its ids prefixed with `id_prefix`
    so several charts can share one document (matplotlib numbers ``axes_1`` etc. afresh in
    every figure)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata=_SVG_META)
    svg = _PROLOG_RE.sub("", buf.getvalue(), count=1)
    svg = _XMLNS_RE.sub("", svg)
    # matplotlib's stylesheet says `*{...}`; inline, that would select the whole HTML page.
    svg = svg.replace('<style type="text/css">*{', '<style type="text/css">svg.chart *{', 1)
    # Responsive: keep the viewBox, let CSS set the width.
    svg = _SIZE_RE.sub(r'\1 class="chart"', svg, count=1)
    svg = _prefix_ids(svg, id_prefix)
    svg = _group_markers(svg)
    # matplotlib writes coordinates with 6 decimals; 2 (1/7200 inch) look the same at a third of
    # the bytes. Only path data and positions are touched, never text.
    svg = _COORD_ATTR_RE.sub(_short_decimals, svg)
    return svg.strip() + "\n"


def _days(ts: I64) -> F64:
    """Epoch ms to matplotlib date numbers (whatever matplotlib's date epoch is set to)."""
    days = mdates.date2num(ts.astype("datetime64[ms]"))  # type: ignore[no-untyped-call]
    return np.asarray(days, dtype=np.float64)


def _money(v: float, _pos: int | None = None) -> str:
    """Axis labels for currency amounts: 950, 8.5k, 12k, 1.25M."""
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:,.4g}M"
    if a >= 1e3:
        return f"{v / 1e3:,.4g}k"
    return f"{v:,.4g}"


def _prefix_ids(svg: str, prefix: str) -> str:
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", svg)
    return re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', svg)


def _group_markers(svg: str) -> str:
    """Hoist the style of a run of identical markers onto one ``<g>``: matplotlib repeats it on
    every ``<use>``, which is half the bytes of a chart with thousands of trades. The style is
    inherited, so the drawing is the same; lines that do not match are left alone."""
    out: list[str] = []
    run: list[str] = []
    run_style = ""

    def flush() -> None:
        if len(run) > 1:
            out.append(f'<g style="{run_style}">')
            out.extend(run)
            out.append("</g>")
        elif run:
            out.append(_USE_RE.sub(r'<use \1 style="\2"/>', run[0]))
        run.clear()

    for line in svg.split("\n"):
        m = _USE_RE.fullmatch(line.strip())
        if m is None:
            flush()
            out.append(line)
            continue
        if m.group(2) != run_style:
            flush()
            run_style = m.group(2)
        run.append(f"<use {m.group(1)}/>")
    flush()
    return "\n".join(out)


def _short_decimals(m: re.Match[str]) -> str:
    return m.group(1) + _LONG_DECIMAL_RE.sub(r"\1", m.group(2)) + '"'
