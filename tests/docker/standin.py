"""A hostile stand-in for `python -m rara_sandbox`, run inside the real sandbox image.

The tests pass this file's source as `python3 -I -c SOURCE` (standard library only, no rara),
so what runs is the production image under the production restrictions; only the program differs.
stdin: one JSON line naming an action, then an optional payload. Actions that should be stopped do
not catch the error: the process dies with it, and the host must map that to a clear error.
"""

import json
import os
import socket
import sys
import time


def report(obj):
    sys.stdout.buffer.write(json.dumps(obj).encode())
    sys.stdout.buffer.flush()


def main():
    action = json.loads(sys.stdin.buffer.readline())
    name = action["do"]
    if name == "write_first":  # a child that writes before reading must not deadlock the host
        sys.stdout.buffer.write(b"w" * action["bytes"])
        sys.stdout.buffer.write(b"|%d" % len(sys.stdin.buffer.read()))
        return
    payload = sys.stdin.buffer.read()
    if name == "echo":
        sys.stdout.buffer.write(payload)
    elif name == "inspect":

        def text(path):
            with open(path) as fh:
                return fh.read()

        status = dict(
            ln.split(":\t", 1) for ln in text("/proc/self/status").splitlines() if ":\t" in ln
        )
        report(
            {
                "uid": os.getuid(),
                "gid": os.getgid(),
                "euid": os.geteuid(),
                "groups": os.getgroups(),
                "cap_eff": status.get("CapEff", "").strip(),
                "cap_bnd": status.get("CapBnd", "").strip(),
                "no_new_privs": status.get("NoNewPrivs", "").strip(),
                "seccomp": status.get("Seccomp", "").strip(),
                "env": dict(os.environ),
                "mounts": [ln.split()[:4] for ln in text("/proc/self/mounts").splitlines()],
                "interfaces": sorted(os.listdir("/sys/class/net")),
                "routes": text("/proc/net/route").splitlines()[1:],
                "stdin_bytes": len(payload),
            }
        )
    elif name == "socket":
        # The container's network namespace has only `lo` and no route, so the kernel refuses
        # the connect locally: no packet can leave. 192.0.2.1 is TEST-NET-1 (RFC 5737).
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(2)
        s.connect(("192.0.2.1", 9))
        report({"connected": True})
    elif name == "write":
        with open(action["path"], "wb") as fh:
            fh.write(b"x" * action.get("bytes", 1))
        report({"wrote": action["path"]})
    elif name == "read":
        with open(action["path"], "rb") as fh:
            report({"read": len(fh.read())})
    elif name == "exec_tmp":
        # copy a binary into /tmp and run it: tmpfs is mounted noexec
        with open("/bin/true", "rb") as src, open("/tmp/t", "wb") as dst:
            dst.write(src.read())
        os.chmod("/tmp/t", 0o755)
        os.execv("/tmp/t", ["/tmp/t"])
    elif name == "fork":
        children = []
        for _ in range(action["n"]):
            pid = os.fork()  # BlockingIOError (EAGAIN) once the pids limit is reached
            if pid == 0:
                time.sleep(30)
                os._exit(0)
            children.append(pid)
        report({"forked": len(children)})
    elif name == "alloc":
        block = b"\x01" * action["bytes"]  # every page written, so all of it is charged
        report({"allocated": len(block)})
    elif name == "sleep":
        time.sleep(action["seconds"])
        report({"slept": action["seconds"]})
    elif name == "flood":
        chunk = b"y" * 65536
        for _ in range(action["bytes"] // len(chunk)):
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
    elif name == "stderr_flood":
        chunk = "e" * 65535 + "\n"
        for _ in range(action["bytes"] // len(chunk)):
            sys.stderr.write(chunk)
        sys.stderr.flush()
        report({"done": True})
    elif name == "exit":
        sys.stderr.write(action.get("stderr", ""))
        sys.stderr.flush()
        os._exit(action["code"])
    else:
        raise SystemExit(f"unknown action {name}")


main()
