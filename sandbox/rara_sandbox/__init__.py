"""rara_sandbox: the code that runs inside the strategy sandbox.

Depends only on numpy and RestrictedPython and never imports `rara`, so a container image can hold
this package alone. Modules:

* `ta` — the causal indicator library strategies call as ``ta.<name>``
* `candles` — the read-only candle facade strategies receive as ``candles``
* `lint` — static checks on a strategy's source (the friendly layer); its report types in
  `lint_report`, its size and complexity limits and bounded hints in `lint_cost`
* `restricted` — RestrictedPython compilation with our policy and the strategy's globals
* `guards` — the attribute allow-lists and the runtime guards `restricted` binds
* `printing` — the bounded buffer a strategy's ``print`` writes to
* `validate` — checks on meta(), params and the signals a strategy returns
* `evaluate` — lint → compile → meta → windows, returning coded results, never raising
* `protocol` — the byte-level wire format (length-prefixed JSON header + raw arrays, no pickle)
* ``python -m rara_sandbox`` — read one request on stdin, write one response on stdout
"""

from __future__ import annotations

from rara_sandbox.version import API_VERSION, __version__

__all__ = ["API_VERSION", "__version__"]
