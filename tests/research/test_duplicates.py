"""The duplicate index (`rara.research.duplicates`) gives the reference verdict
(`rara.research.outcomes.duplicate_of` over `ResearchStore.positions`) on random and adversarial
series, reads each stored row once, and sees rows another connection to the home writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from rara.domain.market import Instrument, Timeframe
from rara.research.duplicates import BitSeries, DuplicateIndex, popcounts
from rara.research.models import experiment_id
from rara.research.outcomes import duplicate_of
from rara.research.record import IterationResult
from rara.research.store import ResearchStore

BTC = Instrument(exchange="binance", symbol="BTC/USDT", timeframe=Timeframe.parse("1h"))
ETH = Instrument(exchange="binance", symbol="ETH/USDT", timeframe=Timeframe.parse("1h"))
Series = npt.NDArray[np.bool_]

# (n, sx, sy, sxy) whose exact correlation is 0.95: np.corrcoef rounds some just below the
# threshold (39, 19, 20, 19 gives 0.9499999999999988) and some at or above (80, 40, 40, 39)
AT_THRESHOLD = [(39, 19, 20, 19), (78, 38, 40, 38), (80, 40, 40, 39), (81, 45, 45, 44)]


def _record(
    store: ResearchStore, run: str, i: int, pos: Series | None, inst: Instrument = BTC
) -> None:
    n = 0 if pos is None else pos.size
    row = IterationResult(iteration=i, experiment_id=experiment_id(run, i), outcome="rejected")
    store.record(row.experiment(run, "builtin", inst, n), pos)


def _reference(store: ResearchStore, pos: Series, bars: int | None) -> str | None:
    earlier = store.positions(BTC.exchange, BTC.symbol, str(BTC.timeframe), pos.size)
    return duplicate_of(pos, earlier, bars=bars)


def _index(store: ResearchStore, bars: int | None) -> DuplicateIndex:
    return DuplicateIndex(store, BTC.exchange, BTC.symbol, str(BTC.timeframe), bars)


def _pair(n: int, sx: int, sy: int, sxy: int, rng: np.random.Generator) -> tuple[Series, Series]:
    """Two series of n bars with those counts, their bars shuffled."""
    x, y = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    x[:sx] = True
    y[:sxy] = True
    y[sx : sx + sy - sxy] = True
    order = rng.permutation(n)
    return x[order], y[order]


def _flip(x: Series, k: int, rng: np.random.Generator) -> Series:
    y = x.copy()
    at = rng.choice(x.size, size=k, replace=False)
    y[at] = ~y[at]
    return y


def test_bit_rows_count_and_cut_like_the_bool_series() -> None:
    rng = np.random.default_rng(1)
    for bars in (0, 1, 7, 8, 9, 63, 64, 65, 200):
        codec = BitSeries(bars)
        x = rng.random(bars + 13) < 0.4
        row = codec.from_bools(x)
        assert row.size % 8 == 0 and row.size >= 8
        assert np.array_equal(codec.unpack(row), x[:bars])
        assert int(popcounts(row[None, :])[0]) == int(x[:bars].sum())
        # a stored blob of the longer series, cut to the first bars, is the same row
        assert np.array_equal(codec.from_packed(np.packbits(x).tobytes()), row)


@pytest.mark.parametrize("bars", [None, 120, 97, 1])
def test_the_index_gives_the_reference_verdict(tmp_path: Path, bars: int | None) -> None:
    rng = np.random.default_rng(7 if bars is None else bars)
    n = 160
    store = ResearchStore(tmp_path / "state.db")
    base = [rng.random(n) < p for p in (0.1, 0.3, 0.5, 0.7)]
    earlier: list[Series] = [
        np.zeros(n, dtype=bool),  # constant: out of the market
        np.ones(n, dtype=bool),  # constant: always in
        *base,
        *(_flip(b, k, rng) for b in base for k in (1, 3, 8, 20)),
        *(rng.random(n) < rng.random() for _ in range(30)),
    ]
    # the learnable bars equal, the holdout's differ: a duplicate all the same when bars < n
    tail = base[2].copy()
    tail[-20:] = ~tail[-20:]
    earlier.append(tail)
    for i, pos in enumerate(earlier):
        _record(store, "r", i, pos)
    _record(store, "r", len(earlier), None)  # an error: no series
    _record(store, "r", len(earlier) + 1, base[1][:100])  # other length: never compared
    _record(store, "o", 0, base[0], ETH)  # other market: never compared
    probes: list[Series] = [
        np.zeros(n, dtype=bool),
        np.ones(n, dtype=bool),
        *(e.copy() for e in earlier[::3]),
        *(_flip(b, k, rng) for b in base for k in (1, 2, 4, 6, 9, 12, 30)),
        *(rng.random(n) < rng.random() for _ in range(200)),
    ]
    index = _index(store, bars)
    verdicts = []
    for probe in probes:
        got, want = index.twin_of(probe), _reference(store, probe, bars)
        assert got == want
        verdicts.append(want)
    assert index.rows_read == len(earlier)  # read once, then nothing new
    if bars == 1:  # one bar: every series equals one of the two constants recorded first
        assert set(verdicts) == {experiment_id("r", 0), experiment_id("r", 1)}
    else:
        assert sum(v is None for v in verdicts) > 20 and sum(v is not None for v in verdicts) > 20
    store.close()


def test_exactly_at_the_threshold_the_reference_rounding_decides(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    store = ResearchStore(tmp_path / "state.db")
    index = _index(store, None)
    decided = set()
    i = 0
    for n, sx, sy, sxy in AT_THRESHOLD:
        for _ in range(12):
            x, y = _pair(n, sx, sy, sxy, rng)
            _record(store, f"t{n}", i, y)
            i += 1
            got, want = index.twin_of(x), _reference(store, x, None)
            assert got == want
            decided.add(want is None)
            # start over for the next pair: one earlier row, the one just written
            store.close()
            (tmp_path / "state.db").unlink()
            store = ResearchStore(tmp_path / "state.db")
            index = _index(store, None)
    assert decided == {True, False}  # both sides of the rounding were met
    store.close()


def test_the_first_in_seq_order_wins_and_an_equal_constant_is_a_twin(tmp_path: Path) -> None:
    store = ResearchStore(tmp_path / "state.db")
    n = 50
    flat = np.zeros(n, dtype=bool)
    x = np.arange(n) % 3 == 0
    _record(store, "r", 0, ~flat)
    _record(store, "r", 1, x)
    _record(store, "r", 2, x)
    _record(store, "r", 3, flat)
    index = _index(store, None)
    assert index.twin_of(x) == experiment_id("r", 1)
    assert index.twin_of(flat.copy()) == experiment_id("r", 3)  # equal constants are equal
    off = flat.copy()
    off[7] = True  # one bar in the market: a constant's twin no more, correlation 0
    assert index.twin_of(off) is None and _reference(store, off, None) is None
    store.close()


def test_rows_written_by_another_connection_are_read_once(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    n = 90
    mine = ResearchStore(tmp_path / "state.db")
    other = ResearchStore(tmp_path / "state.db")  # another process writing the same home
    rows = [rng.random(n) < 0.5 for _ in range(6)]
    for i, pos in enumerate(rows[:4]):
        _record(mine, "a", i, pos)
    index = _index(mine, None)
    assert index.twin_of(rows[5]) is None
    assert index.rows_read == 4
    _record(other, "b", 0, rows[5])
    assert index.twin_of(rows[5]) == experiment_id("b", 0)
    assert index.rows_read == 5  # just the new row
    _record(mine, "a", 4, rows[4])
    assert index.twin_of(rows[4]) == experiment_id("a", 4)
    assert index.rows_read == 6 and len(index) == 6
    other.close()
    mine.close()
