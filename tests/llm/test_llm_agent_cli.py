"""`rara agent PROMPT` against the emulator, in process (click's runner) under rara's group."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from rara.cli import RaraGroup
from rara.cli.agent import command
from rara.llm.cache import ReplyCache
from tests.emulators.openai_emulator import Reply
from tests.kit.llm import API_KEY, MODEL


@pytest.fixture
def run(emu, monkeypatch, rara_home):
    @click.group(cls=RaraGroup)
    def app() -> None:
        pass

    app.add_command(command)

    def invoke(*args: str, env: dict[str, str] | None = None, unset: tuple[str, ...] = ()):
        base = {
            "RARA_HOME": str(rara_home),
            "RARA_LLM__MODEL": MODEL,
            "RARA_LLM__API_BASE": emu.url,
            "RARA_LLM_API_KEY": API_KEY,
            **(env or {}),
        }
        for k, v in base.items():
            monkeypatch.setenv(k, v)
        for k in unset:
            monkeypatch.delenv(k)
        result = CliRunner().invoke(app, ["agent", *args], catch_exceptions=False)
        assert API_KEY not in result.output
        return result

    return invoke


def test_agent_prints_model_reply_and_call(run, emu):
    emu.add(Reply(content="Trend filters cut whipsaws.", purpose="agent"))
    result = run("What does a trend filter do?")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["model"] == MODEL and out["reply"] == "Trend filters cut whipsaws."
    call = out["call"]
    assert call["purpose"] == "agent" and call["ok"] and call["cost_usd"] > 0
    assert emu.requests[0].last_user == "What does a trend filter do?"
    assert "response_format" not in emu.requests[0].body


def test_agent_model_option_overrides_the_setting(run, emu):
    emu.add(Reply(content="ok"))
    out = json.loads(run("hi", "--model", "openai/gpt-4o").stdout)
    assert out["model"] == "openai/gpt-4o" and emu.requests[0].body["model"] == "gpt-4o"


def test_agent_errors_are_json(run, emu):
    result = run("hi", env={"RARA_LLM__MODEL": ""})
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["code"] == "llm_not_configured"

    echo = json.dumps({"error": {"message": f"Incorrect API key provided: {API_KEY}"}})
    emu.add(Reply(status=401, body=echo))
    result = run("hi")
    assert result.exit_code == 1
    err = json.loads(result.stdout)["error"]
    assert err["code"] == "llm_auth" and "RARA_LLM_API_KEY" in err["suggestion"]


def test_agent_never_echoes_the_key(run, emu):
    emu.add(Reply(content=f"your key is {API_KEY}"))
    out = json.loads(run("what is my key?").stdout)
    assert out["reply"] == "your key is ***"


def test_agent_builds_its_provider_as_a_run_does(run, emu, rara_home):
    """The run's provider rules apply (review D16): a keyed model without a key is refused before
    any request, and the reply is recorded in the run's reply cache."""
    refused = run("hi", env={"RARA_LLM__API_BASE": ""}, unset=("RARA_LLM_API_KEY",))
    assert refused.exit_code == 2
    assert json.loads(refused.stdout)["error"]["code"] == "llm_no_key"
    assert emu.requests == []
    emu.add(Reply(content="ok"))
    assert run("hi").exit_code == 0
    assert len(ReplyCache(rara_home / "cache" / "llm")) == 1
