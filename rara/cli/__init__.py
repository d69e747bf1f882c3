"""`rara <group> <command>`: JSON to stdout, logs and progress to stderr, errors as JSON.

Exit codes: 0 ok, 2 bad input, 3 refused (a gate or guard said no), 1 anything else.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from typing import Any

import click
from pydantic import ValidationError

from rara import __version__
from rara.cli.output import emit, setup_logging
from rara.config import explain_validation_error
from rara.errors import EXIT_BAD_INPUT, EXIT_FAILURE, BadInput, RaraError

log = logging.getLogger("rara")


class RaraGroup(click.Group):
    """Turns every failure into the JSON error contract instead of a traceback."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            rv = super().main(*args, **kwargs)
        except RaraError as exc:
            emit(exc.to_dict())
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group (click >= 8.2)
                click.echo(exc.ctx.get_help() if exc.ctx else "", err=True)
                sys.exit(EXIT_BAD_INPUT)
            hint = f"run `{exc.ctx.command_path} --help`" if exc.ctx else "run `rara --help`"
            emit(RaraError("usage", exc.format_message(), hint).to_dict())
            sys.exit(EXIT_BAD_INPUT)
        except click.exceptions.Abort:
            emit(RaraError("interrupted", "interrupted", "rerun the command").to_dict())
            sys.exit(130)
        except KeyboardInterrupt:
            emit(RaraError("interrupted", "interrupted", "rerun the command to resume").to_dict())
            sys.exit(130)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except ValidationError as exc:  # input that got past the edge's parsing: still input
            emit(_bad_input(exc).to_dict())
            sys.exit(EXIT_BAD_INPUT)
        except ValueError as exc:  # the inner layers' way of saying a value is unusable
            _debug_traceback()
            emit(
                BadInput(
                    "bad_input",
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                    "check the values given (options and `rara config list`); if they look "
                    "right, rerun with RARA_DEBUG=1 and report it",
                ).to_dict()
            )
            sys.exit(EXIT_BAD_INPUT)
        except Exception as exc:  # the last line of defence: no traceback on stdout
            _debug_traceback()
            emit(
                RaraError(
                    "internal",
                    f"{type(exc).__name__}: {exc}",
                    "this is a bug in rara; rerun with RARA_DEBUG=1 for a traceback and report it",
                ).to_dict()
            )
            sys.exit(EXIT_FAILURE)
        if isinstance(rv, int) and rv:
            sys.exit(rv)
        return rv


def _debug_traceback() -> None:
    if os.environ.get("RARA_DEBUG"):
        traceback.print_exc()


def _bad_input(exc: ValidationError) -> BadInput:
    """A pydantic error as a person reads it: which field of what, and what is wrong with it."""
    dotted, msg = explain_validation_error(exc)
    where = f"{exc.title} {dotted}" if dotted else exc.title
    more = exc.error_count() - 1
    return BadInput(
        "invalid_input",
        f"{where}: {msg}" + (f" (and {more} more problem{'s' * (more > 1)})" if more else ""),
        "fix that value (an option, or a setting: `rara config list`) and rerun",
    )


@click.group(cls=RaraGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rara")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging on stderr.")
def app(verbose: bool) -> None:
    """rara: autonomous crypto trading research with honest validation.

    Every command prints JSON on stdout; logs and progress go to stderr.
    State lives in $RARA_HOME (default ~/.rara).
    """
    setup_logging("DEBUG" if verbose else os.environ.get("RARA_LOG_LEVEL", "INFO"))


def _register() -> None:
    """The whole command tree, in one place: each module defines commands, this file says
    where they hang."""
    from rara.cli import (
        agent,
        backtest,
        config_cmd,
        data,
        data_fetch,
        data_import,
        events,
        research,
        sandbox,
        sandbox_run,
        strategy,
        validate,
    )

    data.group.add_command(data_fetch.fetch_cmd)
    data.group.add_command(data_import.import_cmd)
    data.group.add_command(data_import.synth_cmd)
    sandbox.group.add_command(sandbox_run.check)
    sandbox.group.add_command(sandbox_run.run)
    # `rara strategy backtest NAME` is `rara backtest run` for a strategy the registry knows
    strategy.group.add_command(backtest.run, name="backtest")
    app.add_command(data.group)
    app.add_command(config_cmd.group)
    app.add_command(events.group)
    app.add_command(sandbox.group)
    app.add_command(backtest.group)
    app.add_command(strategy.group)
    app.add_command(research.group)
    app.add_command(agent.command)
    app.add_command(validate.command)


_register()


def main() -> None:
    app(prog_name="rara")
