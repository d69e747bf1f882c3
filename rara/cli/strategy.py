"""`rara strategy list`: the strategies a home can see (its promoted and installed ones, then those
shipped with rara: promoted by the gate, or examples), each with its lifecycle stage where the
event log knows it. The lifecycle's commands (show, approve, demote, retire) are in
`rara.cli.strategy_lifecycle`."""

from __future__ import annotations

import logging

import click

from rara.cli.output import emit_lines
from rara.cli.strategy_lifecycle import STAGE_CHOICE, entry_strategy_id
from rara.domain.lifecycle import Stage
from rara.events import open_event_store
from rara.feedback.lifecycle import Lifecycle, StrategyRecord
from rara.home import Home
from rara.registry import ORIGINS, Registry

log = logging.getLogger(__name__)


@click.command("list")
@click.option(
    "--origin",
    "origins",
    type=click.Choice(ORIGINS),
    multiple=True,
    help="only these roots (repeatable): promoted, installed, shipped (promoted, shipped with "
    "rara) or example",
)
@click.option(
    "--stage",
    "stages",
    type=STAGE_CHOICE,
    multiple=True,
    help="instead, the lifecycle's strategies at these stages (repeatable)",
)
@click.option(
    "--registry",
    "registry",
    is_flag=False,
    flag_value="shipped",
    default=None,
    metavar="[URL]",
    help="instead, the strategies a signed registry's index offers (alone: rara's shipped "
    "index, read offline)",
)
def list_cmd(origins: tuple[str, ...], stages: tuple[Stage, ...], registry: str | None) -> None:
    """Every strategy found, one NDJSON line each: name, origin, path and manifest; a directory
    whose manifest (or, shipped as promoted, gate report) is missing or bad is skipped with a
    warning on stderr.

    Each line carries the strategy's strategy_id and its stage: the lifecycle's where it knows
    the strategy (in_lifecycle), else the one its manifest was written at (null: none). With
    --stage, the lifecycle's strategies at those stages instead (strategy_id, name, stage, path,
    account), in the order they entered. With --registry [URL], every version a signed
    registry's index offers (verified: a trusted key, unexpired, not rolled back), and whether
    it is installed; --registry alone reads rara's shipped index, with no network.
    """
    home = Home.from_env()
    if registry is not None:
        from rara.cli.strategy_registry import index_rows
        from rara.registry.remote.client import SHIPPED_INDEX

        where = str(SHIPPED_INDEX) if registry == "shipped" else registry
        emit_lines(index_rows(home, where, timeout_s=30.0))
        return
    records = _lifecycle_records(home)
    if stages:
        emit_lines(
            {k: v for k, v in r.to_json().items() if k not in ("history", "last_report")}
            for r in records.values()
            if r.stage in stages
        )
        return
    listing = Registry(home).listing(origins=[o for o in ORIGINS if o in origins or not origins])
    for problem in listing.problems:
        log.warning("skipped %s (%s)", problem.message, problem.suggestion)
    rows = []
    for e in listing.strategies:
        sid = entry_strategy_id(e)
        rec = records.get(sid) if sid else None
        rows.append(
            # the directory's name last: it is what a user types, when two sources shared a name
            {
                **e.manifest.to_json(),
                "strategy_id": sid,
                # the lifecycle's stage where it knows the strategy, else the manifest's
                "stage": rec.stage if rec else e.manifest.stage,
                "in_lifecycle": rec is not None,
                "name": e.name,
                "origin": e.origin,
                "path": str(e.path),
            }
        )
    emit_lines(rows)


def _lifecycle_records(home: Home) -> dict[str, StrategyRecord]:
    """The lifecycle's strategies by id, read without creating a state DB on a fresh home."""
    if not home.state_db.exists():
        return {}
    with open_event_store(home.state_db, readonly=True) as store:
        return {r.strategy_id: r for r in Lifecycle(store).strategies()}
