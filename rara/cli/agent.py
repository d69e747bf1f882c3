"""`rara agent PROMPT`: one prompt through the configured LLM, the reply and its accounting as JSON.

Useful to check a model setting end to end (model string, api_base, key, price) before a research
run spends money on it. The provider is built as a research run builds it (`build_provider`: the
same prices, missing-key refusal and reply cache), and the reply is recorded like any other call.
"""

from __future__ import annotations

import sys

import click

from rara import config, credentials
from rara.cli.output import emit
from rara.errors import BadInput
from rara.home import Home
from rara.llm.factory import build_provider
from rara.llm.prompting import system_prompt
from rara.llm.provider import redact


@click.command("agent")
@click.argument("prompt")
@click.option("--model", default=None, help="litellm model string; default: the llm.model setting")
def command(prompt: str, model: str | None) -> None:
    """Send PROMPT ("-" reads stdin) to the LLM; print {model, reply, call}."""
    if prompt == "-":
        prompt = sys.stdin.read()
    if not prompt.strip():
        raise BadInput("empty_prompt", "the prompt is empty", 'pass the text, or "-" for stdin')
    home = Home.from_env()
    settings = config.load_settings(home)
    secrets = credentials.load_secrets(home)
    provider = build_provider(
        "llm", settings, home, model=model, secrets=secrets, prices=settings.llm.prices
    )
    messages = [
        {"role": "system", "content": system_prompt("agent")},
        {"role": "user", "content": prompt},
    ]
    reply = provider.complete(messages, purpose="agent", json_mode=False)
    key = secrets.llm_api_key.get_secret_value() if secrets.llm_api_key else None
    emit(
        {
            "model": provider.model,
            # only the exact key: a model echoing it back must not print it
            "reply": redact(reply.text, key, patterns=False),
            "call": reply.call.model_dump(mode="json"),
        }
    )
