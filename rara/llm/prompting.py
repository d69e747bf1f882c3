"""Prompt files (``rara/llm/prompts/*.md``) and the Strategy API text they quote.

System prompts are package files, loaded with importlib.resources, and start with a
``rara-purpose: <name>`` line (the HTTP emulator in the tests routes replies by it). Placeholders
are ``{{name}}``; an unknown or unfilled one is an error, so a typo cannot ship a prompt with a
hole in it.

The code and fix prompts quote the Strategy API reference and the template module. The source of
truth is ``strategies/template/`` in the repository; an installed package without the repository
falls back to the copies under ``prompts/`` (a test keeps them identical). The copies end in
``.txt`` because ruff formats Python blocks inside ``.md`` files and would make them differ.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from pathlib import Path

PURPOSES = ("propose", "code", "fix", "feedback", "agent")
TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "strategies" / "template"
# (file in strategies/template, packaged copy in rara/llm/prompts)
QUOTED = {
    "strategy_api": ("README.md", "strategy_api.txt"),
    "strategy_example": ("strategy.py", "strategy_example.py.txt"),
}
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")


def packaged(name: str) -> str:
    return files("rara.llm").joinpath("prompts", name).read_text(encoding="utf-8")


@cache
def quoted(name: str) -> str:
    """The repository's copy when present (it is what the sandbox enforces), else the packaged
    one."""
    repo_name, packaged_name = QUOTED[name]
    path = TEMPLATE_DIR / repo_name
    if path.is_file():
        return path.read_text(encoding="utf-8")
    return packaged(packaged_name)


def render(template: str, values: dict[str, str]) -> str:
    names = set(_PLACEHOLDER.findall(template))
    missing = names - values.keys()
    if missing:
        raise KeyError(f"prompt placeholders without a value: {sorted(missing)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


@cache
def system_prompt(purpose: str) -> str:
    if purpose not in PURPOSES:
        raise KeyError(f"no prompt for purpose {purpose!r}; known: {', '.join(PURPOSES)}")
    text = packaged(f"{purpose}.md")
    values = {name: quoted(name).rstrip("\n") for name in QUOTED}
    return render(text, values).strip() + "\n"
