"""Prints the fault matrix collected by the tests in this folder after the run."""

from __future__ import annotations

import pytest

from tests.faults.matrix import ROWS, table


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if ROWS:
        terminalreporter.section(f"fault matrix ({len(ROWS)} cases)")
        terminalreporter.write_line(table(ROWS))
