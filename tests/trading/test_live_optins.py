"""Live mode's three opt-ins and the keys' secrecy, end to end with `rara trade run` against the
Binance spot emulator.

A live account trades only with all of ``trading.live_enabled``, its keys and ``--live``: each
one missing is refused with an error naming it, and nothing reaches the exchange's order
endpoint. With all three it starts (``mode = "live"``). Across runs that also fail (keys the
exchange refuses, a 5xx on an order, a SIGKILL and a restart) the canary key and secret appear
nowhere: not in any file under ``$RARA_HOME`` (read as bytes: SQLite files, logs, the
watchdog's heartbeat and log) nor in anything a command printed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.emulators.exchange import ORDER, BinanceEmulator, Fault
from tests.kit.cli import run_cli
from tests.kit.live import (
    KEY,
    SECRET,
    START_MS,
    TradeRun,
    configure_live_home,
    keys_env,
    strategy_file,
)

LIVE_ON = "[trading]\nlive_enabled = true\n"


def order_calls(emu: BinanceEmulator) -> int:
    return len(emu.calls(ORDER, "POST"))


@pytest.mark.parametrize(
    ("missing", "enabled", "keys", "flag"),
    [
        ("trading.live_enabled", False, True, True),
        ("keys", True, False, True),
        ("--live", True, True, False),
    ],
)
def test_live_refused_without_each_opt_in(
    rara_home: Path, missing: str, enabled: bool, keys: bool, flag: bool
) -> None:
    with BinanceEmulator(api_keys={KEY: SECRET}, now_ms=START_MS) as emu:
        emu.fund(KEY, "USDT", "10000")
        home = configure_live_home(rara_home, emu, mode="live", extra=LIVE_ON if enabled else "")
        args = ["--live"] if flag else []
        run = TradeRun(home, emu, strategy_file(home), *args, keys=None if keys else {})
        assert run.wait() == 3, run.stderr  # Refused
        err = run.result()["error"]
        assert err["code"] == "live_not_opted_in", err
        assert missing in err["message"], err
        others = {"trading.live_enabled", "keys", "--live"} - {missing}
        assert not any(o in err["message"].split("missing:")[1] for o in others), err
        assert order_calls(emu) == 0
        assert not [r for r in emu.requests if r.path.startswith("/api/v3/order")]
        assert KEY not in run.stdout + run.stderr and SECRET not in run.stdout + run.stderr


def test_live_starts_with_all_three_and_keys_never_show(rara_home: Path) -> None:
    outputs: list[str] = []
    with BinanceEmulator(api_keys={KEY: SECRET}, now_ms=START_MS) as emu:
        emu.fund(KEY, "USDT", "10000")
        home = configure_live_home(rara_home, emu, mode="live", extra=LIVE_ON)
        strategy = strategy_file(home)

        # keys the exchange refuses: the start fails, saying so without them
        bad = keys_env(key=KEY, secret=SECRET + "x")
        with TradeRun(home, emu, strategy, "--live", keys=bad) as refused:
            assert refused.wait() != 0
        outputs += [refused.stdout, refused.stderr]
        assert refused.result()["error"]["code"] == "exchange_auth_failed"

        # all three: it trades live; a 5xx on the stop-loss's send, then a SIGKILL mid-run
        fault = emu.add_fault(
            Fault(path=ORDER, method="POST", when=lambda q: q.get("type") == "STOP_LOSS")
        )
        with TradeRun(home, emu, strategy, "--live") as run:
            run.step_bars(3)
            run.kill()
        outputs += [run.stdout, run.stderr]
        assert order_calls(emu) >= 2 and fault.hits == 1
        # a killed run leaves its heartbeat behind (the watchdog reads it): no key in it either
        heartbeat = home / "run" / "deadman-live_acct.json"
        assert heartbeat.exists()
        assert not leaks(home)

        # the restart, stopped cleanly
        with TradeRun(home, emu, strategy, "--live") as again:
            again.step_bars(2)
            assert again.stop() == 0, again.stderr
        outputs += [again.stdout, again.stderr]
        out = again.result()
        assert out["mode"] == "live" and out["resumed"] is True

        for args in (["validate"], ["accounts"], ["accounts", "--balances", "--live"]):
            r = run_cli(home, *args, env=keys_env())
            outputs += [r.stdout, r.stderr]
            assert r.code == 0, (args, r.stdout, r.stderr)
            if args[0] == "validate":
                (check,) = [c for c in r.json["checks"] if c["name"] == "account.acct"]
                assert "binance live" in check["detail"], check
            else:
                (row,) = r.json["accounts"]
                assert row["mode"] == "live" and row["keys_present"] is True, row
        for args in (["events", "verify"], ["ledger", "verify"], ["orders", "--account", "acct"]):
            r = run_cli(home, *args, env=keys_env())
            outputs += [r.stdout, r.stderr]
            assert r.code == 0, (args, r.stdout, r.stderr)

    assert (home / "run" / "deadman-live_acct.log").exists()  # the watchdog's log
    assert not leaks(home)
    assert not [o for o in outputs if KEY in o or SECRET in o]


def leaks(home: Path) -> list[Path]:
    """Files under `home` holding the canary key or secret, read as bytes."""
    files = [p for p in home.rglob("*") if p.is_file()]
    assert files
    return [p for p in files if KEY.encode() in p.read_bytes() or SECRET.encode() in p.read_bytes()]
