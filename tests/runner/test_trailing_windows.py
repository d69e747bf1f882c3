"""The trailing-windows-only request (`ProofRequest(prefixes=False)`, the signal path of paper
trading): the same trailing last bars as the full proof, no prefixes computed, on the wire only
when asked (the proof's frames keep their shape), and the same answer from the jail."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from rara.domain.market import Candles
from rara.runner.sandbox import (
    EvaluationRequest,
    InProcessSandbox,
    JailSandbox,
    ProofRequest,
    candle_columns,
)
from rara_sandbox.frame import pack_frame, unpack_frame
from rara_sandbox.protocol import (
    ProtocolError,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
)
from rara_sandbox.results import LastBars, ProofSpec
from tests.kit.candles import shipped_btc
from tests.kit.paths import TEMPLATE


@pytest.fixture(scope="module")
def candles() -> Candles:
    return shipped_btc("1h").slice(0, 400)


@pytest.fixture(scope="module")
def jail() -> Iterator[JailSandbox]:
    with JailSandbox(wall_s=30.0) as sb:
        yield sb


def request(candles: Candles, prefixes: bool) -> EvaluationRequest:
    return EvaluationRequest(
        source=TEMPLATE.read_text(),
        candles=candles,
        proof=ProofRequest(from_bar=300, trailing_window=120, prefixes=prefixes),
    )


def same(a: LastBars, b: LastBars) -> None:
    for series in LastBars.SERIES:
        np.testing.assert_array_equal(getattr(a, series), getattr(b, series))


def test_trailing_only_gives_the_proofs_trailing_bars_and_no_prefixes(
    candles: Candles, jail: JailSandbox
) -> None:
    full = InProcessSandbox().evaluate(request(candles, prefixes=True))
    only = InProcessSandbox().evaluate(request(candles, prefixes=False))
    assert full.proof is not None and only.proof is not None, (full.error, only.error)
    assert full.proof.prefix is not None and only.proof.prefix is None
    assert (only.proof.from_bar, only.proof.bars, only.proof.trailing_window) == (300, 100, 120)
    same(only.proof.trailing, full.proof.trailing)
    jailed = jail.evaluate(request(candles, prefixes=False))
    assert jailed.proof is not None and jailed.proof.prefix is None, jailed.error
    same(jailed.proof.trailing, full.proof.trailing)
    np.testing.assert_array_equal(jailed.windows[-1].entries, full.windows[-1].entries)


def test_prefixes_go_on_the_wire_only_when_left_out(candles: Candles) -> None:
    columns = candle_columns(candles)
    source = TEMPLATE.read_text()
    proof_frame = encode_request(source, columns, proof=ProofSpec(300, 120, 10.0))
    header, _ = unpack_frame(proof_frame)
    assert set(header["proof"]) == {"from_bar", "trailing_window", "deadline_s", "to_bar"}
    assert decode_request(proof_frame).proof == ProofSpec(300, 120, 10.0)
    spec = ProofSpec(300, 120, 10.0, prefixes=False)
    trailing_frame = encode_request(source, columns, proof=spec)
    assert unpack_frame(trailing_frame)[0]["proof"]["prefixes"] is False
    assert decode_request(trailing_frame).proof == spec
    # true is the default and is never sent: a frame saying so is not one we wrote
    header, arrays = unpack_frame(trailing_frame)
    header["proof"]["prefixes"] = True
    with pytest.raises(ProtocolError, match="prefixes"):
        decode_request(pack_frame(header, list(arrays.items())))
    # the answer round-trips without prefix arrays
    result = InProcessSandbox().evaluate(request(candles, prefixes=False))
    back = decode_response(encode_response(result))
    assert back.proof is not None and back.proof.prefix is None
    assert result.proof is not None
    same(back.proof.trailing, result.proof.trailing)
