"""Every piece of Python the Strategy API documents passes lint, compiles and runs in the sandbox.

The README recommended f-strings while lint refused them; an LLM copies what the prompt shows, so
a documented construct that the sandbox refuses costs a fix round every time. Each ```python
block of the API README, the examples README, the top-level README and the LLM prompts, and the
prompt's example strategy, is checked: a block that defines ``meta`` and ``on_candles`` is a
strategy; any other block is the body of ``on_candles``.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

from rara_sandbox.evaluate import evaluate
from rara_sandbox.lint import lint
from rara_sandbox.restricted import compile_strategy
from tests.kit.paths import RARA, REPO, STRATEGIES

Arrays = dict[str, np.ndarray]

DOCUMENTS = (
    STRATEGIES / "template" / "README.md",
    STRATEGIES / "examples" / "README.md",
    REPO / "README.md",
    RARA / "llm" / "prompts" / "strategy_api.txt",
)
WHOLE_FILES = (RARA / "llm" / "prompts" / "strategy_example.py.txt",)
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
SNIPPET_META = (
    '{"name": "doc_snippet", "version": "1.0.0", "api_version": 1, "timeframe": "1h", '
    '"lookback": 50, "description": "a documented snippet", "params": {}}'
)


def documented_code() -> list[tuple[str, str]]:
    found = []
    for doc in DOCUMENTS:
        for i, match in enumerate(BLOCK.finditer(doc.read_text())):
            found.append((f"{doc.relative_to(REPO)}#{i + 1}", match.group(1)))
    for path in WHOLE_FILES:
        found.append((str(path.relative_to(REPO)), path.read_text()))
    return found


def as_strategy(code: str) -> str:
    if re.search(r"^def meta\(", code, re.MULTILINE) and "def on_candles(" in code:
        return code
    return (
        f"def meta():\n    return {SNIPPET_META}\n\n\ndef on_candles(candles, params):\n"
        + textwrap.indent(textwrap.dedent(code), "    ")
    )


def test_the_documents_hold_python() -> None:
    where = {name.split("#")[0] for name, _ in documented_code()}
    assert "strategies/template/README.md" in where
    assert "rara/llm/prompts/strategy_api.txt" in where
    assert len(documented_code()) >= 4


@pytest.mark.parametrize(("where", "code"), documented_code(), ids=lambda v: str(v)[:40])
def test_documented_code_lints_compiles_and_runs(
    where: str, code: str, sample_candles: Arrays
) -> None:
    source = as_strategy(code)
    report = lint(source)
    assert report.ok, f"{where}:\n{report.summary()}"
    compile_strategy(source)
    result = evaluate(source, sample_candles, None, [300])
    assert result.ok, f"{where}: {result.error}"
    full = result.windows[-1]
    assert full.entries.dtype == np.bool_ and len(full.entries) == len(sample_candles["close"])


def test_documented_text_formatting_prints_what_it_says(sample_candles: Arrays) -> None:
    """The README's text example: f-string specs and %-formatting of numbers give their usual
    text inside the sandbox."""
    snippet = next(c for w, c in documented_code() if "print(f" in c and "template" in w)
    result = evaluate(as_strategy(snippet), sample_candles, None, [])
    assert result.ok, result.error
    close = sample_candles["close"]
    assert f"last close {close[-1]:,.2f}, band 2.0%" in result.printed
    assert f"mean close {close.mean():.2f} over {len(close)} bars" in result.printed
    assert Path(STRATEGIES / "template" / "README.md").read_text().count("```python") >= 2
