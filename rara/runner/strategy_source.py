"""Find a strategy's source from what a user typed: a file path or the name of a strategy the
registry knows (this home's promoted and installed ones first, then those shipped with rara)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rara.errors import BadInput, nearest
from rara.registry import Registry

MAX_SOURCE_BYTES = 256 * 1024  # the lint layer has its own, smaller limit; this guards reading


@dataclass(frozen=True)
class StrategySource:
    name: str
    path: Path
    source: str


def resolve_strategy(ref: str, registry: Registry) -> StrategySource:
    path = Path(ref)
    if not path.is_file():
        located = registry.locate(ref)
        if located is not None:
            path = located
        else:
            known = registry.names()
            guess = nearest(ref, known)
            raise BadInput(
                "strategy_not_found",
                f"{ref!r} is neither a file nor a strategy the registry knows",
                (f"did you mean {guess!r}? " if guess else "")
                + f"known strategies (`rara strategy list`): {', '.join(known) or 'none'}",
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
