"""One request frame in, one response frame out: the code every backend runs inside the jail.

`handle_request` is the bytes -> bytes entry the jailed subprocess calls after confinement;
`serve` wraps it for ``python -m rara_sandbox`` (stdin/stdout), which the container runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from rara_sandbox.evaluate import evaluate, runtime_info
from rara_sandbox.frame import DEFAULT_MAX_FRAME_BYTES, ProtocolError, read_frame, write_frame
from rara_sandbox.protocol import decode_request, encode_response
from rara_sandbox.results import EvaluationResult, SandboxError

EXIT_EVALUATED, EXIT_BAD_REQUEST = 0, 2
# `python -m rara_sandbox`'s own stops (`__main__`): its host closed stdin before the answer (no
# one is left to read it), or its own deadline passed (124, as coreutils' timeout).
EXIT_HOST_GONE, EXIT_DEADLINE = 3, 124


def _bad_request(message: str) -> bytes:
    error = SandboxError("bad_request", f"malformed request: {message}")
    return encode_response(EvaluationResult(ok=False, error=error, runtime=runtime_info()))


def handle_frame(frame: bytes, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> tuple[bytes, int]:
    """Evaluate one encoded request; returns the encoded response and an exit status."""
    try:
        request = decode_request(frame, max_bytes=max_bytes)
    except ProtocolError as e:
        return _bad_request(str(e)), EXIT_BAD_REQUEST
    kwargs = {} if request.print_limit is None else {"print_limit": request.print_limit}
    result = evaluate(
        request.source,
        request.candles,
        request.params,
        request.windows,
        probes=request.probes,
        proof=request.proof,
        **kwargs,
    )
    try:
        return encode_response(result, max_bytes=max_bytes), EXIT_EVALUATED
    except ProtocolError as e:  # e.g. the answer would exceed the frame limit
        error = SandboxError("internal_error", f"response could not be encoded: {e}")
        failed = EvaluationResult(ok=False, error=error, meta=result.meta, runtime=result.runtime)
        return encode_response(failed), EXIT_EVALUATED


def handle_request(data: bytes) -> bytes:
    """The jailed subprocess entry (``rara_sandbox.serve:handle_request``)."""
    return handle_frame(data)[0]


def serve(
    stdin: BinaryIO,
    stdout: BinaryIO,
    max_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    on_request: Callable[[], None] | None = None,
) -> int:
    """Handle one request from a stream; the testable core of ``python -m rara_sandbox``.
    `on_request` is called once the whole request is read, before it is evaluated."""
    try:
        frame = read_frame(stdin, max_bytes=max_bytes)
    except ProtocolError as e:
        write_frame(stdout, _bad_request(str(e)))
        return EXIT_BAD_REQUEST
    if on_request is not None:
        on_request()
    response, status = handle_frame(frame, max_bytes)
    write_frame(stdout, response)
    return status
