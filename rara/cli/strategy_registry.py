"""`rara strategy fetch|installed|verify|remove|trust|keygen|publish`: strategies shared through a
signed registry (`rara.registry.remote`). `rara strategy list --registry [URL]` lists one
registry's index (`rara.cli.strategy`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from rara.cli.output import emit, emit_lines
from rara.cli.params import EXCHANGE, SYMBOL, TIMEFRAME
from rara.cli.strategy_lifecycle import cli_user
from rara.domain.market import Timeframe
from rara.errors import BadInput, Refused
from rara.home import Home
from rara.registry.remote.client import SHIPPED_INDEX, open_index
from rara.registry.remote.index import RegistryError
from rara.registry.remote.keys import TrustStore, keygen, load_private_key, load_public_key
from rara.registry.remote.lock import read_lock, verify_installed
from rara.registry.remote.transport import DEFAULT_TIMEOUT_S, RegistrySource

REGISTRY_HELP = "an http(s):// or file:// URL of the registry's folder, or a folder"


def index_rows(home: Home, registry: str, timeout_s: float) -> list[dict[str, Any]]:
    """`list --registry`: every version the verified index offers, newest index only."""
    verified = open_index(RegistrySource.of(registry, timeout_s), TrustStore(home), home=home)
    lock = read_lock(home)
    idx = verified.index
    rows = []
    for s in idx.strategies:
        held = lock.strategies.get(s.name)
        rows.append(
            {
                "name": s.name,
                "version": s.version,
                "stage": s.stage,
                "yanked": s.yanked,
                "api_version": s.api_version,
                "description": s.manifest.description,
                "instrument": s.manifest.instrument,
                "timeframe": s.manifest.timeframe,
                "params": s.manifest.params,
                "data_range": s.manifest.data_range,
                "files": [f.model_dump(mode="json") for f in s.files],
                "provenance": s.provenance.model_dump(mode="json"),
                "installed": held is not None and held.version == s.version,
                "registry": verified.source.base,
                "index_version": idx.version,
                "key_id": idx.key_id,
                "expires": idx.expires.isoformat(),
            }
        )
    return rows


@click.command("fetch")
@click.argument("ref", metavar="NAME[@VERSION]")
@click.option(
    "--registry",
    default=str(SHIPPED_INDEX),
    show_default="rara's shipped index",
    help=REGISTRY_HELP,
)
@click.option(
    "--no-gate", is_flag=True, help="skip gate 1: install at stage research, without trading rights"
)
@click.option("--allow-yanked", is_flag=True, help="install a version its publisher yanked")
@click.option(
    "--symbol", type=SYMBOL, default=None, help="judge on these candles (default: its manifest's)"
)
@click.option(
    "--timeframe", type=TIMEFRAME, default=None, help="with --symbol (default: its manifest's)"
)
@click.option(
    "--exchange", type=EXCHANGE, default=None, help="with --symbol (default: whichever holds it)"
)
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(0.1, 3600),
    default=DEFAULT_TIMEOUT_S,
    show_default=True,
    help="seconds for each download",
)
def fetch_cmd(
    ref: str,
    registry: str,
    no_gate: bool,
    allow_yanked: bool,
    symbol: str | None,
    timeframe: Timeframe | None,
    exchange: str | None,
    timeout_s: float,
) -> None:
    """Fetch a strategy from a signed registry, verify and vet it, and install it; print its
    lock entry.

    The index must be signed by a trusted key, unexpired and no older than the newest seen; every
    file must match its sha256. The strategy is then linted, run in the sandbox and judged by
    gate 1 on this home's candles (its manifest's instrument, or --symbol): only a pass installs
    it, at stage paper candidate. --no-gate installs at stage research, without trading rights.
    Any refusal exits 3 and installs nothing.
    """
    from rara.events import open_event_store
    from rara.feedback.lifecycle import Lifecycle
    from rara.registry.remote.install import FetchRequest
    from rara.registry.remote.vet import Market
    from rara.services.vetting import fetch_vetted

    request = FetchRequest.parse(
        ref,
        registry,
        gate=not no_gate,
        allow_yanked=allow_yanked,
        market=Market(symbol, None if timeframe is None else str(timeframe), exchange),
        timeout_s=timeout_s,
    )
    home = Home.from_env()
    out = fetch_vetted(home, request)
    with open_event_store(home.state_db, readonly=True) as store:
        rec = Lifecycle(store).get(out["strategy_id"])
    out["lifecycle_stage"] = rec.stage if rec else None
    if rec is not None and rec.stage != out["stage"]:
        out["note"] = f"the lifecycle knew {rec.strategy_id} already: it stays at {rec.stage}"
    emit(out)


@click.command("installed")
def installed_cmd() -> None:
    """The strategies installed from registries (strategies.lock), one NDJSON line each, with
    whether their files still match the lock."""
    from rara.registry.remote.install import installed

    emit_lines(installed(Home.from_env()))


@click.command("verify")
@click.argument("names", nargs=-1)
def verify_cmd(names: tuple[str, ...]) -> None:
    """Re-hash the installed strategies' files (all, or NAMES) against strategies.lock; exit 3
    when any file changed, went missing or appeared."""
    home = Home.from_env()
    lock = read_lock(home)
    unknown = [n for n in names if n not in lock.strategies]
    if unknown:
        raise BadInput(
            "registry_not_installed",
            f"not installed from a registry: {', '.join(unknown)}",
            f"installed: {', '.join(sorted(lock.strategies)) or 'none'}",
        )
    checked = [e for n, e in sorted(lock.strategies.items()) if not names or n in names]
    problems = [p.model_dump() for e in checked for p in verify_installed(home, e)]
    body = {"checked": [e.name for e in checked], "problems": problems}
    if problems:
        err = Refused(
            "registry_verify_failed",
            f"{len(problems)} installed file(s) differ from strategies.lock",
            "`rara strategy remove NAME` and fetch it again; do not trade it as it is",
        )
        emit({**err.to_dict(), **body})
        raise SystemExit(err.exit_code)
    emit({**body, "ok": True})


@click.command("remove")
@click.argument("name")
@click.option("--reason", default="removed by a person", show_default=True, help="Recorded.")
def remove_cmd(name: str, reason: str) -> None:
    """Remove an installed strategy: its directory and lock entry; the lifecycle retires it."""
    from rara.events import open_event_store
    from rara.feedback.lifecycle import Lifecycle, move
    from rara.registry.remote.client import SOURCE
    from rara.registry.remote.install import remove

    home = Home.from_env()
    entry = remove(home, name)
    retired = False
    with open_event_store(home.state_db) as store:
        lifecycle = Lifecycle(store)
        rec = lifecycle.get(entry.strategy_id)
        # only the record this install made (a home's own promotion of the same code stays)
        if rec is not None and rec.stage != "retired" and rec.path == entry.path:
            move(
                store,
                lifecycle,
                rec.strategy_id,
                "retired",
                reason=reason,
                by=cli_user(),
                source=SOURCE,
            )
            retired = True
    emit({"removed": name, "version": entry.version, "path": entry.path, "retired": retired})


@click.command("trust")
@click.argument("keyfile", type=click.Path(dir_okay=False, path_type=Path))
def trust_cmd(keyfile: Path) -> None:
    """Trust a registry's public key (KEYFILE, a .pub from `rara strategy keygen`); print its
    id and fingerprint, to compare with the publisher's."""
    key = load_public_key(keyfile)
    path = TrustStore(Home.from_env()).trust(key)
    emit({"key_id": key.key_id, "fingerprint": key.fingerprint, "path": str(path)})


@click.command("keygen")
@click.argument("keyfile", type=click.Path(dir_okay=False, path_type=Path))
def keygen_cmd(keyfile: Path) -> None:
    """Make a registry signing key: KEYFILE (private, mode 0600) and KEYFILE.pub (to give to
    those who trust it); print its id and fingerprint."""
    key = keygen(keyfile)
    emit(
        {
            "key_id": key.key_id,
            "fingerprint": key.fingerprint,
            "private_key": str(keyfile),
            "public_key": str(keyfile) + ".pub",
        }
    )


@click.command("publish")
@click.argument("names", nargs=-1, required=True)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="the registry's folder (written, or added to)",
)
@click.option(
    "--key",
    "keyfile",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="the signing key (mode 0600)",
)
@click.option(
    "--expires-days",
    type=click.FloatRange(0.01, 3650),
    default=90.0,
    show_default=True,
    help="the index expires this long after now",
)
@click.option("--yank", multiple=True, metavar="NAME@VERSION", help="mark a version yanked")
def publish_cmd(
    names: tuple[str, ...], out: Path, keyfile: Path, expires_days: float, yank: tuple[str, ...]
) -> None:
    """Publish strategies (their promoted directory, gate report and lineage from the event log)
    into a static registry folder and sign its index; print the index's metadata."""
    from rara.events import open_event_store
    from rara.registry import Registry
    from rara.registry.remote.publish import package, write_tree

    home = Home.from_env()
    key = load_private_key(keyfile)
    registry = Registry(home)
    entries = []
    for name in names:
        entry = registry.get(name)
        if entry is None:
            raise BadInput(
                "strategy_not_found",
                f"{name!r} is no strategy with a manifest",
                "`rara strategy list` shows them",
            )
        entries.append(entry)
    store = open_event_store(home.state_db, readonly=True) if home.state_db.exists() else None
    try:
        items = [package(e, store) for e in entries]
    finally:
        if store is not None:
            store.close()
    index = write_tree(out, items, key, expires_days=expires_days, yank=yank)
    emit(
        {
            "out": str(out),
            "index_version": index.version,
            "key_id": index.key_id,
            "expires": index.expires.isoformat(),
            "strategies": [f"{s.ref}{' (yanked)' if s.yanked else ''}" for s in index.strategies],
        }
    )


__all__ = ["RegistryError", "index_rows"]
