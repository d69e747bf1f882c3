"""The CLI contract: JSON on stdout, errors as {"error": {...}}, exit codes 2/3/1, --help."""

from __future__ import annotations

import pytest

GROUPS = ["data", "config", "events"]


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        *[[g, "--help"] for g in GROUPS],
        ["validate", "--help"],
        ["data", "info", "--help"],
        ["config", "set", "--help"],
        ["events", "verify", "--help"],
    ],
)
def test_help_everywhere(cli, args):
    r = cli(*args)
    assert r.code == 0, r.stderr
    assert "Usage:" in r.stdout


def test_usage_error_is_json_exit_2(cli):
    r = cli("data", "resample", "--symbol", "BTC/USDT")
    assert r.code == 2
    assert r.error["code"] == "usage"
    assert "--from" in r.error["message"]


def test_unknown_command_is_json_exit_2(cli):
    r = cli("dat")
    assert r.code == 2 and r.error["code"] == "usage"


def test_bad_input_exit_2_refused_exit_3(cli):
    r = cli("data", "resample", "--symbol", "BTC/USDT", "--from", "1h", "--to", "90m")
    assert r.code == 2 and r.error["code"] == "bad_resample"
    assert r.error["suggestion"]
    assert cli("config", "init").code == 0
    r = cli("config", "init")
    assert r.code == 3 and r.error["code"] == "config_exists"


def test_logs_never_on_stdout(cli):
    r = cli("-v", "data", "info")
    assert r.code == 0
    assert isinstance(r.json, dict)  # stdout parses as one JSON document
