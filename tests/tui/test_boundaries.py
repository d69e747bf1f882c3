"""The TUI's edges: textual is imported by rara.tui alone, and rara.tui's client by no widget
logic of its own (client.py imports no textual), so the gRPC side is testable without a
terminal. A token never reaches a repr."""

from __future__ import annotations

import ast
from pathlib import Path

from rara.tui.client import ServerAddress, read_token
from tests.kit.paths import REPO


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_rara_tui_imports_textual() -> None:
    outside = [
        str(p.relative_to(REPO))
        for p in (REPO / "rara").rglob("*.py")
        if "textual" in _imports(p) and p.parent != REPO / "rara" / "tui"
    ]
    assert outside == []
    assert "textual" not in _imports(REPO / "rara" / "tui" / "client.py")


def test_a_token_is_never_in_a_repr(tmp_path: Path) -> None:
    address = ServerAddress("127.0.0.1:1", "s3cret-token-value")
    assert "s3cret" not in repr(address) and "s3cret" not in str(address)
    server_file = tmp_path / "tokens.json"
    server_file.write_text(
        '{"tokens": [{"name": "read", "role": "read", "token": "r-tok"},'
        ' {"name": "control", "role": "control", "token": "c-tok"}]}'
    )
    assert read_token(server_file) == "c-tok"  # the control token when the file has one
    plain = tmp_path / "token"
    plain.write_text("\n  p-tok  \n")
    assert read_token(plain) == "p-tok"
