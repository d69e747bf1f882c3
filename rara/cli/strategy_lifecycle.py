"""`rara strategy show|approve|demote|retire`: one strategy's place in the lifecycle
(`rara.feedback.lifecycle`) and the moves a person makes on it, as events in the state DB.

Live always needs a person: `approve` confirms a live candidate for one configured account. It
does not bypass live mode's opt-ins: an account in live mode still needs ``trading.live_enabled``,
its keys and the daemon's ``--live``.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import click

from rara.cli.output import emit
from rara.config import load_settings
from rara.domain.lifecycle import STAGES, Stage
from rara.domain.strategy import strategy_id
from rara.events import EventStore, open_event_store
from rara.feedback.lifecycle import Lifecycle, StrategyRecord, move
from rara.feedback.lifecycle import approve as approve_live
from rara.home import Home
from rara.registry import StrategyEntry
from rara.registry.manifest import ManifestError, read_manifest
from rara.registry.registry import GATE_REPORT_FILE
from rara.trading.views import trading_runs

DEMOTE_TO: tuple[Stage, ...] = ("paper", "paper_candidate")


def cli_user() -> str:
    """``cli:<login user>``: who made a move from the command line."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name in a bare container
        user = "unknown"
    return f"cli:{user}"


def entry_strategy_id(entry: StrategyEntry) -> str | None:
    """The stable id of a registry entry: its manifest's (promoted), else derived from its source
    and declared version the way research derives it; None when the source cannot be read."""
    if entry.manifest.strategy_id:
        return entry.manifest.strategy_id
    try:
        source = entry.source_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return strategy_id(source, entry.manifest.version)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        return {"error": f"{path.name} unreadable: {exc}"}


def describe(home: Home, store: EventStore, rec: StrategyRecord) -> dict[str, Any]:
    """Everything `show` prints about one strategy."""
    directory = home.root / rec.path
    try:
        manifest: Any = read_manifest(directory).to_json()
    except ManifestError as exc:
        manifest = {"error": exc.message}
    record = rec.to_json()
    return {
        **{k: v for k, v in record.items() if k != "last_report"},
        "manifest": manifest,
        "gate1_report": _read_json(directory / GATE_REPORT_FILE),
        "gate2_report": record["last_report"],
        "trading_runs": trading_runs(store, rec.strategy_id),
    }


@click.command("show")
@click.argument("ident", metavar="ID")
def show(ident: str) -> None:
    """One strategy's lifecycle record (stage, moves with who and why, account), its manifest,
    gate 1's report, the last gate 2 report and its trading runs.

    ID is a strategy_id, a unique prefix of one, or a name.
    """
    home = Home.from_env()
    with open_event_store(home.state_db) as store:
        rec = Lifecycle(store).resolve(ident)
        emit(describe(home, store, rec))


@click.command("approve")
@click.argument("ident", metavar="ID")
@click.option("--account", required=True, help="the [trading.accounts.NAME] it trades on live")
@click.option("--reason", default="approved by a person", show_default=True, help="Recorded.")
def approve(ident: str, account: str, reason: str) -> None:
    """Approve a live candidate for live trading on account NAME; print its new record.

    Only a strategy at live_candidate (gate 2 passed) can be approved. Approval does not bypass
    live mode's opt-ins: an account in live mode still needs trading.live_enabled, its keys and
    the daemon's --live.
    """
    from rara.daemon.approval import account_fit
    from rara.trading.accounts import account_settings  # ccxt: only when approving

    home = Home.from_env()
    acct = account_settings(load_settings(home), account)  # an unknown name: bad input
    with open_event_store(home.state_db) as store:
        rec, _ = approve_live(
            store,
            Lifecycle(store),
            ident,
            account=account,
            reason=reason,
            by=cli_user(),
            source="cli",
            fits_account=account_fit(home, acct, account),
        )
        out = describe(home, store, rec)
    if acct.mode == "live":
        out["note"] = (
            f"account {account} is in live mode: approval does not bypass its opt-ins; it "
            "trades only with trading.live_enabled = true, its keys, and the daemon started "
            "with --live"
        )
    emit(out)


def _move_by_person(ident: str, to_stage: Stage, reason: str) -> None:
    home = Home.from_env()
    with open_event_store(home.state_db) as store:
        lifecycle = Lifecycle(store)
        rec = lifecycle.resolve(ident)
        move(
            store, lifecycle, rec.strategy_id, to_stage, reason=reason, by=cli_user(), source="cli"
        )
        emit(describe(home, store, rec))


@click.command("demote")
@click.argument("ident", metavar="ID")
@click.option(
    "--to",
    "to_stage",
    type=click.Choice(DEMOTE_TO),
    default="paper",
    show_default=True,
    help="the stage it goes back to",
)
@click.option("--reason", required=True, help="Why (recorded in the event).")
def demote(ident: str, to_stage: Stage, reason: str) -> None:
    """Move a strategy down a stage (live or live candidate to paper, paper to paper
    candidate); print its new record. Refused when that move is not allowed from its stage."""
    _move_by_person(ident, to_stage, reason)


@click.command("retire")
@click.argument("ident", metavar="ID")
@click.option("--reason", required=True, help="Why (recorded in the event).")
def retire(ident: str, reason: str) -> None:
    """Retire a strategy for good (it stops trading and is never deployed again); print its new
    record."""
    _move_by_person(ident, "retired", reason)


STAGE_CHOICE = click.Choice(STAGES)
