"""Build the container sandbox image from docker/sandbox.Dockerfile, offline once the base is local.

The build context is assembled in a temp dir: the Dockerfile, its installer script, the
rara_sandbox source and wheels pip downloads on the host for the base's Python (RestrictedPython
always; numpy only when the base has none or one too old). The engine then builds with network
"none", so nothing is fetched inside the build: the same path works with `python:3.11-slim` on a
machine with a registry and with a `debootstrap` + `docker import` base on one without
(scripts/ci-docker.sh). A smoke run of the finished image under the sandbox's restrictions proves
it imports everything as uid 65534 on a read-only root.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rara.errors import BadInput, RaraError
from rara.runner.container.config import (
    DEFAULT_IMAGE,
    LABEL_SOURCE_HASH,
    ContainerLimits,
    sandbox_package_dir,
    sandbox_source_hash,
)
from rara.runner.container.io import _require_sdk, connect
from rara.runner.container.runner import ContainerRunner

log = logging.getLogger(__name__)

DEFAULT_BASE_IMAGE = "python:3.11-slim"
DOCKER_DIR = Path(__file__).resolve().parents[3] / "docker"
DOCKERFILE = "sandbox.Dockerfile"
INSTALLER = "install_sandbox.py"
RESTRICTED_PYTHON = "RestrictedPython>=9.0"
# rara_sandbox runs on Debian bookworm's python3-numpy (1.24); older ones get a wheel instead.
NUMPY = "numpy>=1.24"
NUMPY_MIN = (1, 24)
LABEL_BASE = "rara.sandbox.base"

# Runs inside the base image with its own python3: what the context must supply.
_PROBE = """
import json, platform, sys, importlib.util as u
try:
    import numpy; nv = numpy.__version__
except Exception:
    nv = None
print(json.dumps({"python": "%d.%d" % sys.version_info[:2], "machine": platform.machine(),
                  "glibc": platform.libc_ver()[1] or None, "numpy": nv,
                  "pip": u.find_spec("pip") is not None}))
"""
_SMOKE = (
    "import json, rara_sandbox.evaluate as e, rara_sandbox.protocol; "
    "print(json.dumps(e.runtime_info()))"
)


@dataclass(frozen=True)
class BaseInfo:
    python: str  # "3.11"
    machine: str  # "x86_64"
    glibc: str | None  # "2.36"; None on musl bases
    numpy: str | None  # the base's own numpy, if any
    pip: bool

    def numpy_usable(self) -> bool:
        if self.numpy is None:
            return False
        parts = re.findall(r"\d+", self.numpy)[:2]
        return tuple(int(p) for p in parts) >= NUMPY_MIN


def _ensure_base(client: Any, base_image: str, pull: bool) -> None:
    docker = _require_sdk()
    try:
        client.images.get(base_image)
        return
    except docker.errors.ImageNotFound:
        if not pull:
            raise BadInput(
                "base_image_missing",
                f"{base_image} is not in the local engine",
                "pull it, or build the offline base with scripts/ci-docker.sh "
                "and pass --base-image rara-sandbox-base:bookworm",
            ) from None
    log.info("pulling %s", base_image)
    try:
        client.images.pull(base_image)
    except docker.errors.DockerException as exc:
        raise RaraError(
            "base_image_unavailable",
            f"{base_image} is not local and could not be pulled: {exc}",
            "without a registry, build an offline base (scripts/ci-docker.sh makes "
            "rara-sandbox-base:bookworm with debootstrap) and pass it as --base-image",
        ) from None


def probe_base(client: Any, base_image: str) -> BaseInfo:
    """Ask the base's python3 for its version, platform, numpy and pip (no network, removed)."""
    docker = _require_sdk()
    try:
        out = client.containers.run(
            base_image,
            entrypoint=["python3", "-c", _PROBE],
            network_mode="none",
            remove=True,
            stdout=True,
            stderr=True,
        )
        data = json.loads(out.decode().strip().splitlines()[-1])
        return BaseInfo(**data)
    except (docker.errors.DockerException, ValueError, IndexError, TypeError) as exc:
        raise BadInput(
            "base_image_unusable",
            f"{base_image} did not answer as a Python 3 image: {exc}",
            "use an image with python3 on PATH (Debian or python slim)",
        ) from None


def _pip_download(args: list[str], dest: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--no-deps",
        "--only-binary=:all:",
        "-d",
        str(dest),
        *args,
    ]
    log.info("downloading wheels: %s", " ".join(args))
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        tail = " | ".join(p.stderr.strip().splitlines()[-3:])
        raise RaraError(
            "wheel_download_failed",
            f"pip download {' '.join(args)} failed: {tail}",
            "check that PyPI is reachable, or pass --wheel-dir with the wheels",
        )


def manylinux_platforms(glibc: str, machine: str) -> list[str]:
    """Every manylinux tag a glibc of this version runs, newest first: pip's --platform takes
    each literally (it widens only the legacy manylinux2014 alias)."""
    major, minor = (int(x) for x in glibc.split(".")[:2])
    tags = [f"manylinux_{major}_{m}_{machine}" for m in range(minor, 16, -1)]
    return [*tags, f"manylinux2014_{machine}"]


def gather_wheels(base: BaseInfo, dest: Path, wheel_dir: Path | None = None) -> list[str]:
    """Wheels the base needs, into dest: copied from wheel_dir when given, else downloaded."""
    dest.mkdir(parents=True, exist_ok=True)
    need_numpy = not base.numpy_usable()
    if wheel_dir is not None:
        for whl in sorted(Path(wheel_dir).glob("*.whl")):
            name = whl.name.lower()
            if name.startswith("restrictedpython-") or (need_numpy and name.startswith("numpy-")):
                shutil.copy2(whl, dest / whl.name)
    else:
        _pip_download(["--python-version", base.python, RESTRICTED_PYTHON], dest)
        if need_numpy:
            if base.glibc is None:
                raise BadInput(
                    "base_image_unusable",
                    "the base has no numpy and is not glibc-based (no wheel fits)",
                    "use a Debian-based image, or one with numpy installed",
                )
            abi = "cp" + base.python.replace(".", "")
            platforms = [
                a for p in manylinux_platforms(base.glibc, base.machine) for a in ("--platform", p)
            ]
            _pip_download(
                [
                    "--python-version",
                    base.python,
                    "--implementation",
                    "cp",
                    "--abi",
                    abi,
                    *platforms,
                    NUMPY,
                ],
                dest,
            )
    names = sorted(p.name for p in dest.glob("*.whl"))
    if not any(n.lower().startswith("restrictedpython-") for n in names):
        raise BadInput(
            "wheels_missing",
            f"no RestrictedPython wheel in {wheel_dir}",
            f"pip download '{RESTRICTED_PYTHON}' --no-deps -d {wheel_dir}",
        )
    if need_numpy and not any(n.lower().startswith("numpy-") for n in names):
        raise BadInput(
            "wheels_missing",
            f"the base has no numpy and {wheel_dir} has no wheel",
            f"add a numpy wheel for Python {base.python} on {base.machine}",
        )
    return names


def assemble_context(ctx: Path, base: BaseInfo, wheel_dir: Path | None = None) -> list[str]:
    """Fill `ctx` with everything the Dockerfile COPYs; returns the wheel names."""
    for name in (DOCKERFILE, INSTALLER):
        src = DOCKER_DIR / name
        if not src.is_file():
            raise RaraError(
                "sandbox_dockerfile_missing",
                f"{src} not found",
                "build images from a rara source checkout (docker/ holds the files)",
            )
        shutil.copy2(src, ctx / name)
    shutil.copytree(
        sandbox_package_dir(),
        ctx / "rara_sandbox",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    return gather_wheels(base, ctx / "wheels", wheel_dir)


def build_image(
    base_image: str = DEFAULT_BASE_IMAGE,
    tag: str = DEFAULT_IMAGE,
    *,
    client: Any = None,
    pull: bool = True,
    wheel_dir: Path | None = None,
) -> dict[str, Any]:
    """Build (or refresh, through the engine's layer cache) the sandbox image; returns a report."""
    t0 = time.monotonic()
    client = client or connect()
    docker = _require_sdk()
    _ensure_base(client, base_image, pull)
    base = probe_base(client, base_image)
    log.info("base %s: python %s, numpy %s, pip %s", base_image, base.python, base.numpy, base.pip)
    source_hash = sandbox_source_hash()
    with tempfile.TemporaryDirectory(prefix="rara-sandbox-build-") as tmp:
        ctx = Path(tmp)
        wheels = assemble_context(ctx, base, wheel_dir)
        log.info("building %s from %s", tag, base_image)
        lines: list[str] = []
        image_id = None
        try:
            for chunk in client.api.build(
                path=str(ctx),
                dockerfile=DOCKERFILE,
                tag=tag,
                buildargs={"BASE_IMAGE": base_image},
                network_mode="none",
                rm=True,
                forcerm=True,
                pull=False,
                decode=True,
                labels={LABEL_SOURCE_HASH: source_hash, LABEL_BASE: base_image},
            ):
                if "stream" in chunk:
                    text = str(chunk["stream"]).rstrip()
                    if text:
                        lines.append(text)
                        log.debug("%s", text)
                if "aux" in chunk and isinstance(chunk["aux"], dict):
                    image_id = chunk["aux"].get("ID", image_id)
                if "error" in chunk:
                    tail = " | ".join([*lines[-4:], str(chunk["error"]).strip()])
                    raise RaraError(
                        "image_build_failed",
                        f"docker build failed: {tail}",
                        "rerun with -v for the whole build log",
                    )
        except docker.errors.DockerException as exc:
            raise RaraError(
                "image_build_failed", f"docker build failed: {exc}", "check the engine log"
            ) from None
    image = client.images.get(tag)
    # Prove the image works under exactly the restrictions evaluations get.
    smoke = ContainerRunner(
        tag, ContainerLimits(wall_s=60), command=["python3", "-I", "-c", _SMOKE], client=client
    ).run(b"")
    if not smoke.ok:
        raise RaraError(
            "image_smoke_failed",
            f"{tag} was built but does not run sandboxed: {smoke.error.message}"
            if smoke.error
            else "no output",
            "rerun with -v and check the build log",
        )
    return {
        "image": tag,
        "id": image_id or image.id,
        "base_image": base_image,
        "base": asdict(base),
        "wheels": wheels,
        "source_sha256": source_hash,
        "size_bytes": int(image.attrs.get("Size", 0)),
        "runtime": json.loads(smoke.output.decode()),
        "smoke_run_ms": smoke.timings_ms.get("total"),
        "seconds": round(time.monotonic() - t0, 2),
    }
