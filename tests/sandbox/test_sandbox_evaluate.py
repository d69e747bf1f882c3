"""evaluate(): reference strategies on real candles, and every failure mapped to a stable code."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from rara_sandbox.evaluate import evaluate, inspect_meta
from rara_sandbox.lint import lint

Arrays = dict[str, np.ndarray]
META = (
    '{"name": "t", "version": "1.0.0", "api_version": 1, "timeframe": "1h", "lookback": 5, '
    '"description": "test", "params": {"n": 5, "level": 1.5, "on": True}}'
)


def src(on_candles: str, meta: str = META, extra: str = "") -> str:
    return (
        f"def meta():\n    return {meta}\n\n\ndef on_candles(candles, params):\n"
        + textwrap.indent(textwrap.dedent(on_candles), "    ")
        + extra
    )


OK_BODY = "c = candles.close\nreturn c > ta.sma(c, params['n']), c < ta.sma(c, params['n'])\n"
EXAMPLES = ["sma_crossover", "rsi_mean_reversion", "donchian_breakout"]


@pytest.mark.parametrize("name", [*EXAMPLES, "template"])
def test_shipped_strategies_on_real_candles(
    name: str, strategies_dir: Path, sample_candles: Arrays
) -> None:
    folder = strategies_dir / ("template" if name == "template" else f"examples/{name}")
    source = (folder / "strategy.py").read_text()
    assert lint(source).ok, lint(source).summary()
    n = len(sample_candles["close"])
    result = evaluate(source, sample_candles, None, [500, 2000, 4000])
    assert result.ok, result.error
    assert [w.n for w in result.windows] == [500, 2000, 4000, n]
    full = result.windows[-1]
    assert full.entries.sum() > 5 and full.exits.sum() > 5, (full.entries.sum(), full.exits.sum())
    # Causal: every shorter window is exactly the prefix of the full run.
    for w in result.windows[:-1]:
        np.testing.assert_array_equal(w.entries, full.entries[: w.n])
        np.testing.assert_array_equal(w.exits, full.exits[: w.n])
        for a, b in ((w.stop_loss, full.stop_loss), (w.take_profit, full.take_profit)):
            if isinstance(b, np.ndarray):
                np.testing.assert_array_equal(a, b[: w.n])
            else:
                assert a == b
    assert result.meta is not None and result.meta["api_version"] == 1
    if name != "template":
        assert result.meta["name"] == name


def test_lookahead_shows_up_as_prefix_mismatch(make_candles: Callable[..., Arrays]) -> None:
    # A cheat that compares with the last close of the window: its windows disagree.
    cheat = src("c = candles.close\nlast = c[len(c) - 1]\nreturn c < last, c > last\n")
    result = evaluate(cheat, make_candles(400), None, [100, 200])
    assert result.ok
    full = result.windows[-1]
    assert any(not np.array_equal(w.entries, full.entries[: w.n]) for w in result.windows[:-1])


def test_no_state_leaks_between_windows(make_candles: Callable[..., Arrays]) -> None:
    body = """
    seen = CACHE.get("seen", False) or params["n"] != 5
    CACHE["seen"] = True
    params["n"] = 999
    return ta.full(len(candles), seen), ta.full(len(candles), False)
    """
    result = evaluate(src(body, extra="\n\nCACHE = {}\n"), make_candles(100), None, [10, 50])
    assert result.ok, result.error
    assert all(not w.entries.any() for w in result.windows)


def test_params_merge_and_print(make_candles: Callable[..., Arrays]) -> None:
    body = "print('n is', params['n'], params['level'])\n" + OK_BODY
    result = evaluate(src(body), make_candles(50), {"n": 7, "level": 2}, [])
    assert result.ok and result.params == {"n": 7, "level": 2.0, "on": True}
    assert result.printed == "n is 7 2.0\n" and not result.print_truncated
    assert set(result.timings_ms) >= {"lint", "compile", "meta", "windows", "total"}
    assert result.runtime["restrictedpython"] != "unknown"


def test_risk_levels_accepted(make_candles: Callable[..., Arrays]) -> None:
    extra = (
        "\n\ndef risk_levels(candles, params):\n"
        "    sl = ta.where(ta.isnan(ta.sma(candles.close, 10)), ta.nan, 0.02)\n"
        "    return sl, 0.05\n"
    )
    result = evaluate(src(OK_BODY, extra=extra), make_candles(60), None, [])
    assert result.ok, result.error
    w = result.windows[0]
    assert w.take_profit == 0.05 and isinstance(w.stop_loss, np.ndarray)
    assert np.isnan(w.stop_loss[:9]).all() and (w.stop_loss[9:] == 0.02).all()


FAILURES: list[tuple[str, str, str]] = [
    (src("import os\nreturn 1"), "lint_failed", "imports are not allowed"),
    (src("x = 1 / 0\nreturn x"), "runtime_error", "ZeroDivisionError"),
    (src("return ta.sma(candles.close, 0), 1"), "runtime_error", "ta.sma: n must be"),
    (src("return candles.close.append(1)"), "forbidden", "'append' of ndarray"),
    (src("assert params['n'] > 100, 'n too small'\nreturn 1"), "runtime_error", "n too small"),
    (
        src("return [True, False]"),
        "bad_output",
        "on_candles must return (entries, exits), got list",
    ),
    (src("return candles.close > 0"), "bad_output", "got ndarray"),
    (src("c = candles.close\nreturn [True] * len(c), c > 0"), "bad_output", "got list"),
    (src("c = candles.close\nreturn ta.sma(c, 3), c > 0"), "bad_output", "float64 containing NaN"),
    (src("c = candles.close\nreturn ta.as_float(c > 0), c > 0"), "bad_output", "dtype float64"),
    (src("c = candles.close\nreturn (c > 0)[1:], c > 0"), "bad_output", "values for"),
    (src("c = candles.close\nreturn c > 0, c > 0, c > 0"), "bad_output", "a tuple of 3"),
    (src(OK_BODY, meta='{"name": "t"}'), "bad_meta", "keys must be exactly"),
    (
        src(OK_BODY, meta=META.replace('"api_version": 1', '"api_version": 2')),
        "bad_meta",
        "api_version must be 1",
    ),
    (src(OK_BODY, meta=META.replace('"lookback": 5', '"lookback": -1')), "bad_meta", "lookback"),
    (src(OK_BODY, meta=META.replace('"1h"', '"hourly"')), "bad_meta", "timeframe"),
    (src(OK_BODY, meta=META.replace('"1.0.0"', "1")), "bad_meta", "version"),
    (src(OK_BODY, meta=META.replace('"name": "t"', '"name": "Bad Name"')), "bad_meta", "name"),
    (src(OK_BODY, meta="[1]"), "bad_meta", "must return a dict"),
]
RISK_FAILURES = [
    ("return 1.5, None", "stop_loss must be a fraction"),
    ("return 0.0, None", "stop_loss must be a fraction"),
    ("return None, 20.0", "take_profit must be a fraction"),
    ("return True, None", "stop_loss must be None, a number or a float array"),
    ("return candles.close[:3] * 0 + 0.1, None", "one value per bar"),
    ("return ta.full(len(candles), 2.0), None", "values must be NaN or fractions"),
    ("return 0.1", "must return (stop_loss, take_profit)"),
]


@pytest.mark.parametrize(("source", "code", "needle"), FAILURES)
def test_failures_have_codes(
    source: str, code: str, needle: str, make_candles: Callable[..., Arrays]
) -> None:
    result = evaluate(source, make_candles(30), None, [10])
    assert not result.ok and result.error is not None
    assert result.error.code == code, result.error
    assert needle in result.error.message, result.error.message
    assert result.windows == ()


@pytest.mark.parametrize(("body", "needle"), RISK_FAILURES)
def test_risk_failures(body: str, needle: str, make_candles: Callable[..., Arrays]) -> None:
    extra = "\n\ndef risk_levels(candles, params):\n    " + body + "\n"
    result = evaluate(src(OK_BODY, extra=extra), make_candles(30), None, [])
    assert result.error is not None and result.error.code == "bad_output"
    assert needle in result.error.message and result.error.window == 30


def test_runtime_error_points_at_line_and_window(make_candles: Callable[..., Arrays]) -> None:
    body = (
        "c = candles.close\nif len(c) > 20:\n    boom = c[0] / 0 + {}['missing']\n"
        "return c > 0, c > 0\n"
    )
    result = evaluate(src(body), make_candles(30), None, [10, 20, 25])
    assert result.error is not None and result.error.code == "runtime_error"
    assert result.error.window == 25 and "KeyError" in result.error.message
    assert src(body).splitlines()[result.error.line - 1].strip().startswith("boom =")  # type: ignore[operator]


def test_bad_params_and_requests(make_candles: Callable[..., Arrays]) -> None:
    c = make_candles(30)
    cases = [
        ({"m": 1}, "unknown param 'm'"),
        ({"n": 2.5}, "must be int"),
        ({"on": 1}, "must be bool"),
        ({"n": [1]}, "must be a bool, int"),
    ]
    for params, needle in cases:
        r = evaluate(src(OK_BODY), c, params, [])
        assert r.error is not None and r.error.code == "bad_params" and needle in r.error.message
        assert r.meta is not None  # meta is still reported
    for windows in ([0], [20, 10], [10, 10], [31]):
        r = evaluate(src(OK_BODY), c, None, windows)
        assert r.error is not None and r.error.code == "bad_request", windows
    bad = dict(c, close=c["close"].astype(np.float32))
    assert evaluate(src(OK_BODY), bad, None, []).error.code == "bad_request"  # type: ignore[union-attr]
    assert evaluate(src(OK_BODY), {}, None, []).error.code == "bad_request"  # type: ignore[union-attr]


def test_inspect_meta(strategies_dir: Path) -> None:
    r = inspect_meta((strategies_dir / "examples/sma_crossover/strategy.py").read_text())
    assert r.ok and r.meta is not None and r.meta["params"] == {"fast": 20, "slow": 50}
    assert inspect_meta("import os\n").error.code == "lint_failed"  # type: ignore[union-attr]
