"""The daemon (`rara run`) at rest and at length: its idle CPU with 10 paper strategies on 1h
bars, and its resident memory over a soak.

- idle CPU: a real `rara run --feed replay --speed 1 --no-research` (a fresh home; 10
  strategies at stage paper, each a variant of a shipped example with its own source and so its
  own strategy_id, on the shipped BTC/USDT 1h candles; the sentinel on with no feeds, feedback
  on its default interval). At speed 1 a 1h bar comes once an hour of real time, so between
  bars the daemon only waits: its engines' feed timeouts, the conductor's turn, the status
  writes, feedback and the sentinel. After ready and a warm-up, the CPU time of its process
  tree (utime + stime + what each reaped, from /proc, of the daemon and every process under it:
  the sandbox's jailed workers run in sessions of their own, so not its process group) over
  windows of ~20 s, as % of one core per window. The reference: the same daemon on a fresh home
  with 0 strategies, measured in the same run. Target: < 2% of a core (issue 14.6).
- memory: the same 10 strategies on an accelerated replay (``--speed 3600``: a bar per second
  per engine, so they trade) with research on, sampled every few seconds for 10 minutes
  (``--quick``: 30 s), as two series: the PSS of the daemon's process tree (every process's
  proportional set size summed, so pages the sandbox's forked workers share count once) and
  the RSS of the daemon process alone (the tree's sum swings by hundreds of MB as a research
  run's workers come and go). Printed for each: the min / median / max, the last-vs-first
  quarter median ratio, the slope of each quarter, and the least-squares slope over the whole
  soak in MB/hour. The soak starts after ``soak_warmup_s`` (5 minutes) of the same load: the
  daemon's resident memory climbs by ~10 MB over its first few hundred research runs (caches
  filling: pydantic-core's string cache, numba's dispatch, pymalloc's arenas; a loop of 400
  runs in one process levels off), which a 10-minute soak from ready would read as a trend;
  the warm-up's rise is printed. The trend is judged on the resting level: the lowest sample
  of each ``RESTING_BLOCK_S`` block (samples every 0.5 s), since a leak raises the level the
  daemon comes back to between research runs while a run's transient arrays only add spikes
  above it. Verdict per series: growth when the slope is above ``GROWTH_MB_PER_HOUR`` by two
  standard errors (see there). The slope of the block medians is printed beside it.

    python -m benchmarks.bench_daemon [--quick]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.report import Figure, Spread, env_int, print_figures, quick, verdict

STRATEGIES = 10
EXAMPLES = ("sma_crossover", "donchian_breakout", "rsi_mean_reversion")
INSTRUMENT = "binance:BTC/USDT:1h"
IDLE_TARGET_PCT = 2.0
# A leak worth the name shows as a steady climb; 20 MB/hour is 480 MB a day, which an unattended
# daemon running for weeks could not afford. The samples scatter by tens of MB (a research run's
# candles and arrays held while it runs), so a 5-minute half's slope (on medians of 5 samples
# 2 s apart) had two standard errors of 25-40 MB/hour (measured), too wide to tell 20 MB/hour
# from none; the whole 10 minutes after the warm-up narrow it by ~2.8x. The verdict is "growth"
# only when the slope is above the threshold by two standard errors, "no growth trend" when
# below it by two, "inconclusive" in between. The medians still scattered (+16.5 +- 12 MB/hour
# over 10 minutes, +7.95 +- 4 over 30, CI load): a sample in a block lands mid-run of research
# as often as not. Each block's lowest sample is the resting level, what a leak would raise.
GROWTH_MB_PER_HOUR = 20.0
RESTING_BLOCK_S = 10.0
REPO = Path(__file__).resolve().parent.parent


# ---- a home with strategies at paper ------------------------------------------------------
def write_paper_home(home: Path, strategies: int, *, research: bool) -> list[str]:
    """A fresh home whose config lets `strategies` paper candidates trade at once, each written
    under ``strategies/promoted/`` through the registry (a distinct source, so a distinct
    strategy_id) and logged as a research candidate; the conductor moves them to paper. Returns
    their strategy ids."""
    os.environ["RARA_HOME"] = str(home)
    from rara.domain.events import ResearchStrategyCandidate
    from rara.domain.strategy import source_sha256, strategy_id
    from rara.events import open_event_store
    from rara.home import Home
    from rara.registry import Manifest, Registry
    from rara.registry.manifest import read_manifest
    from rara_sandbox.manifest import STRATEGY_FILE

    home.mkdir(parents=True, exist_ok=True)
    lines = ["[daemon]", f"max_paper_strategies = {max(strategies, 1)}"]
    if research:  # a short research run at a time, so runs come and go during the soak
        lines += ["[daemon.research]", "iterations_per_run = 4"]
    (home / "config.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    h = Home.from_env()
    registry = Registry(h)
    ids: list[str] = []
    with open_event_store(h.state_db) as store:
        for k in range(strategies):
            example = REPO / "strategies" / "examples" / EXAMPLES[k % len(EXAMPLES)]
            shipped = read_manifest(example)
            source = (example / STRATEGY_FILE).read_text(encoding="utf-8")
            source += f"\n# bench variant {k}: its own source, its own strategy_id\n"
            sid = strategy_id(source, shipped.version)
            manifest = Manifest.model_validate(
                {
                    **shipped.to_json(),
                    "name": f"{shipped.name}_v{k}",
                    "sha256": source_sha256(source),
                    "stage": "paper_candidate",
                    "strategy_id": sid,
                    "run_id": "run-bench",
                    "experiment_id": f"run-bench-{k:04d}",
                    "instrument": INSTRUMENT,
                }
            )
            directory = registry.add_promoted(manifest, source)
            store.append(
                ResearchStrategyCandidate(
                    experiment_id=f"run-bench-{k:04d}",
                    name=manifest.name,
                    path=str(directory.relative_to(home)),
                    stage="paper_candidate",
                    trial_ids={},
                ),
                source="research.loop",
                correlation_id="run-bench",
                strategy_id=sid,
            )
            ids.append(sid)
    return ids


@contextmanager
def running_daemon(home: Path, *args: str) -> Iterator[object]:
    """`rara run ARGS` on `home` (its own process group), stopped with SIGTERM after."""
    from tests.kit.daemon_process import DaemonProcess

    d = DaemonProcess(home, *args)
    try:
        yield d
    finally:
        d.close()


def wait_trading(d: object, strategies: int, timeout_s: float = 300.0) -> None:
    """Until every strategy has its paper run opened (`trading_run_started` per run)."""
    from tests.kit.daemon_process import DaemonProcess
    from tests.kit.live import wait_for

    assert isinstance(d, DaemonProcess)
    d.wait_ready()
    if strategies == 0:
        return

    def opened() -> bool:
        if not d.alive:
            raise RuntimeError(f"the daemon exited:\n{d.output()[-3000:]}")
        return len(d.events("trading_session_started")) >= strategies

    wait_for(opened, timeout_s, every_s=0.5, why=f"{strategies} paper runs opened")


# ---- reading /proc --------------------------------------------------------------------------
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def tree_members(root: int) -> list[int]:
    """`root` and every live process descended from it. A tree, not the process group: the
    sandbox's jailed workers run in sessions of their own, and they are the daemon's memory and
    CPU all the same."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int(_stat_fields(int(entry.name))[1])  # after "(comm)": state, ppid, ...
        except (OSError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def _stat_fields(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2 :].split()  # comm may hold spaces


def tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system) of every live process of the tree, each with the children it
    reaped (cutime + cstime): a process that ended is counted once, in its reaper's."""
    total = 0.0
    for pid in tree_members(root):
        try:
            f = _stat_fields(pid)
        except OSError:
            continue
        total += sum(int(v) for v in f[11:15]) / CLOCK_TICKS  # utime, stime, cutime, cstime
    return total


def rss_mb(pid: int) -> float:
    """Resident memory (VmRSS) of one process, in MB; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def pss_mb(pid: int) -> float:
    """Proportional set size of one process, in MB (a page shared by n processes counts 1/n in
    each: the sandbox's workers share most of theirs with the zygote they were forked from);
    0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def tree_memory_mb(root: int) -> tuple[float, float, int]:
    """The process tree's memory: PSS of every live process summed (shared pages counted
    once), the RSS of the root (the daemon) alone, and how many processes there are."""
    members = tree_members(root)
    return sum(pss_mb(pid) for pid in members), rss_mb(root), len(members)


def cpu_windows(root: int, windows: int, window_s: float) -> list[float]:
    """% of one core used by the tree in each of `windows` consecutive windows."""
    out = []
    cpu, t = tree_cpu_s(root), time.monotonic()
    for _ in range(windows):
        time.sleep(window_s)
        cpu2, t2 = tree_cpu_s(root), time.monotonic()
        out.append(100.0 * (cpu2 - cpu) / (t2 - t))
        cpu, t = cpu2, t2
    return out


# ---- the trend --------------------------------------------------------------------------------
def slope_error_per_hour(samples: list[tuple[float, float]]) -> float:
    """The standard error of `slope_per_hour` (residual scatter over the spread in time)."""
    n = len(samples)
    if n < 3:
        return float("inf")
    mx = sum(t for t, _ in samples) / n
    my = sum(v for _, v in samples) / n
    sxx = sum((t - mx) ** 2 for t, _ in samples)
    if not sxx:
        return float("inf")
    b = sum((t - mx) * (v - my) for t, v in samples) / sxx
    resid = sum((v - my - b * (t - mx)) ** 2 for t, v in samples)
    return float((resid / (n - 2) / sxx) ** 0.5 * 3600.0)


def slope_per_hour(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) samples, in MB per hour."""
    n = len(samples)
    if n < 2:
        return 0.0
    mx = sum(t for t, _ in samples) / n
    my = sum(v for _, v in samples) / n
    sxx = sum((t - mx) ** 2 for t, _ in samples)
    sxy = sum((t - mx) * (v - my) for t, v in samples)
    return sxy / sxx * 3600.0 if sxx else 0.0


@dataclass(frozen=True)
class MemoryTrend:
    samples: list[tuple[float, float]]  # (seconds since the first sample, MB)
    leader: list[tuple[float, float]]  # the same for the daemon process alone
    most_members: int

    @property
    def mb(self) -> list[float]:
        return [v for _, v in self.samples]

    @property
    def daemon(self) -> MemoryTrend:
        """The same judgement on the daemon process alone."""
        return MemoryTrend(self.leader, [], 1)

    def _blocks(self) -> list[list[tuple[float, float]]]:
        """The soak's samples in consecutive `RESTING_BLOCK_S` blocks (by their time)."""
        blocks: dict[int, list[tuple[float, float]]] = {}
        for t, v in self.samples:
            blocks.setdefault(int(t // RESTING_BLOCK_S), []).append((t, v))
        return list(blocks.values())

    def _settled(self) -> list[tuple[float, float]]:
        """The resting level: each block's lowest sample (its time and MB). A research run's
        transient arrays lift some samples of a block; the lowest is the level the daemon
        comes back to between runs, which a leak raises. Too few blocks: the samples."""
        blocks = self._blocks()
        if len(blocks) < 15:
            return self.samples
        return [min(block, key=lambda s: s[1]) for block in blocks]

    def block_medians(self) -> list[tuple[float, float]]:
        """Each block's median time and MB (the statistic judged before the resting level)."""
        return [
            (statistics.median(t for t, _ in b), statistics.median(v for _, v in b))
            for b in self._blocks()
        ]

    @property
    def settled_slope(self) -> float:
        return slope_per_hour(self._settled())

    @property
    def quarter_ratio(self) -> float:
        """Median of the last quarter over median of the first."""
        q = max(1, len(self.samples) // 4)
        first = statistics.median(self.mb[:q])
        return statistics.median(self.mb[-q:]) / first if first else float("nan")

    def quarter_slopes(self) -> list[float]:
        """The slope (MB/hour) of each quarter of the soak: a slope that falls quarter after
        quarter is a cache filling up to its bound, one that holds is a leak."""
        n = len(self.samples)
        return [slope_per_hour(self.samples[q * n // 4 : (q + 1) * n // 4]) for q in range(4)]

    @property
    def settled_error(self) -> float:
        return slope_error_per_hour(self._settled())

    def judged(self) -> str:
        """growth, no growth trend, or inconclusive (see `GROWTH_MB_PER_HOUR`)."""
        slope, err = self.settled_slope, self.settled_error
        if slope - 2 * err > GROWTH_MB_PER_HOUR:
            return "growth"
        if slope + 2 * err < GROWTH_MB_PER_HOUR:
            return "no growth trend"
        return "inconclusive"

    @property
    def growth(self) -> bool:
        return self.judged() == "growth"


# ---- the measurements -----------------------------------------------------------------------
def idle_cpu(home: Path, strategies: int, windows: int, window_s: float, warmup_s: float) -> Spread:
    write_paper_home(home, strategies, research=False)
    args = ("--feed", "replay", "--speed", "1", "--no-research")
    with running_daemon(home, *args) as d:
        wait_trading(d, strategies)
        time.sleep(warmup_s)
        from tests.kit.daemon_process import DaemonProcess

        assert isinstance(d, DaemonProcess)
        per_window = cpu_windows(d.proc.pid, windows, window_s)
        if not d.alive:
            raise RuntimeError(f"the daemon exited while measured:\n{d.output()[-3000:]}")
        at_paper = _stage_count(home, "paper")
    if at_paper != strategies:
        raise RuntimeError(f"{at_paper} strategies at paper, not {strategies}")
    return Spread.of(per_window)


def _stage_count(home: Path, stage: str) -> int:
    from rara.events import open_event_store
    from rara.feedback.lifecycle import Lifecycle

    with open_event_store(home / "rara.db", readonly=True) as store:
        return len(Lifecycle(store).strategies(stage))  # type: ignore[arg-type]


def soak_memory(
    home: Path, strategies: int, duration_s: float, every_s: float, warmup_s: float
) -> MemoryTrend:
    write_paper_home(home, strategies, research=True)
    with running_daemon(home, "--feed", "replay", "--speed", "3600") as d:
        from tests.kit.daemon_process import DaemonProcess

        assert isinstance(d, DaemonProcess)
        wait_trading(d, strategies)
        at_ready = rss_mb(d.proc.pid)
        warm_until = time.monotonic() + warmup_s
        while (left := warm_until - time.monotonic()) > 0:
            if not d.alive:
                raise RuntimeError(f"the daemon exited in the warm-up:\n{d.output()[-3000:]}")
            time.sleep(min(left, 5.0))
        warmed = len(d.events("research_experiment_completed"))
        print(
            f"   warm-up: {warmup_s:.0f} s, {warmed} research experiments; daemon RSS "
            f"{at_ready:.0f} MB at ready, {rss_mb(d.proc.pid):.0f} MB after",
            flush=True,
        )
        samples: list[tuple[float, float]] = []
        leader: list[tuple[float, float]] = []
        most = 0
        t0 = time.monotonic()
        while True:
            now = time.monotonic() - t0
            total, alone, members = tree_memory_mb(d.proc.pid)
            samples.append((now, total))
            leader.append((now, alone))
            most = max(most, members)
            if not d.alive:
                raise RuntimeError(f"the daemon exited in the soak:\n{d.output()[-3000:]}")
            if now >= duration_s:
                break
            time.sleep(every_s)
        bars = len(d.events("trading_equity_marked"))
        research = len(d.events("research_experiment_completed")) - warmed
    print(
        f"   soak: {len(samples)} samples over {samples[-1][0]:.0f} s; "
        f"{bars} equity marks (bars traded), {research} research experiments in it; "
        f"at most {most} processes in the tree",
        flush=True,
    )
    return MemoryTrend(samples, leader, most)


def sizes() -> dict[str, float]:
    if quick():
        return {
            "windows": 2,
            "window_s": 3.0,
            "warmup_s": 2.0,
            "soak_warmup_s": 5.0,
            "soak_s": 30.0,
            "every_s": 2.0,
        }
    return {
        "windows": env_int("RARA_BENCH_DAEMON_WINDOWS", 6),
        "window_s": 20.0,
        "warmup_s": 20.0,
        "soak_warmup_s": env_int("RARA_BENCH_DAEMON_SOAK_WARMUP_S", 300),
        "soak_s": env_int("RARA_BENCH_DAEMON_SOAK_S", 600),
        "every_s": 0.5,  # enough samples per block that one falls between research runs
    }


def run() -> list[Figure]:
    import tempfile

    s = sizes()
    windows, window_s = int(s["windows"]), s["window_s"]
    old = os.environ.get("RARA_HOME")
    try:
        with tempfile.TemporaryDirectory(prefix="rara-bench-daemon-") as tmp:
            root = Path(tmp)
            busy = idle_cpu(root / "idle10", STRATEGIES, windows, window_s, s["warmup_s"])
            empty = idle_cpu(root / "idle0", 0, windows, window_s, s["warmup_s"])
            trend = soak_memory(
                root / "soak", STRATEGIES, s["soak_s"], s["every_s"], s["soak_warmup_s"]
            )
    finally:
        if old is None:
            os.environ.pop("RARA_HOME", None)
        else:
            os.environ["RARA_HOME"] = old
    daemon = trend.daemon
    for name, t in (("tree PSS", trend), ("daemon RSS", daemon)):
        slopes = ", ".join(f"{v:.0f}" for v in t.quarter_slopes())
        print(f"   soak: {name} slope of each quarter {slopes} MB/hour", flush=True)
        medians = t.block_medians()
        print(
            f"   soak: {name} slope of the {RESTING_BLOCK_S:.0f} s blocks' medians "
            f"{slope_per_hour(medians):+.1f} +-{2 * slope_error_per_hour(medians):.1f} "
            f"(2 s.e.), of their lowest (judged) {t.settled_slope:+.1f} "
            f"+-{2 * t.settled_error:.1f} MB/hour",
            flush=True,
        )
    print(
        f"   idle: {windows} windows of {window_s:.0f} s after ready, every run opened and "
        f"{s['warmup_s']:.0f} s of warm-up; the process tree (daemon + sandbox workers)"
    )

    def judged(t: MemoryTrend) -> str:
        out = f"+-{2 * t.settled_error:.0f} (2 s.e.): {t.judged()}"
        return out + (" (quick: too short to judge)" if quick() else "")

    q = max(1, len(trend.mb) // 4)
    return [
        Figure(f"idle CPU, {STRATEGIES} paper strategies, 1h bars at speed 1", busy,
               "% core", "same daemon, 0 strategies", empty,
               f"< {IDLE_TARGET_PCT:g}%: {verdict(busy.median < IDLE_TARGET_PCT)}",
               acceptance="14.6"),
        Figure(f"PSS of the process tree over the soak, {STRATEGIES} paper at 3600x + research",
               Spread.of(trend.mb), "MB", "first quarter of the soak", Spread.of(trend.mb[:q]),
               f"last quarter / first: {trend.quarter_ratio:.3f}"),
        Figure("tree PSS slope over the soak (least squares)", Spread.once(trend.settled_slope),
               "MB/hour", "growth threshold", Spread.once(GROWTH_MB_PER_HOUR), judged(trend),
               acceptance="14.6"),
        Figure("RSS of the daemon process alone over the soak", Spread.of(daemon.mb), "MB",
               "first quarter of the soak", Spread.of(daemon.mb[:q]),
               f"last quarter / first: {daemon.quarter_ratio:.3f}"),
        Figure("daemon RSS slope over the soak (least squares)",
               Spread.once(daemon.settled_slope), "MB/hour", "growth threshold",
               Spread.once(GROWTH_MB_PER_HOUR), judged(daemon), acceptance="14.6"),
    ]  # fmt: skip


def main() -> None:
    if "--quick" in sys.argv[1:]:
        os.environ["RARA_BENCH_QUICK"] = "1"
    print_figures("the daemon: idle CPU and memory over a soak", run())


if __name__ == "__main__":
    main()
