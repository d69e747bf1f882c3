"""Static checks: what lint refuses, with which check name and line."""

from __future__ import annotations

import json
import textwrap

import pytest

from rara_sandbox.lint import lint
from rara_sandbox.lint_cost import MAX_SOURCE_BYTES
from rara_sandbox.lint_report import LintReport

GOOD = textwrap.dedent(
    '''
    """ok"""
    WINDOW = 20


    def meta():
        return {"name": "x", "version": "1.0.0", "api_version": 1, "timeframe": "1h",
                "lookback": WINDOW, "description": "", "params": {"n": WINDOW}}


    def helper(values, n):
        out = []
        for i, v in enumerate(values):
            out.append(v > n)
        return out


    def on_candles(candles, params):
        close = candles.close
        open = candles.open
        fast = ta.sma(close, params.get("n", 20))
        up = (close > fast) & (open < close)
        total = sum([1 for x in range(3)])
        if total > 2 and len(close) > 0:
            up = up & True
        return up, ta.crossunder(close, fast)
    '''
)


def strategy(body: str, extra: str = "") -> str:
    """A valid strategy whose on_candles body is `body` (indented by us)."""
    return (
        extra
        + "\ndef meta():\n    return {}\n\n\ndef on_candles(candles, params):\n"
        + textwrap.indent(textwrap.dedent(body), "    ")
    )


def failures(report: LintReport) -> dict[str, list[tuple[int | None, str]]]:
    return {c.name: [(f.line, f.message) for f in c.findings] for c in report.checks if not c.ok}


def test_good_source_passes_and_report_is_json() -> None:
    report = lint(GOOD)
    assert report.ok, report.summary()
    data = json.loads(json.dumps(report.to_dict()))
    names = [c["name"] for c in data["checks"]]
    assert names == [
        "source_size", "syntax", "complexity", "structure", "functions", "imports",
        "forbidden_syntax", "names", "attributes", "formatting",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("source", "check", "needle"),
    [
        (strategy("import os\nreturn 1", ""), "imports", "imports are not allowed"),
        (strategy("return 1", "from math import sqrt\n"), "imports", "imports are not allowed"),
        (strategy("return ().__class__.__bases__"), "attributes", "'__class__'"),
        (strategy("return candles._close"), "attributes", "'_close'"),
        (strategy("return candles.close.tofile('/tmp/x')"), "attributes", "'tofile'"),
        (strategy("return candles.close.ctypes"), "attributes", "'ctypes'"),
        (strategy("return ta.smaa(candles.close, 3)"), "attributes", "did you mean 'sma'"),
        (strategy("return np.mean(candles.close)"), "names", "numpy is not available"),
        (strategy("return clsoe"), "names", "unknown name 'clsoe'"),
        (strategy("return __import__('os')"), "names", "starting with '_'"),
        (strategy("return getattr(candles, 'close')"), "names", "getattr() is not allowed"),
        (strategy("return eval('1')"), "names", "no string evaluation"),
        (strategy("return open('/etc/passwd')"), "names", "no file access"),
        (strategy("return vars()"), "names", "vars() is not allowed"),
        (strategy("class A:\n    pass\nreturn A"), "forbidden_syntax", "class definitions"),
        (strategy("f = lambda: 1\nreturn f"), "forbidden_syntax", "lambda"),
        (strategy("global X\nreturn 1"), "forbidden_syntax", "global"),
        (
            strategy("try:\n    x = 1\nexcept Exception:\n    x = 2\nreturn x"),
            "forbidden_syntax",
            "try/except",
        ),
        (strategy("yield 1"), "forbidden_syntax", "generators"),
        (strategy("with x:\n    pass"), "forbidden_syntax", "with is not allowed"),
        (strategy("return max(*[1, 2])"), "forbidden_syntax", "star unpacking"),
        (strategy("return dict(**params)"), "forbidden_syntax", "**kwargs"),
        (strategy("ta = 1\nreturn ta"), "names", "do not rebind"),
        (strategy("candles.close = 1\nreturn 1"), "attributes", "assigning attributes"),
        (strategy("return printed"), "names", "'printed'"),
        (strategy("return 1", "async def g():\n    pass\n"), "forbidden_syntax", "async"),
        (strategy("return 1", "for i in range(3):\n    pass\n"), "structure", "For"),
        (strategy("return 1", "@staticmethod\ndef g():\n    pass\n"), "functions", "decorators"),
    ],
)
def test_refusals(source: str, check: str, needle: str) -> None:
    report = lint(source)
    assert not report.ok
    found = failures(report)
    assert check in found, report.summary()
    assert any(needle in msg for _, msg in found[check]), found[check]
    assert all(line is None or line >= 1 for _, msg in found[check] for line in [_])


def test_line_numbers_point_at_the_offence() -> None:
    source = strategy("x = 1\ny = np.zeros(3)\nreturn x")
    (line, _), *_ = failures(lint(source))["names"]
    assert source.splitlines()[line - 1].strip() == "y = np.zeros(3)"


def test_required_functions_and_arity() -> None:
    assert (
        "missing required function: def on_candles"
        in lint("def meta():\n    return {}\n").summary()
    )
    src = "def meta(x):\n    return {}\n\ndef on_candles(candles):\n    return 1\n"
    summary = lint(src).summary()
    assert "meta must take no parameters, it takes 1" in summary
    assert "on_candles must take 2 parameters" in summary
    src = strategy("return 1") + "\ndef risk_levels(candles, params, extra):\n    return 1\n"
    assert "risk_levels must take 2 parameters" in lint(src).summary()
    src = strategy("return 1") + "\ndef on_candles(candles, params):\n    return 2\n"
    assert "defined 2 times" in lint(src).summary()


def test_limits() -> None:
    big = strategy("return 1") + "\n# " + "x" * MAX_SOURCE_BYTES
    report = lint(big)
    assert [c.name for c in report.checks] == ["source_size"] and not report.ok
    deep = strategy("return " + "(" * 50 + "1" + ")" * 50 + " + " + " + ".join(["1"] * 200))
    assert "complexity" in failures(lint(deep))
    nested = (
        "x = 1\n" + "".join("    " * i + "if x:\n" for i in range(10)) + "    " * 10 + "x = 2\n"
    )
    assert "blocks nested" in lint(strategy(nested + "return x")).summary()


def test_syntax_errors_and_garbage_do_not_raise() -> None:
    for src in ("def meta(:\n", "\0", "(" * 5000, "x = '\udcff'"):
        report = lint(src)
        assert isinstance(report.ok, bool)
    assert failures(lint("def meta(:\n"))["syntax"][0][0] == 1


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ('t = f"{1.5:%s}"\nreturn t', "not a standard format spec"),
        ('t = f"{1:>{100}} {1.5:.999999999999}"\nreturn t', "limited to 1000 in f-strings"),
        ('t = "%*d" % (10 ** 9, 1)\nreturn t', "'*' widths are not available in %-formatting"),
        ('t = "%1000000000d" % 1\nreturn t', "limited to 1000 in %-formatting"),
        ("x: float\nreturn x", "annotation without a value"),
    ],
)
def test_unbounded_text_formatting_is_refused(body: str, says: str) -> None:
    """Format specs written in the source are checked before anything runs: a width of 10**9
    would build a gigabyte string. (That only data is formatted is the runtime's check.)"""
    report = lint(strategy(body))
    failed = next(c for c in report.checks if c.name == "formatting")
    assert not failed.ok and says in failed.findings[0].message


@pytest.mark.parametrize(
    "body",
    [
        'label = f"{candles.close[-1]:.2f} {len(candles)!r:>6} {params}"\nreturn label',
        'width = 8\nlabel = f"{1.5:>{width}.1f}"\nreturn label',
        'label = "%.2f" % candles.close.mean()\nreturn label',
        "level: float = 1.5\nreturn level",
        "pd = ta.sma(candles.close, 3)\nmath = 2.0\nnp = pd * math\nreturn np",
    ],
)
def test_benign_formatting_and_local_names_pass(body: str) -> None:
    """f-strings (the Strategy API README recommends them), %-formatting of numbers, annotated
    assignments and local names that happen to be library names are not refused."""
    report = lint(strategy(body))
    assert report.ok, report.summary()


def test_library_names_read_unbound_still_say_why() -> None:
    found = failures(lint(strategy("return math.sqrt(pd)")))["names"]
    assert any("math is not available" in m for _, m in found), found
    assert any("pandas is not available" in m for _, m in found), found


def test_attribute_writes_on_ta_are_refused_by_lint() -> None:
    report = lint(strategy("ta.sma = ta.ema\nreturn ta.sma"))
    attrs = next(c for c in report.checks if c.name == "attributes")
    assert not attrs.ok and "assigning attributes" in attrs.findings[0].message
