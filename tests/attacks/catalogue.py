"""The attack catalogue: payload templates on disk, their declared outcomes, canaries, bookkeeping.

A payload is one strategy file under ``payloads/<category>/<name>.py``. Its docstring says what it
tries (first line) and, in ``Key: value`` lines, what counts as *contained*:

    Contained: lint_failed | forbidden     outcomes accepted: error codes, or ``ok``
    Says: imports | not allowed            (optional) the message must name the cause: one of
                                           these substrings, checked when the code comes from
                                           the in-jail runtime (the boundary words its own)
    Check: deterministic                   (required with ``ok``) what makes an ok run contained:
                                           deterministic | independent_windows | print_bounded
    Windows: 50, 100, 250                  (optional) prefix windows to request
    Hole: <what is wrong, where>           (optional) a known hole: the test is xfail(strict),
                                           and only a failed Check counts as the hole showing
    Known: <code> <defect, where>          (optional) a defect that shows only on some machines
                                           as outcome <code>: xfail(strict=False)

Payloads are plain text templates: ``{{NAME}}`` placeholders are substituted before evaluation
(`render`), so a payload can aim at the canary file, the write directory and the listener port of
this run without the harness ever trusting anything the child says about them.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import select
import shutil
import socket
import stat
import tempfile
import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tests.kit.paths import EXAMPLES

HERE = Path(__file__).resolve().parent
PAYLOAD_DIR = HERE / "payloads"
REFERENCE = EXAMPLES / "sma_crossover" / "strategy.py"

# The categories the issue lists, in its order; every one must hold several payloads.
CATEGORIES = (
    "import_escapes",
    "dunder_walks",
    "builtins_access",
    "format_strings",
    "module_indirection",
    "string_eval",
    "file_read",
    "file_write",
    "network",
    "subprocess_os",
    "pickle",
    "ctypes_memory",
    "frame_introspection",
    "cpu_loops",
    "memory_bombs",
    "fork_bombs",
    "recursion",
    "output_floods",
    "exit_signal",
    "state_tampering",
    "nondeterminism",
    "bad_outputs",
    "guard_bypasses",
)

# Codes the runtime inside the jail produces (rara_sandbox.results) and codes the boundary produces
# (rara.runner.jail.jailed_run for the subprocess jail, rara.runner.container.runner for
# containers).
RUNTIME_CODES = frozenset(
    {"bad_request", "lint_failed", "compile_error", "runtime_error", "forbidden", "bad_meta",
     "bad_params", "bad_output", "internal_error"}
)  # fmt: skip
BOUNDARY_CODES = frozenset(
    {"timeout", "cpu_limit", "memory_limit", "output_too_large", "forbidden_syscall", "killed",
     "crashed", "entry_error", "protocol_error", "setup_failed", "spawn_failed", "zygote_died",
     "protection_missing", "engine_error"}
)  # fmt: skip
OUTCOMES = RUNTIME_CODES | BOUNDARY_CODES | {"ok"}
CHECKS = frozenset({"deterministic", "independent_windows", "print_bounded"})

PRINT_LIMIT = 16_384  # rara_sandbox.printing.DEFAULT_PRINT_LIMIT: what print may return
MESSAGE_LIMIT = 4_096  # runtime messages are cut at 2,000 chars; boundary ones are short
DEFAULT_WINDOWS = (100, 250)
N_BARS = 500

_FIELD = re.compile(r"^(Contained|Says|Check|Windows|Hole|Known):\s*(.*)$")
_PLACEHOLDER = re.compile(r"\{\{([A-Z0-9_]+)\}\}")


@dataclass(frozen=True)
class Payload:
    category: str
    name: str
    path: Path
    template: str
    tries: str  # the docstring's first line
    accept: frozenset[str]
    says: tuple[str, ...] = ()
    check: str | None = None
    windows: tuple[int, ...] = DEFAULT_WINDOWS
    hole: str | None = None
    known: str | None = None

    @property
    def known_code(self) -> str | None:
        return self.known.split()[0] if self.known else None

    @property
    def id(self) -> str:
        return f"{self.category}/{self.name}"


class CatalogueError(ValueError):
    pass


def _docstring(text: str, path: Path) -> list[str]:
    # Parsed from the text, not with ast: some payloads are hostile to parsers on purpose.
    m = re.match(r'\s*"""(.*?)"""', text, re.S)
    if not m:
        raise CatalogueError(f"{path}: must start with a docstring")
    return [ln.strip() for ln in m.group(1).strip().splitlines()]


def parse(path: Path) -> Payload:
    text = path.read_text(encoding="utf-8")
    lines = _docstring(text, path)
    fields: dict[str, str] = {}
    for ln in lines[1:]:
        m = _FIELD.match(ln)
        if m:
            fields[m.group(1)] = m.group(2).strip()
    if "Contained" not in fields:
        raise CatalogueError(f"{path}: no 'Contained:' line")
    accept = frozenset(c.strip() for c in fields["Contained"].split("|") if c.strip())
    unknown = accept - OUTCOMES
    if unknown:
        raise CatalogueError(f"{path}: unknown outcome(s) {sorted(unknown)}")
    check = fields.get("Check") or None
    if check is not None and check not in CHECKS:
        raise CatalogueError(f"{path}: unknown check {check!r}")
    if "ok" in accept and check is None:
        raise CatalogueError(f"{path}: 'ok' is accepted, so a 'Check:' must say why it is safe")
    windows = DEFAULT_WINDOWS
    if "Windows" in fields:
        windows = tuple(int(w) for w in fields["Windows"].split(","))
    says = tuple(s.strip() for s in fields.get("Says", "").split("|") if s.strip())
    known = fields.get("Known") or None
    if known is not None and known.split()[0] not in OUTCOMES:
        raise CatalogueError(f"{path}: 'Known:' must start with the outcome it produces")
    return Payload(
        category=path.parent.name,
        name=path.stem,
        path=path,
        template=text,
        tries=lines[0],
        accept=accept,
        says=says,
        check=check,
        windows=windows,
        hole=fields.get("Hole") or None,
        known=known,
    )


def load_payloads(root: Path = PAYLOAD_DIR) -> list[Payload]:
    return [parse(p) for p in sorted(root.glob("*/*.py"))]


# -- canaries -------------------------------------------------------------------------------------


class Listener:
    """A TCP listener on 127.0.0.1 (random port) whose thread counts every accepted connection.

    A connect() returns only once the kernel has completed the handshake, so by the time an
    evaluation is over, any connection it made is either counted or still in the backlog.
    `connections` counts both under the same lock the thread accepts under: no sleep, no race."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.setblocking(False)
        self.port: int = self.sock.getsockname()[1]
        self._count = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="attack-listener", daemon=True)
        self._thread.start()

    def _pending(self) -> bool:
        return bool(select.select([self.sock], [], [], 0)[0])

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not select.select([self.sock], [], [], 0.05)[0]:
                continue
            with self._lock:  # accept and count atomically with respect to `connections`
                try:
                    conn, _ = self.sock.accept()
                except (BlockingIOError, OSError):
                    continue
                conn.close()
                self._count += 1

    def connections(self) -> int:
        with self._lock:
            return self._count + (1 if self._pending() else 0)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@dataclass
class Canaries:
    """Places outside the child that a payload aims at, and the evidence checked after it.

    The tree lives in /tmp with permissive modes (0755 dirs, a 0644 secret, a 0777 write dir):
    file permissions would let the child's uid 65534 in, so only the jail can keep it out."""

    root: Path
    secret_file: Path
    secret: str
    write_dir: Path
    listener: Listener
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls) -> Canaries:
        root = Path(tempfile.mkdtemp(prefix="rara-attack-", dir="/tmp"))
        os.chmod(root, 0o755)
        secret = "RARA-CANARY-" + secrets.token_hex(16)
        secret_dir = root / "read"
        secret_dir.mkdir()
        os.chmod(secret_dir, 0o755)
        secret_file = secret_dir / "secret.txt"
        secret_file.write_text(secret + "\n")
        os.chmod(secret_file, 0o644)
        write_dir = root / "write"
        write_dir.mkdir()
        os.chmod(write_dir, 0o777)
        return cls(root, secret_file, secret, write_dir, Listener())

    def placeholders(self) -> dict[str, str]:
        return {
            "CANARY_READ": str(self.secret_file),
            "CANARY_READ_DIR": str(self.secret_file.parent),
            "CANARY_WRITE_DIR": str(self.write_dir),
            "CANARY_WRITE": str(self.write_dir / "pwned.txt"),
            "PORT": str(self.listener.port),
            "HOST": "127.0.0.1",
            **GENERATED,
            **self.extra,
        }

    def snapshot(self) -> dict[str, tuple[int, int, int]]:
        """Every path under root (dirs too) with mode, size and mtime: any write shows up."""
        out: dict[str, tuple[int, int, int]] = {}
        for p in [self.root, *self.root.rglob("*")]:
            st = p.lstat()
            out[str(p)] = (stat.S_IMODE(st.st_mode), st.st_size, st.st_mtime_ns)
        return out

    def close(self) -> None:
        self.listener.close()
        shutil.rmtree(self.root, ignore_errors=True)


# Generated fragments for payloads whose text would be absurd to keep on disk.
GENERATED: Mapping[str, str] = {
    # 30,000-term sum: a left-nested BinOp 30,000 deep (parser and AST walk recursion).
    "DEEP_SUM": "+".join(["1"] * 30_000),
    # 50,000 unary minus signs (under the size limit): the C parser's own stack limit.
    "DEEP_UNARY": "-" * 50_000 + "1",
    # 70 KiB of comment: over the 64 KiB source limit.
    "BIG_COMMENT": "\n".join("# " + "x" * 98 for _ in range(700)),
    # 2,000 distinct unknown names in a flat list: the lint report must stay bounded.
    "MANY_NAMES": ", ".join(f"unknown_{i}" for i in range(2_000)),
    # A NUL byte: kept out of the payload file itself (git and editors treat it as binary).
    "NUL": "\x00",
    # Fullwidth low lines (U+FF3F), which NFKC folds to "_": not valid Python on disk, so ruff
    # and editors would choke on the payload file; `{{NAME}}` is, by luck, a valid expression.
    "FULLWIDTH_IMPORT": "\uff3f\uff3fimport\uff3f\uff3f",
    "FULLWIDTH_CLASS_ATTRIBUTE": "candles.\uff3f\uff3fclass\uff3f\uff3f",
}


def render(payload: Payload, canaries: Canaries) -> str:
    values = canaries.placeholders()

    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in values:
            raise CatalogueError(f"{payload.id}: unknown placeholder {m.group(0)}")
        return values[m.group(1)]

    return _PLACEHOLDER.sub(sub, payload.template)


# -- evidence -------------------------------------------------------------------------------------


def result_text(result: Any) -> str:
    """Everything textual the host got back, for the 'secret never leaves' check."""
    parts = [repr(result.error), repr(result.meta), repr(result.params), result.printed]
    parts.append(json.dumps(result.lint, default=repr) if result.lint is not None else "")
    return "\n".join(parts)


def signal_bytes(result: Any) -> bytes:
    """Signals and risk levels as bytes, every way a secret could be smuggled through them: the
    bool arrays packed as bits (both bit orders), and the float arrays' raw bytes."""
    out = bytearray()
    for w in result.windows:
        for arr in (w.entries, w.exits):
            a = np.asarray(arr, dtype=np.bool_)
            out += np.packbits(a).tobytes() + b"|" + np.packbits(a, bitorder="little").tobytes()
        for lvl in (w.stop_loss, w.take_profit):
            if isinstance(lvl, np.ndarray):
                out += lvl.tobytes()
    return bytes(out)


def signals(result: Any) -> list[tuple[int, bytes, bytes, bytes, bytes]]:
    """A comparable digest of every window: length, entries, exits, stop and take levels."""

    def level(v: Any) -> bytes:
        if v is None:
            return b"none"
        if isinstance(v, np.ndarray):
            return np.asarray(v, dtype=np.float64).tobytes()
        return repr(float(v)).encode()

    return [
        (w.n, np.asarray(w.entries).tobytes(), np.asarray(w.exits).tobytes(), level(w.stop_loss),
         level(w.take_profit))
        for w in result.windows
    ]  # fmt: skip


def layer_of(code: str, message: str) -> str:
    """Which layer stopped the payload, for the summary table."""
    if code == "ok":
        return "ok"
    if code == "lint_failed":
        return "lint"
    if code == "compile_error":
        return "compile"
    if code in BOUNDARY_CODES:
        return "os"
    if code == "runtime_error" and "MemoryError" in message:
        return "os"  # RLIMIT_AS (or the container's cgroup) made the allocation fail
    return "runtime"


# -- bookkeeping for the session summary ----------------------------------------------------------

LAYERS = ("lint", "compile", "runtime", "os", "ok")
VERDICTS = ("hole", "known", "failed")  # columns for payloads that were not (cleanly) contained


class HoleConfirmed(Exception):
    """Raised when a payload marked ``Hole:`` shows its hole; its xfail accepts only this."""


class KnownDefect(Exception):
    """Raised when a payload marked ``Known:`` shows its defect; its xfail accepts only this."""


@dataclass
class Tally:
    rows: dict[tuple[str, str], dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    notes: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def record(
        self, backend: str, payload: Payload, layer: str, seconds: float, verdict: str, outcome: str
    ) -> None:
        """verdict: held (counted under its layer), hole, known or failed."""
        self.rows[(backend, payload.category)][layer if verdict == "held" else verdict] += 1
        self.seconds[backend] += seconds
        if verdict != "held":
            self.notes[backend].append(f"{verdict.upper()}: {payload.id} ({outcome})")

    def backends(self) -> list[str]:
        return sorted({b for b, _ in self.rows})

    def lines(self) -> Iterator[str]:
        cols = (*LAYERS, *VERDICTS)
        head = f"{'category':<22}{'payloads':>9}" + "".join(f"{c:>9}" for c in cols)
        for backend in self.backends():
            yield f"backend {backend}: {self.seconds[backend]:.1f} s in payload evaluations"
            yield head
            total: dict[str, int] = defaultdict(int)
            for cat in CATEGORIES:
                row = self.rows.get((backend, cat), {})
                n = sum(row.values())
                total["n"] += n
                for c in cols:
                    total[c] += row.get(c, 0)
                yield f"{cat:<22}{n:>9}" + "".join(f"{row.get(c, 0):>9}" for c in cols)
            yield f"{'total':<22}{total['n']:>9}" + "".join(f"{total[c]:>9}" for c in cols)
            yield from (f"  {note}" for note in self.notes.get(backend, []))


TALLY = Tally()
