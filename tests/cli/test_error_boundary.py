"""The error boundary (`RaraGroup`): a validation error that got past the edge's parsing is still
bad input (exit 2, JSON, the field and what is wrong), never "internal" and never a pydantic URL."""

from __future__ import annotations

import json

import click
from click.testing import CliRunner
from pydantic import BaseModel, Field

from rara.cli import RaraGroup


class Order(BaseModel):
    size_fraction: float = Field(gt=0, le=1)


@click.group(cls=RaraGroup)
def probe() -> None:
    """A group with the real boundary and commands that fail in the ways it must map."""


@probe.command("pydantic")
def pydantic_error() -> None:
    Order(size_fraction=1.5)


@probe.command("value")
def value_error() -> None:
    raise ValueError("validation_start 2020-01-01 is outside the data")


@probe.command("bug")
def bug() -> None:
    raise KeyError("oops")


def run(name: str) -> tuple[int, dict[str, str]]:
    res = CliRunner().invoke(probe, [name])
    return res.exit_code, json.loads(res.stdout)["error"]


def test_validation_error_is_bad_input() -> None:
    code, err = run("pydantic")
    assert code == 2 and err["code"] == "invalid_input"
    assert "Order size_fraction" in err["message"] and "less than or equal to 1" in err["message"]
    assert "pydantic.dev" not in err["message"] and "1.5" not in err["message"]
    assert err["suggestion"]


def test_value_error_is_bad_input() -> None:
    code, err = run("value")
    assert code == 2 and err["code"] == "bad_input"
    assert "outside the data" in err["message"] and err["suggestion"]


def test_anything_else_is_still_internal() -> None:
    code, err = run("bug")
    assert code == 1 and err["code"] == "internal"
