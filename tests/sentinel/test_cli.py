"""`rara sentinel test FEED_OR_TEXT` in a fresh interpreter: the signals a text or a feed file
would raise, as JSON, and nothing written (no event, no lock)."""

from __future__ import annotations

from pathlib import Path

from rara.events import open_event_store
from rara.home import Home
from tests.sentinel.feedserver import rss


def nothing_recorded(rara_home: Path) -> bool:
    db = Home(root=rara_home).state_db
    if not db.exists():
        return True
    with open_event_store(db, readonly=True) as store:
        return store.last_seq() == 0


def test_a_text_is_classified(cli, rara_home: Path) -> None:
    r = cli("sentinel", "test", "Bitcoin exchange hacked, withdrawals suspended")
    assert r.code == 0, r.stderr
    out = r.json
    assert (out["kind"], out["dry_run"], out["classifier"]) == ("text", True, "rules")
    (signal,) = out["signals"]
    assert (signal["signal"], signal["severity"], signal["symbol"]) == (
        "news_critical",
        "critical",
        "BTC/USDT",  # the daemon's research symbol by default
    )
    assert signal["classified_by"] == "rules" and signal["lock_until_ms"] is not None
    assert nothing_recorded(rara_home)


def test_a_feed_file_is_polled_once(cli, rara_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(rss(("1", "Ether lawsuit filed"), ("2", "Quiet markets")))
    env = {"RARA_TRADING__RISK__ALLOWED_SYMBOLS": '["BTC/USDT", "ETH/USDT"]'}
    r = cli("sentinel", "test", str(path), env=env)
    assert r.code == 0, r.stderr
    out = r.json
    assert out["kind"] == "feed" and out["symbols_traded"] == ["BTC/USDT", "ETH/USDT"]
    assert [(s["severity"], s["symbol"]) for s in out["signals"]] == [
        ("warning", "ETH/USDT"),
        ("info", None),
    ]
    assert out["failures"] == []
    assert nothing_recorded(rara_home)
