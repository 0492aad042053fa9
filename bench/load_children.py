"""The processes of bench_load.py besides the driver: the Kling emulator and the bot.

The driver process holds the Discord stand-in (tests/discord_twin) and the members; it is the
instrument that timestamps every dispatch and answer. The bot runs as `kling-bot run` in its own
process, so its resident memory and CPU time are its own. The Kling emulator runs in a third
process (``python -m bench.load_children --emulator``): what it computes (segmentation, preview
videos) happens on Kling's machines in real life, so it must not be counted as the bot's memory
or CPU, nor steal the driver's clock. It runs at a lower priority (nice), so on a small machine
its work waits for the bot and the driver instead of slowing them down; its slowness then shows
where it belongs, in Kling's own time on the critical path (the emulator's call records, fetched
over HTTP when the run ends).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bot.kling.emulator import CallRecord, KlingEmulator  # noqa: E402
from tests.processes import ChildProcess, child_env, python_module  # noqa: E402

RECORDS_ROUTE = "/bench/records"
EMULATOR_NICE = 10
# The emulator draws every preview video itself (Kling does it on its own machines): at 1280 px
# its drawing of 200 members' previews takes a whole core of a 2-core machine and stretches
# Kling's time far past the 1-3 s the bench sets. The bot handles a smaller preview the same way.
PREVIEW_MAX_SIDE = 320
RENDER_PROCESSES = 2
# Kling renders on its own machines: here its rendering yields the CPU to the bot.
RENDER_NICENESS = 10


async def _records(request: web.Request) -> web.Response:
    emulator: KlingEmulator = request.app["bench_emulator"]
    return web.json_response([asdict(r) for r in emulator.faults.records])


async def announce_until_sigterm(ready: Path, url: str) -> None:
    """Write ``url`` to ``ready`` (whole: the driver never reads half a URL), then wait for
    SIGTERM: how a bench's child server tells where it listens and learns to stop."""
    partial = ready.with_suffix(".tmp")
    partial.write_text(url)
    partial.replace(ready)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()


async def serve_emulator(work_dir: Path, ready: Path, seconds_per_stage: float) -> None:
    """The emulator of the bench, until SIGTERM; its base URL is written to ``ready``."""
    emulator = KlingEmulator(
        seconds_per_stage=seconds_per_stage,
        work_dir=work_dir,
        preview_max_side=PREVIEW_MAX_SIDE,
        # Previews rendered on threads would hold the GIL and slow the file downloads the bot
        # makes next (Kling's CDN serves them from other machines).
        render_processes=RENDER_PROCESSES,
        render_niceness=RENDER_NICENESS,
    )
    emulator.app["bench_emulator"] = emulator
    emulator.app.router.add_get(RECORDS_ROUTE, _records)
    await emulator.start()
    try:
        await announce_until_sigterm(ready, emulator.base_url)
    finally:
        await emulator.close()


class EmulatorProcess:
    """The emulator in its own process, driven over its HTTP control API."""

    def __init__(self, proc: ChildProcess, base_url: str) -> None:
        self.proc = proc
        self.base_url = base_url

    @classmethod
    async def start(cls, work_dir: Path, *, seconds_per_stage: float) -> EmulatorProcess:
        work_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (before anything runs)
        ready = work_dir / "url.txt"
        proc = ChildProcess.start(
            python_module(
                "bench.load_children",
                "--emulator",
                str(work_dir),
                "--ready",
                str(ready),
                "--seconds-per-stage",
                str(seconds_per_stage),
            ),
            cwd=REPO,
            env=child_env({}),
            log=work_dir / "emulator.log",
        )
        deadline = time.monotonic() + 30
        while not ready.exists():  # a file appears; there is no event to wait on across processes
            if proc.returncode is not None or time.monotonic() > deadline:
                await proc.stop(kill=True)
                raise RuntimeError(f"the emulator did not start:\n{proc.output()[-2000:]}")
            await asyncio.sleep(0.05)
        return cls(proc, ready.read_text().strip())

    async def latency(self, endpoint: str, low: float, high: float) -> None:
        """Every call to ``endpoint`` answered after a random ``low``-``high`` seconds."""
        rule = {"kind": "latency", "endpoint": endpoint, "seconds": low, "max_seconds": high}
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{self.base_url}/emulator/faults", json=rule) as reply,
        ):
            body = await reply.json()
            if body.get("code") != 0:
                raise RuntimeError(f"the emulator refused the latency rule: {body}")

    async def records(self) -> list[CallRecord]:
        async with aiohttp.ClientSession() as http, http.get(self.base_url + RECORDS_ROUTE) as r:
            rows: list[dict[str, Any]] = await r.json()
        return [
            CallRecord(**{**row, "points": tuple(tuple(p) for p in row["points"])}) for row in rows
        ]

    async def stop(self) -> None:
        await self.proc.stop(timeout=15)


def peak_rss_mib(pid: int) -> float:
    """VmHWM: the most resident memory the process has had since start or ``reset_peak``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak(pid: int) -> None:
    """Start VmHWM again from the current RSS (Linux 4.0+: ``5`` in clear_refs), so each phase
    of the run reports its own peak."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Sampler:
    """``py-spy record`` attached to the bot (BENCH_PYSPY=out.txt: collapsed stacks)."""

    def __init__(self, pid: int, out: Path, log: Path) -> None:
        self.proc = ChildProcess.start(
            [
                *("py-spy", "record", "--pid", str(pid), "--rate", "50", "--format", "raw"),
                *("--nonblocking", "--output", str(out)),
            ],
            cwd=REPO,
            env=dict(os.environ),
            log=log,
        )

    async def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        try:
            await asyncio.wait_for(self.proc.wait(), 60)
        except TimeoutError:
            await self.proc.stop(kill=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="the Kling emulator of bench_load.py")
    parser.add_argument("--emulator", type=Path, required=True, help="work folder")
    parser.add_argument("--ready", type=Path, required=True, help="file to write the URL to")
    parser.add_argument("--seconds-per-stage", type=float, default=0.5)
    args = parser.parse_args()
    os.nice(EMULATOR_NICE)
    asyncio.run(serve_emulator(args.emulator, args.ready, args.seconds_per_stage))


if __name__ == "__main__":
    main()
