"""What works on this machine, for one home: the checks behind `rara validate`, as typed results
the CLI prints and the daemon and the gRPC server can serve.

Typical use::

    report = check_health(Home.from_env())
    report.ok, report.faults                 # False, ["state_db"]
    for check in report.checks:
        check.name, check.status, check.detail, check.suggestion

A check's status is ``ok``, ``missing`` (an optional part is absent: Docker, a sandbox layer),
``not_configured`` (works, but a feature is off) or ``fault`` (something is broken). Only faults
make the report fail.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from rara.config import load_settings
from rara.credentials import LLM_KEY_ENV, load_secrets
from rara.data.catalog import Catalog
from rara.errors import RaraError
from rara.home import Home
from rara.llm.factory import needs_api_key
from rara.runner.capabilities import docker_engine, sandbox_layers

Status = Literal["ok", "missing", "not_configured", "fault"]


class HealthCheck(BaseModel):
    """One check's result."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    status: Status
    detail: str
    suggestion: str | None = None  # what to do about it, when there is something to do

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def fault(self) -> bool:
        return self.status == "fault"

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class HealthReport(BaseModel):
    """Every check for one home, in the order they ran."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    home: Path
    checks: tuple[HealthCheck, ...]

    @property
    def faults(self) -> list[str]:
        return [c.name for c in self.checks if c.fault]

    @property
    def ok(self) -> bool:
        return not self.faults

    def to_json(self) -> dict[str, Any]:
        """The document `rara validate` prints."""
        return {
            "ok": self.ok,
            "rara_home": str(self.home),
            "faults": self.faults,
            "checks": [c.to_json() for c in self.checks],
        }


def python_check() -> HealthCheck:
    return HealthCheck(name="python", status="ok", detail=sys.version.split()[0])


def home_check(home: Home) -> HealthCheck:
    """Writable, or creatable: the nearest existing ancestor decides."""
    probe = home.root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if os.access(probe, os.W_OK):
        return HealthCheck(name="rara_home", status="ok", detail=f"{home.root} writable")
    return HealthCheck(
        name="rara_home",
        status="fault",
        detail=f"{home.root} is not writable",
        suggestion="set RARA_HOME to a writable directory",
    )


def settings_checks(home: Home) -> list[HealthCheck]:
    """`home`'s settings and secrets as `rara.config` loads them, and whether an LLM is usable."""
    path = home.config_file
    try:
        settings = load_settings(home)
    except RaraError as exc:
        return [_from_error("config", exc)]
    out = [
        HealthCheck(
            name="config",
            status="ok",
            detail=f"{path} " + ("found" if path.exists() else "absent: defaults"),
        )
    ]
    try:
        secrets = load_secrets(home)
    except RaraError as exc:
        return [*out, _from_error("secrets", exc)]
    model = settings.llm.model
    has_key = secrets.llm_api_key is not None or not needs_api_key(
        model or "", settings.llm.api_base
    )
    if model and has_key:
        return [*out, HealthCheck(name="llm", status="ok", detail=f"model {model}")]
    return [
        *out,
        HealthCheck(
            name="llm",
            status="not_configured",
            detail="no LLM model/key: the built-in proposer is used"
            if not model
            else f"model {model} set but no {LLM_KEY_ENV}",
            suggestion="`rara config set llm.model openai/gpt-4o-mini` and export "
            f"{LLM_KEY_ENV} to use an LLM proposer",
        ),
    ]


def account_checks(home: Home) -> list[HealthCheck]:
    """One check per venue account (``account.NAME``): exchange, mode, keys present, live
    opt-ins and the dead man's switch it will use; none when no account is configured. Offline.
    A settings or secrets error is left to `settings_checks`, which reports it."""
    try:
        settings = load_settings(home)
        if not settings.trading.accounts:
            return []
        secrets = load_secrets(home)
    except RaraError:
        return []
    from rara.trading.accounts import account_modes  # ccxt: only when there are accounts

    out = []
    for m in account_modes(settings, secrets):
        detail = (
            f"{m.exchange} {m.mode}, keys {'present' if m.keys_present else 'absent'}, "
            f"dead man's switch: {m.deadman or 'unavailable'}"
        )
        if m.problems:
            status: Status = "fault"
            detail += "; " + "; ".join(m.problems)
            suggestion = "fix [trading.accounts." + m.account + "] (`rara accounts` shows it)"
        elif not m.keys_present:
            status, suggestion = (
                "not_configured",
                f"set RARA_{m.exchange.upper()}_API_KEY and _SECRET",
            )
        elif m.mode == "live" and not m.live_ready:
            status, suggestion = "not_configured", "live mode needs trading.live_enabled = true"
        else:
            status, suggestion = "ok", None
        if m.mode == "live":
            detail += ", live " + ("opted in (needs --live)" if m.live_ready else "not opted in")
        out.append(
            HealthCheck(
                name=f"account.{m.account}", status=status, detail=detail, suggestion=suggestion
            )
        )
    return out


def data_checks(catalog: Catalog) -> list[HealthCheck]:
    """Which instruments are stored, and every file the catalog cannot read."""
    try:
        instruments = catalog.instruments()
    except RaraError as exc:
        return [_from_error("data", exc)]
    sample = "embedded sample present" if catalog.embedded is not None else "no embedded sample"
    out = [
        HealthCheck(
            name="data",
            status="ok" if instruments else "missing",
            detail=f"{len(instruments)} instruments ({sample})",
        )
    ]
    for p in catalog.problems():
        out.append(
            HealthCheck(
                name="data_file",
                status="fault",
                detail=f"{p['path']}: {p['error']}",
                suggestion=p["suggestion"],
            )
        )
    return out


def state_checks(db: Path) -> list[HealthCheck]:
    """The state database opens in WAL mode and the event log's hash chain is intact."""
    from rara.events.store import open_event_store

    if not db.exists():
        return [
            HealthCheck(
                name="state_db",
                status="ok",
                detail=f"{db} not created yet (created on first event)",
            ),
            HealthCheck(name="event_chain", status="ok", detail="no events yet"),
        ]
    try:
        with open_event_store(db) as store:
            health = store.health()
            report = store.verify()
    except RaraError as exc:
        return [_from_error("state_db", exc)]
    except Exception as exc:  # sqlite3.DatabaseError on a damaged file: a fault, never a crash
        return [
            HealthCheck(
                name="state_db",
                status="fault",
                detail=f"{db}: {exc}",
                suggestion="restore from backup; `rara events verify` shows what is bad",
            )
        ]
    out = [
        HealthCheck(
            name="state_db", status="ok" if health["ok"] else "fault", detail=health["detail"]
        )
    ]
    if report.ok:
        chain = HealthCheck(
            name="event_chain",
            status="ok",
            detail=f"{report.events_checked} events, chain intact",
        )
    else:
        chain = HealthCheck(
            name="event_chain",
            status="fault",
            detail=f"broken at seq {report.first_bad_seq}: {report.reason}",
            suggestion="`rara events verify` for details; the log was edited",
        )
    return [*out, chain]


def sandbox_checks() -> list[HealthCheck]:
    """Every sandbox layer as it really engages here, then whether a Docker engine answers."""
    out = [
        HealthCheck(
            name=f"sandbox.{layer.name}",
            status="ok" if layer.available else "missing",
            detail=layer.detail,
        )
        for layer in sandbox_layers()
    ]
    engine = docker_engine()
    return [
        *out,
        HealthCheck(
            name="docker", status="ok" if engine.available else "missing", detail=engine.detail
        ),
    ]


def check_health(home: Home) -> HealthReport:
    """Every check, in the order `rara validate` has always listed them."""
    checks = [python_check(), home_check(home)]
    checks += settings_checks(home)
    checks += account_checks(home)
    checks += data_checks(Catalog(home.data_dir))
    checks += state_checks(home.state_db)
    checks += sandbox_checks()
    return HealthReport(home=home.root, checks=tuple(checks))


def _from_error(name: str, exc: RaraError) -> HealthCheck:
    return HealthCheck(name=name, status="fault", detail=exc.message, suggestion=exc.suggestion)
