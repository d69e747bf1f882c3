"""`rara validate`: what works on this machine, as JSON; non-zero only on real faults. The checks
are `rara.health`'s; this only prints them."""

from __future__ import annotations

import sys

import click

from rara.cli.output import emit
from rara.errors import EXIT_FAILURE
from rara.health import check_health
from rara.home import Home


@click.command("validate")
def command() -> None:
    """Report what works here: data, state DB, event chain, sandbox layers, LLM, Docker."""
    report = check_health(Home.from_env())
    emit(report.to_json())
    if not report.ok:
        sys.exit(EXIT_FAILURE)
