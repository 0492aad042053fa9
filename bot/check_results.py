"""One line of `kling-bot check`: a check's name, OK / FAIL / SKIP, and what to do."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass


class Status(enum.StrEnum):
    OK = "OK"
    FAIL = "FAIL"
    # Not tried because something it depends on failed (that failure is reported on its line).
    SKIP = "SKIP"


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str

    def line(self) -> str:
        return f"{self.status.value:<4} {self.name}: {self.detail}"


def ok(name: str, detail: str) -> CheckResult:
    return CheckResult(name, Status.OK, detail)


def fail(name: str, detail: str) -> CheckResult:
    return CheckResult(name, Status.FAIL, detail)


def skip(name: str, detail: str) -> CheckResult:
    return CheckResult(name, Status.SKIP, detail)


def all_passed(results: Sequence[CheckResult]) -> bool:
    return all(r.status is Status.OK for r in results)
