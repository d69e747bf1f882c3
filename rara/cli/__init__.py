"""`rara <group> <command>`: JSON to stdout, logs and progress to stderr, errors as JSON.

Exit codes: 0 ok, 2 bad input, 3 refused (a gate or guard said no), 130/143 interrupted by
SIGINT/SIGTERM, 1 anything else. An environment fault (a home that cannot be written, a full
disk) is a failure with its own code and a suggestion, never "internal".
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import traceback
from typing import TYPE_CHECKING, Any, TypeGuard

import click

from rara import __version__
from rara.cli.interrupts import interrupt_exit_code, sigterm_interrupts
from rara.cli.lazy import LazyCommand, LazyGroup
from rara.errors import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_SIGINT,
    BadInput,
    Interrupted,
    RaraError,
)

if TYPE_CHECKING:
    from pydantic import ValidationError

log = logging.getLogger("rara")


class RaraGroup(LazyGroup):
    """Turns every failure into the JSON error contract instead of a traceback.

    What the boundary needs to render a failure (the output and fault modules, pydantic) is
    imported when one happens: `rara --help` imports only click and this package's light
    modules (a test holds it to that)."""

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
        except (OSError, sqlite3.Error) as exc:  # the machine's state, unless it is not
            fault = environment_fault(exc)
            if fault is None:
                _debug_traceback()
                emit(_internal(exc).to_dict())
                sys.exit(EXIT_FAILURE)
            emit(fault.to_dict())
            sys.exit(fault.exit_code)
        except ValueError as exc:  # the inner layers' way of saying a value is unusable
            if _is_validation_error(exc):  # input that got past the edge's parsing: still input
                emit(_bad_input(exc).to_dict())
                sys.exit(EXIT_BAD_INPUT)
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


def emit(obj: Any) -> None:
    """`output.emit`, imported when there is something to print."""
    from rara.cli.output import emit as emit_json

    emit_json(obj)


def environment_fault(exc: BaseException | None) -> RaraError | None:
    """`faults.environment_fault`, imported when a command has failed."""
    from rara.cli.faults import environment_fault as fault_of

    return fault_of(exc)


def _internal(exc: BaseException) -> RaraError:
    return RaraError(
        "internal",
        f"{type(exc).__name__}: {exc}",
        "this is a bug in rara; rerun with RARA_DEBUG=1 for a traceback and report it",
    )


def _debug_traceback() -> None:
    if os.environ.get("RARA_DEBUG"):
        traceback.print_exc()


def _is_validation_error(exc: ValueError) -> TypeGuard[ValidationError]:
    """A pydantic ValidationError (a ValueError); pydantic is imported by whatever raised one,
    so the boundary need not import it to recognise one."""
    core = sys.modules.get("pydantic_core")
    return core is not None and isinstance(exc, core.ValidationError)


def _bad_input(exc: ValidationError) -> BadInput:
    """A pydantic error as a person reads it: which field of what, and what is wrong with it."""
    from rara.config import explain_validation_error

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
    from rara.cli.output import setup_logging

    setup_logging("DEBUG" if verbose else os.environ.get("RARA_LOG_LEVEL", "INFO"))


def _lazy(module: str, attribute: str, help_text: str) -> LazyCommand:
    return LazyCommand(f"rara.cli.{module}", attribute, help_text)


def _group(name: str, help_text: str, commands: dict[str, LazyCommand]) -> LazyGroup:
    return LazyGroup(name, help=help_text, lazy=commands)


# The whole command tree, in one place: each module defines commands, this table says where they
# hang, with each command's help as its docstring's first paragraph (what a group lists; the CLI
# tests keep the two equal). A module is imported when one of its commands is resolved.
_BACKTEST_RUN = _lazy(
    "backtest", "run", "Backtest a strategy FILE or promoted NAME; print its metrics."
)
GROUPS = (
    _group(
        "data",
        "Candles: Parquet under $RARA_HOME/data (plus the embedded sample), read with DuckDB.",
        {
            "info": _lazy(
                "data",
                "info",
                "Coverage per instrument: range, rows, gaps, sources; unreadable files under "
                "`problems`.",
            ),
            "resample": _lazy(
                "data",
                "resample",
                "Aggregate stored candles to a coarser timeframe (in DuckDB SQL).",
            ),
            "fetch": _lazy("data_fetch", "fetch_cmd", "Download candles into $RARA_HOME/data."),
            "import": _lazy(
                "data_import",
                "import_cmd",
                "Import candles from a CSV or Parquet file, or a freqtrade data file or folder.",
            ),
            "synth": _lazy(
                "data_import",
                "synth_cmd",
                "Generate seeded synthetic candles (regime-switching walk with jumps) into the "
                "catalog.",
            ),
        },
    ),
    _group(
        "config",
        "Settings: TOML at $RARA_HOME/config.toml, overridden by RARA_SECTION__KEY variables.",
        {
            "init": _lazy("config_cmd", "init", "Write a config file holding every default."),
            "set": _lazy(
                "config_cmd",
                "set_",
                "Set KEY (dotted, e.g. data.max_retries) to VALUE (a TOML literal or plain text).",
            ),
            "get": _lazy(
                "config_cmd", "get", "Print the effective value of KEY (file, then environment)."
            ),
            "list": _lazy(
                "config_cmd",
                "list_",
                "Every setting with its effective value; secrets only as set (***) or null.",
            ),
        },
    ),
    _group(
        "events",
        "The append-only, hash-chained event log in $RARA_HOME/rara.db.",
        {
            "query": _lazy(
                "events", "query", "Print matching events as NDJSON, one per line, oldest first."
            ),
            "verify": _lazy(
                "events",
                "verify",
                "Recompute every hash and link, check the head against its anchor file and "
                "re-hash every experiment and trial against its seal; exit 3 and say what was "
                "tampered with.",
            ),
            "append": _lazy(
                "events", "append", "Append one event and print it (with its seq and hash)."
            ),
        },
    ),
    _group(
        "paper",
        "Paper trading: a strategy on stored candles through the same order path as live.",
        {
            "run": _lazy(
                "paper",
                "run",
                "Paper trade STRATEGY (a file or promoted name) over stored candles; print a JSON "
                "summary with its trades, PnL and the comparison with the backtest over the same "
                "bars.",
            ),
            "status": _lazy(
                "paper", "status", "Paper runs (NDJSON, newest first): bars, equity, state."
            ),
        },
    ),
    _group(
        "trade",
        "Live and testnet trading on a configured account through ccxt (testnet by default).",
        {
            "run": _lazy(
                "trade",
                "run",
                "Trade STRATEGY on account NAME until SIGTERM/Ctrl-C (or --max-bars); print a "
                "JSON summary: bars, orders, fills, the start-up reconciliation and the dead "
                "man's switch.",
            ),
        },
    ),
    _group(
        "ledger",
        "The double-entry ledger in $RARA_HOME/rara.db: balances per account, verification.",
        {
            "balances": _lazy(
                "ledger",
                "balances",
                "What each trading account holds per currency, from the ledger's postings.",
            ),
            "verify": _lazy(
                "ledger",
                "verify",
                "Check the ledger's chain, that every transaction balances per currency, the "
                "trial balance and the append-only triggers; exit 1 naming the transaction when "
                "it fails.",
            ),
        },
    ),
    _group(
        "sandbox",
        "The container sandbox (Docker): build its image, show its protections.",
        {
            "build-image": _lazy(
                "sandbox",
                "build_image_cmd",
                "Build the sandbox image: the base plus rara_sandbox, numpy and RestrictedPython.",
            ),
            "status": _lazy(
                "sandbox",
                "status_cmd",
                "Whether an engine answers, and which container protections are active with it.",
            ),
            "check": _lazy(
                "sandbox_run",
                "check",
                "Static checks (the lint layer) on a strategy FILE or promoted NAME; exit 3 if "
                "refused.",
            ),
            "run": _lazy(
                "sandbox_run",
                "run",
                "Run a strategy FILE or promoted NAME in a sandbox and summarise its signals.",
            ),
        },
    ),
    _group(
        "backtest",
        "Backtest a strategy (next-open fills, fees and slippage on both legs) or gate it.",
        {
            "run": _BACKTEST_RUN,
            "gate": _lazy(
                "backtest",
                "gate",
                "The research gate's verdict on a strategy; exit 3 when it is rejected. A gate "
                "with thresholds loosened below their defaults is said on stderr (and recorded "
                "in the report).",
            ),
        },
    ),
    _group(
        "strategy",
        """Strategies by name: $RARA_HOME/strategies/promoted and installed, then the ones shipped
    with rara (promoted by the gate, with its report; or examples, never promoted).""",
        {
            "list": _lazy(
                "strategy",
                "list_cmd",
                "Every strategy found, one NDJSON line each: name, origin, path and manifest; a "
                "directory whose manifest (or, shipped as promoted, gate report) is missing or "
                "bad is skipped with a warning on stderr.",
            ),
            "show": _lazy(
                "strategy_lifecycle",
                "show",
                "One strategy's lifecycle record (stage, moves with who and why, account), its "
                "manifest, gate 1's report, the last gate 2 report and its trading runs.",
            ),
            "approve": _lazy(
                "strategy_lifecycle",
                "approve",
                "Approve a live candidate for live trading on account NAME; print its new record.",
            ),
            "demote": _lazy(
                "strategy_lifecycle",
                "demote",
                "Move a strategy down a stage (live or live candidate to paper, paper to paper "
                "candidate); print its new record. Refused when that move is not allowed from its "
                "stage.",
            ),
            "retire": _lazy(
                "strategy_lifecycle",
                "retire",
                "Retire a strategy for good (it stops trading and is never deployed again); print "
                "its new record.",
            ),
            "fetch": _lazy(
                "strategy_registry",
                "fetch_cmd",
                "Fetch a strategy from a signed registry, verify and vet it, and install it; "
                "print its lock entry.",
            ),
            "installed": _lazy(
                "strategy_registry",
                "installed_cmd",
                "The strategies installed from registries (strategies.lock), one NDJSON line "
                "each, with whether their files still match the lock.",
            ),
            "verify": _lazy(
                "strategy_registry",
                "verify_cmd",
                "Re-hash the installed strategies' files (all, or NAMES) against "
                "strategies.lock; exit 3 when any file changed, went missing or appeared.",
            ),
            "remove": _lazy(
                "strategy_registry",
                "remove_cmd",
                "Remove an installed strategy: its directory and lock entry; the lifecycle "
                "retires it.",
            ),
            "trust": _lazy(
                "strategy_registry",
                "trust_cmd",
                "Trust a registry's public key (KEYFILE, a .pub from `rara strategy keygen`); "
                "print its id and fingerprint, to compare with the publisher's.",
            ),
            "keygen": _lazy(
                "strategy_registry",
                "keygen_cmd",
                "Make a registry signing key: KEYFILE (private, mode 0600) and KEYFILE.pub (to "
                "give to those who trust it); print its id and fingerprint.",
            ),
            "publish": _lazy(
                "strategy_registry",
                "publish_cmd",
                "Publish strategies (their promoted directory, gate report and lineage from the "
                "event log) into a static registry folder and sign its index; print the index's "
                "metadata.",
            ),
            # `rara strategy backtest NAME` is `rara backtest run` for a strategy the registry
            # knows
            "backtest": _BACKTEST_RUN,
        },
    ),
    _group(
        "research",
        "The research loop: propose, sandbox, backtest, gate, learn.",
        {
            "run": _lazy(
                "research",
                "run",
                "Run the loop until --iterations, --max-cost-usd or --max-duration; JSON summary "
                "out.",
            ),
            "list": _lazy(
                "research",
                "list_",
                "Recent experiments (NDJSON, newest first), or runs with --runs.",
            ),
            "show": _lazy(
                "research",
                "show",
                "One experiment in full: hypothesis, source, gate report, LLM calls, run "
                "calibration.",
            ),
            "promoted": _lazy(
                "research",
                "promoted",
                "Paper candidates the loop has promoted (NDJSON manifests, with the gate "
                "thresholds that were loosened when each was promoted under ``weakened``); a "
                "directory whose manifest is not valid is skipped with a warning on stderr, and "
                "so is said each one a weakened gate promoted.",
            ),
        },
    ),
    _group(
        "sentinel",
        "The sentinel: news feeds, a webhook and market signals that lock a symbol when critical.",
        {
            "test": _lazy(
                "sentinel",
                "test_cmd",
                "Poll a feed (URL or file) once, or classify a text; print the signals it would "
                "raise.",
            ),
        },
    ),
    _group(
        "lock",
        "Trading locks: no new exposure in a scope (global, strategy, symbol) until lifted.",
        {
            "set": _lazy(
                "control",
                "lock_set",
                "Block new exposure in a scope until --for/--until lapses, or until released.",
            ),
            "release": _lazy("control", "lock_release", "Lift the lock LOCK_ID before it lapses."),
        },
    ),
    _group(
        "server",
        "The gRPC server's bearer tokens (`rara serve`, and the daemon's server).",
        {
            "token": _lazy(
                "serve",
                "token",
                "Where the server's bearer tokens are, and their names and roles (the file is "
                "made at first use); a value only with --show NAME.",
            ),
        },
    ),
)
for _g in GROUPS:
    app.add_command(_g)
app.lazy.update(
    {
        "agent": _lazy(
            "agent",
            "command",
            'Send PROMPT ("-" reads stdin) to the LLM; print {model, reply, call}.',
        ),
        "run": _lazy(
            "run",
            "command",
            "Run the daemon: research, paper and live trading, feedback, the sentinel and the "
            "gRPC server, supervised, until SIGTERM (a clean stop) or --duration; what it does is "
            "in the event log and `rara status`.",
        ),
        "kill": _lazy(
            "control",
            "kill_cmd",
            "Halt trading: no order after this event; open orders are canceled (and, with "
            "--flatten, positions closed) by the running engine. Lasts until `rara resume "
            "--confirm`.",
        ),
        "resume": _lazy(
            "control",
            "resume_cmd",
            "Let trading start again after `rara kill` (or a guard's REDUCING); needs --confirm.",
        ),
        "locks": _lazy("control", "locks_cmd", "The trading state and the active locks (JSON)."),
        "positions": _lazy(
            "paper", "positions", "Positions per account, from the ledger (NDJSON)."
        ),
        "orders": _lazy(
            "paper",
            "orders",
            "Orders from the journal (NDJSON, newest first): state, fills, the guard that denied.",
        ),
        "accounts": _lazy(
            "accounts",
            "command",
            "Venue accounts: exchange, mode, keys present, dead man's switch; --balances adds the "
            "venue's balances and the last reconciliation.",
        ),
        "serve": _lazy(
            "serve",
            "command",
            "Serve rara.v1 read-only on this home's state DB (no daemon needed) until SIGTERM or "
            "Ctrl-C; prints one JSON line with the address once it listens.",
        ),
        "status": _lazy(
            "status",
            "command",
            "The daemon's state: its components, strategies by stage, trading state and locks, "
            "positions, wind-downs pending (strategies out of live not yet flat) and the last "
            "events (JSON).",
        ),
        "tui": _lazy(
            "tui",
            "command",
            "The terminal cockpit over a rara server (--server, --token-file) or, for incident "
            "review, over a state DB (--replay RARA_DB).",
        ),
        "worker": _lazy(
            "worker",
            "command",
            "Start a Dask worker for research runs after rara's environment checks; refuse "
            "otherwise.",
        ),
        "validate": _lazy(
            "validate",
            "command",
            "Report what works here: data, state DB, event chain, sandbox layers, LLM, Docker.",
        ),
    }
)


def main() -> None:
    app(prog_name="rara")
