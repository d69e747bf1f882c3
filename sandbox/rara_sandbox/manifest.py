"""Manifests for shipped example strategies: ``strategies/examples/<name>/manifest.json``.

A manifest pins a strategy file: its sha256 plus what its meta() declares (read through the same
lint → restricted compile → meta() path as any evaluation, so a manifest cannot describe a file
the sandbox would refuse). ``python -m rara_sandbox.manifest DIR`` rewrites the manifests of
every ``DIR/*/strategy.py``; ``--check`` only compares and exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from rara_sandbox.evaluate import inspect_meta

STRATEGY_FILE = "strategy.py"
MANIFEST_FILE = "manifest.json"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_manifest(source_bytes: bytes) -> dict[str, Any]:
    """The manifest dict for one strategy source; ValueError if the sandbox refuses it."""
    result = inspect_meta(source_bytes.decode("utf-8"))
    if not result.ok or result.meta is None:
        error = result.error
        raise ValueError(f"{error.code}: {error.message}" if error else "meta unavailable")
    meta = result.meta
    return {
        "name": meta["name"],
        "version": meta["version"],
        "api_version": meta["api_version"],
        "timeframe": meta["timeframe"],
        "lookback": meta["lookback"],
        "description": meta["description"],
        "params": meta["params"],
        "source": STRATEGY_FILE,
        "sha256": sha256_hex(source_bytes),
    }


def render(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def check_dir(strategy_dir: Path) -> list[str]:
    """Problems with one strategy directory's manifest (empty list: up to date)."""
    source = strategy_dir / STRATEGY_FILE
    path = strategy_dir / MANIFEST_FILE
    try:
        expected = build_manifest(source.read_bytes())
    except (OSError, ValueError) as e:
        return [f"{source}: {e}"]
    if expected["name"] != strategy_dir.name:
        return [f"{source}: meta name {expected['name']!r} differs from directory name"]
    if not path.exists():
        return [f"{path}: missing"]
    if path.read_text(encoding="utf-8") != render(expected):
        return [f"{path}: out of date (run python -m rara_sandbox.manifest {strategy_dir.parent})"]
    return []


def write_dir(strategy_dir: Path) -> None:
    manifest = build_manifest((strategy_dir / STRATEGY_FILE).read_bytes())
    (strategy_dir / MANIFEST_FILE).write_text(render(manifest), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rara_sandbox.manifest")
    parser.add_argument("root", type=Path, help="directory holding <name>/strategy.py")
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if stale")
    args = parser.parse_args(argv)
    dirs = sorted(p.parent for p in args.root.glob(f"*/{STRATEGY_FILE}"))
    problems: list[str] = []
    for d in dirs:
        if args.check:
            problems += check_dir(d)
        else:
            try:
                write_dir(d)
            except ValueError as e:
                problems.append(f"{d}: {e}")
    for p in problems:
        print(p, file=sys.stderr)
    print(json.dumps({"strategies": [d.name for d in dirs], "problems": problems}))
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
