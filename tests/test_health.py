"""`rara.health`: the checks behind `rara validate` as typed results for a given home, the same
document the command prints, and faults found without a crash."""

from __future__ import annotations

from pathlib import Path

from rara.data.catalog import Catalog
from rara.events.store import open_event_store
from rara.health import HealthCheck, HealthReport, check_health, data_checks, state_checks
from rara.home import Home


def names(report: HealthReport) -> list[str]:
    return [c.name for c in report.checks]


def test_a_fresh_home_is_healthy_and_typed(tmp_path: Path, rara_home: Path) -> None:
    home = Home(root=tmp_path / "fresh")
    report = check_health(home)
    assert isinstance(report, HealthReport) and report.home == home.root
    assert all(isinstance(c, HealthCheck) for c in report.checks)
    first = ["python", "rara_home", "config", "llm", "data", "state_db", "event_chain"]
    assert names(report)[: len(first) + 1] == [*first, "sandbox.restricted_python"]
    assert names(report)[-1] == "docker"
    assert report.ok and report.faults == []
    by_name = {c.name: c for c in report.checks}
    assert by_name["llm"].status == "not_configured" and by_name["llm"].suggestion
    assert not by_name["llm"].ok and not by_name["llm"].fault
    assert by_name["state_db"].detail.startswith(f"{home.state_db} not created yet")
    assert not home.root.exists() and not rara_home.exists()  # checking wrote nothing


def test_the_report_is_what_validate_prints(cli, rara_home: Path) -> None:
    printed = cli("validate").json
    report = check_health(Home(root=rara_home)).to_json()
    assert set(printed) == set(report) == {"ok", "rara_home", "faults", "checks"}
    assert printed["rara_home"] == report["rara_home"] == str(rara_home)
    assert [(c["name"], c["status"]) for c in printed["checks"]] == [
        (c["name"], c["status"]) for c in report["checks"]
    ]
    for c in report["checks"]:  # a suggestion only where there is one, as before
        assert set(c) in ({"name", "status", "detail"}, {"name", "status", "detail", "suggestion"})


def test_each_home_is_checked_on_its_own(tmp_path: Path) -> None:
    used, fresh = Home(root=tmp_path / "used"), Home(root=tmp_path / "fresh")
    open_event_store(used.state_db).close()
    used_checks = {c.name: c for c in state_checks(used.state_db)}
    assert used_checks["state_db"].ok and "wal mode, 0 events" in used_checks["state_db"].detail
    assert used_checks["event_chain"].detail == "0 events, chain intact"
    fresh_checks = {c.name: c for c in state_checks(fresh.state_db)}
    assert "not created yet" in fresh_checks["state_db"].detail
    assert not fresh.root.exists()


def test_a_damaged_state_db_is_a_fault_not_a_crash(tmp_path: Path) -> None:
    home = Home(root=tmp_path / "h")
    home.ensure(home.root)
    home.state_db.write_bytes(b"this is not a database" * 100)
    report = check_health(home)
    assert not report.ok and report.faults == ["state_db"]
    (check,) = [c for c in report.checks if c.name == "state_db"]
    assert check.fault and str(home.state_db) in check.detail and check.suggestion
    assert report.to_json()["faults"] == ["state_db"]


def test_an_unreadable_data_file_is_a_fault(tmp_path: Path) -> None:
    home = Home(root=tmp_path / "h")
    bad = home.ensure(home.data_dir / "binance" / "SOL-USDT" / "1h") / "2024.parquet"
    bad.write_bytes(b"not parquet")
    checks = data_checks(Catalog(home.data_dir, embedded=None))
    faults = [c for c in checks if c.fault]
    assert [c.name for c in faults] == ["data_file"]
    assert str(bad) in faults[0].detail and faults[0].suggestion


def test_the_settings_checked_are_the_given_homes(tmp_path: Path, rara_home: Path) -> None:
    broken, fresh = Home(root=tmp_path / "broken"), Home(root=rara_home)
    broken.ensure(broken.root)
    broken.config_file.write_text("[data]\ndefault_exchang = 'kraken'\n", encoding="utf-8")
    report = check_health(broken)
    assert report.faults == ["config"]
    (check,) = [c for c in report.checks if c.name == "config"]
    assert str(broken.config_file) in check.detail
    assert check_health(fresh).ok  # the environment's home is not the broken one
