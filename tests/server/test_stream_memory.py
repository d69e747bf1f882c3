"""Acceptance 2: a slow consumer while 50,000 events are appended costs the server bounded
memory, whether it sends one message per event or batches (one read of the log per message).
`rara serve` runs in a child process (its RSS measured with psutil); one client opens a
stream, reads a few events and then stops reading while the log grows by 50,000 events of ~1 KB;
then it reads everything, checking there is no gap. Buffering the backlog would cost the server at
least the events' canonical JSON (~60 MB); its RSS grows by a small fraction of that.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from rara.domain.events import SentinelSignalDetected
from rara.events import EventDraft, open_event_store
from rara.home import Home
from rara.server.auth import ensure_tokens
from rara.server.verify import ChainCheck
from rara.v1 import rara_pb2 as pb
from tests.kit.server import AuthedStub

pytestmark = pytest.mark.slow

EVENTS = 50_000
BATCH = 1_000
DETAIL = "x" * 1_000
MIB = 1024 * 1024


def _drafts(start: int) -> list[EventDraft]:
    def signal(i: int) -> SentinelSignalDetected:
        return SentinelSignalDetected(
            signal="load", severity="info", strategy_id=None, symbol=None, value=float(i),
            threshold=None, detail=DETAIL,
        )  # fmt: skip

    return [EventDraft(payload=signal(start + i), source="test") for i in range(BATCH)]


def events_of(item: pb.StreamEventsResponse) -> list[pb.Event]:
    kind = item.WhichOneof("item")
    return list(item.batch.events) if kind == "batch" else [item.event] if kind == "event" else []


@pytest.mark.parametrize("batched", [False, True], ids=["per-event", "batched"])
def test_a_stalled_consumer_costs_the_server_bounded_memory(rara_home: Path, batched: bool):
    import grpc

    home = Home(root=rara_home)
    with open_event_store(home.state_db) as store:
        store.append_many(_drafts(0)[:10])
    _, tokens = ensure_tokens(home)
    env = {**os.environ, "RARA_HOME": str(rara_home), "RARA_SERVER__STREAM_BATCH": "500"}
    child = subprocess.Popen(
        [sys.executable, "-m", "rara", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line, child.stderr.read() if child.stderr else ""
        port = json.loads(line)["port"]
        proc = psutil.Process(child.pid)
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        stub = AuthedStub(channel, tokens.get("read").value)
        call = stub.StreamEvents(
            pb.StreamEventsRequest(after_seq=0, heartbeat_ms=200, batched=batched)
        )
        it = iter(call)
        check = ChainCheck()
        while check.last_seq < 10:
            for ev in events_of(next(it)):
                check.check(ev.seq, ev.canonical_json, ev.prev_hash, ev.hash)
        time.sleep(1.0)  # the server settles into its polling loop
        base = proc.memory_info().rss
        samples = []
        with open_event_store(home.state_db) as store:
            for b in range(EVENTS // BATCH):
                store.append_many(_drafts(b * BATCH))
                samples.append(proc.memory_info().rss)
        # the stream keeps the server busy for a while: keep sampling as it tries to send
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            samples.append(proc.memory_info().rss)
            time.sleep(0.1)
        peak = max(samples)
        # now drain: everything arrives, in order, once
        n, canonical_bytes = 10, 0
        while check.last_seq < EVENTS + 10:
            for ev in events_of(next(it)):
                check.check(ev.seq, ev.canonical_json, ev.prev_hash, ev.hash)
                canonical_bytes += len(ev.canonical_json)
                n += 1
        after = proc.memory_info().rss
        call.cancel()
        channel.close()
    finally:
        child.terminate()
        child.wait(60)
        for pipe in (child.stdout, child.stderr):
            if pipe is not None:
                pipe.close()
    growth = peak - base
    sorted_samples = sorted(samples)
    print(
        f"\n{'batched' if batched else 'per-event'}: server RSS while a stalled client's "
        f"backlog grew by {EVENTS} events "
        f"({canonical_bytes / MIB:.0f} MiB of canonical JSON): base {base / MIB:.1f} MiB, "
        f"min {sorted_samples[0] / MIB:.1f}, median {sorted_samples[len(samples) // 2] / MIB:.1f}, "
        f"max {peak / MIB:.1f} MiB (growth {growth / MIB:.1f} MiB); after draining "
        f"{after / MIB:.1f} MiB"
    )
    assert n == EVENTS + 10 and check.checked == EVENTS + 10
    assert child.returncode == 0
    # the backlog is ~60 MB of JSON alone; the server holds one batch and grpc's window
    assert growth < 32 * MIB, f"server RSS grew by {growth / MIB:.1f} MiB"
