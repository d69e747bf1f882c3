"""`rara sentinel test FEED_OR_TEXT`: what the sentinel would raise for a feed or a text, written
nowhere (no events, no locks).

A URL or an existing file is read once as a feed; anything else is classified as the title of a
news item. The symbols it matches against are those the configuration trades: the daemon's
research symbol, ``trading.risk.allowed_symbols`` and every account's ``symbols``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from rara.config import Settings
from rara.events import open_event_store
from rara.home import Home
from rara.llm.ports import LlmProvider
from rara.sentinel.build import configured_llm
from rara.sentinel.feeds import FeedItem, is_url
from rara.sentinel.sentinel import Sentinel


def configured_symbols(settings: Settings) -> list[str]:
    """The symbols the configuration trades, in a stable order without repeats."""
    symbols = [settings.daemon.research.symbol, *(settings.trading.risk.allowed_symbols or ())]
    for account in settings.trading.accounts.values():
        symbols.extend(account.symbols or ())
    return list(dict.fromkeys(symbols))


def is_feed(feed_or_text: str) -> bool:
    return is_url(feed_or_text) or Path(feed_or_text).expanduser().is_file()


def test_input(
    home: Home, settings: Settings, feed_or_text: str, *, llm: LlmProvider | None = None
) -> dict[str, Any]:
    """The signals `feed_or_text` would raise (severity, symbols, who classified it, the lock it
    would set, whether the log already has it) and the failures it met. With
    ``sentinel.classify_with_llm``, `llm` classifies (default: the configured one)."""
    if llm is None:
        llm = configured_llm(home, settings)
    symbols = configured_symbols(settings)
    feed = is_feed(feed_or_text)
    with open_event_store(home.state_db) as store:
        sentinel = Sentinel(
            store, settings.sentinel, traded_symbols=lambda: symbols, llm=llm, dry_run=True
        )
        try:
            if feed:
                raised = sentinel.poll_feed(feed_or_text)
            else:
                digest = hashlib.sha256(feed_or_text.encode("utf-8")).hexdigest()[:24]
                item = FeedItem(source="text", entry_id=digest, title=feed_or_text.strip())
                raised = sentinel.take(item)
        finally:
            sentinel.close()
    return {
        "input": feed_or_text,
        "kind": "feed" if feed else "text",
        "dry_run": True,
        "symbols_traded": symbols,
        "classifier": sentinel.classifier.name if sentinel.classifier is not None else "rules",
        "signals": [r.as_json() for r in raised],
        "failures": [f.model_dump(mode="json") for f in sentinel.failures],
    }
