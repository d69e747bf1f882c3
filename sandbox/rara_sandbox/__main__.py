"""``python -m rara_sandbox``: read one request frame on stdin, write one response frame on stdout.

Exit status: 0 when the request was evaluated (whatever the strategy did; the response says),
2 when the request was malformed (a ``bad_request`` response is still written), 1 when even
writing a response failed. The container and subprocess backends run exactly this.
"""

from __future__ import annotations

import sys

from rara_sandbox.serve import serve


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
