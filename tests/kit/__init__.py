"""The test kit: what tests share that is not a fixture.

Repo paths, candle loaders, the CLI runners, the LLM test script, the Docker skip-or-fail rule and
the "become uid 65534" command. Fixtures live in ``conftest.py`` files and use the kit; no module
imports from a conftest (a conftest is pytest's plugin, not a library).
"""
