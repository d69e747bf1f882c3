"""Settings: TOML at a home's ``config.toml`` (`Home.config_file`), ``RARA_SECTION__KEY``
environment overrides.

Secrets never live here: `rara.credentials` reads exchange and LLM keys from the environment or
the home's 0600 ``secrets.toml``.

Every reader and writer takes the `Home` it works on; only the CLI resolves one from
``$RARA_HOME`` (`Home.from_env`)::

    settings = load_settings(home)
"""

from __future__ import annotations

import os
import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from rara.daemon_settings import (
    DaemonSettings,
    FeedbackSettings,
    PaperGateSettings,
    SentinelSettings,
    ServerSettings,
)
from rara.domain.gate import VarianceSource, WeakenedThreshold
from rara.domain.market import parse_utc
from rara.errors import BadInput, Refused, nearest
from rara.home import Home
from rara.trading_settings import TradingSettings

ENV_PREFIX = "RARA_"
ENV_NESTING = "__"
SECRET_WORDS = ("api_key", "secret", "password", "token", "passphrase")


class _Section(BaseModel):
    # Frozen: a changed value goes through `Settings.with_overrides`, which validates again.
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSettings(_Section):
    default_exchange: str = "binance"
    page_limit: int = Field(1000, ge=1, le=5000, description="candles asked for per request")
    max_retries: int = Field(6, ge=0, le=50, description="retries on 429, 5xx and timeouts")
    backoff_base_s: float = Field(1.0, ge=0, description="first retry delay, doubled each time")
    backoff_max_s: float = Field(60.0, ge=0)
    flush_every_pages: int = Field(10, ge=1, description="checkpoint a fetch every N pages")
    request_timeout_ms: int = Field(30_000, ge=100)
    rate_limit_ms: int | None = Field(None, ge=0, description="override ccxt's per-exchange pace")
    url_overrides: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="per exchange id, ccxt `urls['api']` entries to replace (mirrors, emulators)",
    )


class LlmPrice(_Section):
    """USD per million tokens, for models litellm's price map does not know."""

    input_usd_per_mtok: float = Field(ge=0)
    output_usd_per_mtok: float = Field(ge=0)


class LlmSettings(_Section):
    model: str | None = Field(None, description="litellm model string, e.g. openai/gpt-4o-mini")
    api_base: str | None = None
    timeout_s: float = Field(120.0, gt=0)
    max_retry_wait_s: float = Field(60.0, ge=0, description="longest 429 Retry-After waited out")
    max_parse_retries: int = Field(2, ge=0, le=10, description="re-asks after an unparsable reply")
    prices: dict[str, LlmPrice] = Field(default_factory=dict, description="per model id")


class SandboxSettings(_Section):
    backend: Literal["subprocess", "docker"] = "subprocess"
    wall_timeout_s: float = Field(10.0, gt=0)
    memory_mb: int = Field(1024, ge=64)
    cpus: float = Field(1.0, gt=0, description="CPU quota of a docker sandbox container")
    image: str = Field(
        "rara-sandbox:latest", min_length=1, description="the docker backend's sandbox image"
    )
    proof_us_per_bar: float = Field(
        20.0,
        gt=0,
        description="the causality proof's own deadline, on top of wall_timeout_s: microseconds "
        "per candle it hands the strategy (it evaluates every prefix of the history)",
    )


class ResearchClusterSettings(_Section):
    """Where `rara research run --executor dask` sends candidates and how it reaches the Dask
    scheduler. The scheduler runs code it is sent: keep it on a private network, with TLS."""

    scheduler: str | None = Field(None, description="tcp:// or tls:// address of the scheduler")
    data_path: str | None = Field(
        None, description="a directory every worker mounts at the same path (candles by hash)"
    )
    tls_ca_file: str | None = Field(None, description="CA that signed the cluster's certs")
    tls_cert: str | None = Field(None, description="this machine's certificate (PEM)")
    tls_key: str | None = Field(None, description="its private key (PEM file path)")
    require_encryption: bool = Field(False, description="refuse plain tcp:// connections")
    timeout_s: float = Field(600.0, gt=0, description="longest wait for one candidate's result")


class BacktestSettings(_Section):
    init_cash: float = Field(10_000.0, gt=0)
    fee: float | None = Field(
        None, ge=0, lt=0.5, description="taker fee per side; unset: the exchange's standard fee"
    )
    fees: dict[str, float] = Field(default_factory=dict, description="taker fee per exchange id")
    slippage: float = Field(0.0005, ge=0, lt=0.5, description="adverse move per fill")
    size_fraction: float = Field(1.0, gt=0, le=1, description="share of cash each entry commits")

    @model_validator(mode="after")
    def _per_exchange_fees(self) -> BacktestSettings:
        for exchange, fee in self.fees.items():
            if not 0 <= fee < 0.5:
                raise ValueError(f"fee for {exchange!r} must be at least 0 and below 0.5")
        return self


Loosening = Literal["lower", "higher"]


def _threshold(default: Any, loose: Loosening, description: str, **constraints: Any) -> Any:
    """A gate threshold: its default and which direction of change loosens the gate (lower
    for a minimum, higher for a maximum), so a loosened value is recorded (`weakened`)."""
    return Field(
        default, description=description, json_schema_extra={"loose": loose}, **constraints
    )


class ResearchGateSettings(_Section):
    """Gate 1 (research -> paper). The seed system's floor, then the honest checks on top.

    Every threshold may be loosened below its default; the gate then still runs, and the
    loosened settings are recorded in its report, the run's events, the promoted manifest and a
    warning on stderr (`weakened`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    min_sharpe: float = _threshold(1.0, "lower", "validation Sharpe, annualised (seed floor)")
    max_drawdown: float = _threshold(0.15, "higher", "validation max drawdown (floor)", gt=0, le=1)
    min_trades: int = _threshold(30, "lower", "trades on the validation segment", ge=0)
    min_track_record_confidence: float = _threshold(
        0.95, "lower", "validation bars >= MinTRL of its Sharpe at this confidence", gt=0, lt=1
    )
    cost_multiplier: float = _threshold(2.0, "lower", "still profitable at this x costs", ge=1)
    min_dsr: float = _threshold(0.95, "lower", "deflated Sharpe over the trials", ge=0, le=1)
    min_trials: int = _threshold(
        100,
        "lower",
        "floor on the DSR's N: trials assumed made outside rara (a fresh home is not one trial)",
        ge=1,
    )
    dsr_variance: VarianceSource = Field(
        "null",
        description="the DSR's Sharpe variance: null (what luck gives, 1/(T-1)) or clusters "
        "(stricter: the spread across clustered trials, which also holds real differences)",
    )
    min_holdout_psr: float = _threshold(0.9, "lower", "PSR(0) on the holdout", ge=0, le=1)
    holdout_read_budget: int = _threshold(
        3, "higher", "reads of one market's holdout before it can no longer promote", ge=1
    )
    max_pbo: float = _threshold(0.3, "higher", "probability of backtest overfitting", ge=0, le=1)
    pbo_min_trials: int = _threshold(16, "higher", "PBO is judged from this many trials", ge=2)
    # Split (train / validation / holdout = 0.2 / 0.6 / 0.2). Nothing is fitted on train: the
    # built-in search draws and breeds params from validation results, and the LLM sees
    # validation too, so train is only warm-up history (>= the 1,000-bar lookback cap on 8 months
    # of 1h bars). The DSR is judged on validation, and the bars a Sharpe needs grow as 1/SR^2
    # (MinTRL): the default-strength planted edge nets ~0.03-0.06 Sharpe per 1h bar (2.9-5.9
    # annualised, 5 seeds), which needs 650-3,100 validation bars at 95% against 0 and several
    # times that against the best of ~100 trials. So validation gets most of the data. The
    # holdout needs far less (PSR(0) >= 0.9, no deflation): a fifth of 3 years is ~5,000 bars.
    train_fraction: float = Field(0.2, gt=0, lt=1)
    validation_fraction: float = Field(0.6, gt=0, lt=1)
    validation_start: str | None = Field(None, description="date; overrides the fractions")
    holdout_start: str | None = Field(None, description="date; overrides the fractions")

    def weakened(self) -> list[WeakenedThreshold]:
        """The thresholds set looser than their defaults, in the order of the settings."""
        out: list[WeakenedThreshold] = []
        for name, field in type(self).model_fields.items():
            extra = field.json_schema_extra
            loose = extra.get("loose") if isinstance(extra, dict) else None
            value, default = getattr(self, name), field.default
            if (loose == "lower" and value < default) or (loose == "higher" and value > default):
                out.append(
                    WeakenedThreshold(
                        setting=f"gates.research.{name}", value=value, default=default
                    )
                )
        return out

    @field_validator("validation_start", "holdout_start", mode="before")
    @classmethod
    def _date_text(cls, v: Any) -> Any:
        # TOML has date literals: `validation_start = 2024-06-01` arrives as a date
        return v.isoformat() if isinstance(v, date | datetime) else v

    @model_validator(mode="after")
    def _segments(self) -> ResearchGateSettings:
        if self.train_fraction + self.validation_fraction >= 1:
            raise ValueError(
                f"train_fraction + validation_fraction is "
                f"{self.train_fraction + self.validation_fraction:g}; it must stay below 1 to "
                "leave a holdout"
            )
        if (self.validation_start is None) != (self.holdout_start is None):
            raise ValueError(
                "give both validation_start and holdout_start, or neither (`rara config set` "
                "takes several KEY VALUE pairs, to set both at once)"
            )
        if self.validation_start is not None and self.holdout_start is not None:
            starts = {}
            for name in ("validation_start", "holdout_start"):
                try:
                    starts[name] = parse_utc(getattr(self, name))
                except ValueError as exc:
                    raise ValueError(f"{name}: {exc}") from None
            if starts["validation_start"] >= starts["holdout_start"]:
                raise ValueError("validation_start must come before holdout_start")
        return self


def weakened_warning(weakened: list[WeakenedThreshold]) -> str | None:
    """The stderr line for a gate run with loosened thresholds (None when none is)."""
    if not weakened:
        return None

    def text(v: float | str | None) -> str:
        return f"{v:g}" if isinstance(v, float) else str(v)

    each = ", ".join(f"{w.setting} = {text(w.value)} (default {text(w.default)})" for w in weakened)
    return (
        f"the research gate is weakened: {each}; a promotion under it is recorded as weakened "
        "(report, events, manifest)"
    )


class GatesSettings(_Section):
    research: ResearchGateSettings = Field(default_factory=ResearchGateSettings)
    paper: PaperGateSettings = Field(default_factory=PaperGateSettings)


class Settings(_Section):
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    data: DataSettings = Field(default_factory=DataSettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    cluster: ResearchClusterSettings = Field(default_factory=ResearchClusterSettings)
    backtest: BacktestSettings = Field(default_factory=BacktestSettings)
    gates: GatesSettings = Field(default_factory=GatesSettings)
    trading: TradingSettings = Field(default_factory=TradingSettings)
    daemon: DaemonSettings = Field(default_factory=DaemonSettings)
    feedback: FeedbackSettings = Field(default_factory=FeedbackSettings)
    sentinel: SentinelSettings = Field(default_factory=SentinelSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)

    @model_validator(mode="after")
    def _stressed_costs(self) -> Settings:
        # The gate re-runs every candidate at cost_multiplier x costs; that run must be possible.
        mult = self.gates.research.cost_multiplier
        b = self.backtest
        for what, value in [("backtest.fee", b.fee), ("backtest.slippage", b.slippage)] + [
            (f"backtest.fees.{ex}", fee) for ex, fee in sorted(b.fees.items())
        ]:
            if value is not None and value * mult >= 0.5:
                raise ValueError(
                    f"{what} {value:g} x gates.research.cost_multiplier {mult:g} is "
                    f"{value * mult:g}; the gate's stressed run needs it below 0.5"
                )
        return self

    def with_overrides(self, overrides: dict[str, Any]) -> Settings:
        """A copy with dotted keys (e.g. ``backtest.fee``) replaced, validated as a whole; a
        None value leaves that setting as it is. Raises `BadInput` naming the key."""
        tree = self.model_dump()
        for key, value in overrides.items():
            if value is None:
                continue
            *parents, leaf = _split_key(key)
            node = tree
            for part in parents:
                node = node[part]
            node[leaf] = value
        return _validate(
            tree,
            "the command line",
            "change the value given; it is checked with the other settings (`rara config list`)",
        )


def valid_keys(model: type[BaseModel] = Settings, prefix: str = "") -> list[str]:
    """Every dotted settings key, e.g. ``data.max_retries``."""
    keys: list[str] = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys.extend(valid_keys(ann, f"{prefix}{name}."))
        else:
            keys.append(f"{prefix}{name}")
    return keys


def read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(
            "config_malformed",
            f"{path} is not valid TOML: {exc}",
            "fix the file by hand, or move it aside and run `rara config init`",
        ) from exc


def _parse_scalar(text: str) -> Any:
    """A command-line or environment value: TOML literal if it parses, else a plain string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or ENV_NESTING not in name:
            continue
        parts = name[len(ENV_PREFIX) :].lower().split(ENV_NESTING)
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = _parse_scalar(raw)
    return tree


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _refuse_secrets(tree: dict[str, Any], where: str, prefix: str = "") -> None:
    for k, v in tree.items():
        dotted = f"{prefix}{k}"
        if isinstance(v, dict):
            _refuse_secrets(v, where, dotted + ".")
        elif any(w in k.lower() for w in SECRET_WORDS):
            raise Refused(
                "secret_in_config",
                f"{where} sets {dotted!r}; secrets are not kept in settings",
                "export it as an environment variable (e.g. RARA_LLM_API_KEY) or put it in "
                "$RARA_HOME/secrets.toml with mode 0600",
            )


def explain_validation_error(exc: ValidationError) -> tuple[str, str]:
    """The first problem of a pydantic error as (dotted field path, what is wrong), in words a
    person can act on: no pydantic URL, no "Value error," prefix, and never the input value
    (it may be a secret)."""
    err = exc.errors(include_url=False, include_input=False)[0]
    dotted = ".".join(str(p) for p in err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return dotted, msg


def _validate(
    tree: dict[str, Any],
    where: str,
    fix: str = "`rara config list` shows the values; `rara config set KEY VALUE` changes one",
) -> Settings:
    _refuse_secrets(tree, where)
    try:
        return Settings.model_validate(tree)
    except ValidationError as exc:
        dotted, msg = explain_validation_error(exc)
        if exc.errors()[0]["type"] == "extra_forbidden":
            guess = nearest(dotted, valid_keys())
            hint = f"did you mean {guess!r}? " if guess else ""
            raise BadInput(
                "config_unknown_key",
                f"unknown setting {dotted!r} in {where}",
                f"{hint}`rara config list` shows every valid key",
            ) from exc
        what = f"setting {dotted!r}" if dotted else "settings"
        raise BadInput(
            "config_invalid",
            f"{what} in {where}: {msg}",
            fix,
        ) from exc


def load_settings(home: Home, environ: dict[str, str] | None = None) -> Settings:
    """`home`'s settings file, then environment overrides, validated as one."""
    env = dict(os.environ if environ is None else environ)
    path = home.config_file
    file_tree = read_toml(path)
    _validate(file_tree, str(path))  # name the file when the file is wrong
    env_tree = _env_overrides(env)
    return _validate(_merge(file_tree, env_tree), "the environment (RARA_*__*)")


def _split_key(key: str) -> list[str]:
    if key not in valid_keys():
        # a dict-valued setting may take a sub-key, e.g. data.url_overrides.binance
        head = next((k for k in valid_keys() if key.startswith(k + ".")), None)
        if head is None:
            guess = nearest(key, valid_keys())
            raise BadInput(
                "config_unknown_key",
                f"unknown setting {key!r}",
                (f"did you mean {guess!r}? " if guess else "") + "`rara config list` shows all",
            )
    return key.split(".")


def get_value(settings: Settings, key: str) -> Any:
    node: Any = settings.model_dump(mode="json")
    for part in _split_key(key):
        if not isinstance(node, dict) or part not in node:
            raise BadInput("config_unknown_key", f"{key!r} is not set", "`rara config list`")
        node = node[part]
    return node


def set_values(home: Home, pairs: list[tuple[str, str]]) -> Settings:
    """Several settings at once in `home`'s settings file, validated together before anything is
    written: the way to set values that must agree, such as validation_start and holdout_start."""
    path = home.config_file
    tree = read_toml(path)
    for key, raw in pairs:
        parts = _split_key(key)
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = _parse_scalar(raw)
    settings = _validate(tree, f"`config set {' '.join(k for k, _ in pairs)}`")
    write_toml_atomic(path, tree)
    return settings


def init_config(home: Home, force: bool) -> Path:
    """Write the default settings to `home`'s settings file; returns its path."""
    path = home.config_file
    if path.exists() and not force:
        raise Refused(
            "config_exists", f"{path} already exists", "pass --force to overwrite it with defaults"
        )
    write_toml_atomic(path, Settings().model_dump(mode="json", exclude_none=True))
    return path


def write_toml_atomic(path: Path, tree: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".toml.tmp")
    import tomli_w  # only a command that writes settings needs the writer

    tmp.write_text(tomli_w.dumps(tree), encoding="utf-8")
    os.replace(tmp, path)
