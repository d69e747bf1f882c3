"""Property tests of strategy identity: a valid `meta()` dict becomes a `StrategyMeta` and back
unchanged, and a `StrategyRef` is a pure function of the source text and the declared version."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from rara.domain.strategy import StrategyMeta, StrategyRef, source_sha256, strategy_id

json_scalar = (
    st.booleans()
    | st.integers(-(10**9), 10**9)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
meta_dicts = st.fixed_dictionaries(
    {
        "name": st.from_regex(r"[a-z][a-z0-9_]{0,63}", fullmatch=True),
        "version": st.from_regex(r"[0-9]{1,6}\.[0-9]{1,6}\.[0-9]{1,6}", fullmatch=True),
        "api_version": st.just(1),
        "timeframe": st.builds(
            lambda n, u: f"{n}{u}", st.integers(1, 1000), st.sampled_from("mhdw")
        ),
        "lookback": st.integers(0, 100_000),
        "description": st.text(max_size=80),
        "params": st.dictionaries(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), json_scalar),
    }
)
sources = st.text(min_size=1, max_size=400)


@given(meta_dicts)
def test_a_valid_meta_dict_round_trips(raw: dict[str, Any]) -> None:
    meta = StrategyMeta.from_sandbox(raw)
    assert meta.model_dump() == raw
    # the params keep their JSON type: a bool stays a bool, an int is not widened to a float
    types = {k: type(v) for k, v in meta.params.items()}
    assert types == {k: type(v) for k, v in raw["params"].items()}
    assert StrategyMeta.model_validate_json(meta.model_dump_json()) == meta


@given(meta_dicts, st.sampled_from(["extra", "api_version", "lookback", "name", "version"]))
def test_a_meta_dict_that_breaks_the_api_is_refused(raw: dict[str, Any], broken: str) -> None:
    bad = {
        "extra": {**raw, "entry_price": 1.0},
        "api_version": {**raw, "api_version": 2},
        "lookback": {**raw, "lookback": -1},
        "name": {**raw, "name": "Bad Name"},
        "version": {**raw, "version": "1.0"},
    }[broken]
    with pytest.raises(ValidationError):
        StrategyMeta.from_sandbox(bad)


@given(meta_dicts, sources)
def test_ref_is_the_source_hash_and_the_versioned_id(raw: dict[str, Any], source: str) -> None:
    meta = StrategyMeta.from_sandbox(raw)
    ref = StrategyRef.of(source, meta)
    assert (ref.name, ref.version) == (meta.name, meta.version)
    assert ref.source_sha256 == hashlib.sha256(source.encode("utf-8")).hexdigest()
    assert re.fullmatch(r"st_[0-9a-f]{16}", ref.strategy_id)
    assert ref.strategy_id == strategy_id(source, meta.version)
    assert ref.source_sha256 == source_sha256(source)


@given(meta_dicts, meta_dicts, sources)
def test_the_id_depends_on_source_and_version_only(
    a: dict[str, Any], b: dict[str, Any], source: str
) -> None:
    ref_a = StrategyRef.of(source, StrategyMeta.from_sandbox(a))
    ref_b = StrategyRef.of(source, StrategyMeta.from_sandbox(b))
    # name, timeframe, lookback, description and default params do not enter the id
    assert (ref_a.strategy_id == ref_b.strategy_id) == (a["version"] == b["version"])
    assert ref_a.source_sha256 == ref_b.source_sha256


@given(meta_dicts, sources, sources)
def test_a_different_source_is_a_different_strategy(
    raw: dict[str, Any], one: str, other: str
) -> None:
    meta = StrategyMeta.from_sandbox(raw)
    same = one == other
    assert (StrategyRef.of(one, meta) == StrategyRef.of(other, meta)) == same


@given(
    st.fixed_dictionaries(
        {
            "name": st.text(min_size=1, max_size=8),
            "version": st.sampled_from(["1.0.0", "1.0.0\n", "\u0661.0.0", "01.2.3"]),
            "timeframe": st.sampled_from(["1h", "1h\n", "01h", "\u0661h", "15m", "1d"]),
        }
    )
)
def test_what_the_sandbox_accepts_the_host_parses(parts: dict[str, str]) -> None:
    """The sandbox validates an untrusted meta dict; the host then parses it as `StrategyMeta`.
    A value the sandbox lets through and the host refuses would surface as an internal error
    in the loop, so the two must agree."""
    from rara_sandbox.validate import Invalid, validate_meta

    raw = {
        "name": parts["name"],
        "version": parts["version"],
        "api_version": 1,
        "timeframe": parts["timeframe"],
        "lookback": 10,
        "description": "",
        "params": {},
    }
    try:
        clean = validate_meta(raw)
    except Invalid:
        return
    StrategyMeta.from_sandbox(clean)
