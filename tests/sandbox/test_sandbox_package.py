"""Packaging rules: manifests match the shipped sources; rara_sandbox imports only the stdlib,
numpy and RestrictedPython (it goes alone into the container image)."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

from rara_sandbox.manifest import MANIFEST_FILE, STRATEGY_FILE, check_dir, main, sha256_hex
from tests.kit.paths import SANDBOX_SRC

PACKAGE = SANDBOX_SRC / "rara_sandbox"
ALLOWED_TOP_LEVEL = {"numpy", "RestrictedPython", "rara_sandbox"} | set(sys.stdlib_module_names)


def test_example_manifests_match_sources(strategies_dir: Path) -> None:
    dirs = sorted(p.parent for p in (strategies_dir / "examples").glob(f"*/{STRATEGY_FILE}"))
    assert {d.name for d in dirs} >= {"sma_crossover", "rsi_mean_reversion", "donchian_breakout"}
    for d in dirs:
        assert check_dir(d) == [], d
        manifest = json.loads((d / MANIFEST_FILE).read_text())
        assert manifest["sha256"] == sha256_hex((d / STRATEGY_FILE).read_bytes())
        assert manifest["name"] == d.name and manifest["api_version"] == 1
        assert {"version", "description", "params", "timeframe", "lookback"} <= set(manifest)


def test_manifest_check_detects_drift(strategies_dir: Path, tmp_path: Path) -> None:
    src = strategies_dir / "examples" / "sma_crossover"
    d = tmp_path / "sma_crossover"
    d.mkdir()
    (d / STRATEGY_FILE).write_bytes((src / STRATEGY_FILE).read_bytes() + b"\n# changed\n")
    (d / MANIFEST_FILE).write_bytes((src / MANIFEST_FILE).read_bytes())
    assert "out of date" in check_dir(d)[0]
    assert main([str(tmp_path), "--check"]) == 1
    assert main([str(tmp_path)]) == 0 and check_dir(d) == []


def test_sandbox_package_imports_only_numpy_and_restrictedpython() -> None:
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] in ALLOWED_TOP_LEVEL, f"{path.name} imports {name}"


def test_api_readme_lists_everything_strategies_can_use(strategies_dir: Path) -> None:
    from rara_sandbox import ta
    from rara_sandbox.guards import (
        DICT_ATTRIBUTES,
        LIST_ATTRIBUTES,
        NDARRAY_ATTRIBUTES,
        STR_ATTRIBUTES,
    )
    from rara_sandbox.restricted import SAFE_BUILTINS

    readme = (strategies_dir / "template" / "README.md").read_text()
    words = set(readme.replace("`", " ").replace("(", " ").replace("/", " ").split())
    documented = {w.strip(",.;:") for w in words}
    public_builtins = {b for b in SAFE_BUILTINS if not b.startswith("_")}
    wanted = (
        set(ta.API)
        | NDARRAY_ATTRIBUTES
        | LIST_ATTRIBUTES
        | DICT_ATTRIBUTES
        | STR_ATTRIBUTES
        | public_builtins
    )
    assert wanted - documented == set()
