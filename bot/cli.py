"""The `kling-bot` command line: run, demo, emulator, sync (SPEC §9)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.config import DEFAULT_CONFIG_PATH, Config, ConfigError, load_config, secret_values
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
    print("kling-bot cannot start:", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)
    return 2


def _with_discord(args: argparse.Namespace, entry: str) -> int:
    """Load and check the configuration, then run `cogs.app.<entry>(config)`."""
    config = _load(args.config)
    problems = config.problems_for_run()
    if problems:
        return _fail(problems)
    # Discord lives in cogs/; bot/ stays importable without it.
    from cogs import app

    return asyncio.run(getattr(app, entry)(config))


def cmd_run(args: argparse.Namespace) -> int:
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

    video = Path(args.video) if args.video else None
    return asyncio.run(run_demo(video, Path(args.out)))


def cmd_emulator(args: argparse.Namespace) -> int:
    configure_logging("INFO")
    from bot.kling.emulator import run_emulator

    asyncio.run(run_emulator(args.host, args.port))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kling-bot",
        description="Discord bot for editing short videos with Kling AI's Multi-Elements API.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, func: Callable[[argparse.Namespace], int], help_text: str,
            description: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=description)
        p.set_defaults(func=func)
        return p

    run = add("run", cmd_run, "run the bot",
              "Run the bot. Registers the slash commands when they differ from the last "
              "registration.")
    run.add_argument("--config", metavar="PATH",
                     help=f"TOML config file (default: ./{DEFAULT_CONFIG_PATH} if present)")

    demo = add("demo", cmd_demo, "run the whole editing flow offline",
               "Run the whole editing flow offline against the built-in Kling emulator and "
               "write the boards, the preview and the result into DIR.")
    demo.add_argument("video", nargs="?", metavar="VIDEO",
                      help="video to edit (default: a generated one)")
    demo.add_argument("--out", metavar="DIR", default="demo-out",
                      help="output folder (default: demo-out)")

    emu = add("emulator", cmd_emulator, "serve the Kling emulator on loopback",
              "Serve the local Kling API emulator, so the bot can be tried without spending "
              "credits. It imitates the API, not Kling's models.")
    emu.add_argument("--port", type=int, default=8765, help="port (default: 8765)")
    emu.add_argument("--host", default="127.0.0.1", help="address (default: 127.0.0.1)")

    sync = add("sync", cmd_sync, "register the slash commands with Discord",
               "Register (sync) the slash commands now, globally or in [discord] "
               "sync_guild_ids.")
    sync.add_argument("--config", metavar="PATH",
                      help=f"TOML config file (default: ./{DEFAULT_CONFIG_PATH} if present)")

    health = add("health", cmd_health, "check that the running bot is connected",
                 "Exit 0 when the running bot (same config) wrote a fresh heartbeat and is "
                 "connected to Discord, 1 otherwise. Used by the Docker HEALTHCHECK.")
    health.add_argument("--config", metavar="PATH",
                        help=f"TOML config file (default: ./{DEFAULT_CONFIG_PATH} if present)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        return _fail(exc.problems)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
