"""`kling-bot demo`'s command line: its options, read without importing the demo itself (so
`kling-bot --help` and the other commands stay quick to start)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DemoRequest:
    """What `kling-bot demo` was asked to do (None: the default for the video)."""

    video: Path | None
    out: Path
    points: str | None = None
    frame: str | None = None
    time: str | None = None
    prompt: str | None = None
    mode: str = "remove"
    images: tuple[Path, ...] = ()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "video",
        nargs="?",
        metavar="VIDEO",
        help="video to edit (default: a generated clip of a red ball crossing "
        "the frame); with your own video, say where to click with --points",
    )
    parser.add_argument(
        "--out", metavar="DIR", default="demo-out", help="output folder (default: demo-out)"
    )
    parser.add_argument(
        "--points",
        metavar="POINTS",
        help="where to click, as in /kling mark: cells and coordinates such as "
        '"C4 0.3,0.5", "42%%,61%%" or "640,360px" (default on the '
        "generated clip: the ball)",
    )
    parser.add_argument("--frame", metavar="N", help="frame to mark (default: 0)")
    parser.add_argument(
        "--time", metavar="TIME", help='time of the frame to mark instead of --frame, e.g. "1.5s"'
    )
    parser.add_argument(
        "--prompt",
        metavar="TEXT",
        help="what to edit, as in the bot's modal (default: the red ball on the "
        "generated clip, the marked object otherwise)",
    )
    parser.add_argument(
        "--mode", metavar="MODE", default="remove", help="remove, swap or add (default: remove)"
    )
    parser.add_argument(
        "--image",
        metavar="PATH",
        action="append",
        default=[],
        help="reference image: one for swap, one or two for add",
    )


def request_from_args(args: argparse.Namespace) -> DemoRequest:
    return DemoRequest(
        video=Path(args.video) if args.video else None,
        out=Path(args.out),
        points=args.points,
        frame=args.frame,
        time=args.time,
        prompt=args.prompt,
        mode=args.mode,
        images=tuple(Path(p) for p in args.image),
    )
