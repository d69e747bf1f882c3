"""Venue accounts without the network: live mode's three opt-ins (each refusal names what is
missing), testnet's keys, the account modes `rara validate` and `rara accounts` show, and a
canary key that never appears in their output."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from rara.config import load_settings
from rara.credentials import load_secrets
from rara.errors import BadInput, Refused
from rara.home import Home
from rara.trading.accounts import account_modes, open_account_venue
from tests.kit.cli import CliResult

CANARY_KEY = "canaryKEY0123456789abcdefCANARY"
CANARY_SECRET = "canarySECRET9876543210fedcbaCANARY"


def configure(home: Path, body: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(body)


def with_keys(monkeypatch: pytest.MonkeyPatch, exchange: str = "binance") -> None:
    monkeypatch.setenv(f"RARA_{exchange.upper()}_API_KEY", CANARY_KEY)
    monkeypatch.setenv(f"RARA_{exchange.upper()}_SECRET", CANARY_SECRET)


LIVE = """
[trading]
live_enabled = {enabled}
[trading.accounts.main]
exchange = "binance"
mode = "live"
"""


@pytest.mark.parametrize(
    ("enabled", "keys", "flag", "missing"),
    [
        (False, True, True, ["trading.live_enabled"]),
        (True, False, True, ["keys"]),
        (True, True, False, ["--live"]),
        (False, False, False, ["trading.live_enabled", "keys", "--live"]),
    ],
)
def test_live_needs_all_three_opt_ins(
    rara_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    enabled: bool,
    keys: bool,
    flag: bool,
    missing: list[str],
) -> None:
    configure(rara_home, LIVE.format(enabled=str(enabled).lower()))
    if keys:
        with_keys(monkeypatch)
    home = Home.from_env()
    with pytest.raises(Refused) as err:
        open_account_venue(home, load_settings(home), "main", live_flag=flag)
    assert err.value.code == "live_not_opted_in"
    named = err.value.message.split("missing: ")[1].split(", ")
    assert named == missing
    assert CANARY_KEY not in str(err.value.to_dict())


def test_live_with_every_opt_in_opens_a_live_venue(
    rara_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(rara_home, LIVE.format(enabled="true"))
    with_keys(monkeypatch)
    home = Home.from_env()
    venue = open_account_venue(home, load_settings(home), "main", live_flag=True)
    try:
        assert venue.mode == "live" and venue.account == "main" and venue.exchange == "binance"
        assert not venue.supports_cancel_after  # binance spot: the watchdog's job
        assert not hasattr(venue, "cancel_all_after")
    finally:
        venue.close()


TESTNET = """
[trading.accounts.demo]
exchange = "binance"
"""


def test_testnet_needs_its_keys_and_refuses_live_flag(
    rara_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(rara_home, TESTNET)
    home = Home.from_env()
    with pytest.raises(Refused) as err:
        open_account_venue(home, load_settings(home), "demo", live_flag=False)
    assert err.value.code == "exchange_keys_missing"
    assert "RARA_BINANCE_API_KEY" in err.value.suggestion
    with_keys(monkeypatch)
    with pytest.raises(BadInput) as bad:
        open_account_venue(home, load_settings(home), "demo", live_flag=True)
    assert bad.value.code == "live_flag_on_testnet"
    with pytest.raises(BadInput) as unknown:
        open_account_venue(home, load_settings(home), "dmeo", live_flag=False)
    assert unknown.value.code == "unknown_account" and "'demo'" in unknown.value.suggestion


MANY = """
[trading]
live_enabled = true
[trading.accounts.spot]
exchange = "binance"
[trading.accounts.futures]
exchange = "bybit"
mode = "live"
[trading.accounts.krak]
exchange = "kraken"
[trading.accounts.typo]
exchange = "binanse"
"""


def test_account_modes_are_offline_and_name_the_switch(
    rara_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(rara_home, MANY)
    with_keys(monkeypatch)
    home = Home.from_env()
    modes = {m.account: m for m in account_modes(load_settings(home), load_secrets(home))}
    assert list(modes) == ["futures", "krak", "spot", "typo"]
    assert modes["spot"].deadman == "watchdog" and modes["spot"].keys_present
    assert modes["spot"].mode == "testnet" and not modes["spot"].live_ready
    assert modes["futures"].deadman == "exchange+watchdog"  # bybit
    assert not modes["futures"].keys_present
    assert modes["futures"].live_opt_ins == {"trading.live_enabled": True, "keys": False}
    assert modes["krak"].problems == ["kraken has no testnet in ccxt"]
    assert modes["typo"].problems and "binanse" in modes["typo"].problems[0]


def test_validate_and_accounts_show_each_mode_never_a_key(
    rara_home: Path, cli: Callable[..., CliResult]
) -> None:
    configure(rara_home, MANY)
    env = {"RARA_BINANCE_API_KEY": CANARY_KEY, "RARA_BINANCE_SECRET": CANARY_SECRET}
    validate = cli("validate", env=env)
    accounts = cli("accounts", env=env)
    for out in (validate, accounts):
        assert CANARY_KEY not in out.stdout + out.stderr
        assert CANARY_SECRET not in out.stdout + out.stderr
    checks = {c["name"]: c for c in json.loads(validate.stdout)["checks"]}
    assert checks["account.spot"]["status"] == "ok"
    assert "binance testnet" in checks["account.spot"]["detail"]
    assert "watchdog" in checks["account.spot"]["detail"]
    assert checks["account.futures"]["status"] == "not_configured"
    assert "bybit live" in checks["account.futures"]["detail"]
    assert checks["account.krak"]["status"] == checks["account.typo"]["status"] == "fault"
    doc = json.loads(accounts.stdout)
    assert accounts.code == 0 and doc["live_enabled"] is True
    rows = {r["account"]: r for r in doc["accounts"]}
    assert rows["futures"]["deadman"] == "exchange+watchdog"  # bybit: DCP counts from a websocket
    assert rows["spot"]["deadman"] == "watchdog"
    assert rows["spot"]["keys_present"] is True and "balances" not in rows["spot"]


def test_accounts_with_balances_asks_the_venue_and_shows_the_last_reconciliation(
    rara_home: Path, cli: Callable[..., CliResult]
) -> None:
    from decimal import Decimal

    from rara.domain.events import TradingReconciled
    from rara.events import open_event_store
    from tests.emulators.exchange import BinanceEmulator

    with BinanceEmulator(api_keys={CANARY_KEY: CANARY_SECRET}) as emu:
        emu.fund(CANARY_KEY, "USDT", "1234.5")
        configure(
            rara_home,
            f"""
[data.url_overrides.binance]
public = "{emu.api_url}"
private = "{emu.api_url}"
[trading.accounts.demo]
exchange = "binance"
symbols = ["BTC/USDT"]
[trading.accounts.other]
exchange = "binance"
mode = "live"
""",
        )
        with open_event_store(Home.from_env().state_db) as store:
            for n in (1, 2):
                store.append(
                    TradingReconciled(
                        account="testnet:demo", exchange="binance", mode="testnet",
                        trigger="periodic",
                        ok=True, open_orders_journal=0, open_orders_venue=n, fills_booked=0,
                        orders_resolved=0, balances={"USDT": Decimal("1234.5")},
                    ),
                    source="test",
                )  # fmt: skip
        env = {"RARA_BINANCE_API_KEY": CANARY_KEY, "RARA_BINANCE_SECRET": CANARY_SECRET}
        out = cli("accounts", "--balances", env=env)
    assert out.code == 0, out.stderr
    assert CANARY_KEY not in out.stdout + out.stderr
    assert CANARY_SECRET not in out.stdout + out.stderr
    rows = {r["account"]: r for r in out.json["accounts"]}
    assert rows["demo"]["balances"]["USDT"] == {"free": "1234.5", "used": "0", "total": "1234.5"}
    assert rows["demo"]["last_reconciliation"]["open_orders_venue"] == 2  # the newest
    assert rows["other"]["balances"] is None and "--live" in rows["other"]["balances_error"]
    assert rows["other"]["last_reconciliation"] is None
