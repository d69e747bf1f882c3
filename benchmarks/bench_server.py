"""The gRPC server's event stream: events per second through StreamEvents to one and to ten
concurrent clients while events are appended, and the latency from append to client receipt.

A real `rara serve` (the read-only server, its default ``[server]`` settings: batches of 500, a
caught-up stream looks for new events every ``poll_s`` = 50 ms) runs in a process of its own on
a fresh home, on a free loopback port. This process appends to the home's state DB from a thread
(the way the daemon's components do) while grpc.aio clients stream from the head before the
first append:

- throughput: `EVENTS` order fills appended as fast as the store takes them (batches of
  `APPEND_BATCH`) while one client streams from the head before them: its receipt rate, beside
  the appender's own rate (the stream keeps up when the ratio is ~1; it cannot beat the
  appends). Then the same events, now in the log, streamed to 1 and to 10 clients at once from
  the first: per client, events over seconds from the call to its last receipt (the figure is
  the slowest client's; "all delivered" sums the ten). Reference: the raw `EventStore` read rate
  of the same events in this process (`query_chained` in batches of 500, what the server
  reads). Target >= 10,000 events/s (issue 15.5).
- latency: `PACED_EVENTS` appended at `PACED_RATE` events/s (one every 1/rate s, in batches of
  `PACED_BATCH`), one client; append-to-receipt per event, from the envelope's ``ts`` (written
  at append, same clock) to its arrival; p50 and p99 per repeat. Reference: the server's poll
  interval, the floor a polled stream adds. Target p99 < 50 ms (issue 15.5).
- the ceiling: a bare grpc.aio server (no auth, no reads, one real event's message built once)
  streaming as many messages to 1 and to 10 clients, beside StreamEvents' figures: one response
  per event costs grpc's per-message overhead, which no server code removes. The same p99 again
  on a second server with ``server.poll_s`` = `FAST_POLL_S`, to show what the interval costs.

The clients run in this process's asyncio loop, so on a 2-core machine the server, the appender
and the clients share the cores: the figures are the whole system's on this machine, not the
server's alone.

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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from benchmarks.report import Figure, Spread, env_int, print_figures, quick, verdict

EVENTS = 20_000
APPEND_BATCH = 500
CLIENTS = 10
PACED_EVENTS = 2_000
PACED_RATE = 1_000.0  # events/s
PACED_BATCH = 10
REPEATS = 3
RATE_TARGET = 10_000.0
P99_TARGET_MS = 50.0
FAST_POLL_S = 0.01
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


def bare_server(db: str) -> None:
    """The ceiling: a bare grpc.aio server (no auth, no reads) whose StreamEvents sends one
    real event's message, built once, ``after_seq`` times. Prints its port as a JSON line."""
    from grpc import aio

    from rara.events import EventStore
    from rara.server.stream import event_message
    from rara.v1 import rara_pb2 as pb
    from rara.v1 import rara_pb2_grpc as pb_grpc

    with EventStore(db, readonly=True) as store:
        message = pb.StreamEventsResponse(event=event_message(store.query_chained(limit=1)[0]))

    class Bare(pb_grpc.RaraServiceServicer):  # type: ignore[misc]
        async def StreamEvents(self, request: object, context: object) -> object:
            for _ in range(request.after_seq):  # type: ignore[attr-defined]
                yield message

    async def serve() -> None:
        server = aio.server()
        pb_grpc.add_RaraServiceServicer_to_server(Bare(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        print(json.dumps({"port": port}), flush=True)
        await server.wait_for_termination()

    asyncio.run(serve())


@contextmanager
def bare_serving(home: Path) -> Iterator[Served]:
    """`bare_server` on `home`'s state DB in a process of its own, until SIGTERM."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.bench_server", "--bare-server", str(home / "rara.db")],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the bare server exited ({proc.wait(30)}) before it listened")
        yield Served(home, int(json.loads(line)["port"]), "", 0.0)
    finally:
        proc.terminate()
        proc.wait(30)
        if proc.stdout is not None:
            proc.stdout.close()


# ---- one measurement --------------------------------------------------------------------------
@dataclass(frozen=True)
class Streamed:
    """Per client: events received and seconds from the first append to its last receipt;
    per event of the first client: append-to-receipt latency in ms."""

    counts: list[int]
    seconds: list[float]
    latencies_ms: list[float]
    append_s: float | None = None  # how long the appends took (live streams)

    @property
    def slowest_rate(self) -> float:
        return min(n / s for n, s in zip(self.counts, self.seconds, strict=True))


def _ts_s(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def _append(
    db: Path,
    n: int,
    batch: int,
    rate: float | None,
    ready: threading.Event,
    go: threading.Event,
    took: list[float],
) -> None:
    """Append `n` fills in batches (made before the clock starts); paced at `rate` events/s
    when given."""
    from rara.events import EventStore

    drafts = _drafts(n, 0)
    with EventStore(db) as store:
        ready.set()
        go.wait()
        t0 = time.perf_counter()
        for k in range(0, n, batch):
            if rate is not None:
                due = t0 + k / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            store.append_many(drafts[k : k + batch])  # type: ignore[arg-type]
        took.append(time.perf_counter() - t0)


async def _client(
    served: Served, after: int, n: int, started: list[float], latencies: list[float] | None
) -> tuple[int, float]:
    from grpc import aio

    from rara.v1 import rara_pb2 as pb
    from rara.v1 import rara_pb2_grpc as pb_grpc

    async with aio.insecure_channel(f"127.0.0.1:{served.port}") as channel:
        stub = pb_grpc.RaraServiceStub(channel)
        call = stub.StreamEvents(
            pb.StreamEventsRequest(after_seq=after),
            metadata=(("authorization", f"Bearer {served.token}"),),
        )
        got = 0
        try:
            async for item in call:
                if not item.HasField("event"):
                    continue
                got += 1
                if latencies is not None:
                    latencies.append((time.time() - _ts_s(item.event.ts)) * 1000)
                if got >= n:
                    break
        finally:
            call.cancel()
    return got, time.perf_counter() - started[0]


async def _stream(
    served: Served, clients: int, n: int, batch: int, rate: float | None, latency: bool
) -> Streamed:
    from rara.events import EventStore

    with EventStore(served.home / "rara.db", readonly=True) as store:
        after = store.last_seq()
    ready, go = threading.Event(), threading.Event()
    started = [0.0]
    latencies: list[float] = []
    tasks = [
        asyncio.create_task(
            _client(served, after, n, started, latencies if latency and i == 0 else None)
        )
        for i in range(clients)
    ]
    took: list[float] = []
    appender = threading.Thread(
        target=_append,
        args=(served.home / "rara.db", n, batch, rate, ready, go, took),
        daemon=True,
    )
    appender.start()
    await asyncio.to_thread(ready.wait, 120)
    await asyncio.sleep(0.5)  # every stream open and caught up (heartbeats only) before appends
    started[0] = time.perf_counter()
    go.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks), timeout=600)
    appender.join(60)
    return Streamed([r[0] for r in results], [r[1] for r in results], latencies, took[0])


async def _catch_up(served: Served, clients: int, after: int, n: int) -> Streamed:
    """`clients` streams at once of the `n` events after `after`, already in the log."""
    started = [time.perf_counter()]
    tasks = [asyncio.create_task(_client(served, after, n, started, None)) for _ in range(clients)]
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
    events = env_int("RARA_BENCH_SERVER_EVENTS", 2_000 if quick() else EVENTS)
    paced = env_int("RARA_BENCH_SERVER_PACED", 300 if quick() else PACED_EVENTS)
    repeats = 1 if quick() else REPEATS
    got: dict[str, list[float]] = {
        k: []
        for k in (
            "one",
            "ten",
            "ten_all",
            "live",
            "append",
            "read",
            "p50",
            "p99",
            "p99_fast",
            "bare_one",
            "bare_ten",
        )
    }
    poll_ms = float("nan")
    with (
        tempfile.TemporaryDirectory(prefix="rara-bench-server-") as tmp,
        serving(Path(tmp) / "home") as served,
    ):
        poll_ms = served.poll_s * 1000
        db = served.home / "rara.db"
        for _ in range(repeats):
            from rara.events import EventStore

            with EventStore(db, readonly=True) as store:
                before = store.last_seq()
            live = asyncio.run(_stream(served, 1, events, APPEND_BATCH, None, False))
            got["live"].append(live.slowest_rate)
            assert live.append_s is not None
            got["append"].append(events / live.append_s)
            # the same events again, now in the log: what the server streams at most
            got["read"].append(read_rate(db, before, events))
            one = asyncio.run(_catch_up(served, 1, before, events))
            got["one"].append(one.slowest_rate)
            ten = asyncio.run(_catch_up(served, CLIENTS, before, events))
            got["ten"].append(ten.slowest_rate)
            got["ten_all"].append(sum(ten.counts) / max(ten.seconds))
            lat = asyncio.run(_stream(served, 1, paced, PACED_BATCH, PACED_RATE, True))
            got["p50"].append(statistics.median(lat.latencies_ms))
            got["p99"].append(_percentile(lat.latencies_ms, 0.99))
        with bare_serving(served.home) as bare:
            for _ in range(repeats):  # after_seq = how many the bare server sends
                got["bare_one"].append(asyncio.run(_catch_up(bare, 1, events, events)).slowest_rate)
                ten = asyncio.run(_catch_up(bare, CLIENTS, events, events))
                got["bare_ten"].append(sum(ten.counts) / max(ten.seconds))
    # the same latency with the stream looking for new events every FAST_POLL_S: what the
    # poll interval costs
    with (
        tempfile.TemporaryDirectory(prefix="rara-bench-server-") as tmp,
        serving(Path(tmp) / "home", poll_s=FAST_POLL_S) as fast,
    ):
        for _ in range(repeats):
            lat = asyncio.run(_stream(fast, 1, paced, PACED_BATCH, PACED_RATE, True))
            got["p99_fast"].append(_percentile(lat.latencies_ms, 0.99))
    read = Spread.of(got["read"])
    poll = Spread.once(poll_ms)

    def rate_target(values: list[float]) -> str:
        return f"target >= {RATE_TARGET:,.0f}: {verdict(min(values) >= RATE_TARGET)}"

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
            "bare grpc.aio stream to 1 client (ceiling)",
            Spread.of(got["bare_one"]),
            "events/s",
            "StreamEvents to 1 client",
            Spread.of(got["one"]),
        ),
        Figure(
            f"bare grpc.aio stream to {CLIENTS} clients, all delivered",
            Spread.of(got["bare_ten"]),
            "events/s",
            f"StreamEvents to {CLIENTS}, all",
            Spread.of(got["ten_all"]),
        ),
        Figure(
            "StreamEvents to 1 client while appended",
            Spread.of(got["live"]),
            "events/s",
            "the appends themselves",
            Spread.of(got["append"]),
            "x1: the stream keeps up with the appender",
        ),
        Figure(
            f"append to receipt p50 ({paced:,} at {PACED_RATE:,.0f}/s)",
            Spread.of(got["p50"]),
            "ms",
            "the server's poll interval",
            poll,
        ),
        Figure(
            f"append to receipt p99 ({paced:,} at {PACED_RATE:,.0f}/s)",
            Spread.of(got["p99"]),
            "ms",
            "the server's poll interval",
            poll,
            f"target < {P99_TARGET_MS:.0f} ms: {verdict(max(got['p99']) < P99_TARGET_MS)}",
            acceptance="15.5",
        ),
        Figure(
            f"append to receipt p99, server.poll_s = {FAST_POLL_S}",
            Spread.of(got["p99_fast"]),
            "ms",
            "the server's poll interval",
            Spread.once(FAST_POLL_S * 1000),
            f"target < {P99_TARGET_MS:.0f} ms: {verdict(max(got['p99_fast']) < P99_TARGET_MS)}",
        ),
    ]


def main() -> int:
    if sys.argv[1:2] == ["--bare-server"]:
        bare_server(sys.argv[2])
        return 0
    if "--quick" in sys.argv[1:]:
        os.environ["RARA_BENCH_QUICK"] = "1"
    print_figures("the gRPC server: StreamEvents throughput and latency", run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
