"""Reading RSS and Atom feeds: http(s) URLs with conditional GETs, or local files.

`FeedReader.read(source)` fetches the bytes itself (httpx, with the configured timeout; the
feed's last ETag and Last-Modified are sent back as If-None-Match / If-Modified-Since, and a 304
means nothing new) and hands them to feedparser, which never touches the network. What can go
wrong is a `FeedFailure` with a stable code (``http_500``, ``timeout``, ``unreachable``,
``malformed``, ``unreadable``, ``too_large``), never an exception: the sentinel records it and
tries again on the next poll.

Each entry becomes a `FeedItem` whose ``entry_id`` is the feed's own id, else its link, else a
hash of its title: what the sentinel dedups on.
"""

from __future__ import annotations

import calendar
import hashlib
from pathlib import Path
from typing import Any

import feedparser
import httpx
from pydantic import BaseModel, ConfigDict

# A feed bigger than this is not news; stop reading rather than hold it in memory.
MAX_FEED_BYTES = 5 * 1024 * 1024
USER_AGENT = "rara-sentinel/1"


class FeedItem(BaseModel):
    """One entry of a feed (or one webhook post), as the classifier reads it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    entry_id: str
    title: str
    summary: str = ""
    link: str | None = None
    published_ms: int | None = None


class FeedFailure(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    detail: str


class FeedRead(BaseModel):
    """What one read of a feed gave: its items, nothing new (a 304), or a failure."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    items: tuple[FeedItem, ...] = ()
    not_modified: bool = False
    failure: FeedFailure | None = None


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def entry_id_of(entry: Any) -> str:
    """The entry's own id, else its link, else a hash of its title (and summary)."""
    for key in ("id", "link"):
        value = entry.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    text = f"{entry.get('title', '')}\n{entry.get('summary', '')}"
    return "title:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def _published_ms(entry: Any) -> int | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if parsed is None:
        return None
    return int(calendar.timegm(parsed)) * 1000


def parse_feed(source: str, body: bytes) -> FeedRead:
    """Items of a feed document; `malformed` when feedparser could not make a feed of it."""
    try:
        parsed = feedparser.parse(body)
    except Exception as exc:  # a parser bug on hostile input is this feed's problem, not ours
        detail = f"feedparser failed: {type(exc).__name__}: {exc}"[:300]
        return FeedRead(failure=FeedFailure(code="malformed", detail=detail))
    entries = list(parsed.get("entries") or [])
    if not entries and (parsed.get("bozo") or not parsed.get("version")):
        why = parsed.get("bozo_exception")
        detail = f"not an RSS or Atom feed: {type(why).__name__}: {why}" if why else "no feed"
        return FeedRead(failure=FeedFailure(code="malformed", detail=detail[:300]))
    items = []
    for entry in entries:
        title = str(entry.get("title") or "").strip()
        summary = str(entry.get("summary") or "").strip()
        if not title and not summary:
            continue
        link = entry.get("link")
        items.append(
            FeedItem(
                source=source,
                entry_id=entry_id_of(entry),
                title=title or summary[:120],
                summary=summary,
                link=link if isinstance(link, str) else None,
                published_ms=_published_ms(entry),
            )
        )
    return FeedRead(items=tuple(items))


class _Validators(BaseModel):
    """The conditional-GET validators a feed last answered with."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    etag: str | None = None
    last_modified: str | None = None


class FeedReader:
    """Reads feeds, remembering each URL's validators for the next conditional GET. One
    httpx client for every feed; `close()` it."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=True,
            headers={"User-Agent": USER_AGENT},
            trust_env=False,  # no proxy from the environment: feeds are fetched as configured
        )
        self._validators: dict[str, _Validators] = {}

    def close(self) -> None:
        self._client.close()

    def read(self, source: str) -> FeedRead:
        if is_url(source):
            return self._read_url(source)
        return self._read_file(source)

    def _read_file(self, source: str) -> FeedRead:
        path = Path(source).expanduser()
        try:
            size = path.stat().st_size
            if size > MAX_FEED_BYTES:
                return _too_large(size)
            body = path.read_bytes()
        except OSError as exc:
            return FeedRead(
                failure=FeedFailure(code="unreadable", detail=f"{type(exc).__name__}: {exc}")
            )
        return parse_feed(source, body)

    def _read_url(self, url: str) -> FeedRead:
        known = self._validators.get(url, _Validators())
        headers = {}
        if known.etag:
            headers["If-None-Match"] = known.etag
        if known.last_modified:
            headers["If-Modified-Since"] = known.last_modified
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                if response.status_code == 304:
                    return FeedRead(not_modified=True)
                if response.status_code >= 400:
                    return FeedRead(
                        failure=FeedFailure(
                            code=f"http_{response.status_code}",
                            detail=f"the feed answered {response.status_code} "
                            f"{response.reason_phrase}".strip(),
                        )
                    )
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > MAX_FEED_BYTES:
                        return _too_large(size)
                    chunks.append(chunk)
                validators = _Validators(
                    etag=response.headers.get("ETag"),
                    last_modified=response.headers.get("Last-Modified"),
                )
        except httpx.TimeoutException as exc:
            return FeedRead(
                failure=FeedFailure(
                    code="timeout",
                    detail=f"no answer within {self.timeout_s:g} s ({type(exc).__name__})",
                )
            )
        except httpx.HTTPError as exc:  # refused, reset, DNS, a broken response
            return FeedRead(
                failure=FeedFailure(code="unreachable", detail=f"{type(exc).__name__}: {exc}")
            )
        read = parse_feed(url, b"".join(chunks))
        if read.failure is None:  # remember only what parsed: a broken body is fetched again
            self._validators[url] = validators
        return read


def _too_large(size: int) -> FeedRead:
    return FeedRead(
        failure=FeedFailure(code="too_large", detail=f"over {MAX_FEED_BYTES} bytes (read {size})")
    )
