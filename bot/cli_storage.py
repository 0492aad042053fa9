"""The arguments and help of the storage subcommands of `kling-bot`: backup and migrate-db.

What they do is in bot/cli.py, which loads their modules only when one of them runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from bot.config import DEFAULT_CONFIG_PATH

Command = Callable[[argparse.Namespace], int]
# bot.cli's `add`: a subcommand with its name, function, one-line help and description.
AddCommand = Callable[[str, Command, str, str], argparse.ArgumentParser]


def add_storage_commands(add: AddCommand, *, run_backup: Command, run_migrate_db: Command) -> None:
    """Add `backup` (running ``run_backup``) and `migrate-db` (running ``run_migrate_db``)."""
    backup = add(
        "backup",
        run_backup,
        "copy the database safely, even while the bot runs",
        "Write a consistent copy of the SQLite database to DEST with SQLite's online "
        "backup API; safe while the bot runs. Prints the size and the row counts. With "
        "[storage] url or DATABASE_URL set (PostgreSQL) it copies nothing: it prints the "
        "pg_dump and pg_restore commands for that database, without the password, and exits "
        "with status 3.",
    )
    backup.epilog = (
        "To restore: stop the bot, copy the backup over the database path "
        "([storage] path), remove the database's -wal and -shm files next to it, "
        "then start the bot."
    )
    backup.add_argument(
        "dest",
        metavar="DEST",
        nargs="?",
        help="the backup file to write (with PostgreSQL: the dump file the printed command names)",
    )
    backup.add_argument("--force", action="store_true", help="replace DEST if it exists")
    backup.add_argument(
        "--config",
        metavar="PATH",
        help=f"TOML config file (default: ./{DEFAULT_CONFIG_PATH} if present)",
    )
    migrate = add(
        "migrate-db",
        run_migrate_db,
        "copy the bot's SQLite data into PostgreSQL",
        "Copy every table of the bot's SQLite database (read-only, never changed) into an "
        "empty PostgreSQL database, after giving it the bot's tables, in one transaction; "
        "then count the rows of every table on both sides. Stop the bot first; the file must "
        "be at this version's schema (start the bot once on this version if it is older). "
        "Exit 0 when every count matches, 1 when one does not, 2 when nothing was copied.",
    )
    migrate.add_argument(
        "--from",
        dest="source",
        metavar="PATH",
        help="the SQLite file (default: [storage] path of the config)",
    )
    migrate.add_argument(
        "--to",
        dest="target",
        metavar="URL",
        help="postgresql://user:password@host:port/db, an empty database (default: "
        "DATABASE_URL or [storage] url; the environment keeps the password out of the "
        "shell's history)",
    )
    migrate.add_argument(
        "--config",
        metavar="PATH",
        help=f"TOML config file (default: ./{DEFAULT_CONFIG_PATH} if present)",
    )
