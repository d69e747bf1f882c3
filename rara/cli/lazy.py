"""Command groups that import a command's module only when that command is resolved.

A command module imports what its command runs on (numpy, DuckDB, the sandbox, the research
loop): `rara --help` or `rara data --help` must not pay for them all. A `LazyGroup` holds, beside
its loaded commands, a table of `LazyCommand` entries (module, attribute and the command's help
text); its help lists them from the table, and `get_command` imports a module the first time one
of its commands is asked for by name (to run it, or to print its own ``--help``).

Every command a group hands out runs its body with stdout reserved for its JSON
(`output.reserved_stdout`), however it was loaded.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from gettext import gettext as _
from typing import Any

import click


@dataclass(frozen=True)
class LazyCommand:
    """Where a command is defined, and its help text: the first paragraph of its docstring
    (what a group's listing shows of it; a test keeps the two equal)."""

    module: str
    attribute: str
    help: str

    def load(self) -> click.Command:
        cmd = getattr(importlib.import_module(self.module), self.attribute)
        if not isinstance(cmd, click.Command):
            raise TypeError(f"{self.module}.{self.attribute} is not a click command")
        return cmd


class LazyGroup(click.Group):
    """A group whose commands in `lazy` are imported on first use."""

    def __init__(
        self, *args: Any, lazy: Mapping[str, LazyCommand] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, LazyCommand] = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = self.commands.get(cmd_name)
        if cmd is None and cmd_name in self.lazy:
            cmd = self.lazy[cmd_name].load()
            self.add_command(cmd, cmd_name)
        if cmd is not None:
            reserve_stdout(cmd)
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As `click.Group.format_commands`, with the help of a command not loaded yet read
        from its table entry instead of importing it."""
        shown: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            cmd = self.commands.get(name)
            if cmd is None:
                cmd = click.Command(name, help=self.lazy[name].help)
            if not cmd.hidden:
                shown.append((name, cmd))
        if not shown:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in shown)
        with formatter.section(_("Commands")):
            formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in shown])


def reserve_stdout(cmd: click.Command) -> None:
    """Run `cmd`'s body (each of its commands', for a group) with stdout reserved for its JSON
    (`output.reserved_stdout`): a library's debug handler bound to stdout (litellm's, under
    -v) or a stray print goes to stderr. Help and usage text, printed before a body runs, stay
    on stdout. Idempotent; a lazy group's commands not loaded yet get it when they are."""
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            reserve_stdout(sub)
        return
    body = cmd.callback
    if body is None or getattr(body, "__rara_reserved__", False):
        return

    @functools.wraps(body)
    def reserved(*args: Any, **kwargs: Any) -> Any:
        from rara.cli.output import reserved_stdout

        with reserved_stdout():
            return body(*args, **kwargs)

    setattr(reserved, "__rara_reserved__", True)  # noqa: B010  (a marker, not an API)
    cmd.callback = reserved
