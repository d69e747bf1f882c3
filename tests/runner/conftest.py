"""A shared runner whose zygote has the test entries (jail_entries.py) warm, and canary places."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rara.runner.jail.runner import JailedRunner, Limits

HERE = Path(__file__).resolve().parent
ENTRIES = "jail_entries"


def make_runner(**kwargs: Any) -> JailedRunner:
    return JailedRunner(
        warm=(ENTRIES,), sys_path=[*sys.path, str(HERE)], limits=Limits(wall_s=20.0), **kwargs
    )


@pytest.fixture
def runner_factory() -> Callable[..., JailedRunner]:
    return make_runner


@pytest.fixture(scope="module")
def runner() -> Iterator[JailedRunner]:
    with make_runner() as r:
        yield r


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A world-writable, world-readable directory in /tmp: file permissions would let uid 65534
    in, so only the jail (Landlock, RLIMIT_FSIZE) can be what keeps the child out."""
    d = Path(tempfile.mkdtemp(prefix="rara-jail-canary-", dir="/tmp"))
    os.chmod(d, 0o777)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)
