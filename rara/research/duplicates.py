"""The duplicate check's memory: every earlier candidate's in-market series on one market, kept
bit-packed in one matrix so that "which earlier candidate does this one repeat?" is one vectorised
pass over all of them (`DuplicateIndex.twin_of`), not a reload and a correlation per pair.

The series are 0/1 vectors, so their Pearson correlation is exact from integer counts: over n
bars with sx = popcount(x), sy = popcount(y) and sxy = popcount(x & y),
``corr = (n*sxy - sx*sy) / sqrt((n*sx - sx^2) * (n*sy - sy^2))``, and x equals y exactly when
sxy = sx = sy. The verdict is the reference one (`rara.research.outcomes.duplicate_of`): the first
earlier experiment in seq order that is an exact equal (two equal constant series included) or
correlates at or above `DUPLICATE_CORRELATION` (a constant series otherwise correlates 0). A pair
whose count-based correlation lies within `NEAR` of the threshold is settled by the reference's
own float computation, so rounding can never flip a verdict either way. Before any of that, the
counts alone rule out most rows: a pair's correlation can never exceed
sqrt(sx(n-sy) / (sy(n-sx))) for sx <= sy, so only rows whose popcount lies near the candidate's are
compared bit by bit.

The index reads the store once, then only rows newer than the last seq it has read (another
process writing the same home is seen; writers to one SQLite file commit in seq order, so nothing
older can appear later). 10,000 candidates of ~7,000 bars take ~9 MB.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from rara.research.outcomes import DUPLICATE_CORRELATION, correlation
from rara.research.store import ResearchStore

# Count-based correlations this close to the threshold are re-decided by the reference function.
# Both computations err by a few ulps (the reference's float sums by ~n * 1e-16 at worst), far
# below this band, so outside it they always agree.
NEAR = 1e-9
SCREEN = 1e-6  # rows whose counts cap the correlation this far below the threshold are skipped
_WORD = 8  # bytes per row are padded to whole 64-bit words
_POPCOUNT8 = np.array([bin(b).count("1") for b in range(256)], dtype=np.uint8)


def popcounts(rows: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]:
    """Set bits per row of a bit-packed matrix whose width is a multiple of 8 bytes."""
    if rows.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    counts: npt.NDArray[np.int64]
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        counts = np.bitwise_count(rows.view(np.uint64)).sum(axis=1, dtype=np.int64)
    else:
        counts = _POPCOUNT8[rows].sum(axis=1, dtype=np.int64)
    return counts


class BitSeries:
    """Series of one length ``bars`` packed into rows of whole 64-bit words (big-endian bits in
    each byte, as `np.packbits` writes them), the bits past ``bars`` zero."""

    def __init__(self, bars: int) -> None:
        self.bars = bars
        used = (bars + 7) // 8
        self.width = max(_WORD, -(-used // _WORD) * _WORD)
        self._used = used
        # the last byte keeps only the bits before `bars`
        self._tail = 0xFF if bars % 8 == 0 else (0xFF << (8 - bars % 8)) & 0xFF

    def from_packed(self, packed: bytes) -> npt.NDArray[np.uint8]:
        """A stored blob (`np.packbits` of a longer or equal series) cut to the first bars."""
        row = np.zeros(self.width, dtype=np.uint8)
        head = np.frombuffer(packed, dtype=np.uint8)[: self._used]
        row[: head.size] = head
        if self._used:
            row[self._used - 1] &= self._tail
        return row

    def from_bools(self, series: npt.NDArray[np.bool_]) -> npt.NDArray[np.uint8]:
        return self.from_packed(np.packbits(series[: self.bars]).tobytes())

    def unpack(self, row: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
        return np.unpackbits(row)[: self.bars].astype(bool)


class DuplicateIndex:
    """Earlier candidates' in-market series on one market (exchange, symbol, timeframe), compared
    on their first ``bars`` bars (None: all). Holds the rows of one series length (``n_bars``,
    the candles' count); a different length starts over from the store."""

    def __init__(
        self, store: ResearchStore, exchange: str, symbol: str, timeframe: str, bars: int | None
    ) -> None:
        self.store = store
        self.market = (exchange, symbol, timeframe)
        self.bars = bars
        self.n_bars: int | None = None
        self.last_seq = 0
        self.rows_read = 0  # rows taken from the store so far (each is read once)
        self._ids: list[str] = []
        self._codec = BitSeries(0)
        self._bits = np.zeros((0, self._codec.width), dtype=np.uint8)
        self._ones = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._ids)

    def twin_of(self, pos: npt.NDArray[np.bool_]) -> str | None:
        """The first earlier experiment (seq order) whose series `pos` repeats, if any."""
        self.refresh(pos.size)
        n = len(self._ids)
        if n == 0:
            return None
        bars = self._codec.bars
        mine = self._codec.from_bools(pos)
        sx = int(popcounts(mine[None, :])[0])
        # counts alone rule most rows out: with sx <= sy, corr <= sqrt(sx(n-sy) / (sy(n-sx)))
        # (reached when x lies inside y), and only sy = sx can be an exact equal
        sy_all = self._ones[:n]
        lo, hi = np.minimum(sy_all, sx), np.maximum(sy_all, sx)
        with np.errstate(divide="ignore", invalid="ignore"):
            reach = (lo * (bars - hi)) / (hi * (bars - lo)).astype(np.float64)
        possible = (sy_all == sx) | (reach >= (DUPLICATE_CORRELATION - SCREEN) ** 2)
        at = np.flatnonzero(possible)
        rows = self._bits[at]
        sy = sy_all[at]
        sxy = popcounts(rows & mine)
        equal = (sxy == sx) & (sy == sx)
        # the float correlation of non-constant pairs; constants correlate 0 unless equal
        varying = (sy > 0) & (sy < bars) & (0 < sx < bars)
        num = bars * sxy - sx * sy
        den = np.sqrt(float(bars * sx - sx * sx)) * np.sqrt(
            (bars * sy - sy * sy).astype(np.float64)
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            corr = np.where(varying, num / np.where(varying, den, 1.0), 0.0)
        near = varying & (np.abs(corr - DUPLICATE_CORRELATION) <= NEAR)
        hit = equal | (varying & (corr >= DUPLICATE_CORRELATION + NEAR)) | near
        for j in np.flatnonzero(hit):
            if not near[j] or equal[j]:
                return self._ids[int(at[j])]
            if correlation(pos[:bars], self._codec.unpack(rows[j])) >= DUPLICATE_CORRELATION:
                return self._ids[int(at[j])]
        return None

    def refresh(self, n_bars: int) -> None:
        """Read the rows of series length `n_bars` stored since the last one read."""
        if n_bars != self.n_bars:
            self._reset(n_bars)
        found = self.store.positions_since(*self.market, n_bars, self.last_seq)
        for seq, experiment_id, packed in found:
            self._append(experiment_id, self._codec.from_packed(packed))
            self.last_seq = max(self.last_seq, seq)
        self.rows_read += len(found)

    def _reset(self, n_bars: int) -> None:
        bars = n_bars if self.bars is None else max(0, min(self.bars, n_bars))
        self.n_bars, self.last_seq = n_bars, 0
        self._ids = []
        self._codec = BitSeries(bars)
        self._bits = np.zeros((64, self._codec.width), dtype=np.uint8)
        self._ones = np.zeros(64, dtype=np.int64)

    def _append(self, experiment_id: str, row: npt.NDArray[np.uint8]) -> None:
        n = len(self._ids)
        if n == self._bits.shape[0]:  # grow by doubling: appends stay amortised O(1)
            self._bits = np.concatenate([self._bits, np.zeros_like(self._bits)])
            self._ones = np.concatenate([self._ones, np.zeros_like(self._ones)])
        self._bits[n] = row
        self._ones[n] = int(popcounts(row[None, :])[0])
        self._ids.append(experiment_id)
