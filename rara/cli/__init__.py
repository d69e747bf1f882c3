"""`rara <group> <command>`: JSON to stdout, logs and progress to stderr, errors as JSON.

Exit codes: 0 ok, 2 bad input, 3 refused (a gate or guard said no), 130/143 interrupted by
SIGINT/SIGTERM, 1 anything else. An environment fault (a home that cannot be written, a full
disk) is a failure with its own code and a suggestion, never "internal".
"""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
import sys
import traceback
from typing import Any

import click
from pydantic import ValidationError

from rara import __version__
from rara.cli.faults import environment_fault
from rara.cli.interrupts import interrupt_exit_code, sigterm_interrupts
from rara.cli.output import emit, reserved_stdout, setup_logging
from rara.config import explain_validation_error
from rara.errors import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_SIGINT,
    BadInput,
    Interrupted,
    RaraError,
)

log = logging.getLogger("rara")


class RaraGroup(click.Group):
    """Turns every failure into the JSON error contract instead of a traceback."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        with sigterm_interrupts():
            return self._main(*args, **kwargs)

    def _main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            rv = super().main(*args, **kwargs)
        except RaraError as exc:
            fault = environment_fault(exc.__cause__) if type(exc) is RaraError else None
            err = fault or exc
            emit(err.to_dict())
            sys.exit(err.exit_code)
        except click.UsageError as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group (click >= 8.2)
                click.echo(exc.ctx.get_help() if exc.ctx else "", err=True)
                sys.exit(EXIT_BAD_INPUT)
            hint = f"run `{exc.ctx.command_path} --help`" if exc.ctx else "run `rara --help`"
            emit(RaraError("usage", exc.format_message(), hint).to_dict())
            sys.exit(EXIT_BAD_INPUT)
        except click.exceptions.Abort:
            emit(RaraError("interrupted", "interrupted", "rerun the command").to_dict())
            sys.exit(EXIT_SIGINT)
        except KeyboardInterrupt as exc:
            code = interrupt_exit_code(exc)
            emit(Interrupted("interrupted", "rerun the command", exit_code=code).to_dict())
            sys.exit(code)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except ValidationError as exc:  # input that got past the edge's parsing: still input
            emit(_bad_input(exc).to_dict())
            sys.exit(EXIT_BAD_INPUT)
        except (OSError, sqlite3.Error) as exc:  # the machine's state, unless it is not
            fault = environment_fault(exc)
            if fault is None:
                _debug_traceback()
                emit(_internal(exc).to_dict())
                sys.exit(EXIT_FAILURE)
            emit(fault.to_dict())
            sys.exit(fault.exit_code)
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
            emit((environment_fault(exc) or _internal(exc)).to_dict())
            sys.exit(EXIT_FAILURE)
        if isinstance(rv, int) and rv:
            sys.exit(rv)
        return rv


def _internal(exc: BaseException) -> RaraError:
    return RaraError(
        "internal",
        f"{type(exc).__name__}: {exc}",
        "this is a bug in rara; rerun with RARA_DEBUG=1 for a traceback and report it",
    )


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
    _reserve_stdout(app)


def _reserve_stdout(cmd: click.Command) -> None:
    """Every command's body runs with stdout reserved for its JSON (`output.reserved_stdout`):
    a library's debug handler bound to stdout (litellm's, under -v) or a stray print goes to
    stderr. Help and usage text, printed before a body runs, stay on stdout."""
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            _reserve_stdout(sub)
        return
    body = cmd.callback
    if body is None or getattr(body, "__rara_reserved__", False):
        return

    @functools.wraps(body)
    def reserved(*args: Any, **kwargs: Any) -> Any:
        with reserved_stdout():
            return body(*args, **kwargs)

    setattr(reserved, "__rara_reserved__", True)  # noqa: B010  (a marker, not an API)
    cmd.callback = reserved


_register()


def main() -> None:
    app(prog_name="rara")
