"""Research: the current run, its candidates (outcome, the check that failed) and the gate
report of the selected one (`GetExperiment`)."""

from __future__ import annotations

import json

from grpc import aio
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Label, Static

from rara.tui.client import RaraClient, describe_error
from rara.tui.render import gate_report


def hypothesis_text(recorded: str) -> str:
    """The hypothesis sentence: the research loop records the proposer's JSON, whose
    "hypothesis" is what a person reads."""
    try:
        doc = json.loads(recorded)
    except ValueError:
        return recorded
    return str(doc.get("hypothesis", recorded)) if isinstance(doc, dict) else recorded


class ResearchPane(Vertical):
    DEFAULT_CSS = """
    ResearchPane #candidates { height: 1fr; }
    ResearchPane #gate-scroll { height: 1fr; border-top: solid $primary; }
    """

    def __init__(self) -> None:
        super().__init__(id="research-pane")
        self.client: RaraClient | None = None
        self.run_id = ""

    def compose(self) -> ComposeResult:
        yield Label("run: -", id="run", markup=False)
        table: DataTable[str] = DataTable(id="candidates", cursor_type="row")
        table.add_columns("iter", "family", "outcome", "failed check", "val sharpe", "strategy")
        yield table
        with VerticalScroll(id="gate-scroll"):
            yield Static("select a candidate", id="gate", markup=False)

    async def load(self, client: RaraClient) -> None:
        self.client = client
        listing = await client.experiments(limit=200)
        self.run_id = listing.run_id
        self.query_one("#run", Label).update(
            f"run {listing.run_id or '-'}: {len(listing.experiments)} candidates"
        )
        table = self.query_one("#candidates", DataTable)
        row = table.cursor_row
        table.clear()
        for x in listing.experiments:
            table.add_row(
                str(x.iteration),
                x.family,
                x.outcome,
                x.failed_check or "-",
                f"{x.validation_sharpe:.2f}",
                x.strategy_id[:12],
                key=x.experiment_id,
            )
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))

    @on(DataTable.RowHighlighted, "#candidates")
    def _selected(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self.show_gate(event.row_key.value)

    @work(exclusive=True, group="research-gate", exit_on_error=False)
    async def show_gate(self, experiment_id: str) -> None:
        if self.client is None:
            return
        try:
            got = await self.client.experiment(experiment_id)
        except (aio.AioRpcError, aio.UsageError) as exc:
            self.query_one("#gate", Static).update(f"unavailable: {describe_error(exc)}")
            return
        x = got.experiment
        head = f"{x.family} #{x.iteration}: {hypothesis_text(x.hypothesis)}"
        self.query_one("#gate", Static).update(head + "\n" + gate_report(got.gate, "gate 1"))
