"""Timing helpers and the one table format every benchmark prints."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    reference_name: str
    reference: float
    target: str = ""

    @property
    def ratio(self) -> float:
        return self.value / self.reference if self.reference else float("nan")

    def line(self) -> str:
        return (
            f"{self.name:<44} {self.value:>12,.2f} {self.unit:<9} "
            f"ref {self.reference_name:<28} {self.reference:>12,.2f}  "
            f"x{self.ratio:>6.2f}  {self.target}"
        )


def median_ms(fn: Callable[[], object], repeat: int = 15, warmup: int = 2) -> float:
    """Median wall time of `fn` in ms, after warm-up calls (caches, JIT, page cache)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def print_figures(title: str, figures: list[Figure]) -> None:
    print(f"\n== {title}")
    for f in figures:
        print(f.line())
