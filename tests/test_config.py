"""Settings: TOML file, RARA_* overrides, unknown keys named with the nearest valid key,
secrets kept out of the file and out of every output."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from rara import config, credentials
from rara.errors import BadInput, Refused
from rara.home import Home
from tests.kit.cli import tree_snapshot


def test_init_set_get_list_round_trip(cli, rara_home):
    assert cli("config", "init").code == 0
    assert (rara_home / "config.toml").exists()
    r = cli("config", "set", "data.max_retries", "3")
    assert r.code == 0 and r.json["value"] == 3
    assert cli("config", "get", "data.max_retries").json["value"] == 3
    listed = cli("config", "list").json
    assert listed["settings"]["data"]["max_retries"] == 3
    r = cli(
        "config", "set", "data.url_overrides.binance", '{ public = "http://127.0.0.1:1/api/v3" }'
    )
    assert r.code == 0, r.stdout
    assert config.load_settings(Home(root=rara_home)).data.url_overrides == {
        "binance": {"public": "http://127.0.0.1:1/api/v3"}
    }


def test_init_force_overwrites(cli):
    cli("config", "init")
    cli("config", "set", "data.max_retries", "9")
    assert cli("config", "init", "--force").code == 0
    assert cli("config", "get", "data.max_retries").json["value"] == 6


def test_unknown_key_names_nearest(cli, rara_home):
    before = tree_snapshot(rara_home)
    r = cli("config", "set", "data.max_retry", "3")
    assert r.code == 2
    assert r.error["code"] == "config_unknown_key"
    assert "data.max_retry" in r.error["message"]
    assert "data.max_retries" in r.error["suggestion"]
    assert tree_snapshot(rara_home) == before


def test_unknown_key_in_file(cli, rara_home):
    rara_home.mkdir(parents=True)
    (rara_home / "config.toml").write_text("[data]\ndefault_exchang = 'kraken'\n")
    r = cli("config", "list")
    assert r.code == 2
    assert "data.default_exchang" in r.error["message"]
    assert "data.default_exchange" in r.error["suggestion"]


def test_malformed_toml_is_clear_and_kept(cli, rara_home):
    rara_home.mkdir(parents=True)
    path = rara_home / "config.toml"
    path.write_text("[data\nmax_retries = 3\n")
    r = cli("config", "get", "data.max_retries")
    assert r.code == 2 and r.error["code"] == "config_malformed"
    assert path.read_text() == "[data\nmax_retries = 3\n"  # nothing lost


def test_invalid_value_refused_before_write(cli, rara_home):
    cli("config", "init")
    before = (rara_home / "config.toml").read_text()
    r = cli("config", "set", "data.max_retries", "--", "-4")
    assert r.code == 2 and r.error["code"] == "config_invalid"
    assert (rara_home / "config.toml").read_text() == before
    r = cli("config", "set", "data.max_retries", "many")
    assert r.code == 2 and r.error["code"] == "config_invalid"
    assert (rara_home / "config.toml").read_text() == before


def test_env_overrides_file(rara_home, monkeypatch):
    monkeypatch.setenv("RARA_DATA__PAGE_LIMIT", "250")
    monkeypatch.setenv("RARA_SANDBOX__BACKEND", "docker")
    s = config.load_settings(Home(root=rara_home))
    assert s.data.page_limit == 250 and s.sandbox.backend == "docker"


def test_unknown_env_key_is_named(rara_home, monkeypatch):
    monkeypatch.setenv("RARA_DATA__PAGE_LIMT", "250")
    with pytest.raises(BadInput) as e:
        config.load_settings(Home(root=rara_home))
    assert "data.page_limt" in e.value.message and "data.page_limit" in e.value.suggestion


def test_secret_keys_refused_in_config(cli, rara_home):
    r = cli("config", "set", "llm.api_key", "sk-live-123")
    assert r.code == 2  # not a valid setting at all
    rara_home.mkdir(parents=True, exist_ok=True)
    (rara_home / "config.toml").write_text("[llm]\napi_key = 'sk-live-123'\n")
    r = cli("config", "list")
    assert r.code == 3 and r.error["code"] == "secret_in_config"
    assert "sk-live-123" not in r.stdout + r.stderr


def test_secrets_from_env_are_redacted(cli):
    r = cli(
        "config",
        "list",
        env={
            "RARA_LLM_API_KEY": "sk-test-abcdef",
            "RARA_BINANCE_API_KEY": "bkey-123",
            "RARA_BINANCE_SECRET": "bsec",
        },
    )
    assert r.code == 0
    assert r.json["secrets"]["llm.api_key"] == "***"
    assert r.json["secrets"]["exchanges.binance.secret"] == "***"
    for secret in ("sk-test-abcdef", "bkey-123", "bsec"):
        assert secret not in r.stdout + r.stderr


def test_secrets_file_must_be_0600(rara_home):
    rara_home.mkdir(parents=True)
    path = rara_home / "secrets.toml"
    path.write_text("[llm]\napi_key = 'sk-file'\n[exchanges.kraken]\napi_key='k'\nsecret='s'\n")
    os.chmod(path, 0o644)
    with pytest.raises(Refused) as e:
        credentials.load_secrets(Home(root=rara_home), {})
    assert "chmod 600" in e.value.suggestion and "sk-file" not in e.value.message
    os.chmod(path, 0o600)
    s = credentials.load_secrets(Home(root=rara_home), {})
    assert s.llm_api_key is not None and s.llm_api_key.get_secret_value() == "sk-file"
    assert "sk-file" not in repr(s)
    assert s.exchanges["kraken"].secret is not None


# ---- validated once: frozen sections, cross-field rules, checked overrides ----------------------


def test_sections_are_frozen():
    s = config.Settings()
    with pytest.raises(ValidationError):
        s.backtest.fee = 0.9  # type: ignore[misc]
    assert s.backtest.fee is None


@pytest.mark.parametrize(
    ("pairs", "words"),
    [
        (
            [
                ("gates.research.train_fraction", "0.7"),
                ("gates.research.validation_fraction", "0.3"),
            ],
            ["train_fraction + validation_fraction", "below 1"],
        ),
        ([("gates.research.validation_start", "2024-06-01")], ["both", "holdout_start"]),
        (
            [
                ("gates.research.validation_start", "notadate"),
                ("gates.research.holdout_start", "2024-09-01"),
            ],
            ["validation_start", "'notadate'"],
        ),
        (
            [
                ("gates.research.validation_start", "2024-09-01"),
                ("gates.research.holdout_start", "2024-06-01"),
            ],
            ["before holdout_start"],
        ),
        ([("backtest.fee", "0.3")], ["backtest.fee 0.3", "cost_multiplier", "below 0.5"]),
        ([("backtest.fees", "{ kraken = 0.26 }")], ["backtest.fees.kraken", "0.52"]),
        ([("backtest.fees", "{ kraken = -0.1 }")], ["kraken", "at least 0"]),
        ([("backtest.slippage", "0.5")], ["backtest.slippage"]),
        ([("backtest.size_fraction", "1.5")], ["backtest.size_fraction"]),
        ([("gates.research.min_trials", "0")], ["gates.research.min_trials"]),
        ([("gates.research.holdout_read_budget", "0")], ["gates.research.holdout_read_budget"]),
        ([("gates.research.min_sharpe", "-inf")], ["gates.research.min_sharpe", "finite"]),
    ],
)
def test_cross_field_rules_refuse_before_write(rara_home, pairs, words):
    config.init_config(Home(root=rara_home), force=False)
    before = (rara_home / "config.toml").read_text()
    with pytest.raises(BadInput) as e:
        config.set_values(Home(root=rara_home), pairs)
    assert e.value.code == "config_invalid" and e.value.suggestion
    for word in words:
        assert word in e.value.message, e.value.message
    assert "pydantic" not in e.value.message and "Value error" not in e.value.message
    assert (rara_home / "config.toml").read_text() == before


def test_split_dates_set_together(rara_home):
    s = config.set_values(
        Home(root=rara_home),
        [
            ("gates.research.validation_start", "2024-06-01"),
            ("gates.research.holdout_start", "2024-09-01T00:00Z"),
        ],
    )
    assert (s.gates.research.validation_start, s.gates.research.holdout_start) == (
        "2024-06-01",
        "2024-09-01T00:00Z",
    )
    assert (
        config.load_settings(Home(root=rara_home)).gates.research.holdout_start
        == "2024-09-01T00:00Z"
    )


def test_with_overrides_validates_and_leaves_the_original():
    s = config.Settings()
    t = s.with_overrides({"backtest.fee": 0.002, "backtest.slippage": None})
    assert t.backtest.fee == 0.002 and t.backtest.slippage == s.backtest.slippage
    assert s.backtest.fee is None
    with pytest.raises(BadInput) as e:
        s.with_overrides({"backtest.fee": 0.3})  # 0.6 once the gate doubles costs
    assert e.value.code == "config_invalid" and "cost_multiplier" in e.value.message
    with pytest.raises(BadInput) as e:
        s.with_overrides({"backtest.slipage": 0.1})
    assert e.value.code == "config_unknown_key" and "backtest.slippage" in e.value.suggestion


def test_no_unchecked_model_copy_of_settings():
    """Overrides go through Settings.with_overrides; pydantic's model_copy(update=) skips
    validation, which is how `--fees 7` once reached the engine."""
    root = Path(config.__file__).parent
    offenders = [
        f"{p.relative_to(root)}:{i}"
        for p in root.rglob("*.py")
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if "model_copy(" in line and "update=" in line
    ]
    assert offenders == []


def test_secrets_typo_is_named_without_its_value(rara_home):
    rara_home.mkdir(parents=True)
    path = rara_home / "secrets.toml"
    path.write_text("[exchanges.binance]\napi_key = 'k-123'\napi_secret = 'SUPERSECRET'\n")
    os.chmod(path, 0o600)
    with pytest.raises(BadInput) as e:
        credentials.load_secrets(Home(root=rara_home), {})
    err = e.value
    assert err.code == "secrets_unknown_key"
    assert "exchanges.binance.api_secret" in err.message
    assert "exchanges.binance.secret" in err.suggestion or "api_key" in err.suggestion
    assert "SUPERSECRET" not in err.message + err.suggestion
    path.write_text("[llm]\napikey = 'SUPERSECRET'\n")
    with pytest.raises(BadInput) as e:
        credentials.load_secrets(Home(root=rara_home), {})
    assert "llm.apikey" in e.value.message and "llm.api_key" in e.value.suggestion
    assert "SUPERSECRET" not in e.value.message + e.value.suggestion


def test_config_set_takes_pairs(cli, rara_home):
    r = cli(
        "config",
        "set",
        "gates.research.validation_start",
        "2024-06-01",
        "gates.research.holdout_start",
        "2024-09-01",
    )
    assert r.code == 0, r.stdout
    assert r.json["set"]["gates.research.holdout_start"] == "2024-09-01"
    r = cli("config", "set", "gates.research.validation_start", "2024-06-01", "backtest.fee")
    assert r.code == 2 and r.error["suggestion"]


def test_gate_thresholds_may_be_loosened_and_say_so(rara_home):
    """Loosening a gate threshold is accepted; the settings name what was loosened (the gate,
    the events, the manifest and the CLI's warning all read it from here)."""
    s = config.set_values(
        Home(root=rara_home),
        [("gates.research.min_trials", "10"), ("gates.research.max_drawdown", "0.1")],
    )
    (weakened,) = s.gates.research.weakened()
    assert (weakened.setting, weakened.value, weakened.default) == (
        "gates.research.min_trials",
        10,
        100,
    )
    warning = config.weakened_warning(s.gates.research.weakened())
    assert warning is not None and "gates.research.min_trials = 10 (default 100)" in warning
    assert config.weakened_warning([]) is None
    loose_env = {"RARA_GATES__RESEARCH__HOLDOUT_READ_BUDGET": "4"}
    from_env = config.load_settings(Home(root=rara_home), loose_env).gates.research.weakened()
    assert [w.setting for w in from_env] == [
        "gates.research.min_trials",
        "gates.research.holdout_read_budget",
    ]
