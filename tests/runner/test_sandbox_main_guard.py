"""`python -m rara_sandbox --host-stdin --deadline-s S` ends itself while a strategy computes.

The container runs exactly this process; here it is a plain subprocess, so the guard is checked
without a Docker engine (tests/docker/test_docker_orphans.py checks it in the real container).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from rara_sandbox.protocol import decode_response, encode_request
from rara_sandbox.serve import EXIT_DEADLINE, EXIT_HOST_GONE
from tests.kit.candles import random_walk
from tests.kit.paths import TEMPLATE
from tests.kit.patience import patience
from tests.kit.strategies import SPINS_FOREVER

pytestmark = pytest.mark.slow


def _frame(source: str, n: int = 200) -> bytes:
    return encode_request(source, random_walk(n))


def _start(*options: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "rara_sandbox", *options],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait(proc: subprocess.Popen[bytes], timeout_s: float) -> tuple[int, bytes, bytes]:
    """Exit status, stdout and stderr (the process writes little: pipes cannot fill)."""
    assert proc.stdout is not None and proc.stderr is not None
    try:
        code = proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"still running after {timeout_s:g} s")
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
    with proc.stdout, proc.stderr:
        return code, proc.stdout.read(), proc.stderr.read()


def test_exits_when_the_host_closes_stdin_mid_evaluation() -> None:
    proc = _start("--host-stdin", "--deadline-s", "3600")
    assert proc.stdin is not None
    proc.stdin.write(_frame(SPINS_FOREVER))
    proc.stdin.flush()
    with pytest.raises(subprocess.TimeoutExpired):  # spinning, and the host is still there
        proc.wait(1.0)
    proc.stdin.close()  # the host goes
    code, out, err = _wait(proc, patience(3))
    assert code == EXIT_HOST_GONE and out == b"", err
    assert b"host closed stdin" in err


def test_exits_at_its_own_deadline_while_stdin_stays_open() -> None:
    proc = _start("--host-stdin", "--deadline-s", "1")
    assert proc.stdin is not None
    proc.stdin.write(_frame(SPINS_FOREVER))
    proc.stdin.flush()
    code, _, err = _wait(proc, 1 + patience(3))
    assert code == EXIT_DEADLINE, err


def test_answers_while_the_host_holds_stdin_open() -> None:
    proc = _start("--host-stdin", "--deadline-s", str(patience(6)))
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(_frame(TEMPLATE.read_text()))
    proc.stdin.flush()
    answer = proc.stdout.read()  # to EOF: the process exits after answering, stdin still open
    code, _, err = _wait(proc, patience(3))
    assert code == 0, err
    assert decode_response(answer).ok


def test_unknown_options_are_refused() -> None:
    proc = _start("--deadline-s", "soon")
    code, _, err = _wait(proc, patience(3))
    assert code == 2 and b"usage" in err
