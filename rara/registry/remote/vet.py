"""Vetting a fetched strategy the way rara vets one it wrote itself: the lint layer, then a run
in the sandbox and gate 1 on this home's own candles (`rara.services.backtest.gate_strategy`:
the same evaluation, gate, trial records and ``validation_gate_decided`` event as
`rara backtest gate`). A strategy the sandbox refuses, or the gate rejects, is refused here with
the reason, and nothing is installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rara.domain.gate import GateReport
from rara.home import Home
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


def gate_or_refuse(home: Home, source_path: Path, manifest: Manifest, market: Market) -> GateReport:
    """Gate 1's verdict on the strategy at `source_path`, on this home's candles; refused
    (`RegistryError`) when the sandbox stopped it or the gate rejected it."""
    from rara.services.backtest import StrategyOnMarket, gate_strategy

    symbol, timeframe, exchange = market.resolve(manifest)
    on_market = StrategyOnMarket.open(
        str(source_path),
        home=home,
        symbol=symbol,
        timeframe=timeframe,
        exchange=exchange,
        params=dict(manifest.params),
    )
    report = gate_strategy(on_market)
    sandbox = report.check("sandbox")
    if sandbox is not None and not sandbox.passed:
        raise RegistryError(
            "registry_sandbox_refused",
            f"{manifest.name}: the sandbox stopped it ({sandbox.value}: {sandbox.detail})",
            "nothing was installed; tell the registry's publisher",
        )
    if not report.passed:
        raise RegistryError(
            "registry_gate_rejected",
            f"gate 1 on this home's data rejects it: {report.summary()}",
            "nothing was installed; --no-gate installs it at stage research, without trading "
            "rights",
        )
    return report
