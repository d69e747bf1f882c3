"""`rara sentinel test FEED_OR_TEXT`: what the sentinel would raise, as JSON, writing nothing."""

from __future__ import annotations

import click

from rara import config
from rara.cli.output import emit
from rara.errors import BadInput
from rara.home import Home


@click.command("test")
@click.argument("feed_or_text")
def test_cmd(feed_or_text: str) -> None:
    """Poll a feed (URL or file) once, or classify a text; print the signals it would raise.

    A dry run: nothing is recorded and no lock is set. Each signal says its severity, symbol,
    who classified it (rules or the LLM) and the lock a critical one would set.
    """
    from rara.sentinel.dry_run import test_input

    if not feed_or_text.strip():
        raise BadInput("empty_input", "nothing to test", "pass a feed URL, a file or a headline")
    home = Home.from_env()
    emit(test_input(home, config.load_settings(home), feed_or_text))
