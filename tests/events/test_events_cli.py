"""`rara events query|verify|append`: NDJSON out, JSON errors, exit codes 0/2/3."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from rara.cli import app
from rara.events import EventStore
from tests.events.payloads import probe


def _run(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, ["events", *args])
    return r.exit_code, r.stdout


@pytest.fixture
def filled(db_path: Path, make_clock: Callable) -> Path:
    with EventStore(db_path, clock=make_clock()) as s:
        for i in range(10):
            s.append(
                probe(
                    "trading_order_filled" if i % 2 else "research_hypothesis_created",
                    {"i": i, "text": "naïve ✓"},
                ),
                source="test",
                correlation_id="run-a" if i < 4 else "run-b",
            )
    return db_path


def test_query_ndjson_and_filters(filled: Path) -> None:
    code, out = _run("query")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["seq"] for r in rows] == list(range(1, 11))
    assert rows[0]["payload"] == {"i": 0, "text": "naïve ✓"}
    assert set(rows[0]) == {
        "seq", "event_id", "type", "ts", "source", "correlation_id", "strategy_id",
        "payload", "prev_hash", "hash",
    }  # fmt: skip
    code, out = _run("query", "--type", "trading_order_filled", "--limit", "2")
    assert [json.loads(x)["seq"] for x in out.splitlines()] == [2, 4]
    code, out = _run("query", "--correlation-id", "run-a", "--type", "research_hypothesis_created")
    assert [json.loads(x)["seq"] for x in out.splitlines()] == [1, 3]
    code, out = _run("query", "--since", "2024-05-01T00:00:00.008Z")
    assert [json.loads(x)["seq"] for x in out.splitlines()] == [9, 10]
    code, out = _run("query", "--after-seq", "8")
    assert [json.loads(x)["seq"] for x in out.splitlines()] == [9, 10]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["query", "--since", "last tuesday"], "event_bad_since"),
        (["query", "--type", "Bad Type"], "event_type_invalid"),
        (["query", "--limit", "0"], "usage"),
        (["append", "--type", "a_b", "--payload", "{not json"], "event_payload_invalid"),
        (["append", "--type", "a_b", "--payload", '{"x": NaN}'], "event_payload_invalid"),
        (["append", "--type", "a_b", "--payload", "[1, 2]"], "event_payload_invalid"),
        (["append", "--type", "A-B"], "event_type_invalid"),
        (["append"], "usage"),
    ],
)
def test_bad_input_exits_2_with_json(args: list[str], code: str, rara_home: Path) -> None:
    exit_code, out = _run(*args)
    assert exit_code == 2
    assert json.loads(out)["error"]["code"] == code
    assert not (rara_home / "rara.db").exists()  # nothing was written


def test_missing_log_is_intact_and_empty(rara_home: Path) -> None:
    code, out = _run("verify")
    assert code == 0 and json.loads(out)["ok"] and json.loads(out)["events_checked"] == 0
    assert _run("query") == (0, "")
    assert not rara_home.exists()  # reads create nothing


SIGNAL = {
    "signal": "drawdown_breach",
    "severity": "warning",
    "strategy_id": "s-1",
    "symbol": "BTC/USDT",
    "value": -0.12,
    "threshold": -0.1,
    "detail": "über the limit ✓",
}


def test_append_then_verify(rara_home: Path) -> None:
    code, out = _run(
        "append", "--type", "sentinel_signal_detected", "--payload", json.dumps(SIGNAL),
        "--correlation-id", "run-9", "--strategy-id", "s-1", "--event-id", "sig-1",
    )  # fmt: skip
    assert code == 0
    ev = json.loads(out)
    assert (ev["seq"], ev["source"], ev["event_id"], ev["payload"]) == (
        1,
        "cli",
        "sig-1",
        SIGNAL,
    )
    code, out = _run(
        "append", "--type", "sentinel_signal_detected", "--payload", json.dumps(SIGNAL),
        "--event-id", "sig-1",
    )  # fmt: skip
    assert code == 2 and json.loads(out)["error"]["code"] == "event_duplicate_id"
    code, out = _run("verify")
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["events_checked"] == 1
    assert report["head_hash"] == ev["hash"] and report["first_bad_seq"] is None


def test_subprocess_contract(filled: Path, cli: Callable) -> None:
    r = cli("events", "verify")
    assert r.code == 0 and r.json["ok"] and r.json["events_checked"] == 10
    r = cli("events", "query", "--limit", "3")
    assert r.code == 0 and len(r.stdout.splitlines()) == 3
    r = cli("events", "query", "--since", "nope")
    assert r.code == 2 and r.error["code"] == "event_bad_since"
    for sub in ("query", "verify", "append"):
        r = cli("events", sub, "--help")
        assert r.code == 0 and "Usage:" in r.stdout
