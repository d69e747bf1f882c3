"""The sandbox wire protocol: one frame (`rara_sandbox.frame`) per request and per response.

Decoders check every header field's exact type and build arrays only from the frame's read-only
buffers. Nothing received is ever called, imported or unpickled. Both sides use this module: the
child decodes requests and encodes responses, the host does the reverse.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rara_sandbox.candles import COLUMNS
from rara_sandbox.frame import (
    DEFAULT_MAX_FRAME_BYTES,
    DTYPES,
    PROTOCOL_VERSION,
    pack_frame,
    unpack_frame,
)
from rara_sandbox.frame import ProtocolError as ProtocolError  # what decoding raises; re-exported
from rara_sandbox.results import (
    ERROR_CODES,
    PROBE_KINDS,
    EvaluationResult,
    JsonScalar,
    LastBars,
    Probe,
    ProbeResult,
    ProofResult,
    ProofSpec,
    SandboxError,
    WindowResult,
)
from rara_sandbox.validate import Invalid, check_risk, check_signals, validate_meta

MAX_SOURCE_CHARS = 1024 * 1024  # lint's own limit is far lower; this only bounds the frame
MAX_PRINT_CHARS = 1024 * 1024
COLUMN_DTYPES = {"timestamps": "<i8", **{c: "<f8" for c in COLUMNS[1:]}}


@dataclass(frozen=True)
class Request:
    source: str
    candles: dict[str, npt.NDArray[Any]]  # read-only arrays named as in candles.COLUMNS
    params: dict[str, JsonScalar] | None
    windows: tuple[int, ...]
    probes: tuple[Probe, ...] = ()
    print_limit: int | None = None
    proof: ProofSpec | None = None


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
    proof: ProofSpec | None = None,
    max_bytes: int = DEFAULT_MAX_FRAME_BYTES,
) -> bytes:
    header = {
        "protocol": PROTOCOL_VERSION,
        "kind": "request",
        "source": source,
        "params": None if params is None else dict(params),
        "windows": [int(w) for w in windows],
        "probes": [p.to_dict() for p in probes],
        "print_limit": print_limit,
        "proof": None if proof is None else proof.to_dict(),
    }
    arrays = [(c, np.asarray(candles[c], dtype=DTYPES[COLUMN_DTYPES[c]])) for c in COLUMNS]
    return pack_frame(header, arrays, max_bytes=max_bytes)


def decode_request(data: bytes, *, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> Request:
    header, arrays = unpack_frame(data, max_bytes=max_bytes)
    _keys(
        header,
        {"protocol", "kind", "source", "params", "windows", "probes", "print_limit", "proof"},
    )
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
        proof=_proof_spec(header["proof"]),
    )


def _proof_spec(v: object) -> ProofSpec | None:
    if v is None:
        return None
    if type(v) is not dict:
        raise ProtocolError("proof must be an object or null")
    # "prefixes" is sent only when false (trailing windows only), so the proof's frames keep
    # their shape
    _keys(v, {"from_bar", "trailing_window", "deadline_s", "to_bar"} | _PREFIXES.intersection(v))
    deadline = v["deadline_s"]
    if type(deadline) not in (int, float) or not 0 < deadline < 1e7:
        raise ProtocolError("proof deadline_s must be a positive number")
    if v.get("prefixes", False) is not False:
        raise ProtocolError("proof prefixes must be false when present")
    return ProofSpec(
        _int(v["from_bar"], "proof from_bar"),
        _int(v["trailing_window"], "proof trailing_window", 1),
        float(deadline),
        None if v["to_bar"] is None else _int(v["to_bar"], "proof to_bar", 1),
        prefixes="prefixes" not in v,
    )


_PREFIXES = frozenset({"prefixes"})


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
    return {
        "n": w.n,
        "stop_loss": _risk_header(w.stop_loss),
        "take_profit": _risk_header(w.take_profit),
    }


def encode_response(result: EvaluationResult, *, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> bytes:
    arrays: list[tuple[str, npt.NDArray[Any]]] = []
    windows = [_encode_window(f"{i}", w, arrays) for i, w in enumerate(result.windows)]
    probes = [
        {**pr.probe.to_dict(), **_encode_window(f"p{i}", pr.window, arrays)}
        for i, pr in enumerate(result.probes)
    ]
    proof = None
    if result.proof is not None:
        pr = result.proof
        proof = {"from_bar": pr.from_bar, "trailing_window": pr.trailing_window, "bars": pr.bars}
        if pr.prefix is None:
            proof["prefixes"] = False
        for part, last in (("prefix", pr.prefix), ("trailing", pr.trailing)):
            if last is not None:
                arrays += [(f"proof.{part}.{k}", getattr(last, k)) for k in LastBars.SERIES]
    header = {
        "protocol": PROTOCOL_VERSION,
        "kind": "response",
        "ok": result.ok,
        "error": None if result.error is None else result.error.to_dict(),
        "meta": result.meta,
        "params": result.params,
        "lint": result.lint,
        "windows": windows,
        "probes": probes,
        "proof": proof,
        "print": result.printed[:MAX_PRINT_CHARS],
        "print_truncated": result.print_truncated,
        "timings_ms": result.timings_ms,
        "runtime": result.runtime,
    }
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
        code,
        _str(v["message"], "error message", 100_000),
        _opt_int(v["line"], "error line"),
        _opt_int(v["window"], "error window"),
    )


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
        entries, exits = check_signals(
            (arrays.pop(f"entries.{i}", None), arrays.pop(f"exits.{i}", None)), n
        )
        stop, take = check_risk(tuple(levels), n)
    except Invalid as e:
        raise ProtocolError(f"window {i}: {e.message}") from None
    return WindowResult(n, entries, exits, stop, take)


def _last_bars(part: str, m: int, arrays: dict[str, npt.NDArray[Any]]) -> LastBars:
    got = []
    for k in LastBars.SERIES:
        a = arrays.pop(f"proof.{part}.{k}", None)
        want = np.bool_ if k in ("entries", "exits") else np.float64
        if a is None or a.dtype != want or a.shape != (m,):
            raise ProtocolError(f"proof: missing {m} {np.dtype(want)} values proof.{part}.{k}")
        got.append(a)
    return LastBars(*got)


def _proof(v: object, arrays: dict[str, npt.NDArray[Any]], ok: bool) -> ProofResult | None:
    if v is None:
        return None
    if type(v) is not dict or not ok:
        raise ProtocolError("proof must be an object, and only in a successful response")
    _keys(v, {"from_bar", "trailing_window", "bars"} | _PREFIXES.intersection(v))
    if v.get("prefixes", False) is not False:
        raise ProtocolError("proof prefixes must be false when present")
    m = _int(v["bars"], "proof bars", 1)
    return ProofResult(
        _int(v["from_bar"], "proof from_bar"),
        _int(v["trailing_window"], "proof trailing_window", 1),
        None if "prefixes" in v else _last_bars("prefix", m, arrays),
        _last_bars("trailing", m, arrays),
    )


def decode_response(data: bytes, *, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> EvaluationResult:
    """Decode and re-validate a child's answer; the child is not trusted to have done it."""
    header, arrays = unpack_frame(data, max_bytes=max_bytes)
    fields = {
        "protocol",
        "kind",
        "ok",
        "error",
        "meta",
        "params",
        "lint",
        "windows",
        "probes",
        "proof",
        "print",
        "print_truncated",
        "timings_ms",
        "runtime",
    }
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
        ProbeResult(
            _probe({k: s[k] for k in probe_keys if isinstance(s, dict) and k in s}),
            _window(f"p{i}", s, arrays, probe_keys),
        )
        for i, s in enumerate(probe_specs)
    )
    proof = _proof(header["proof"], arrays, ok)
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
        ok=ok,
        error=error,
        meta=meta,
        params=_params(header["params"]),
        windows=windows,
        probes=probes,
        proof=proof,
        lint=lint,
        printed=_str(header["print"], "print", MAX_PRINT_CHARS),
        print_truncated=header["print_truncated"],
        timings_ms={str(k): float(v) for k, v in timings.items()},
        runtime=dict(runtime),
    )
