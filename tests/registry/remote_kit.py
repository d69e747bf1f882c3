"""What the registry's tests share: a publisher's signing key, a registry tree written by the real
publisher, a home with candles and a gate of the width the test asks for, a static HTTP server on
127.0.0.1 and a server that accepts and never answers."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from rara.domain.events import RegistryStrategyInstalled
from rara.events import EventFilter, open_event_store
from rara.home import Home
from rara.registry import EXAMPLES_ROOT, Manifest, read_manifest
from rara.registry.registry import StrategyEntry
from rara.registry.remote.keys import PublicKey, TrustStore, keygen, load_private_key
from rara.registry.remote.lock import read_lock
from rara.registry.remote.publish import Published, package, write_tree

INSTRUMENT = "synthetic:EDGE/USDT:1h"
SYNTH = ("--symbol", "EDGE/USDT", "--timeframe", "1h", "--bars", "3000", "--seed", "5")
SYNTH_EDGE = ("--edge", "momentum", "--edge-strength", "0.4")
# a gate opened wide (the research tests' own): a causal example passes it on the planted edge
LOOSE_GATE = """[gates.research]
min_sharpe = -100
max_drawdown = 1.0
min_trades = 0
min_dsr = 0
min_holdout_psr = 0
max_pbo = 1.0
cost_multiplier = 1.0
min_track_record_confidence = 0.5
validation_fraction = 0.2
train_fraction = 0.6
"""


class Publisher:
    """A signing key and the folder it publishes a registry into."""

    def __init__(self, root: Path, name: str = "publisher") -> None:
        self.key_path = root / f"{name}.key"
        self.public: PublicKey = keygen(self.key_path)
        self.key: Ed25519PrivateKey = load_private_key(self.key_path)
        self.out = root / f"{name}-registry"
        self.pub_path = Path(str(self.key_path) + ".pub")

    def publish(self, items: list[Published], **kw: object) -> None:
        write_tree(self.out, items, self.key, **kw)  # type: ignore[arg-type]

    def file(self, name: str, version: str, file_name: str) -> Path:
        return self.out / "strategies" / name / version / file_name


def example(
    root: Path,
    name: str = "sma_crossover",
    *,
    source: str | None = None,
    version: str = "1.0.0",
    instrument: str | None = INSTRUMENT,
) -> Published:
    """An example strategy (or `source` under its name) as a publishable entry, its manifest
    naming the instrument it was validated on."""
    root.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix="src-", dir=root)) / name
    directory.mkdir()
    text = source if source is not None else (EXAMPLES_ROOT / name / "strategy.py").read_text()
    (directory / "strategy.py").write_text(text)
    base = read_manifest(EXAMPLES_ROOT / "sma_crossover" if source else EXAMPLES_ROOT / name)
    body = base.to_json() | {
        "name": name,
        "version": version,
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
    }
    if instrument:
        body["instrument"] = instrument
    manifest = Manifest.model_validate(body)
    (directory / "manifest.json").write_text(manifest.render())
    entry = StrategyEntry(name=name, origin="promoted", path=directory, manifest=manifest)
    return package(entry, None)


def make_home(
    root: Path, candles_from: Path, *, gate: str = LOOSE_GATE, trust: PublicKey | None = None
) -> Home:
    """A home holding the synthetic candles, the gate given, and (optionally) a trusted key."""
    home = Home(root=root)
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(candles_from, home.data_dir)
    home.config_file.write_text(gate)
    if trust is not None:
        TrustStore(home).trust(trust)
    return home


def nothing_installed(home: Home) -> bool:
    """No strategy directory, no lock entry, no install event."""
    if home.installed_dir.is_dir() and any(home.installed_dir.iterdir()):
        return False
    if read_lock(home).strategies:
        return False
    if home.state_db.exists():
        with open_event_store(home.state_db, readonly=True) as store:
            if store.query(EventFilter(types=[RegistryStrategyInstalled])):
                return False
    return True


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def static_server(directory: Path) -> Iterator[str]:
    """A real static HTTP server over `directory` on 127.0.0.1; yields its base URL."""
    handler = functools.partial(_Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)


@contextmanager
def silent_server() -> Iterator[str]:
    """A socket on 127.0.0.1 that accepts connections and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            held.append(conn)  # kept open, never written to

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    finally:
        stop.set()
        thread.join(timeout=30)
        for conn in held:
            conn.close()
        sock.close()


def index_body(publisher: Publisher) -> dict[str, object]:
    return dict(json.loads((publisher.out / "index.json").read_text()))
