"""Strategies: every strategy by lifecycle stage, the selected one's gate 1 and gate 2 reports
and live metrics; approve (a) and demote (d) ask the app, which confirms and calls the server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from grpc import aio
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from rara.tui.client import RaraClient, describe_error
from rara.tui.render import gate_report
from rara.v1 import rara_pb2 as pb

STAGE_ORDER = ("live", "live_candidate", "paper", "paper_candidate", "research", "retired")


class StrategiesPane(Vertical):
    DEFAULT_CSS = """
    StrategiesPane #strategies { height: 1fr; }
    StrategiesPane #reports-scroll { height: 1fr; border-top: solid $primary; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "approve", "approve"),
        Binding("d", "demote", "demote"),
    ]

    @dataclass
    class ApproveRequested(Message):
        strategy_id: str
        name: str
        stage: str

    @dataclass
    class DemoteRequested(Message):
        strategy_id: str
        name: str
        stage: str

    def __init__(self) -> None:
        super().__init__(id="strategies-pane")
        self.client: RaraClient | None = None
        self.strategies: dict[str, pb.Strategy] = {}

    def compose(self) -> ComposeResult:
        table: DataTable[str] = DataTable(id="strategies", cursor_type="row")
        table.add_columns("stage", "name", "strategy", "symbol", "tf", "accounts", "reason")
        yield table
        with VerticalScroll(id="reports-scroll"):
            yield Static("select a strategy (a: approve, d: demote)", id="reports", markup=False)

    async def load(self, client: RaraClient) -> None:
        self.client = client
        listed = await client.strategies()
        rank = {stage: i for i, stage in enumerate(STAGE_ORDER)}
        listed.sort(key=lambda s: (rank.get(s.stage, len(rank)), s.name, s.strategy_id))
        self.strategies = {s.strategy_id: s for s in listed}
        table = self.query_one("#strategies", DataTable)
        row = table.cursor_row
        table.clear()
        for s in listed:
            table.add_row(
                s.stage,
                s.name,
                s.strategy_id[:12],
                s.symbol,
                s.timeframe,
                ", ".join(s.accounts) or "-",
                s.reason[:40],
                key=s.strategy_id,
            )
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))

    def selected(self) -> pb.Strategy | None:
        table = self.query_one("#strategies", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.strategies.get(key or "")

    @on(DataTable.RowHighlighted, "#strategies")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self.show_reports(event.row_key.value)

    @work(exclusive=True, group="strategy-reports", exit_on_error=False)
    async def show_reports(self, strategy_id: str) -> None:
        if self.client is None:
            return
        try:
            got = await self.client.strategy(strategy_id)
        except (aio.AioRpcError, aio.UsageError) as exc:
            self.query_one("#reports", Static).update(f"unavailable: {describe_error(exc)}")
            return
        s = got.strategy
        lines = [f"{s.name} [{s.stage}] {s.strategy_id} since {s.since}", f"  {s.reason}"]
        lines.append(gate_report(got.research_gate, "gate 1"))
        lines.append(gate_report(got.paper_gate, "gate 2"))
        for m in got.metrics:
            lines.append(
                f"  live {m.account}: {m.trades} trades over {m.days:.1f} days, return "
                f"{m.total_return:.2%}, sharpe {m.sharpe:.2f}, drawdown {m.max_drawdown:.2%}, "
                f"equity {m.equity}"
            )
        self.query_one("#reports", Static).update("\n".join(lines))

    def action_approve(self) -> None:
        s = self.selected()
        if s is not None:
            self.post_message(self.ApproveRequested(s.strategy_id, s.name, s.stage))

    def action_demote(self) -> None:
        s = self.selected()
        if s is not None:
            self.post_message(self.DemoteRequested(s.strategy_id, s.name, s.stage))
