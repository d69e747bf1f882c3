"""Who started a sandbox container, and whether that process is still alive.

Every container carries its owner's host, pid and start time as labels (`owner_labels`). A process
killed mid-evaluation (SIGKILL, OOM, a power cut of the terminal) never runs its cleanup, so the
next rara that starts a container removes the labelled ones whose owner is gone (`is_orphan`,
called by `ContainerRunner.remove_leftovers`). A pid alone is not an owner: pids are reused, so the
owner's start time (Linux: clock ticks since boot, from /proc) must match too. Where the owner
cannot be checked (another host's container in a shared engine, a container without owner labels)
only the deadline label decides.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from pathlib import Path

LABEL_OWNER_HOST = "rara.sandbox.owner_host"
LABEL_OWNER_PID = "rara.sandbox.owner_pid"
LABEL_OWNER_START = "rara.sandbox.owner_start"  # empty where /proc cannot tell it
LABEL_STARTED = "rara.sandbox.started"  # unix time the container was created


def process_start(pid: int) -> str:
    """The start time of process `pid` in clock ticks since boot ("" when it cannot be read):
    the same pid with another start time is another process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # the command name (field 2) may hold spaces and parentheses: count from its closing one
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else ""  # field 22, starttime


def owner_labels() -> dict[str, str]:
    """The labels naming this process as a container's owner, and the container's start."""
    pid = os.getpid()
    return {
        LABEL_OWNER_HOST: socket.gethostname(),
        LABEL_OWNER_PID: str(pid),
        LABEL_OWNER_START: process_start(pid),
        LABEL_STARTED: f"{time.time():.3f}",
    }


def owner_alive(labels: Mapping[str, str]) -> bool | None:
    """Whether the process that labelled a container still runs; None when that cannot be told
    from here (another host, no owner labels)."""
    if labels.get(LABEL_OWNER_HOST) != socket.gethostname():
        return None
    try:
        pid = int(labels.get(LABEL_OWNER_PID, ""))
    except ValueError:
        return None
    if pid <= 0:
        return None
    if Path("/proc/self/stat").exists():
        start = process_start(pid)
        return bool(start) and start == (labels.get(LABEL_OWNER_START) or start)
    try:  # no /proc: the pid alone
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def is_orphan(labels: Mapping[str, str], deadline_label: str, grace_s: float) -> bool:
    """Whether a labelled container was left behind: its owner is gone, or (when the owner cannot
    be checked) its deadline passed more than `grace_s` ago."""
    alive = owner_alive(labels)
    if alive is not None:
        return not alive
    try:
        deadline = float(labels.get(deadline_label, "0"))
    except ValueError:
        deadline = 0.0
    return deadline + grace_s < time.time()
