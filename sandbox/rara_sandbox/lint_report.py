"""What lint reports: findings (a line and a message) grouped into named checks.

Frozen dataclasses with `to_dict` (the JSON that ``rara sandbox check`` prints and an evaluation
result carries) and `LintReport.summary` (one line per finding, the ``lint_failed`` message). A
check shows at most `MAX_FINDINGS` findings, so a broken file still gives a readable report.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MAX_FINDINGS = 20  # per check, so a broken file gives a readable report


@dataclass(frozen=True)
class Finding:
    line: int | None
    message: str


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str
    findings: tuple[Finding, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "message": self.message,
            "findings": [{"line": f.line, "message": f.message} for f in self.findings],
        }


@dataclass(frozen=True)
class LintReport:
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def summary(self) -> str:
        """One line per failed finding, e.g. ``names: line 3: unknown name 'np' (...)``."""
        lines = []
        for c in self.checks:
            if c.ok:
                continue
            if not c.findings:
                lines.append(f"{c.name}: {c.message}")
            for f in c.findings:
                where = f"line {f.line}: " if f.line else ""
                lines.append(f"{c.name}: {where}{f.message}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [c.to_dict() for c in self.checks]}


def check(name: str, findings: Iterable[Finding], ok_message: str) -> Check:
    """The check named `name`: ok with `ok_message` if nothing was found, else the first
    `MAX_FINDINGS` findings and how many there were."""
    found = tuple(findings)
    if not found:
        return Check(name, True, ok_message)
    shown = found[:MAX_FINDINGS]
    more = f" (+{len(found) - len(shown)} more)" if len(found) > len(shown) else ""
    return Check(name, False, f"{len(found)} problem(s){more}", shown)
