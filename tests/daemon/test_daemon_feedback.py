"""Acceptance 5 of the daemon issue, through a real `rara run`: a strategy made to degrade in the
replay is demoted, its retrain request reaches the daemon's research, and that research run
proposes with the strategy's lessons.

The planted-edge home, with the edge taken away after the split: the bars research sees carry
the momentum edge (research promotes a tsmom at its first iteration), the bars the paper replay
trades are a fresh walk without it, so what research promoted pays costs for nothing and
``feedback.retire_drawdown`` (10%) retires it, or gate 2 fails when the replay ends. Either way
feedback appends ``feedback_research_retrain_requested`` before the demotion, and the daemon's
research takes the request up at its next run (``research_retrain_started``).

What the proposer was handed is not in the log, but the built-in proposer is a pure function of
its context: the retrain run's first proposal, as recorded, is recomputed here from the context
with the strategy's lessons pinned (`rara.research.retrain.strategy_lessons`), and differs from
the one the same context without them gives. Research is switched off with SIGHUP once the
retrain run started, so no later run's lessons change what recall finds.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from rara.config import load_settings
from rara.data.catalog import Catalog
from rara.data.synth import generate
from rara.events import open_event_store
from rara.home import Home
from rara.research.context import ContextBuilder
from rara.research.memory import LessonStore
from rara.research.retrain import strategy_lessons, taken_by_run
from rara.research.run_setup import RunConfig, make_proposer
from rara.research.store import ResearchStore
from tests.kit.daemon import planted_edge_home
from tests.kit.daemon_process import DaemonProcess

RETIRE_DRAWDOWN = 0.10
FLAT_SEED = 11  # the walk after the split: no edge


def take_the_edge_away(home: Path, kit: Any) -> None:
    """Replace the bars after the split with a seeded walk without the edge, continuing from the
    last close before it (no gap for the strategy to trade on)."""
    catalog = Catalog(home / "data")
    inst = catalog.resolve(kit.symbol, kit.timeframe, kit.exchange)
    before = catalog.load(inst, None, kit.split_ms)
    flat = generate(
        kit.paper_bars,
        kit.timeframe,
        start_ms=kit.split_ms,
        seed=FLAT_SEED,
        start_price=float(before.close[-1]),
    )
    catalog.write(inst, flat.candles, flat.source)
    after = catalog.load(inst, kit.split_ms, None)
    assert len(after) == kit.paper_bars and float(after.close[0]) == float(flat.candles.close[0])


def configure(home: Path) -> None:
    config = home / "config.toml"
    text = config.read_text(encoding="utf-8")
    text = text.replace("[daemon]\n", "[daemon]\nfeedback_interval_s = 1.0\n", 1)
    text += f"\n[feedback]\nretire_drawdown = {RETIRE_DRAWDOWN}\n"
    text += "\n[sentinel]\nenabled = false\n"
    config.write_text(text, encoding="utf-8")


def switch_research_off(home: Path) -> None:
    config = home / "config.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace("[daemon.research]\n", "[daemon.research]\nenabled = false\n", 1),
        encoding="utf-8",
    )


def test_a_degrading_strategy_is_demoted_and_research_retrains_with_its_lessons(
    rara_home: Path, cli: Any
) -> None:
    kit = planted_edge_home(rara_home, cli)
    take_the_edge_away(rara_home, kit)
    configure(rara_home)
    with DaemonProcess(rara_home, "--speed", "max", "--paper-only") as d:
        d.wait_ready()
        started = d.wait_event("research_retrain_started", timeout_s=300)
        # no research run after this one: what recall finds stays what it found
        switch_research_off(rara_home)
        d.proc.send_signal(signal.SIGHUP)
        reloaded = d.wait_event("daemon_config_reloaded")
        assert reloaded.payload["applied"], reloaded.payload
        assert "daemon.research.enabled" in reloaded.payload["changed"]
        run_id = started.correlation_id
        assert run_id is not None
        iterations = kit.iterations
        d.wait_event(
            "research_experiment_completed",
            lambda e: e.correlation_id == run_id and e.payload["iteration"] == iterations - 1,
            timeout_s=300,
        )
        assert d.stop() == 0

    strategy = started.payload["strategy_id"]
    # the degrading strategy was demoted by feedback, the request first
    requests = [
        e for e in d.events("feedback_research_retrain_requested") if e.strategy_id == strategy
    ]
    demotions = [e for e in d.events("feedback_strategy_demote") if e.strategy_id == strategy]
    assert len(requests) == 1 and len(demotions) == 1, (requests, demotions)
    request, demotion = requests[0], demotions[0]
    assert request.seq < demotion.seq
    assert demotion.payload["stage"] == "paper" and demotion.payload["to_stage"] == "retired"
    assert demotion.payload["decided_by"] == "feedback"
    reason = demotion.payload["reason"]
    assert f"beyond {RETIRE_DRAWDOWN:.0%}" in reason or reason.startswith("paper run ended"), reason
    assert request.payload["reason"] == reason
    assert started.payload["request_event_id"] == request.event_id
    assert (request.payload["symbol"], request.payload["exchange"]) == (kit.symbol, kit.exchange)
    # it had been promoted by the daemon's research and paper-traded in the daemon
    candidate = [e for e in d.events("research_strategy_candidate") if e.strategy_id == strategy]
    assert candidate and candidate[0].correlation_id != run_id
    assert [e for e in d.events("trading_order_filled") if e.strategy_id == strategy]
    # research ran nothing after the retrain run (recall below sees what it saw)
    runs = [e.correlation_id for e in d.events("research_run_started")]
    assert runs[-1] == run_id, runs

    # the retrain run's first proposal is the one its context with the strategy's lessons gives
    home = Home(root=rara_home)
    settings = load_settings(home)
    with (
        open_event_store(home.state_db, readonly=True) as events,
        ResearchStore(home.state_db) as research,
        LessonStore(home.state_db) as lessons,
    ):
        taken = taken_by_run(events, run_id)
        assert taken is not None and taken.event_id == request.event_id
        cfg = RunConfig(**research.run_config(run_id))
        first = next(e for e in research.of_run(run_id) if e.iteration == 0)
        own = lessons.of_run(run_id)
        assert own, "the retrain run left no lesson"
        regime = own[0].regime
        catalog = Catalog(home.data_dir)
        inst = catalog.resolve(cfg.symbol, cfg.timeframe, cfg.exchange)
        n_bars = len(catalog.load(inst, None, cfg.as_of_ms))
        pinned = tuple(strategy_lessons(events, lessons, taken, regime))
        contexts = {
            with_them: ContextBuilder(
                run_id, cfg.seed, inst, regime, lessons, pinned=pinned if with_them else ()
            ).of([], 0, None)
            for with_them in (True, False)
        }
    insights = [ls.insight for ls in contexts[True].lessons]
    assert insights[0].endswith(f"was demoted from paper: {reason}"), insights
    produced_by = candidate[0].payload["experiment_id"]
    assert produced_by in [ls.experiment_id for ls in contexts[True].lessons]
    assert not any("was demoted" in ls.insight for ls in contexts[False].lessons)

    def proposed(with_them: bool) -> dict[str, Any]:
        c = make_proposer(cfg, settings, n_bars, home).propose(contexts[with_them]).candidate
        return {"hypothesis": c.hypothesis.model_dump(mode="json"), "params": c.params}

    recorded = {"hypothesis": first.hypothesis, "params": first.params}
    assert proposed(True) == recorded
    assert proposed(False) != recorded
