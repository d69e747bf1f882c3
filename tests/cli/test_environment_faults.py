"""The JSON contract under a hostile environment: stdout holds the JSON and nothing else (not
under -v either), and what the machine refuses (a home that cannot be written, a full disk, a
file that is not UTF-8) or a value out of range is a clear error with a suggestion, never
"internal".

The read-only home is a real one: the CLI runs as uid 65534 (nobody) on a home owned by root
with mode 0755, so it can read it and not write it; root itself could write anywhere, so the
test drops root rather than pretend. The full disk is a file-size limit (RLIMIT_FSIZE) on the
CLI's process: every write past the limit fails with EFBIG, as a full filesystem fails with
ENOSPC, and it needs no mount, so it runs as root in CI as anywhere else.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.emulators.openai_emulator import Reply
from tests.kit.llm import API_KEY, MODEL
from tests.kit.paths import REPO, TEMPLATE
from tests.kit.privilege import as_uid_65534

MARKET = ("--symbol", "BTC/USDT", "--timeframe", "1h")


def rara(
    home: Path, *args: str, prefix: tuple[str, ...] = (), fsize: int | None = None
) -> tuple[int, dict[str, Any], str]:
    """The CLI in a subprocess; (exit code, stdout parsed as one JSON document, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RARA_")}
    env["RARA_HOME"] = str(home)

    def limit_file_size() -> None:  # in the child, before exec: only a setrlimit
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    p = subprocess.run(
        [*prefix, sys.executable, "-m", "rara", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=None if fsize is None else limit_file_size,
    )
    return p.returncode, json.loads(p.stdout), p.stderr


def assert_environment_error(code: int, out: dict[str, Any], *codes: str) -> dict[str, str]:
    err = out["error"]
    assert code == 1 and err["code"] in codes, err
    assert err["code"] != "internal" and "bug" not in err["suggestion"]
    assert err["suggestion"]
    return err


# ---- stdout is the JSON's ------------------------------------------------------------------


def test_verbose_litellm_debug_lines_go_to_stderr(cli, emu) -> None:
    emu.add(Reply(content="Trend filters cut whipsaws.", purpose="agent"))
    env = {"RARA_LLM__MODEL": MODEL, "RARA_LLM__API_BASE": emu.url, "RARA_LLM_API_KEY": API_KEY}
    r = cli("-v", "agent", "hi", env=env)
    assert r.code == 0, r.stdout + r.stderr
    assert r.json["reply"] == "Trend filters cut whipsaws."  # stdout is that document, whole
    assert "DEBUG" in r.stderr  # -v did turn debug on; its lines went where they belong


def test_verbose_chart_has_no_font_chatter(cli, tmp_path: Path) -> None:
    report = tmp_path / "sheet.html"
    r = cli("-v", "backtest", "run", str(TEMPLATE), *MARKET, "--report", str(report))
    assert r.code == 0, r.stdout + r.stderr
    assert r.json["strategy"] == "template" and report.is_file()
    assert "findfont" not in r.stderr and "font_manager" not in r.stderr


# ---- the environment's faults --------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("data", "synth", "--bars", "500"),
        ("config", "init"),
        ("research", "run", "--iterations", "1", "--quiet"),
    ],
)
def test_a_read_only_home_is_a_clear_error(tmp_path: Path, args: tuple[str, ...]) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    code, out, _ = rara(home, *args, prefix=tuple(as_uid_65534()))
    err = assert_environment_error(code, out, "read_only_home")
    assert str(home) in err["suggestion"] and "RARA_HOME" in err["suggestion"]
    assert list(home.iterdir()) == []


@pytest.mark.parametrize(
    "args", [("config", "init"), ("research", "run", "--iterations", "1", "--quiet")]
)
def test_a_home_under_a_file_is_a_clear_error(tmp_path: Path, args: tuple[str, ...]) -> None:
    # no permission bit stops root; a path through a regular file stops everyone
    (tmp_path / "a_file").write_text("")
    home = tmp_path / "a_file" / "home"
    code, out, _ = rara(home, *args)
    err = assert_environment_error(code, out, "bad_path")
    assert str(home) in err["suggestion"] and "Not a directory" in err["message"]


def test_a_full_disk_is_a_clear_error(tmp_path: Path) -> None:
    code, out, _ = rara(tmp_path / "home", "data", "synth", "--bars", "20000", fsize=4096)
    err = assert_environment_error(code, out, "disk_full")
    assert "ulimit" in err["suggestion"] and "df" in err["suggestion"]


def test_a_state_database_that_cannot_grow_is_a_clear_error(tmp_path: Path) -> None:
    # SQLite says "disk I/O error" for EFBIG (and "database or disk is full" for ENOSPC)
    args = ("research", "run", "--iterations", "1", "--quiet")
    code, out, _ = rara(tmp_path / "home", *args, fsize=4096)
    err = assert_environment_error(code, out, "disk_full", "disk_io_error")
    assert "ulimit" in err["suggestion"] and "rara.db" in err["message"]


@pytest.mark.parametrize(
    ("content", "where"),
    [
        (b"timestamp,open,high,low,close,volume,pr\xe9cis\n2024-01-01,1,2,0.5,1.5,10,1\n", 1),
        (
            b"timestamp,open,high,low,close,volume\n2024-01-01,1,2,0.5,1.5,10\n2024-01-02,1,2,0.5,1.5,1\xff0\n",
            3,
        ),
    ],
)
def test_a_csv_that_is_not_utf8_is_bad_input(
    cli, tmp_path: Path, content: bytes, where: int
) -> None:
    path = tmp_path / "candles.csv"
    path.write_bytes(content)
    r = cli("data", "import", str(path), "--symbol", "BTC/USDT")
    assert r.code == 2 and r.error["code"] == "not_utf8", r.stdout
    line = "the header (line 1)" if where == 1 else f"line {where}"
    assert f"{line} is not UTF-8" in r.error["message"] and "iconv" in r.error["suggestion"]


# ---- values out of range -------------------------------------------------------------------


@pytest.mark.parametrize("value", ["-0.01", "-1", "nan", "inf"])
def test_max_cost_below_zero_is_bad_input(cli, value: str) -> None:
    r = cli("research", "run", "--iterations", "1", "--max-cost-usd", value, "--quiet")
    assert r.code == 2 and r.error["code"] == "bad_max_cost", r.stdout
    assert "--max-cost-usd" in r.error["message"] and r.error["suggestion"]


@pytest.mark.parametrize("value", ["-0.001", "0.5", "nan", "inf", "abc", "", "0.4"])
def test_bad_fees_are_bad_input(cli, value: str) -> None:
    r = cli("backtest", "run", str(TEMPLATE), *MARKET, "--fees", value)
    assert r.code == 2, r.stdout
    assert r.error["code"] in ("bad_fee", "config_invalid") and r.error["suggestion"]
    assert "--fees" in r.error["message"] or "backtest.fee" in r.error["message"]
