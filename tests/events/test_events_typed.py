"""Typed events: every schema v1 type goes in as its model and comes back as the same model;
unknown types come back raw; a payload that does not fit is refused before anything is written."""

from __future__ import annotations

import ast
import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import rara.domain.events as domain_events
from rara.cli import app
from rara.domain.events import (
    EVENT_MODELS,
    HypothesisForecast,
    RawPayload,
    ResearchExperimentCompleted,
    ResearchHypothesisCreated,
    TradingOrderFilled,
)
from rara.errors import BadInput, RaraError
from rara.events import EventBus, EventDraft, EventFilter, EventStore, canonical_json
from tests.events.payloads import examples, make, probe


def test_every_registered_type_round_trips_typed(store: EventStore) -> None:
    sent = examples()
    assert sorted(p.event_type for p in sent) == sorted(EVENT_MODELS)  # one of each, no gaps
    written = store.append_many([EventDraft(payload=p, source="test") for p in sent])
    back = store.query()
    assert back == written
    for payload, event in zip(sent, back, strict=True):
        assert event.type == payload.event_type
        typed = event.typed()
        assert type(typed) is EVENT_MODELS[event.type] and typed == payload
        # the stored JSON is exactly the model's dump: same keys, None values kept
        assert canonical_json(event.payload) == canonical_json(payload.to_payload())
    report = store.verify()
    assert report.events_checked == len(sent)
    # the chain is intact; the example seal names a trial row this log's database never had,
    # which verify reports as a sealed row that is gone
    assert [(p.table, p.problem) for p in report.row_problems] == [("trials", "row_missing")]


def test_query_by_model_and_typed_subscription(store: EventStore) -> None:
    store.append_many([EventDraft(payload=p, source="test") for p in examples()])
    fills = store.query(EventFilter(types=[TradingOrderFilled]))
    assert [e.type for e in fills] == ["trading_order_filled"]
    fill = fills[0].typed()
    assert isinstance(fill, TradingOrderFilled)
    assert fill.price == Decimal("64000.5") and fill.quantity * fill.price == Decimal("64.00050")

    async def main() -> list[str]:
        bus = EventBus(store)
        sub = bus.subscribe("ledger", types=TradingOrderFilled, from_seq=0)
        first = await asyncio.wait_for(anext(sub), 30)
        sub.close()
        return [first.type]

    assert asyncio.run(main()) == ["trading_order_filled"]


def test_order_events_carry_their_strategy_into_the_envelope(store: EventStore) -> None:
    fill = next(p for p in examples() if isinstance(p, TradingOrderFilled))
    ev = store.append(fill, source="trading")
    assert ev.strategy_id == fill.strategy_id  # defaulted from the payload
    assert store.query(EventFilter(strategy_id=fill.strategy_id)) == [ev]
    with pytest.raises(BadInput) as info:
        store.append(fill, source="trading", strategy_id="st_someone_else")
    assert info.value.code == "event_field_invalid"
    assert store.last_seq() == 1


def test_unknown_type_reads_back_raw(store: EventStore) -> None:
    # what a newer rara might write: a type this version has no model for
    ev = store.append(probe("vault_rebalance_planned", {"legs": [1, 2], "note": "ü"}), source="x")
    back = store.query(EventFilter(types="vault_rebalance_planned"))[0]
    assert back == ev
    raw = back.typed()
    assert isinstance(raw, RawPayload)
    assert raw == RawPayload(type="vault_rebalance_planned", payload={"legs": [1, 2], "note": "ü"})


def test_known_type_that_does_not_fit_is_reported_not_guessed(store: EventStore) -> None:
    # a log written before schema v1 (the old bench wrote fills with float prices)
    store.append(probe("trading_order_filled", {"price": 64000.5}), source="old")
    with pytest.raises(RaraError) as info:
        store.query()[0].typed()
    assert info.value.code == "event_payload_mismatch"
    assert "client_order_id" in info.value.message and "errors.pydantic.dev" not in str(
        info.value.message
    )


def test_a_payload_that_does_not_fit_is_refused_before_writing(store: EventStore) -> None:
    with pytest.raises(ValidationError, match="exact decimal string"):
        TradingOrderFilled.model_validate({**examples()[7].to_payload(), "price": 64000.5})
    with pytest.raises(ValidationError):
        ResearchExperimentCompleted.model_validate({"experiment_id": "x"})
    with pytest.raises(ValidationError, match="finite"):
        HypothesisForecast(validation_sharpe=float("nan"), pass_probability=None)
    with pytest.raises(BadInput) as info:
        store.append({"experiment_id": "x"}, source="t")  # type: ignore[arg-type]
    assert info.value.code == "event_payload_invalid"
    with pytest.raises(BadInput):  # one bad draft in a batch: none of it is written
        store.append_many([make("a_b"), make("a_b", {"x": float("inf")})])
    assert store.last_seq() == 0


def _cli(*args: str) -> tuple[int, dict]:
    r = CliRunner().invoke(app, ["events", "append", *args])
    return r.exit_code, json.loads(r.stdout)


def test_cli_appends_through_the_models(rara_home: Path) -> None:
    fill = examples()[7]
    code, out = _cli("--type", "trading_order_filled", "--payload", json.dumps(fill.to_payload()))
    assert code == 0 and out["payload"] == fill.to_payload()
    assert out["strategy_id"] == "st_9ad0a0d46074b159"
    with EventStore(rara_home / "rara.db") as s:
        assert s.query()[0].typed() == fill


@pytest.mark.parametrize(
    ("args", "code", "hint"),
    [
        (["--type", "trading_order_filed"], "event_type_unknown", "trading_order_filled"),
        (["--type", "research_run_begun"], "event_type_unknown", "research_run_started"),
        (["--type", "trading_order_filled"], "event_payload_invalid", "client_order_id"),
        (
            ["--type", "feedback_strategy_hold", "--payload", '{"strategy_id": "s", "stage": "x"}'],
            "event_payload_invalid",
            "stage",
        ),
    ],
)
def test_cli_refuses_unknown_types_and_misfits(
    args: list[str], code: str, hint: str, rara_home: Path
) -> None:
    exit_code, out = _cli(*args)
    assert exit_code == 2 and out["error"]["code"] == code
    text = out["error"]["message"] + out["error"]["suggestion"]
    assert hint in text and "errors.pydantic.dev" not in text
    assert not (rara_home / "rara.db").exists()  # nothing was written


def test_cli_refuses_float_money(rara_home: Path) -> None:
    body = {**examples()[7].to_payload(), "fee": 0.064}
    exit_code, out = _cli("--type", "trading_order_filled", "--payload", json.dumps(body))
    assert exit_code == 2 and out["error"]["code"] == "event_payload_invalid"
    assert "fee" in out["error"]["message"] and "decimal string" in out["error"]["message"]


# ---- a Hypothesis round trip: any fitting values come back as the same model -------------------

texts = st.text(max_size=40)
floats = st.none() | st.floats(allow_nan=False, allow_infinity=False)
decimals = st.decimals(allow_nan=False, allow_infinity=False, places=8, max_value=10**12)
hypotheses = st.builds(
    ResearchHypothesisCreated,
    experiment_id=texts,
    iteration=st.integers(min_value=0, max_value=10**6),
    family=texts,
    hypothesis=texts,
    origin=texts,
    forecast=st.builds(
        HypothesisForecast,
        validation_sharpe=floats,
        pass_probability=st.none() | st.floats(min_value=0.0, max_value=1.0),
    ),
)
fills = st.builds(
    TradingOrderFilled,
    client_order_id=texts.filter(bool),
    strategy_id=texts.filter(bool),
    exchange=texts,
    mode=st.sampled_from(["paper", "testnet", "live"]),
    symbol=texts,
    venue_order_id=st.none() | texts,
    fill_id=texts.filter(bool),
    side=st.sampled_from(["buy", "sell"]),
    quantity=decimals,
    price=decimals,
    fee=decimals,
    fee_currency=texts,
    cumulative_quantity=decimals,
    filled_ms=st.integers(min_value=0, max_value=2**53),
)


def test_hypothesis_round_trip(rara_home: Path) -> None:
    store = EventStore(rara_home / "rara.db")

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(payload=hypotheses | fills)
    def round_trip(payload: ResearchHypothesisCreated | TradingOrderFilled) -> None:
        ev = store.append(payload, source="prop", correlation_id="run-p")
        assert ev.typed() == payload
        assert store.query(after_seq=ev.seq - 1)[0].typed() == payload
        assert json.loads(canonical_json(payload.to_payload())) == ev.payload

    round_trip()
    assert store.verify().ok
    store.close()


# Payloads exactly as rara wrote them before schema v1 (copied from a seeded run's log and from
# `rara backtest gate`): each must parse as its model and dump back to the very same bytes, or
# old logs would not read typed and the run hash of a seeded run would change.
WRITTEN_BEFORE_V1 = {
    "research_run_started": '{"config":{"backend":"subprocess","exchange":"synthetic",'
    '"iterations":12,"max_cost_usd":null,"max_duration_s":null,"model":null,'
    '"proposer":"builtin","seed":1,"symbol":"EDGE/USDT","timeframe":"1h"}}',
    "research_hypothesis_created": '{"experiment_id":"run-27d5698bd0c5-0000",'
    '"family":"rsi_reversion+trend","forecast":{"pass_probability":1.0,"validation_sharpe":0.0},'
    '"hypothesis":"RSI(5) recovering above 11 after an oversold dip reverts to 46 on 1h bars in '
    'EDGE/USDT, only above the EMA(35) trend","iteration":0,"origin":"builtin:explore"}',
    "research_experiment_completed": '{"cost_usd":0.0,"experiment_id":"run-27d5698bd0c5-0000",'
    '"failed_check":"costs_doubled","family":"rsi_reversion+trend","fix_rounds":0,'
    '"insight":"return at doubled costs 0 <= 0; no deflated Sharpe (nothing traded)",'
    '"iteration":0,"outcome":"rejected","validation_sharpe":null,"validation_trades":0}',
    "research_strategy_candidate": '{"experiment_id":"run-27d5698bd0c5-0005",'
    '"name":"donchian_breakout_deed526d","path":"strategies/promoted/donchian_breakout_deed526d",'
    '"stage":"paper_candidate","trial_ids":{"holdout":"tr_b74e7bc8508104bc4cff",'
    '"train":"tr_5b42ad2bcdc49bae2812","validation":"tr_53312123b95e7ce654ad"}}',
    "validation_gate_decided": '{"decision":"paper_candidate","failed":[],'
    '"instrument":"synthetic:EDGE/USDT:1h","n_trials":10,"strategy":"donchian_breakout_deed526d"}',
}


@pytest.mark.parametrize("event_type", sorted(WRITTEN_BEFORE_V1))
def test_payloads_written_before_v1_read_typed_and_dump_identically(event_type: str) -> None:
    text = WRITTEN_BEFORE_V1[event_type]
    model = EVENT_MODELS[event_type].model_validate_json(text)
    assert canonical_json(model.to_payload()) == text


def test_the_schema_imports_nothing_of_rara_but_the_domain() -> None:
    tree = ast.parse(Path(domain_events.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    ours = {m for m in imported if m == "rara" or m.startswith("rara.")}
    assert ours and all(m.startswith("rara.domain.") for m in ours), ours
