"""``python -m rara_sandbox``: read one request frame on stdin, write one response frame on stdout.

Exit status: 0 when the request was evaluated (whatever the strategy did; the response says),
2 when the request was malformed (a ``bad_request`` response is still written), 1 when even
writing a response failed. The container and subprocess backends run exactly this.
"""

from __future__ import annotations

import sys
from typing import BinaryIO

from rara_sandbox.evaluate import evaluate, runtime_info
from rara_sandbox.protocol import (
    DEFAULT_MAX_FRAME_BYTES,
    ProtocolError,
    decode_request,
    encode_response,
    read_frame,
    write_frame,
)
from rara_sandbox.results import EvaluationResult, SandboxError


def serve(stdin: BinaryIO, stdout: BinaryIO, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> int:
    """Handle one request; the testable core of `main`."""
    try:
        request = decode_request(read_frame(stdin, max_bytes=max_bytes), max_bytes=max_bytes)
    except ProtocolError as e:
        error = SandboxError("bad_request", f"malformed request: {e}")
        write_frame(stdout, encode_response(EvaluationResult(ok=False, error=error,
                                                             runtime=runtime_info())))  # fmt: skip
        return 2
    kwargs = {} if request.print_limit is None else {"print_limit": request.print_limit}
    result = evaluate(request.source, request.candles, request.params, request.windows, **kwargs)
    try:
        frame = encode_response(result, max_bytes=max_bytes)
    except ProtocolError as e:  # e.g. the answer would exceed the frame limit
        error = SandboxError("internal_error", f"response could not be encoded: {e}")
        frame = encode_response(EvaluationResult(ok=False, error=error, meta=result.meta,
                                                 runtime=result.runtime))  # fmt: skip
    write_frame(stdout, frame)
    return 0


def main() -> int:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    # Anything that prints by accident (a library, a warning hook) must not corrupt the frame.
    sys.stdout = sys.stderr
    try:
        return serve(stdin, stdout)
    except Exception as e:  # last resort: say so on stderr, the host sees exit status 1
        print(f"rara_sandbox: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
