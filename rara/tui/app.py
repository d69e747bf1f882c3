"""The cockpit: a connection view until the server answers, then five tabs over it.

The app owns the client, the connection state and the one exclusive worker that owns the
event stream: it connects, loads every pane, streams from the last seq it saw, and after a
break waits with a growing backoff and resumes from that seq (events at or below it are
dropped, so a resume never shows one twice). Stream items are only queued; a timer hands the
queue to the panes and reloads the read models at most once per `RELOAD_S`, so a burst of
events costs one redraw, not one per event.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import ClassVar

from grpc import aio
from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, Vertical
from textual.css.query import NoMatches
from textual.widgets import ContentSwitcher, Footer, Label, TabbedContent, TabPane

from rara.tui.client import RaraClient, ServerAddress, describe_error
from rara.tui.dialogs import ConfirmScreen
from rara.tui.events import EventsPane
from rara.tui.overview import OverviewPane
from rara.tui.research import ResearchPane
from rara.tui.strategies import StrategiesPane
from rara.tui.trading import TradingPane
from rara.v1 import rara_pb2 as pb

FLUSH_S = 0.25  # how often queued stream items reach the panes
RELOAD_S = 1.0  # at most one reload of the read models per this, while events arrive
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 10.0


@dataclass
class Connection:
    """What the connection view and the status line show."""

    state: str = "connecting"  # connecting, connected, disconnected
    retries: int = 0
    backoff_s: float = 0.0
    error: str = ""
    connects: int = 0  # successful connections so far

    def line(self, target: str) -> str:
        if self.state == "connected":
            return f"connected to {target}"
        if self.state == "disconnected":
            return (
                f"disconnected from {target}: {self.error}; retry {self.retries} "
                f"in {self.backoff_s:.1f}s"
            )
        return f"connecting to {target} (attempt {self.retries + 1})"


@dataclass
class StreamLedger:
    """The stream's bookkeeping: the last seq seen, what waits for the panes, duplicates
    dropped (a resume must never show an event twice)."""

    last_seq: int = 0
    pending: list[pb.Event] = field(default_factory=list)
    duplicates_dropped: int = 0
    received: int = 0

    def take(self, event: pb.Event) -> None:
        if event.seq <= self.last_seq:
            self.duplicates_dropped += 1
            return
        self.last_seq = event.seq
        self.received += 1
        self.pending.append(event)


class RaraApp(App[None]):
    """`rara tui`: connect to `address`, show the daemon."""

    TITLE = "rara"
    CSS = """
    #connection-view { align: center middle; }
    #connection-view Label { width: auto; }
    #status-line { height: 1; background: $boost; padding: 0 1; }
    #status-line.disconnected { background: $error; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("K", "kill", "KILL SWITCH", priority=True),
        Binding("r", "reload", "reload"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(
        self, address: ServerAddress, heartbeat_ms: int = 1000, replay_label: str = ""
    ) -> None:
        super().__init__()
        self.address = address
        self.heartbeat_ms = heartbeat_ms
        self.replay_label = replay_label
        self.connection = Connection()
        self.ledger = StreamLedger()
        self.client: RaraClient | None = None
        self._reload_due = False
        self._loaded_once = False

    # ---- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with ContentSwitcher(initial="connection-view", id="views"):
            with Vertical(id="connection-view"), Center():
                yield Label("rara", id="logo")
                yield Label(self.connection.line(self.target), id="connection-state")
            with Vertical(id="main-view"):
                yield Label("", id="status-line")
                with TabbedContent(id="tabs"):
                    with TabPane("Overview", id="tab-overview"):
                        yield OverviewPane()
                    with TabPane("Research", id="tab-research"):
                        yield ResearchPane()
                    with TabPane("Trading", id="tab-trading"):
                        yield TradingPane()
                    with TabPane("Strategies", id="tab-strategies"):
                        yield StrategiesPane()
                    with TabPane("Events", id="tab-events"):
                        yield EventsPane()
        yield Footer()

    @property
    def target(self) -> str:
        return self.replay_label or self.address.target

    def on_mount(self) -> None:
        self.set_interval(FLUSH_S, self.flush)
        self.set_interval(RELOAD_S, self.reload_if_due)
        self.own_stream()

    # ---- the stream ----------------------------------------------------------------------------
    @work(exclusive=True, group="stream")
    async def own_stream(self) -> None:
        """Connect, load, stream; on a break back off and resume from the last seq."""
        while True:
            self.connection.state = "connecting"
            self._show_connection()
            client = RaraClient(self.address)
            try:
                await client.status()  # fails fast when nobody answers
                self.client = client
                await self.reload()
                self.connection.state = "connected"
                self.connection.connects += 1
                self.connection.retries = 0
                self.connection.error = ""
                self._show_connection()
                async for item in client.events(
                    after_seq=self.ledger.last_seq, heartbeat_ms=self.heartbeat_ms
                ):
                    if isinstance(item, pb.Event):
                        self.ledger.take(item)
                raise ConnectionError("the server ended the stream")
            except Exception as exc:  # any break (the channel closed under a reload, too)
                self.connection.error = describe_error(exc)
            finally:
                self.client = None
                with contextlib.suppress(Exception):
                    await client.close()
            self.connection.retries += 1
            self.connection.backoff_s = min(
                BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (self.connection.retries - 1)
            )
            self.connection.state = "disconnected"
            self._show_connection()
            await asyncio.sleep(self.connection.backoff_s)

    def flush(self) -> None:
        """Hand the queued events to the panes in one batch."""
        if not self.ledger.pending or not self.is_running:
            return
        batch, self.ledger.pending = self.ledger.pending, []
        with contextlib.suppress(NoMatches):  # the app is closing: its panes are gone
            self.query_one(EventsPane).add_events(batch)
            self.query_one(OverviewPane).add_alerts(batch)
        self._reload_due = True
        self._show_connection()

    async def reload_if_due(self) -> None:
        if self._reload_due and self.client is not None:
            self._reload_due = False
            # a break shows in the stream worker, which reconnects; nothing to do here
            with contextlib.suppress(aio.AioRpcError, aio.UsageError):
                await self.reload()

    async def reload(self) -> None:
        """Every pane's read model from the server, once."""
        client = self.client
        if client is None:
            return
        # the panes are only ever gone when the app is closing (a control call's reload may
        # still be under way then, the stream having shown its effect first): nothing to load
        with contextlib.suppress(NoMatches):
            await self.query_one(OverviewPane).load(client)
            await self.query_one(ResearchPane).load(client)
            await self.query_one(TradingPane).load(client)
            await self.query_one(StrategiesPane).load(client)
            self._loaded_once = True

    def _show_connection(self) -> None:
        if not self.is_running:
            return
        line = self.connection.line(self.target)
        if self._loaded_once:
            self.query_one("#views", ContentSwitcher).current = "main-view"
        self.query_one("#connection-state", Label).update(Text(line))
        status = self.query_one("#status-line", Label)
        status.set_class(self.connection.state == "disconnected", "disconnected")
        status.update(Text(f"{line} | last seq {self.ledger.last_seq} | K: kill switch, q: quit"))

    # ---- control -------------------------------------------------------------------------------
    async def action_reload(self) -> None:
        with contextlib.suppress(aio.AioRpcError, aio.UsageError):
            await self.reload()

    def action_kill(self) -> None:
        self.confirm_and_kill()

    @work(group="control")
    async def confirm_and_kill(self) -> None:
        question = "KILL SWITCH: halt all trading now? (no new orders; open ones are canceled)"
        if not await self.push_screen_wait(ConfirmScreen(question, yes="Halt trading")):
            return
        await self._control(lambda c: c.kill(reason="kill switch from the TUI"), "kill switch")

    @work(group="control")
    async def on_strategies_pane_approve_requested(
        self, msg: StrategiesPane.ApproveRequested
    ) -> None:
        question = f"Approve {msg.name} ({msg.strategy_id[:12]}, {msg.stage}) for its next stage?"
        if await self.push_screen_wait(ConfirmScreen(question, yes="Approve")):
            await self._control(lambda c: c.approve(msg.strategy_id), f"approve {msg.name}")

    @work(group="control")
    async def on_strategies_pane_demote_requested(
        self, msg: StrategiesPane.DemoteRequested
    ) -> None:
        question = f"Demote {msg.name} ({msg.strategy_id[:12]}, {msg.stage})?"
        if await self.push_screen_wait(ConfirmScreen(question, yes="Demote")):
            reason = "demoted from the TUI"
            await self._control(lambda c: c.demote(msg.strategy_id, reason), f"demote {msg.name}")

    async def _control(self, call: Callable[[RaraClient], Awaitable[object]], what: str) -> None:
        client = self.client
        if client is None:
            self.notify(f"{what}: not connected", severity="error")
            return
        try:
            await call(client)
        except (aio.AioRpcError, aio.UsageError) as exc:
            self.notify(f"{what} refused: {describe_error(exc)}", severity="error", timeout=8)
            return
        self.notify(f"{what}: done")
        with contextlib.suppress(aio.AioRpcError, aio.UsageError):
            await self.reload()
