"""What `rara research run` (and so `make run`) ends with, from the real CLI on the shipped
sample in a fresh home: every candidate with its failing check and trade count, a best candidate
that had enough trades to be judged (or none, said plainly, with the closest named), the best's
tear sheet showing the gate verdict, the train/validation boundary and the withheld holdout, and
next commands that are real `rara` commands."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from rara.domain.gate import HOLDOUT_CHECKS
from tests.kit.cli import Cli, ParsedCliResult

ITERATIONS = 6
RUN_TIMEOUT = 900.0  # 6 iterations take ~8 s on a quiet machine; a busy one may take 10x
MIN_TRADES = 30  # the research gate's default floor


@dataclass
class Run:
    cli: Cli
    result: ParsedCliResult

    @property
    def summary(self) -> dict[str, Any]:
        assert self.result.code == 0, self.result.err
        assert isinstance(self.result.out, dict), "stdout is not one JSON document"
        return self.result.out

    def experiment(self, experiment_id: str) -> dict[str, Any]:
        shown = self.cli.run("research", "show", "--experiment-id", experiment_id)
        assert shown.code == 0, shown.err
        assert isinstance(shown.out, dict)
        return shown.out


def research_run(home: Path, *config: tuple[str, str]) -> Run:
    cli = Cli(home)
    for key, value in config:
        assert cli.run("config", "set", key, value).code == 0
    args = ("research", "run", "--iterations", str(ITERATIONS), "--symbol", "BTC/USDT")
    return Run(cli, cli.run(*args, "--timeframe", "1h", timeout=RUN_TIMEOUT))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return research_run(tmp_path_factory.mktemp("summary") / "home")


def rara_args(command: str) -> list[str]:
    args = shlex.split(command)
    assert args[0] == "rara"
    return args[1:]


# ---------------------------------------------------------------- the JSON summary


def test_every_candidate_is_listed_with_its_failed_check_and_trades(run: Run) -> None:
    s = run.summary
    lines = s["candidates"]
    assert (
        [c["iteration"] for c in lines] == list(range(ITERATIONS)) == list(range(s["experiments"]))
    )
    for c in lines:
        e = run.experiment(c["experiment_id"])
        assert (c["family"], c["outcome"]) == (e["family"], e["outcome"])
        assert c["validation_trades"] == e["validation_trades"]
        assert c["failed_check"] == e["failed_check"]
        if e["outcome"] == "paper_candidate":
            assert c["failed_check"] is None
            continue
        assert c["failed_check"], f"iteration {c['iteration']} names no failing check"
        if c["failed_check"] in HOLDOUT_CHECKS:
            assert c["failed_value"] == c["failed_threshold"] == "withheld"
            continue
        checks = {k["name"]: k for k in (e["report"] or {}).get("checks", [])}
        if c["failed_check"] in checks:  # a gate check: its value against its threshold
            check = checks[c["failed_check"]]
            assert check["passed"] is False
            for got, want in (
                (c["failed_value"], check["value"]),
                (c["failed_threshold"], check["threshold"]),
            ):
                assert got == (round(want, 4) if isinstance(want, float) else want)


def test_best_had_enough_trades_to_be_judged(run: Run) -> None:
    s = run.summary
    assert s["min_trades"] == MIN_TRADES
    best = s["best"]
    # the shipped sample's first builtin candidates include an 11-trade one with the highest
    # validation Sharpe: it must not be "best"
    assert best is not None, s["best_why"]
    assert best["validation_trades"] >= MIN_TRADES
    judged = [
        c
        for c in s["candidates"]
        if (c["validation_trades"] or 0) >= MIN_TRADES
        and c["validation_sharpe"] is not None
        and not str(c["failed_check"]).startswith(("lookahead", "determinism"))
    ]
    assert max(c["validation_sharpe"] for c in judged) == round(best["validation_sharpe"], 4)
    assert str(MIN_TRADES) in s["best_why"]
    assert any(
        (c["validation_trades"] or 0) < MIN_TRADES
        and (c["validation_sharpe"] or float("-inf")) > best["validation_sharpe"]
        for c in s["candidates"]
    ), "this run no longer has a fluke to skip: pick a seed that does"


def test_no_best_when_no_candidate_has_enough_trades(tmp_path: Path) -> None:
    # a floor no candidate reaches on the sample (raising a gate threshold is no weakening)
    s = research_run(tmp_path / "home", ("gates.research.min_trades", "100000")).summary
    assert s["min_trades"] == 100000
    assert s["best"] is None and s["best_report"] is None
    assert "100000" in s["best_why"]
    most = max(s["candidates"], key=lambda c: c["validation_trades"] or 0)
    closest = s["closest"]
    assert closest["validation_trades"] == most["validation_trades"] > 0
    assert closest["experiment_id"] in s["best_why"]
    assert str(closest["validation_trades"]) in s["best_why"]
    commands = [c["command"] for c in s["next_commands"]]
    assert f"rara research show --experiment-id {closest['experiment_id']}" in commands
    assert not any(" backtest run " in c for c in commands)


def test_next_commands_close_the_summary_and_are_real_commands(run: Run) -> None:
    s = run.summary
    assert list(s)[-1] == "next_commands"
    commands = [c["command"] for c in s["next_commands"]]
    assert all(c["do"] for c in s["next_commands"])
    heads = [" ".join(rara_args(c)[:2]) for c in commands]
    assert {"research show", "research list", "backtest run", "research run"} <= set(heads)
    assert any("--resume" in c and s["run_id"] in c for c in commands)
    assert any("--proposer llm" in c for c in commands)
    for command in commands:  # every command line parses: names, options, arguments
        helped = run.cli.run(*rara_args(command), "--help")
        assert helped.code == 0 and str(helped.out).startswith("Usage:"), (command, helped.err)
    # and the ones that read this run work on it
    shown = run.cli.run(*rara_args(commands[heads.index("research show")]))
    assert shown.code == 0 and shown.out["experiment_id"] == s["best"]["experiment_id"]
    assert run.cli.run(*rara_args(commands[heads.index("research list")])).code == 0
    tested = run.cli.run(*rara_args(commands[heads.index("backtest run")]), timeout=RUN_TIMEOUT)
    assert tested.code == 0, tested.err
    # the backtest stops where the holdout starts: trying it does not spend the holdout
    holdout = run.experiment(s["best"]["experiment_id"])["report"]["split"]["holdout_dates"]
    assert tested.out["metrics"]["end"] <= holdout[0]


def test_stderr_ends_with_the_human_block(run: Run) -> None:
    s = run.summary
    err = run.result.err
    tail = err[err.rindex("Next:") :]
    for c in s["next_commands"]:
        assert c["command"] in tail and c["do"] in tail
    assert s["best"]["experiment_id"] in err and s["best_report"] in err


# ---------------------------------------------------------------- the best's tear sheet


class TearSheet(HTMLParser):
    """The gate table's rows (data-check -> cell texts), the section ids, every element id and
    every text node of the page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: dict[str, list[str]] = {}
        self.results: dict[str, str] = {}
        self.ids: list[str] = []
        self.sections: list[str] = []
        self.text: list[str] = []
        self._row: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(a["id"] or "")
        if tag == "section":
            self.sections.append(a.get("id") or "")
        if tag == "tr" and a.get("data-check"):
            self._row = a["data-check"] or ""
            self.rows[self._row] = []
            self.results[self._row] = a.get("data-result") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._row is not None and data.strip():
            self.rows[self._row].append(data.strip())


def test_tear_sheet_shows_the_verdict_boundary_and_withheld_holdout(run: Run) -> None:
    s = run.summary
    html = Path(s["best_report"]).read_text(encoding="utf-8")
    page = TearSheet()
    page.feed(html)
    report = run.experiment(s["best"]["experiment_id"])["report"]
    assert page.sections[:3] == ["summary", "gate", "equity"]
    # every check of the report, in order, with its value, threshold and result
    assert list(page.rows) == [c["name"] for c in report["checks"]]
    for c in report["checks"]:
        cells = page.rows[c["name"]]
        if c["name"] in HOLDOUT_CHECKS:
            assert page.results[c["name"]] == "withheld" and set(cells[1:4]) == {"withheld"}
            continue
        want = "skipped" if c["skipped"] else "pass" if c["passed"] else "fail"
        assert page.results[c["name"]] == want and cells[3].lower() == want
        if isinstance(c["threshold"], float):
            assert cells[2] == f"{c['threshold']:,.4g}"
        if isinstance(c["value"], float):
            assert cells[1] == f"{c['value']:,.4g}"
    # the train/validation boundary: a marker on the equity chart, and said in words
    split = report["split"]
    assert "equity-boundary-train-validation" in page.ids
    first_validation = split["validation_dates"][0]
    words = " ".join(page.text)
    assert f"{first_validation[:10]} {first_validation[11:16]} UTC divides train" in words
    # the holdout: withheld, with its range, and none of its bars on the page
    hold = split["holdout_dates"]
    withheld = re.search(r"Holdout withheld \(bars opening ([^)]*)\)", words)
    assert withheld is not None
    assert withheld.group(1).startswith(f"{hold[0][:10]} {hold[0][11:16]} to {hold[1][:10]}")
    assert hold[1][:10] not in html.replace(withheld.group(1), "")
