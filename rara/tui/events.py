"""Events: the live tail of the event log, with a type filter, a text search, pause, and the
selected event's canonical JSON (the bytes its hash covers) in a detail pane.

The pane keeps the last `KEEP` events it was given; the app hands them over in batches (never
one redraw per event). Paused, it keeps collecting but leaves the table as it was.
"""

from __future__ import annotations

import json
from collections import deque
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Input, Label, Static

from rara.v1 import rara_pb2 as pb

KEEP = 5000
SHOWN = 500
# seq, ISO time to the second, the longest event type (feedback_research_retrain_requested),
# the longest source (cli.backtest.gate), a strategy id's first 12 characters
TAIL_COLUMNS = (("seq", 7), ("ts", 19), ("type", 35), ("source", 17), ("strategy", 12))


class EventsPane(Vertical):
    DEFAULT_CSS = """
    EventsPane #filters { height: 3; }
    EventsPane Input { width: 1fr; }
    EventsPane #tail { height: 2fr; }
    EventsPane #detail-scroll { height: 1fr; border-top: solid $primary; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("p", "toggle_pause", "pause")]

    def __init__(self) -> None:
        super().__init__(id="events-pane")
        self.events: deque[pb.Event] = deque(maxlen=KEEP)
        self.by_seq: dict[int, pb.Event] = {}
        self.paused = False
        self.type_filter = ""
        self.search = ""

    def compose(self) -> ComposeResult:
        with Horizontal(id="filters"):
            yield Input(placeholder="type filter (e.g. trading_)", id="type-filter")
            yield Input(placeholder="search", id="search")
        yield Label("live", id="tail-state")
        table: DataTable[str] = DataTable(id="tail", cursor_type="row")
        # fixed widths: a tail that sized columns by what it has shown would reflow as events
        # scroll by (and screen snapshots would depend on the batches a stream arrived in)
        for label, width in TAIL_COLUMNS:
            table.add_column(label, width=width)
        yield table
        with VerticalScroll(id="detail-scroll"):
            yield Static("select an event", id="detail", markup=False)

    def matches(self, e: pb.Event) -> bool:
        if self.type_filter and self.type_filter not in e.type:
            return False
        return not self.search or self.search.lower() in e.canonical_json.lower()

    def add_events(self, batch: list[pb.Event]) -> None:
        for e in batch:
            if len(self.events) == self.events.maxlen:
                self.by_seq.pop(self.events[0].seq, None)
            self.events.append(e)
            self.by_seq[e.seq] = e
        if not self.paused:
            self._append_rows([e for e in batch if self.matches(e)])
        self._show_state()

    def shown_seqs(self) -> list[int]:
        table = self.query_one("#tail", DataTable)
        return [int(str(k.value)) for k in table.rows]

    def _append_rows(self, batch: list[pb.Event]) -> None:
        table = self.query_one("#tail", DataTable)
        for e in batch[-SHOWN:]:
            table.add_row(
                str(e.seq), e.ts[:19], e.type, e.source, e.strategy_id[:12], key=str(e.seq)
            )
        extra = table.row_count - SHOWN
        if extra > 0:
            for key in list(table.rows)[:extra]:
                table.remove_row(key)
        if batch and table.row_count:  # a tail follows the newest, and shows it
            table.move_cursor(row=table.row_count - 1, animate=False)
            self._show_detail(batch[-1])

    def _rebuild(self) -> None:
        self.query_one("#tail", DataTable).clear()
        self._append_rows([e for e in self.events if self.matches(e)])
        self._show_state()

    def _show_state(self) -> None:
        state = "PAUSED (p to resume)" if self.paused else "live (p to pause)"
        self.query_one("#tail-state", Label).update(
            f"{state}: {len(self.events)} events received, last seq "
            f"{self.events[-1].seq if self.events else 0}"
        )

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused:
            self._rebuild()
        self._show_state()

    @on(Input.Changed, "#type-filter")
    def _type_changed(self, event: Input.Changed) -> None:
        self.type_filter = event.value.strip()
        self._rebuild()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.search = event.value.strip()
        self._rebuild()

    @on(DataTable.RowHighlighted, "#tail")
    def _selected(self, event: DataTable.RowHighlighted) -> None:
        e = self.by_seq.get(int(str(event.row_key.value)))
        if e is not None:
            self._show_detail(e)

    def _show_detail(self, e: pb.Event) -> None:
        try:
            body = json.dumps(json.loads(e.canonical_json), indent=2, sort_keys=True)
        except ValueError:
            body = e.canonical_json
        self.query_one("#detail", Static).update(
            f"#{e.seq} {e.type} {e.event_id}\ncorrelation {e.correlation_id or '-'}\n"
            f"hash {e.hash}\nprev {e.prev_hash}\n{body}"
        )
