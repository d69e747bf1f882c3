"""`rara strategy`: promoted strategies (shipped and your own)."""

from __future__ import annotations

import click


@click.group("strategy")
def group() -> None:
    """Promoted strategies: $RARA_HOME/strategies/promoted, then the ones shipped with rara."""
