"""Validation of what a strategy hands back: meta(), params, on_candles() and risk_levels().

Nothing is coerced: a float array is not silently turned into signals, a list is not accepted
as an array. Each failure raises `Invalid` with a stable code and a message that names the
problem precisely enough for an LLM to fix it in one try.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from rara_sandbox.results import F64, BoolArr, JsonScalar, RiskLevel
from rara_sandbox.version import API_VERSION

META_KEYS = ("name", "version", "api_version", "timeframe", "lookback", "description", "params")
# ASCII digits and \Z (not $, which also matches before a final newline): a name, version or
# timeframe has one spelling, and the host's typed meta (rara.domain.strategy) accepts the same.
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}\Z")
VERSION_RE = re.compile(r"^[0-9]{1,6}\.[0-9]{1,6}\.[0-9]{1,6}\Z")
TIMEFRAME_RE = re.compile(r"^[1-9][0-9]{0,3}[mhdw]\Z")
PARAM_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}\Z")
MAX_LOOKBACK = 100_000
MAX_DESCRIPTION = 2_000
MAX_PARAMS = 64
MAX_PARAM_STR = 200
STOP_LOSS_RANGE = (0.0, 1.0)  # exclusive bounds: a fraction of the entry price
TAKE_PROFIT_MAX = 10.0  # (0, 10]: a 1000% target is already absurd


class Invalid(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _param_value(key: str, v: object, code: str) -> JsonScalar:
    if isinstance(v, bool | str):
        if isinstance(v, str) and len(v) > MAX_PARAM_STR:
            raise Invalid(code, f"param {key!r}: strings are limited to {MAX_PARAM_STR} chars")
        return v
    if isinstance(v, int | np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        if not math.isfinite(float(v)):
            raise Invalid(code, f"param {key!r} must be finite, got {float(v)}")
        return float(v)
    raise Invalid(code, f"param {key!r} must be a bool, int, float or str, got {type(v).__name__}")


def validate_meta(raw: object) -> dict[str, Any]:
    """A plain, JSON-able copy of a valid v1 meta dict, or `Invalid` (code ``bad_meta``)."""
    code = "bad_meta"
    if type(raw) is not dict:
        raise Invalid(code, f"meta() must return a dict, got {type(raw).__name__}")
    missing = [k for k in META_KEYS if k not in raw]
    extra = sorted(str(k) for k in raw if k not in META_KEYS)
    if missing or extra:
        raise Invalid(
            code,
            f"meta() keys must be exactly {list(META_KEYS)}; missing {missing}, unexpected {extra}",
        )
    name, version, api, tf = raw["name"], raw["version"], raw["api_version"], raw["timeframe"]
    lookback, desc, params = raw["lookback"], raw["description"], raw["params"]
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise Invalid(code, f"meta name must match {NAME_RE.pattern} (snake_case), got {name!r}")
    if not isinstance(version, str) or not VERSION_RE.match(version):
        raise Invalid(code, f"meta version must be a string like '1.0.0', got {version!r}")
    if type(api) is not int or api != API_VERSION:
        raise Invalid(code, f"meta api_version must be {API_VERSION}, got {api!r}")
    if not isinstance(tf, str) or not TIMEFRAME_RE.match(tf):
        raise Invalid(
            code, f"meta timeframe must be like '1m', '15m', '1h', '4h', '1d', got {tf!r}"
        )
    if type(lookback) is not int or not 0 <= lookback <= MAX_LOOKBACK:
        raise Invalid(code, f"meta lookback must be an int in 0..{MAX_LOOKBACK}, got {lookback!r}")
    if not isinstance(desc, str) or len(desc) > MAX_DESCRIPTION:
        raise Invalid(code, f"meta description must be a string of at most {MAX_DESCRIPTION} chars")
    if type(params) is not dict or len(params) > MAX_PARAMS:
        raise Invalid(code, f"meta params must be a dict of at most {MAX_PARAMS} entries")
    clean: dict[str, JsonScalar] = {}
    for k, v in params.items():
        if not isinstance(k, str) or not PARAM_KEY_RE.match(k):
            raise Invalid(code, f"param names must match {PARAM_KEY_RE.pattern}, got {k!r}")
        clean[k] = _param_value(k, v, code)
    return {
        "name": name,
        "version": version,
        "api_version": api,
        "timeframe": tf,
        "lookback": lookback,
        "description": desc,
        "params": clean,
    }


def merge_params(
    defaults: Mapping[str, JsonScalar], overrides: Mapping[str, object] | None
) -> dict[str, JsonScalar]:
    """meta()'s defaults updated with the caller's overrides; types must match the default's."""
    merged = dict(defaults)
    if overrides is None:
        return merged
    code = "bad_params"
    for k, v in overrides.items():
        if k not in defaults:
            known = ", ".join(sorted(defaults)) or "none"
            raise Invalid(code, f"unknown param {k!r}; meta() declares: {known}")
        d, value = defaults[k], _param_value(k, v, code)
        if isinstance(d, bool | str):
            ok = type(value) is type(d)
        elif isinstance(d, int):
            ok = type(value) is int
        else:  # float default: an int override is fine, it is a number
            ok = type(value) in (int, float)
            value = float(value) if ok else value
        if not ok:
            raise Invalid(
                code,
                f"param {k!r} must be {type(d).__name__} like its default, got {type(v).__name__}",
            )
        merged[k] = value
    return merged


def _signal(name: str, a: object, n: int, copy: bool = True) -> BoolArr:
    hint = "build signals from comparisons (close > x), ta.crossover or ta.as_bool"
    if type(a) is not np.ndarray:
        raise Invalid(
            "bad_output", f"{name} must be a numpy bool array, got {type(a).__name__}; " + hint
        )
    if a.dtype != np.bool_:
        nan = ""
        if a.dtype.kind == "f" and bool(np.isnan(a).any()):
            nan = " containing NaN"
        raise Invalid("bad_output", f"{name} has dtype {a.dtype}{nan}, expected bool; " + hint)
    if a.ndim != 1:
        raise Invalid("bad_output", f"{name} must be 1-D, got shape {a.shape}")
    if a.shape[0] != n:
        raise Invalid(
            "bad_output", f"{name} has {a.shape[0]} values for {n} bars; return exactly one per bar"
        )
    if not copy:
        return a
    return np.array(a, dtype=np.bool_, copy=True)  # our own copy: the strategy keeps no alias


def _signal_pair(out: object) -> tuple[object, object]:
    """on_candles()'s output as its two parts, or the usual refusal."""
    if type(out) is not tuple or len(out) != 2:
        what = f"a tuple of {len(out)}" if type(out) is tuple else type(out).__name__
        raise Invalid("bad_output", f"on_candles must return (entries, exits), got {what}")
    return out[0], out[1]


def check_signals(out: object, n: int) -> tuple[BoolArr, BoolArr]:
    entries, exits = _signal_pair(out)
    return _signal("entries", entries, n), _signal("exits", exits, n)


def _level(
    name: str, v: object, n: int, hi: float, hi_inclusive: bool, last_only: bool = False
) -> RiskLevel:
    span = f"(0, {hi}{']' if hi_inclusive else ')'}"

    def in_range(x: F64) -> bool:
        upper = x <= hi if hi_inclusive else x < hi
        return bool(np.all((x > 0.0) & upper))

    if v is None:
        return None
    if isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool | np.bool_):
        f = float(v)
        if not math.isfinite(f) or not in_range(np.asarray([f])):
            raise Invalid("bad_output", f"{name} must be a fraction in {span}, got {f}")
        return f
    if type(v) is not np.ndarray or v.dtype.kind != "f":
        raise Invalid(
            "bad_output", f"{name} must be None, a number or a float array, got {type(v).__name__}"
        )
    if v.ndim != 1 or v.shape[0] != n:
        raise Invalid("bad_output", f"{name} must have one value per bar ({n}), got {v.shape}")
    if last_only:  # the proof keeps one bar: check it, copy nothing
        f = float(v[-1]) if n else math.nan
        if not math.isnan(f) and not in_range(np.asarray([f])):
            raise Invalid("bad_output", f"{name} values must be NaN or fractions in {span}")
        return f
    a = np.array(v, dtype=np.float64, copy=True)
    known = a[~np.isnan(a)]  # NaN means "no level on this bar"
    if not in_range(known):
        raise Invalid("bad_output", f"{name} values must be NaN or fractions in {span}")
    return a


def check_risk(out: object, n: int) -> tuple[RiskLevel, RiskLevel]:
    if type(out) is not tuple or len(out) != 2:
        raise Invalid("bad_output", "risk_levels must return (stop_loss, take_profit)")
    return (
        _level("stop_loss", out[0], n, STOP_LOSS_RANGE[1], hi_inclusive=False),
        _level("take_profit", out[1], n, TAKE_PROFIT_MAX, hi_inclusive=True),
    )


def last_signals(out: object, n: int) -> tuple[bool, bool]:
    """The last bar of on_candles()'s output, validated like `check_signals` but without copying
    the n-bar arrays: what the causality proof keeps of each prefix."""
    first, second = _signal_pair(out)
    entries = _signal("entries", first, n, copy=False)
    exits = _signal("exits", second, n, copy=False)
    return bool(entries[-1]), bool(exits[-1])


def last_levels(out: object, n: int) -> tuple[float, float]:
    """The last bar of risk_levels()'s output (NaN: no level), validated like `check_risk` on
    that bar, the shape and the type, without copying."""
    if type(out) is not tuple or len(out) != 2:
        raise Invalid("bad_output", "risk_levels must return (stop_loss, take_profit)")
    stop = _level("stop_loss", out[0], n, STOP_LOSS_RANGE[1], False, last_only=True)
    take = _level("take_profit", out[1], n, TAKE_PROFIT_MAX, True, last_only=True)
    return (
        math.nan if stop is None else float(stop),
        math.nan if take is None else float(take),
    )
