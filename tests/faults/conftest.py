"""Prints the fault matrix collected by the tests in this folder, when asked for.

The table is long, so an ordinary run keeps quiet: it is printed with `-s` (`--capture=no`) or
with FAULT_MATRIX=1 in the environment, e.g. `FAULT_MATRIX=1 python -m pytest -q tests/faults`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import pytest

from tests.faults.matrix import ROWS, table


def matrix_wanted(config: pytest.Config, env: Mapping[str, str] = os.environ) -> bool:
    return config.getoption("capture") == "no" or env.get("FAULT_MATRIX", "") not in ("", "0")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if ROWS and matrix_wanted(terminalreporter.config):
        terminalreporter.section(f"fault matrix ({len(ROWS)} cases)")
        terminalreporter.write_line(table(ROWS))
