"""Gate 1 for a strategy fetched from a registry: the `Judge` that
`rara.registry.remote.install.fetch` is handed, built on `gate_strategy` (the sandbox run, the
research gate, its trial records and its ``validation_gate_decided`` event, as for
`rara backtest gate`), on this home's own candles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rara.domain.gate import GateReport
from rara.home import Home
from rara.registry.manifest import Manifest
from rara.registry.remote.index import RegistryError
from rara.registry.remote.install import FetchRequest, fetch
from rara.registry.remote.vet import Judge, Market
from rara.services.backtest import StrategyOnMarket, gate_strategy


def judge_on(home: Home) -> Judge:
    """The judge of fetched strategies on `home`'s candles and gate settings."""

    def judge(source_path: Path, manifest: Manifest, market: Market) -> GateReport:
        return gate_or_refuse(home, source_path, manifest, market)

    return judge


def fetch_vetted(home: Home, request: FetchRequest) -> dict[str, Any]:
    """`fetch` with gate 1 on `home` (when the request asks for it)."""
    return fetch(home, request, judge_on(home))


def gate_or_refuse(home: Home, source_path: Path, manifest: Manifest, market: Market) -> GateReport:
    """Gate 1's verdict on the strategy at `source_path`, on this home's candles; refused
    (`RegistryError`) when the sandbox stopped it or the gate rejected it."""
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
