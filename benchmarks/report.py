"""Timing helpers and the one table format every benchmark prints.

A `Figure` is a measurement beside a reference measured in the same run, each a `Spread`
(min / median / max over its repeats); the ratio is median over median. A section prints the
machine's load average when it starts and when it ends, since a shared 2-core machine's figures
mean little without it.
"""

from __future__ import annotations

import gc
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Spread:
    """min / median / max of `n` repeats of one measurement."""

    min: float
    median: float
    max: float
    n: int

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        v = [float(x) for x in values]
        if not v:
            return cls(float("nan"), float("nan"), float("nan"), 0)
        return cls(min(v), statistics.median(v), max(v), len(v))

    @classmethod
    def once(cls, value: float) -> Spread:
        """A figure measured once (a count, or a run too long to repeat): n=1 says so."""
        return cls(value, value, value, 1)

    def scaled(self, factor: float) -> Spread:
        return Spread(self.min * factor, self.median * factor, self.max * factor, self.n)

    def cell(self) -> str:
        if self.n <= 1:
            return f"{_num(self.median):>10} {'(once)':<25}"
        return f"{_num(self.median):>10} {f'[{_num(self.min)} .. {_num(self.max)}]':<25}"


def _num(x: float) -> str:
    if x != x:  # nan
        return "-"
    return f"{x:,.0f}" if abs(x) >= 10_000 else f"{x:,.2f}"


@dataclass
class Figure:
    name: str
    value: Spread
    unit: str
    reference_name: str
    reference: Spread
    target: str = ""
    # the acceptance item ("issue.item", e.g. "12.6") this figure answers (in the closing note)
    acceptance: str = ""

    @property
    def ratio(self) -> float:
        ref = self.reference.median
        return self.value.median / ref if ref else float("nan")

    def line(self) -> str:
        return (
            f"{self.name:<50} {self.value.cell()} {self.unit:<9} "
            f"ref {self.reference_name:<30} {self.reference.cell()} "
            f"x{_num(self.ratio):>7}  {self.target}"
        ).rstrip()


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def quick() -> bool:
    """`--quick` (or RARA_BENCH_QUICK=1): the long sections shrink to a smoke run."""
    return os.environ.get("RARA_BENCH_QUICK", "") not in ("", "0")


def env_int(name: str, default: int) -> int:
    """A size the caller may override from the environment (RARA_BENCH_*)."""
    raw = os.environ.get(name)
    return int(raw) if raw else default


def spread_ms(fn: Callable[[], object], repeat: int = 15, warmup: int = 2) -> Spread:
    """Wall time of `fn` in ms over `repeat` calls, after warm-up calls (caches, JIT, page
    cache)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return Spread.of(times)


@dataclass(frozen=True)
class ProcessRun:
    """One command in a fresh process: wall seconds to its exit, CPU seconds (user + sys, its
    reaped descendants included), peak RSS in MB, exit code and stdout."""

    wall_s: float
    cpu_s: float
    peak_mb: float
    returncode: int
    stdout: str


def run_process(
    args: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> ProcessRun:
    """Start `args` and reap it with `os.wait4`, so the CPU time is this child's (and its reaped
    descendants') alone. Output goes to files: a pipe read to EOF by `communicate` would reap
    the child before `wait4` could.

    Peak RSS is the child's own high-water mark (VmHWM), read from /proc while it runs: wait4's
    ru_maxrss would report this (large) benchmark process's RSS, which a child inherits at fork
    and keeps across exec. Read every 20 ms, it can miss growth in the child's last moments."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        p = subprocess.Popen(list(args), cwd=cwd, env=env, stdout=out, stderr=err)
        peak_mb = 0.0
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            peak_mb = max(peak_mb, _status_mb(Path(f"/proc/{p.pid}/status"), "VmHWM:"))
            time.sleep(0.02)
        wall = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {p.returncode}: {stderr[-2000:]}")
    return ProcessRun(wall, usage.ru_utime + usage.ru_stime, peak_mb, p.returncode, stdout)


def _status_mb(status: Path, key: str) -> float:
    """A memory line (kB) of a /proc status file, in MB; 0 when the process is gone."""
    try:
        for line in status.read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def rss_mb() -> float:
    """This process's resident set now (VmRSS), in MB."""
    return _status_mb(Path("/proc/self/status"), "VmRSS:")


def peak_rss_mb() -> float:
    """This process's resident high-water mark since its exec (VmHWM), in MB. Not ru_maxrss:
    that starts from the parent's RSS at fork."""
    return _status_mb(Path("/proc/self/status"), "VmHWM:")


def print_figures(title: str, figures: list[Figure]) -> None:
    print(f"\n== {title}")
    for f in figures:
        print(f.line())


@dataclass(frozen=True)
class SectionResult:
    title: str
    figures: list[Figure]
    load_start: str
    load_end: str
    seconds: float


def run_section(title: str, run: Callable[[], list[Figure]]) -> SectionResult:
    """Print the section's header and the load now, run it, print its figures and the load at
    its end."""
    print(f"\n== {title}", flush=True)
    start = load_average()
    print(f"   load average at start (1/5/15 min): {start}", flush=True)
    t = time.perf_counter()
    figures = run()
    seconds = time.perf_counter() - t
    for f in figures:
        print(f.line())
    end = load_average()
    print(f"   load average at end: {end}   ({seconds:.1f} s)", flush=True)
    return SectionResult(title, figures, start, end, seconds)
