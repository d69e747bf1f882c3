"""`$RARA_HOME`, the directory that holds one rara installation's state, as one paths object.

Resolve it once at the edge and pass it down::

    home = Home.from_env()                 # $RARA_HOME, else ~/.rara
    store = ResearchStore(home.state_db)
    catalog = Catalog(home.data_dir)

Nothing below the CLI (or the daemon) reads the environment for a path, so one process can hold
several homes at once (a daemon serving more than one, tests running side by side). Reading a
path creates nothing: a command that only reads leaves no trace; whoever writes makes the
directory it writes into (`Home.ensure`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict

ENV_VAR = "RARA_HOME"
DEFAULT_DIR = ".rara"  # under the user's home directory


class Home(BaseModel):
    """One installation's layout. Every path rara keeps under `$RARA_HOME` is a property here,
    so the layout is written down once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    root: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Home:
        """`$RARA_HOME` (``~`` expanded), else ``~/.rara``."""
        env = os.environ if environ is None else environ
        return cls(root=Path(env.get(ENV_VAR) or Path.home() / DEFAULT_DIR).expanduser())

    # ---- settings ----------------------------------------------------------------------------
    @property
    def config_file(self) -> Path:
        return self.root / "config.toml"

    @property
    def secrets_file(self) -> Path:
        """Credentials; refused unless only its owner can read it (mode 0600)."""
        return self.root / "secrets.toml"

    # ---- state -------------------------------------------------------------------------------
    @property
    def state_db(self) -> Path:
        """The SQLite state database: event log, experiments, trials, lessons."""
        return self.root / "rara.db"

    @property
    def lock_file(self) -> Path:
        """Held by the daemon while it runs, so a second one on the same home refuses to start."""
        return self.root / "rara.lock"

    @property
    def run_locks_dir(self) -> Path:
        """One lock file per research run, held by the process running it."""
        return self.root / "locks"

    # ---- data and caches ---------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        """Candles as Parquet, partitioned by exchange, symbol, timeframe and period."""
        return self.root / "data"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @property
    def llm_cache_dir(self) -> Path:
        """The LLM reply cache: a live run records into it, a replay answers from it."""
        return self.cache_dir / "llm"

    @property
    def reports_dir(self) -> Path:
        """HTML tear sheets, ``<run_id>/<experiment_id>.html``."""
        return self.root / "reports"

    # ---- strategies --------------------------------------------------------------------------
    @property
    def strategies_dir(self) -> Path:
        return self.root / "strategies"

    @property
    def promoted_dir(self) -> Path:
        """Strategies this home's research promoted (paper candidates and on)."""
        return self.strategies_dir / "promoted"

    @property
    def installed_dir(self) -> Path:
        """Strategies installed from elsewhere (the registry's packages)."""
        return self.strategies_dir / "installed"

    @property
    def trust_dir(self) -> Path:
        """Keys this home trusts to sign installed strategies."""
        return self.root / "trust"

    # ---- helpers -----------------------------------------------------------------------------
    def ensure(self, directory: Path) -> Path:
        """Create `directory` (one of the above, or under one) for a writer; returns it."""
        directory.mkdir(parents=True, exist_ok=True)
        return directory

    def relative(self, path: Path) -> Path:
        """`path` as seen from the root: what events record, so they read the same whichever
        home a run used. ValueError if `path` is outside this home."""
        return path.relative_to(self.root)
