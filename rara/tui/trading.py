"""Trading: the accounts (mode, state, equity, PnL, locks), the positions and the orders, with
the guard that denied an order when one did."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Label

from rara.tui.client import RaraClient
from rara.tui.render import money, quantity, trading_state


class TradingPane(Vertical):
    DEFAULT_CSS = """
    TradingPane DataTable { height: 1fr; }
    TradingPane #accounts { max-height: 8; }
    """

    def __init__(self) -> None:
        super().__init__(id="trading-pane")

    def compose(self) -> ComposeResult:
        yield Label("accounts")
        accounts: DataTable[str] = DataTable(id="accounts", cursor_type="row")
        accounts.add_columns("account", "mode", "state", "equity", "realized PnL", "fees", "locks")
        yield accounts
        yield Label("positions", id="positions-label")
        positions: DataTable[str] = DataTable(id="positions", cursor_type="row")
        positions.add_columns(
            "account", "symbol", "strategy", "qty", "avg price", "mark", "unrealized", "realized"
        )
        yield positions
        yield Label("orders", id="orders-label")
        orders: DataTable[str] = DataTable(id="orders", cursor_type="row")
        orders.add_columns(
            "account", "symbol", "side", "type", "qty", "price", "status", "filled", "denied by"
        )
        yield orders

    async def load(self, client: RaraClient) -> None:
        positions = await client.positions()
        orders = await client.orders(limit=200)
        names = sorted({p.account for p in positions} | {o.account for o in orders} - {""})
        accounts = [await client.account(name) for name in names]
        table = self.query_one("#accounts", DataTable)
        table.clear()
        for a in accounts:
            table.add_row(
                a.account,
                a.mode,
                trading_state(a.trading_state),
                money(a.equity),
                money(a.realized_pnl),
                money(a.fees),
                ", ".join(a.locks) or "-",
                key=a.account,
            )
        table = self.query_one("#positions", DataTable)
        table.clear()
        for p in positions:
            table.add_row(
                p.account,
                p.symbol,
                p.strategy_id[:12],
                quantity(p.quantity),
                money(p.average_price),
                money(p.mark),
                money(p.unrealized_pnl),
                money(p.realized_pnl),
            )
        self.query_one("#positions-label", Label).update(f"positions ({len(positions)})")
        table = self.query_one("#orders", DataTable)
        table.clear()
        for o in orders:
            table.add_row(
                o.account,
                o.symbol,
                o.side,
                o.type,
                quantity(o.quantity),
                money(o.price),
                o.status,
                quantity(o.filled),
                o.denied_by or "-",
                key=o.client_order_id,
            )
        self.query_one("#orders-label", Label).update(f"orders ({len(orders)})")
