"""`rara validate`: what works on this machine, as JSON; non-zero only on real faults."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from rara import config
from rara.cli.output import emit
from rara.data.catalog import default_catalog
from rara.errors import EXIT_FAILURE, RaraError
from rara.llm.factory import needs_api_key
from rara.runner.capabilities import docker_engine, sandbox_layers

OK, MISSING, NOT_CONFIGURED, FAULT = "ok", "missing", "not_configured", "fault"


def _check(name: str, status: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "status": status, "detail": detail, **extra}


def _settings_checks() -> list[dict[str, Any]]:
    out = []
    try:
        settings = config.load_settings()
        out.append(
            _check(
                "config",
                OK,
                f"{config.config_path()} "
                + ("found" if config.config_path().exists() else "absent: defaults"),
            )
        )
    except RaraError as exc:
        return [_check("config", FAULT, exc.message, suggestion=exc.suggestion)]
    try:
        secrets = config.load_secrets()
    except RaraError as exc:
        out.append(_check("secrets", FAULT, exc.message, suggestion=exc.suggestion))
        return out
    model = settings.llm.model
    has_key = secrets.llm_api_key is not None or not needs_api_key(
        model or "", settings.llm.api_base
    )
    if model and has_key:
        out.append(_check("llm", OK, f"model {model}"))
    else:
        out.append(
            _check(
                "llm",
                NOT_CONFIGURED,
                "no LLM model/key: the built-in proposer is used"
                if not model
                else f"model {model} set but no RARA_LLM_API_KEY",
                suggestion="`rara config set llm.model openai/gpt-4o-mini` and export "
                "RARA_LLM_API_KEY to use an LLM proposer",
            )
        )
    return out


def _data_checks() -> list[dict[str, Any]]:
    cat = default_catalog()
    out = []
    try:
        instruments = cat.instruments()
    except RaraError as exc:
        return [_check("data", FAULT, exc.message, suggestion=exc.suggestion)]
    embedded = cat.embedded is not None
    out.append(
        _check(
            "data",
            OK if instruments else MISSING,
            f"{len(instruments)} instruments ("
            f"{'embedded sample present' if embedded else 'no embedded sample'})",
        )
    )
    for p in cat.problems():
        out.append(
            _check("data_file", FAULT, f"{p['path']}: {p['error']}", suggestion=p["suggestion"])
        )
    return out


def _state_checks() -> list[dict[str, Any]]:
    from rara.events.store import open_event_store

    db = config.rara_home() / "rara.db"
    if not db.exists():
        return [
            _check("state_db", OK, f"{db} not created yet (created on first event)"),
            _check("event_chain", OK, "no events yet"),
        ]
    try:
        store = open_event_store()
        health = store.health()
        report = store.verify()
    except RaraError as exc:
        return [_check("state_db", FAULT, exc.message, suggestion=exc.suggestion)]
    except Exception as exc:  # sqlite3.DatabaseError on a damaged file
        return [
            _check(
                "state_db",
                FAULT,
                f"{db}: {exc}",
                suggestion="restore from backup; `rara events verify` shows what is bad",
            )
        ]
    out = [_check("state_db", OK if health["ok"] else FAULT, health["detail"])]
    if report.ok:
        out.append(_check("event_chain", OK, f"{report.events_checked} events, chain intact"))
    else:
        out.append(
            _check(
                "event_chain",
                FAULT,
                f"broken at seq {report.first_bad_seq}: {report.reason}",
                suggestion="`rara events verify` for details; the log was edited",
            )
        )
    return out


def _home_check() -> dict[str, Any]:
    home = config.rara_home()
    probe: Path = home
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if os.access(probe, os.W_OK):
        return _check("rara_home", OK, f"{home} writable")
    return _check(
        "rara_home",
        FAULT,
        f"{home} is not writable",
        suggestion="set RARA_HOME to a writable directory",
    )


@click.command("validate")
def command() -> None:
    """Report what works here: data, state DB, event chain, sandbox layers, LLM, Docker."""
    checks = [_check("python", OK, sys.version.split()[0]), _home_check()]
    checks += _settings_checks()
    checks += _data_checks()
    checks += _state_checks()
    layers = sandbox_layers()
    for layer in layers:
        checks.append(
            _check(f"sandbox.{layer.name}", OK if layer.available else MISSING, layer.detail)
        )
    engine = docker_engine()
    checks.append(_check("docker", OK if engine.available else MISSING, engine.detail))
    faults = [c["name"] for c in checks if c["status"] == FAULT]
    emit(
        {"ok": not faults, "rara_home": str(config.rara_home()), "faults": faults, "checks": checks}
    )
    if faults:
        sys.exit(EXIT_FAILURE)
