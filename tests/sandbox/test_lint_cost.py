"""Lint's cost is bounded: `rara sandbox check` runs it in the host process, with no jail.

A 59 KB file of look-alike names once cost 95 s of CPU there: every unknown name was compared with
every known name for a "did you mean" hint. The tests run the real CLI under a CPU-time rlimit
(CPU seconds, not wall-clock: a busy machine does not change them) far above what the bounded
lint needs and far below what the quadratic one did.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from rara_sandbox.lint import lint
from rara_sandbox.lint_cost import MAX_AST_NODES, MAX_SOURCE_BYTES
from rara_sandbox.lint_report import MAX_FINDINGS
from tests.kit.paths import REPO

# Generous for a 64 KiB file whose every check is linear (about 0.2 s on a quiet machine); the
# quadratic hints needed minutes for the file below.
CPU_SECONDS = 40

RUN_CHECK = (
    "import resource, runpy, sys\n"
    "resource.setrlimit(resource.RLIMIT_CPU, ({cpu}, {cpu} + 5))\n"
    "sys.argv = ['rara', 'sandbox', 'check', sys.argv[1]]\n"
    "runpy.run_module('rara', run_name='__main__')\n"
)


def look_alike_names(count: int) -> str:
    """A strategy binding `count` names and reading `count` others that differ from them by one
    confusable letter (Cyrillic 'а' for Latin 'a'): every read is an unknown name."""
    bound = [f"aaaaaaaaaa{i:05d}" for i in range(count)]
    read = [f"aaaaaaaaa\u0430{i:05d}" for i in range(count)]
    return (
        'def meta():\n    return {"name": "x"}\n\n\ndef on_candles(candles, params):\n'
        f"    {', '.join(bound)} = params\n"
        f"    x = [{', '.join(read)}]\n"
        "    return candles.close > 0, candles.close < 0\n"
    )


def check_under_cpu_limit(path: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RARA_")}
    return subprocess.run(
        [sys.executable, "-c", RUN_CHECK.format(cpu=CPU_SECONDS), str(path)],
        capture_output=True,
        text=True,
        env={**env, "RARA_HOME": str(home)},
        cwd=REPO,
        timeout=600,
    )


def test_look_alike_names_are_refused_within_a_cpu_limit(tmp_path: Path) -> None:
    source = look_alike_names(1720)
    size = len(source.encode())
    assert 55_000 < size <= MAX_SOURCE_BYTES  # the adversarial file fits every bound
    path = tmp_path / "look_alike.py"
    path.write_text(source)
    done = check_under_cpu_limit(path, tmp_path / "home")
    assert done.returncode not in (-signal.SIGXCPU, -signal.SIGKILL), "lint exceeded the CPU limit"
    assert done.returncode == 3, (done.returncode, done.stderr[-2000:])
    report = json.loads(done.stdout)
    names = next(c for c in report["checks"] if c["name"] == "names")
    assert not names["ok"] and names["message"].startswith("1720 problem(s)")
    shown = names["findings"]
    assert len(shown) == MAX_FINDINGS
    assert "did you mean 'aaaaaaaaaa00000'" in shown[0]["message"]  # hints still help


def test_size_and_node_limits_say_which_bound_and_what_to_do() -> None:
    big = lint("x = 1\n" + "#" * MAX_SOURCE_BYTES)
    size = next(c for c in big.checks if c.name == "source_size")
    assert not size.ok and f"limit {MAX_SOURCE_BYTES}" in size.findings[0].message
    assert "shorten the source" in size.findings[0].message
    assert [c.name for c in big.checks] == ["source_size"]  # nothing parsed

    wide = "def on_candles(candles, params):\n    return [" + "1, " * MAX_AST_NODES + "]\n"
    nodes = next(c for c in lint(wide).checks if c.name == "complexity")
    assert not nodes.ok and f"limit {MAX_AST_NODES}" in nodes.findings[0].message
    assert "ta and array operations" in nodes.findings[0].message
    assert nodes.name == lint(wide).checks[-1].name  # no walk after the node count
