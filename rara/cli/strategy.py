"""`rara strategy`: the strategies a home can see (its promoted and installed ones, then those
shipped with rara: promoted by the gate, or examples)."""

from __future__ import annotations

import logging

import click

from rara.cli.output import emit_lines
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
def list_cmd(origins: tuple[str, ...]) -> None:
    """Every strategy found, one NDJSON line each: name, origin, path and manifest; a directory
    whose manifest (or, shipped as promoted, gate report) is missing or bad is skipped with a
    warning on stderr."""
    listing = Registry(Home.from_env()).listing(
        origins=[o for o in ORIGINS if o in origins or not origins]
    )
    for problem in listing.problems:
        log.warning("skipped %s (%s)", problem.message, problem.suggestion)
    emit_lines(
        # the directory's name last: it is what a user types, when two sources shared a name
        {**e.manifest.to_json(), "name": e.name, "origin": e.origin, "path": str(e.path)}
        for e in listing.strategies
    )
