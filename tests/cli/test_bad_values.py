"""Every option that takes a symbol, timeframe, date, exchange, fee, slippage or fraction, on
every command, refuses a bad value: exit 2, one JSON error naming the value, a suggestion, and
nothing written under $RARA_HOME.

The cases are not listed by hand: they come from walking the click command tree, so an option
added later is covered by being declared. An option is of a kind by its parameter type (the
edge types in `rara.cli.params`) or, if it is a plain string or float, by its name; a test keeps
plain options of these kinds from creeping back in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from rara.cli import app
from rara.cli.params import KINDS, EdgeType

# Two bad values per kind: one malformed, one well-formed but out of range or wrong in content.
BAD: dict[str, list[str]] = {
    "symbol": ["BTCUSDT", "BTC/USDT/EUR"],
    "timeframe": ["7x", "0h"],
    "date": ["next tuesday", "2024-13-45"],
    "exchange": ["Not An Exchange!", "x"],
    "fee": ["0.7", "lots"],
    "slippage": ["-0.1", "half"],
    "fraction": ["1.5", "most"],
}
GOOD = {
    "symbol": "BTC/USDT",
    "timeframe": "1h",
    "date": "2024-01-01",
    "exchange": "binance",
    "fee": "0.001",
    "slippage": "0.0005",
    "fraction": "0.5",
}
# What a plain-string option of each kind is called; `--source` is an exchange only for fetch,
# which types it, so it is not guessed from the name.
NAME_KINDS = [
    (re.compile(r"^(symbol|contract|pair)$"), "symbol"),
    (re.compile(r"^(timeframe|source_tf|to)$"), "timeframe"),
    (re.compile(r"^(start|end|since|until|before|after)$"), "date"),
    (re.compile(r"^exchange$"), "exchange"),
    (re.compile(r"^fees?$"), "fee"),
    (re.compile(r"^slippage$"), "slippage"),
    (re.compile(r"fraction$"), "fraction"),
]
# Plain-string options of a kind that are parsed further in, on purpose, with the reason.
PARSED_INSIDE: set[tuple[str, str]] = set()


def kind_of(param: click.Parameter) -> str | None:
    if isinstance(param.type, EdgeType):
        return param.type.kind
    plain = (click.types.StringParamType, click.types.FloatParamType)
    if not isinstance(param.type, plain) or param.name is None:
        return None
    return next((kind for pattern, kind in NAME_KINDS if pattern.search(param.name)), None)


def commands(
    group: click.Group = app, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # the lazy tree's way: loads each command's module
        cmd = group.get_command(ctx, name)
        assert cmd is not None, name
        if isinstance(cmd, click.Group):
            yield from commands(cmd, (*path, name))
        else:
            yield (*path, name), cmd


def filler(param: click.Parameter) -> list[str]:
    """A valid value for a required parameter that is not under test."""
    kind = kind_of(param)
    value = GOOD[kind] if kind else "x"
    if isinstance(param.type, click.Choice):
        value = str(param.type.choices[0])
    if isinstance(param, click.Option):
        return [max(param.opts, key=len), value]
    return [value]


def cases() -> Iterator[object]:
    for path, cmd in commands():
        for param in cmd.params:
            kind = kind_of(param)
            if kind is None:
                continue
            assert isinstance(param, click.Option), f"{path} {param.name}: an argument of a kind"
            for bad in BAD[kind]:
                args = list(path)
                for other in cmd.params:
                    if other is not param and other.required:
                        args += filler(other)
                flag = max(param.opts, key=len)
                args += [flag, bad]
                yield pytest.param(args, flag, bad, id=f"{' '.join(path)} {flag}={bad}")


CASES = list(cases())


def snapshot(root: Path) -> dict[str, int]:
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(("args", "flag", "bad"), CASES)
def test_bad_value_is_bad_input(rara_home: Path, args: list[str], flag: str, bad: str) -> None:
    rara_home.mkdir(parents=True, exist_ok=True)
    before = snapshot(rara_home)
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2, (res.exit_code, res.stdout, res.stderr)
    body = json.loads(res.stdout)
    assert set(body) == {"error"}
    err = body["error"]
    assert err["code"] not in ("internal", "usage", "bad_input"), err  # a specific code
    assert bad in err["message"], err  # the person sees which value was wrong
    assert "pydantic" not in err["message"] and "errors.pydantic.dev" not in err["message"]
    assert err["suggestion"].strip(), err
    assert snapshot(rara_home) == before


def test_the_walk_finds_the_options_it_must() -> None:
    found = {
        (" ".join(path), max(param.opts, key=len))
        for path, cmd in commands()
        for param in cmd.params
        if kind_of(param) is not None
    }
    for cmd in ("backtest run", "backtest gate", "sandbox run", "strategy backtest"):
        for flag in ("--symbol", "--timeframe", "--start", "--end", "--exchange"):
            assert (cmd, flag) in found
    for cmd, flag in [
        ("backtest run", "--fees"),
        ("backtest run", "--slippage"),
        ("strategy backtest", "--fees"),
        ("research run", "--symbol"),
        ("research run", "--contract"),
        ("research run", "--timeframe"),
        ("research run", "--exchange"),
        ("data fetch", "--start"),
        ("data fetch", "--end"),
        ("data fetch", "--source"),
        ("data resample", "--from"),
        ("data resample", "--to"),
        ("data synth", "--start"),
        ("data synth", "--symbol"),
        ("data import", "--symbol"),
        ("data import", "--timeframe"),
        ("events query", "--since"),
    ]:
        assert (cmd, flag) in found
    assert set(BAD) == set(KINDS) == set(GOOD)


def test_options_of_a_kind_are_parsed_at_the_edge() -> None:
    plain = [
        (" ".join(path), param.name)
        for path, cmd in commands()
        for param in cmd.params
        if kind_of(param) is not None and not isinstance(param.type, EdgeType)
    ]
    assert set(plain) <= PARSED_INSIDE, f"give these a type from rara.cli.params: {plain}"


def test_contract_is_a_hidden_alias_of_symbol() -> None:
    run = dict(commands())["research", "run"]
    contract = next(p for p in run.params if p.name == "contract")
    assert isinstance(contract, click.Option) and contract.hidden
    res = CliRunner().invoke(
        app, ["research", "run", "--symbol", "ETH/USDT", "--contract", "BTC-USDT"]
    )
    assert res.exit_code == 2 and json.loads(res.stdout)["error"]["code"] == "bad_symbol"
