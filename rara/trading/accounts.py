"""Venue accounts (``[trading.accounts.NAME]``): opening one's `CcxtVenue`, and what each is set
to, for `rara validate` and `rara accounts`.

Live mode needs three opt-ins, all of them, every time: ``trading.live_enabled = true`` in the
config, the exchange's keys (from the environment or the 0600 secrets file), and ``--live`` on
the command line. A refusal names every one that is missing. Testnet needs its keys too (the
testnet's own). Nothing here sends a request: `account_modes` is offline, and a venue is only
opened, never asked anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rara.config import Settings
from rara.credentials import Secrets, load_secrets
from rara.domain.orders import Balance
from rara.errors import BadInput, RaraError, Refused, nearest
from rara.home import Home
from rara.trading.venues.ccxt import (
    CcxtVenue,
    exchange_has,
    has_testnet,
    keys_hint,
    keys_present,
)
from rara.trading.venues.ccxt_dialect import dialect_of
from rara.trading.watchdog import VenueSpec
from rara.trading_settings import AccountSettings

DeadmanMethod = Literal["exchange", "watchdog", "exchange+watchdog", "off"]
LIVE_OPT_INS = ("trading.live_enabled", "keys", "--live")


class AccountMode(BaseModel):
    """One account as configured: which exchange, which mode, whether it can open (keys, live
    opt-ins) and which dead man's switch it will use. Never the keys themselves."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account: str
    exchange: str
    mode: Literal["testnet", "live"]
    keys_present: bool
    live_opt_ins: dict[str, bool] = Field(
        description="live mode's opt-ins that config and secrets can show (--live is per run)"
    )
    live_ready: bool = Field(description="live mode with live_enabled and keys: needs --live")
    deadman: DeadmanMethod | None = Field(description="None: the setting cannot be honoured")
    problems: list[str] = Field(default_factory=list)


def deadman_method(settings: AccountSettings) -> tuple[DeadmanMethod | None, str | None]:
    """The dead man's switch the account will use (``auto``: the exchange's cancel-all-after
    where ccxt has it, with the watchdog beside it where that switch may not count from rara's
    REST re-arms (bybit), else rara's watchdog), or None and why it cannot be honoured."""
    has_it = exchange_has(settings.exchange, "cancelAllOrdersAfter")
    if settings.deadman == "auto":
        if has_it and dialect_of(settings.exchange).switch_needs_stream:
            return "exchange+watchdog", None
        return ("exchange" if has_it else "watchdog"), None
    if settings.deadman == "exchange" and not has_it:
        return None, f"deadman = exchange, but {settings.exchange} has no cancel-all-after in ccxt"
    if settings.deadman == "off" and settings.mode == "live":
        return None, "deadman = off is allowed on testnet only"
    return settings.deadman, None


def account_mode(name: str, settings: Settings, secrets: Secrets) -> AccountMode:
    """`name`'s `AccountMode` (offline)."""
    acct = settings.trading.accounts[name]
    problems: list[str] = []
    try:
        exchange_has(acct.exchange, "cancelAllOrdersAfter")
    except RaraError as exc:  # an unknown exchange id
        return AccountMode(
            account=name, exchange=acct.exchange, mode=acct.mode, keys_present=False,
            live_opt_ins={}, live_ready=False, deadman=None, problems=[exc.message],
        )  # fmt: skip
    keys = keys_present(acct.exchange, secrets)
    method, why = deadman_method(acct)
    if why:
        problems.append(why)
    if acct.mode == "testnet" and not has_testnet(acct.exchange):
        problems.append(f"{acct.exchange} has no testnet in ccxt")
    opt_ins = {"trading.live_enabled": settings.trading.live_enabled, "keys": keys}
    return AccountMode(
        account=name,
        exchange=acct.exchange,
        mode=acct.mode,
        keys_present=keys,
        live_opt_ins=opt_ins,
        live_ready=acct.mode == "live" and all(opt_ins.values()),
        deadman=method,
        problems=problems,
    )


def account_modes(settings: Settings, secrets: Secrets) -> list[AccountMode]:
    """Every configured account's `AccountMode`, by name (offline)."""
    return [account_mode(n, settings, secrets) for n in sorted(settings.trading.accounts)]


def account_settings(settings: Settings, name: str) -> AccountSettings:
    """``[trading.accounts.NAME]``, or a BadInput naming the accounts there are."""
    accounts = settings.trading.accounts
    if name not in accounts:
        guess = nearest(name, list(accounts))
        raise BadInput(
            "unknown_account",
            f"no account {name!r} in [trading.accounts]",
            (f"did you mean {guess!r}? " if guess else "")
            + f"configure one: `rara config set trading.accounts.{name}.exchange binance` "
            "(testnet by default)",
        )
    return accounts[name]


def refuse_unfit_account(
    acct: AccountSettings, name: str, strategy: str, instrument: str | None
) -> None:
    """Refuse (`Refused`) approving `strategy`, which trades `instrument`
    (``exchange:symbol:timeframe``), for account `name` when the account cannot trade that
    market: a symbol outside the account's ``symbols`` (caught here, not when the daemon starts
    the run and halts it), or, for real money (mode live), another exchange than the one its
    research and gates judged: another venue's prices are another market, and synthetic
    candles none. A testnet account may try it elsewhere (the closed loop's rehearsal:
    researched on synthetic candles, traded on a testnet)."""
    if instrument is None:
        raise Refused(
            "no_market",
            f"{strategy}: its manifest names no market to trade",
            "promote it again from a research run, which records the market it was judged on",
        )
    exchange, symbol, _ = instrument.split(":")
    if acct.exchange != exchange and acct.mode == "live":
        raise Refused(
            "account_market_mismatch",
            f"{strategy} was researched and judged on {exchange} ({symbol}); account {name} "
            f"trades real money on {acct.exchange}",
            f"approve it for an account at {exchange}, try it on a testnet account, or "
            f"research it on {acct.exchange}'s candles",
        )
    if acct.symbols is not None and symbol not in acct.symbols:
        raise Refused(
            "symbol_not_in_account",
            f"account {name} trades {', '.join(acct.symbols)}, not {symbol} ({strategy})",
            f"add {symbol} to trading.accounts.{name}.symbols, or approve it for another account",
        )


def open_account_venue(
    home: Home,
    settings: Settings,
    name: str,
    *,
    live_flag: bool,
    exchange_class: type[Any] | None = None,
) -> CcxtVenue:
    """The venue of account `name`, after its opt-ins: a live account needs every one of
    `LIVE_OPT_INS` (a `Refused` names each one missing); a testnet account needs its keys and
    refuses ``--live`` (which would say something the account does not do)."""
    acct = account_settings(settings, name)
    secrets = load_secrets(home)
    if acct.mode == "live":
        missing = [
            opt
            for opt, given in zip(
                LIVE_OPT_INS,
                (settings.trading.live_enabled, keys_present(acct.exchange, secrets), live_flag),
                strict=True,
            )
            if not given
        ]
        if missing:
            how = {
                "trading.live_enabled": "`rara config set trading.live_enabled true`",
                "keys": keys_hint(acct.exchange),
                "--live": "pass --live on the command line",
            }
            raise Refused(
                "live_not_opted_in",
                f"account {name!r} trades real money on {acct.exchange}; missing: "
                + ", ".join(missing),
                "; ".join(how[m] for m in missing),
            )
    elif live_flag:
        raise BadInput(
            "live_flag_on_testnet",
            f"account {name!r} is a testnet account; --live applies to live accounts only",
            f"drop --live, or set trading.accounts.{name}.mode = 'live' (with its opt-ins)",
        )
    method, why = deadman_method(acct)
    if method is None:
        raise Refused(
            "deadman_unavailable",
            f"account {name!r}: {why}",
            f"set trading.accounts.{name}.deadman = 'auto'",
        )
    return CcxtVenue(name, acct, data=settings.data, secrets=secrets, exchange_class=exchange_class)


def watchdog_venue_spec(name: str, live_flag: bool) -> VenueSpec:
    """How the dead man's switch's watchdog process opens account `name` on its own (it cancels
    through its own connection when the engine stops answering)."""
    return VenueSpec(
        factory="rara.trading.accounts:watchdog_venue", args={"name": name, "live": live_flag}
    )


def watchdog_venue(home: Home, args: dict[str, Any]) -> CcxtVenue:
    """The watchdog's venue of the account `args` names (the same opt-ins as the engine's)."""
    from rara.config import load_settings

    return open_account_venue(
        home, load_settings(home), str(args["name"]), live_flag=bool(args["live"])
    )


def account_balances(
    home: Home, settings: Settings, name: str, *, live_flag: bool
) -> Mapping[str, Balance]:
    """What account `name` holds at its exchange (one request; the venue closed after)."""
    venue = open_account_venue(home, settings, name, live_flag=live_flag)
    try:
        return venue.balances()
    finally:
        venue.close()
