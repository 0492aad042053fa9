"""The `kling-bot` command line: run, demo, emulator, sync (SPEC §9)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path

from bot.cli_storage import add_storage_commands
from bot.config import (
    DEFAULT_CONFIG_PATH,
    Config,
    ConfigError,
    StartupError,
    load_config,
    secret_values,
)
from bot.logs import configure_logging


def _config_path(arg: str | None) -> Path | None:
    if arg:
        return Path(arg)
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None


def _load(arg: str | None) -> Config:
    config = load_config(_config_path(arg))
    configure_logging(
        config.logging.level, json_lines=config.logging.json, secrets=secret_values(config)
    )
    return config


def _fail(problems: Sequence[str]) -> int:
    """Exit status 2 with one line per problem (and no traceback)."""
    if len(problems) == 1:
        print(f"kling-bot cannot start: {problems[0]}", file=sys.stderr)
        return 2
    print("kling-bot cannot start:", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)
    return 2


def _with_discord(args: argparse.Namespace, entry: str) -> int:
    """Load and check the configuration and the folders, then run
    `cogs.core.app.<entry>(config)`."""
    from bot.startup import storage_problems

    config = _load(args.config)
    # The folders are checked before connecting: a start should not log in only to fail.
    problems = config.problems_for_run() + storage_problems(config)
    if problems:
        return _fail(problems)
    if config.kling.provider == "emulator" and entry == "run_bot":
        logging.getLogger("bot.cli").warning(
            "Kling provider is the emulator: members get imitation edits, not Kling's (every "
            "board, card and result says so). Set KLING_API_KEY, or KLING_ACCESS_KEY and "
            "KLING_SECRET_KEY, to use Kling"
        )
    # Discord lives in cogs/; bot/ stays importable without it.
    from cogs.core import app

    run: Callable[[Config], Coroutine[object, object, int]] = getattr(app, entry)
    return asyncio.run(run(config))


def cmd_run(args: argparse.Namespace) -> int:
    from bot.media.memory import tune_allocator

    tune_allocator()  # before any thread starts: see bot/media/memory.py
    return _with_discord(args, "run_bot")


def cmd_sync(args: argparse.Namespace) -> int:
    return _with_discord(args, "sync_commands")


def cmd_health(args: argparse.Namespace) -> int:
    """Exit 0 when the running bot's heartbeat is fresh and it is connected (Docker HEALTHCHECK)."""
    from bot.health import check_heartbeat, heartbeat_path

    config = load_config(_config_path(args.config))
    health = check_heartbeat(heartbeat_path(config.storage.path))
    print(("healthy: " if health.healthy else "unhealthy: ") + health.reason)
    return 0 if health.healthy else 1


def cmd_demo(args: argparse.Namespace) -> int:
    configure_logging("WARNING")
    from bot.demo import run_demo
    from bot.demo_args import request_from_args

    return asyncio.run(run_demo(request_from_args(args)))


def cmd_emulator(args: argparse.Namespace) -> int:
    configure_logging("INFO")
    from bot.kling.emulator import run_emulator

    # Served on its own it answers like Kling: no Authorization header, no service.
    asyncio.run(run_emulator(args.host, args.port, require_authorization=True))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """One line per check; 0 when all pass, 1 when one does not, 2 when config cannot load."""
    from bot.check_results import all_passed
    from bot.checkup import run_checks

    path = _config_path(args.config)
    try:
        config = load_config(path)
    except ConfigError as exc:
        print("kling-bot check: the configuration cannot be loaded:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    # Failures are reported on the check lines; log records would only repeat them.
    configure_logging("CRITICAL", secrets=secret_values(config))
    source = f"loaded {path}" if path else "no config file (environment and defaults)"
    results = asyncio.run(run_checks(config, source=source))
    for result in results:
        print(result.line())
    passed = all_passed(results)
    failing = sum(1 for r in results if r.status != "OK")
    print(
        f"all {len(results)} checks passed"
        if passed
        else f"{failing} of {len(results)} checks did not pass"
    )
    return 0 if passed else 1


def cmd_invite(args: argparse.Namespace) -> int:
    from bot.discord_rest import DiscordHttpError, DiscordUnreachableError, application_id
    from bot.permissions import invite_url

    client_id = args.client_id
    if client_id is None:
        config = load_config(_config_path(args.config))
        if not config.discord.token:
            return _fail(
                [
                    "no Discord token to look the application up with: set DISCORD_TOKEN, "
                    "or give --client-id (the Application ID on the developer portal's "
                    "General Information page)"
                ]
            )
        try:
            client_id = asyncio.run(application_id(config))
        except (DiscordHttpError, DiscordUnreachableError) as exc:
            print(
                f"kling-bot invite: cannot look up the application id ({exc}); give "
                "--client-id N instead",
                file=sys.stderr,
            )
            return 1
    print(invite_url(client_id))
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from bot.backup import BackupError, backup_database

    config = load_config(_config_path(args.config))
    dest = Path(args.dest) if args.dest else None
    if config.storage.url is not None:
        import datetime

        from bot.backup_postgres import EXIT_NOTHING_COPIED, postgres_backup_lines

        today = datetime.datetime.now(datetime.UTC).date()
        for line in postgres_backup_lines(config.storage.url.reveal(), dest, today=today):
            print(line)
        return EXIT_NOTHING_COPIED
    if dest is None:
        print(
            "kling-bot backup: give DEST, the file to write (e.g. backups/kling-bot.sqlite3)",
            file=sys.stderr,
        )
        return 2
    try:
        report = backup_database(config.storage.path, dest, force=args.force)
    except BackupError as exc:
        print(f"kling-bot backup: {exc}", file=sys.stderr)
        return 1
    for line in report.lines():
        print(line)
    return 0


def cmd_migrate_db(args: argparse.Namespace) -> int:
    """Exit 0 when every table has as many rows in PostgreSQL as in the SQLite file, 1 when one
    does not, 2 when nothing was copied (one line saying why)."""
    from bot.migrate_db import MigrateError, migrate_db

    source, url = args.source, args.target
    if source is None or url is None:
        config = load_config(_config_path(args.config))
        source = source or str(config.storage.path)
        url = url or (config.storage.url.reveal() if config.storage.url else None)
    if url is None:
        print(
            "kling-bot migrate-db: no PostgreSQL database to copy into: give --to "
            "postgresql://user@host:port/db, or set DATABASE_URL",
            file=sys.stderr,
        )
        return 2
    from bot.storage.probe import url_secrets

    configure_logging("WARNING", secrets=url_secrets(url))
    try:
        report = asyncio.run(migrate_db(Path(source), url))
    except MigrateError as exc:
        print(f"kling-bot migrate-db: {exc}", file=sys.stderr)
        return 2
    for line in report.lines():
        print(line)
    return 0 if report.matched else 1


def _client_id(text: str) -> int:
    if not text.isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not an application id (digits only)")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kling-bot",
        description="Discord bot for editing short videos with Kling AI's Multi-Elements API.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(
        name: str, func: Callable[[argparse.Namespace], int], help_text: str, description: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=description)
        p.set_defaults(func=func)
        return p

    run = add(
        "run",
        cmd_run,
        "run the bot",
        "Run the bot. Registers the slash commands when they differ from the last registration.",
    )
    run.add_argument(
        "--config",
        metavar="PATH",
        help=f"TOML config file (default: ./{DEFAULT_CONFIG_PATH} if present)",
    )

    demo = add(
        "demo",
        cmd_demo,
        "run the whole editing flow offline",
        "Run the whole editing flow offline against the built-in Kling emulator and "
        "write the boards, the preview and the result into DIR.",
    )
    from bot.demo_args import add_arguments as add_demo_arguments

    add_demo_arguments(demo)

    emu = add(
        "emulator",
        cmd_emulator,
        "serve the Kling emulator on loopback",
        "Serve the local Kling API emulator, so the bot can be tried without spending "
        "credits. It imitates the API, not Kling's models. Like Kling it refuses requests "
        "without an Authorization header (HTTP 401, code 1001); any Bearer token is "
        "accepted.",
    )
    emu.add_argument("--port", type=int, default=8765, help="port (default: 8765)")
    emu.add_argument("--host", default="127.0.0.1", help="address (default: 127.0.0.1)")

    sync = add(
        "sync",
        cmd_sync,
        "register the slash commands with Discord",
        "Register (sync) the slash commands now, globally or in [discord] sync_guild_ids.",
    )
    sync.add_argument(
        "--config",
        metavar="PATH",
        help=f"TOML config file (default: ./{DEFAULT_CONFIG_PATH} if present)",
    )

    health = add(
        "health",
        cmd_health,
        "check that the running bot is connected",
        "Exit 0 when the running bot (same config) wrote a fresh heartbeat and is "
        "connected to Discord, 1 otherwise. Used by the Docker HEALTHCHECK.",
    )
    health.add_argument(
        "--config",
        metavar="PATH",
        help=f"TOML config file (default: ./{DEFAULT_CONFIG_PATH} if present)",
    )

    from bot.permissions import BOT_PERMISSIONS

    check = add(
        "check",
        cmd_check,
        "check the configuration, Discord, Kling and the folders",
        "Validate the configuration, then try each thing the bot needs: the Discord "
        "token, application and servers, the Kling credentials (a free call), the "
        "callback URL, the storage folder (or the PostgreSQL database) and the media "
        "folder. One line per check, with "
        "the fix when it fails. Exit 0 when all pass, 1 when one fails, 2 when the "
        "configuration cannot be loaded. Run it first.",
    )
    check.add_argument(
        "--config",
        metavar="PATH",
        help=f"TOML config file (default: ./{DEFAULT_CONFIG_PATH} if present)",
    )

    invite = add(
        "invite",
        cmd_invite,
        "print the URL that adds the bot to a server",
        "Print the OAuth2 URL that adds the bot to a server, with the scopes bot and "
        "applications.commands and the permissions it uses: "
        + "; ".join(f"{p.label} ({p.used_for})" for p in BOT_PERMISSIONS)
        + ".",
    )
    invite.add_argument(
        "--client-id",
        type=_client_id,
        metavar="N",
        help="the application id (default: looked up with the bot token)",
    )
    invite.add_argument(
        "--config",
        metavar="PATH",
        help=f"TOML config file (default: ./{DEFAULT_CONFIG_PATH} if present)",
    )

    add_storage_commands(add, run_backup=cmd_backup, run_migrate_db=cmd_migrate_db)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        command: Callable[[argparse.Namespace], int] = args.func  # set by build_parser's add()
        return command(args)
    except StartupError as exc:  # ConfigError too
        return _fail(exc.problems)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
