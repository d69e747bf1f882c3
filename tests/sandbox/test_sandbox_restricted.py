"""The restricted runtime on its own (lint bypassed): escapes are refused at compile or run time."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rara_sandbox.addresses import SandboxViolation
from rara_sandbox.candles import Candles
from rara_sandbox.printing import PrintBuffer
from rara_sandbox.restricted import CompileFailed, compile_strategy, exec_module
from tests.kit.paths import SANDBOX_SRC


def run(body: str, candles: dict[str, np.ndarray], printer: PrintBuffer | None = None) -> Any:
    """Compile `def f(candles, params): <body>` with RestrictedPython only, and call it."""
    source = "def f(candles, params):\n" + textwrap.indent(textwrap.dedent(body), "    ")
    namespace = exec_module(compile_strategy(source), printer or PrintBuffer())
    return namespace["f"](Candles(candles), {"n": 3})  # type: ignore[operator]


# Refused by RestrictedPython's compiler (underscore names, eval/exec).
COMPILE_REFUSED = [
    "return ().__class__.__bases__",
    "return [].__class__.__base__.__subclasses__()",
    "return candles.__dict__",
    "return ta.sma.__globals__",
    "return __import__('os')",
    "return __builtins__",
    "return eval('1 + 1')",
    "exec('x = 1')",
    "return _getattr_",
    "candles.close += 1",
    "g = (i for i in [1])\nreturn g.gi_frame",
]


@pytest.mark.parametrize("body", COMPILE_REFUSED)
def test_compile_refuses(body: str, small_candles: dict[str, np.ndarray]) -> None:
    with pytest.raises(CompileFailed) as e:
        run(body, small_candles)
    assert e.value.line is not None and e.value.line >= 1


# Refused while running: attribute whitelist, missing builtins, write guard.
RUNTIME_REFUSED: list[tuple[str, type[BaseException]]] = [
    ("return candles.close.ctypes", SandboxViolation),
    ("return candles.close.base", SandboxViolation),
    ("return candles.close.data", SandboxViolation),
    ("return candles.close.flags", SandboxViolation),
    ("candles.close.setflags(write=True)", SandboxViolation),
    ("return candles.close.dumps()", SandboxViolation),
    ("return candles.close.tobytes()", SandboxViolation),
    ("return candles.close.view()", SandboxViolation),
    ("return candles.close.fill(0)", SandboxViolation),
    ("return ta.sma.func_globals", SandboxViolation),
    ("return ta.numpy", SandboxViolation),
    ("return params.fromkeys", SandboxViolation),
    ("return 'x'.format", SandboxViolation),
    ("return '{0}'.format_map", SandboxViolation),
    ("return len.self", SandboxViolation),
    ("return dict.fromkeys([1])", SandboxViolation),
    ("return candles.close[0].real", SandboxViolation),
    ("return getattr(candles, 'close')", NameError),
    ("return vars()", NameError),
    ("return globals()", NameError),
    ("return locals()", NameError),
    ("return open('/etc/passwd')", NameError),
    ("return compile('1', 'x', 'eval')", NameError),
    ("return type(candles)", NameError),
    ("return object", NameError),
    ("return dir()", NameError),
    ("import os\nreturn os", ImportError),
    ("from os import path\nreturn path", ImportError),
    ("class A:\n    pass\nreturn A", NameError),
    ("candles.close[0] = 1.0", SandboxViolation),
    ("c = candles.close[:10]\nc[0] = 1.0", SandboxViolation),
    ("candles.foo = 1", SandboxViolation),
    ("ta.sma = None", SandboxViolation),
    ("x = (1, 2)\nx[0] = 3", SandboxViolation),
    ("return range(10 ** 9)", SandboxViolation),
    ("print(1, file=candles)", TypeError),
    ("return candles[0]", SandboxViolation),
]


@pytest.mark.parametrize(("body", "error"), RUNTIME_REFUSED)
def test_runtime_refuses(
    body: str, error: type[BaseException], small_candles: dict[str, np.ndarray]
) -> None:
    with pytest.raises(error):
        run(body, small_candles)


def test_tofile_cannot_write(tmp_path: Path, small_candles: dict[str, np.ndarray]) -> None:
    target = tmp_path / "x"
    with pytest.raises(SandboxViolation):
        run(f"candles.close.tofile({str(target)!r})", small_candles)
    assert not target.exists()


def test_candles_stay_untouched(small_candles: dict[str, np.ndarray]) -> None:
    before = small_candles["close"].copy()
    out = run("c = candles.close\nc += 1\nc *= 2\nreturn c", small_candles)
    np.testing.assert_array_equal(out, (before + 1) * 2)
    np.testing.assert_array_equal(small_candles["close"], before)


def test_allowed_things_work(small_candles: dict[str, np.ndarray]) -> None:
    body = """
    close = candles.close
    out = ta.full(len(close), False)
    for i in range(1, len(close)):
        out[i] = close[i] > close[i - 1]
    levels = [x for x in close.tolist()[:3]]
    levels.append(close.max())
    d = {"a": 1}
    d["b"] = params.get("n", 0)
    a, b = 1, 2
    total = 0
    total += a + b
    return out, levels, d, total, close.mean().item(), str(len(candles)), close.astype(float).sum()
    """
    out, levels, d, total, mean, n, s = run(body, small_candles)
    assert out.dtype == np.bool_ and out[1:].tolist() == list(
        small_candles["close"][1:] > small_candles["close"][:-1]
    )
    assert len(levels) == 4 and d == {"a": 1, "b": 3} and total == 3
    assert isinstance(mean, float) and n == "300" and s > 0


def test_print_is_collected_and_bounded(small_candles: dict[str, np.ndarray]) -> None:
    printer = PrintBuffer(limit=50)
    run("for i in range(100):\n    print('line', i)\nreturn 1", small_candles, printer)
    assert printer.truncated and len(printer.text) == 50 and printer.text.startswith("line 0\n")


def test_module_namespace_holds_no_modules() -> None:
    namespace = exec_module(compile_strategy("X = 1\n"), PrintBuffer())
    import types

    assert not any(isinstance(v, types.ModuleType) for v in namespace.values())
    assert not any(isinstance(v, types.ModuleType) for v in namespace["__builtins__"].values())  # type: ignore[union-attr]
    builtin_import = namespace["__builtins__"]["__import__"]  # type: ignore[index]
    for args in [("os",), ("os", None, None, None, 0), ("os", None, None, ("path",), 0),
                 ("os", None, None, [], 0), ("numpy", None, None, None, 0)]:  # fmt: skip
        with pytest.raises(ImportError):
            builtin_import(*args)


def test_numpy_lazy_imports_work_from_strategy_frames() -> None:
    # numpy's C code imports numpy._core._methods on first use, through the *strategy's*
    # builtins; a fresh interpreter is the only place where that first use is guaranteed.
    code = (
        "import numpy as np\n"
        "from rara_sandbox.printing import PrintBuffer\n"
        "from rara_sandbox.restricted import compile_strategy, exec_module\n"
        "src = 'def f(x):\\n    return x.max() + x.mean() + x.astype(float).std()\\n'\n"
        "ns = exec_module(compile_strategy(src), PrintBuffer())\n"
        "print(ns['f'](np.arange(5.0)))\n"
    )
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={"PYTHONPATH": str(SANDBOX_SRC)}, timeout=60)  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert float(p.stdout) == pytest.approx(4.0 + 2.0 + np.arange(5.0).std())


# f-strings compile to one guarded_format call per field: data only, a standard bounded spec, and
# a nested spec is itself a guarded field, so nothing reaches the __format__ or the text of a
# function, the candle facade or `ta`, and no spec builds a gigabyte string.
FSTRING_REFUSED = [
    'return f"{candles}"',
    'return f"{ta!r}"',
    'return f"{f!a}"',
    'return f"{[len]}"',
    'return f"{1:{candles}}"',
    'return f"{candles.close:%s}"',
    'w = 10 ** 9\nreturn f"{1:>{w}}"',
    'p = 10 ** 9\nreturn f"{1.5:.{p}f}"',
    "return f\"{candles.close.mean():{'>' * 40}}\"",
    'return "%*d" % (10 ** 9, 1)',
    't = "%.*f"\nreturn t % (10 ** 9, 1.5)',
    'return "%(close)s" % candles',
]


@pytest.mark.parametrize("body", FSTRING_REFUSED)
def test_text_formatting_refuses_objects_and_unbounded_specs(
    body: str, small_candles: dict[str, np.ndarray]
) -> None:
    with pytest.raises(SandboxViolation):
        run("def f():\n    return 1\n" + body, small_candles)


def test_text_formatting_of_data_works(small_candles: dict[str, np.ndarray]) -> None:
    body = """
    x: float = candles.close.mean()
    d = {"n": params["n"]}
    w = 8
    return f"{x:.2f}|{params['n']!r:>{w}}|{d}|{[1, 2]}|{'a'!s}|{0.5:.1%}|" + "%.3f %s" % (x, "k")
    """
    x = float(small_candles["close"].mean())
    assert run(body, small_candles) == f"{x:.2f}|{3!r:>8}|{{'n': 3}}|[1, 2]|a|50.0%|{x:.3f} k"


def test_annotations_are_never_evaluated(small_candles: dict[str, np.ndarray]) -> None:
    assert run("level: undefined_name = 1.5\nreturn level", small_candles) == 1.5
    with pytest.raises(CompileFailed, match="annotation without a value"):
        run("level: float\nreturn 1", small_candles)
