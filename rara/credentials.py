"""Credentials: exchange and LLM keys, from the environment or a home's ``secrets.toml``.

Keys come from ``RARA_LLM_API_KEY``, ``RARA_<EXCHANGE>_API_KEY``, ``RARA_<EXCHANGE>_SECRET`` and
``RARA_SENTINEL_WEBHOOK_TOKEN`` (the sentinel webhook's bearer token), or from
`Home.secrets_file`, which is refused unless only its owner can read it (mode 0600).
They are `SecretStr` from the moment they are read, so they stay out of reprs, logs and JSON;
`redacted_secrets` is all that may be shown of them::

    secrets = load_secrets(home)
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from rara.config import ENV_NESTING, ENV_PREFIX, explain_validation_error, read_toml
from rara.errors import BadInput, Refused, nearest
from rara.home import Home

# the LLM key's variable: named in every message that asks for the key
LLM_KEY_ENV = "RARA_LLM_API_KEY"
WEBHOOK_TOKEN_ENV = "RARA_SENTINEL_WEBHOOK_TOKEN"


class ExchangeKeys(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    api_key: SecretStr | None = None
    secret: SecretStr | None = None


class Secrets(BaseModel):
    """Credentials. `SecretStr` keeps them out of repr, logs and JSON dumps."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    llm_api_key: SecretStr | None = None
    sentinel_webhook_token: SecretStr | None = None
    exchanges: dict[str, ExchangeKeys] = Field(default_factory=dict)


SECRET_KEYS = [
    "llm.api_key",
    "sentinel.webhook_token",
    "exchanges.EXCHANGE.api_key",
    "exchanges.EXCHANGE.secret",
]


def _unknown_secret(dotted: str, where: Path) -> BadInput:
    """Names the unknown key and the nearest valid one; the value is never echoed."""
    parts = dotted.split(".")
    exchange = parts[1] if parts[0] == "exchanges" and len(parts) > 1 else "EXCHANGE"
    valid = [k.replace("EXCHANGE", exchange) for k in SECRET_KEYS]
    guess = nearest(dotted, valid)
    return BadInput(
        "secrets_unknown_key",
        f"unknown key {dotted!r} in {where}; it would be ignored",
        (f"did you mean {guess!r}? " if guess else "")
        + f"valid keys: {', '.join(SECRET_KEYS)} (EXCHANGE is a ccxt id such as binance)",
    )


def _secrets_file_tree(path: Path) -> dict[str, Any]:
    raw = read_toml(path)
    tree: dict[str, Any] = {}
    for section, body in raw.items():
        if section == "llm" and isinstance(body, dict):
            for k in body:
                if k != "api_key":
                    raise _unknown_secret(f"llm.{k}", path)
            if "api_key" in body:
                tree["llm_api_key"] = body["api_key"]
        elif section == "sentinel" and isinstance(body, dict):
            for k in body:
                if k != "webhook_token":
                    raise _unknown_secret(f"sentinel.{k}", path)
            if "webhook_token" in body:
                tree["sentinel_webhook_token"] = body["webhook_token"]
        elif section != "exchanges":
            raise _unknown_secret(section, path)
    tree["exchanges"] = raw.get("exchanges", {})
    return tree


def load_secrets(home: Home, environ: dict[str, str] | None = None) -> Secrets:
    """Environment first, then `home`'s ``secrets.toml`` (refused unless only its owner can read
    it)."""
    env = dict(os.environ if environ is None else environ)
    tree: dict[str, Any] = {}
    path = home.secrets_file
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise Refused(
                "secrets_file_exposed",
                f"{path} is readable by others (mode {mode:04o}); refusing to read keys from it",
                f"run `chmod 600 {path}`",
            )
        tree = _secrets_file_tree(path)
    if env.get(LLM_KEY_ENV):
        tree["llm_api_key"] = env[LLM_KEY_ENV]
    if env.get(WEBHOOK_TOKEN_ENV):
        tree["sentinel_webhook_token"] = env[WEBHOOK_TOKEN_ENV]
    for name, value in env.items():
        for suffix, field in (("_API_KEY", "api_key"), ("_SECRET", "secret")):
            if name.startswith(ENV_PREFIX) and name.endswith(suffix) and name != LLM_KEY_ENV:
                exchange = name[len(ENV_PREFIX) : -len(suffix)].lower()
                if exchange and ENV_NESTING not in exchange:
                    tree.setdefault("exchanges", {}).setdefault(exchange, {})[field] = value
    try:
        return Secrets.model_validate(tree)
    except ValidationError as exc:
        dotted, msg = explain_validation_error(exc)
        if exc.errors()[0]["type"] == "extra_forbidden":
            raise _unknown_secret(dotted, path) from None
        raise BadInput(
            "secrets_invalid",
            f"secret {dotted!r} in {path} or the environment: {msg}",
            "secrets are strings: api_key = '...' and secret = '...' under [exchanges.ID]",
        ) from None


def redacted_secrets(secrets: Secrets) -> dict[str, Any]:
    """What `config list` may show: which secrets are set, never their values."""

    def mark(s: SecretStr | None) -> str | None:
        return "***" if s is not None and s.get_secret_value() else None

    return {
        "llm.api_key": mark(secrets.llm_api_key),
        "sentinel.webhook_token": mark(secrets.sentinel_webhook_token),
        **{
            f"exchanges.{ex}.{f}": mark(getattr(keys, f))
            for ex, keys in sorted(secrets.exchanges.items())
            for f in ("api_key", "secret")
        },
    }
