"""Acceptance 1 and 3 of the registry: over real HTTP (a static server on 127.0.0.1) and from
``file://``, list, fetch, install, verify and remove through the real CLI; the lock pins what was
served, and `verify` catches a file changed after install."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from rara.home import Home
from tests.kit.cli import run_cli
from tests.registry.remote_kit import (
    INSTRUMENT,
    Publisher,
    example,
    make_home,
    nothing_installed,
    static_server,
)


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(x) for x in text.splitlines() if x.strip()]


@pytest.mark.slow
def test_over_http_list_fetch_verify_remove(tmp_path: Path, candles: Path) -> None:
    pub = Publisher(tmp_path)
    pub.publish([example(tmp_path, "sma_crossover"), example(tmp_path, "donchian_breakout")])
    home = make_home(tmp_path / "home", candles)
    h = str(home.root)
    # the key is not trusted yet: refused, nothing installed
    with static_server(pub.out) as url:
        r = run_cli(home.root, "strategy", "list", "--registry", url)
        assert r.code == 3 and r.error["code"] == "registry_untrusted_key", r.stdout
        t = run_cli(home.root, "strategy", "trust", str(pub.pub_path))
        assert t.code == 0 and t.json["fingerprint"] == pub.public.fingerprint
        assert (home.trust_dir / f"{pub.public.key_id}.pub").is_file()

        listed = run_cli(home.root, "strategy", "list", "--registry", url)
        assert listed.code == 0, listed.stdout + listed.stderr
        rows = _lines(listed.stdout)
        assert [(x["name"], x["version"], x["installed"]) for x in rows] == [
            ("donchian_breakout", "1.0.0", False),
            ("sma_crossover", "1.0.0", False),
        ]

        f = run_cli(home.root, "strategy", "fetch", "sma_crossover", "--registry", url, timeout=600)
        assert f.code == 0, f.stdout + f.stderr
        assert (
            f.json["stage"] == "paper_candidate" and f.json["lifecycle_stage"] == "paper_candidate"
        )
        listed = _lines(run_cli(home.root, "strategy", "list", "--registry", url).stdout)
        assert [x["installed"] for x in listed] == [False, True]

    # the lock pins exactly the bytes the server held, and the index and key they came from
    lock = json.loads((home.strategies_dir / "strategies.lock").read_text())
    entry = lock["strategies"]["sma_crossover"]
    served = {
        n: hashlib.sha256(pub.file("sma_crossover", "1.0.0", n).read_bytes()).hexdigest()
        for n in ("strategy.py", "manifest.json")
    }
    assert entry["files"] == served
    assert (entry["name"], entry["version"], entry["index_version"], entry["key_id"]) == (
        "sma_crossover",
        "1.0.0",
        1,
        pub.public.key_id,
    )
    assert entry["registry"] == url and entry["stage"] == "paper_candidate"
    installed = home.installed_dir / "sma_crossover"
    for n, sha in served.items():
        assert hashlib.sha256((installed / n).read_bytes()).hexdigest() == sha
    gate = json.loads((installed / "local_gate_report.json").read_text())
    assert gate["passed"] is True and gate["instrument"] == "synthetic:EDGE/USDT:1h"

    # the lifecycle knows it at paper candidate, where the daemon picks candidates up
    stage = _lines(run_cli(home.root, "strategy", "list", "--stage", "paper_candidate").stdout)
    assert [(x["name"], x["path"]) for x in stage] == [
        ("sma_crossover", "strategies/installed/sma_crossover")
    ]
    both = _lines(run_cli(home.root, "strategy", "installed").stdout)
    assert [(x["name"], x["intact"]) for x in both] == [("sma_crossover", True)]
    v = run_cli(home.root, "strategy", "verify")
    assert v.code == 0 and v.json["ok"] is True

    # acceptance 3: a file changed after install is caught, named, and exits 3
    source = installed / "strategy.py"
    source.write_text(source.read_text().replace("20", "21", 1))
    v = run_cli(home.root, "strategy", "verify", "sma_crossover")
    assert v.code == 3 and v.error["code"] == "registry_verify_failed"
    assert [(p["file"], p["problem"]) for p in v.json["problems"]] == [("strategy.py", "changed")]
    assert v.json["problems"][0]["expected"] == served["strategy.py"]
    (installed / "extra.py").write_text("x = 1\n")
    os.remove(installed / "manifest.json")
    v = run_cli(home.root, "strategy", "verify")
    assert sorted((p["file"], p["problem"]) for p in v.json["problems"]) == [
        ("extra.py", "unexpected"),
        ("manifest.json", "missing"),
        ("strategy.py", "changed"),
    ]

    rm = run_cli(home.root, "strategy", "remove", "sma_crossover")
    assert rm.code == 0 and rm.json["retired"] is True, rm.stdout
    assert nothing_installed_but_events(home)
    shown = run_cli(home.root, "strategy", "show", "sma_crossover")
    assert shown.json["stage"] == "retired"
    assert h  # the home stays the test's own


def nothing_installed_but_events(home: Home) -> bool:
    """After a remove: no directory and no lock entry (the install event stays: history)."""
    lock = json.loads((home.strategies_dir / "strategies.lock").read_text())
    return not (home.installed_dir / "sma_crossover").exists() and lock["strategies"] == {}


@pytest.mark.slow
def test_from_file_url_without_gate_installs_at_research(tmp_path: Path, candles: Path) -> None:
    pub = Publisher(tmp_path)
    pub.publish([example(tmp_path, "rsi_mean_reversion", instrument=None)])
    home = make_home(tmp_path / "home", candles, trust=pub.public)
    url = pub.out.as_uri()
    listed = _lines(run_cli(home.root, "strategy", "list", "--registry", url).stdout)
    assert [x["name"] for x in listed] == ["rsi_mean_reversion"]
    # no instrument in its manifest and none given: gate 1 cannot run, so nothing is installed
    r = run_cli(home.root, "strategy", "fetch", "rsi_mean_reversion@1.0.0", "--registry", url)
    assert r.code == 3 and r.error["code"] == "registry_no_market"
    assert nothing_installed(home)
    r = run_cli(
        home.root, "strategy", "fetch", "rsi_mean_reversion@1.0.0", "--registry", url, "--no-gate"
    )
    assert r.code == 0, r.stdout + r.stderr
    assert r.json["stage"] == "research" and r.json["registry"] == url + "/"
    assert not (home.installed_dir / "rsi_mean_reversion" / "local_gate_report.json").exists()
    research = _lines(run_cli(home.root, "strategy", "list", "--stage", "research").stdout)
    assert [x["name"] for x in research] == ["rsi_mean_reversion"]
    # fetched twice: refused, the first stays
    again = run_cli(home.root, "strategy", "fetch", "rsi_mean_reversion", "--registry", url)
    assert again.code == 3 and again.error["code"] == "registry_already_installed"
    assert run_cli(home.root, "strategy", "verify").code == 0
    assert run_cli(home.root, "strategy", "remove", "rsi_mean_reversion").code == 0
    assert not (home.installed_dir / "rsi_mean_reversion").exists()
    assert _lines(run_cli(home.root, "strategy", "installed").stdout) == []


def test_the_shipped_index_lists_offline_on_a_fresh_home(tmp_path: Path) -> None:
    """rara's own signed index, verified with the key that ships with rara, no network."""
    home = tmp_path / "fresh"
    r = run_cli(home, "strategy", "list", "--registry")
    assert r.code == 0, r.stdout + r.stderr
    rows = _lines(r.stdout)
    assert {x["name"] for x in rows} >= {"sma_crossover", "rsi_mean_reversion", "donchian_breakout"}
    examples = [x for x in rows if not x["provenance"]["gate_reports"]]  # type: ignore[index]
    assert examples and all(x["stage"] == "research" for x in examples)
    assert not (home / "rara.db").exists()  # a listing writes nothing
    # the plain listing (local roots, lifecycle stages) is unchanged
    plain = _lines(run_cli(home, "strategy", "list").stdout)
    assert {x["origin"] for x in plain} == {"example"}


@pytest.mark.slow
def test_the_daemon_plans_an_installed_candidate_only_as_locked(
    tmp_path: Path, candles: Path
) -> None:
    """The daemon's pick-up reads the lifecycle's paper candidates and plans each from its
    directory: an installed one is planned on its manifest's market, and refused once a file
    differs from the lock."""
    from rara.daemon.trading import plan_of
    from rara.errors import RaraError
    from rara.events import open_event_store
    from rara.feedback.lifecycle import Lifecycle
    from rara.registry.remote.install import FetchRequest
    from rara.services.vetting import fetch_vetted

    pub = Publisher(tmp_path)
    pub.publish([example(tmp_path, "sma_crossover")])
    home = make_home(tmp_path / "home", candles, trust=pub.public)
    got = fetch_vetted(home, FetchRequest.parse("sma_crossover", pub.out.as_uri()))
    with open_event_store(home.state_db, readonly=True) as store:
        [rec] = Lifecycle(store).strategies("paper_candidate")
    assert rec.strategy_id == got["strategy_id"] and rec.history[0].kind == "installed"
    plan = plan_of(home, rec, "paper")
    assert plan.directory == home.installed_dir / "sma_crossover"
    assert (plan.exchange, plan.symbol, plan.timeframe) == ("synthetic", "EDGE/USDT", "1h")
    manifest = home.installed_dir / "sma_crossover" / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"fast": 20', '"fast": 2'))
    with pytest.raises(RaraError) as refused:
        plan_of(home, rec, "paper")
    assert (
        refused.value.code == "registry_verify_failed" and "manifest.json" in refused.value.message
    )


def test_an_installed_candidate_whose_manifest_names_no_market_trades_where_it_was_judged(
    tmp_path: Path, candles: Path
) -> None:
    """A manifest without an instrument is judged on the market the fetch names; the lock keeps
    that market and the daemon plans the strategy there (without it, the candidate could
    never trade)."""
    from rara.daemon.trading import plan_of
    from rara.events import open_event_store
    from rara.feedback.lifecycle import Lifecycle
    from rara.registry.remote.install import FetchRequest
    from rara.registry.remote.lock import read_lock
    from rara.registry.remote.vet import Market
    from rara.services.vetting import fetch_vetted

    pub = Publisher(tmp_path)
    pub.publish([example(tmp_path, "sma_crossover", instrument=None)])
    home = make_home(tmp_path / "home", candles, trust=pub.public)
    market = Market(symbol="EDGE/USDT", timeframe="1h", exchange="synthetic")
    fetch_vetted(home, FetchRequest.parse("sma_crossover", pub.out.as_uri(), market=market))
    assert read_lock(home).strategies["sma_crossover"].instrument == INSTRUMENT
    with open_event_store(home.state_db, readonly=True) as store:
        [rec] = Lifecycle(store).strategies("paper_candidate")
    plan = plan_of(home, rec, "paper")
    assert f"{plan.exchange}:{plan.symbol}:{plan.timeframe}" == INSTRUMENT
