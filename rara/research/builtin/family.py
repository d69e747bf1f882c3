"""A family of the built-in search: one base signal with optional entry filters, named
``base[+filter...]`` (filters in a fixed order, e.g. ``rsi_reversion+trend+vol``). A family
samples, mutates and crosses its params, and renders a complete Strategy API v1 module from them,
so what the built-in search emits takes exactly the path LLM code takes (lint, sandbox, look-ahead
checks, gate).

Why the generated code is correct by construction:

- the module text is fixed per family (and per which optional risk params are present); only the
  ``meta()`` dict changes with the params, and the code reads every value from ``params``;
- ``meta()["lookback"]`` is computed from the params by the rules in `space` (those the gate's
  warm-up check enforces);
- constraints (fast < slow, exit inside entry ...) are enforced by a repair step after every
  sample, mutation and crossover, and the lookback is kept under a cap the history can test.
"""

from __future__ import annotations

import hashlib
import json
import math
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from rara.domain.market import Timeframe
from rara.research.builtin.catalogue import (
    BASES,
    FILTER_ORDER,
    FILTERS,
    RISK_PARAMS,
    Component,
    repair_risk,
)
from rara.research.builtin.space import WARMUP_MARGIN, Bias, Param, Params, int_of
from rara.research.models import JsonScalar

VERSION = "1.0.0"


def canonical(params: Mapping[str, JsonScalar]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


def _py(v: JsonScalar) -> str:
    return json.dumps(v) if isinstance(v, str) else repr(v)


@dataclass(frozen=True)
class Family:
    name: str
    base: Component
    filters: tuple[Component, ...] = field(default=())

    @property
    def components(self) -> tuple[Component, ...]:
        return (self.base, *self.filters)

    @property
    def style(self) -> str:
        return self.base.style

    def space(self, params: Mapping[str, object] | None = None) -> tuple[Param, ...]:
        """Every param of this family; the fixed-risk ones only when present in ``params``."""
        out = tuple(p for c in self.components for p in c.params)
        if params is not None and self.base.fixed_risk:
            out += tuple(p for p in RISK_PARAMS if p.name in params)
        return out

    def accepts(self, params: Mapping[str, object] | None) -> bool:
        """Are these exactly this family's params, each inside its space (a usable parent)?"""
        if params is None:
            return False
        space = self.space(params)
        if len(space) != len(params) or ("take_profit" in params and "stop_loss" not in params):
            return False
        return all(p.name in params and p.contains(params[p.name]) for p in space)

    def lookback(self, params: Params) -> int:
        return max(c.lookback(params) for c in self.components) + WARMUP_MARGIN

    def fit(self, params: Params, cap: int) -> Params:
        """Repair constraints, then shrink every period until the lookback fits under ``cap``;
        as a last resort switch recursive smoothers to their windowed choice (EMA -> SMA)."""
        p = dict(params)
        self._repair(p)
        space = self.space(p)
        periods = [q for q in space if q.kind == "int" and not q.linear]
        for attempt in range(60):
            if self.lookback(p) <= cap:
                return p
            if attempt == 30:
                for q in space:
                    if q.kind == "choice":
                        p[q.name] = q.choices[0]
            for q in periods:
                p[q.name] = q.clip(math.floor(int_of(p, q.name) * 0.85))
            self._repair(p)
        raise ValueError(f"{self.name}: lookback {self.lookback(p)} cannot fit under {cap}")

    def _repair(self, p: Params) -> None:
        for c in self.components:
            c.repair(p)
        repair_risk(p)

    def min_lookback(self) -> int:
        """The lookback with every period at its smallest: whether the family fits a cap."""
        # choices[0] is the cheapest choice (sma, stdev) by construction of the catalogue
        p: Params = {
            q.name: q.choices[0] if q.kind == "choice" else q.clip(q.lo) for q in self.space()
        }
        self._repair(p)
        return self.lookback(p)

    def sample(self, rng: np.random.Generator, bias: Bias, cap: int) -> Params:
        p: Params = {q.name: q.sample(rng, bias.speed) for q in self.space()}
        if self.base.fixed_risk and rng.random() < bias.p_stop:
            p["stop_loss"] = RISK_PARAMS[0].sample(rng)
            if rng.random() < 0.5:
                p["take_profit"] = RISK_PARAMS[1].sample(rng)
        return self.fit(p, cap)

    def sample_filter(self, params: Params, rng: np.random.Generator, bias: Bias) -> Params:
        """The params of this family's filters that ``params`` lacks (for wrapping a base)."""
        out = dict(params)
        for c in self.filters:
            for q in c.params:
                if q.name not in out:
                    out[q.name] = q.sample(rng, bias.speed)
        return out

    def mutate(
        self,
        params: Params,
        rng: np.random.Generator,
        cap: int,
        scale: float = 1.0,
        bias: Bias | None = None,
    ) -> Params:
        """Perturb about half the params (at least one) locally, drifting with ``bias.speed``;
        sometimes toggle the stops."""
        speed = bias.speed if bias is not None else 0.0
        space = self.space(params)
        p = dict(params)
        picks = rng.random(len(space)) < 0.5
        if not picks.any():
            picks[int(rng.integers(len(space)))] = True
        for q, pick in zip(space, picks, strict=True):
            if pick:
                p[q.name] = q.mutate(p[q.name], rng, scale, speed)
        if self.base.fixed_risk and rng.random() < 0.1:  # sometimes try with or without stops
            if "take_profit" in p:
                del p["take_profit"]
            elif "stop_loss" in p:
                del p["stop_loss"]
            else:
                p["stop_loss"] = RISK_PARAMS[0].sample(rng)
        return self.fit(p, cap)

    def crossover(self, a: Params, b: Params, rng: np.random.Generator, cap: int) -> Params:
        """Uniform crossover of two parents of this family; risk params come with parent a."""
        p = dict(a)
        for q in self.space():
            if q.name in b and rng.random() < 0.5:
                p[q.name] = b[q.name]
        return self.fit(p, cap)

    # -- text and code ------------------------------------------------------------------------

    def describe(self, params: Params, timeframe: str) -> tuple[str, str]:
        """(base phrase, filter phrase) for hypotheses and meta descriptions."""
        base = self.base.text(params, timeframe)
        filt = "".join(f", {c.text(params, timeframe)}" for c in self.filters)
        return base, filt

    def hypothesis(self, params: Params, timeframe: str, symbol: str) -> str:
        base, filt = self.describe(params, timeframe)
        return f"{base} in {symbol}{filt}"

    def strategy_name(self, params: Params) -> str:
        digest = hashlib.sha256(f"{self.name}\n{canonical(params)}".encode()).hexdigest()
        return f"{self.name.replace('+', '_')}_{digest[:8]}"

    def render(self, params: Params, timeframe: str) -> str:
        """The complete strategy module for these params (Strategy API v1)."""
        base, filt = self.describe(params, timeframe)
        lookback = self.lookback(params)
        risk = self._risk_lines(params)
        desc = (
            f"{base}{filt}. Built-in search family {self.name}; lookback {lookback} bars covers "
            "every window and lets recursive smoothers forget their start."
        )
        doc = textwrap.wrap(f"{self.name}: {base}{filt}.", 96)
        lines = [
            '"""' + "\n".join(doc) + '"""',
            "",
            "",
            "def meta():",
            "    return {",
            f'        "name": "{self.strategy_name(params)}",',
            f'        "version": "{VERSION}",',
            '        "api_version": 1,',
            f'        "timeframe": "{timeframe}",',
            f'        "lookback": {lookback},',
            f'        "description": {json.dumps(desc, ensure_ascii=False)},',
            '        "params": {',
            *(f"            {json.dumps(k)}: {_py(v)}," for k, v in params.items()),
            "        },",
            "    }",
            "",
            "",
            "def on_candles(candles, params):",
            "    close = candles.close",
            *self._bar_ms_lines(timeframe),
            *(f"    {line}" for c in self.components for line in c.code),
            "    return entries, exits",
        ]
        if risk:
            lines += ["", "", "def risk_levels(candles, params):", *(f"    {s}" for s in risk)]
        return "\n".join(lines) + "\n"

    def _bar_ms_lines(self, timeframe: str) -> tuple[str, ...]:
        if not any(c.uses_bar_ms for c in self.components):
            return ()
        ms = Timeframe.parse(timeframe).ms
        return (f"    bar_ms = {ms}  # one {timeframe} bar: the meta() timeframe in epoch ms",)

    def _risk_lines(self, params: Params) -> tuple[str, ...]:
        if not self.base.fixed_risk:  # donchian: a stop at a multiple of ATR below the entry
            return (
                'atr = ta.atr(candles.high, candles.low, candles.close, params["atr_period"])',
                'stop = ta.clip(params["atr_mult"] * atr / candles.close, 0.002, 0.5)',
                "return stop, None",
            )
        if "stop_loss" not in params:
            return ()
        take = 'params["take_profit"]' if "take_profit" in params else "None"
        return (f'return params["stop_loss"], {take}',)


def family_name(base: str, filters: tuple[str, ...] | list[str] = ()) -> str:
    fs = [f for f in FILTER_ORDER if f in filters]
    return "+".join([base, *fs])


@lru_cache(maxsize=256)
def family(name: str) -> Family | None:
    """The family called ``name`` (``base[+filter...]``), or None when it is not one of ours."""
    base, *filters = name.split("+")
    if base not in BASES or any(f not in FILTERS for f in filters):
        return None
    if len(set(filters)) != len(filters) or family_name(base, filters) != name:
        return None
    return Family(name, BASES[base], tuple(FILTERS[f] for f in filters))


def all_families() -> list[Family]:
    """Every base with every subset of filters (9 x 4 = 36 families)."""
    out: list[Family] = []
    for b in BASES:
        for mask in range(1 << len(FILTER_ORDER)):
            fs = [f for i, f in enumerate(FILTER_ORDER) if mask >> i & 1]
            fam = family(family_name(b, fs))
            assert fam is not None
            out.append(fam)
    return out
