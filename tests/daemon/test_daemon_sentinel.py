"""Acceptance 4 of the daemon issue, through a real `rara run`: a news feed served over HTTP on
127.0.0.1 that publishes a critical item about the traded symbol locks that symbol within one
poll, and the paper strategies trading it in the daemon have their next buy refused by the risk
gate naming the lock; a malformed feed, a feed answering 500 and a feed that never answers are
``sentinel_source_failed`` events while the daemon and its sentinel keep running; the webhook
refuses a wrong token (401, nothing recorded) and records a signal with the right one. The token
shows up in no event, status row or output of the daemon.

The strategies come from `rara research run` on the planted-edge home (two paper candidates);
the daemon runs without research and replays their paper bars at 10 bars a second, so they are
still trading when the news comes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx

from rara.daemon.status import read_status
from rara.home import Home
from tests.kit.daemon import SYMBOL, planted_edge_home
from tests.kit.daemon_process import DaemonProcess, last_seq
from tests.kit.live import wait_for
from tests.sentinel.feedserver import feed_server, rss, silent_server

TOKEN = "whk-daemon-5c0e9a7b1d3f4e6a8b2c4d6e8f0a1b3c"
CRITICAL = "EDGE exchange hack: withdrawals halted, EDGE bridge drained"
SPEED = "36000"  # 10 one-hour bars a second: ~100 s of replay, far more than the test needs


def webhook_port(home: Path) -> int | None:
    """The port the daemon's webhook bound, as `rara status` shows it (the sentinel's detail)."""
    for c in read_status(Home(root=home))["components"]:
        found = re.search(r"webhook on 127\.0\.0\.1:(\d+)", c["detail"])
        if c["name"] == "sentinel" and found:
            return int(found.group(1))
    return None


def sentinel_toml(feeds: list[str]) -> str:
    return (
        "\n[sentinel]\n"
        f"feeds = {json.dumps(feeds)}\n"
        "poll_interval_s = 1.0\n"
        "request_timeout_s = 1.0\n"
        "webhook_port = 0\n"  # any free port: the daemon says which in `rara status`
        # the market's own signals would lock the symbol too: only the news may here
        "\n[sentinel.market]\nenabled = false\n"
    )


def failures(d: DaemonProcess, source: str) -> list[dict[str, Any]]:
    return [e.payload for e in d.events("sentinel_source_failed") if e.payload["source"] == source]


def test_a_critical_item_locks_its_symbol_and_broken_feeds_are_events(
    rara_home: Path, cli: Any
) -> None:
    kit = planted_edge_home(rara_home, cli)
    assert len(kit.research(cli)["promoted"]) >= 1
    with (
        feed_server() as good,
        feed_server() as malformed,
        feed_server() as broken,
        silent_server() as silent,
    ):
        good.publish(rss(("wire-1", "EDGE trades sideways on thin volume")))
        malformed.publish(b"<<this is not a feed>> \x00\x01")
        broken.publish(b"", status=500)
        feeds = [good.url, malformed.url, broken.url, silent]
        with (rara_home / "config.toml").open("a", encoding="utf-8") as f:
            f.write(sentinel_toml(feeds))
        with DaemonProcess(
            rara_home, "--no-research", "--speed", SPEED, env={"RARA_SENTINEL_WEBHOOK_TOKEN": TOKEN}
        ) as d:
            d.wait_ready()
            # paper trading is under way on the symbol before the news
            d.wait_event("trading_order_filled", lambda e: e.payload["symbol"] == SYMBOL)
            # every broken feed is an event, again on the next poll; the daemon keeps going
            for url, code in ((malformed.url, "malformed"), (broken.url, "http_500")):
                d.wait_event(
                    "sentinel_source_failed",
                    lambda e, u=url: e.payload["source"] == u and e.payload["consecutive"] >= 2,
                )
                assert {f["code"] for f in failures(d, url)} == {code}, failures(d, url)
            d.wait_event(
                "sentinel_source_failed",
                lambda e: e.payload["source"] == silent and e.payload["consecutive"] >= 2,
            )
            assert {f["code"] for f in failures(d, silent)} == {"timeout"}
            assert failures(d, good.url) == []

            # the news: the good feed's next answer carries it
            with good.lock:
                served_before = len(good.requests)
                good.body = rss(
                    ("wire-1", "EDGE trades sideways on thin volume"), ("wire-2", CRITICAL)
                )
            published_at_seq = last_seq(rara_home)
            lock = d.wait_event(
                "trading_lock_set",
                lambda e: e.payload["scope"] == "symbol" and e.payload["target"] == SYMBOL,
                timeout_s=120,
            )
            assert lock.seq > published_at_seq
            assert lock.payload["set_by"] == "sentinel" and "hack" in lock.payload["reason"]
            # within one poll: feeds are read in the configured order, the good one first, and
            # the malformed one fails once per poll (its `consecutive` is the poll's number); the
            # lock comes before the malformed feed's failure of the poll that first read the news
            # (poll served_before + 1), so from that very read
            closing = d.wait_event(
                "sentinel_source_failed",
                lambda e: (
                    e.payload["source"] == malformed.url
                    and e.payload["consecutive"] == served_before + 1
                ),
            )
            assert lock.seq < closing.seq, (lock.seq, closing.seq, served_before)
            signal = d.wait_event(
                "sentinel_signal_detected",
                lambda e: e.payload["severity"] == "critical" and e.payload["symbol"] == SYMBOL,
            )
            assert CRITICAL in signal.payload["detail"] and signal.seq > lock.seq

            # the risk gate of the strategies trading the symbol refuses their next buy
            refused = d.wait_event(
                "trading_order_rejected",
                lambda e: e.payload["reason_code"] == "locked" and e.seq > lock.seq,
                timeout_s=120,
            )
            assert refused.payload["symbol"] == SYMBOL and refused.payload["side"] == "buy"
            assert refused.payload["rejected_by"] == "risk_gate"
            assert refused.payload["context"]["lock_id"] == lock.payload["lock_id"]
            locks = cli("locks")
            assert locks.code == 0, locks.stderr
            assert lock.payload["lock_id"] in locks.stdout

            port = wait_for(lambda: webhook_port(rara_home), 60, why="the webhook's port")
            # the webhook: a wrong token is 401 and records nothing, the right one a signal
            url = f"http://127.0.0.1:{port}/signal"
            body = {"title": "EDGE/USDT listing review opened", "id": "wh-1"}
            with httpx.Client(timeout=30, trust_env=False) as client:
                wrong = client.post(url, json=body, headers={"Authorization": "Bearer nope"})
                assert wrong.status_code == 401
                assert not [
                    e
                    for e in d.events("sentinel_signal_detected")
                    if body["title"] in e.payload["detail"]
                ]
                right = client.post(url, json=body, headers={"Authorization": f"Bearer {TOKEN}"})
                assert right.status_code == 200, right.text
            assert [s["symbol"] for s in right.json()["signals"]] == [SYMBOL]
            d.wait_event("sentinel_signal_detected", lambda e: body["title"] in e.payload["detail"])

            # alive, and the sentinel never crashed for its broken sources
            assert d.alive
            status = read_status(Home.from_env())
            sentinel = [c for c in status["components"] if c["name"] == "sentinel"]
            assert sentinel and sentinel[0]["state"] == "running", status["components"]
            assert sentinel[0]["restarts"] == 0
            assert d.stop() == 0
        assert d.events("daemon_stopped")

    # the token is nowhere: not in an event, a status row, the state DB's bytes or the output
    everything = json.dumps([e.payload for e in d.events()]) + json.dumps(
        read_status(Home.from_env())
    )
    assert TOKEN not in everything
    for db in rara_home.glob("rara.db*"):
        assert TOKEN.encode() not in db.read_bytes(), db
    assert TOKEN not in d.output()
