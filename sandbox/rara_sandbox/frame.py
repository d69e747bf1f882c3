"""The sandbox's frame: one self-delimiting binary message, never pickle.

Layout (all integers little-endian)::

    offset 0   4 bytes   magic b"RSBX"
    offset 4   uint32    H = header length in bytes
    offset 8   uint64    P = payload length in bytes
    offset 16  H bytes   header: UTF-8 JSON object (no NaN/Infinity), with "protocol": 1, "kind",
                         and "arrays": [{"name", "dtype", "shape": [n]}, ...]
    16 + H     P bytes   the arrays' raw bytes, in "arrays" order, each padded with zeros to a
                         multiple of 8 bytes; dtype is one of "<f8", "<i8", "|b1" (bytes 0 or 1)

The whole frame must fit `max_bytes`. Decoding checks the prefix before reading or allocating
anything else, parses JSON only (which yields plain dicts/lists/str/numbers) and builds arrays
with ``np.frombuffer`` over the received bytes (read-only). What the header's fields mean is
`rara_sandbox.protocol`'s business.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

MAGIC = b"RSBX"
PROTOCOL_VERSION = 1
PREFIX = struct.Struct("<4sIQ")
DEFAULT_MAX_FRAME_BYTES = 256 * 1024 * 1024
MAX_HEADER_BYTES = 8 * 1024 * 1024
MAX_ARRAYS = 1024
ALIGN = 8
DTYPES: Mapping[str, np.dtype[Any]] = {
    "<f8": np.dtype("<f8"),
    "<i8": np.dtype("<i8"),
    "|b1": np.dtype(np.bool_),
}


class ProtocolError(Exception):
    """The bytes are not a valid frame (or exceed a limit); the message says which rule broke."""


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
