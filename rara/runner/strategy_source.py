"""Find a strategy's source from what a user typed: a file path or a promoted strategy's name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rara.config import rara_home
from rara.errors import BadInput, nearest

SHIPPED = Path(__file__).resolve().parents[2] / "strategies" / "promoted"
MAX_SOURCE_BYTES = 256 * 1024  # the lint layer has its own, smaller limit; this guards reading


@dataclass(frozen=True)
class StrategySource:
    name: str
    path: Path
    source: str


def promoted_dirs() -> list[Path]:
    """Where promoted strategies live: the user's first, then the ones shipped with rara."""
    return [rara_home() / "strategies" / "promoted", SHIPPED]


def resolve_strategy(ref: str) -> StrategySource:
    path = Path(ref)
    if not path.is_file():
        for root in promoted_dirs():
            candidate = root / ref / "strategy.py"
            if candidate.is_file():
                path = candidate
                break
        else:
            known = sorted({p.name for r in promoted_dirs() if r.is_dir() for p in r.iterdir()})
            guess = nearest(ref, known)
            raise BadInput(
                "strategy_not_found",
                f"{ref!r} is neither a file nor a promoted strategy",
                (f"did you mean {guess!r}? " if guess else "")
                + f"promoted strategies: {', '.join(known) or 'none'}",
            )
    if path.stat().st_size > MAX_SOURCE_BYTES:
        raise BadInput(
            "strategy_too_large",
            f"{path} is over {MAX_SOURCE_BYTES} bytes",
            "a strategy is one small module",
        )
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(
            "strategy_not_text", f"{path} is not UTF-8 text", "save it as UTF-8"
        ) from exc
    name = path.parent.name if path.name == "strategy.py" else path.stem
    return StrategySource(name, path, source)
