"""Running a command as uid 65534 (nobody) from a root test, to prove what a non-root user gets."""

from __future__ import annotations

import shutil

import pytest


def as_uid_65534(*argv: str) -> list[str]:
    """``argv`` prefixed so it runs as uid/gid 65534 with no groups; skips when setpriv is missing.

    The interpreter may live under /root (mode 0700), so the command keeps one read-only
    capability, CAP_DAC_READ_SEARCH, to load it; rara's jailed child clears it like all the rest.
    """
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is not installed: cannot become uid 65534")
    return [
        setpriv,
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=+dac_read_search",
        "--ambient-caps=+dac_read_search",
        *argv,
    ]
