"""The sandbox wire protocol: one frame per request and per response, never pickle.

Frame (all integers little-endian)::

    offset 0   4 bytes   magic b"RSBX"
    offset 4   uint32    H = header length in bytes
    offset 8   uint64    P = payload length in bytes
    offset 16  H bytes   header: UTF-8 JSON object (no NaN/Infinity), with "protocol": 1, "kind",
                         and "arrays": [{"name", "dtype", "shape": [n]}, ...]
    16 + H     P bytes   the arrays' raw bytes, in "arrays" order, each padded with zeros to a
                         multiple of 8 bytes; dtype is one of "<f8", "<i8", "|b1" (bytes 0 or 1)

The whole frame must fit `max_bytes`. Decoders check the prefix before reading or allocating
anything else, parse JSON only (which yields plain dicts/lists/str/numbers), check every field's
exact type, and build arrays with ``np.frombuffer`` over the received bytes (read-only). Nothing
received is ever called, imported or unpickled. Both sides use this module: the child decodes
requests and encodes responses, the host does the reverse.
"""

from __future__ import annotations

import itertools
import json
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from rara_sandbox.candles import COLUMNS
from rara_sandbox.results import (
    ERROR_CODES,
    PROBE_KINDS,
    EvaluationResult,
    JsonScalar,
    Probe,
    ProbeResult,
    SandboxError,
    WindowResult,
)
from rara_sandbox.validate import Invalid, check_risk, check_signals, validate_meta

MAGIC = b"RSBX"
PROTOCOL_VERSION = 1
PREFIX = struct.Struct("<4sIQ")
DEFAULT_MAX_FRAME_BYTES = 256 * 1024 * 1024
MAX_HEADER_BYTES = 8 * 1024 * 1024
MAX_ARRAYS = 1024
MAX_SOURCE_CHARS = 1024 * 1024  # lint's own limit is far lower; this only bounds the frame
MAX_PRINT_CHARS = 1024 * 1024
ALIGN = 8
DTYPES: Mapping[str, np.dtype[Any]] = {
    "<f8": np.dtype("<f8"), "<i8": np.dtype("<i8"), "|b1": np.dtype(np.bool_),
}  # fmt: skip
COLUMN_DTYPES = {"timestamps": "<i8", **{c: "<f8" for c in COLUMNS[1:]}}


class ProtocolError(Exception):
    """The bytes are not a valid frame (or exceed a limit); the message says which rule broke."""


@dataclass(frozen=True)
class Request:
    source: str
    candles: dict[str, npt.NDArray[Any]]  # read-only arrays named as in candles.COLUMNS
    params: dict[str, JsonScalar] | None
    windows: tuple[int, ...]
    probes: tuple[Probe, ...] = ()
    print_limit: int | None = None


# -- framing --------------------------------------------------------------------------------------


def _reject_constant(name: str) -> None:
    raise ProtocolError(f"header JSON contains {name}; numbers must be finite")


def pack_frame(
    header: Mapping[str, Any],
    arrays: Sequence[tuple[str, npt.NDArray[Any]]] = (),
    *,
    max_bytes: int = DEFAULT_MAX_FRAME_BYTES,
) -> bytes:
    specs, chunks = [], []
    for name, a in arrays:
        kind = "b" if a.dtype == np.bool_ else a.dtype.kind
        code = {"b": "|b1", "f": "<f8", "i": "<i8"}.get(kind, "")
        if code not in DTYPES or a.ndim != 1 or (kind != "b" and a.dtype.itemsize != 8):
            raise ProtocolError(f"array {name!r}: only 1-D float64, int64 and bool arrays travel")
        raw = np.ascontiguousarray(a, dtype=DTYPES[code]).tobytes()
        chunks.append(raw + b"\0" * (-len(raw) % ALIGN))
        specs.append({"name": name, "dtype": code, "shape": [int(a.shape[0])]})
    try:
        text = json.dumps({**header, "arrays": specs}, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise ProtocolError(f"header is not plain finite JSON: {e}") from None
    head = text.encode("utf-8", errors="surrogatepass")
    payload = b"".join(chunks)
    if len(head) > MAX_HEADER_BYTES or PREFIX.size + len(head) + len(payload) > max_bytes:
        raise ProtocolError(
            f"frame exceeds the limit ({max_bytes} bytes, header {MAX_HEADER_BYTES})"
        )
    return PREFIX.pack(MAGIC, len(head), len(payload)) + head + payload


def _frame_sizes(prefix: bytes, max_bytes: int) -> tuple[int, int]:
    if len(prefix) != PREFIX.size:
        raise ProtocolError(f"truncated frame: {len(prefix)} of {PREFIX.size} prefix bytes")
    magic, head_len, payload_len = PREFIX.unpack(prefix)
    if magic != MAGIC:
        raise ProtocolError(f"bad magic {magic!r}, expected {MAGIC!r}")
    if head_len > MAX_HEADER_BYTES:
        raise ProtocolError(f"header of {head_len} bytes exceeds {MAX_HEADER_BYTES}")
    if PREFIX.size + head_len + payload_len > max_bytes:
        raise ProtocolError(
            f"frame of {PREFIX.size + head_len + payload_len} bytes exceeds {max_bytes}"
        )
    return head_len, payload_len


def read_frame(stream: BinaryIO, *, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> bytes:
    """Read exactly one frame from a binary stream (checks sizes before reading the body)."""

    def read_exact(n: int) -> bytes:
        parts, got = [], 0
        while got < n:
            chunk = stream.read(min(n - got, 1 << 20))
            if not chunk:
                raise ProtocolError(f"stream ended after {got} of {n} bytes")
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    prefix = read_exact(PREFIX.size)
    head_len, payload_len = _frame_sizes(prefix, max_bytes)
    return prefix + read_exact(head_len + payload_len)


def write_frame(stream: BinaryIO, frame: bytes) -> None:
    stream.write(frame)
    stream.flush()


def unpack_frame(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_FRAME_BYTES
) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """(header without "arrays", {name: read-only array}) from one complete frame."""
    if type(data) is not bytes:
        raise ProtocolError("a frame must be bytes")
    head_len, payload_len = _frame_sizes(data[: PREFIX.size], max_bytes)
    if len(data) != PREFIX.size + head_len + payload_len:
        raise ProtocolError(f"frame length {len(data)} does not match its prefix")
    try:
        header = json.loads(
            data[PREFIX.size : PREFIX.size + head_len].decode("utf-8", errors="strict"),
            parse_constant=_reject_constant,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ProtocolError(f"header is not valid JSON: {e}") from None
    if type(header) is not dict:
        raise ProtocolError("header must be a JSON object")
    if header.get("protocol") != PROTOCOL_VERSION or type(header.get("protocol")) is not int:
        raise ProtocolError(f"unsupported protocol {header.get('protocol')!r}")
    specs = header.pop("arrays", None)
    if type(specs) is not list or len(specs) > MAX_ARRAYS:
        raise ProtocolError(f"header 'arrays' must be a list of at most {MAX_ARRAYS}")
    arrays: dict[str, npt.NDArray[Any]] = {}
    offset = PREFIX.size + head_len
    end = offset + payload_len
    for spec in specs:
        if type(spec) is not dict or set(spec) != {"name", "dtype", "shape"}:
            raise ProtocolError("array spec must be {name, dtype, shape}")
        name, code, shape = spec["name"], spec["dtype"], spec["shape"]
        if type(name) is not str or not 0 < len(name) <= 64 or name in arrays:
            raise ProtocolError(f"bad or duplicate array name {name!r}")
        if type(code) is not str or code not in DTYPES:
            raise ProtocolError(f"array {name!r}: dtype must be one of {sorted(DTYPES)}")
        if type(shape) is not list or len(shape) != 1 or type(shape[0]) is not int or shape[0] < 0:
            raise ProtocolError(f"array {name!r}: shape must be [n] with n >= 0")
        dtype, count = DTYPES[code], shape[0]
        nbytes = count * dtype.itemsize
        if offset + nbytes > end:
            raise ProtocolError(f"array {name!r} runs past the payload")
        a = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
        if code == "|b1" and count and int(np.frombuffer(data, np.uint8, count, offset).max()) > 1:
            raise ProtocolError(f"array {name!r}: bool bytes must be 0 or 1")
        arrays[name] = a
        offset += nbytes + (-nbytes % ALIGN)
    if offset != end:
        raise ProtocolError(f"payload has {end - offset} unexplained bytes")
    return header, arrays


# -- field checks (exact types: JSON gives only dict/list/str/int/float/bool/None) ---------------


def _keys(obj: dict[str, Any], required: set[str]) -> None:
    missing, extra = required - set(obj), set(obj) - required
    if missing or extra:
        raise ProtocolError(f"header fields: missing {sorted(missing)}, unexpected {sorted(extra)}")


def _int(v: object, what: str, lo: int = 0) -> int:
    if type(v) is not int or v < lo:
        raise ProtocolError(f"{what} must be an int >= {lo}")
    return v


def _opt_int(v: object, what: str) -> int | None:
    return None if v is None else _int(v, what, 1)


def _str(v: object, what: str, limit: int) -> str:
    if type(v) is not str or len(v) > limit:
        raise ProtocolError(f"{what} must be a string of at most {limit} chars")
    return v


def _params(v: object) -> dict[str, JsonScalar] | None:
    if v is None:
        return None
    if type(v) is not dict or len(v) > 256:
        raise ProtocolError("params must be an object of at most 256 entries or null")
    for k, x in v.items():
        if type(k) is not str or type(x) not in (bool, int, float, str):
            raise ProtocolError(f"param {k!r} must be a bool, int, float or str")
    return dict(v)


# -- requests (host encodes, child decodes) ------------------------------------------------------


def encode_request(
    source: str,
    candles: Mapping[str, npt.NDArray[Any]],
    params: Mapping[str, JsonScalar] | None = None,
    windows: Sequence[int] = (),
    *,
    probes: Sequence[Probe] = (),
    print_limit: int | None = None,
    max_bytes: int = DEFAULT_MAX_FRAME_BYTES,
) -> bytes:
    header = {
        "protocol": PROTOCOL_VERSION, "kind": "request", "source": source,
        "params": None if params is None else dict(params), "windows": [int(w) for w in windows],
        "probes": [p.to_dict() for p in probes], "print_limit": print_limit,
    }  # fmt: skip
    arrays = [(c, np.asarray(candles[c], dtype=DTYPES[COLUMN_DTYPES[c]])) for c in COLUMNS]
    return pack_frame(header, arrays, max_bytes=max_bytes)


def decode_request(data: bytes, *, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> Request:
    header, arrays = unpack_frame(data, max_bytes=max_bytes)
    _keys(header, {"protocol", "kind", "source", "params", "windows", "probes", "print_limit"})
    if header["kind"] != "request":
        raise ProtocolError(f"expected a request, got kind {header['kind']!r}")
    windows = header["windows"]
    if type(windows) is not list or len(windows) > 1024:
        raise ProtocolError("windows must be a list of at most 1024 ints")
    if set(arrays) != set(COLUMNS):
        raise ProtocolError(f"request arrays must be exactly {list(COLUMNS)}")
    lengths = {a.shape[0] for a in arrays.values()}
    if len(lengths) != 1:
        raise ProtocolError("candle columns must have equal lengths")
    for c, a in arrays.items():
        if a.dtype != DTYPES[COLUMN_DTYPES[c]]:
            raise ProtocolError(f"column {c!r} must be {COLUMN_DTYPES[c]}")
    limit = header["print_limit"]
    return Request(
        source=_str(header["source"], "source", MAX_SOURCE_CHARS),
        candles=arrays,
        params=_params(header["params"]),
        windows=tuple(_int(w, "window", 1) for w in windows),
        probes=_probes(header["probes"]),
        print_limit=None if limit is None else min(_int(limit, "print_limit"), MAX_PRINT_CHARS),
    )


def _probe(v: object) -> Probe:
    if type(v) is not dict:
        raise ProtocolError("each probe must be an object")
    _keys(v, {"kind", "at", "seed"})
    if v["kind"] not in PROBE_KINDS:
        raise ProtocolError(f"probe kind must be one of {list(PROBE_KINDS)}")
    return Probe(str(v["kind"]), _int(v["at"], "probe at", 1), _int(v["seed"], "probe seed"))


def _probes(v: object) -> tuple[Probe, ...]:
    if type(v) is not list or len(v) > 1024:
        raise ProtocolError("probes must be a list of at most 1024 objects")
    return tuple(_probe(p) for p in v)


# -- responses (child encodes, host decodes) -----------------------------------------------------


def _risk_header(level: object) -> float | str | None:
    return "array" if isinstance(level, np.ndarray) else level  # type: ignore[return-value]


def _encode_window(
    tag: str, w: WindowResult, arrays: list[tuple[str, npt.NDArray[Any]]]
) -> dict[str, Any]:
    arrays += [(f"entries.{tag}", w.entries), (f"exits.{tag}", w.exits)]
    for key, level in (("stop_loss", w.stop_loss), ("take_profit", w.take_profit)):
        if isinstance(level, np.ndarray):
            arrays.append((f"{key}.{tag}", level))
    return {"n": w.n, "stop_loss": _risk_header(w.stop_loss),
            "take_profit": _risk_header(w.take_profit)}  # fmt: skip


def encode_response(result: EvaluationResult, *, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> bytes:
    arrays: list[tuple[str, npt.NDArray[Any]]] = []
    windows = [_encode_window(f"{i}", w, arrays) for i, w in enumerate(result.windows)]
    probes = [
        {**pr.probe.to_dict(), **_encode_window(f"p{i}", pr.window, arrays)}
        for i, pr in enumerate(result.probes)
    ]
    header = {
        "protocol": PROTOCOL_VERSION, "kind": "response", "ok": result.ok,
        "error": None if result.error is None else result.error.to_dict(),
        "meta": result.meta, "params": result.params, "lint": result.lint, "windows": windows,
        "probes": probes, "print": result.printed[:MAX_PRINT_CHARS],
        "print_truncated": result.print_truncated,
        "timings_ms": result.timings_ms, "runtime": result.runtime,
    }  # fmt: skip
    return pack_frame(header, arrays, max_bytes=max_bytes)


def _error(v: object) -> SandboxError | None:
    if v is None:
        return None
    if type(v) is not dict:
        raise ProtocolError("error must be an object or null")
    _keys(v, {"code", "message", "line", "window"})
    code = v["code"]
    if code not in ERROR_CODES:
        raise ProtocolError(f"unknown error code {code!r}")
    return SandboxError(
        code, _str(v["message"], "error message", 100_000), _opt_int(v["line"], "error line"),
        _opt_int(v["window"], "error window"),
    )  # fmt: skip


def _window(
    i: int | str,
    spec: object,
    arrays: dict[str, npt.NDArray[Any]],
    extra: frozenset[str] = frozenset(),
) -> WindowResult:
    if type(spec) is not dict:
        raise ProtocolError("each window must be an object")
    _keys(spec, {"n", "stop_loss", "take_profit"} | extra)
    n = _int(spec["n"], "window n", 1)
    levels: list[object] = []
    for key in ("stop_loss", "take_profit"):
        v = spec[key]
        if v == "array":
            v = arrays.pop(f"{key}.{i}", None)
            if v is None or v.dtype != np.float64:
                raise ProtocolError(f"window {i}: missing float array {key}.{i}")
        elif v is not None and type(v) not in (int, float):
            raise ProtocolError(f"window {i}: {key} must be a number, 'array' or null")
        levels.append(v)
    try:
        entries, exits = check_signals((arrays.pop(f"entries.{i}", None),
                                        arrays.pop(f"exits.{i}", None)), n)  # fmt: skip
        stop, take = check_risk(tuple(levels), n)
    except Invalid as e:
        raise ProtocolError(f"window {i}: {e.message}") from None
    return WindowResult(n, entries, exits, stop, take)


def decode_response(data: bytes, *, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> EvaluationResult:
    """Decode and re-validate a child's answer; the child is not trusted to have done it."""
    header, arrays = unpack_frame(data, max_bytes=max_bytes)
    fields = {"protocol", "kind", "ok", "error", "meta", "params", "lint", "windows", "probes",
              "print", "print_truncated", "timings_ms", "runtime"}  # fmt: skip
    _keys(header, fields)
    if header["kind"] != "response":
        raise ProtocolError(f"expected a response, got kind {header['kind']!r}")
    ok, error = header["ok"], _error(header["error"])
    specs = header["windows"]
    if type(ok) is not bool or type(specs) is not list or ok != (error is None):
        raise ProtocolError("ok must be a bool, true exactly when error is null")
    if not ok and specs:
        raise ProtocolError("a failed response carries no windows")
    windows = tuple(_window(i, s, arrays) for i, s in enumerate(specs))
    probe_specs = header["probes"]
    if type(probe_specs) is not list or (not ok and probe_specs):
        raise ProtocolError("probes must be a list, empty when the evaluation failed")
    probe_keys = frozenset({"kind", "at", "seed"})
    probes = tuple(
        ProbeResult(_probe({k: s[k] for k in probe_keys if isinstance(s, dict) and k in s}),
                    _window(f"p{i}", s, arrays, probe_keys))
        for i, s in enumerate(probe_specs)
    )  # fmt: skip
    if arrays:
        raise ProtocolError(f"unexpected arrays: {sorted(arrays)[:5]}")
    if any(b.n <= a.n for a, b in itertools.pairwise(windows)):
        raise ProtocolError("windows must be strictly increasing")
    meta = header["meta"]
    try:
        meta = None if meta is None else validate_meta(meta)
    except Invalid as e:
        raise ProtocolError(f"meta: {e.message}") from None
    lint, timings, runtime = header["lint"], header["timings_ms"], header["runtime"]
    if lint is not None and type(lint) is not dict:
        raise ProtocolError("lint must be an object or null")
    if type(timings) is not dict or not all(
        type(v) in (int, float) and math.isfinite(v) for v in timings.values()
    ):
        raise ProtocolError("timings_ms must map names to numbers")
    if type(runtime) is not dict or not all(type(v) is str for v in runtime.values()):
        raise ProtocolError("runtime must map names to strings")
    if type(header["print_truncated"]) is not bool:
        raise ProtocolError("print_truncated must be a bool")
    return EvaluationResult(
        ok=ok, error=error, meta=meta, params=_params(header["params"]), windows=windows,
        probes=probes,
        lint=lint, printed=_str(header["print"], "print", MAX_PRINT_CHARS),
        print_truncated=header["print_truncated"], timings_ms={str(k): float(v) for k, v in
        timings.items()}, runtime=dict(runtime),
    )  # fmt: skip
