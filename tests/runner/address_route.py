"""A jailed entry with one address route left open, for the determinism check's test (imported by
the zygote as `address_route`).

The runtime closes every route it knows from a strategy to a heap address, so no strategy source
can show the determinism check failing. This entry stands for the route nobody found yet: it runs
the real sandbox entry, then flips the entry signal at a bar picked by the address of an object,
exactly what strategy code reading an address would do. Two jailed children
fork from one zygote; only the random heap layout each draws (`rara_sandbox.heap`) makes them
pick different bars.
"""

from __future__ import annotations

import dataclasses
import struct

import numpy as np
import numpy.typing as npt

from rara_sandbox.protocol import decode_response, encode_response
from rara_sandbox.results import WindowResult
from rara_sandbox.serve import handle_request as sandbox_entry

ADDRESS = struct.Struct("<Q")


def address_of_fresh_object() -> int:
    return id(bytes(100))  # a pymalloc size class the heap randomisation pads


def _flip(a: npt.NDArray[np.bool_], i: int) -> npt.NDArray[np.bool_]:
    out = a.copy()
    if 0 <= i < out.shape[0]:
        out[i] = not out[i]
    return out


def handle_request(data: bytes) -> bytes:
    """The real entry's answer with the entry signal at bar b flipped everywhere it appears (every
    window, probe and proven bar), b picked by the address of an object made once per process:
    consistent inside one process, as a strategy reading such an address would be."""
    result = decode_response(sandbox_entry(data))
    if result.failed:
        return encode_response(result)
    bar = (address_of_fresh_object() >> 4) % result.windows[-1].n

    def flipped(w: WindowResult, offset: int = 0) -> WindowResult:
        return dataclasses.replace(w, entries=_flip(w.entries, bar - offset))

    windows = tuple(flipped(w) for w in result.windows)
    probes = tuple(
        dataclasses.replace(
            p, window=flipped(p.window, p.probe.at if p.probe.kind == "suffix" else 0)
        )
        for p in result.probes
    )
    proof = result.proof
    if proof is not None:
        at = bar - proof.from_bar
        proof = dataclasses.replace(
            proof,
            prefix=dataclasses.replace(proof.prefix, entries=_flip(proof.prefix.entries, at)),
            trailing=dataclasses.replace(proof.trailing, entries=_flip(proof.trailing.entries, at)),
        )
    return encode_response(dataclasses.replace(result, windows=windows, probes=probes, proof=proof))


def heap_address(data: bytes) -> bytes:
    """The address of a fresh object after the heap randomisation: what two children differ by."""
    from rara_sandbox.heap import randomise_heap_layout

    if data == b"randomise":
        randomise_heap_layout()
    return ADDRESS.pack(address_of_fresh_object())
