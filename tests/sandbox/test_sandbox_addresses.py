"""No route from restricted code to a heap address: the text of non-data objects and hash order
(issue 9, item 8). Each refused body once turned a function's address into a value a strategy
could make signals from; the allowed bodies are what honest strategies still do with text."""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
import pytest

from rara_sandbox.addresses import SandboxViolation, is_data
from rara_sandbox.candles import Candles
from rara_sandbox.evaluate import evaluate
from rara_sandbox.printing import PrintBuffer
from rara_sandbox.restricted import CompileFailed, compile_strategy, exec_module


def run(body: str, candles: dict[str, np.ndarray], printer: PrintBuffer | None = None) -> Any:
    """Compile `def f(candles, params): <body>` with the restricted policy (lint bypassed)."""
    source = "def g():\n    return 1\n\n\ndef f(candles, params):\n" + textwrap.indent(
        textwrap.dedent(body), "    "
    )
    namespace = exec_module(compile_strategy(source), printer or PrintBuffer())
    return namespace["f"](Candles(candles), {"n": 3})  # type: ignore[operator]


REFUSED_AT_RUN = {
    "print_function": "print(g)",
    "print_list_of_function": "print([1, g])",
    "variable_template": "t = '%s'\nreturn t % g",
    "variable_template_tuple": "t = '%r'\nreturn t % (g,)",
    "template_in_list": "t = ['%s']\nreturn t[0] % [g]",
    "inplace_template": "t = '%s'\nt %= (g,)\nreturn t",
    "ascii_template_of_facade": "x = '%a'\nreturn x % (candles,)",
    "object_array_elementwise": "a = candles.close.astype('O')\na[0] = '%s'\nreturn a % g",
    "object_array_to_unicode": "a = candles.close.astype('O')\na[0] = g\nreturn a.astype('U')",
    "object_array_to_bytes": "a = candles.close.astype('O')\na[0] = g\nreturn a.astype('S')",
    "void_dtype": "return candles.close.astype('V8')",
    "str_of_list_holding_function": "return str([g])",
    "str_of_dict_holding_function": "return str({'k': g})",
    "str_of_object_array": "a = candles.close.astype('O')\na[1] = g\nreturn str(a)",
    "str_of_candles": "return str(candles)",
}


@pytest.mark.parametrize("name", sorted(REFUSED_AT_RUN))
def test_address_routes_are_refused(name: str, small_candles) -> None:
    with pytest.raises(SandboxViolation):
        run(REFUSED_AT_RUN[name], small_candles)


def test_dict_views_are_lists_so_no_set_is_built(small_candles) -> None:
    # `d.keys() | e.keys()` would be a set iterating in address order; lists do not union
    with pytest.raises(TypeError):
        run("d = {g: 1}\ne = {f: 2}\nreturn d.keys() | e.keys()", small_candles)
    assert run("d = {'b': 1, 'a': 2}\nreturn d.keys(), d.items()", small_candles) == (
        ["b", "a"],
        [("b", 1), ("a", 2)],
    )


@pytest.mark.parametrize("body", ["return {g, f}", "return {x for x in [g, f]}"])
def test_sets_do_not_compile(body: str) -> None:
    with pytest.raises(CompileFailed, match="set"):
        compile_strategy("def f(candles, params):\n    " + body)


ALLOWED = {
    "numeric_modulo": ("x = 27\nreturn x % 24", 3),
    "array_modulo": ("return (candles.timestamps // 3600000 % 24)[:2].tolist()", None),
    "data_template": ("t = '%d-%s'\nreturn t % (5, 'x')", "5-x"),
    "float_array_to_text": ("return candles.close[:1].astype('U').tolist()[0][:3]", None),
    "str_of_nested_data": ("return str([1, (2.5, 'a'), {'k': [True]}])", None),
    "self_holding_list": ("a = [1]\na.append(a)\nreturn str(a)", "[1, [...]]"),
}


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_data_keeps_its_text(name: str, small_candles) -> None:
    body, expected = ALLOWED[name]
    printer = PrintBuffer()
    out = run(body + "\n", small_candles, printer)
    if expected is not None:
        assert out == expected
    run("print(candles.close[:2], 'close', 3, [1.5])", small_candles, printer)
    assert "close 3 [1.5]" in printer.text


def test_is_data_walks_containers_and_object_arrays() -> None:
    holder = np.array([1.0, "x"], dtype=object)
    assert is_data([1, (2.0, "s"), {"k": holder}, np.float64(1), None, b"b"])
    holder[0] = print
    assert not is_data({"k": [holder]})
    assert not is_data([[[[len]]]])


SET_STRATEGY = """
def meta():
    return {"name": "sets", "version": "1.0.0", "api_version": 1, "timeframe": "1h",
            "lookback": 0, "description": "hash order", "params": {}}


def on_candles(candles, params):
    first = [x for x in {meta, on_candles}][0]
    n = len(candles)
    return ta.full(n, first == meta), ta.full(n, False)
"""


def test_lint_names_sets(small_candles) -> None:
    result = evaluate(SET_STRATEGY, small_candles)
    assert result.error is not None and result.error.code == "lint_failed"
    assert "set displays are not allowed" in result.error.message
