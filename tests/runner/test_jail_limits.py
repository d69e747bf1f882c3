"""Resource limits, the wire protocol's caps, and children that misbehave on the way out."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from rara.runner.jail.runner import ERROR_CODES, JailedRunner, Limits
from tests.kit.patience import patience

pytestmark = pytest.mark.slow
E = "jail_entries"


def assert_healthy(runner: JailedRunner) -> None:
    """The host is fine (we are running), the zygote is alive and the next evaluation is right."""
    assert runner.zygote_pid is not None
    os.kill(runner.zygote_pid, 0)
    payload = os.urandom(4096)
    r = runner.run(f"{E}:echo", payload)
    assert r.ok and r.response == payload, (r.error, r.message)


def test_roundtrip_and_numpy(runner: JailedRunner) -> None:
    arr = np.arange(1_000_000, dtype="<f8")
    r = runner.run(f"{E}:numpy_sum", arr.tobytes())
    assert r.ok, (r.error, r.message, r.stderr)
    assert r.response is not None
    total, mean = np.frombuffer(r.response, dtype="<f8")
    assert total == arr.sum() and mean == arr.mean()
    assert r.exit_code == 0 and r.signal is None and r.error is None
    assert r.cpu_s is not None and r.max_rss_kib is not None and r.pid is not None


def test_big_request_and_response_both_ways(runner: JailedRunner) -> None:
    payload = os.urandom(24 << 20)  # bigger than any pipe buffer in both directions
    r = runner.run(f"{E}:echo", payload)
    assert r.ok and r.response == payload


def test_entry_may_return_buffers(runner: JailedRunner) -> None:
    r = runner.run(f"{E}:buffers", b"1000")
    assert r.ok and r.response is not None
    assert r.response[:4] == b"HEAD"
    assert (np.frombuffer(r.response[4:], dtype="<i8") == np.arange(1000)).all()


@pytest.mark.parametrize("entry", ["memory_bomb", "memory_creep"])
def test_memory_bomb_is_contained(runner: JailedRunner, entry: str) -> None:
    r = runner.run(f"{E}:{entry}", b"", Limits(memory_bytes=512 << 20, wall_s=20))
    assert r.error == "memory_limit", (r.error, r.message, r.stderr[-500:])
    assert "512 MiB" in r.message
    assert_healthy(runner)


def test_cpu_loop_hits_rlimit_cpu(runner: JailedRunner) -> None:
    r = runner.run(f"{E}:cpu_loop", b"", Limits(cpu_s=1, wall_s=20))
    assert r.error == "cpu_limit", (r.error, r.message)
    assert r.wall_ms < 10_000
    assert_healthy(runner)


def test_cpu_loop_killed_at_wall_deadline(runner: JailedRunner) -> None:
    r = runner.run(f"{E}:cpu_loop", b"", Limits(cpu_s=30, wall_s=1.0))
    assert r.error == "timeout", (r.error, r.message)
    assert r.signal == signal.SIGKILL
    assert 900 < r.wall_ms < 5000
    assert_healthy(runner)


@pytest.mark.parametrize("entry", ["sleep", "swallow_alarm"])
def test_sleeper_killed_at_wall_deadline(runner: JailedRunner, entry: str) -> None:
    r = runner.run(f"{E}:{entry}", b"", Limits(wall_s=1.5))
    assert r.error == "timeout" and r.signal == signal.SIGKILL, (r.error, r.message)
    assert r.pid is not None
    with pytest.raises(ProcessLookupError):  # reaped, group gone
        os.killpg(r.pid, 0)
    assert_healthy(runner)


def test_output_flood_cut_at_cap(runner: JailedRunner) -> None:
    r = runner.run(f"{E}:flood", str(8 << 20).encode(), Limits(max_output=1 << 20))
    assert r.error == "output_too_large" and r.response is None, (r.error, r.message)
    assert_healthy(runner)


def test_lying_huge_header_is_refused_at_once(runner: JailedRunner) -> None:
    limits = Limits(wall_s=patience(6))
    r = runner.run(f"{E}:lying_header_big", b"", limits)
    assert r.error == "output_too_large", (r.error, r.message)
    # refused when the header arrived, not at the deadline (the child sleeps past it)
    assert r.wall_ms < limits.wall_s * 1000 / 2
    assert_healthy(runner)


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("lying_header_short", "truncated"),
        ("trailing_bytes", "after the response"),
        ("close_and_exit", "no response"),
        ("close_response", "could not write"),
    ],
)
def test_protocol_violations_are_clear_errors(runner: JailedRunner, entry: str, words: str) -> None:
    r = runner.run(f"{E}:{entry}", b"")
    assert r.error == "protocol_error", (r.error, r.message)
    assert words in r.message
    assert r.response is None
    assert_healthy(runner)


def test_weird_exits(runner: JailedRunner) -> None:
    r = runner.run(f"{E}:exit_code", b"3")
    assert (r.error, r.exit_code) == ("crashed", 3) and "code 3" in r.message
    r = runner.run(f"{E}:abort", b"")
    assert (r.error, r.signal) == ("crashed", signal.SIGABRT) and "SIGABRT" in r.message
    r = runner.run(f"{E}:raise_error", b"")
    assert r.error == "entry_error"
    assert b"ValueError: strategy bug" in r.stderr and b"about to fail" in r.stderr
    r = runner.run(f"{E}:not_bytes", b"")
    assert r.error == "entry_error"
    r = runner.run(f"{E}:no_such_function", b"")
    assert r.error == "spawn_failed" and "no_such_function" in r.message
    r = runner.run("no_such_module:f", b"")
    assert r.error == "spawn_failed"
    assert_healthy(runner)


def test_stderr_is_kept_as_a_bounded_tail(runner: JailedRunner) -> None:
    r = runner.run(f"{E}:noisy", b"", Limits(stderr_tail=1000))
    assert r.ok and r.response == b"done"
    assert len(r.stderr) <= 1000 and r.stderr.endswith(b"last words\n")


def test_every_error_code_is_known(runner: JailedRunner) -> None:
    r = runner.run(f"{E}:exit_code", b"9")
    assert r.error in ERROR_CODES
