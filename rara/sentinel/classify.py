"""How serious a piece of news is, and which traded symbols it touches.

`classify_by_rules` is the offline default: a critical keyword makes it critical, a warning
keyword a warning, anything else info; the symbols are the candidates (the symbols being traded,
and any the source named) whose base currency the text mentions by code or name (BTC, bitcoin,
ETH, ether, ethereum...). `LlmClassifier` asks the configured LLM instead; its reply must be a
JSON `LlmVerdict`, and anything else (no reply, not JSON, a reply that does not validate) raises
`ClassifierFailed`, on which the sentinel falls back to the rules and records the failure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rara.domain.market import normalize_symbol
from rara.errors import RaraError
from rara.llm.ports import LlmProvider

Severity = Literal["info", "warning", "critical"]
ClassifiedBy = Literal["rules", "llm", "source"]

# Names a headline uses for a base currency besides its code (matched as whole words).
CURRENCY_NAMES: dict[str, tuple[str, ...]] = {
    "BTC": ("bitcoin", "xbt"),
    "ETH": ("ether", "ethereum"),
    "SOL": ("solana",),
    "XRP": ("ripple",),
    "ADA": ("cardano",),
    "DOGE": ("dogecoin",),
    "DOT": ("polkadot",),
    "AVAX": ("avalanche",),
    "LTC": ("litecoin",),
    "LINK": ("chainlink",),
    "BNB": ("binance coin",),
    "TRX": ("tron",),
    "MATIC": ("polygon",),
    "USDT": ("tether",),
    "USDC": ("usd coin",),
}

SYSTEM_PROMPT = """rara-purpose: sentinel
You watch news for a crypto trading system. Given one news item and the symbols being traded,
say how serious it is for those markets and which of them it affects.

Severity: "critical" for a black swan that should stop new exposure now (a hack or exploit, an
exchange halting withdrawals or going insolvent, a stablecoin depeg); "warning" for something to
watch (an outage, a delisting, an investigation, a lawsuit); "info" for anything else.

Answer with one JSON object and nothing else:
{"severity": "info" | "warning" | "critical", "symbols": ["BTC/USDT", ...], "reason": "..."}
"symbols" lists only symbols from the given list that the news affects; [] when it is about the
whole market or none of them.
"""


class Classification(BaseModel):
    """A verdict on one item: its severity, the symbols it affects (empty: market-wide) and who
    decided (the rules, the LLM, or the source itself, e.g. a webhook that named a severity)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    severity: Severity
    symbols: tuple[str, ...] = ()
    reason: str
    by: ClassifiedBy


class LlmVerdict(BaseModel):
    """What the LLM must answer (JSON); anything else is a classifier failure."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    severity: Severity
    symbols: list[str] = Field(default_factory=list)
    reason: str = Field(min_length=1, max_length=2000)


class ClassifierFailed(RaraError):
    """The LLM gave no usable verdict; ``code`` says why (llm_*, not_json, invalid_reply)."""


def _word_pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    alternatives = sorted({re.escape(w.lower()) for w in words if w.strip()}, key=len, reverse=True)
    if not alternatives:
        return None
    return re.compile(r"(?<![a-z0-9])(" + "|".join(alternatives) + r")(?![a-z0-9])")


def base_of(symbol: str) -> str:
    return symbol.split("/", 1)[0].upper()


def mentioned_symbols(text: str, candidates: Sequence[str]) -> tuple[str, ...]:
    """The candidates whose base currency `text` names (code or name, whole words, any case),
    in the candidates' order."""
    lowered = text.lower()
    found: list[str] = []
    for symbol in candidates:
        base = base_of(symbol)
        pattern = _word_pattern((base, *CURRENCY_NAMES.get(base, ())))
        if pattern is not None and pattern.search(lowered) and symbol not in found:
            found.append(symbol)
    return tuple(found)


def _first_keyword(text: str, keywords: Sequence[str]) -> str | None:
    """The first keyword found in `text` (case-insensitive; a keyword matches where a word
    starts, so "hack" finds "hacked" and "hackers" but not "shack")."""
    lowered = text.lower()
    for keyword in keywords:
        k = keyword.strip().lower()
        if k and re.search(r"(?<![a-z0-9])" + re.escape(k), lowered):
            return keyword
    return None


def classify_by_rules(
    text: str,
    candidates: Sequence[str],
    *,
    critical_keywords: Sequence[str],
    warning_keywords: Sequence[str],
) -> Classification:
    symbols = mentioned_symbols(text, candidates)
    critical = _first_keyword(text, critical_keywords)
    if critical is not None:
        return Classification(
            severity="critical", symbols=symbols, reason=f"keyword {critical!r}", by="rules"
        )
    warning = _first_keyword(text, warning_keywords)
    if warning is not None:
        return Classification(
            severity="warning", symbols=symbols, reason=f"keyword {warning!r}", by="rules"
        )
    return Classification(severity="info", symbols=symbols, reason="no keyword", by="rules")


def resolve_symbols(named: Iterable[str], candidates: Sequence[str]) -> tuple[str, ...]:
    """Symbols a source or the LLM named, as traded symbols: a pair (``btc/usdt``) is taken as
    given (normalised), a bare code (``BTC``) is every candidate with that base. Names that are
    neither are dropped."""
    out: list[str] = []
    for name in named:
        text = name.strip()
        if not text:
            continue
        if "/" in text or "-" in text or "_" in text:
            try:
                resolved = [normalize_symbol(text)]
            except ValueError:
                continue
        else:
            resolved = [s for s in candidates if base_of(s) == text.upper()]
        out.extend(s for s in resolved if s not in out)
    return tuple(out)


class LlmClassifier:
    """Classification by the configured LLM (any `LlmProvider`: litellm in the daemon)."""

    def __init__(self, provider: LlmProvider) -> None:
        self.provider = provider

    @property
    def name(self) -> str:
        return f"llm:{self.provider.model}"

    def classify(self, title: str, summary: str, candidates: Sequence[str]) -> Classification:
        user = json.dumps(
            {"title": title, "summary": summary, "symbols_traded": list(candidates)},
            ensure_ascii=False,
        )
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": user},
        ]
        try:
            reply = self.provider.complete(messages, purpose="sentinel", json_mode=True)
        except RaraError as exc:  # LlmError, LlmUnusable, BudgetExhausted
            raise ClassifierFailed(exc.code, exc.message) from None
        try:
            raw = json.loads(reply.text)
        except ValueError:
            raise ClassifierFailed(
                "not_json", f"the LLM's reply is not JSON: {reply.text[:120]!r}"
            ) from None
        try:
            verdict = LlmVerdict.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'reply'}: {e['msg']}"
                for e in exc.errors()[:3]
            )
            raise ClassifierFailed("invalid_reply", f"the LLM's reply: {problems}") from None
        return Classification(
            severity=verdict.severity,
            symbols=resolve_symbols(verdict.symbols, candidates),
            reason=verdict.reason,
            by="llm",
        )
