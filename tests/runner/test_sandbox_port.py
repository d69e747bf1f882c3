"""The `Sandbox` port: one frozen request, context-managed backends, and the import rule that
keeps the jail and container machinery behind the port."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from rara.data.synth import generate
from rara.runner.sandbox import EvaluationRequest, InProcessSandbox, JailSandbox, open_sandbox
from rara_sandbox.results import Probe
from tests.kit.paths import REPO

SMA = (REPO / "strategies/examples/sma_crossover/strategy.py").read_text()
# Who may import rara.runner.jail.* / rara.runner.container.*: the runner itself, the command
# that builds the image and reports the container's protections, and the host health report.
BEHIND_THE_PORT = ("rara.runner.jail", "rara.runner.container")
MAY_REACH_BEHIND = ("rara/runner/", "rara/cli/sandbox.py", "rara/cli/validate.py", "health")


def _request(**overrides: object) -> EvaluationRequest:
    fields: dict[str, object] = {"source": SMA, "candles": generate(600, "1h", seed=3).candles}
    return EvaluationRequest(**{**fields, **overrides})


def test_the_request_is_frozen_and_closed() -> None:
    req = _request(params={"fast": 10}, windows=[300], probes=[Probe("suffix", 50)])
    assert req.windows == (300,) and req.probes == (Probe("suffix", 50),)
    with pytest.raises(ValidationError):
        req.source = "x"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        _request(window=(300,))  # a misspelt field is refused, not ignored
    with pytest.raises(ValidationError):
        _request(candles={"close": [1.0]})  # candles are the domain's Candles, nothing else


def test_one_request_gives_the_same_answer_in_and_out_of_the_jail() -> None:
    req = _request(windows=(300,))
    with JailSandbox(wall_s=30.0) as jail:
        jailed = jail.evaluate(req)
    trusted = InProcessSandbox().evaluate(req)
    assert jailed.ok and trusted.ok, (jailed.error, trusted.error)
    assert [w.n for w in jailed.windows] == [w.n for w in trusted.windows] == [300, 600]
    for a, b in zip(jailed.windows, trusted.windows, strict=True):
        assert (a.entries == b.entries).all() and (a.exits == b.exits).all()


def test_leaving_the_block_stops_the_zygote_even_on_error() -> None:
    with pytest.raises(RuntimeError, match="boom"), open_sandbox("subprocess", 30.0) as sandbox:
        assert sandbox.evaluate(_request()).ok
        assert isinstance(sandbox, JailSandbox)
        pid = sandbox._runner.zygote_pid
        assert pid is not None
        raise RuntimeError("boom")
    assert sandbox._runner.zygote_pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # closed and reaped, not left running


def test_layers_are_reachable_through_the_port() -> None:
    with open_sandbox("inprocess") as sandbox:
        assert [layer["name"] for layer in sandbox.layers()] == ["restricted_python"]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):  # lazy imports in functions count too
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_only_the_runner_and_the_host_commands_reach_behind_the_port() -> None:
    offenders = []
    for path in sorted((REPO / "rara").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if any(part in rel for part in MAY_REACH_BEHIND):
            continue
        reached = {m for m in _imports(path) if m.startswith(BEHIND_THE_PORT)}
        if reached:
            offenders.append((rel, sorted(reached)))
    assert offenders == []


def test_the_backends_do_not_import_the_port() -> None:
    """The port imports its backends lazily, so the arrow must not point back (no cycle)."""
    for sub in ("jail", "container"):
        for path in sorted((REPO / "rara/runner" / sub).rglob("*.py")):
            port = {m for m in _imports(path) if m in ("rara.runner.sandbox", "rara.runner")}
            assert not port, (path.name, port)


def test_the_zygote_loads_nothing_of_the_port() -> None:
    """The zygote imports `rara.runner` on its way to the jail: the package's names resolve
    lazily, so pydantic and the port stay out of every jailed child's address space."""
    code = (
        "import sys, rara.runner.jail.zygote; "
        "print(sorted(m for m in sys.modules if m.startswith(('pydantic', 'rara.runner.sandbox'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
