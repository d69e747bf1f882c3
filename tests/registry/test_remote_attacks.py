"""Acceptance 2 of the registry: every attack is refused with a clear error (a `RegistryError`
naming what was wrong) and installs nothing: no directory, no lock entry, no install event.

The registries are written by the real publisher and served by a real HTTP server on 127.0.0.1
or read from ``file://``; the attacker edits the tree after it was signed, or signs with a key
the home does not trust."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rara.errors import BadInput
from rara.home import Home
from rara.registry.remote.index import RegistryError
from rara.registry.remote.install import FetchRequest
from rara.registry.remote.keys import TrustStore, load_public_key, sign
from rara.registry.remote.vet import Market
from rara.services.vetting import fetch_vetted as fetch
from tests.registry.remote_kit import (
    Publisher,
    example,
    make_home,
    nothing_installed,
    silent_server,
    static_server,
)

SMA = (Path(__file__).parents[2] / "strategies/examples/sma_crossover/strategy.py").read_text()


def refused(home: Home, registry: str, ref: str = "sma_crossover", **kw: object) -> RegistryError:
    with pytest.raises(RegistryError) as caught:
        fetch(home, FetchRequest.parse(ref, registry, **kw))  # type: ignore[arg-type]
    assert nothing_installed(home), caught.value
    assert caught.value.exit_code == 3 and caught.value.suggestion
    return caught.value


def resign(pub: Publisher, edit: dict[str, object]) -> None:
    """Replace the index with `edit`, signed by the publisher's (trusted) key."""
    raw = (json.dumps(edit, indent=2, sort_keys=True) + "\n").encode()
    (pub.out / "index.json").write_bytes(raw)
    (pub.out / "index.json.sig").write_bytes(sign(pub.key, raw))


def index(pub: Publisher) -> dict[str, object]:
    return dict(json.loads((pub.out / "index.json").read_text()))


@pytest.fixture
def pub(tmp_path: Path) -> Publisher:
    p = Publisher(tmp_path)
    p.publish([example(tmp_path, "sma_crossover")])
    return p


@pytest.fixture
def home(tmp_path: Path, candles: Path, pub: Publisher) -> Home:
    return make_home(tmp_path / "home", candles, trust=pub.public)


def test_a_tampered_file(pub: Publisher, home: Home) -> None:
    f = pub.file("sma_crossover", "1.0.0", "strategy.py")
    f.write_text(f.read_text().replace("crossover(fast, slow)", "crossover(slow, fast)"))
    with static_server(pub.out) as url:
        err = refused(home, url)
    assert err.code == "registry_hash_mismatch" and "strategy.py" in err.message


def test_a_tampered_index(pub: Publisher, home: Home) -> None:
    raw = (pub.out / "index.json").read_bytes()
    (pub.out / "index.json").write_bytes(raw.replace(b"Enter when", b"Enter when!"))
    err = refused(home, pub.out.as_uri())
    assert err.code == "registry_bad_signature"
    # a signature file that is not one, or missing
    (pub.out / "index.json").write_bytes(raw)
    (pub.out / "index.json.sig").write_bytes(b"not base64 at all\n")
    assert refused(home, pub.out.as_uri()).code == "registry_bad_signature"
    (pub.out / "index.json.sig").unlink()
    assert refused(home, str(pub.out)).code == "registry_not_found"


def test_a_valid_old_index_is_a_rollback(tmp_path: Path, pub: Publisher, home: Home) -> None:
    old = tmp_path / "old"
    shutil.copytree(pub.out, old)  # version 1, validly signed
    pub.publish([example(tmp_path, "donchian_breakout")])  # version 2
    with static_server(pub.out) as url:
        # any use of version 2 raises the floor (even a fetch refused later)
        assert refused(home, url, "donchian_breakout@9.9.9").code == "registry_unknown_version"
    with static_server(old) as url:
        err = refused(home, url)
    assert err.code == "registry_index_rollback" and "version 1" in err.message
    assert "version 2" in err.message
    # the same version with other bytes: refused too (a version is never reused)
    body = index(pub)
    body["generated"] = "2026-01-01T00:00:00Z"
    resign(pub, body)
    assert refused(home, pub.out.as_uri()).code == "registry_index_rollback"


def test_an_expired_index(tmp_path: Path, home: Home) -> None:
    frozen = Publisher(tmp_path, "frozen")
    TrustStore(home).trust(frozen.public)
    long_ago = datetime(2025, 1, 1, tzinfo=UTC)
    frozen.publish([example(tmp_path, "sma_crossover")], now=long_ago, expires_days=30)
    err = refused(home, frozen.out.as_uri())
    assert err.code == "registry_index_expired" and "2025-01-31" in err.message


def test_a_key_that_is_not_trusted(tmp_path: Path, pub: Publisher, home: Home) -> None:
    stranger = Publisher(tmp_path, "stranger")
    stranger.publish([example(tmp_path / "s", "sma_crossover")])
    err = refused(home, stranger.out.as_uri())
    assert err.code == "registry_untrusted_key" and stranger.public.key_id in err.message
    # the index claims the trusted key's id, but the stranger signed it
    body = index(stranger)
    body["key_id"] = pub.public.key_id
    raw = (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()
    (stranger.out / "index.json").write_bytes(raw)
    (stranger.out / "index.json.sig").write_bytes(sign(stranger.key, raw))
    assert refused(home, stranger.out.as_uri()).code == "registry_bad_signature"
    # a private key is never trusted (nor copied into the trust store)
    with pytest.raises(BadInput) as bad:
        load_public_key(stranger.key_path)
    assert bad.value.code == "bad_key" and "private" in bad.value.message


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("file", "../../../evil.py"),
        ("file", "strategy.py/../../x"),
        ("name", "../escape"),
        ("name", "sma_crossover/../../x"),
    ],
)
def test_a_path_traversal_name(pub: Publisher, home: Home, where: str, value: str) -> None:
    body = index(pub)
    entry = body["strategies"][0]  # type: ignore[index]
    if where == "file":
        entry["files"][0]["name"] = value
    else:
        entry["name"] = value
    resign(pub, body)
    ref = "sma_crossover"
    err = refused(home, pub.out.as_uri(), ref)
    assert err.code == "registry_bad_index" and "unsafe" in err.message
    assert not list(home.root.parent.glob("*evil*")) and not list(home.root.glob("**/escape"))
    with pytest.raises(RegistryError) as asked:
        FetchRequest.parse("../escape", pub.out.as_uri())
    assert asked.value.code == "registry_bad_name"


def test_an_oversized_file(pub: Publisher, home: Home) -> None:
    # declared over the cap: refused before any download
    body = index(pub)
    body["strategies"][0]["files"][1]["size"] = 50 * 1024 * 1024  # type: ignore[index]
    resign(pub, body)
    err = refused(home, pub.out.as_uri())
    assert err.code == "registry_bad_index" and "cap" in err.message
    # declared small, served big (an endless body): reading stops at the declared size
    body["strategies"][0]["files"][1]["size"] = 900  # type: ignore[index]
    resign(pub, body)
    pub.file("sma_crossover", "1.0.0", "strategy.py").write_bytes(b"#" * (8 * 1024 * 1024))
    with static_server(pub.out) as url:
        err = refused(home, url)
    assert err.code == "registry_file_too_large" and "900 bytes" in err.message


def test_a_yanked_version(tmp_path: Path, pub: Publisher, home: Home) -> None:
    pub.publish([], yank=("sma_crossover@1.0.0",))
    url = pub.out.as_uri()
    assert refused(home, url, "sma_crossover@1.0.0").code == "registry_yanked"
    assert refused(home, url, "sma_crossover").code == "registry_yanked"  # none left
    done = fetch(
        home, FetchRequest.parse("sma_crossover@1.0.0", url, gate=False, allow_yanked=True)
    )
    assert done["version"] == "1.0.0" and done["stage"] == "research"


def test_an_index_over_http_cannot_point_at_local_files(pub: Publisher, home: Home) -> None:
    body = index(pub)
    body["strategies"][0]["files"][1]["url"] = "file:///etc/passwd"  # type: ignore[index]
    resign(pub, body)
    with static_server(pub.out) as url:
        assert refused(home, url).code == "registry_bad_url"


def test_a_server_that_never_answers(home: Home) -> None:
    with silent_server() as url:
        err = refused(home, url, timeout_s=1.0)
    assert err.code == "registry_timeout" and "within 1 s" in err.message


def _evil(body: str) -> str:
    return SMA.replace(
        "def on_candles(candles, params):\n", "def on_candles(candles, params):\n" + body
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("attack", "code"),
    [
        ("    x = ().__class__.__bases__[0].__subclasses__()\n", "registry_lint_failed"),
        ("    f = open('/etc/passwd')\n", "registry_lint_failed"),
        ("    n = 0\n    while n >= 0:\n        n = n + 1\n", "registry_sandbox_refused"),
        ("    big = [0] * 4000000000\n", "registry_sandbox_refused"),
    ],
)
def test_a_strategy_that_attacks_the_sandbox(
    tmp_path: Path, candles: Path, attack: str, code: str
) -> None:
    pub = Publisher(tmp_path)
    pub.publish([example(tmp_path, "sma_crossover", source=_evil(attack))])
    home = make_home(tmp_path / "home", candles, trust=pub.public)
    with home.config_file.open("a") as f:
        f.write("\n[sandbox]\nwall_timeout_s = 3.0\n")
    err = refused(home, pub.out.as_uri())
    assert err.code == code, err.message


@pytest.mark.slow
def test_a_strategy_that_fails_the_gate(tmp_path: Path, candles: Path, pub: Publisher) -> None:
    home = make_home(tmp_path / "strict", candles, gate="", trust=pub.public)  # default gate
    err = refused(home, pub.out.as_uri())
    assert err.code == "registry_gate_rejected" and "rejected" in err.message
    assert "--no-gate" in err.suggestion


def test_gate_1_judges_on_the_market_the_manifest_trades(pub: Publisher, home: Home) -> None:
    err = refused(home, pub.out.as_uri(), market=Market(symbol="BTC/USDT", timeframe="1h"))
    assert err.code == "registry_market_mismatch" and "synthetic:EDGE/USDT:1h" in err.message
