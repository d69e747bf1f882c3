"""The template strategy passes the checks that judge a candidate before its performance does.

An author (or an LLM) starts from `strategies/template/strategy.py`; if the template itself failed
lint, the sandbox, the look-ahead probes, the warm-up check, the exhaustive causality proof, the
trailing-window (live parity) check or determinism, every copy would spend fix rounds on it. The
performance floors are not asserted: the template is a starting point, not a profitable strategy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from rara.config import Settings
from rara.domain.market import Candles
from rara.runner.sandbox import JailSandbox
from rara.services.backtest import CandidateProver, evaluate_candidate
from rara.validation.causality import causality_checks
from rara.validation.splits import time_split
from rara_sandbox.lint import lint
from rara_sandbox.restricted import compile_strategy
from tests.kit.candles import shipped_btc
from tests.kit.paths import STRATEGIES, TEMPLATE

API_README = STRATEGIES / "template" / "README.md"


@pytest.fixture(scope="module")
def candles() -> Candles:
    return shipped_btc("1h")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[JailSandbox]:
    with JailSandbox(wall_s=600.0) as sb:  # the proof is one evaluation per bar: generous
        yield sb


def test_template_passes_the_checks_before_performance(
    sandbox: JailSandbox, candles: Candles
) -> None:
    source = TEMPLATE.read_text()
    assert lint(source).ok, lint(source).summary()
    compile_strategy(source)

    g = Settings().gates.research
    split = time_split(
        candles.ts,
        fractions=(
            g.train_fraction,
            g.validation_fraction,
            1.0 - g.train_fraction - g.validation_fraction,
        ),
    )
    holdout_start = split.holdout[0]
    for seed in (0, 1, 2):  # the probes' positions come from the run's seed
        checked = evaluate_candidate(
            sandbox, source, candles, seed=seed, holdout_start=holdout_start
        )
        assert not checked.failed, checked.sandbox_error()
        assert checked.meta is not None
        failed = [o.detail for o in checked.lookahead if not o.passed]
        assert not failed and checked.holdout_lookahead is None, failed
        assert {o.name for o in checked.lookahead} == {"truncation", "perturbation", "warmup"}

    lookback = checked.meta.lookback
    proof = CandidateProver(sandbox, checked, candles)(split.validation[0], lookback + 1)
    assert proof.complete, proof.error
    verdicts = causality_checks(proof, holdout_start)
    assert [c.name for c in verdicts] == [
        "lookahead.exhaustive",
        "lookahead.trailing_window",
        "determinism",
    ]
    assert all(c.passed for c in verdicts), [c.detail for c in verdicts if not c.passed]


def test_the_api_readme_explains_the_warmup_check_with_a_rule_of_thumb() -> None:
    """The warm-up check is what LLM-written strategies failed most: the README (and so the LLM
    prompt, its copy) says what it does, why recursive smoothers need a long lookback, and how
    long; the template follows that rule."""
    text = API_README.read_text()
    section = text[text.index("## The warm-up check") :]
    section = section[: section.index("\n## ", 1)]
    for needed in ("lookback", "EMA", "RSI", "ATR", "start", "warmup"):
        assert needed in section, needed
    rule = re.search(r"EMA\(n\)[^.]*?(\d+)\s*[x×·]?\s*n", section)
    assert rule is not None, "the section states a rule of thumb for EMA(n)"
    factor = int(rule.group(1))
    source = TEMPLATE.read_text()
    lookback = int(re.search(r'"lookback":\s*(\d+)', source).group(1))  # type: ignore[union-attr]
    slow = int(re.search(r'"slow":\s*(\d+)', source).group(1))  # type: ignore[union-attr]
    assert lookback >= factor * slow, (lookback, factor, slow)
