"""The backtest engine's warm-up, started in a background thread as soon as a command knows it
will backtest, so importing vectorbt and numba (~3 s of CPU) overlaps with what comes before the
first backtest: loading candles, starting the sandbox and evaluating the strategy in it.

    preload.start(warm_up)   # `rara backtest run|gate`, a research session: as early as known
    ...                      # load data, start the sandbox, evaluate the strategy
    run_backtest(...)        # the first backtest waits for the warm-up (`rara.backtest.vbt`)

This module is the warm-up's single owner: `start` runs the warm-up it is given
(`rara.backtest.warm.warm_up`) once per process in a daemon thread, and `wait` (called before
every lazy import of vectorbt or of the numba kernels: `vbt.kernel`, the engine's stop rows and
equity curve, the metrics' curve statistics) joins it. Two threads importing numba at once can
meet a partially initialised module (its imports are circular), so nothing imports it beside the
warm-up. `wait` re-raises what the warm-up raised, once, so no failure is lost; a later
backtest then imports for itself and meets the real error, if it is still there. Without a
`start`, `wait` does nothing and the first backtest imports vectorbt as before. It imports
nothing of rara: the engine waits on it and the warm-up runs the engine, so the warm-up is
handed in by the caller.

Overlap is limited by the GIL: importing is mostly Python bytecode, so the thread runs while the
main thread waits (on the sandbox's child process, on files), not beside its own Python work.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

_lock = threading.Lock()
_thread: threading.Thread | None = None
_error: BaseException | None = None
_engine = ""  # the engine the warm-up ran ("rust" or "numba"), once it has


def _run(warm_up: Callable[[], str]) -> None:
    global _error, _engine
    try:
        _engine = warm_up()
    except BaseException as exc:  # re-raised at `wait`, in the thread that backtests
        _error = exc


def start(warm_up: Callable[[], str]) -> None:
    """Begin `warm_up` (`rara.backtest.warm.warm_up`) in the background; a no-op once a warm-up
    was started in this process."""
    global _thread
    with _lock:
        if _thread is not None:
            return
        # daemon: a command that stops before its first backtest (a refused strategy) exits
        # without waiting for an import it no longer needs
        _thread = threading.Thread(
            target=_run, args=(warm_up,), name="rara-backtest-preload", daemon=True
        )
        _thread.start()


def started() -> bool:
    """Whether `start` was called in this process."""
    return _thread is not None


def wait() -> str:
    """Block until the warm-up started by `start` is done and re-raise its exception, if it
    raised one (only to the first caller). Returns the engine it warmed ("" when none ran).
    Called from the warm-up itself, or with no warm-up started, it returns at once."""
    global _error
    thread = _thread
    if thread is None or thread is threading.current_thread():
        return _engine
    thread.join()
    with _lock:
        error, _error = _error, None
    if error is not None:
        log.debug("the backtest warm-up failed: %r", error)
        raise error
    return _engine
