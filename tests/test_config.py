"""Settings: TOML file, RARA_* overrides, unknown keys named with the nearest valid key,
secrets kept out of the file and out of every output."""

from __future__ import annotations

import os

import pytest

from rara import config
from rara.errors import BadInput, Refused
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
    assert config.load_settings().data.url_overrides == {
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
    s = config.load_settings()
    assert s.data.page_limit == 250 and s.sandbox.backend == "docker"


def test_unknown_env_key_is_named(monkeypatch):
    monkeypatch.setenv("RARA_DATA__PAGE_LIMT", "250")
    with pytest.raises(BadInput) as e:
        config.load_settings()
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
        config.load_secrets({})
    assert "chmod 600" in e.value.suggestion and "sk-file" not in e.value.message
    os.chmod(path, 0o600)
    s = config.load_secrets({})
    assert s.llm_api_key is not None and s.llm_api_key.get_secret_value() == "sk-file"
    assert "sk-file" not in repr(s)
    assert s.exchanges["kraken"].secret is not None
