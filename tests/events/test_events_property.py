"""Property: whatever is appended (any types, any nested JSON, any unicode), the chain verifies
and every event reads back exactly as canonical JSON would give it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rara.cli import app
from rara.events import EventDraft, EventStore
from tests.events.payloads import draft

TYPES = [
    "research_hypothesis_created",
    "research_experiment_completed",
    "research_strategy_candidate",
    "trading_order_submitted",
    "trading_order_filled",
    "trading_order_rejected",
    "sentinel_signal_detected",
    "feedback_strategy_promote",
    "feedback_research_retrain_requested",
]
EXAMPLES = 40
MIN_PER_EXAMPLE = 50  # 40 x >=50: at least 2,000 events, typically ~3,000, all in one chain

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=16)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)
payloads = st.dictionaries(st.text(max_size=10), json_values, max_size=4)
ids = st.none() | st.text(min_size=1, max_size=24)
# Drawing thousands of nested payloads one by one overruns Hypothesis' example budget, so each
# example draws a pool of random payloads and ids, then a long, cheap plan of which pool items
# each event combines; every event still differs (the plan index is in its payload).
plans = st.lists(
    st.tuples(
        st.sampled_from(TYPES),
        st.sampled_from(["research", "trading", "sentinel", "feedback", "cli"]),
        st.integers(min_value=0, max_value=99),  # payload pool index
        st.integers(min_value=0, max_value=99),  # second payload pool index, nested inside
        st.integers(min_value=0, max_value=99),  # correlation id pool index
        st.integers(min_value=0, max_value=99),  # strategy id pool index
    ),
    min_size=MIN_PER_EXAMPLE,
    max_size=120,
)


def _drafts(
    plan: list[tuple[str, str, int, int, int, int]],
    pool: list[dict[str, Any]],
    id_pool: list[str | None],
) -> list[EventDraft]:
    return [
        draft(
            {
                "type": type_,
                "payload": {**pool[a % len(pool)], "n": n, "inner": pool[b % len(pool)]},
                "source": source,
                "correlation_id": id_pool[c % len(id_pool)],
                "strategy_id": id_pool[d % len(id_pool)],
            }
        )
        for n, (type_, source, a, b, c, d) in enumerate(plan)
    ]


def _normal(payload: dict[str, Any]) -> Any:
    return json.loads(json.dumps(payload))


def test_random_appends_always_verify(rara_home: Path) -> None:
    store = EventStore(rara_home / "rara.db")
    total = {"n": 0}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        pool=st.lists(payloads, min_size=1, max_size=12),
        id_pool=st.lists(ids, min_size=1, max_size=6),
        plan=plans,
        split=st.integers(min_value=0, max_value=8),
    )
    def appended(
        pool: list[dict[str, Any]],
        id_pool: list[str | None],
        plan: list[tuple[str, str, int, int, int, int]],
        split: int,
    ) -> None:
        batch = _drafts(plan, pool, id_pool)
        before = store.last_seq()
        # part one event at a time, the rest as one batch: both paths build the same chain
        written = [
            store.append(
                d.payload,
                source=d.source,
                correlation_id=d.correlation_id,
                strategy_id=d.strategy_id,
            )
            for d in batch[:split]
        ] + store.append_many(batch[split:])
        assert [e.seq for e in written] == list(range(before + 1, before + len(batch) + 1))
        back = store.query(after_seq=before)
        assert back == written
        for d, e in zip(batch, back, strict=True):
            assert e.payload == _normal(d.payload.to_payload())
            assert (e.type, e.source, e.correlation_id, e.strategy_id) == (
                d.event_type, d.source, d.correlation_id, d.strategy_id,
            )  # fmt: skip
        report = store.verify()
        assert report.ok, report
        assert report.events_checked == before + len(batch)
        total["n"] += len(batch)

    appended()
    store.close()
    assert total["n"] >= EXAMPLES * MIN_PER_EXAMPLE
    print(f"{total['n']} events appended")

    result = CliRunner().invoke(app, ["events", "verify"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and report["events_checked"] == total["n"]
