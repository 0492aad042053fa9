"""The rows of the fault matrix, collected by the tests and printed at the end of the run."""

from __future__ import annotations

from dataclasses import dataclass

HEADERS = ("fault", "endpoint", "user-visible result", "retries observed", "tasks created")


@dataclass(frozen=True)
class Row:
    fault: str
    endpoint: str
    result: str
    retries: str
    tasks: int | str


ROWS: list[Row] = []


def record(fault: str, endpoint: str, result: str, retries: str, tasks: int | str) -> None:
    ROWS.append(Row(fault, endpoint, result, retries, tasks))


def table(rows: list[Row]) -> str:
    cells = [HEADERS] + [
        (
            r.fault,
            r.endpoint,
            r.result if len(r.result) <= 90 else r.result[:89] + "…",
            r.retries,
            str(r.tasks),
        )
        for r in sorted(rows, key=lambda r: (r.endpoint, r.fault))
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADERS))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
