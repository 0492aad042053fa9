"""The page side of bench_web_picker.py: the probe injected into the picker page (the shipped
page has no test hook) and the driving of a page through Playwright.

The probe notes the click (a capturing listener), then on every animation frame reads the
canvas pixels at four spots over the green square away from the clicked point and compares them
with the same spots just before the click: the mask is visible in the first animation frame in
which at least three of the four changed clearly (the translucent fill). It also notes when the
page drew the frame with the new masks (`data-shown` on the canvas, seen by a MutationObserver),
when the browser finished decoding each picture (a wrapped `createImageBitmap`), and the page's
Resource Timing of the requests made since the click.
"""

from __future__ import annotations

import time
from typing import Any

from tests.cogs.harness import HEIGHT, SQUARE, WIDTH

WAIT = 60.0
# The green square in relative coordinates; clicks land near its centre, the probe reads four
# spots near its corners (well away from the click's ring and numbered dot).
SX0, SY0, SX1, SY1 = SQUARE[0] / WIDTH, SQUARE[1] / HEIGHT, SQUARE[2] / WIDTH, SQUARE[3] / HEIGHT
CENTRE = ((SX0 + SX1) / 2, (SY0 + SY1) / 2)
SPREAD = (0.03, 0.05)  # how far from the centre a click may land
SPOTS = [
    (SX0 + 0.03, SY0 + 0.04),
    (SX1 - 0.03, SY0 + 0.04),
    (SX0 + 0.03, SY1 - 0.04),
    (SX1 - 0.03, SY1 - 0.04),
]
CHANGED = 60.0  # sum over R, G, B of a spot's mean change: the fill moves it by well over 100
SPOTS_NEEDED = 3

PROBE = """
// When each decoding the page asks for is done (the masks' overlays, and frame pictures).
window.__benchDecoded = [];
const __benchCreateImageBitmap = window.createImageBitmap.bind(window);
window.createImageBitmap = (...args) => __benchCreateImageBitmap(...args).then((bitmap) => {
  window.__benchDecoded.push(performance.now());
  return bitmap;
});
window.__benchProbe = {
  result: null,
  arm(spots, changedBy, needed) {
    const canvas = document.getElementById("frame");
    const ctx = canvas.getContext("2d");
    const read = () => spots.map(([fx, fy]) => {
      const d = ctx.getImageData(Math.round(fx * canvas.width) - 2,
                                 Math.round(fy * canvas.height) - 2, 5, 5).data;
      const mean = [0, 0, 0];
      for (let i = 0; i < d.length; i += 4) {
        mean[0] += d[i] / 25; mean[1] += d[i + 1] / 25; mean[2] += d[i + 2] / 25;
      }
      return mean;
    });
    const before = read();
    performance.clearResourceTimings();  // the buffer is small: keep only this click's
    // An error shown from now on is this click's (the benchmark stops on it).
    document.getElementById("status").classList.remove("error");
    const changes = () => read().map((rgb, i) =>
      Math.abs(rgb[0] - before[i][0]) + Math.abs(rgb[1] - before[i][1]) +
      Math.abs(rgb[2] - before[i][2]));
    const masked = () => changes().filter((c) => c > changedBy).length >= needed;
    const probe = this;
    probe.result = null;
    let clicked = null;
    let drawn = null;
    const observer = new MutationObserver(() => {
      if (clicked !== null && drawn === null && masked()) drawn = performance.now();
    });
    observer.observe(canvas, { attributes: true, attributeFilter: ["data-shown"] });
    window.addEventListener("click", () => {
      clicked = performance.now();
      const tick = () => {
        const now = performance.now();
        if (masked()) {
          observer.disconnect();
          const seen = { origin: performance.timeOrigin, clicked, visible: now,
                         drawn: drawn === null ? now : drawn, changes: changes() };
          // The page's requests since the click (Resource Timing): the mark, and any other
          // (a second round trip). Chromium may add a request's entry a little after its
          // response was used: wait.
          const since = (part) => performance.getEntriesByType("resource")
            .filter((e) => e.name.includes(part) && e.startTime >= clicked);
          const finish = (tries) => {
            const marks = since("/api/mark");
            const last = marks[marks.length - 1];
            seen.mark = last ? [last.startTime, last.responseEnd] : null;
            seen.others = since("/api/masks/").length + since("/api/frame/").length;
            if (seen.mark) {
              const decoded = window.__benchDecoded.filter(
                (t) => t >= seen.mark[1] && t <= seen.drawn);
              seen.decoded = decoded.length ? Math.max(...decoded) : seen.mark[1];
            }
            if (seen.mark || tries === 0) probe.result = seen;
            else setTimeout(() => finish(tries - 1), 20);
          };
          finish(100);
        } else {
          requestAnimationFrame(tick);
        }
      };
      requestAnimationFrame(tick);
    }, { capture: true, once: true });
  },
};
"""


async def wait_showing(page: Any, frame: int, *, points: int | None = None) -> str:
    """Wait until the page's canvas shows `frame` at the page's newest state; its version."""
    await page.wait_for_function(
        """([frame, points]) => {
            const v = document.body.dataset.version;
            const shown = document.getElementById('frame').dataset.shown || '';
            const listed = document.querySelectorAll('#points li[data-point]').length;
            return v && shown === frame + '@' + v && (points === null || listed === points);
        }""",
        arg=[frame, points],
        timeout=WAIT * 1000,
    )
    return str(await page.evaluate("document.body.dataset.version"))


async def show_frame(page: Any, frame: int, version: str) -> None:
    """Move the page to `frame` and wait for it there with the state `version` (not measured)."""
    await page.wait_for_function(
        "v => document.body.dataset.version === v", arg=version, timeout=WAIT * 1000
    )
    await page.fill("#slider", str(frame))
    await wait_showing(page, frame)


async def wait_version(page: Any, version: str) -> None:
    """Wait until `page` has the state `version` and shows its frame at that state."""
    await page.wait_for_function(
        """(v) => document.body.dataset.version === v &&
            (document.getElementById('frame').dataset.shown || '').endsWith('@' + v)""",
        arg=version,
        timeout=WAIT * 1000,
    )


async def click_once(page: Any, point: tuple[float, float]) -> dict[str, Any]:
    await page.evaluate(
        "([s, c, n]) => window.__benchProbe.arm(s, c, n)", [SPOTS, CHANGED, SPOTS_NEEDED]
    )
    box = await page.locator("#frame").bounding_box()
    await page.mouse.click(box["x"] + point[0] * box["width"], box["y"] + point[1] * box["height"])
    # The mask, or the page saying why not (a cooldown, a limit, an error): stop then.
    await page.wait_for_function(
        "() => window.__benchProbe.result || document.getElementById('status')"
        ".classList.contains('error')",
        timeout=WAIT * 1000,
    )
    result = await page.evaluate("window.__benchProbe.result")
    if not result:
        status = await page.inner_text("#status")
        raise RuntimeError(f"no mask on the page after the click: {status}")
    return dict(result)


async def clock_offset(page: Any) -> float:
    """Page wall clock (timeOrigin + now) minus this process's, seconds: the best bracketed
    reading of three (the shortest round trip)."""
    readings = []
    for _ in range(3):
        before = time.time()
        page_now = float(await page.evaluate("performance.timeOrigin + performance.now()"))
        after = time.time()
        readings.append((after - before, page_now / 1000 - (before + after) / 2))
    return min(readings)[1]
