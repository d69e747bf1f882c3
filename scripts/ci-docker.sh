#!/usr/bin/env bash
# Bring up a Docker engine and the container-sandbox images on a Debian machine with no image
# registry (CI, a fresh dev box). Idempotent: every step is skipped when its result is already
# there, so a rerun takes seconds. Needs root, Debian's apt repositories and PyPI.
#
#   1. apt-get install docker.io docker-compose debootstrap tmux (only when missing; tmux: the
#      TUI's smoke test drives the real `rara tui` in it)
#   2. start dockerd in the background when no engine answers (no iptables, no bridge: sandbox
#      containers use network "none", and this keeps dockerd off the host's firewall)
#   3. rara-sandbox-base:bookworm: debootstrap a minbase Debian with python3 + python3-numpy and
#      `docker import` it; the root-fs tarball is cached, so a pruned engine re-imports quickly
#   4. rara-sandbox:latest through `rara sandbox build-image --base-image rara-sandbox-base:bookworm`
#
# Environment: PYTHON (default .venv/bin/python), RARA_DOCKER_CACHE (default
# /var/cache/rara-sandbox), DEBIAN_MIRROR (default http://deb.debian.org/debian),
# RARA_DOCKERD_LOG (default /var/log/rara-dockerd.log).
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_IMAGE=rara-sandbox-base:bookworm
SANDBOX_IMAGE=rara-sandbox:latest
CACHE=${RARA_DOCKER_CACHE:-/var/cache/rara-sandbox}
ROOTFS_TAR=$CACHE/bookworm-minbase.tar
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DOCKERD_LOG=${RARA_DOCKERD_LOG:-/var/log/rara-dockerd.log}
PYTHON=${PYTHON:-.venv/bin/python}
START=$SECONDS

say() { printf '[ci-docker %3ds] %s\n' "$((SECONDS - START))" "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    say "must run as root (apt-get, dockerd, debootstrap)"; exit 1
fi

# 1. packages -----------------------------------------------------------------------------------
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null \
    || ! command -v docker-compose >/dev/null || ! command -v tmux >/dev/null; then
    say "installing docker.io, docker-compose (v1: Debian has no v2 plugin), debootstrap, tmux"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q docker.io docker-compose debootstrap tmux ca-certificates >&2
fi
# Debian's client matches Debian's engine; another docker CLI earlier on PATH may not.
DOCKER=docker
[ -x /usr/bin/docker ] && DOCKER=/usr/bin/docker

# 2. engine -------------------------------------------------------------------------------------
engine_up() { "$DOCKER" info >/dev/null 2>&1; }
if ! engine_up; then
    case "${DOCKER_HOST:-unix:///var/run/docker.sock}" in
        unix:///var/run/docker.sock) ;;
        *) say "DOCKER_HOST=$DOCKER_HOST does not answer; not starting a local engine"; exit 1 ;;
    esac
    if pgrep -x dockerd >/dev/null; then
        say "dockerd is running but not answering yet; waiting"
    else
        say "starting dockerd (log: $DOCKERD_LOG)"
        # setsid + nohup: the engine must outlive this script (and the CI step that ran it)
        setsid nohup dockerd --iptables=false --ip-masq=false --bridge=none \
            --storage-driver=overlay2 >>"$DOCKERD_LOG" 2>&1 </dev/null &
    fi
    for _ in $(seq 1 120); do
        engine_up && break
        sleep 0.5
    done
    if ! engine_up; then
        say "dockerd did not come up in 60 s; last lines of $DOCKERD_LOG:"
        tail -n 20 "$DOCKERD_LOG" >&2 || true
        exit 1
    fi
fi
say "engine up: $("$DOCKER" version --format '{{.Server.Version}}' 2>/dev/null || echo '?')"

# 3. offline base image -------------------------------------------------------------------------
if "$DOCKER" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    say "$BASE_IMAGE present"
else
    mkdir -p "$CACHE"
    if [ ! -s "$ROOTFS_TAR" ]; then
        say "debootstrap bookworm minbase with python3, python3-numpy (about 1.5 min)"
        ROOT=$(mktemp -d "$CACHE/rootfs.XXXXXX")
        trap 'rm -rf "$ROOT"' EXIT
        debootstrap --variant=minbase --include=python3,python3-numpy bookworm "$ROOT" \
            "$MIRROR" >&2
        # apt's downloads and lists are a third of the tree and useless in a sandbox
        rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*
        # write then rename: an interrupted run never leaves a truncated cache behind
        tar -C "$ROOT" -cf "$ROOTFS_TAR.partial" .
        mv "$ROOTFS_TAR.partial" "$ROOTFS_TAR"
        rm -rf "$ROOT"
        trap - EXIT
    fi
    say "importing $ROOTFS_TAR as $BASE_IMAGE"
    "$DOCKER" import --message "rara sandbox base: Debian bookworm minbase + python3-numpy" \
        "$ROOTFS_TAR" "$BASE_IMAGE" >/dev/null
fi

# 4. sandbox image ------------------------------------------------------------------------------
if [ ! -x "$PYTHON" ]; then
    say "no $PYTHON; creating the venv"
    make .venv/.installed >&2
fi
if ! "$PYTHON" -c 'import docker' 2>/dev/null; then
    say "installing the docker SDK into the venv"
    "$PYTHON" -m pip install --quiet 'docker>=7.0' >&2
fi
# `rara sandbox build-image` itself: the build is tested exactly as users run it.
say "building $SANDBOX_IMAGE from $BASE_IMAGE"
"$PYTHON" -m rara sandbox build-image --base-image "$BASE_IMAGE" --tag "$SANDBOX_IMAGE" --no-pull
# Each rebuild after a rara_sandbox change leaves the previous image untagged; drop ours only.
"$DOCKER" image prune -f --filter label=rara.sandbox.source_sha256 >/dev/null
say "done in $((SECONDS - START)) s"
