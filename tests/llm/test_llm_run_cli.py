"""`rara research run --proposer llm` in a subprocess against the OpenAI emulator over HTTP: what
a run spends is what it records, a 429 is waited out as the server asks, and a run that cannot
use its LLM at all stops at once with a clear error and a non-zero exit."""

from __future__ import annotations

import socket

import pytest

from tests.emulators.openai_emulator import Reply
from tests.llm.runs import (
    KEY,
    PRICE,
    configure,
    experiments,
    feedback,
    hypothesis,
    lint_failing,
    module,
    run_args,
)

HYPOTHESIS = "SMA 20/50 crossover follows hourly trends."


@pytest.mark.parametrize(
    ("script", "limit", "calls", "purposes"),
    [
        # crossed by the first fix round: propose and code were paid for too
        ([hypothesis(HYPOTHESIS), lint_failing(), lint_failing("fix")], 2.5, 3, "propose code fix"),
        # crossed by the code call: the hypothesis was paid for and is kept
        ([hypothesis(HYPOTHESIS), module()], 1.5, 2, "propose code"),
        # crossed by the feedback call: the verdict stands, with every call
        ([hypothesis(HYPOTHESIS), module(), feedback()], 2.5, 3, "propose code feedback"),
    ],
    ids=["at_fix", "at_code", "at_feedback"],
)
def test_budget_crossed_mid_iteration_records_every_paid_call(
    cli, emu, tmp_path, script, limit, calls, purposes
):
    home = tmp_path / "home"
    env = configure(cli, home, emu.url)
    emu.add(*script)
    r = cli(*run_args("--max-cost-usd", str(limit), iterations=3), env=env, timeout=600)
    assert r.code == 0, r.stdout + r.stderr
    assert r.json["stop_reason"] == "max_cost_usd"
    assert len(emu.requests) == calls  # and nothing after the limit
    billed = emu.billed_usd(PRICE, PRICE)
    assert billed == pytest.approx(float(calls))  # $1 a call
    rows = experiments(home)
    assert len(rows) == 1
    assert sum(row["cost_usd"] for row in rows) == pytest.approx(billed)
    assert r.json["cost_usd"] == pytest.approx(billed)
    row = rows[0]
    assert [c["purpose"] for c in row["llm_calls"]] == purposes.split()
    assert row["hypothesis"]["hypothesis"] == HYPOTHESIS
    assert row["family"] == "trend_following"


def test_a_429_is_waited_out_for_its_retry_after(cli, emu, tmp_path):
    home = tmp_path / "home"
    env = configure(cli, home, emu.url)
    emu.add(
        Reply.rate_limited(retry_after="2", purpose="propose"),
        hypothesis(HYPOTHESIS),
        lint_failing(),
        *[lint_failing("fix") for _ in range(3)],
    )
    r = cli(*run_args(), env=env, timeout=600)
    assert r.code == 0, r.stdout + r.stderr
    limited, retried = emu.requests[0], emu.requests[1]
    assert limited.status == 429 and retried.purpose == "propose"
    assert retried.received_at - limited.received_at >= 2.0
    row = experiments(home)[0]
    assert row["hypothesis"]["hypothesis"] == HYPOTHESIS  # the wait, not an error
    assert row["failed_check"] == "sandbox.lint_failed"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_refused_key_stops_the_run(cli, emu, tmp_path):
    home = tmp_path / "home"
    env = configure(cli, home, emu.url)
    emu.add(Reply(status=401), Reply(status=403))
    r = cli(*run_args(iterations=4), env=env, timeout=300)
    assert r.code != 0, r.stdout + r.stderr
    assert r.error["code"] == "llm_auth" and "RARA_LLM_API_KEY" in r.error["suggestion"]
    assert len(emu.requests) == 1  # one refusal, not one per iteration
    assert experiments(home) == []
    assert KEY not in r.stdout + r.stderr


def test_a_forbidden_model_stops_the_run(cli, emu, tmp_path):
    env = configure(cli, tmp_path / "home", emu.url)
    emu.add(Reply(status=403), Reply(status=403))
    r = cli(*run_args(iterations=4), env=env, timeout=300)
    assert r.code != 0 and r.error["code"] == "llm_auth"
    assert len(emu.requests) == 1


def test_an_unreachable_server_stops_the_run(cli, tmp_path):
    home = tmp_path / "home"
    env = configure(cli, home, f"http://127.0.0.1:{_closed_port()}/v1")
    r = cli(*run_args(iterations=4), env=env, timeout=300)
    assert r.code != 0, r.stdout + r.stderr
    assert r.error["code"] == "llm_unreachable"
    assert "127.0.0.1" in r.error["message"]
    assert "rara research run --resume run-" in r.error["suggestion"]
    assert experiments(home) == []


def test_missing_credentials_name_raras_variable(cli, emu, tmp_path):
    home = tmp_path / "home"
    env = configure(cli, home, emu.url, key=None)
    r = cli(*run_args(iterations=4), env=env, timeout=300)
    assert r.code != 0, r.stdout + r.stderr
    assert r.error["code"] == "llm_no_key"
    assert "RARA_LLM_API_KEY" in r.error["message"] + r.error["suggestion"]
    assert emu.requests == [] and experiments(home) == []
