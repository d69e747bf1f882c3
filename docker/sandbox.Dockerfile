# The container sandbox image: a Python base plus rara_sandbox, numpy and RestrictedPython, nothing
# else of rara. Built by `rara sandbox build-image` (rara/runner/container/image.py), which assembles the
# build context in a temp dir:
#
#   sandbox.Dockerfile      this file
#   install_sandbox.py      the offline installer (docker/install_sandbox.py)
#   rara_sandbox/           the package source
#   wheels/                 wheels pip downloaded on the host (RestrictedPython; numpy when the
#                           base lacks a usable one)
#
# The build runs with network "none": everything comes from the context, so it works on machines
# with no registry or index (the default base only needs a registry to be pulled once).
# The classic builder is used (the docker SDK does not drive BuildKit), so no heredocs here.

ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

COPY install_sandbox.py /opt/rara-build/install_sandbox.py
COPY wheels/ /opt/rara-build/wheels/
COPY rara_sandbox/ /opt/rara-build/rara_sandbox/

# Installs with pip when the base has it, else by unpacking the wheels (Debian's python3 has no
# pip); byte-compiles everything now, because the root filesystem is read-only at run time; then
# imports the package as uid 65534 would, so a broken image fails here rather than per evaluation.
RUN python3 /opt/rara-build/install_sandbox.py /opt/rara-build && rm -rf /opt/rara-build

# Defaults only: the runner passes every restriction (user, read-only root, no network, limits)
# explicitly on each container, so a bare `docker run` of this image is not the security boundary.
USER 65534:65534
WORKDIR /
# -s: no user site, -P: no current directory on sys.path (not -I, which would drop the fixed
# hash seed: set order, and signals built from it, must be the same in every container).
ENV PYTHONHASHSEED=0
CMD ["python3", "-s", "-P", "-m", "rara_sandbox"]
LABEL org.opencontainers.image.title="rara-sandbox" \
      org.opencontainers.image.description="rara strategy sandbox: rara_sandbox, numpy, RestrictedPython"
