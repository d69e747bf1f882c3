"""The read-only candle facade handed to strategies as ``candles``.

Decision: strategies get real numpy arrays (so ``candles.close > ta.sma(candles.close, 20)`` is
plain vectorised numpy), not wrapper objects. That is safe because of three things together:

* every array is read-only (``writeable=False`` on an array we own, or a ``frombuffer`` view of
  immutable bytes), and the per-window prefixes are views of those, hence read-only too;
* restricted code reaches attributes only through the guarded getattr in `restricted`, which
  allows a short whitelist per exact type (for ndarray: shape, size, mean, astype ...), so
  ``.ctypes``, ``.base``, ``.tofile``, ``.dump``, ``.setflags``, ``.data`` are unreachable;
* strategies cannot define classes, so they cannot craft objects with ``__array__`` hooks that
  numpy would call on their behalf.

The facade has no ``__getitem__``/``__iter__``: the columns are the whole interface.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

# imported here, not lazily: inside the jail no module can be loaded after confinement
from numpy.random import default_rng

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

COLUMNS = ("timestamps", "open", "high", "low", "close", "volume")
DTYPES: Mapping[str, np.dtype[np.generic]] = {
    "timestamps": np.dtype(np.int64),
    **{c: np.dtype(np.float64) for c in COLUMNS[1:]},
}
# The attribute names restricted code may read on a Candles object.
ATTRIBUTES = frozenset(COLUMNS)


def _readonly(a: npt.NDArray[np.generic], dtype: np.dtype[np.generic]) -> npt.NDArray[np.generic]:
    if a.dtype == dtype and not a.flags.writeable and a.flags.c_contiguous:
        return a
    # Own a private copy, so no one outside holds a writable alias of what the strategy reads.
    out = np.array(a, dtype=dtype, copy=True, order="C")
    out.flags.writeable = False
    return out


class Candles:
    """OHLCV columns of one window: ``timestamps`` (bar open time, epoch ms, int64) and
    ``open/high/low/close/volume`` (float64), all read-only, all of length ``len(candles)``."""

    __slots__ = ("_close", "_high", "_low", "_n", "_open", "_timestamps", "_volume")

    _timestamps: I64
    _open: F64
    _high: F64
    _low: F64
    _close: F64
    _volume: F64
    _n: int

    def __init__(self, columns: Mapping[str, npt.NDArray[np.generic]]) -> None:
        missing = [c for c in COLUMNS if c not in columns]
        extra = sorted(set(columns) - set(COLUMNS))
        if missing or extra:
            raise ValueError(
                f"candles need exactly {list(COLUMNS)}; missing {missing}, extra {extra}"
            )
        n = -1
        for c in COLUMNS:
            a = columns[c]
            if not isinstance(a, np.ndarray) or a.ndim != 1:
                raise ValueError(f"candles column {c!r} must be a 1-D numpy array")
            if a.dtype != DTYPES[c]:
                raise ValueError(f"candles column {c!r} must be {DTYPES[c]}, got {a.dtype}")
            if n not in (-1, a.shape[0]):
                raise ValueError("candles columns must all have the same length")
            n = a.shape[0]
            object.__setattr__(self, "_" + c, _readonly(a, DTYPES[c]))
        object.__setattr__(self, "_n", n)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Candles is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Candles is read-only")

    def _slice(self, lo: int, hi: int) -> Candles:
        """Bars lo..hi-1 as views of these (read-only) columns. Validated once, when these were
        built, so the many windows of one evaluation skip the per-column checks."""
        out = object.__new__(Candles)
        for c in COLUMNS:
            object.__setattr__(out, "_" + c, getattr(self, "_" + c)[lo:hi])
        object.__setattr__(out, "_n", hi - lo)
        return out

    def window(self, n: int) -> Candles:
        """The first n bars (views, still read-only): what the strategy would have seen at n."""
        if not 0 <= n <= self._n:
            raise ValueError(f"window {n} outside 0..{self._n}")
        return self._slice(0, n)

    def span(self, lo: int, hi: int) -> Candles:
        """Bars lo..hi-1 (views, still read-only): the trailing window paper and live trading
        hand the strategy at the close of bar hi-1."""
        if not 0 <= lo < hi <= self._n:
            raise ValueError(f"span {lo}..{hi} outside 0..{self._n}")
        return self._slice(lo, hi)

    def suffix(self, start: int) -> Candles:
        """Bars from ``start`` on: the same market with less early history (warm-up probe)."""
        if not 0 <= start < self._n:
            raise ValueError(f"suffix start {start} outside 0..{self._n - 1}")
        return self._slice(start, self._n)

    def perturbation(self, t: int, seed: int) -> npt.NDArray[np.intp]:
        """The bar order of the perturbation probe at ``t``: bars 0..t in place, the bars after
        it shuffled by a permutation the host seeds (`perturbed_after`)."""
        if not 0 <= t < self._n - 1:
            raise ValueError(f"perturbation point {t} outside 0..{self._n - 2}")
        order = np.arange(self._n)
        order[t + 1 :] = t + 1 + default_rng(seed).permutation(self._n - t - 1)
        return order

    def reordered(self, order: npt.NDArray[np.intp]) -> Candles:
        """These bars in ``order`` (whole bars, timestamps kept in place): new read-only price
        and volume columns; the timestamps are this window's own read-only array, not a copy."""
        cols: dict[str, npt.NDArray[np.generic]] = {"timestamps": self._timestamps}
        for c in COLUMNS[1:]:
            shuffled = getattr(self, "_" + c)[order]  # a new array no one else holds
            shuffled.flags.writeable = False  # so the constructor keeps it instead of copying
            cols[c] = shuffled
        return Candles(cols)

    def perturbed_after(self, t: int, seed: int) -> Candles:
        """Bars after ``t`` shuffled (whole bars, timestamps kept): a causal strategy's signals at
        bars <= t cannot change (perturbation probe). The permutation is seeded by the host."""
        return self.reordered(self.perturbation(t, seed))

    @property
    def timestamps(self) -> I64:
        return self._timestamps

    @property
    def open(self) -> F64:
        return self._open

    @property
    def high(self) -> F64:
        return self._high

    @property
    def low(self) -> F64:
        return self._low

    @property
    def close(self) -> F64:
        return self._close

    @property
    def volume(self) -> F64:
        return self._volume

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"Candles(n={self._n})"
