"""The sandbox attack suite: every payload under payloads/ must end contained, on every backend.

Contained means, checked here, outside the child:

* the outcome is one the payload declares (an error code, or ok plus a check that makes ok safe),
  and an error comes with a non-empty, bounded message that names the cause;
* the listener on 127.0.0.1 accepted no connection;
* nothing under the canary tree changed (no new file, no modified file, the secret untouched);
* the canary secret appears nowhere in what came back (messages, meta, lint report, print output,
  and the signals read as bits);
* the host is alive and the *next* evaluation on the same sandbox, the reference strategy, gives
  exactly the signals computed in this process.

A payload marked ``Hole:`` documents a known hole: its test is xfail(strict=True, raises=
HoleConfirmed), so the suite stays green while the hole is open, any *other* failure of that payload
still fails, and the test turns red the moment the hole is fixed (then drop the ``Hole:`` line).
``Known:`` marks a defect that shows only on some machines (xfail, not strict, raises=KnownDefect).
The session ends with a table per backend: payloads per category and the layer that stopped each.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from rara.runner.sandbox import EvaluationRequest
from tests.attacks.catalogue import (
    BOUNDARY_CODES,
    CATEGORIES,
    MESSAGE_LIMIT,
    PAYLOAD_DIR,
    PRINT_LIMIT,
    RUNTIME_CODES,
    TALLY,
    Canaries,
    HoleConfirmed,
    KnownDefect,
    Payload,
    layer_of,
    load_payloads,
    render,
    result_text,
    signal_bytes,
    signals,
)

pytestmark = pytest.mark.slow

PAYLOADS = load_payloads()
BACKENDS = ("subprocess", "docker")


def _cases() -> Iterator[Any]:
    for backend in BACKENDS:
        for p in PAYLOADS:
            marks = []
            if p.hole:  # only HoleConfirmed (a failed Check) counts: any other failure is real
                marks.append(pytest.mark.xfail(strict=True, raises=HoleConfirmed,
                                               reason=f"HOLE: {p.hole}"))  # fmt: skip
            if p.known:
                marks.append(pytest.mark.xfail(strict=False, raises=KnownDefect,
                                               reason=f"KNOWN DEFECT: {p.known}"))  # fmt: skip
            yield pytest.param(backend, p, id=f"{backend}-{p.id}", marks=marks)


def _outcome(result: Any) -> str:
    return "ok" if result.ok else result.error.code


def _check_ok(
    payload: Payload,
    result: Any,
    source: str,
    candles: Any,
    get: Callable[[str, bool], Any],
    backend: str,
) -> None:
    """What makes an ok outcome contained for this payload."""
    if payload.check == "print_bounded":
        assert result.print_truncated, "a flood that was not truncated"
        return
    # Deterministic: the same request again on the same sandbox, and on a sandbox with its own
    # zygote (another hash seed, another address layout), must give bit-identical signals.
    want = signals(result)
    request = EvaluationRequest(source=source, candles=candles, windows=payload.windows)
    again = get(backend, False).evaluate(request)
    assert again.ok and signals(again) == want, "a second run on the same sandbox differs"
    if get(backend, True) is not get(backend, False):  # docker: every run is already fresh
        twin = get(backend, True).evaluate(request)
        assert twin.ok and signals(twin) == want, "a run on a fresh sandbox (new zygote) differs"
    if payload.check == "independent_windows":
        # Each window alone, in its own process, must match that window of the multi-window run:
        # nothing from one window (or from the runs before it) may reach the next.
        for n, *rest in want:
            alone = get(backend, True).evaluate(
                EvaluationRequest(source=source, candles=candles.slice(0, n))
            )
            assert alone.ok, alone.error
            assert signals(alone) == [(n, *rest)], (
                f"window {n} depends on what ran before it in the same process"
            )


def _contained(payload: Payload, result: Any, outcome: str, message: str) -> None:
    """The outcome is one the payload declares, with a bounded message naming the cause."""
    if payload.known_code and outcome == payload.known_code:
        raise KnownDefect(f"{payload.id}: {outcome}: {message[:300]!r}")
    assert outcome in payload.accept, (
        f"{payload.id}: got {outcome}: {message[:500]!r}; declared {sorted(payload.accept)}"
    )
    if not result.ok:
        assert message.strip(), "an error without a message"
        assert len(message) <= MESSAGE_LIMIT, f"a message of {len(message)} chars"
        assert outcome in RUNTIME_CODES | BOUNDARY_CODES
        if payload.says and outcome in RUNTIME_CODES:  # the boundary words its own messages
            low = message.lower()
            assert any(s.lower() in low for s in payload.says), (
                f"the message does not name the cause ({payload.says}): {message[:500]!r}"
            )
    assert len(result.printed) <= PRINT_LIMIT, f"{len(result.printed)} chars of print output"


def _no_evidence(canaries: Canaries, result: Any, before: Any, connections: int) -> None:
    """Checked outside the child: no connection, no file touched, the secret never came back."""
    assert canaries.listener.connections() == connections, "a connection reached the host"
    assert canaries.snapshot() == before, "something under the canary tree changed"
    assert canaries.secret not in result_text(result), "the canary secret came back"
    assert canaries.secret.encode() not in signal_bytes(result), "the secret is in the signals"


@pytest.mark.parametrize(("backend", "payload"), list(_cases()))
def test_payload_is_contained(
    backend: str,
    payload: Payload,
    sandboxes: Callable[[str, bool], Any],
    canaries: Canaries,
    candles: Any,
    reference: tuple[str, list[Any]],
) -> None:
    sandbox = sandboxes(backend, False)
    source = render(payload, canaries)
    before = canaries.snapshot()
    connections = canaries.listener.connections()

    t0 = time.monotonic()
    result = sandbox.evaluate(
        EvaluationRequest(source=source, candles=candles, windows=payload.windows)
    )
    elapsed = time.monotonic() - t0
    outcome = _outcome(result)
    message = "" if result.ok else result.error.message
    verdict = "failed"
    try:
        _contained(payload, result, outcome, message)
        _no_evidence(canaries, result, before, connections)
        if result.ok:
            try:
                _check_ok(payload, result, source, candles, sandboxes, backend)
            except AssertionError as exc:
                if payload.hole:
                    raise HoleConfirmed(f"{payload.id}: {exc}") from exc
                raise
        # The sandbox is still good: the reference strategy gives exactly the in-process signals.
        ref_source, ref_signals = reference
        after = sandbox.evaluate(EvaluationRequest(source=ref_source, candles=candles))
        assert after.ok, f"the next evaluation failed: {after.error}"
        assert signals(after) == ref_signals, "the next evaluation's signals are wrong"
        verdict = "held"
    except HoleConfirmed:
        verdict = "hole"
        raise
    except KnownDefect:
        verdict = "known"
        raise
    finally:
        TALLY.record(backend, payload, layer_of(outcome, message), elapsed, verdict, outcome)


def test_catalogue_covers_every_category() -> None:
    found = {p.category for p in PAYLOADS}
    assert found == set(CATEGORIES), (sorted(found ^ set(CATEGORIES)), "stray or empty categories")
    per = {c: sum(p.category == c for p in PAYLOADS) for c in CATEGORIES}
    assert len(PAYLOADS) >= 100, len(PAYLOADS)
    assert min(per.values()) >= 3, per
    assert len({p.id for p in PAYLOADS}) == len(PAYLOADS)
    for p in PAYLOADS:
        assert p.tries and not p.tries.startswith(("Contained:", "Check:")), p.id


def test_host_side_lint_survives_every_payload(canaries: Canaries, tmp_path: Any) -> None:
    """`rara sandbox check` lints in the host process: no payload may crash or hang the linter.
    Run in a throwaway interpreter so that a crash fails this test, not the whole session."""
    sources = {p.id: render(p, canaries) for p in PAYLOADS}
    blob = tmp_path / "sources.json"
    blob.write_text(json.dumps(sources))
    code = (
        "import json, sys\n"
        "from rara_sandbox.lint import lint\n"
        "for k, v in json.load(open(sys.argv[1])).items():\n"
        "    print(k, flush=True)\n"
        "    r = lint(v)\n"
        "    print('=', k, r.ok, flush=True)\n"
    )
    p = subprocess.run(
        [sys.executable, "-c", code, str(blob)], capture_output=True, text=True, timeout=120
    )
    done = [ln.split()[1] for ln in p.stdout.splitlines() if ln.startswith("= ")]
    last = p.stdout.splitlines()[-1] if p.stdout else ""
    assert p.returncode == 0, (
        f"host-side lint died (rc {p.returncode}) on {last}: {p.stderr[-900:]}"
    )
    assert sorted(done) == sorted(sources)


def test_payload_files_are_where_the_catalogue_looks() -> None:
    stray = [f for f in PAYLOAD_DIR.rglob("*") if f.is_file() and f.suffix not in (".py", ".pyc")]
    assert not stray, stray
