"""`rara worker`: a Dask worker for research runs on other machines, started only where rara's
sandbox works (every jail layer active; for the docker backend, the engine and the image)."""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

import click

from rara.cli.output import emit
from rara.config import ResearchClusterSettings, SandboxSettings, load_settings
from rara.errors import BadInput, Refused
from rara.home import Home
from rara.runner.sandbox import BOUNDARIES


def environment_checks(backend: str, sandbox: SandboxSettings) -> list[dict[str, Any]]:
    """What this machine's sandbox gives a job of `backend`; each check names why it failed."""
    checks: list[dict[str, Any]] = [
        {
            "name": "dask_distributed",
            "ok": importlib.util.find_spec("distributed") is not None,
            "detail": "pip install 'rara[dask]'",
        }
    ]
    if backend == "subprocess":
        from rara.runner.capabilities import sandbox_layers

        checks += [
            {"name": x.name, "ok": x.available, "detail": x.detail} for x in sandbox_layers()
        ]
    else:
        from rara.runner.capabilities import docker_engine
        from rara.runner.sandbox import container_image_present

        engine = docker_engine()
        checks.append({"name": "docker_engine", "ok": engine.available, "detail": engine.detail})
        if engine.available:
            ok, detail = container_image_present(sandbox.image)
            checks.append({"name": "sandbox_image", "ok": ok, "detail": detail})
    return checks


def worker_command(scheduler: str, cluster: ResearchClusterSettings, name: str | None) -> list[str]:
    """The `dask worker` command line: one single-threaded process (each job starts a sandbox
    of its own), no dashboard, the cluster's TLS files."""
    cmd = [sys.executable, "-m", "distributed.cli.dask_worker", scheduler]
    cmd += ["--nworkers", "1", "--nthreads", "1", "--no-dashboard"]
    if name:
        cmd += ["--name", name]
    for flag, value in (
        ("--tls-ca-file", cluster.tls_ca_file),
        ("--tls-cert", cluster.tls_cert),
        ("--tls-key", cluster.tls_key),
    ):
        if value:
            cmd += [flag, value]
    return cmd


@click.command("worker")
@click.option("--scheduler", default=None, help="e.g. tls://10.0.0.5:8786 (cluster.scheduler)")
@click.option(
    "--backend",
    type=click.Choice(BOUNDARIES),
    default=None,
    help="the sandbox jobs will ask for (default: sandbox.backend setting)",
)
@click.option("--name", default=None, help="the worker's name on the scheduler")
@click.option("--check", is_flag=True, help="only run the environment checks and print them")
def command(scheduler: str | None, backend: str | None, name: str | None, check: bool) -> None:
    """Start a Dask worker for research runs after rara's environment checks; refuse otherwise."""
    settings = load_settings(Home.from_env())
    checks = environment_checks(backend or settings.sandbox.backend, settings.sandbox)
    failed = [c["name"] for c in checks if not c["ok"]]
    if check:
        emit({"ok": not failed, "checks": checks})
        if failed:
            raise Refused("worker_environment", f"not ready: {', '.join(failed)}")
        return
    if failed:
        raise Refused(
            "worker_environment",
            f"this machine cannot run rara's sandbox: {', '.join(failed)}",
            "`rara worker --check` shows each check; `rara validate` explains the layers",
        )
    address = scheduler or settings.cluster.scheduler
    if address is None:
        raise BadInput(
            "no_scheduler",
            "no scheduler to join",
            "pass --scheduler tls://HOST:8786, or set cluster.scheduler",
        )
    cmd = worker_command(address, settings.cluster, name)
    os.execv(cmd[0], cmd)  # the worker's own signal handling and exit code from here on
