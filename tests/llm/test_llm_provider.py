"""LitellmProvider over real HTTP against the OpenAI-compatible emulator on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from rara.llm.budget import Budget, LlmBudgetExhausted
from rara.llm.cache import ReplyCache, cache_key
from rara.llm.failures import retry_after_seconds
from rara.llm.ports import BudgetExhausted, LlmError, LlmUnusable
from rara.llm.provider import LlmCallFailed, load_litellm, redact
from tests.emulators.openai_emulator import Reply, tokens_of
from tests.kit.llm import API_KEY, MODEL, files_text
from tests.kit.paths import REPO

MSGS = [
    {"role": "system", "content": "rara-purpose: agent\nAnswer in JSON."},
    {"role": "user", "content": "Say hello as JSON."},
]
# gpt-4o-mini in litellm's bundled price map: $0.15 per 1M input tokens, $0.60 per 1M output
IN_PRICE, OUT_PRICE = 0.15e-6, 0.60e-6


@pytest.fixture(autouse=True)
def _debug_logs(caplog):
    caplog.set_level(logging.DEBUG)


def assert_no_key(*texts: object) -> None:
    for t in texts:
        assert API_KEY not in str(t)
        assert API_KEY[8:] not in str(t)  # not even the part after "sk-test-"


def test_call_is_measured_priced_and_recorded(emu, make_provider, cache_dir, caplog, capfd):
    emu.add(Reply(content='{"hello": "world"}', prompt_tokens=1000, completion_tokens=200))
    provider = make_provider()
    reply = provider.complete(MSGS, purpose="agent", json_mode=True)

    assert reply.text == '{"hello": "world"}'
    call = reply.call
    assert (call.model, call.purpose, call.ok, call.cached) == (MODEL, "agent", True, False)
    assert (call.prompt_tokens, call.completion_tokens) == (1000, 200)
    assert call.cost_usd == pytest.approx(1000 * IN_PRICE + 200 * OUT_PRICE)
    assert call.latency_ms > 0 and call.error is None

    req = emu.requests[0]
    assert req.path == "/v1/chat/completions"
    assert req.body["temperature"] == 0 and req.body["seed"] == 7
    assert req.body["response_format"] == {"type": "json_object"}
    assert req.body["messages"] == MSGS
    assert req.authorization == f"Bearer {API_KEY}"  # the key is used ...

    recorded = ReplyCache(cache_dir).get(cache_key(MODEL, MSGS, "agent", True))
    assert [r.text for r in recorded] == ['{"hello": "world"}']
    assert recorded[0].cost_usd == call.cost_usd
    out, err = capfd.readouterr()
    # ... and shown nowhere: not in the call, logs, stdout/stderr, repr or the cache files
    assert_no_key(call.model_dump_json(), caplog.text, out, err, repr(provider))
    assert API_KEY.encode() not in files_text(cache_dir)


def test_plain_mode_sends_no_response_format(emu, make_provider):
    emu.add(Reply(content="hi"))
    make_provider(seed=None).complete(MSGS, purpose="agent", json_mode=False)
    body = emu.requests[0].body
    assert "response_format" not in body and "seed" not in body


def test_timeout_is_a_clear_llm_error(emu, make_provider, cache_dir, caplog):
    # the reply is held far longer than the client waits: returning before it proves the timeout
    # fired, however slow the machine (no bound on how fast the timeout itself is)
    held_s = 120
    emu.add(Reply(content="too late", delay_s=held_s))
    provider = make_provider(timeout_s=2)
    t0 = time.monotonic()
    with pytest.raises(LlmError) as info:
        provider.complete(MSGS, purpose="agent")
    assert time.monotonic() - t0 < held_s
    exc = info.value
    assert isinstance(exc, LlmCallFailed)
    assert exc.code == "llm_timeout"
    assert "no reply within the timeout (2 s)" in exc.message and MODEL in exc.message
    assert exc.call.ok is False and exc.call.error.startswith("llm_timeout")
    assert len(emu.requests) == 1  # no hidden retries
    rec = ReplyCache(cache_dir).get(cache_key(MODEL, MSGS, "agent", True))
    assert rec[0].error is not None and rec[0].error["code"] == "llm_timeout"
    assert_no_key(exc, exc.message, exc.call.model_dump_json(), caplog.text)


def test_server_error_and_auth_error_never_leak_the_key(emu, make_provider, caplog, capfd):
    echo = json.dumps({"error": {"message": f"Incorrect API key provided: {API_KEY}"}})
    emu.add(Reply(status=500), Reply(status=401, body=echo))
    provider = make_provider()
    with pytest.raises(LlmCallFailed) as e500:
        provider.complete(MSGS, purpose="agent")
    assert e500.value.code == "llm_server_error"
    assert "emulated 500" in e500.value.message
    with pytest.raises(LlmUnusable) as e401:
        provider.complete(MSGS, purpose="agent")
    assert e401.value.code == "llm_auth"
    assert e401.value.message.endswith("Incorrect API key provided: ***")
    out, err = capfd.readouterr()
    for exc in (e401.value, e500.value):
        assert_no_key(exc, exc.message, exc.suggestion, exc.to_dict(), exc.call.model_dump_json())
        assert exc.__cause__ is None and exc.__suppress_context__  # no chained litellm error
    assert_no_key(caplog.text, out, err)


def test_unknown_model_costs_zero_with_a_note_and_config_price_applies(emu, make_provider):
    emu.add(Reply(content="a", prompt_tokens=100, completion_tokens=10))
    emu.add(Reply(content="b", prompt_tokens=100, completion_tokens=10))
    unpriced = make_provider(model="openai/rara-local-model").complete(MSGS, purpose="agent")
    assert unpriced.call.cost_usd == 0.0 and unpriced.call.ok
    assert unpriced.call.error is not None and "cost unknown" in unpriced.call.error
    priced = make_provider(
        model="openai/rara-local-model",
        prices={"openai/rara-local-model": {"input_usd_per_mtok": 2.0, "output_usd_per_mtok": 8.0}},
    ).complete(MSGS, purpose="agent")
    assert priced.call.cost_usd == pytest.approx((100 * 2.0 + 10 * 8.0) / 1e6)
    assert priced.call.error is None


def test_budget_below_one_call_stops_after_that_call(emu, make_provider, cache_dir):
    emu.add(Reply(content="{}", prompt_tokens=1000, completion_tokens=100))
    budget = Budget(max_cost_usd=1e-6)  # one call costs 2.1e-4
    provider = make_provider(budget=budget)
    with pytest.raises(BudgetExhausted) as info:
        provider.complete(MSGS, purpose="propose")
    exc = info.value
    assert isinstance(exc, LlmBudgetExhausted)
    assert exc.code == "budget_exhausted"
    assert exc.call is not None and exc.call.cost_usd == pytest.approx(2.1e-4)
    assert exc.spent == pytest.approx(2.1e-4) and budget.exhausted
    assert "LLM cost limit reached after a propose call" in exc.message
    assert len(emu.requests) == 1
    assert len(ReplyCache(cache_dir).get(cache_key(MODEL, MSGS, "propose", True))) == 1
    # the next call is refused before anything is sent
    with pytest.raises(LlmBudgetExhausted) as again:
        provider.complete(MSGS, purpose="propose")
    assert again.value.call is None and len(emu.requests) == 1


def test_repeated_prompt_is_recorded_in_order(emu, make_provider, cache_dir):
    emu.add(Reply(content="first"), Reply(content="second"))
    provider = make_provider()
    provider.complete(MSGS, purpose="agent")
    provider.complete(MSGS, purpose="agent")
    rec = ReplyCache(cache_dir).get(cache_key(MODEL, MSGS, "agent", True))
    assert [r.text for r in rec] == ["first", "second"]


def test_emulator_token_counts_feed_cost(emu, make_provider):
    emu.add(Reply(content="x" * 40))
    call = make_provider().complete(MSGS, purpose="agent").call
    assert call.completion_tokens == tokens_of("x" * 40) == 10
    assert call.cost_usd > 0


def test_redact():
    assert redact(f"key {API_KEY} end", API_KEY) == "key *** end"
    assert redact("Bearer sk-proj-abcdefghijkl0123") == "Bearer sk***"
    assert redact("key AIzaSyA1234567890abcdefghij") == "key AIza***"
    assert redact("sk-learn stays", patterns=True) == "sk-learn stays"


def test_litellm_is_configured_offline():
    litellm = load_litellm()
    assert litellm.suppress_debug_info is True
    assert litellm.success_callback == [] and litellm.failure_callback == []
    assert litellm.callbacks == []


OFFLINE_PROBE = r"""
import json, sys
foreign = []
def hook(event, args):
    if event in ("socket.connect", "socket.getaddrinfo"):
        target = args[1] if event == "socket.connect" else args
        host = str(target[0]) if isinstance(target, tuple) and target else str(target)
        if host not in ("127.0.0.1", "localhost"):
            foreign.append([event, host])
sys.addaudithook(hook)
from tests.emulators.openai_emulator import OpenAIEmulator, Reply
from rara.llm.provider import LitellmProvider
emu = OpenAIEmulator.start([Reply(content='{"ok": true}')])
provider = LitellmProvider("openai/gpt-4o-mini", api_base=emu.url, api_key="sk-test-x" * 3)
reply = provider.complete([{"role": "user", "content": "json please"}], purpose="agent")
emu.stop()
print(json.dumps({"foreign": foreign, "text": reply.text, "cost": reply.call.cost_usd}))
"""


def test_import_and_call_reach_nothing_but_the_emulator(rara_home):
    """litellm fetches its price map from GitHub at import unless told not to; the provider
    tells it. Checked in a fresh interpreter, with an audit hook on every socket."""
    env = {"PATH": "/usr/bin:/bin", "RARA_HOME": str(rara_home), "HOME": str(rara_home)}
    p = subprocess.run(
        [sys.executable, "-c", OFFLINE_PROBE],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["foreign"] == []
    assert out["text"] == '{"ok": true}' and out["cost"] > 0
    assert "raw.githubusercontent.com" not in p.stderr


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert retry_after_seconds("7", now) == 7.0
    assert retry_after_seconds("1.5", now) == 1.5
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0
    assert retry_after_seconds(None, now) is None and retry_after_seconds("soon", now) is None


def test_a_429_with_an_http_date_is_waited_out(emu, make_provider):
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=3), usegmt=True)
    emu.add(Reply.rate_limited(retry_after=later), Reply(content="after the wait"))
    reply = make_provider().complete(MSGS, purpose="agent")
    assert reply.text == "after the wait"
    limited, retried = emu.requests
    assert limited.status == 429
    # the date has one-second resolution: at least two of the three seconds were waited
    assert retried.received_at - limited.received_at >= 1.0


def test_a_429_asking_too_long_or_not_saying_fails_at_once(emu, make_provider):
    emu.add(Reply.rate_limited(retry_after="120"), Reply.rate_limited())
    provider = make_provider(max_retry_wait_s=30)
    with pytest.raises(LlmCallFailed) as too_long:
        provider.complete(MSGS, purpose="agent")
    assert too_long.value.code == "llm_rate_limited"
    message = too_long.value.message
    assert "wait 120 s" in message and "llm.max_retry_wait_s" in message
    with pytest.raises(LlmCallFailed) as unsaid:
        provider.complete(MSGS, purpose="agent")
    assert unsaid.value.code == "llm_rate_limited" and "no Retry-After" in unsaid.value.message
    assert len(emu.requests) == 2  # neither was asked again
