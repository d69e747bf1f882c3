"""`make bench`: every benchmark in one run, each figure (min / median / max over its repeats)
beside a reference measured in the same run, each section between two readings of the machine's
load. Figures, not pass/fail: a shared, noisy machine says nothing about a threshold. The closing
note repeats the figures the issues' acceptance asks for (issue.item), with the load of their
section.

`python -m benchmarks [--quick] [title words...]`: words select sections by title; `--quick`
(or RARA_BENCH_QUICK=1) shrinks the long ones to a smoke run.

Names say what is measured: "warm" = a process that has already imported and run it, "cold" =
a fresh process, "end to end" = a fresh process and a fresh $RARA_HOME."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Callable

from benchmarks.report import Figure, SectionResult, load_average, quick, run_section


def sections() -> list[tuple[str, Callable[[], list[Figure]]]]:
    from benchmarks import (
        bench_backtest,
        bench_boundary,
        bench_cold,
        bench_daemon,
        bench_dask,
        bench_data,
        bench_events,
        bench_gate,
        bench_jail,
        bench_live,
        bench_long_run,
        bench_paper,
        bench_proposer,
        bench_research,
        bench_research_cli,
        bench_sandbox,
        bench_server,
        bench_writes,
    )

    return [
        ("market data catalog (525,600 1m bars)", bench_data.run),
        ("event log", bench_events.figures),
        ("research storage per candidate (fresh state directories)", bench_writes.run),
        ("strategy runtime, in-process (8,760 1h bars)", bench_sandbox.run),
        ("jail primitive (trivial entry)", bench_jail.run),
        ("sandbox boundary (8,760 1h bars)", bench_boundary.run),
        ("backtest engine (525,600 1m bars)", bench_backtest.run),
        ("cold start: CLI commands in a fresh process and fresh home", bench_cold.run),
        ("built-in proposer, propose() alone", bench_proposer.run),
        ("research loop warm in-process, built-in proposer (fresh homes)", bench_research.run),
        ("research run end to end: CLI, fresh process and fresh home", bench_research_cli.run),
        ("research run at length: session in a fresh process, fresh home", bench_long_run.run),
        ("research candidates on a local Dask cluster vs in-process threads", bench_dask.run),
        ("gate on noise and on a planted edge (fresh homes, 1h synth)", bench_gate.run),
        ("paper engine: cost per bar, replay throughput (fresh homes)", bench_paper.run),
        ("live orders: round trip and reconciliation (Binance emulator, loopback)",
         bench_live.run),
        ("the daemon: idle CPU (10 paper strategies, 1h bars) and memory over a soak",
         bench_daemon.run),
        ("the gRPC server: StreamEvents throughput (1 and 10 clients) and append-to-receipt "
         "latency (in the daemon's process and under rara serve, loopback)", bench_server.run),
    ]  # fmt: skip


def closing_note(results: list[SectionResult]) -> None:
    """The acceptance figures again, each with the load of the section that measured it."""
    rows = [(r, f) for r in results for f in r.figures if f.acceptance]
    if not rows:
        return
    print(
        "\n== closing note: acceptance figures, issue.item (median [min .. max]; load 1/5/15 min)"
    )
    for r, f in sorted(rows, key=lambda rf: rf[1].acceptance):
        print(f"   {f.acceptance}. {f.line()}")
        print(f"      load at start {r.load_start}, at end {r.load_end}")


def main(args: list[str]) -> int:
    if "--quick" in args:
        os.environ["RARA_BENCH_QUICK"] = "1"
    selected = [a for a in args if a != "--quick"]
    print(
        f"rara benchmarks on {platform.machine()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load {load_average()}" + (" (quick)" if quick() else "")
    )
    results = []
    for title, run in sections():
        if selected and not any(s in title for s in selected):
            continue
        results.append(run_section(title, run))
    closing_note(results)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
