# The rara app image: the daemon (`rara run`, the default) and every other `rara` command.
# Built from the repository's root (docker/compose.yaml does this):
#
#   docker build -f docker/app.Dockerfile -t rara:latest .
#
# rara is installed editable from /opt/rara, so `rara sandbox build-image` finds
# docker/sandbox.Dockerfile beside the package, as in a checkout. State lives in the volume at
# /data ($RARA_HOME); the process runs as an unprivileged user.

FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1

WORKDIR /opt/rara
COPY pyproject.toml README.md ./
COPY rara/ rara/
COPY sandbox/ sandbox/
COPY docker/ docker/
COPY strategies/ strategies/
# byte-compiled now: the source tree is root's and read-only to the daemon's user
RUN pip install -e . && python -m compileall -q rara sandbox/rara_sandbox

RUN useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin rara \
    && mkdir -p /data && chown rara:rara /data && chmod 0700 /data

USER rara
# caches that would otherwise be written beside root's files
ENV RARA_HOME=/data \
    NUMBA_CACHE_DIR=/tmp/numba \
    MPLCONFIGDIR=/tmp/matplotlib
VOLUME ["/data"]
WORKDIR /data
# `rara run` stops cleanly on SIGTERM (trading halted, orders handled, ledger drained)
STOPSIGNAL SIGTERM
ENTRYPOINT ["rara"]
CMD ["run"]
LABEL org.opencontainers.image.title="rara" \
      org.opencontainers.image.description="rara: closed-loop crypto trading research and trading daemon"
