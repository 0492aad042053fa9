"""The fault matrix is printed at the end of a run only when asked for (`-s` or FAULT_MATRIX=1)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from tests.faults import conftest
from tests.faults.matrix import ROWS, Row


class Config:
    def __init__(self, capture: str) -> None:
        self.capture = capture

    def getoption(self, name: str) -> str:
        assert name == "capture"
        return self.capture


class Reporter:
    """Records what the hook writes, as pytest's terminal reporter would print it."""

    def __init__(self, capture: str) -> None:
        self.config = Config(capture)
        self.out = io.StringIO()

    def section(self, title: str) -> None:
        self.out.write(f"== {title} ==\n")

    def write_line(self, line: str) -> None:
        self.out.write(line + "\n")


@pytest.fixture
def one_row() -> Iterator[None]:
    saved = list(ROWS)  # the run's own rows come back afterwards
    ROWS[:] = [Row("1303", "kling: create", "queued, then delivered", "create×2", 1)]
    yield
    ROWS[:] = saved


@pytest.mark.usefixtures("one_row")
@pytest.mark.parametrize(
    ("capture", "env", "printed"),
    [
        ("fd", {}, False),
        ("sys", {"FAULT_MATRIX": "0"}, False),
        ("no", {}, True),
        ("fd", {"FAULT_MATRIX": "1"}, True),
    ],
)
def test_matrix_printed_only_when_asked(
    monkeypatch: pytest.MonkeyPatch, capture: str, env: dict[str, str], printed: bool
) -> None:
    monkeypatch.delenv("FAULT_MATRIX", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reporter = Reporter(capture)
    conftest.pytest_terminal_summary(reporter)  # type: ignore[arg-type]
    text = reporter.out.getvalue()
    assert ("fault matrix (1 cases)" in text) is printed
    assert ("queued, then delivered" in text) is printed
