"""`rara config`: read and change settings in $RARA_HOME/config.toml."""

from __future__ import annotations

import click

from rara import config, credentials
from rara.cli.output import emit
from rara.errors import BadInput
from rara.home import Home


@click.command("init")
@click.option("--force", is_flag=True, help="Overwrite an existing config with the defaults.")
def init(force: bool) -> None:
    """Write a config file holding every default."""
    path = config.init_config(Home.from_env(), force)
    emit({"path": str(path), "written": True})


@click.command("set")
@click.argument("key")
@click.argument("value")
@click.argument("more", nargs=-1, metavar="[KEY VALUE]...")
def set_(key: str, value: str, more: tuple[str, ...]) -> None:
    """Set KEY (dotted, e.g. data.max_retries) to VALUE (a TOML literal or plain text).

    More KEY VALUE pairs are set together, checked as one: settings that must agree (both split
    dates, fractions that must leave a holdout) can only change that way.
    """
    if len(more) % 2:
        raise BadInput(
            "usage",
            f"{more[-1]!r} has no value",
            "give KEY VALUE pairs, e.g. `rara config set gates.research.validation_start "
            "2024-06-01 gates.research.holdout_start 2024-09-01`",
        )
    pairs = [(key, value), *zip(more[::2], more[1::2], strict=True)]
    home = Home.from_env()
    settings = config.set_values(home, pairs)
    out = {"key": key, "value": config.get_value(settings, key), "path": str(home.config_file)}
    if more:
        out["set"] = {k: config.get_value(settings, k) for k, _ in pairs}
    emit(out)


@click.command("get")
@click.argument("key")
def get(key: str) -> None:
    """Print the effective value of KEY (file, then environment)."""
    emit({"key": key, "value": config.get_value(config.load_settings(Home.from_env()), key)})


@click.command("list")
def list_() -> None:
    """Every setting with its effective value; secrets only as set (***) or null."""
    home = Home.from_env()
    settings = config.load_settings(home)
    emit(
        {
            "path": str(home.config_file),
            "settings": settings.model_dump(mode="json"),
            "secrets": credentials.redacted_secrets(credentials.load_secrets(home)),
        }
    )
