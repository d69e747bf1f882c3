"""The registry: home-promoted, installed and shipped strategies (promoted by the gate with their
report, or examples) listed and found by one rule, typed manifests, paper candidates written
through it, and a malformed manifest (or a shipped promotion without its report) refused clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rara.domain.strategy import StrategyMeta
from rara.errors import BadInput
from rara.home import Home
from rara.registry import (
    EXAMPLES_ROOT,
    GATE_REPORT_FILE,
    SHIPPED_ROOT,
    Manifest,
    ManifestError,
    Registry,
    read_manifest,
)
from rara.runner.strategy_source import resolve_strategy

EXAMPLES = ("donchian_breakout", "rsi_mean_reversion", "sma_crossover")
SMA_MANIFEST = json.loads((EXAMPLES_ROOT / "sma_crossover" / "manifest.json").read_text())


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(root=tmp_path / "home")


def promoted_manifest(source: str, **changes: object) -> Manifest:
    """The example sma_crossover's manifest, re-pinned to `source`, with provenance."""
    import hashlib

    base = read_manifest(EXAMPLES_ROOT / "sma_crossover").to_json()
    body = {
        **base,
        "sha256": hashlib.sha256(source.encode()).hexdigest(),
        "stage": "paper_candidate",
        "run_id": "run-1",
        "experiment_id": "run-1-0007",
        "instrument": "binance:BTC/USDT:1h",
        "data_range": ["2024-01-01T00:00:00Z", "2024-03-01T00:00:00Z"],
        "trial_ids": {"train": "tr_1", "validation": "tr_2"},
        **changes,
    }
    return Manifest.model_validate(body)


def test_example_manifests_read_typed_and_round_trip() -> None:
    for name in EXAMPLES:
        text = (EXAMPLES_ROOT / name / "manifest.json").read_text(encoding="utf-8")
        m = read_manifest(EXAMPLES_ROOT / name)
        assert m.name == name and m.source == "strategy.py" and m.stage is None
        assert m.render() == text  # no provenance keys invented, same bytes as the file
        assert type(m.meta) is StrategyMeta and m.meta.params == m.params


def test_listing_holds_examples_and_home_promoted(home: Home) -> None:
    registry = Registry(home)
    # nothing promoted: the shipped strategies are examples, and say so
    assert [(e.origin, e.name) for e in registry.listing().strategies] == [
        ("example", n) for n in EXAMPLES
    ]
    source = (EXAMPLES_ROOT / "sma_crossover" / "strategy.py").read_text() + "\n# tuned\n"
    path = registry.add_promoted(promoted_manifest(source), source, {"gate_report.json": "{}"})
    assert path == home.promoted_dir / "sma_crossover"
    listing = registry.listing()
    assert not listing.problems
    assert [(e.origin, e.name) for e in listing.strategies] == [
        ("promoted", "sma_crossover"),
        *(("example", n) for n in EXAMPLES),
    ]
    mine = listing.strategies[0]
    assert mine.manifest.run_id == "run-1" and mine.source_path.read_text() == source
    assert [e.name for e in registry.listing(origins=["promoted"]).strategies] == ["sma_crossover"]
    # the home's copy shadows the example of the same name
    assert registry.locate("sma_crossover") == path / "strategy.py"
    assert resolve_strategy("sma_crossover", registry).source == source
    entry = registry.get("sma_crossover")
    assert entry is not None and entry.origin == "promoted"
    # another home sees only what ships: the example, found by name and labelled as one
    other = Registry(Home(root=home.root.parent / "other"))
    assert other.locate("sma_crossover") == EXAMPLES_ROOT / "sma_crossover" / "strategy.py"
    assert resolve_strategy("sma_crossover", other).path == other.locate("sma_crossover")
    example = other.get("sma_crossover")
    assert example is not None and example.origin == "example"
    assert not other.listing(origins=["promoted", "shipped"]).strategies


def test_what_ships_as_promoted_passed_the_gate() -> None:
    """The repository's promoted root holds only strategies beside the report that promoted
    them (today none), and says so; the reference strategies are examples."""
    assert (SHIPPED_ROOT / "README.md").is_file()
    for source in SHIPPED_ROOT.glob("*/strategy.py"):
        assert (source.parent / GATE_REPORT_FILE).is_file(), source.parent
        assert read_manifest(source.parent).stage == "paper_candidate"
    assert not set(EXAMPLES) & {p.parent.name for p in SHIPPED_ROOT.glob("*/strategy.py")}


def test_a_shipped_promotion_without_its_report_is_refused(home: Home, tmp_path: Path) -> None:
    shipped = tmp_path / "shipped"
    registry = Registry(home, shipped=shipped, examples=None)
    source = "# promoted by the gate\n"
    for name in ("reported", "claimed"):
        d = shipped / name
        d.mkdir(parents=True)
        (d / "strategy.py").write_text(source)
        (d / "manifest.json").write_text(promoted_manifest(source, name=name).render())
    (shipped / "reported" / GATE_REPORT_FILE).write_text("{}")
    listing = registry.listing()
    assert [(e.origin, e.name) for e in listing.strategies] == [("shipped", "reported")]
    assert [p.path for p in listing.problems] == [shipped / "claimed" / GATE_REPORT_FILE]
    assert "gate report" in listing.problems[0].message
    # nor is it found by name
    assert registry.names() == ["reported"]
    assert registry.locate("claimed") is None and registry.get("claimed") is None
    entry = registry.get("reported")
    assert entry is not None and entry.origin == "shipped"


def test_same_name_different_code_keeps_both(home: Home) -> None:
    registry = Registry(home, shipped=None, examples=None)
    first, second = "# one\n", "# two\n"
    a = registry.add_promoted(promoted_manifest(first), first)
    again = registry.add_promoted(promoted_manifest(first, run_id="run-2"), first)
    b = registry.add_promoted(promoted_manifest(second), second)
    assert a == again == home.promoted_dir / "sma_crossover"  # same code: the same directory
    assert read_manifest(a).run_id == "run-2"
    assert b.name == f"sma_crossover-{read_manifest(b).sha256[:8]}"
    assert registry.names() == sorted([a.name, b.name])
    assert not list(home.promoted_dir.rglob("*.tmp"))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "a manifest is a JSON object, not list"),
        (json.dumps({"name": "broken", "version": "1.0.0"}), "sha256: Field required"),
        (json.dumps({**SMA_MANIFEST, "lookback": "fifty"}), "lookback: Input should be a valid"),
        (json.dumps({**SMA_MANIFEST, "surprise": 1}), "surprise: Extra inputs are not permitted"),
    ],
)
def test_a_malformed_manifest_is_refused_clearly(home: Home, text: str, problem: str) -> None:
    bad = home.promoted_dir / "broken"
    bad.mkdir(parents=True)
    (bad / "strategy.py").write_text("# broken\n")
    (bad / "manifest.json").write_text(text)
    with pytest.raises(ManifestError) as err:
        read_manifest(bad)
    assert err.value.code == "bad_manifest" and err.value.exit_code == 1
    assert err.value.message.startswith(f"{bad / 'manifest.json'}: ")
    assert problem in err.value.message
    assert "pydantic.dev" not in err.value.message and err.value.suggestion
    listing = Registry(home).listing()
    assert [p.path for p in listing.problems] == [bad / "manifest.json"]
    assert [e.name for e in listing.strategies] == list(EXAMPLES)  # the rest is still listed


def test_a_missing_manifest_is_an_error_not_a_crash(home: Home) -> None:
    with pytest.raises(ManifestError, match="missing"):
        read_manifest(home.promoted_dir / "nothing")


def test_names_never_leave_a_root(home: Home) -> None:
    registry = Registry(home)
    for name in ("", ".", "..", "../promoted/sma_crossover", "sma_crossover/../sma_crossover"):
        assert registry.locate(name) is None, name
    with pytest.raises(BadInput) as err:
        resolve_strategy("sma_crosover", registry)
    assert err.value.code == "strategy_not_found"
    assert "did you mean 'sma_crossover'?" in err.value.suggestion


def test_research_promoted_lists_the_home_and_warns_on_a_bad_manifest(cli, rara_home) -> None:
    home = Home(root=rara_home)
    r = cli("research", "promoted")
    assert r.code == 0 and r.stdout == ""  # examples are not research's promotions
    source = "# promoted\n"
    Registry(home).add_promoted(promoted_manifest(source), source)
    bad = home.ensure(home.promoted_dir / "broken")
    (bad / "manifest.json").write_text("{not json")
    r = cli("research", "promoted")
    assert r.code == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(row["name"], row["run_id"]) for row in rows] == [("sma_crossover", "run-1")]
    assert rows[0]["path"] == str(home.promoted_dir / "sma_crossover")
    assert "broken" in r.stderr and "not JSON" in r.stderr


def test_commands_find_strategies_through_the_registry(cli, rara_home) -> None:
    r = cli("sandbox", "check", "sma_crossover")
    assert r.code == 0, r.stderr
    assert r.json["path"] == str(EXAMPLES_ROOT / "sma_crossover" / "strategy.py")
    home = Home(root=rara_home)
    source = (EXAMPLES_ROOT / "sma_crossover" / "strategy.py").read_text() + "\n# mine\n"
    path = Registry(home).add_promoted(promoted_manifest(source), source)
    assert cli("sandbox", "check", "sma_crossover").json["path"] == str(path / "strategy.py")
    r = cli("sandbox", "check", "donchian_breakot")
    assert r.code == 2 and r.error["code"] == "strategy_not_found"
    assert "did you mean 'donchian_breakout'?" in r.error["suggestion"]


def test_strategy_list_labels_examples_and_promotions(cli, rara_home) -> None:
    r = cli("strategy", "list")
    assert r.code == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(row["origin"], row["name"]) for row in rows] == [("example", n) for n in EXAMPLES]
    assert rows[-1]["path"] == str(EXAMPLES_ROOT / "sma_crossover")
    assert rows[-1]["sha256"] == SMA_MANIFEST["sha256"]
    home = Home(root=rara_home)
    source = "# promoted\n"
    Registry(home).add_promoted(promoted_manifest(source), source)
    r = cli("strategy", "list", "--origin", "promoted")
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(row["origin"], row["name"], row["stage"]) for row in rows] == [
        ("promoted", "sma_crossover", "paper_candidate")
    ]
