"""`rara trade run` end to end against the Binance spot emulator: a testnet account opened,
reconciled, armed; the strategy's entry filled at the bar's open and its stop-loss resting at
the exchange; SIGTERM stops it cleanly and the ledger equals the exchange's account."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from tests.emulators.exchange import BinanceEmulator
from tests.kit.live import (
    KEY,
    SECRET,
    START_MS,
    TradeRun,
    configure_live_home,
    keys_env,
    strategy_file,
)
from tests.kit.paths import REPO


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
        # the command a person runs after a run: the books against the exchange itself
        env = {**os.environ, "RARA_HOME": str(home), **keys_env()}
        cmd = [sys.executable, "-m", "rara", "ledger", "verify", "--against-exchange"]
        done = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "testnet:acct" in json.loads(done.stdout)["venue_checked"]
        emu.fund(KEY, "USDT", "1")  # a deposit the ledger has not seen
        done = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
        assert done.returncode == 1
        assert "venue_mismatch" in done.stdout
