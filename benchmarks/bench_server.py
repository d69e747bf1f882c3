"""The gRPC server's event stream: events per second through StreamEvents to one and to ten
concurrent clients, and the latency from append to client receipt.

Clients are grpc.aio streams in this process that ask for ``batched`` items (as the TUI does)
and unroll them; two servers, each on a fresh home and a free loopback port, with their default
``[server]`` settings (batches of 500, a caught-up stream looks for other processes' appends
every ``poll_s`` = 20 ms):

- ``rara serve`` (the read-only server) in a process of its own, this process appending to its
  state DB: another process's appends, which the server sees at its next poll.
  - throughput: `EVENTS` order fills in the log, streamed to 1 and to 10 clients at once from
    the first: per client, events over seconds from the call to its last receipt (the figure is
    the slowest client's; "all delivered" sums the ten). Reference: the raw `EventStore` read
    rate of the same events in this process (`query_chained` in batches of 500, what the server
    reads). Target >= 10,000 events/s (issue 15.5). The same to a client that does not ask for
    batches (an older one: one message per event), beside the batched figure.
  - live: one client while `EVENTS` fills are appended as fast as the store takes them (batches
    of `APPEND_BATCH`), beside the appender's own rate; and the append-to-receipt p99 of
    `PACED_EVENTS` appended at `PACED_RATE`/s (batches of `PACED_BATCH`), whose floor is the
    poll interval (again on a server with ``poll_s`` = `SLOW_POLL_S`, the former default).
- the daemon's shape (`appending_server`): the server on a thread of a process that also appends
  (as the daemon's components do), so every commit rings the state DB's bell and wakes the
  streams at once. Live throughput to 1 and to 10 clients beside the appender's rate, and the
  append-to-receipt p50/p99 to 1 client and over every event of 10 clients: per event, from
  the envelope's ``ts`` (written at append, same clock) to its arrival. Target p99 < 50 ms
  (issue 15.5).

On a 2-core machine the server, the appender and the clients share the cores: the figures are
the whole system's on this machine, not the server's alone.

    python -m benchmarks.bench_server [--quick]
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from benchmarks.report import Figure, Spread, env_int, print_figures, quick, verdict

if TYPE_CHECKING:
    from rara.events import EventStore

EVENTS = 20_000
APPEND_BATCH = 500
CLIENTS = 10
PACED_EVENTS = 2_000
PACED_RATE = 1_000.0  # events/s
PACED_BATCH = 10
REPEATS = 3
RATE_TARGET = 10_000.0
P99_TARGET_MS = 50.0
SLOW_POLL_S = 0.05  # a `rara serve` that looks for other processes' appends less often
REPO = Path(__file__).resolve().parent.parent


def _drafts(n: int, start: int) -> list[object]:
    from benchmarks.bench_events import fill_drafts  # the same fills the event-log bench appends

    return list(fill_drafts(n, start))


# ---- the server -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Served:
    home: Path
    port: int
    token: str
    poll_s: float


@contextmanager
def serving(home: Path, poll_s: float | None = None) -> Iterator[Served]:
    """`rara serve --port 0` on `home` (a state DB is made first; ``server.poll_s`` set when
    given), until SIGTERM."""
    from rara.config import load_settings
    from rara.events import open_event_store
    from rara.home import Home

    home.mkdir(parents=True, exist_ok=True)
    if poll_s is not None:
        (home / "config.toml").write_text(f"[server]\npoll_s = {poll_s}\n", encoding="utf-8")
    with open_event_store(home / "rara.db"):
        pass
    env = {**os.environ, "RARA_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rara", "serve", "--port", "0"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"rara serve exited ({proc.wait(30)}) before it listened")
        port = int(json.loads(line)["port"])
        tokens = json.loads((home / "server" / "tokens.json").read_text())["tokens"]
        token = next(t["token"] for t in tokens if t["role"] == "read")
        os.environ["RARA_HOME"], old = str(home), os.environ.get("RARA_HOME")
        try:
            poll_s = load_settings(Home.from_env()).server.poll_s
        finally:
            if old is None:
                del os.environ["RARA_HOME"]
            else:
                os.environ["RARA_HOME"] = old
        yield Served(home, port, token, poll_s)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
        if proc.stdout is not None:
            proc.stdout.close()


def appending_server(home: str) -> None:
    """The daemon's shape: `RaraServer` on a thread with an event loop of its own (as the
    daemon's server component runs it) and an `EventStore` appending from this process's main
    thread (as the daemon's components append), so the state DB's bell wakes the streams.
    Prints its port as a JSON line, then takes commands on stdin, each answered by a line:
    ``prepare N`` (make N fills; ``ready``), ``append BATCH RATE`` (append them in batches,
    paced at RATE events/s unless 0; the seconds taken)."""
    from benchmarks.bench_events import fill_drafts
    from rara.daemon_settings import ServerSettings
    from rara.events import EventStore
    from rara.home import Home
    from rara.server.app import RaraServer

    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    server = RaraServer(Home(root=Path(home)), ServerSettings(port=0))  # the defaults
    port = asyncio.run_coroutine_threadsafe(server.start(), loop).result(60)
    print(json.dumps({"port": port}), flush=True)
    drafts: list[object] = []
    with EventStore(Path(home) / "rara.db") as store:
        for line in sys.stdin:
            cmd, *args = line.split()
            if cmd == "prepare":
                drafts = list(fill_drafts(int(args[0]), 0))
                print("ready", flush=True)
            elif cmd == "append":
                rate = float(args[1])
                print(_append(store, drafts, int(args[0]), rate or None), flush=True)
    asyncio.run_coroutine_threadsafe(server.stop(0.5), loop).result(60)


@contextmanager
def appending_serving(home: Path) -> Iterator[tuple[Served, subprocess.Popen[str]]]:
    """`appending_server` on `home` in a process of its own, until its stdin closes."""
    from rara.events import open_event_store

    home.mkdir(parents=True, exist_ok=True)
    with open_event_store(home / "rara.db"):
        pass
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.bench_server", "--appending-server", str(home)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the appending server exited ({proc.wait(30)}) before it listened")
        tokens = json.loads((home / "server" / "tokens.json").read_text())["tokens"]
        token = next(t["token"] for t in tokens if t["role"] == "read")
        from rara.daemon_settings import ServerSettings

        yield Served(home, int(json.loads(line)["port"]), token, ServerSettings().poll_s), proc
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
        if proc.stdout is not None:
            proc.stdout.close()


# ---- one measurement --------------------------------------------------------------------------
@dataclass(frozen=True)
class Streamed:
    """Per client: events received and seconds from the first append (or the call) to its last
    receipt; per event of every client asked: append-to-receipt latency in ms."""

    counts: list[int]
    seconds: list[float]
    latencies_ms: list[float]
    append_s: float | None = None  # how long the appends took (live streams)

    @property
    def slowest_rate(self) -> float:
        return min(n / s for n, s in zip(self.counts, self.seconds, strict=True))

    @property
    def all_rate(self) -> float:
        return sum(self.counts) / max(self.seconds)


def _ts_s(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def _append(store: EventStore, drafts: list[object], batch: int, rate: float | None) -> float:
    """Append `drafts` in batches, paced at `rate` events/s when given; the seconds taken."""
    t0 = time.perf_counter()
    for k in range(0, len(drafts), batch):
        if rate is not None:
            delay = t0 + k / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        store.append_many(drafts[k : k + batch])  # type: ignore[arg-type]
    return time.perf_counter() - t0


class Appender(Protocol):
    def prepare(self, n: int) -> None: ...  # the fills made, before any clock starts
    def append(self, batch: int, rate: float | None) -> float: ...  # seconds taken


class OtherProcess:
    """Appends from this (the bench's) process: to `rara serve`, another process's writes."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.drafts: list[object] = []

    def prepare(self, n: int) -> None:
        self.drafts = _drafts(n, 0)

    def append(self, batch: int, rate: float | None) -> float:
        from rara.events import EventStore

        with EventStore(self.db) as store:
            return _append(store, self.drafts, batch, rate)


class ServersProcess:
    """Appends in the server's own process (`appending_server`), as the daemon's components do."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc

    def _ask(self, command: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def prepare(self, n: int) -> None:
        if self._ask(f"prepare {n}") != "ready":
            raise RuntimeError("the appending server did not prepare")

    def append(self, batch: int, rate: float | None) -> float:
        return float(self._ask(f"append {batch} {rate or 0}"))


async def _client(
    served: Served,
    after: int,
    n: int,
    started: list[float],
    latencies: list[float] | None,
    batched: bool = True,
) -> tuple[int, float]:
    from grpc import aio

    from rara.v1 import rara_pb2 as pb
    from rara.v1 import rara_pb2_grpc as pb_grpc

    async with aio.insecure_channel(f"127.0.0.1:{served.port}") as channel:
        stub = pb_grpc.RaraServiceStub(channel)
        call = stub.StreamEvents(
            pb.StreamEventsRequest(after_seq=after, batched=batched),
            metadata=(("authorization", f"Bearer {served.token}"),),
        )
        got = 0
        try:
            async for item in call:
                kind = item.WhichOneof("item")
                if kind == "batch":
                    events = item.batch.events
                elif kind == "event":
                    events = [item.event]
                else:
                    continue
                if latencies is not None:
                    now = time.time()
                    latencies.extend((now - _ts_s(e.ts)) * 1000 for e in events)
                got += len(events)
                if got >= n:
                    break
        finally:
            call.cancel()
    return got, time.perf_counter() - started[0]


async def _stream(
    served: Served,
    appender: Appender,
    clients: int,
    n: int,
    batch: int,
    rate: float | None,
    latency: bool,
) -> Streamed:
    """`clients` batched streams from the head, then `n` fills appended: what each receives."""
    from rara.events import EventStore

    with EventStore(served.home / "rara.db", readonly=True) as store:
        after = store.last_seq()
    await asyncio.to_thread(appender.prepare, n)
    started = [0.0]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    tasks = [
        asyncio.create_task(_client(served, after, n, started, latencies[i] if latency else None))
        for i in range(clients)
    ]
    await asyncio.sleep(0.5)  # every stream open and caught up (waiting) before the appends
    started[0] = time.perf_counter()
    took = await asyncio.to_thread(appender.append, batch, rate)
    results = await asyncio.wait_for(asyncio.gather(*tasks), timeout=600)
    return Streamed(
        [r[0] for r in results], [r[1] for r in results], [x for v in latencies for x in v], took
    )


async def _catch_up(
    served: Served, clients: int, after: int, n: int, batched: bool = True
) -> Streamed:
    """`clients` streams at once of the `n` events after `after`, already in the log."""
    started = [time.perf_counter()]
    tasks = [
        asyncio.create_task(_client(served, after, n, started, None, batched))
        for _ in range(clients)
    ]
    results = await asyncio.wait_for(asyncio.gather(*tasks), timeout=600)
    return Streamed([r[0] for r in results], [r[1] for r in results], [])


def read_rate(db: Path, after: int, n: int) -> float:
    """The reference: the raw store's read rate of the same `n` events, as the server reads
    them (chained rows, batches of 500), in this process."""
    from rara.events import EventStore

    with EventStore(db, readonly=True) as store:
        t0 = time.perf_counter()
        cursor, got = after, 0
        while got < n:
            page = store.query_chained(after_seq=cursor, limit=500)
            if not page:
                break
            got += len(page)
            cursor = page[-1].seq
        return got / (time.perf_counter() - t0)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# ---- the section ----------------------------------------------------------------------------
def run() -> list[Figure]:
    from rara.events import EventStore

    events = env_int("RARA_BENCH_SERVER_EVENTS", 2_000 if quick() else EVENTS)
    paced = env_int("RARA_BENCH_SERVER_PACED", 300 if quick() else PACED_EVENTS)
    repeats = 1 if quick() else REPEATS
    got: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="rara-bench-server-") as tmp:
        # rara serve: appends by another process, seen at the next poll
        with serving(Path(tmp) / "serve") as served:
            poll_ms = served.poll_s * 1000
            db = served.home / "rara.db"
            other = OtherProcess(db)
            for _ in range(repeats):
                with EventStore(db, readonly=True) as store:
                    before = store.last_seq()
                live = asyncio.run(_stream(served, other, 1, events, APPEND_BATCH, None, False))
                got["serve_live"].append(live.slowest_rate)
                assert live.append_s is not None
                got["serve_append"].append(events / live.append_s)
                # the same events again, now in the log: what the server streams at most
                got["read"].append(read_rate(db, before, events))
                got["one"].append(asyncio.run(_catch_up(served, 1, before, events)).slowest_rate)
                ten = asyncio.run(_catch_up(served, CLIENTS, before, events))
                got["ten"].append(ten.slowest_rate)
                got["ten_all"].append(ten.all_rate)
                single = asyncio.run(_catch_up(served, 1, before, events, batched=False))
                got["one_single"].append(single.slowest_rate)
                lat = asyncio.run(_stream(served, other, 1, paced, PACED_BATCH, PACED_RATE, True))
                got["serve_p99"].append(_percentile(lat.latencies_ms, 0.99))
        # the same p99 with server.poll_s = SLOW_POLL_S: what the poll interval costs
        with serving(Path(tmp) / "serve-slow", poll_s=SLOW_POLL_S) as slow:
            other = OtherProcess(slow.home / "rara.db")
            for _ in range(repeats):
                lat = asyncio.run(_stream(slow, other, 1, paced, PACED_BATCH, PACED_RATE, True))
                got["serve_p99_slow"].append(_percentile(lat.latencies_ms, 0.99))
        # the daemon's shape: appends in the server's process ring the bell
        with appending_serving(Path(tmp) / "daemon") as (in_daemon, proc):
            own = ServersProcess(proc)
            for _ in range(repeats):
                for k, key in ((1, "live_one"), (CLIENTS, "live_ten")):
                    live = asyncio.run(
                        _stream(in_daemon, own, k, events, APPEND_BATCH, None, False)
                    )
                    got[key].append(live.slowest_rate)
                    assert live.append_s is not None
                    got[f"append_{key}"].append(events / live.append_s)
                for k, key in ((1, "one"), (CLIENTS, "ten")):
                    lat = asyncio.run(
                        _stream(in_daemon, own, k, paced, PACED_BATCH, PACED_RATE, True)
                    )
                    got[f"p50_{key}"].append(statistics.median(lat.latencies_ms))
                    got[f"p99_{key}"].append(_percentile(lat.latencies_ms, 0.99))
    read = Spread.of(got["read"])
    poll = Spread.once(poll_ms)
    paced_at = f"{paced:,} at {PACED_RATE:,.0f}/s"

    def rate_target(values: list[float]) -> str:
        return f"target >= {RATE_TARGET:,.0f}: {verdict(min(values) >= RATE_TARGET)}"

    def p99_target(values: list[float]) -> str:
        return f"target < {P99_TARGET_MS:.0f} ms: {verdict(max(values) < P99_TARGET_MS)}"

    return [
        Figure(
            f"StreamEvents to 1 client ({events:,} in the log)",
            Spread.of(got["one"]),
            "events/s",
            "raw EventStore read, same events",
            read,
            rate_target(got["one"]),
            acceptance="15.5",
        ),
        Figure(
            f"StreamEvents to {CLIENTS} clients at once, slowest",
            Spread.of(got["ten"]),
            "events/s",
            "raw EventStore read, same events",
            read,
            rate_target(got["ten"]),
            acceptance="15.5",
        ),
        Figure(
            f"StreamEvents to {CLIENTS} clients, all delivered",
            Spread.of(got["ten_all"]),
            "events/s",
            "raw EventStore read, same events",
            read,
        ),
        Figure(
            "StreamEvents to 1 older client, one message/event",
            Spread.of(got["one_single"]),
            "events/s",
            "StreamEvents to 1 client, batched",
            Spread.of(got["one"]),
        ),
        Figure(
            "in the daemon: to 1 client while appended",
            Spread.of(got["live_one"]),
            "events/s",
            "the appends themselves",
            Spread.of(got["append_live_one"]),
            "x1: the stream keeps up with the appender",
        ),
        Figure(
            f"in the daemon: to {CLIENTS} clients while appended, slowest",
            Spread.of(got["live_ten"]),
            "events/s",
            "the appends themselves",
            Spread.of(got["append_live_ten"]),
        ),
        Figure(
            f"in the daemon: append to receipt p50 ({paced_at})",
            Spread.of(got["p50_one"]),
            "ms",
            "the server's poll interval",
            poll,
        ),
        Figure(
            f"in the daemon: append to receipt p99 ({paced_at})",
            Spread.of(got["p99_one"]),
            "ms",
            "the server's poll interval",
            poll,
            p99_target(got["p99_one"]),
            acceptance="15.5",
        ),
        Figure(
            f"in the daemon: p99 to {CLIENTS} clients (every client's events)",
            Spread.of(got["p99_ten"]),
            "ms",
            "the server's poll interval",
            poll,
            p99_target(got["p99_ten"]),
            acceptance="15.5",
        ),
        Figure(
            "rara serve: to 1 client while another process appends",
            Spread.of(got["serve_live"]),
            "events/s",
            "the appends themselves",
            Spread.of(got["serve_append"]),
        ),
        Figure(
            f"rara serve: append to receipt p99 ({paced_at})",
            Spread.of(got["serve_p99"]),
            "ms",
            "the server's poll interval",
            poll,
            p99_target(got["serve_p99"]),
            acceptance="15.5",
        ),
        Figure(
            f"rara serve: p99 with server.poll_s = {SLOW_POLL_S}",
            Spread.of(got["serve_p99_slow"]),
            "ms",
            "the server's poll interval",
            Spread.once(SLOW_POLL_S * 1000),
            p99_target(got["serve_p99_slow"]),
        ),
    ]


def main() -> int:
    if sys.argv[1:2] == ["--appending-server"]:
        appending_server(sys.argv[2])
        return 0
    if "--quick" in sys.argv[1:]:
        os.environ["RARA_BENCH_QUICK"] = "1"
    print_figures("the gRPC server: StreamEvents throughput and latency", run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
