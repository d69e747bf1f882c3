"""Install rara_sandbox and its wheels into the image's Python, offline. Runs inside `docker build`.

Standard library only: the base may be Debian's python3 (no pip; numpy from python3-numpy) or a
python slim image (pip; numpy from a wheel in the context). Usage: install_sandbox.py CONTEXT_DIR
"""

from __future__ import annotations

import compileall
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path


def unpack_wheel(wheel: Path, site: Path) -> None:
    """What pip does for a wheel, minus scripts and headers (the sandbox uses neither)."""
    with zipfile.ZipFile(wheel) as zf:
        for member in zf.namelist():
            # a wheel is a zip of relative paths; refuse anything that would escape site-packages
            if member.startswith("/") or ".." in Path(member).parts:
                raise SystemExit(f"{wheel.name}: unsafe path {member!r}")
        zf.extractall(site)
    for data in site.glob("*.data"):  # <dist>.data/{purelib,platlib}/... belong in site-packages
        for scheme in ("purelib", "platlib"):
            src = data / scheme
            if src.is_dir():
                shutil.copytree(src, site, dirs_exist_ok=True)
        shutil.rmtree(data)


def main() -> None:
    ctx = Path(sys.argv[1])
    site = Path(sysconfig.get_paths()["purelib"])
    site.mkdir(parents=True, exist_ok=True)
    wheels = sorted((ctx / "wheels").glob("*.whl"))
    if wheels and importlib.util.find_spec("pip") is not None:
        # BREAK_SYSTEM_PACKAGES: a Debian base with python3-pip marks itself externally managed
        # (PEP 668); in a single-purpose image installing into /usr/local is what we want.
        env = {
            **os.environ,
            "PIP_ROOT_USER_ACTION": "ignore",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_BREAK_SYSTEM_PACKAGES": "1",
        }
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--no-index",
                "--no-deps",
                "--no-cache-dir",
                *map(str, wheels),
            ],
            check=True,
            env=env,
        )
    else:
        for wheel in wheels:
            unpack_wheel(wheel, site)
    target = site / "rara_sandbox"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(
        ctx / "rara_sandbox", target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    # The root filesystem is read-only at run time, so compile now or pay for it on every start.
    compileall.compile_dir(str(site), quiet=1, workers=0)
    for path in [site, *site.rglob("*")]:  # readable by uid 65534 whatever the umask was
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        path.chmod(mode | 0o444 | (0o111 if path.is_dir() else 0))
    check = (
        "import numpy, RestrictedPython, rara_sandbox, rara_sandbox.evaluate, "
        "rara_sandbox.protocol; print('numpy', numpy.__version__)"
    )
    subprocess.run([sys.executable, "-I", "-c", check], check=True, user=65534, group=65534)


if __name__ == "__main__":
    main()
