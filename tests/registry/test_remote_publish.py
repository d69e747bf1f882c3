"""Publishing a registry and its keys: keygen writes a private key only to a 0600 file and never
prints it; publish adds to a tree (the index version grows, a published version never changes,
one key per tree); trust pins public keys only; rara's shipped index verifies with the key that
ships with rara and pins its files."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rara.errors import BadInput
from rara.home import Home
from rara.registry.remote.client import SHIPPED_INDEX, open_index
from rara.registry.remote.index import RegistryError
from rara.registry.remote.keys import TrustStore, keygen, load_private_key, shipped_key
from rara.registry.remote.transport import RegistrySource
from tests.kit.cli import run_cli
from tests.registry.remote_kit import Publisher, example


def test_keygen_writes_a_0600_private_key_and_never_prints_it(tmp_path: Path) -> None:
    key = tmp_path / "k" / "signing.key"
    r = run_cli(tmp_path / "home", "strategy", "keygen", str(key))
    assert r.code == 0, r.stderr
    assert key.stat().st_mode & 0o777 == 0o600
    secret = key.read_text()
    assert "PRIVATE KEY" in secret
    body = secret.splitlines()[1]
    assert body not in r.stdout + r.stderr
    assert r.json["key_id"] == r.json["fingerprint"][:16]
    again = run_cli(tmp_path / "home", "strategy", "keygen", str(key))
    assert again.code == 2 and again.error["code"] == "key_exists"
    assert key.read_text() == secret  # never overwritten
    # a private key readable by others is refused for signing (its content never in the error)
    key.chmod(0o644)
    with pytest.raises(BadInput) as open_key:
        load_private_key(key)
    assert open_key.value.code == "key_too_open" and body not in str(open_key.value.to_dict())


def test_trust_pins_the_public_key_and_shows_its_fingerprint(tmp_path: Path) -> None:
    pub = keygen(tmp_path / "p.key")
    home = tmp_path / "home"
    r = run_cli(home, "strategy", "trust", str(tmp_path / "p.key.pub"))
    assert r.code == 0 and r.json["fingerprint"] == pub.fingerprint
    assert (home / "trust" / f"{pub.key_id}.pub").read_bytes() == pub.pem()
    refused = run_cli(home, "strategy", "trust", str(tmp_path / "p.key"))
    assert refused.code == 2 and refused.error["code"] == "bad_key"
    assert [p.name for p in (home / "trust").iterdir()] == [f"{pub.key_id}.pub"]
    # a pinned file renamed to another id trusts nothing
    (home / "trust" / f"{pub.key_id}.pub").rename(home / "trust" / "0000000000000000.pub")
    assert pub.key_id not in TrustStore(Home(root=home)).trusted()


def test_publish_adds_to_a_tree_and_never_changes_a_version(tmp_path: Path) -> None:
    pub = Publisher(tmp_path)
    pub.publish([example(tmp_path, "sma_crossover")])
    first = json.loads((pub.out / "index.json").read_text())
    pub.publish([example(tmp_path, "donchian_breakout")])
    second = json.loads((pub.out / "index.json").read_text())
    assert (first["version"], second["version"]) == (1, 2)
    assert [s["name"] for s in second["strategies"]] == ["donchian_breakout", "sma_crossover"]
    # the same name@version with other code is refused, and the tree is left as it was
    other = example(tmp_path, "sma_crossover", source=example_source("fast", "12"))
    with pytest.raises(RegistryError) as reused:
        pub.publish([other])
    assert reused.value.code == "publish_version_reused"
    assert json.loads((pub.out / "index.json").read_text()) == second
    # a new version of it is fine
    pub.publish([example(tmp_path, "sma_crossover", version="1.1.0")])
    third = json.loads((pub.out / "index.json").read_text())
    assert [(s["name"], s["version"]) for s in third["strategies"]] == [
        ("donchian_breakout", "1.0.0"),
        ("sma_crossover", "1.0.0"),
        ("sma_crossover", "1.1.0"),
    ]
    # one key per tree
    stranger = Publisher(tmp_path, "stranger")
    with pytest.raises(RegistryError) as other_key:
        stranger.out = pub.out
        stranger.publish([example(tmp_path, "rsi_mean_reversion")])
    assert other_key.value.code == "publish_other_key"


def test_publish_cli_yanks_and_sets_expiry(tmp_path: Path) -> None:
    home = tmp_path / "home"
    key = tmp_path / "p.key"
    assert run_cli(home, "strategy", "keygen", str(key)).code == 0
    out = tmp_path / "reg"
    r = run_cli(
        home,
        "strategy",
        "publish",
        "sma_crossover",
        "--out",
        str(out),
        "--key",
        str(key),
        "--expires-days",
        "7",
    )
    assert r.code == 0, r.stdout + r.stderr
    expires = datetime.fromisoformat(r.json["expires"])
    assert timedelta(days=6) < expires - datetime.now(UTC) <= timedelta(days=7)
    y = run_cli(
        home,
        "strategy",
        "publish",
        "sma_crossover",
        "--out",
        str(out),
        "--key",
        str(key),
        "--yank",
        "sma_crossover@1.0.0",
    )
    assert y.code == 0 and y.json["strategies"] == ["sma_crossover@1.0.0 (yanked)"]
    assert y.json["index_version"] == 2
    key.chmod(0o640)
    loose = run_cli(
        home, "strategy", "publish", "sma_crossover", "--out", str(out), "--key", str(key)
    )
    assert loose.code == 2 and loose.error["code"] == "key_too_open"


def test_the_shipped_index_verifies_and_pins_its_files(tmp_path: Path) -> None:
    home = Home(root=tmp_path / "fresh")
    verified = open_index(RegistrySource.of(str(SHIPPED_INDEX)), TrustStore(home), home=home)
    assert verified.key.key_id == shipped_key().key_id == verified.index.key_id
    # a shipped index that expires soon must be re-signed before a release
    assert verified.index.expires - datetime.now(UTC) > timedelta(days=60)
    names = {s.name for s in verified.index.strategies}
    assert {"sma_crossover", "rsi_mean_reversion", "donchian_breakout"} <= names
    for s in verified.index.strategies:
        for f in s.files:
            data = (SHIPPED_INDEX / f.url).read_bytes()
            assert hashlib.sha256(data).hexdigest() == f.sha256 and len(data) == f.size
        shipped_as_promoted = s.stage == "paper_candidate"
        assert shipped_as_promoted == bool(s.provenance.gate_reports)


def example_source(param: str, value: str) -> str:
    text = (Path(__file__).parents[2] / "strategies/examples/sma_crossover/strategy.py").read_text()
    return text.replace(f'"{param}": 20', f'"{param}": {value}')
