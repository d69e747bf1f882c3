"""`rara agent PROMPT`: one prompt through the configured LLM, the reply and its accounting as JSON.

Useful to check a model setting end to end (model string, api_base, key, price) before a research
run spends money on it. The reply is recorded in the reply cache like any other call.
"""

from __future__ import annotations

import sys

import click

from rara import config
from rara.cli.output import emit
from rara.errors import BadInput
from rara.home import Home
from rara.llm.prompting import system_prompt
from rara.llm.provider import LitellmProvider, redact


@click.command("agent")
@click.argument("prompt")
@click.option("--model", default=None, help="litellm model string; default: the llm.model setting")
def command(prompt: str, model: str | None) -> None:
    """Send PROMPT ("-" reads stdin) to the LLM; print {model, reply, call}."""
    if prompt == "-":
        prompt = sys.stdin.read()
    if not prompt.strip():
        raise BadInput("empty_prompt", "the prompt is empty", 'pass the text, or "-" for stdin')
    settings = config.load_settings()
    secrets = config.load_secrets()
    model = model or settings.llm.model
    if not model:
        raise BadInput(
            "llm_not_configured",
            "no LLM model: pass --model or set llm.model",
            "`rara config set llm.model openai/gpt-4o-mini` and export RARA_LLM_API_KEY",
        )
    provider = LitellmProvider(
        model,
        api_base=settings.llm.api_base,
        api_key=secrets.llm_api_key,
        timeout_s=settings.llm.timeout_s,
        cache_dir=Home.from_env().llm_cache_dir,
    )
    messages = [
        {"role": "system", "content": system_prompt("agent")},
        {"role": "user", "content": prompt},
    ]
    reply = provider.complete(messages, purpose="agent", json_mode=False)
    key = secrets.llm_api_key.get_secret_value() if secrets.llm_api_key else None
    emit(
        {
            "model": model,
            # only the exact key: a model echoing it back must not print it
            "reply": redact(reply.text, key, patterns=False),
            "call": reply.call.model_dump(mode="json"),
        }
    )
