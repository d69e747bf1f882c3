"""`rara data synth` and `rara.data.synth.generate`: determinism, candle sanity, regimes, and
a planted momentum edge that a causal strategy can find (and that is absent without it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import rara.cli.data_import  # noqa: F401  (registers `data import` / `data synth` on the group)
from rara.cli import app
from rara.data.quality import check_candles
from rara.data.synth import REGIMES, SynthResult, generate, momentum_signal
from rara.domain.market import Candles, Instrument, Timeframe, parse_utc
from rara.errors import BadInput
from tests.kit.candles import home_catalog


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "home"
    monkeypatch.setenv("RARA_HOME", str(h))
    return h


def run(*args: str) -> tuple[int, Any]:
    res = CliRunner().invoke(app, list(args))
    return res.exit_code, json.loads(res.stdout) if res.stdout.strip() else None


def arrays_bytes(c: Candles) -> bytes:
    return b"".join(getattr(c, col).tobytes() for col in Candles.COLUMNS)


def edge_stats(res: SynthResult, k: int) -> dict[str, float]:
    """Next-bar log return conditioned on the sign of the trailing-k move, in units of the
    regime volatility (so calm and turbulent bars weigh alike)."""
    c = res.candles
    r_next = np.diff(np.log(c.close))  # r_{t+1} for t = 0..n-2
    s = momentum_signal(c.close, k)[:-1]  # known at the close of bar t
    z = r_next / res.sigma[1:]
    return {
        "long": float(z[s == 1].mean()),
        "short": float(z[s == -1].mean()),
        "both": float((s[s != 0] * z[s != 0]).mean()),
        "n_long": int((s == 1).sum()),
        "n_short": int((s == -1).sum()),
    }


# ---- determinism -----------------------------------------------------------------------------


def test_same_seed_same_bytes_different_seed_different() -> None:
    a = generate(5_000, "1h", seed=7, edge="momentum", edge_strength=0.1)
    b = generate(5_000, "1h", seed=7, edge="momentum", edge_strength=0.1)
    c = generate(5_000, "1h", seed=8, edge="momentum", edge_strength=0.1)
    assert arrays_bytes(a.candles) == arrays_bytes(b.candles)
    assert np.array_equal(a.regimes, b.regimes)
    assert not np.array_equal(a.candles.close, c.candles.close)


def test_longer_run_extends_shorter_one() -> None:
    """One random stream per quantity, drawn in bar order: more bars never rewrite earlier ones
    (also across the block size used for the intra-bar paths)."""
    short = generate(1_000, "5m", seed=3, edge="momentum", edge_strength=0.2)
    long = generate(70_000, "5m", seed=3, edge="momentum", edge_strength=0.2)
    assert arrays_bytes(short.candles) == arrays_bytes(long.candles.slice(0, 1_000))


def test_edge_changes_returns_but_not_regimes() -> None:
    plain = generate(3_000, "1h", seed=11)
    edged = generate(3_000, "1h", seed=11, edge="momentum", edge_strength=0.1)
    assert np.array_equal(plain.regimes, edged.regimes)
    assert not np.array_equal(plain.candles.close, edged.candles.close)


# ---- candle sanity ---------------------------------------------------------------------------


@pytest.mark.parametrize("tf", ["1m", "5m", "1h", "4h", "1d", "1w"])
def test_candles_pass_quality_checks(tf: str) -> None:
    start = parse_utc("2024-01-01")  # a Monday, so also on the weekly grid
    res = generate(
        20_000 if tf != "1w" else 500, tf, start, seed=5, edge="momentum", edge_strength=0.2
    )
    c = res.candles
    check_candles(c, Timeframe.parse(tf), f"synthetic {tf}")
    assert c.ts[0] == start and np.all(np.diff(c.ts) == Timeframe.parse(tf).ms)
    assert np.all(c.high >= np.maximum(c.open, c.close))
    assert np.all(c.low <= np.minimum(c.open, c.close))
    assert np.all(c.low > 0) and np.all(c.volume > 0)
    assert c.open[0] == 100.0 and np.array_equal(c.open[1:], c.close[:-1])
    # the wicks are real: most bars reach beyond their open and close on at least one side
    wick = (c.high > np.maximum(c.open, c.close)) | (c.low < np.minimum(c.open, c.close))
    assert wick.mean() > 0.9


def test_volume_rises_with_the_size_of_the_move() -> None:
    res = generate(20_000, "1h", seed=2)
    c = res.candles
    size = np.abs(np.log(c.close / c.open)) / res.sigma
    big, small = size > np.quantile(size, 0.8), size < np.quantile(size, 0.2)
    assert np.median(c.volume[big]) > 1.5 * np.median(c.volume[small])


def test_every_regime_appears_in_a_long_run() -> None:
    res = generate(50_000, "1h", seed=42)
    shares = res.regime_shares()
    assert set(shares) == {r.name for r in REGIMES}
    assert all(v > 0.005 for v in shares.values()), shares
    assert abs(sum(shares.values()) - 1) < 1e-3
    assert res.regime_switches() > 20


def test_regimes_differ_in_volatility_and_jumps() -> None:
    res = generate(50_000, "1h", seed=42)
    r = np.log(res.candles.close / res.candles.open)
    names = list(res.regime_names)
    std = {n: float(r[res.regimes == i].std()) for i, n in enumerate(names)}
    assert std["turbulent"] > 2 * std["bull"] and std["bear"] > std["range"]


# ---- the planted edge ------------------------------------------------------------------------

SEEDS = (1, 2, 3)
N_EDGE = 40_000  # hourly bars, ~4.5 years: standard error of the z-means below is ~0.006


@pytest.mark.parametrize("seed", SEEDS)
def test_momentum_edge_is_there_when_planted(seed: int) -> None:
    k = 24
    res = generate(N_EDGE, "1h", seed=seed, edge="momentum", edge_strength=0.1, edge_lookback=k)
    st = edge_stats(res, k)
    assert st["n_long"] > 5_000 and st["n_short"] > 5_000
    # planted: +0.1 sigma after an up move, -0.1 sigma after a down move
    assert st["long"] > 0.05, st
    assert st["short"] < -0.05, st
    assert st["both"] > 0.06, st


@pytest.mark.parametrize("seed", SEEDS)
def test_no_edge_without_planting(seed: int) -> None:
    k = 24
    st = edge_stats(generate(N_EDGE, "1h", seed=seed), k)
    assert abs(st["both"]) < 0.02, st
    assert abs(st["long"]) < 0.03 and abs(st["short"]) < 0.03, st


def test_a_causal_momentum_strategy_wins_only_with_the_edge() -> None:
    """Long/short on sign(close_t - close_{t-k}), filled at the next open (= close_t), paying
    10 bp per unit of position change: profitable with the edge, not without."""
    k = 24

    def pnl(res: SynthResult) -> float:
        c = res.candles
        pos = momentum_signal(c.close, k).astype(float)[:-1]  # held over bar t+1
        r_next = np.diff(np.log(c.close))
        turnover = np.abs(np.diff(np.concatenate([[0.0], pos])))
        return float((pos * r_next).sum() - 0.001 * turnover.sum())

    with_edge = [
        pnl(generate(N_EDGE, "1h", seed=s, edge="momentum", edge_strength=0.1, edge_lookback=k))
        for s in SEEDS
    ]
    without = [pnl(generate(N_EDGE, "1h", seed=s)) for s in SEEDS]
    assert all(p > 5.0 for p in with_edge), with_edge  # log return over the run
    assert all(p < 2.0 for p in without), without
    assert min(with_edge) > max(without) + 3.0


def test_signal_is_causal() -> None:
    """Changing the future never changes today's signal."""
    res = generate(2_000, "1h", seed=9)
    close = res.candles.close.copy()
    base = momentum_signal(close, 24)
    close[1_500:] *= 3.0
    assert np.array_equal(momentum_signal(close, 24)[:1_500], base[:1_500])


# ---- argument checks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, code",
    [
        ({"n_bars": 0}, "bad_bars"),
        ({"start_ms": parse_utc("2024-01-01T00:30")}, "start_off_grid"),
        ({"timeframe": "1w", "start_ms": parse_utc("2024-01-03")}, "start_off_grid"),
        ({"edge": "meanrev"}, "bad_edge"),
        ({"edge": "momentum", "edge_strength": -1.0}, "bad_edge"),
        ({"edge_lookback": 0}, "bad_edge"),
        ({"seed": -1}, "bad_seed"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], code: str) -> None:
    args: dict[str, Any] = {"n_bars": 10, **kwargs}
    with pytest.raises(BadInput) as e:
        generate(**args)
    assert e.value.code == code
    # the generator says what is wrong in its own terms; only the CLI knows its flags
    assert "--" not in e.value.message and "--" not in e.value.suggestion


@pytest.mark.parametrize(
    "args, code, flag",
    [(["--seed", "-1"], "bad_seed", "--seed"), (["--edge-lookback", "0"], "bad_edge", "--edge")],
)
def test_cli_names_the_flag_the_generator_refused(
    home: Path, args: list[str], code: str, flag: str
) -> None:
    exit_code, out = run("data", "synth", "--bars", "10", *args)
    assert exit_code == 2, out
    assert out["error"]["code"] == code and flag in out["error"]["suggestion"]


# ---- CLI -------------------------------------------------------------------------------------


def test_cli_writes_candles_and_summary(home: Path) -> None:
    code, out = run(
        "data",
        "synth",
        "--symbol",
        "SYN/USDT",
        "--timeframe",
        "1h",
        "--start",
        "2024-01-01",
        "--bars",
        "3000",
        "--seed",
        "42",
        "--edge",
        "momentum",
        "--edge-strength",
        "0.15",
    )
    assert code == 0, out
    assert (out["exchange"], out["symbol"], out["timeframe"]) == ("synthetic", "SYN/USDT", "1h")
    assert out["rows"] == out["added"] == 3000 and out["seed"] == 42
    assert out["edge"] == {"kind": "momentum", "strength": 0.15, "lookback": 24}
    assert out["source"] == "synth:seed=42,edge=momentum,strength=0.15,k=24,model=1"
    assert out["range"] == ["2024-01-01T00:00:00Z", "2024-05-04T23:00:00Z"]
    assert abs(sum(out["regime_shares"].values()) - 1) < 1e-3
    inst = Instrument(exchange="synthetic", symbol="SYN/USDT", timeframe=Timeframe.parse("1h"))
    stored = home_catalog().load(inst)
    want = generate(3000, "1h", parse_utc("2024-01-01"), 42, "momentum", 0.15).candles
    assert arrays_bytes(stored) == arrays_bytes(want)


def test_cli_rerun_is_a_no_op_and_end_equals_bars(home: Path) -> None:
    args = ("data", "synth", "--timeframe", "4h", "--seed", "1")
    assert run(*args, "--bars", "600")[0] == 0
    files = sorted((home / "data").rglob("*.parquet"))
    stamps = [p.stat().st_mtime_ns for p in files]
    code, out = run(*args, "--end", "2024-04-10")  # 100 days of 4h bars = 600
    assert code == 0
    assert (out["rows"], out["added"], out["unchanged"], out["written"]) == (600, 0, 600, False)
    assert [p.stat().st_mtime_ns for p in files] == stamps


def test_cli_refuses_to_splice_a_different_series(home: Path) -> None:
    assert run("data", "synth", "--bars", "100", "--seed", "1")[0] == 0
    before = sorted((home / "data").rglob("*"))
    code, out = run("data", "synth", "--bars", "100", "--seed", "2")
    assert code == 3 and out["error"]["code"] == "synth_would_mix"
    assert sorted((home / "data").rglob("*")) == before
    # another symbol is fine
    assert run("data", "synth", "--bars", "100", "--seed", "2", "--symbol", "SYN2/USDT")[0] == 0


@pytest.mark.parametrize(
    "args, code",
    [
        (["--bars", "10", "--end", "2025-01-01"], "bad_range"),
        (["--end", "2023-01-01"], "bad_range"),
        (["--bars", "10", "--start", "soon"], "bad_date"),  # one code for a bad date (issue 8)
        (["--bars", "10", "--timeframe", "7x"], "bad_timeframe"),  # one code per mistake
        (["--bars", "10", "--edge", "magic"], "usage"),
        (["--bars", "10", "--start", "2024-01-01T00:30"], "start_off_grid"),
    ],
)
def test_cli_bad_input_exit_2(home: Path, args: list[str], code: str) -> None:
    exit_code, out = run("data", "synth", *args)
    assert exit_code == 2, out
    assert out["error"]["code"] == code and out["error"]["suggestion"]
    assert not (home / "data").exists()


def test_cli_default_length_is_three_years(home: Path) -> None:
    """Without --end or --bars: the three years of bars the README names for planted-edge
    research (8 months cannot support promoting the default-strength edge)."""
    code, out = run("data", "synth", "--timeframe", "4h", "--edge", "momentum")
    assert code == 0, out
    assert out["rows"] == 3 * 365 * 6
    assert out["range"] == ["2024-01-01T00:00:00Z", "2026-12-30T20:00:00Z"]
