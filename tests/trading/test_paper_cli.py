"""`rara paper run|status`, `rara positions` and `rara orders` as a user runs them (real
subprocesses, a week of the BTC/USDT 1h sample): the JSON summary, a finished run answering
again without trading, what a risk gate denial looks like, and bad input refused with exit 2.
stdout is always exactly one JSON document (NDJSON for the listings); progress goes to stderr."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from rara.domain.events import TradingOrderSubmitted
from rara.events import EventFilter, open_event_store
from rara.home import Home
from tests.kit.cli import CliResult
from tests.kit.paths import REPO

Cli = Callable[..., CliResult]
SMA = str(REPO / "strategies" / "examples" / "sma_crossover" / "strategy.py")
MARKET = ("--symbol", "BTC/USDT", "--timeframe", "1h")
RANGE = ("--start", "2024-03-01", "--end", "2024-03-08")
BARS = 7 * 24


def submitted(home: Path) -> int:
    with open_event_store(Home(root=home).state_db) as store:
        return sum(1 for _ in store.iter_query(EventFilter(types=[TradingOrderSubmitted])))


def ndjson(out: CliResult) -> list[dict[str, object]]:
    assert out.code == 0, out.stdout + out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def test_run_summarises_and_running_it_again_trades_nothing_and_the_views_agree(
    cli: Cli, rara_home: Path
) -> None:
    first = cli("paper", "run", SMA, *MARKET, *RANGE)
    assert first.code == 0, first.stderr
    summary = json.loads(first.stdout)  # the whole of stdout is one document: no progress in it
    assert f"{BARS}/{BARS}" in first.stderr  # the progress bar, on stderr, knows the total
    assert summary["bars"] == BARS  # the end-of-run re-mark of the last bar is not a bar
    assert summary["trades"] and summary["fills"] == 2 * len(summary["trades"])
    assert summary["backtest_comparison"]["ok"], summary["backtest_comparison"]
    assert summary["backtest_comparison"]["paper_trades"] == len(summary["trades"])
    assert summary["ledger"] == {
        "ok": True,
        "venue_balances_equal": True,
        "transactions_checked": 1 + summary["fills"],
        "events_checked": 1 + summary["fills"],
        "other_runs_not_yet_booked": 0,
        "problems": [],
    }
    final, pnl = Decimal(summary["final_equity"]), Decimal(summary["pnl"])
    assert final - pnl == Decimal("10000")
    assert set(summary["balances"]) == {"USDT"}  # flat at the end: all cash
    assert abs(Decimal(summary["balances"]["USDT"]) - final) < Decimal("1e-18")
    assert summary["orders"] == {"submitted": summary["fills"], "denied": 0, "denials": {}}
    sent = submitted(rara_home)
    assert sent == summary["fills"]

    again = cli("paper", "run", SMA, *MARKET, *RANGE, "--quiet")
    assert again.code == 0, again.stderr
    second = again.json
    assert second["resumed"] is True and second["progress"]["bars"] == 0
    for key in ("run_id", "trades", "pnl", "final_equity", "balances", "bars", "orders"):
        assert second[key] == summary[key], key
    assert submitted(rara_home) == sent  # no order was sent again
    verified = cli("ledger", "verify")
    assert verified.code == 0 and verified.json["ok"], verified.stdout
    assert again.stderr == ""  # --quiet: nothing on stderr

    (run,) = ndjson(cli("paper", "status"))
    assert run["run_id"] == summary["run_id"] and run["account"] == summary["account"]
    assert run["ended"]["reason"] == "feed_ended"  # type: ignore[index]
    assert run["bars_marked"] == BARS
    assert run["last_mark"]["equity"] == summary["final_equity"]  # type: ignore[index]

    (position,) = ndjson(cli("positions"))
    assert position["account"] == summary["account"] and position["quantity"] == "0"
    assert Decimal(str(position["realized_pnl"])) - Decimal(summary["pnl"]) < Decimal("1e-18")

    rows = ndjson(cli("orders", "--limit", "1000"))
    assert len(rows) == summary["orders"]["submitted"]
    assert {r["state"] for r in rows} == {"filled"}
    assert not any("denied_by" in r for r in rows)
    assert ndjson(cli("orders", "--open")) == []


def test_a_denied_entry_shows_its_guard_and_its_numbers(cli: Cli) -> None:
    limits = {"RARA_TRADING__RISK__MAX_POSITION_NOTIONAL": "100"}
    out = cli("paper", "run", SMA, *MARKET, *RANGE, "--quiet", env=limits)
    assert out.code == 3, out.stdout + out.stderr
    document = json.loads(out.stdout)  # the refusal carries the summary: still one document
    assert document["error"]["code"] == "paper_backtest_mismatch"
    assert "risk gate denied" in document["error"]["suggestion"]
    summary = document["summary"]
    assert summary["trades"] == [] and summary["fills"] == 0
    denied = summary["orders"]["denied"]
    assert denied > 0 and summary["orders"]["denials"] == {"max_position_notional": denied}
    assert summary["ledger"]["ok"]

    rows = ndjson(cli("orders", "--limit", "1000"))
    assert len(rows) == denied
    for row in rows:
        assert row["state"] == "rejected" and row["reject_code"] == "max_position_notional"
        guard = row["denied_by"]
        assert isinstance(guard, dict)
        assert guard["guard"] == "max_position_notional" and guard["limit"] == "100"
        assert Decimal(guard["value"]) > 100


def test_a_symbol_not_allowed_is_denied(cli: Cli) -> None:
    only_eth = {"RARA_TRADING__RISK__ALLOWED_SYMBOLS": '["ETH/USDT"]'}
    out = cli("paper", "run", SMA, *MARKET, *RANGE, "--quiet", env=only_eth)
    assert out.code == 3, out.stdout + out.stderr
    orders = json.loads(out.stdout)["summary"]["orders"]
    assert orders["submitted"] == 0 and set(orders["denials"]) == {"symbol_not_allowed"}
    (row, *_) = ndjson(cli("orders"))
    guard = row["denied_by"]
    assert isinstance(guard, dict)
    assert guard["guard"] == "symbol_allow_list" and guard["allowed"] == "ETH/USDT"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ((SMA, *MARKET, *RANGE, "--speed", "0"), "bad_speed"),
        ((SMA, *MARKET, *RANGE, "--speed", "fast"), "bad_speed"),
        (("no_such_strategy", *MARKET, *RANGE), "strategy_not_found"),
        ((SMA, "--symbol", "BTC/USDT", "--timeframe", "4h", *RANGE), "timeframe_mismatch"),
        ((SMA, *MARKET, "--start", "2030-01-01", "--end", "2030-02-01"), "no_bars"),
    ],
    ids=["speed-zero", "speed-word", "unknown-strategy", "undeclared-timeframe", "no-bars"],
)
def test_bad_input_is_a_clear_error_and_runs_nothing(
    cli: Cli, args: tuple[str, ...], code: str
) -> None:
    out = cli("paper", "run", *args)
    assert out.code == 2, out.stdout + out.stderr
    error = out.error
    assert error["code"] == code and error["message"] and error["suggestion"]
    assert ndjson(cli("paper", "status")) == []


def test_the_same_run_in_two_fresh_homes_has_the_same_run_hash(tmp_path: Path) -> None:
    """Determinism: the run's events (timestamps aside) are a function of its inputs."""
    from tests.kit.cli import run_cli

    hashes = []
    for name in ("one", "two"):
        out = run_cli(tmp_path / name, "paper", "run", SMA, *MARKET, *RANGE, "--quiet")
        assert out.code == 0, out.stdout + out.stderr
        summary = json.loads(out.stdout)
        assert summary["trades"], "a week of the fast crossover trades"
        hashes.append(summary["run_hash"])
    assert hashes[0] == hashes[1]
    assert len(hashes[0]) == 64
