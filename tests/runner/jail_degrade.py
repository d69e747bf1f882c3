"""Warmed into a test zygote to simulate a machine without Landlock and seccomp (old kernel)."""

from __future__ import annotations

from rara.runner.jail import landlock, seccomp


def _no_landlock() -> int:
    return 0


def _no_seccomp(program: bytes | None = None) -> str:
    raise OSError(22, "simulated: kernel built without CONFIG_SECCOMP_FILTER")


landlock.abi_version = _no_landlock  # type: ignore[assignment]
seccomp.install = _no_seccomp
