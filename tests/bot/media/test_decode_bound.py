"""However many frames are asked for at once, at most DECODE_SLOTS videos are decoded at the same
moment (each decode holds frame-sized buffers), and every caller still gets its own frame."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bot.media import FrameExtractor, write_mp4
from bot.media import frames as frames_module
from tests.bot.media.conftest import numbered_frames, read_number

WAIT = 30.0


class Gate(threading.BoundedSemaphore):
    """The decode bound, counting who reached it and who is inside."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.changed = threading.Condition()
        self.arrived = 0
        self.inside = 0
        self.most_inside = 0
        self.hold = threading.Event()  # decodes wait here once inside, until the test lets go

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        with self.changed:
            self.arrived += 1
            self.changed.notify_all()
        taken = super().acquire(blocking, timeout)
        with self.changed:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
            self.changed.notify_all()
        self.hold.wait(WAIT)
        return taken

    def __enter__(self) -> bool:
        return self.acquire()

    def release(self, n: int = 1) -> None:
        with self.changed:
            self.inside -= 1
        super().release(n)

    def wait_for(self, check: object) -> None:
        with self.changed:
            assert self.changed.wait_for(check, WAIT)  # type: ignore[arg-type]


def test_at_most_decode_slots_videos_are_decoded_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = tmp_path / "numbered.mp4"
    write_mp4(numbered_frames(40), video, 30, crf=18, preset="faster", gop=10)
    slots = frames_module.DECODE_SLOTS
    gate = Gate(slots)
    monkeypatch.setattr(frames_module, "_decoding", gate)
    wanted = list(range(slots + 3))
    got: dict[int, int] = {}

    def read(index: int) -> None:
        got[index] = read_number(FrameExtractor(video, tmp_path / "cache").get(index * 3))

    threads = [threading.Thread(target=read, args=(i,)) for i in wanted]
    for thread in threads:
        thread.start()
    # Everyone has asked; exactly `slots` are decoding, the others wait their turn.
    gate.wait_for(lambda: gate.arrived == len(wanted) and gate.inside == slots)
    assert gate.inside == slots
    gate.hold.set()
    for thread in threads:
        thread.join(WAIT)
    assert gate.most_inside == slots
    assert got == {i: i * 3 for i in wanted}


def test_a_cached_frame_is_read_without_waiting_for_a_decode_slot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = tmp_path / "numbered.mp4"
    write_mp4(numbered_frames(10), video, 30, crf=18, preset="faster", gop=10)
    cache = tmp_path / "cache"
    FrameExtractor(video, cache).get(4)  # now on disk
    gate = Gate(frames_module.DECODE_SLOTS)
    gate._value = 0  # type: ignore[attr-defined]  # every slot taken by someone else
    monkeypatch.setattr(frames_module, "_decoding", gate)
    assert read_number(FrameExtractor(video, cache).get(4)) == 4
    assert gate.arrived == 0


def test_a_frame_read_with_keep_false_is_not_added_to_the_cache(tmp_path: Path) -> None:
    video = tmp_path / "numbered.mp4"
    write_mp4(numbered_frames(10), video, 30, crf=18, preset="faster", gop=10)
    extractor = FrameExtractor(video, tmp_path / "cache")
    assert read_number(extractor.get(6, keep=False)) == 6
    cached = extractor.cache_path(6)
    assert cached is not None and not cached.exists()
    extractor.get(6)
    assert cached.is_file()
    assert read_number(extractor.get(6, keep=False)) == 6  # served from the cache it finds


@pytest.mark.parametrize("index", [0, 9, 10, 25, 39])
def test_around_gives_the_frame_and_its_neighbours_from_one_decode(
    tmp_path: Path, index: int
) -> None:
    video = tmp_path / "numbered.mp4"
    write_mp4(numbered_frames(40), video, 30, crf=18, preset="faster", gop=10)
    found = FrameExtractor(video).around(index, before=True, after=2)
    # The frame before comes only when it is decoded on the way: not before a keyframe.
    first = index if index % 10 == 0 else index - 1
    expected = [i for i in range(first, index + 3) if i < 40]
    assert sorted(found) == expected
    assert {i: read_number(image) for i, image in found.items()} == {i: i for i in expected}
    assert sorted(FrameExtractor(video).around(index, after=0)) == [index]
