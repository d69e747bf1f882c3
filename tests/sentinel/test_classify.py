"""Classification: the keyword rules and symbol names offline, and the LLM over real HTTP (litellm
-> the OpenAI-compatible emulator): a valid reply is used, a junk or failed one falls back to the
rules and is a classifier failure event."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rara.daemon_settings import SentinelSettings
from rara.events import EventStore, open_event_store
from rara.home import Home
from rara.sentinel.classify import classify_by_rules, mentioned_symbols, resolve_symbols
from rara.sentinel.feeds import FeedItem
from rara.trading.control import Control
from tests.emulators.openai_emulator import OpenAIEmulator, Reply
from tests.kit.llm import API_KEY, MODEL
from tests.kit.paths import REPO
from tests.sentinel.feedserver import NOW

TRADED = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
RULES = SentinelSettings()


def rules(text: str) -> tuple[str, tuple[str, ...]]:
    c = classify_by_rules(
        text,
        TRADED,
        critical_keywords=RULES.critical_keywords,
        warning_keywords=RULES.warning_keywords,
    )
    return c.severity, c.symbols


def test_rules_by_keyword_and_currency_name() -> None:
    assert rules("Hackers drain an Ethereum bridge") == ("critical", ("ETH/USDT",))
    assert rules("Lender halts withdrawals; bitcoin and ether slide") == (
        "critical",
        ("BTC/USDT", "ETH/USDT"),
    )
    assert rules("SOL outage: validators stall") == ("warning", ("SOL/USDT",))
    assert rules("BTC ETF sees record inflows") == ("info", ("BTC/USDT",))
    assert rules("Stablecoin DEPEG spreads") == ("critical", ())  # market-wide
    # whole words only: a shack is not a hack, "soldier" names no SOL, "tether" no ETH
    assert rules("A shack by the soldiers' tether post") == ("info", ())


def test_symbols_named_by_code_pair_or_name() -> None:
    assert mentioned_symbols("xbt and solana", TRADED) == ("BTC/USDT", "SOL/USDT")
    assert resolve_symbols(["eth", "btc-usdt", "DOGE", "not a symbol/"], TRADED) == (
        "ETH/USDT",
        "BTC/USDT",
    )


@pytest.fixture
def store(rara_home: Path) -> Iterator[EventStore]:
    rara_home.mkdir(parents=True, exist_ok=True)
    with open_event_store(Home.from_env().state_db) as s:
        yield s


def item(entry_id: str, title: str) -> FeedItem:
    return FeedItem(source="http://127.0.0.1/feed.xml", entry_id=entry_id, title=title)


# litellm in-process leaves an event loop and its sockets behind, which a later, unrelated test
# then trips over under filterwarnings=error: the LLM calls run in a child process
LLM_TAKES = """
import json, os, sys
from rara.daemon_settings import SentinelSettings
from rara.events import open_event_store
from rara.home import Home
from rara.llm.budget import Budget
from rara.llm.provider import LitellmProvider
from rara.sentinel import Sentinel
from rara.sentinel.feeds import FeedItem

model, api_base, traded, now = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
home = Home.from_env()
provider = LitellmProvider(
    model, api_base=api_base, api_key=os.environ["RARA_LLM_API_KEY"], timeout_s=10.0,
    cache_dir=home.root / "cache" / "llm", budget=Budget(None),
)
with open_event_store(home.state_db) as store:
    sentinel = Sentinel(
        store, SentinelSettings(classify_with_llm=True), traded_symbols=lambda: traded,
        llm=provider, clock_ms=lambda: now,
    )
    try:
        out = []
        for entry_id, title in json.loads(sys.argv[5]):
            item = FeedItem(source="http://127.0.0.1/feed.xml", entry_id=entry_id, title=title)
            out.append([r.as_json() for r in sentinel.take(item)])
    finally:
        sentinel.close()
print(json.dumps(out))
"""


def llm_takes(emu: OpenAIEmulator, items: list[tuple[str, str]]) -> list[list[dict[str, Any]]]:
    """`Sentinel.take` of each item with the LLM classifier, in a child process: what it raised."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            LLM_TAKES,
            MODEL,
            emu.url,
            json.dumps(TRADED),
            str(NOW),
            json.dumps(items),
        ],
        env={**os.environ, "RARA_LLM_API_KEY": API_KEY},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert API_KEY not in done.stdout + done.stderr
    taken: list[list[dict[str, Any]]] = json.loads(done.stdout.strip().splitlines()[-1])
    return taken


def test_the_llm_classifies_and_the_rules_catch_its_junk(
    store: EventStore, emu: OpenAIEmulator, rara_home: Path
) -> None:
    emu.add(
        # no keyword would call this critical; the model does, and names its symbol by code
        Reply.of_json(
            {"severity": "critical", "symbols": ["SOL"], "reason": "chain halted"},
            purpose="sentinel",
        ),
        Reply(content="I think this is fine", purpose="sentinel"),
        Reply.of_json({"severity": "dire", "symbols": [], "reason": "?"}, purpose="sentinel"),
        Reply(status=500, purpose="sentinel"),
    )
    taken = llm_takes(
        emu,
        [("a", "Solana block production stops for hours")]
        + [(e, f"Bitcoin exchange hacked ({e})") for e in ("b", "c", "d")],
    )
    (used,) = taken[0]
    assert (used["severity"], used["symbol"], used["classified_by"]) == (
        "critical",
        "SOL/USDT",
        "llm",
    )
    assert "chain halted" in used["detail"]
    for raised in taken[1:]:  # not JSON, invalid, a server error: the rules decide
        (fallback,) = raised
        assert fallback["classified_by"] == "rules"
        assert (fallback["severity"], fallback["symbol"]) == ("critical", "BTC/USDT")
    request = emu.requests[0]
    assert request.purpose == "sentinel"
    assert json.loads(request.last_user)["symbols_traded"] == TRADED
    failed = [e.payload for e in store.query() if e.type == "sentinel_source_failed"]
    assert [(f["kind"], f["source"], f["consecutive"]) for f in failed] == [
        ("classifier", f"llm:{MODEL}", 1),
        ("classifier", f"llm:{MODEL}", 2),
        ("classifier", f"llm:{MODEL}", 3),
    ]
    assert [f["code"] for f in failed[:2]] == ["not_json", "invalid_reply"]
    assert failed[2]["code"].startswith("llm_")
    assert {lock.target for lock in Control(store).locks(NOW)} == {"SOL/USDT", "BTC/USDT"}
    everything = "".join(json.dumps(e.to_json_dict()) for e in store.query())
    assert API_KEY not in everything
