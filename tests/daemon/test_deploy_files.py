"""The deploy files: the systemd unit (parsed as INI) and the compose file (parsed as YAML) carry
what the daemon's contract with systemd and Docker needs; `docker compose config` accepts the
compose file where Compose v2 or v1 is installed (CI: fails when neither is)."""

from __future__ import annotations

import configparser
import shutil
import subprocess

import yaml

from rara.daemon_settings import DaemonSettings
from rara.runner.container.config import DEFAULT_IMAGE
from tests.kit.docker import need
from tests.kit.paths import REPO

UNIT = REPO / "deploy" / "rara.service"
COMPOSE = REPO / "docker" / "compose.yaml"
APP_DOCKERFILE = REPO / "docker" / "app.Dockerfile"


def _seconds(text: str) -> float:
    text = text.strip()
    return float(text[:-1]) if text.endswith("s") else float(text)


def test_the_unit_file_speaks_notify_with_a_watchdog_and_hardening() -> None:
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    unit.read(UNIT)
    svc = unit["Service"]
    assert svc["Type"] == "notify" and svc["NotifyAccess"] == "main"
    assert _seconds(svc["WatchdogSec"]) == 60
    assert svc["Restart"] == "on-failure"
    assert svc["ExecStart"].endswith("/rara run")
    assert svc["ExecReload"].endswith("kill -HUP $MAINPID")
    assert svc["KillSignal"] == "SIGTERM"
    assert _seconds(svc["TimeoutStopSec"]) > DaemonSettings().stop_timeout_s
    assert svc["User"] not in ("", "root")
    home = svc["Environment"].split("RARA_HOME=", 1)[1].split()[0]
    assert svc["NoNewPrivileges"] == "yes" and svc["PrivateTmp"] == "yes"
    assert svc["ProtectSystem"] == "strict" and home in svc["ReadWritePaths"].split()
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_the_compose_file_runs_the_daemon_with_the_container_sandbox() -> None:
    doc = yaml.safe_load(COMPOSE.read_text())
    services = doc["services"]
    assert set(services) == {"rara", "sandbox-image"}
    rara = services["rara"]
    assert rara["build"] == {"context": "..", "dockerfile": "docker/app.Dockerfile"}
    assert rara["command"] == ["run"]
    assert rara["environment"]["RARA_HOME"] == "/data"
    mounts = rara["volumes"]
    assert "rara-data:/data" in mounts and "rara-data" in doc["volumes"]
    assert "/var/run/docker.sock:/var/run/docker.sock" in mounts
    assert "root on the host" in COMPOSE.read_text()  # says what mounting the socket grants
    assert _seconds(rara["stop_grace_period"]) > DaemonSettings().stop_timeout_s
    assert rara["depends_on"]["sandbox-image"]["condition"] == "service_completed_successfully"
    image = services["sandbox-image"]
    assert image["command"][:2] == ["sandbox", "build-image"]
    assert image["command"][image["command"].index("--tag") + 1] == DEFAULT_IMAGE
    assert (REPO / "docker" / "sandbox.Dockerfile").is_file()


def test_the_app_image_runs_rara_as_a_user_with_its_home_in_a_volume() -> None:
    # one instruction per entry: continuation lines joined, comments dropped
    text = APP_DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [" ".join(ln.split()) for ln in text.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith("#")]
    assert lines[0] == "FROM python:3.11-slim"
    env = [ln for ln in lines if ln.startswith("ENV ")]
    assert any("RARA_HOME=/data" in ln.split() for ln in env)
    assert "USER rara" in lines and 'VOLUME ["/data"]' in lines
    assert lines.index("USER rara") < lines.index('CMD ["run"]')  # runs as rara, not root
    assert 'ENTRYPOINT ["rara"]' in lines and 'CMD ["run"]' in lines
    assert any(ln.startswith("RUN pip install -e .") for ln in lines)


def _compose() -> list[str] | None:
    """Compose v2 (the docker CLI's plugin) or v1 (`docker-compose`, what CI installs from
    Debian): the file is written for both."""
    docker = shutil.which("docker")
    if docker is not None:
        v2 = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=60)
        if v2.returncode == 0:
            return [docker, "compose"]
    v1 = shutil.which("docker-compose")
    return [v1] if v1 is not None else None


def test_docker_compose_accepts_the_file() -> None:
    compose = _compose()
    if compose is None:
        need(
            "neither `docker compose` nor `docker-compose` here (scripts/ci-docker.sh installs one)"
        )
    check = subprocess.run(
        [*compose, "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stderr
