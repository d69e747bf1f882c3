"""Gate 2 on a real paper run (the shipped Donchian breakout replayed through the paper engine
over 30 days of the BTC/USDT 1h sample): it tracks its backtest over the same bars, so loose
thresholds pass it, and strict ones fail exactly the checks they tighten, each named with its
value and threshold. A run still trading is judged on the bars marked so far."""

from __future__ import annotations

from rara.config import load_settings
from rara.domain.events import TradingSessionEnded
from rara.events import EventFilter, open_event_store
from rara.feedback.gate2 import judge_paper, judge_run
from rara.feedback.runs import RunReader, backtest_over_run, read_run
from rara.home import Home
from tests.feedback.paper_runs import LOOSE, STRICT, paper_run


def test_a_run_that_tracks_its_backtest_passes_loose_and_fails_strict_thresholds() -> None:
    home = Home.from_env()
    run = paper_run(home)
    with open_event_store(home.state_db) as store:
        loose = judge_paper(store, run.run_id, LOOSE, home=home, app_settings=load_settings(home))
        strict = judge_paper(store, run.run_id, STRICT, home=home, app_settings=load_settings(home))
    assert loose.passed, loose.model_dump()
    assert loose.strategy_id == run.strategy_id and loose.bars == 30 * 24
    checks = {c.name: c for c in loose.checks}
    assert list(checks) == [
        "paper_days",
        "paper_trades",
        "paper_sharpe",
        "paper_drawdown",
        "tracking_error",
        "parity",
    ]
    assert checks["paper_days"].value == 30.0
    assert checks["paper_trades"].value == 5.0
    assert checks["parity"].value == 0.0
    assert checks["tracking_error"].value is not None and checks["tracking_error"].value < 1e-6
    dd = checks["paper_drawdown"].value
    assert dd is not None and 0.10 < dd < 0.5

    assert not strict.passed
    assert strict.failed == ["paper_days", "paper_trades", "paper_sharpe", "paper_drawdown"]
    by_name = {c.name: c for c in strict.checks}
    assert (by_name["paper_days"].value, by_name["paper_days"].threshold) == (30.0, 60.0)
    assert (by_name["paper_trades"].value, by_name["paper_trades"].threshold) == (5.0, 10.0)
    assert by_name["paper_sharpe"].threshold == 1.0
    assert by_name["paper_drawdown"].threshold == 0.10
    assert by_name["tracking_error"].passed and by_name["parity"].passed


def test_a_run_still_trading_is_judged_on_its_marked_bars() -> None:
    """The same run read as it stood before its end: the open position is no trade yet and the
    backtest's closing sale is left out, so it still agrees with its backtest."""
    home = Home.from_env()
    run = paper_run(home)
    with open_event_store(home.state_db) as store:
        ended = store.query(EventFilter(types=[TradingSessionEnded], correlation_id=run.run_id))
        record = read_run(store, run.run_id)
    assert record is not None and record.ended and len(ended) == 1
    with open_event_store(home.state_db) as store:
        reader = RunReader(store)  # the evaluator's: reads only what was appended since
        first, again = reader.read(run.run_id), reader.read(run.run_id)
    assert first is not None and again is not None
    assert first.results() == again.results() == record.results()
    assert record.results().trades == len(record.trades) == 5
    settings = load_settings(home)
    cut = 500  # bars marked when the evaluator looked
    midway = type(record)(
        record.started,
        record.bar_ms[:cut],
        record.equity[:cut],
        [t for t in record.trades if t.exit_bar_ms <= int(record.bar_ms[cut - 1])],
        ended=False,
    )
    report = judge_run(midway, backtest_over_run(home, settings, midway), LOOSE)
    checks = {c.name: c for c in report.checks}
    assert report.bars == cut
    assert checks["parity"].passed, checks["parity"]
    te = checks["tracking_error"].value
    assert te is not None and te < 1e-6


def test_no_run_fails_with_a_reason() -> None:
    home = Home.from_env()
    with open_event_store(home.state_db) as store:
        report = judge_paper(
            store, "paper_nothing", LOOSE, home=home, app_settings=load_settings(home)
        )
    assert not report.passed and report.failed == ["paper_days"] and report.bars == 0
