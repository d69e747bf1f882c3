"""`rara sandbox`: the container sandbox's image and what it enforces on this machine."""

from __future__ import annotations

from pathlib import Path

import click

from rara.cli.output import emit
from rara.runner.container.config import DEFAULT_IMAGE


@click.command("build-image")
@click.option(
    "--base-image",
    default="python:3.11-slim",
    show_default=True,
    metavar="IMG",
    help="Base with python3 on PATH. Without a registry use a local one, e.g. "
    "rara-sandbox-base:bookworm from scripts/ci-docker.sh.",
)
@click.option(
    "--tag",
    default=DEFAULT_IMAGE,
    show_default=True,
    metavar="TAG",
    help="Name of the image to build.",
)
@click.option(
    "--wheel-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Take RestrictedPython (and numpy) wheels from here instead of pip download.",
)
@click.option("--no-pull", is_flag=True, help="Never pull the base image; it must be local.")
def build_image_cmd(base_image: str, tag: str, wheel_dir: Path | None, no_pull: bool) -> None:
    """Build the sandbox image: the base plus rara_sandbox, numpy and RestrictedPython.

    The build itself runs with no network; wheels are fetched on the host first.
    """
    from rara.runner.container.image import build_image

    emit(build_image(base_image, tag, pull=not no_pull, wheel_dir=wheel_dir))


@click.command("status")
@click.option("--image", default=DEFAULT_IMAGE, show_default=True, metavar="TAG")
def status_cmd(image: str) -> None:
    """Whether an engine answers, and which container protections are active with it."""
    from rara.runner.capabilities import docker_engine
    from rara.runner.sandbox import ContainerSandbox

    engine = docker_engine()
    if not engine.available:
        emit({"engine": engine.to_dict(), "image": image, "protections": []})
        return
    with ContainerSandbox(image=image) as sandbox:
        protections = sandbox.layers()
    emit({"engine": engine.to_dict(), "image": image, "protections": protections})
