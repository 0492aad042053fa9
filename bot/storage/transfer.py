"""Copy a bot's SQLite database into an empty PostgreSQL database (``kling-bot migrate-db``).

Nothing here lists the tables by hand: they are read from both schemas, which must match (the
same migrations made them), and a table or column only one side has stops the copy before it
starts. Each value is converted by the PostgreSQL column's type, and only for the types the
migrations use (BIGINT/INTEGER, DOUBLE PRECISION, TEXT); any other type stops the copy too.

The source is opened read-only and read in one read transaction, so its rows are one snapshot.
The target is written in one transaction that first takes the writers' advisory lock, checks that
no table holds a row, and disables the tables' own triggers (``DISABLE TRIGGER USER``: the job
event log is copied as it is, and the triggers would log every copied job again; foreign keys
stay checked). Rows go in by ``COPY`` in the order of the foreign keys, the identity sequences
move past the copied ids, the triggers are enabled again, and only then does it commit: a failure
anywhere leaves the target as empty as it was.
"""

from __future__ import annotations

import graphlib
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from bot.storage.postgres_backend import WRITE_LOCK_KEY

# PostgreSQL's identity column standing for SQLite's implicit rowid (jobs.seq; see translate()).
ROWID_COLUMN = "seq"
BOOKKEEPING = "schema_version"  # each side's own record of its migrations: compared, not copied
BATCH_ROWS = 5000
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


class TransferError(Exception):
    """The copy was not made (or not trusted); the message is one sentence."""


@dataclass(frozen=True)
class TableCount:
    table: str
    source: int
    target: int

    @property
    def equal(self) -> bool:
        return self.source == self.target

    def line(self) -> str:
        return f"{self.table}: {self.source} {'=' if self.equal else '!='} {self.target}"


@dataclass(frozen=True)
class TargetColumn:
    name: str
    data_type: str
    identity: bool


# -- the source (SQLite, read-only) ------------------------------------------------------------


def open_source(path: Path) -> sqlite3.Connection:
    """The SQLite file, read-only (mode=ro: never created, never written), in autocommit mode
    so that the caller's BEGIN starts the one read transaction."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError:
        conn.close()
        raise TransferError(f"{path} is not a SQLite database, so not a kling-bot one") from None
    return conn


def source_tables(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """Each table of the source (but the bookkeeping) with its columns, in file order."""
    names = [
        str(row[0])
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " ORDER BY name"
        )
    ]
    return {
        name: [str(column[1]) for column in conn.execute(f'PRAGMA table_info("{name}")')]
        for name in names
        if name != BOOKKEEPING
    }


def source_schema_version(conn: sqlite3.Connection) -> int | None:
    """The source's newest migration, or None when it has no record of migrations."""
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (BOOKKEEPING,)
    ).fetchone()
    if found is None:
        return None
    row = conn.execute(f"SELECT MAX(version) FROM {BOOKKEEPING}").fetchone()  # noqa: S608
    return int(row[0]) if row and row[0] is not None else None


# -- the target (PostgreSQL) -------------------------------------------------------------------


async def target_tables(conn: asyncpg.Connection) -> dict[str, dict[str, TargetColumn]]:
    rows = await conn.fetch(
        "SELECT c.table_name, c.column_name, c.data_type, c.is_identity = 'YES' AS identity,"
        " c.is_generated = 'ALWAYS' AS computed"
        " FROM information_schema.columns c JOIN information_schema.tables t"
        " ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
        " WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'"
        " ORDER BY c.table_name, c.ordinal_position"
    )
    tables: dict[str, dict[str, TargetColumn]] = {}
    for row in rows:
        if row["table_name"] == BOOKKEEPING:
            continue
        kind = "computed" if row["computed"] else str(row["data_type"])
        column = TargetColumn(str(row["column_name"]), kind, bool(row["identity"]))
        tables.setdefault(str(row["table_name"]), {})[column.name] = column
    return tables


async def copy_order(conn: asyncpg.Connection, tables: Sequence[str]) -> list[str]:
    """The tables with every referenced table before the tables that reference it."""
    edges = await conn.fetch(
        "SELECT c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent"
        " FROM pg_constraint c WHERE c.contype = 'f'"
        " AND c.connamespace = current_schema()::regnamespace"
    )
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for name in sorted(tables):  # sorted: the same order on every run
        sorter.add(name)
    for edge in edges:
        if edge["child"] in tables and edge["parent"] in tables and edge["child"] != edge["parent"]:
            sorter.add(edge["child"], edge["parent"])
    try:
        return list(sorter.static_order())
    except graphlib.CycleError:
        raise TransferError(
            "the tables' foreign keys form a cycle, so migrate-db cannot order the copy"
        ) from None


# -- the plan: which source expression fills which target column, converted how ------------------

Convert = Callable[[Any], Any]


@dataclass(frozen=True)
class TablePlan:
    table: str
    columns: list[str]  # target columns, in COPY order
    select: list[str]  # the source expression for each
    converts: list[Convert]


def plan_tables(
    source: dict[str, list[str]], target: dict[str, dict[str, TargetColumn]]
) -> dict[str, TablePlan]:
    """A plan for every table, or TransferError naming the first one that cannot be copied."""
    for name in sorted(set(source) | set(target)):
        if not _NAME.match(name):
            raise TransferError(f"the table name {name!r} is not one migrate-db can copy")
        if name not in target:
            raise TransferError(
                f"the source has a table {name} that the PostgreSQL schema lacks: migrate-db "
                "does not know how to copy it"
            )
        if name not in source:
            raise TransferError(
                f"the PostgreSQL database has a table {name} that is not the bot's: give "
                "migrate-db a database of its own"
            )
    return {name: _plan(name, source[name], target[name]) for name in source}


def _plan(table: str, source: list[str], target: dict[str, TargetColumn]) -> TablePlan:
    for name in [*source, *target]:
        if not _NAME.match(name):
            raise TransferError(f"the column name {table}.{name!r} is not one migrate-db can copy")
    for name in source:
        if name not in target:
            raise TransferError(
                f"column {table}.{name} of the source is not in the PostgreSQL schema: "
                "migrate-db does not know how to copy it"
            )
    plan = TablePlan(table, [], [], [])
    for column in target.values():
        if column.name in source:
            plan.select.append(f'"{column.name}"')
        elif column.identity and column.name == ROWID_COLUMN:
            plan.select.append("rowid")  # keeps the order SQLite numbered the rows in
        else:
            raise TransferError(
                f"column {table}.{column.name} is only in the PostgreSQL schema: migrate-db "
                "does not know what to fill it with"
            )
        plan.columns.append(column.name)
        plan.converts.append(_converter(table, column))
    return plan


def _converter(table: str, column: TargetColumn) -> Convert:
    where = f"{table}.{column.name}"

    def wrong(value: Any, wanted: str) -> TransferError:
        # The type only: a value (a bot secret) is never quoted.
        return TransferError(f"a row of {where} holds a {type(value).__name__}, not {wanted}")

    def integer(value: Any) -> Any:
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        raise wrong(value, "an integer")

    def double(value: Any) -> Any:
        if value is None or isinstance(value, float):
            return value
        if isinstance(value, int) and float(value) == value:
            return float(value)  # REAL affinity stores whole numbers as they came
        raise wrong(value, "a number")

    def text(value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        raise wrong(value, "text")

    by_type: dict[str, Convert] = {
        "bigint": integer,
        "integer": integer,
        "smallint": integer,
        "double precision": double,
        "text": text,
    }
    if column.data_type not in by_type:
        raise TransferError(
            f"column {where} is {column.data_type} in PostgreSQL, a type migrate-db does not "
            "know how to copy"
        )
    return by_type[column.data_type]


# -- the copy ------------------------------------------------------------------------------


async def count_rows(conn: asyncpg.Connection, tables: Sequence[str]) -> dict[str, int]:
    query = 'SELECT count(*) FROM "{}"'  # the names were checked against _NAME
    return {name: int(await conn.fetchval(query.format(name))) for name in tables}


def count_source(conn: sqlite3.Connection, tables: Sequence[str]) -> dict[str, int]:
    return {
        name: int(conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])  # noqa: S608
        for name in tables
    }


async def copy_into(
    source: sqlite3.Connection, target: asyncpg.Connection, plans: dict[str, TablePlan]
) -> dict[str, int]:
    """Copy every table in one target transaction (see the module docstring); the source
    connection must already be inside its read transaction. Returns the rows copied per table."""
    order = await copy_order(target, list(plans))
    copied: dict[str, int] = {}
    async with target.transaction():
        await target.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK_KEY)
        held = {name: n for name, n in (await count_rows(target, order)).items() if n}
        if held:
            rows = ", ".join(f"{name}: {n}" for name, n in held.items())
            raise TransferError(
                f"the PostgreSQL database already holds bot data ({rows}): migrate-db copies "
                "only into an empty database and never merges, so give it a new database"
            )
        for name in order:
            await target.execute(f'ALTER TABLE "{name}" DISABLE TRIGGER USER')
        for name in order:
            copied[name] = await _copy_table(source, target, plans[name])
        await _move_sequences(target, order)
        for name in order:
            await target.execute(f'ALTER TABLE "{name}" ENABLE TRIGGER USER')
    return copied


async def _copy_table(
    source: sqlite3.Connection, target: asyncpg.Connection, plan: TablePlan
) -> int:
    cursor = source.execute(
        f'SELECT {", ".join(plan.select)} FROM "{plan.table}" ORDER BY rowid'  # noqa: S608
    )
    total = 0
    while batch := cursor.fetchmany(BATCH_ROWS):
        records = [
            tuple(convert(value) for convert, value in zip(plan.converts, row, strict=True))
            for row in batch
        ]
        # COPY writes identity columns as given (like OVERRIDING SYSTEM VALUE), floats exactly.
        await target.copy_records_to_table(plan.table, records=records, columns=plan.columns)
        total += len(records)
    return total


async def _move_sequences(target: asyncpg.Connection, tables: Sequence[str]) -> None:
    """Each identity sequence's next value past the largest copied id (1 for an empty table)."""
    rows = await target.fetch(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND is_identity = 'YES'"
    )
    for row in rows:
        table, column = str(row["table_name"]), str(row["column_name"])
        if table not in tables or not _NAME.match(column):
            continue
        sql = 'SELECT setval(pg_get_serial_sequence($1, $2), COALESCE(MAX("{}"), 0) + 1, false)'
        await target.execute(f'{sql.format(column)} FROM "{table}"', f'"{table}"', column)
