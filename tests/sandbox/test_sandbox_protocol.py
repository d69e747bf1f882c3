"""Wire protocol: round trips, strict rejection of malformed or oversized frames, and the real
``python -m rara_sandbox`` child over stdin/stdout."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pytest

from rara_sandbox.evaluate import evaluate
from rara_sandbox.frame import MAGIC, PREFIX, ProtocolError, pack_frame, read_frame, unpack_frame
from rara_sandbox.protocol import (
    decode_request,
    decode_response,
    encode_request,
    encode_response,
)
from tests.kit.paths import SANDBOX_SRC

Arrays = dict[str, np.ndarray]
SOURCE = (
    "def meta():\n"
    '    return {"name": "t", "version": "1.0.0", "api_version": 1, "timeframe": "1h",\n'
    '            "lookback": 3, "description": "", "params": {"n": 3}}\n\n\n'
    "def on_candles(candles, params):\n"
    "    c = candles.close\n"
    "    print('bars', len(c))\n"
    "    return ta.crossover(c, ta.sma(c, params['n'])), ta.crossunder(c, ta.sma(c, 3))\n\n\n"
    "def risk_levels(candles, params):\n"
    "    return ta.clip(ta.atr(candles.high, candles.low, candles.close, 3) / candles.close,"
    " 0.001, 0.5), 0.1\n"
)


def header_frame(header: dict[str, object], payload: bytes = b"") -> bytes:
    head = json.dumps(header).encode()
    return PREFIX.pack(MAGIC, len(head), len(payload)) + head + payload


def test_request_round_trip(make_candles: Callable[..., Arrays]) -> None:
    c = make_candles(50)
    frame = encode_request(SOURCE, c, {"n": 4}, [10, 20], print_limit=100)
    req = decode_request(frame)
    assert (req.source, req.params, req.windows, req.print_limit) == (
        SOURCE,
        {"n": 4},
        (10, 20),
        100,
    )
    for k, v in c.items():
        np.testing.assert_array_equal(req.candles[k], v)
        assert req.candles[k].dtype == v.dtype and not req.candles[k].flags.writeable


def test_response_round_trip(make_candles: Callable[..., Arrays]) -> None:
    result = evaluate(SOURCE, make_candles(50), None, [10, 30])
    assert result.ok, result.error
    back = decode_response(encode_response(result))
    assert (back.ok, back.meta, back.params, back.printed) == (
        True, result.meta, result.params, result.printed,
    )  # fmt: skip
    assert back.lint == result.lint and back.runtime == result.runtime
    for a, b in zip(result.windows, back.windows, strict=True):
        assert a.n == b.n and a.take_profit == b.take_profit == 0.1
        np.testing.assert_array_equal(a.entries, b.entries)
        np.testing.assert_array_equal(a.exits, b.exits)
        np.testing.assert_array_equal(a.stop_loss, b.stop_loss)  # type: ignore[arg-type]
    failed = evaluate("import os\n", make_candles(5), None, [])
    back = decode_response(encode_response(failed))
    assert not back.ok and back.error == failed.error and back.lint == failed.lint


def test_oversized_frames_are_refused_before_reading() -> None:
    huge = PREFIX.pack(MAGIC, 10, 1 << 40)  # declares a terabyte, sends nothing more
    with pytest.raises(ProtocolError, match="exceeds"):
        read_frame(io.BytesIO(huge + b"x" * 10))
    with pytest.raises(ProtocolError, match="header of"):
        read_frame(io.BytesIO(PREFIX.pack(MAGIC, 1 << 31, 0)))
    big = np.zeros(10_000)
    with pytest.raises(ProtocolError, match="exceeds"):
        pack_frame({"protocol": 1}, [("x", big)], max_bytes=50_000)
    frame = pack_frame({"protocol": 1}, [("x", big)])
    with pytest.raises(ProtocolError, match="exceeds"):
        unpack_frame(frame, max_bytes=50_000)


def bool_payload(values: bytes) -> bytes:
    return values + b"\0" * (-len(values) % 8)


MALFORMED: list[tuple[bytes, str]] = [
    (b"", "truncated"),
    (b"XXXX" + b"\0" * 12, "bad magic"),
    (PREFIX.pack(MAGIC, 3, 0) + b"{x}", "not valid JSON"),
    (PREFIX.pack(MAGIC, 2, 0) + b"\xff\xfe", "not valid JSON"),
    (header_frame({"protocol": 1, "arrays": []})[:-1], "does not match"),
    (header_frame([1, 2]), "must be a JSON object"),  # type: ignore[arg-type]
    (header_frame({"protocol": 2, "arrays": []}), "unsupported protocol"),
    (header_frame({"protocol": True, "arrays": []}), "unsupported protocol"),
    (header_frame({"protocol": 1}), "'arrays' must be a list"),
    (PREFIX.pack(MAGIC, 33, 0) + b'{"protocol": 1, "x": NaN, "a": 1}', "finite"),
    (
        header_frame(
            {"protocol": 1, "arrays": [{"name": "a", "dtype": "|O", "shape": [1]}]}, b"\0" * 8
        ),
        "dtype must be one of",
    ),
    (
        header_frame(
            {"protocol": 1, "arrays": [{"name": "a", "dtype": "<f8", "shape": [1, 1]}]}, b"\0" * 8
        ),
        "shape must be",
    ),
    (
        header_frame({"protocol": 1, "arrays": [{"name": "a", "dtype": "<f8", "shape": [-1]}]}),
        "shape must be",
    ),
    (
        header_frame(
            {"protocol": 1, "arrays": [{"name": "a", "dtype": "<f8", "shape": [2]}]}, b"\0" * 8
        ),
        "runs past",
    ),
    (
        header_frame(
            {"protocol": 1, "arrays": [{"name": "a", "dtype": "<f8", "shape": [1]}]}, b"\0" * 16
        ),
        "unexplained",
    ),
    (
        header_frame(
            {"protocol": 1, "arrays": [{"name": "a", "dtype": "|b1", "shape": [2]}]},
            bool_payload(b"\x01\x02"),
        ),
        "0 or 1",
    ),
    (
        header_frame(
            {
                "protocol": 1,
                "arrays": [
                    {"name": "a", "dtype": "<f8", "shape": [0]},
                    {"name": "a", "dtype": "<f8", "shape": [0]},
                ],
            }
        ),
        "duplicate",
    ),
    (
        header_frame(
            {"protocol": 1, "arrays": [{"name": "a", "dtype": "<f8", "shape": [0], "extra": 1}]}
        ),
        "array spec",
    ),
    (PREFIX.pack(MAGIC, 2001, 0) + b"[" * 2000 + b"]", "not valid JSON"),
]


@pytest.mark.parametrize(("frame", "needle"), MALFORMED)
def test_malformed_frames(frame: bytes, needle: str) -> None:
    with pytest.raises(ProtocolError, match=needle):
        unpack_frame(frame)


def test_request_and_response_field_checks(make_candles: Callable[..., Arrays]) -> None:
    good = encode_request(SOURCE, make_candles(10), None, [5])
    header, arrays = unpack_frame(good)

    def request(**changes: object) -> bytes:
        return pack_frame({**header, **changes}, list(arrays.items()))

    for changes, needle in [
        ({"kind": "response"}, "expected a request"),
        ({"source": 1}, "source must be a string"),
        ({"windows": [0]}, "window must be an int >= 1"),
        ({"windows": "5"}, "windows must be a list"),
        ({"params": {"n": [1]}}, "param 'n'"),
        ({"extra": 1}, "unexpected"),
    ]:
        with pytest.raises(ProtocolError, match=needle):
            decode_request(request(**changes))
    short = pack_frame(header, [(k, v[:3] if k == "close" else v) for k, v in arrays.items()])
    with pytest.raises(ProtocolError, match="equal lengths"):
        decode_request(short)
    with pytest.raises(ProtocolError, match="exactly"):
        decode_request(pack_frame(header, list(arrays.items())[:5]))

    result = evaluate(SOURCE, make_candles(10), None, [5])
    header, arrays = unpack_frame(encode_response(result))

    def response(drop: str = "", **changes: object) -> bytes:
        return pack_frame({**header, **changes}, [(k, v) for k, v in arrays.items() if k != drop])

    for kwargs, needle in [
        ({"ok": False}, "ok must be a bool"),
        ({"error": {"code": "nope", "message": "", "line": None, "window": None}}, "unknown error"),
        ({"meta": {**header["meta"], "api_version": 2}}, "meta: meta api_version"),
        (
            {"windows": [{"n": 6, "stop_loss": "array", "take_profit": 0.1}, header["windows"][1]]},
            "values for 6 bars",
        ),
        ({"windows": header["windows"][::-1]}, "values for"),
        ({"drop": "exits.1"}, "got NoneType"),
        ({"windows": header["windows"][:1]}, "unexpected arrays"),
        ({"timings_ms": {"x": "1"}}, "timings_ms"),
        ({"kind": "request"}, "expected a response"),
    ]:
        with pytest.raises(ProtocolError, match=needle):
            decode_response(response(**kwargs))  # type: ignore[arg-type]


def child(frame: bytes) -> subprocess.CompletedProcess[bytes]:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(SANDBOX_SRC)}
    return subprocess.run(
        [sys.executable, "-m", "rara_sandbox"], input=frame, capture_output=True, env=env,
        timeout=120, cwd="/",
    )  # fmt: skip


@pytest.mark.slow
def test_child_process_end_to_end(sample_candles: Arrays) -> None:
    frame = encode_request(SOURCE, sample_candles, {"n": 5}, [1000, 3000])
    p = child(frame)
    assert p.returncode == 0, p.stderr.decode()
    result = decode_response(p.stdout)
    assert result.ok, result.error
    local = evaluate(SOURCE, sample_candles, {"n": 5}, [1000, 3000])
    for a, b in zip(local.windows, result.windows, strict=True):
        np.testing.assert_array_equal(a.entries, b.entries)
        np.testing.assert_array_equal(a.stop_loss, b.stop_loss)  # type: ignore[arg-type]
    assert result.printed.startswith("bars 1000\n") and result.meta == local.meta


@pytest.mark.slow
def test_child_process_answers_bad_requests_and_strategy_errors() -> None:
    p = child(b"not a frame at all")
    assert p.returncode == 2
    result = decode_response(p.stdout)
    assert result.error is not None and result.error.code == "bad_request"
    c = {
        "timestamps": np.arange(20, dtype=np.int64), **{k: np.ones(20) for k in
        ("open", "high", "low", "close", "volume")},
    }  # fmt: skip
    p = child(encode_request("def meta():\n    return 1\n", c, None, []))
    assert p.returncode == 0
    assert decode_response(p.stdout).error.code == "lint_failed"  # type: ignore[union-attr]
    p = child(encode_request(SOURCE.replace("len(c))", "len(c), open('/etc/passwd'))"), c))
    assert decode_response(p.stdout).error.code == "lint_failed"  # type: ignore[union-attr]


def test_prefix_layout_is_little_endian() -> None:
    frame = pack_frame({"protocol": 1}, [("x", np.array([1.0]))])
    magic, head_len, payload_len = struct.unpack("<4sIQ", frame[:16])
    assert magic == b"RSBX" and payload_len == 8
    assert frame[16 + head_len :] == struct.pack("<d", 1.0)


def test_proof_round_trip(make_candles: Callable[..., Arrays]) -> None:
    from rara_sandbox.results import LastBars, ProofSpec

    c = make_candles(60)
    spec = ProofSpec(40, 5, 30.0)
    req = decode_request(encode_request(SOURCE, c, proof=spec))
    assert req.proof == spec and req.windows == () and req.probes == ()
    result = evaluate(SOURCE, c, proof=spec)
    assert result.ok and result.proof is not None, result.error
    back = decode_response(encode_response(result))
    assert back.proof is not None and (back.proof.from_bar, back.proof.bars) == (40, 20)
    for part in ("prefix", "trailing"):
        for series in LastBars.SERIES:
            np.testing.assert_array_equal(
                getattr(getattr(back.proof, part), series),
                getattr(getattr(result.proof, part), series),
            )
    # the prefix ending at bar t equals the full run at t for this causal source
    full = result.windows[-1]
    np.testing.assert_array_equal(result.proof.prefix.entries, full.entries[40:])
    assert np.all(result.proof.prefix.take_profit == 0.1)


@pytest.mark.parametrize(
    "spec, needle",
    [
        ({"from_bar": 0, "trailing_window": 0, "deadline_s": 1.0, "to_bar": None}, ">= 1"),
        ({"from_bar": 0, "trailing_window": 1, "deadline_s": -1.0, "to_bar": None}, "positive"),
        ({"from_bar": 0, "trailing_window": 1, "deadline_s": 1.0}, "missing"),
        ("all", "object"),
    ],
)
def test_malformed_proof_requests(
    make_candles: Callable[..., Arrays], spec: object, needle: str
) -> None:
    header, arrays = unpack_frame(encode_request(SOURCE, make_candles(10)))
    header["proof"] = spec
    with pytest.raises(ProtocolError, match=needle):
        decode_request(pack_frame(header, list(arrays.items())))


def test_a_proof_with_windows_must_stop_early(make_candles: Callable[..., Arrays]) -> None:
    from rara_sandbox.results import ProofSpec

    c = make_candles(30)
    refused = evaluate(SOURCE, c, None, [10], proof=ProofSpec(5, 3, 30.0))
    assert refused.error is not None and refused.error.code == "bad_request"
    early = evaluate(SOURCE, c, None, [10], proof=ProofSpec(0, 8, 30.0, to_bar=8))
    assert early.ok and early.proof is not None and early.proof.bars == 8
