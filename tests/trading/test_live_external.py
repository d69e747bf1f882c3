"""Orders placed on the account by someone else while `rara trade run` trades it, against the
Binance spot emulator: the periodic reconciliation reports the resting one as external
(``trading_external_order``, ``trading_reconciled.external_orders``) and puts the account in
REDUCING (an account lock: the next entry is denied ``locked``, an exit still goes out); a person
acknowledges them (`rara accounts ack-external NAME`, which releases the locks) and entries go
out again. The fill of the other one is booked once as a ``trading_external_fill``, and the
ledger stays equal to the exchange."""

from __future__ import annotations

from pathlib import Path

from rara.domain.events import (
    TradingExternalFill,
    TradingExternalOrder,
    TradingOrderRejected,
    TradingOrderSubmitted,
    TradingReconciled,
)
from tests.emulators.exchange import BinanceEmulator
from tests.kit.cli import run_cli
from tests.kit.live import (
    ALTERNATING,
    KEY,
    SECRET,
    START_MS,
    SYMBOL,
    TradeRun,
    configure_live_home,
    journal,
    ledger_balances,
    strategy_file,
    venue_differences,
    venue_holdings,
    verify_cli,
    wait_for,
)

# Half the cash per entry: the other half is there for someone else's orders.
HALF = "[backtest]\nsize_fraction = 0.5\n"


def submitted(home: Path, reason: str) -> int:
    return sum(p.reason == reason for p in journal(home, TradingOrderSubmitted))


def denied_locked(home: Path) -> int:
    return sum(p.reason_code == "locked" for p in journal(home, TradingOrderRejected))


def test_an_external_order_puts_the_account_in_reducing_until_released(rara_home: Path) -> None:
    with BinanceEmulator(api_keys={KEY: SECRET}, now_ms=START_MS) as emu:
        emu.fund(KEY, "USDT", "10000")
        home = configure_live_home(rara_home, emu, reconcile_interval_s=0.2, extra=HALF)
        with TradeRun(home, emu, strategy_file(home, ALTERNATING, "alternating.py")) as run:
            run.advance_until(lambda: submitted(home, "entry"))
            # someone else: a limit buy far below the market (it rests), and a market buy
            resting = emu.place_external(KEY, SYMBOL, "buy", "0.01", price="10000")
            emu.place_external(KEY, SYMBOL, "buy", "0.002", client_order_id="web_market_1")
            (ext,) = wait_for(lambda: journal(home, TradingExternalOrder), why="external order")
            assert ext.venue_order_id == resting.order_id
            wait_for(
                lambda: [r for r in journal(home, TradingReconciled) if r.external_orders],
                why="a reconciliation naming it",
            )
            wait_for(lambda: journal(home, TradingExternalFill), why="the external fill")

            # REDUCING: the exit goes out, the next entry is denied
            exits, entries = submitted(home, "exit"), submitted(home, "entry")
            run.advance_until(lambda: denied_locked(home))
            assert submitted(home, "exit") == exits + 1
            assert submitted(home, "entry") == entries

            # acknowledged: entries go out again
            r = run_cli(home, "accounts", "ack-external", "acct")
            assert r.code == 0, (r.stdout, r.stderr)
            assert r.json["released"] == [f"external:testnet:acct:{resting.order_id}"]
            again = run_cli(home, "accounts", "ack-external", "acct")
            assert again.code != 0 and again.error["code"] == "external_none"
            run.advance_until(lambda: submitted(home, "entry") > entries)
            wait_for(lambda: not venue_differences(home, emu), why="the entry's fill booked")
            assert run.stop() == 0, run.stderr

        # the external fill booked once; the ledger holds what the exchange does
        fills = journal(home, TradingExternalFill)
        (theirs,) = [t for t in emu.book.trades(KEY) if t.client_order_id == "web_market_1"]
        assert len(fills) == 1 and fills[0].fill_id == f"{SYMBOL}#{theirs.trade_id}"
        assert venue_differences(home, emu) == []
        assert ledger_balances(home) == venue_holdings(emu)
        counts = emu.book.count_by_client_id(KEY)
        assert all(n == 1 for n in counts.values())
        verify_cli(home)
