"""`rara trade run` end to end against the Binance spot emulator: a testnet account opened,
reconciled, armed; the strategy's entry filled at the bar's open and its stop-loss resting at
the exchange; SIGTERM stops it cleanly and the ledger equals the exchange's account."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.emulators.exchange import BinanceEmulator
from tests.kit.live import KEY, SECRET, START_MS, TradeRun, configure_live_home, strategy_file


def test_a_testnet_run_enters_protects_and_stops_cleanly(rara_home: Path) -> None:
    with BinanceEmulator(api_keys={KEY: SECRET}, now_ms=START_MS) as emu:
        emu.fund(KEY, "USDT", "10000")
        home = configure_live_home(rara_home, emu)
        with TradeRun(home, emu, strategy_file(home)) as run:
            run.step_bars(3)
            assert run.stop() == 0, run.stderr
        out = run.result()
        assert out["mode"] == "testnet" and out["ended"] == "stopped"
        assert out["reconciliation"]["startup_ok"] is True
        assert out["deadman"] == "watchdog"  # binance spot has no server-side switch
        orders = emu.book.orders(KEY)
        assert [o.kind for o in orders][:2] == ["market", "stop_market"]
        assert all(n == 1 for n in emu.book.count_by_client_id(KEY).values())
        venue = {c: free + locked for c, (free, locked) in emu.book.balances(KEY).items()}
        ledger = {c: Decimal(v) for c, v in out["balances"].items()}
        assert ledger == {c: v for c, v in venue.items() if v}
