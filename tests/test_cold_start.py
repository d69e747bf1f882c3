"""Cold start, held structurally (never by the clock): commands that do not backtest import
nothing heavy, and a command that will backtest imports vectorbt in the background warm-up
(`rara.backtest.preload`), not on its main thread; a failed warm-up is raised where the first
backtest waits for it.

Each case runs a fresh interpreter (a real subprocess of the CLI): what one test imports must
not hide what another would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rara.cli import GROUPS

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("numpy", "pandas", "pyarrow", "duckdb", "vectorbt", "numba", "litellm", "docker", "grpc")
# what only a backtest, an LLM call or the container sandbox needs
BACKTEST_AND_REMOTE = ("vectorbt", "numba", "litellm", "docker", "grpc")

# Runs `rara ARGS...` as `python -m rara` does, then writes the exit code, the imported modules
# and which thread first imported vectorbt (an audit hook sees every import) to a JSON file.
PROBE = """
import json, runpy, sys, threading
out, args = sys.argv[1], json.loads(sys.argv[2])
importers = {}

def hook(event, info):
    if event == "import" and info[0] in ("vectorbt", "numba") and info[0] not in importers:
        importers[info[0]] = threading.current_thread().name

sys.addaudithook(hook)
sys.argv = ["rara", *args]
code = 0
try:
    runpy.run_module("rara", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
with open(out, "w") as f:
    json.dump({"code": code, "modules": sorted(sys.modules), "importers": importers}, f)
"""


def run_cli(tmp_path: Path, *args: str) -> dict[str, object]:
    out = tmp_path / "probe.json"
    env = {**os.environ, "RARA_HOME": str(tmp_path / "home")}
    subprocess.run(
        [sys.executable, "-c", PROBE, str(out), json.dumps(args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=600,  # a cold backtest on a loaded 2-core box
        check=False,
    )
    result: dict[str, object] = json.loads(out.read_text())
    return result


def heavy_in(modules: object, names: tuple[str, ...]) -> list[str]:
    assert isinstance(modules, list)
    return [m for m in modules if m.partition(".")[0] in names]


@pytest.mark.parametrize("group", ["", *(g.name or "" for g in GROUPS)])
def test_help_imports_nothing_heavy(tmp_path: Path, group: str) -> None:
    probe = run_cli(tmp_path, *([group] if group else []), "--help")
    assert probe["code"] == 0
    assert heavy_in(probe["modules"], HEAVY) == []
    if not group:  # the root's help: click and the CLI package, not even pydantic or rich
        assert heavy_in(probe["modules"], ("rich", "pydantic")) == []


@pytest.mark.parametrize(
    "args",
    [("config", "list"), ("events", "query"), ("research", "list"), ("strategy", "list")],
    ids=" ".join,
)
def test_a_command_that_only_reads_state_imports_no_data_stack(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    probe = run_cli(tmp_path, *args)
    assert probe["code"] == 0
    # numpy comes with the sandbox's shared vocabulary (the strategy registry, the backends)
    assert heavy_in(probe["modules"], tuple(m for m in HEAVY if m != "numpy")) == []


def test_validate_imports_no_engine_and_no_remote_client(tmp_path: Path) -> None:
    probe = run_cli(tmp_path, "validate")
    assert "rara.health" in probe["modules"]  # it ran
    assert heavy_in(probe["modules"], BACKTEST_AND_REMOTE) == []


@pytest.mark.parametrize(
    "args",
    [
        ("backtest", "run", "strategies/examples/sma_crossover/strategy.py"),
        ("research", "run", "--iterations", "1", "--quiet"),
    ],
    ids=["backtest run", "research run"],
)
def test_a_command_that_backtests_imports_vectorbt_in_the_background(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    probe = run_cli(tmp_path, *args, "--symbol", "BTC/USDT", "--timeframe", "1h")
    assert probe["code"] == 0, probe["code"]
    assert probe["importers"] == {
        "vectorbt": "rara-backtest-preload",
        "numba": "rara-backtest-preload",
    }


def test_a_failed_warm_up_is_raised_at_the_first_wait_only(tmp_path: Path) -> None:
    # vectorbt made unimportable in a fresh interpreter: the warm-up's ImportError must reach
    # the thread that waits, once; a later wait finds no warm-up result and leaves the backtest
    # to import for itself
    script = """
import sys
sys.modules["vectorbt"] = None
from rara.backtest import preload
from rara.backtest.warm import warm_up
preload.start(warm_up)
preload.start(warm_up)  # once per process
try:
    preload.wait()
except ImportError as exc:
    print("raised", type(exc).__name__)
print("then", repr(preload.wait()))
"""
    res = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.split("\n")[:2] == ["raised ModuleNotFoundError", "then ''"]


def test_wait_without_start_returns_at_once() -> None:
    script = "from rara.backtest import preload; print(preload.started(), repr(preload.wait()))"
    res = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert res.stdout.strip() == "False ''", res.stderr


def test_a_backtest_beside_the_warm_up_never_imports_numba_itself() -> None:
    # Two threads importing numba at once meet a partially initialised module (numba's imports
    # are circular): a research run crashed so, its gate computing stop levels (numba kernels)
    # while the warm-up was still importing vectorbt. Started and then backtested at once, with
    # stop levels and metrics, no other thread may import a numba module while the warm-up runs.
    # (Once it is done, numba may still import a module lazily in whichever thread calls it, or
    # in a finalizer the garbage collector runs there: harmless, nothing imports beside it.)
    script = """
import sys, threading
loaders = set()

def hook(event, info):
    if event == "import" and info[0].partition(".")[0] == "numba":
        warming = preload._thread is not None and preload._thread.is_alive()
        if warming or threading.current_thread() is preload._thread:
            loaders.add(threading.current_thread().name)

from rara.backtest import preload

sys.addaudithook(hook)
import numpy as np
from rara.backtest.engine import BacktestConfig, run_backtest
from rara.backtest.metrics import compute_metrics
from rara.backtest.warm import warm_up
from rara.domain.market import Candles

px = np.linspace(100.0, 120.0, 50)
candles = Candles(np.arange(50, dtype=np.int64) * 3_600_000, px, px * 1.01, px * 0.99, px, px)
entries = np.zeros(50, dtype=bool)
entries[::10] = True
exits = np.zeros(50, dtype=bool)
exits[5::10] = True
preload.start(warm_up)
result = run_backtest(candles, entries, exits, BacktestConfig(), stop_loss=0.02)
compute_metrics(result, candles)
print(sorted(loaders))
"""
    res = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "['rara-backtest-preload']"
