"""`rara validate` lists every sandbox layer as active or missing, as root and as a non-root user
(the layers are reported by a real jailed child, not guessed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from rara.runner.jail.confine import LAYERS
from tests.kit.paths import REPO
from tests.kit.privilege import as_uid_65534


def layer_checks(report: dict) -> dict[str, dict]:
    return {
        c["name"][len("sandbox.") :]: c
        for c in report["checks"]
        if c["name"].startswith("sandbox.")
    }


def assert_every_layer_listed(report: dict) -> dict[str, dict]:
    layers = layer_checks(report)
    assert set(LAYERS) | {"restricted_python"} == set(layers)
    for name, c in layers.items():
        assert c["status"] in ("ok", "missing") and c["detail"], (name, c)
    return layers


def test_validate_lists_layers_here(cli):
    r = cli("validate")
    assert r.code == 0, r.stdout
    layers = assert_every_layer_listed(r.json)
    print("layers here:", {n: c["status"] for n, c in layers.items()})


def test_validate_lists_layers_as_non_root():
    if os.geteuid() != 0:
        pytest.skip("already non-root: test_validate_lists_layers_here covers it")
    # pytest's own temp root is mode 0700; a user's home would not sit under root's
    base = Path(tempfile.mkdtemp(prefix="rara-nonroot-", dir="/tmp"))
    base.chmod(0o755)
    home = base / "home"
    home.mkdir(mode=0o777)
    home.chmod(0o777)
    cmd = as_uid_65534(sys.executable, "-m", "rara", "validate")
    env = {"PATH": os.environ.get("PATH", ""), "RARA_HOME": str(home), "HOME": str(home)}
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=180)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    report = json.loads(p.stdout)
    assert p.returncode == 0, report
    layers = assert_every_layer_listed(report)
    print("layers as uid 65534:", {n: c["status"] for n, c in layers.items()})
    assert (
        "uid 65534" in layers["unprivileged_uid"]["detail"]
        or "unprivileged" in layers["unprivileged_uid"]["detail"]
    )
