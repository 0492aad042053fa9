"""WEBP and TIFF references are read in a process that has loaded nothing but the bot's checks.

The other tests cannot show this: by the time they run, some import or ``Image.save`` has made
Pillow load every plugin, so a format list read before ``Image.init()`` looks complete there.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[3]

# Runs in a new interpreter: imports only the reference-image checks, then reads each file.
CHILD = """
import json, sys
from bot.media.images import normalise_reference_image
results = {}
for path in sys.argv[1:]:
    try:
        ref = normalise_reference_image(open(path, "rb").read())
        results[path] = [ref.format, ref.width, ref.height]
    except Exception as error:
        results[path] = ["refused", str(error)]
print(json.dumps(results))
"""


@pytest.mark.parametrize("fmt", ["WEBP", "TIFF"])
def test_a_fresh_process_reads_webp_and_tiff(tmp_path: Path, fmt: str) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 360), (200, 40, 40)).save(buffer, format=fmt)
    path = tmp_path / f"reference.{fmt.lower()}"
    path.write_bytes(buffer.getvalue())

    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    kind, width, height = json.loads(done.stdout)[str(path)]
    assert kind in {"jpeg", "png"}, f"{fmt} was refused in a fresh process: {width}"
    assert (width, height) == (640, 360)
