"""Vetting a fetched strategy the way rara vets one it wrote itself: the lint layer here, then a
run in the sandbox and gate 1 on this home's own candles through the `Judge` port, which
`rara.services.vetting` fills with the same evaluation, gate, trial records and
``validation_gate_decided`` event as `rara backtest gate` (the registry sits below the
services, so it is handed the gate rather than importing it). A strategy the lint layer or the
sandbox refuses, or the gate rejects, is refused with the reason, and nothing is installed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rara.domain.gate import GateReport
from rara.registry.manifest import Manifest
from rara.registry.remote.index import RegistryError
from rara_sandbox.lint import lint


@dataclass(frozen=True)
class Market:
    """The market gate 1 judges on: the manifest's instrument unless overridden."""

    symbol: str | None = None
    timeframe: str | None = None
    exchange: str | None = None

    def resolve(self, manifest: Manifest) -> tuple[str, str, str | None]:
        exchange, symbol, timeframe = (
            manifest.instrument.split(":") if manifest.instrument else (None, None, None)
        )
        if manifest.instrument and (
            (self.symbol and self.symbol != symbol)
            or (self.timeframe and self.timeframe != timeframe)
            or (self.exchange and self.exchange != exchange)
        ):
            # the daemon trades the manifest's market: a pass elsewhere would not vouch for it
            raise RegistryError(
                "registry_market_mismatch",
                f"{manifest.name} trades {manifest.instrument}; gate 1 must judge it there",
                "drop --symbol/--timeframe/--exchange (they choose a market only for a "
                "manifest that names none), or use --no-gate",
            )
        symbol = self.symbol or symbol
        timeframe = self.timeframe or timeframe or manifest.timeframe
        if symbol is None:
            raise RegistryError(
                "registry_no_market",
                f"{manifest.name} names no instrument to judge it on",
                "pass --symbol (and --timeframe) of candles this home holds, or --no-gate",
            )
        return symbol, timeframe, self.exchange or exchange


def lint_or_refuse(name: str, source: str) -> None:
    report = lint(source)
    if not report.ok:
        raise RegistryError(
            "registry_lint_failed",
            f"{name}: the lint layer refuses it:\n{report.summary()}",
            "nothing was installed; tell the registry's publisher",
        )


# gate 1 on this home's data for the strategy file at the path, its manifest and market: the
# passing report, or a `RegistryError` (sandbox refused, gate rejected)
Judge = Callable[[Path, Manifest, Market], GateReport]
