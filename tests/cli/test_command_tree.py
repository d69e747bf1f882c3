"""The lazy command tree (`rara.cli.GROUPS`, `rara.cli.lazy`): what a group lists without
importing a command is what the command itself says, and every entry loads."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest

from rara.cli import app
from rara.cli.lazy import LazyCommand, LazyGroup


def entries(
    group: LazyGroup = app, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], LazyCommand]]:
    for name, entry in group.lazy.items():
        yield (*path, name), entry
    for name, cmd in group.commands.items():
        if isinstance(cmd, LazyGroup):
            yield from entries(cmd, (*path, name))


ENTRIES = list(entries())


def test_every_group_has_lazy_commands() -> None:
    assert {path[0] for path, _ in ENTRIES} == set(app.list_commands(click.Context(app)))


@pytest.mark.parametrize(("path", "entry"), ENTRIES, ids=[" ".join(p) for p, _ in ENTRIES])
def test_listed_help_is_the_commands_own(path: tuple[str, ...], entry: LazyCommand) -> None:
    cmd = entry.load()
    listed = click.Command(path[-1], help=entry.help)
    # the width a listing gives the help depends on the terminal and the longest name
    for limit in (30, 45, 60, 74, 100, 1000):
        assert listed.get_short_help_str(limit) == cmd.get_short_help_str(limit), limit


def listing(group: click.Group, width: int) -> str:
    formatter = click.HelpFormatter(width=width)
    group.format_commands(click.Context(group), formatter)
    return formatter.getvalue()


@pytest.mark.parametrize("width", [60, 80, 120])
def test_a_group_lists_the_same_before_and_after_loading(width: int) -> None:
    for group in [app, *(g for g in app.commands.values() if isinstance(g, LazyGroup))]:
        unloaded = LazyGroup(group.name, lazy=group.lazy)  # the table alone, nothing imported
        unloaded.commands = {n: c for n, c in group.commands.items() if n not in group.lazy}
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            group.get_command(ctx, name)  # every command loaded, listed from its own help
        assert set(group.commands) == set(unloaded.list_commands(ctx))
        assert listing(unloaded, width) == listing(group, width), group.name
