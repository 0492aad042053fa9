"""`kling-bot backup` when the database is PostgreSQL: it copies nothing and says how instead.

PostgreSQL's own ``pg_dump`` takes a consistent snapshot while the bot runs, and ``pg_restore``
puts it back; the lines below are those commands for the configured URL, without its password
(``pg_dump`` takes it from PGPASSWORD or ~/.pgpass, never from a command line other users see).
"""

from __future__ import annotations

import datetime
import shlex
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from bot.storage.postgres_backend import describe_url

# `kling-bot backup`'s exit status when it only printed the pg_dump command: not 0, so a script
# that runs it for a backup does not go on as if a file had been written.
EXIT_NOTHING_COPIED = 3


def _connection_options(url: str) -> list[str]:
    """pg_dump/pg_restore options naming the server, user and database, never the password."""
    parts = urlsplit(url)
    if parts.query:
        # Options such as sslmode have no flag of their own: pass the URL without the password.
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        user = f"{parts.username}@" if parts.username else ""
        port = f":{parts.port}" if parts.port else ""
        plain = urlunsplit(("postgresql", f"{user}{host}{port}", parts.path, parts.query, ""))
        return [f"--dbname={plain}"]
    options = []
    if parts.hostname:
        options.append(f"--host={parts.hostname}")
    if parts.port:
        options.append(f"--port={parts.port}")
    if parts.username:
        options.append(f"--username={unquote(parts.username)}")
    database = unquote(parts.path.lstrip("/"))
    if database:
        options.append(f"--dbname={database}")
    return options


def _pgpass_line(url: str) -> str:
    parts = urlsplit(url)
    database = unquote(parts.path.lstrip("/")) or "*"
    user = unquote(parts.username) if parts.username else "*"
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}:{database}:{user}:PASSWORD"


def postgres_backup_lines(url: str, dest: Path | None, *, today: datetime.date) -> list[str]:
    """What `kling-bot backup` prints for a PostgreSQL URL (``dest``: the dump file to name)."""
    dump = str(dest) if dest is not None else f"kling-bot-{today.isoformat()}.dump"
    options = _connection_options(url)
    dump_command = ["pg_dump", "--format=custom", f"--file={dump}", *options]
    restore_command = ["pg_restore", "--clean", "--if-exists", *options, dump]
    return [
        f"the bot's database is {describe_url(url)}: kling-bot backup copies only SQLite "
        "files, so it wrote nothing",
        "back it up with pg_dump (one consistent snapshot, also while the bot runs):",
        f"  {shlex.join(dump_command)}",
        "pg_dump reads the password from PGPASSWORD or a line in ~/.pgpass (chmod 600):",
        f"  {_pgpass_line(url)}",
        "to restore: stop every bot process, then",
        f"  {shlex.join(restore_command)}",
        "use a pg_dump and pg_restore of the server's major version or newer",
    ]
