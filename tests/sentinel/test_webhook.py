"""The webhook on 127.0.0.1 over real HTTP: a missing or wrong token is 401 and records nothing,
the right one records the signal and locks its symbol, a bad body is 400; the token shows up in
no event, log line or output."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rara.config import Settings
from rara.credentials import load_secrets, redacted_secrets
from rara.daemon_settings import SentinelSettings
from rara.domain.events import SentinelSignalDetected
from rara.errors import BadInput, RaraError, Refused
from rara.events import EventFilter, EventStore, open_event_store
from rara.home import Home
from rara.sentinel import Sentinel, build_sentinel
from rara.trading.control import Control
from rara.trading.risk import Deny, judge
from rara.trading_settings import RiskSettings
from tests.sentinel.feedserver import NOW, account, intent

TOKEN = "whk-7d1e0c9b3a5f4e2d8c6b0a1f3e5d7c9b"


@pytest.fixture
def store(rara_home: Path) -> Iterator[EventStore]:
    rara_home.mkdir(parents=True, exist_ok=True)
    with open_event_store(Home.from_env().state_db) as s:
        yield s


@pytest.fixture
def webhook(store: EventStore) -> Iterator[str]:
    sentinel = Sentinel(
        store,
        SentinelSettings(webhook_port=0),
        traded_symbols=lambda: ["BTC/USDT", "ETH/USDT"],
        webhook_token=TOKEN,
        clock_ms=lambda: NOW,
    )
    try:
        port = sentinel.start_webhook()
        assert sentinel.start_webhook() == port  # idempotent
        yield f"http://127.0.0.1:{port}/signal"
    finally:
        sentinel.close()


def post(
    url: str, body: object, token: str | None = TOKEN, raw: bytes | None = None
) -> httpx.Response:
    """POST as a client would; `token` None sends no Authorization, one with a space is sent
    as the whole header."""
    if token is None:
        headers = {}
    else:
        headers = {"Authorization": token if " " in token else f"Bearer {token}"}
    with httpx.Client(timeout=10, trust_env=False) as client:
        if raw is not None:
            return client.post(url, content=raw, headers=headers)
        return client.post(url, json=body, headers=headers)


def test_the_webhook_takes_a_signal_only_with_the_token(
    store: EventStore,
    webhook: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG, logger="rara")
    critical = {
        "title": "Validator bug halts the chain",
        "symbols": ["ETH/USDT"],
        "severity": "critical",
        "id": "inc-1",
    }
    for token in (None, "wrong", TOKEN + "x", f"Basic {TOKEN}", f"Bearer  {TOKEN[:-1]}"):
        r = post(webhook, critical, token=token)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        assert TOKEN not in r.text
    assert store.last_seq() == 0  # nothing recorded

    r = post(webhook, critical)
    assert r.status_code == 200
    (signal,) = r.json()["signals"]
    assert (signal["signal"], signal["symbol"], signal["classified_by"]) == (
        "news_critical",
        "ETH/USDT",
        "source",
    )
    verdict = judge(
        Control(store).snapshot(NOW), account(NOW), intent("ETH/USDT", "buy"), RiskSettings()
    )
    assert isinstance(verdict, Deny) and verdict.code == "locked"
    # the same id again: recorded once
    assert post(webhook, critical).json() == {"signals": []}
    # no severity given: the rules classify the text, symbols found in it
    r = post(webhook, {"title": "Bitcoin node outage at a large exchange"})
    assert [(s["severity"], s["symbol"]) for s in r.json()["signals"]] == [("warning", "BTC/USDT")]

    recorded = store.query(EventFilter(types=[SentinelSignalDetected]))
    assert [(e.payload["signal"], e.payload["symbol"]) for e in recorded] == [
        ("news_critical", "ETH/USDT"),
        ("news_warning", "BTC/USDT"),
    ]
    log_text = "".join(e.to_json_dict().__repr__() for e in store.query())
    out = capsys.readouterr()
    assert TOKEN not in log_text + caplog.text + out.out + out.err


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"{not json", "not JSON"),
        (b'{"summary": "no title"}', "title"),
        (b'{"title": "x", "severity": "apocalyptic"}', "severity"),
        (b'{"title": "x", "extra": 1}', "extra"),
        (b"[1, 2]", "body"),
    ],
)
def test_a_bad_body_is_400(store: EventStore, webhook: str, raw: bytes, why: str) -> None:
    r = post(webhook, None, raw=raw)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "bad_body" and why in error["message"]
    assert store.last_seq() == 0


def test_other_paths_and_methods(webhook: str) -> None:
    assert post(webhook.replace("/signal", "/admin"), {"title": "x"}).status_code == 404
    with httpx.Client(timeout=10, trust_env=False) as client:
        assert client.get(webhook).status_code == 405


def test_no_token_no_webhook(store: EventStore) -> None:
    sentinel = Sentinel(store, SentinelSettings(webhook_port=0), traded_symbols=lambda: [])
    try:
        with pytest.raises(Refused) as e:
            sentinel.start_webhook()
        assert e.value.code == "sentinel_webhook_no_token"
        assert "RARA_SENTINEL_WEBHOOK_TOKEN" in e.value.message
    finally:
        sentinel.close()
    off = Sentinel(store, SentinelSettings(), traded_symbols=lambda: [], webhook_token=TOKEN)
    try:
        with pytest.raises(Refused, match="webhook_port"):
            off.start_webhook()
    finally:
        off.close()


def test_a_port_in_use_is_an_event_and_an_error(store: EventStore, webhook: str) -> None:
    port = int(webhook.rsplit(":", 1)[1].split("/")[0])
    second = Sentinel(
        store, SentinelSettings(webhook_port=port), traded_symbols=lambda: [], webhook_token=TOKEN
    )
    try:
        with pytest.raises(RaraError) as e:
            second.start_webhook()
        assert e.value.code == "sentinel_webhook_bind"
    finally:
        second.close()
    (failed,) = store.query()
    assert failed.type == "sentinel_source_failed" and failed.payload["code"] == "bind_failed"


def test_the_token_comes_from_the_environment_or_the_0600_secrets_file(rara_home: Path) -> None:
    home = Home(root=rara_home)
    secrets = load_secrets(home, {"RARA_SENTINEL_WEBHOOK_TOKEN": TOKEN})
    assert secrets.sentinel_webhook_token is not None
    assert secrets.sentinel_webhook_token.get_secret_value() == TOKEN
    assert redacted_secrets(secrets)["sentinel.webhook_token"] == "***"
    assert TOKEN not in repr(secrets)
    rara_home.mkdir(parents=True, exist_ok=True)
    home.secrets_file.write_text(f"[sentinel]\nwebhook_token = '{TOKEN}'\n")
    home.secrets_file.chmod(0o600)
    from_file = load_secrets(home, {}).sentinel_webhook_token
    assert from_file is not None and from_file.get_secret_value() == TOKEN
    home.secrets_file.write_text(f"[sentinel]\nwebhook_tokn = '{TOKEN}'\n")
    with pytest.raises(BadInput) as e:
        load_secrets(home, {})
    assert "sentinel.webhook_token" in e.value.suggestion and TOKEN not in str(e.value.to_dict())


def test_build_sentinel_takes_the_token_from_the_secrets(
    rara_home: Path, store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RARA_SENTINEL_WEBHOOK_TOKEN", TOKEN)
    settings = Settings(sentinel=SentinelSettings(webhook_port=0))
    sentinel = build_sentinel(
        Home(root=rara_home), settings, store, traded_symbols=lambda: ["BTC/USDT"]
    )
    try:
        url = f"http://127.0.0.1:{sentinel.start_webhook()}/signal"
        assert post(url, {"title": "x"}, token="wrong").status_code == 401
        assert post(url, {"title": "Bitcoin exploit"}).status_code == 200
        assert TOKEN not in repr(sentinel)
    finally:
        sentinel.close()
