"""Overview: the trading state badge, the equity sparkline, the components, alerts and the
research progress, from one `GetStatus` and the first account's equity curve."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Label, Sparkline, Static

from rara.tui.client import RaraClient
from rara.tui.render import COMPONENT_STATES, trading_state
from rara.v1 import rara_pb2 as pb

ALERT_TYPES = ("sentinel_signal_detected", "trading_order_rejected", "daemon_component_crashed")


class TradingBadge(Static):
    """ACTIVE / REDUCING / HALTED, coloured."""

    DEFAULT_CSS = """
    TradingBadge { width: auto; padding: 0 2; text-style: bold; }
    TradingBadge.ACTIVE { background: $success; color: $text; }
    TradingBadge.REDUCING { background: $warning; color: $text; }
    TradingBadge.HALTED { background: $error; color: $text; }
    """

    def show(self, state: str) -> None:
        self.set_classes(state)
        self.update(f"trading {state}")


class OverviewPane(Vertical):
    DEFAULT_CSS = """
    OverviewPane #top { height: auto; }
    OverviewPane #research { width: 1fr; }
    OverviewPane #equity { height: 4; margin: 0 1; }
    OverviewPane #components { height: 1fr; }
    OverviewPane #alerts { height: auto; max-height: 8; }
    """

    def __init__(self) -> None:
        super().__init__(id="overview")
        self.status: pb.GetStatusResponse | None = None
        self.alerts: list[str] = []

    def compose(self) -> ComposeResult:
        with Horizontal(id="top"):
            yield TradingBadge("trading ?", id="badge")
            yield Label("", id="research", markup=False)
        yield Label("equity", id="equity-label")
        yield Sparkline([], id="equity")
        yield Static("no alerts", id="alerts", markup=False)
        table: DataTable[str] = DataTable(id="components", cursor_type="row")
        table.add_columns("component", "kind", "state", "healthy", "restarts", "detail")
        yield table

    async def load(self, client: RaraClient) -> None:
        status = await client.status()
        self.status = status
        self.query_one(TradingBadge).show(trading_state(status.trading_state))
        stages = ", ".join(f"{k} {v}" for k, v in sorted(status.strategies_by_stage.items()) if v)
        if status.research_paused:
            paused = "paused"
        else:
            paused = "running" if status.daemon_running else "idle"
        mode = "read-only (no daemon)" if status.read_only else "daemon"
        self.query_one("#research", Label).update(
            f"  research {paused}: {status.experiments} experiments | strategies: "
            f"{stages or 'none'} | open orders {status.open_orders}, positions "
            f"{status.open_positions} | head seq {status.head_seq} | {mode}"
        )
        table = self.query_one("#components", DataTable)
        table.clear()
        for c in status.components:
            table.add_row(
                c.name,
                c.kind,
                COMPONENT_STATES.get(c.state, "?"),
                "yes" if c.healthy else "NO",
                str(c.restarts),
                c.last_error or c.detail,
                key=c.name,
            )
        await self._load_equity(client)
        self._show_alerts()

    async def _load_equity(self, client: RaraClient) -> None:
        points = await client.equity_curve(max_points=120)
        values = [float(p.equity) for p in points if p.equity]
        self.query_one(Sparkline).data = values
        last = f"{values[-1]:.2f}" if values else "-"
        self.query_one("#equity-label", Label).update(f"equity ({len(values)} marks): {last}")

    def add_alerts(self, events: list[pb.Event]) -> None:
        for e in events:
            if e.type in ALERT_TYPES or "halt" in e.type or "kill" in e.type:
                self.alerts.append(f"#{e.seq} {e.type} {e.strategy_id[:12]}".rstrip())
        self.alerts = self.alerts[-6:]
        self._show_alerts()

    def _show_alerts(self) -> None:
        lines = [f"! {w}" for w in (self.status.warnings if self.status else [])]
        lines += self.alerts
        self.query_one("#alerts", Static).update("\n".join(lines) or "no alerts")
