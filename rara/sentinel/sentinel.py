"""The sentinel: poll the feeds and the market, classify what they say, act on it, record it.

    sentinel = Sentinel(store, settings.sentinel, traded_symbols=lambda: ["BTC/USDT"],
                        candles_of=candles_of, llm=provider, webhook_token=token)
    sentinel.start_webhook()          # when [sentinel] webhook_port is set
    signals = sentinel.poll_once()    # every feed, then the market; never raises for a source
    sentinel.close()

Every signal is a ``sentinel_signal_detected`` event, one per affected symbol (None: market-wide).
Its event id is a function of the source and the entry (a market signal: of the symbol, the
signal and the bar), so an item is recorded once however often it is seen, across restarts and
by any process. A **critical** signal on a symbol first locks that symbol in the risk gate for
``lock_minutes`` (``trading_lock_set``, lock id from the same digest, so setting it again after a
crash replaces it), and with ``reduce_on_critical`` sets the trading state to REDUCING; the
events follow in one transaction. News published longer ago than ``lock_minutes`` locks nothing
(its lock would have lapsed already). A source that cannot be read is a
``sentinel_source_failed`` event with its consecutive count; the next poll tries again.

``dry_run`` (for `rara sentinel test`) classifies and reports what would be raised, writing
nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr

from rara.credentials import WEBHOOK_TOKEN_ENV
from rara.daemon_settings import SentinelSettings
from rara.domain.events import SentinelSignalDetected, SentinelSourceFailed
from rara.domain.market import Candles
from rara.errors import BadInput, RaraError, Refused
from rara.events import EventDraft, EventStore
from rara.llm.ports import LlmProvider
from rara.sentinel.classify import (
    Classification,
    ClassifierFailed,
    LlmClassifier,
    Severity,
    classify_by_rules,
    resolve_symbols,
)
from rara.sentinel.feeds import FeedItem, FeedReader
from rara.sentinel.market import MarketSignal, market_signals
from rara.sentinel.webhook import WebhookPost, WebhookServer
from rara.trading.control import Control, reduce, set_lock

log = logging.getLogger("rara.sentinel")

SOURCE = "sentinel"  # the events' source and the locks' set_by
MAX_DETAIL = 500
SourceKind = Literal["feed", "webhook", "market", "classifier"]


def utc_now_ms() -> int:
    return time.time_ns() // 1_000_000


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:24]


class Raised(BaseModel):
    """One signal as the sentinel raised it (or, in a dry run, would): the event, its id, who
    classified it, the lock it set and whether the log already had it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event: SentinelSignalDetected
    event_id: str
    classified_by: str
    lock_until_ms: int | None = None
    new: bool = True

    def as_json(self) -> dict[str, Any]:
        return {
            **self.event.model_dump(mode="json"),
            "event_id": self.event_id,
            "classified_by": self.classified_by,
            "lock_until_ms": self.lock_until_ms,
            "new": self.new,
        }


class Sentinel:
    """See the module docstring. Thread-safe: the webhook's thread and the poll share it."""

    def __init__(
        self,
        store: EventStore,
        settings: SentinelSettings,
        *,
        traded_symbols: Callable[[], Sequence[str]],
        candles_of: Callable[[str], Candles | None] | None = None,
        llm: LlmProvider | None = None,
        webhook_token: str | SecretStr | None = None,
        clock_ms: Callable[[], int] = utc_now_ms,
        dry_run: bool = False,
    ) -> None:
        self.store = store
        self.settings = settings
        self.traded_symbols = traded_symbols
        self.candles_of = candles_of
        self.classifier = (
            LlmClassifier(llm) if llm is not None and settings.classify_with_llm else None
        )
        self._token = SecretStr(webhook_token) if isinstance(webhook_token, str) else webhook_token
        self.clock_ms = clock_ms
        self.dry_run = dry_run
        self._reader = FeedReader(settings.request_timeout_s)
        self._webhook: WebhookServer | None = None
        self._lock = threading.RLock()
        self._consecutive: dict[tuple[str, str], int] = {}
        self._seen: dict[str, set[str]] = {}  # per feed: the entry digests of its last read
        self.failures: list[SentinelSourceFailed] = []  # this instance's, newest last (bounded)

    def __repr__(self) -> str:  # never the token
        return f"Sentinel(feeds={len(self.settings.feeds)}, dry_run={self.dry_run})"

    # ---- the public surface --------------------------------------------------------------

    def poll_once(
        self, on_progress: Callable[[str], None] | None = None
    ) -> list[SentinelSignalDetected]:
        """Read every feed, then the market signals of every traded symbol; the new signals.
        `on_progress` is told after each source (a slow feed is not a stuck sentinel)."""
        raised: list[Raised] = []
        for source in self.settings.feeds:
            raised += self.poll_feed(source)
            if on_progress is not None:
                on_progress(f"read {source}")
        if self.settings.market.enabled and self.candles_of is not None:
            raised += self.poll_market()
        return [r.event for r in raised if r.new]

    def poll_feed(self, source: str) -> list[Raised]:
        read = self._reader.read(source)
        if read.failure is not None:
            self._failed(source, "feed", read.failure.code, read.failure.detail)
            return []
        self._succeeded(source, "feed")
        if read.not_modified:
            return []
        seen_before = self._seen.get(source, set())
        seen_now: set[str] = set()
        out: list[Raised] = []
        for item in read.items:
            digest = _digest(item.source, item.entry_id)
            seen_now.add(digest)
            if digest in seen_before and not self.dry_run:
                continue
            out += self.take(item)
        if not self.dry_run:
            self._seen[source] = seen_now  # bounded by the feed's length
        return out

    def take(
        self,
        item: FeedItem,
        *,
        symbols: Sequence[str] = (),
        severity: Severity | None = None,
    ) -> list[Raised]:
        """Classify one item and act on it, unless the log has it already. `symbols` and
        `severity` are what the source itself said (a webhook post)."""
        digest = _digest(item.source, item.entry_id)
        with self._lock:
            known = self.store.has_event(_news_id(digest, 0))
            if known and not self.dry_run:
                return []
            now = self.clock_ms()
            verdict = self._classify(item, symbols, severity)
            signal = f"news_{verdict.severity}"
            lock_until = self._lock_until(verdict.severity, item.published_ms, now)
            detail = f"{item.title} [{item.source}; {verdict.by}: {verdict.reason}]"
            out = [
                Raised(
                    event=SentinelSignalDetected(
                        signal=signal,
                        severity=verdict.severity,
                        strategy_id=None,
                        symbol=symbol,
                        value=None,
                        threshold=None,
                        detail=detail[:MAX_DETAIL],
                    ),
                    event_id=_news_id(digest, k),
                    classified_by=verdict.by,
                    lock_until_ms=lock_until if symbol is not None else None,
                    new=not known,
                )
                for k, symbol in enumerate(verdict.symbols or (None,))
            ]
            self._record(out, digest, f"{signal}: {item.title}", act=lock_until is not None)
            return out

    def poll_market(self) -> list[Raised]:
        """The market signals of the last bar of every traded symbol, each recorded once."""
        assert self.candles_of is not None
        out: list[Raised] = []
        for symbol in self.traded_symbols():
            source = f"market:{symbol}"
            try:
                candles = self.candles_of(symbol)
            except Exception as exc:  # the daemon's data path: recorded, tried again next poll
                self._failed(
                    source, "market", "candles_unavailable", f"{type(exc).__name__}: {exc}"
                )
                continue
            self._succeeded(source, "market")
            if candles is None:
                continue
            for found in market_signals(candles, self.settings.market):
                out += self._take_market(symbol, found)
        return out

    def start_webhook(self) -> int:
        """Serve the webhook on 127.0.0.1:``webhook_port`` (0: any); the bound port. Refused
        without a token or a port; an address in use is a ``sentinel_source_failed`` event and
        an error. Starting it again returns the same port."""
        if self._webhook is not None and self._webhook.running:
            return self._webhook.port
        port = self.settings.webhook_port
        if port is None:
            raise Refused(
                "sentinel_webhook_off",
                "the sentinel webhook is off (sentinel.webhook_port is not set)",
                "`rara config set sentinel.webhook_port 0` (any free port) or a port number",
            )
        if self._token is None or not self._token.get_secret_value():
            raise Refused(
                "sentinel_webhook_no_token",
                f"the sentinel webhook needs a token and {WEBHOOK_TOKEN_ENV} is not set",
                f"export {WEBHOOK_TOKEN_ENV}=<a long random string> (or set "
                "sentinel.webhook_token in $RARA_HOME/secrets.toml, mode 0600)",
            )
        server = WebhookServer(self._token, self._on_post, port)
        try:
            bound = server.start()
        except OSError as exc:
            detail = f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}"
            self._failed("webhook", "webhook", "bind_failed", detail)
            raise RaraError(
                "sentinel_webhook_bind",
                detail,
                "free the port or set another sentinel.webhook_port",
            ) from None
        self._webhook = server
        log.info("sentinel webhook on 127.0.0.1:%d", bound)
        return bound

    def close(self) -> None:
        if self._webhook is not None:
            self._webhook.close()
            self._webhook = None
        self._reader.close()

    # ---- classifying ---------------------------------------------------------------------

    def _classify(
        self, item: FeedItem, given: Sequence[str], severity: Severity | None
    ) -> Classification:
        traded = list(self.traded_symbols())
        named = resolve_symbols(given, traded)
        candidates = traded + [s for s in named if s not in traded]
        text = f"{item.title}\n{item.summary}"
        verdict = classify_by_rules(
            text,
            candidates,
            critical_keywords=self.settings.critical_keywords,
            warning_keywords=self.settings.warning_keywords,
        )
        if severity is not None:
            verdict = Classification(
                severity=severity,
                symbols=verdict.symbols,
                reason="the source's severity",
                by="source",
            )
        elif self.classifier is not None:
            try:
                verdict = self.classifier.classify(item.title, item.summary, candidates)
            except ClassifierFailed as exc:
                self._failed(self.classifier.name, "classifier", exc.code, exc.message)
            else:
                self._succeeded(self.classifier.name, "classifier")
        symbols = tuple(dict.fromkeys((*named, *verdict.symbols)))
        return Classification(
            severity=verdict.severity, symbols=symbols, reason=verdict.reason, by=verdict.by
        )

    def _lock_until(self, severity: Severity, published_ms: int | None, now: int) -> int | None:
        if severity != "critical":
            return None
        lock_ms = int(self.settings.lock_minutes * 60_000)
        if published_ms is not None and published_ms + lock_ms <= now:
            return None  # old news: its lock would have lapsed
        return now + lock_ms

    # ---- acting and recording ------------------------------------------------------------

    def _take_market(self, symbol: str, found: MarketSignal) -> list[Raised]:
        event_id = f"sentinel:market:{_digest(symbol, found.signal, str(found.bar_ms))}"
        with self._lock:
            known = self.store.has_event(event_id)
            if known and not self.dry_run:
                return []
            now = self.clock_ms()
            raised = Raised(
                event=SentinelSignalDetected(
                    signal=found.signal,
                    severity=found.severity,
                    strategy_id=None,
                    symbol=symbol,
                    value=found.value,
                    threshold=found.threshold,
                    detail=f"{found.signal} {found.value:g} >= {found.threshold:g} on the bar "
                    f"opening at {found.bar_ms}",
                ),
                event_id=event_id,
                classified_by="rules",
                lock_until_ms=self._lock_until(found.severity, None, now),
                new=not known,
            )
            why = f"{found.signal} on {symbol}"
            self._record([raised], _digest(event_id), why, act=raised.lock_until_ms is not None)
            return [raised]

    def _record(self, raised: list[Raised], digest: str, why: str, *, act: bool) -> None:
        """Locks (and REDUCING, when `act` on a critical signal) first, then the events in one
        transaction: a crash in between sets the locks again on the next poll (same lock ids),
        never records a critical signal without them."""
        if self.dry_run or not raised:
            return
        for r in raised:
            if r.lock_until_ms is not None and r.event.symbol is not None:
                set_lock(
                    self.store,
                    "symbol",
                    r.event.symbol,
                    until_ms=r.lock_until_ms,
                    reason=f"sentinel {why}"[:300],
                    by=SOURCE,
                    lock_id=f"sentinel:{digest}:{r.event.symbol}",
                    source=SOURCE,
                )
        if act and self.settings.reduce_on_critical:
            self._reduce(why)
        drafts = [EventDraft(payload=r.event, source=SOURCE, event_id=r.event_id) for r in raised]
        try:
            self.store.append_many(drafts)
        except BadInput as exc:
            if exc.code != "event_duplicate_id":  # another process recorded it first
                raise
        for r in raised:
            log.warning(
                "sentinel %s %s on %s", r.event.severity, r.event.signal, r.event.symbol or "market"
            )

    def _reduce(self, why: str) -> None:
        if Control(self.store).state != "ACTIVE":
            return  # already reducing, or halted by a person: leave it
        with contextlib.suppress(Refused):  # halted in between
            reduce(self.store, f"sentinel {why}"[:300], by=SOURCE, source=SOURCE)

    def _failed(self, source: str, kind: SourceKind, code: str, detail: str) -> None:
        with self._lock:
            count = self._consecutive.get((kind, source), 0) + 1
            self._consecutive[(kind, source)] = count
            failure = SentinelSourceFailed(
                source=source, kind=kind, code=code, detail=detail[:MAX_DETAIL], consecutive=count
            )
            self.failures = [*self.failures[-99:], failure]
        log.warning("sentinel source %s (%s) failed: %s (%d in a row)", source, kind, code, count)
        if not self.dry_run:
            self.store.append(failure, source=SOURCE)

    def _succeeded(self, source: str, kind: SourceKind) -> None:
        with self._lock:
            self._consecutive.pop((kind, source), None)

    def _on_post(self, post: WebhookPost) -> list[dict[str, Any]]:
        entry_id = post.id or "title:" + _digest(post.title, post.summary)
        item = FeedItem(source="webhook", entry_id=entry_id, title=post.title, summary=post.summary)
        return [r.as_json() for r in self.take(item, symbols=post.symbols, severity=post.severity)]


def _news_id(digest: str, k: int) -> str:
    return f"sentinel:{digest}:{k}"
