"""Screenshots of an HTML report, and how tall and how wide it is, with headless chromium.

Usage::

    python tools/screenshots.py REPORT.html OUTDIR

Writes, for a desktop (1366 px) and a phone (390 px) width, the top of the page and a
middle slice as PNGs, and prints the page height in screens (page height / 768 at
1366 px) and the widest painted column at 390 px. Both are measured on pixels: a
tall screenshot, then the last row and the rightmost column that differ from the
background. Both are measured on a copy of the page painted at quarter scale
(``transform: scale(0.25)`` on the root does not change the layout, so anything
wider than the viewport shows up inside the screenshot instead of being cut, and
a long page fits in a short window); they are exact to 4 px.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["Measurement", "find_chromium", "measure", "screenshot"]

#: The screen a page height is counted in.
DESKTOP = (1366, 768)
#: A phone (iPhone 12 to 15 in CSS pixels).
PHONE = (390, 844)
#: Tallest page measured, in CSS pixels (the window doubles up to a quarter of it).
MAX_HEIGHT = 128000
#: Pages are measured painted at 1/_SCALE: a pixel of the shot is _SCALE CSS pixels.
_SCALE = 4
_FIRST_HEIGHT = 6000
_QUARTER_SCALE = "<style>html{transform:scale(0.25);transform-origin:0 0}</style>"
#: Tallest unscaled shot taken for the top and middle PNGs.
_MAX_SHOT = 16000
#: Pixels this close to the background colour (0-255, per channel) count as background.
_TOLERANCE = 8
_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")


@dataclass(frozen=True)
class Measurement:
    """What the screenshots measured."""

    #: Page height at 1366 px, in pixels and in screens of 768 px.
    height_px: int
    screens: float
    #: Rightmost painted column at 390 px (more than 390 means the page overflows).
    phone_width_px: int
    #: The PNGs written.
    files: tuple[Path, ...]

    @property
    def phone_overflows(self) -> bool:
        """Whether something is painted right of the phone's viewport."""
        return self.phone_width_px > PHONE[0] + _SCALE  # one pixel of the scaled shot


def find_chromium() -> str | None:
    """The path of a chromium (or chrome) executable on PATH, or None."""
    for name in _CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(chromium: str, page: Path, out: Path, width: int, height: int,
               *, timeout: float = 300.0) -> Image.Image:
    """One headless screenshot of ``page`` in a ``width`` x ``height`` window.

    Parameters
    ----------
    chromium : str
        The browser executable.
    page : Path
        The HTML file.
    out : Path
        Where the PNG is written.
    width, height : int
        The window, in CSS pixels.
    timeout : float, default=300.0
        Seconds before the browser is stopped.

    Returns
    -------
    PIL.Image.Image
        The screenshot, as RGB.
    """
    with tempfile.TemporaryDirectory(prefix="auditkit-shot-") as profile:
        command = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
                   "--hide-scrollbars", "--force-device-scale-factor=1",
                   f"--user-data-dir={profile}", f"--window-size={width},{height}",
                   f"--screenshot={out}", page.resolve().as_uri()]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)
    with Image.open(out) as image:
        return image.convert("RGB")


def _painted(image: Image.Image) -> np.ndarray:
    """A boolean mask of the pixels that differ from the background (bottom-right pixel)."""
    pixels = np.asarray(image, dtype=np.int16)
    background = pixels[-1, -1]
    return (np.abs(pixels - background) > _TOLERANCE).any(axis=2)


def _last_row(image: Image.Image) -> int:
    rows = np.flatnonzero(_painted(image).any(axis=1))
    return int(rows[-1]) + 1 if rows.size else 0


def _last_column(image: Image.Image) -> int:
    columns = np.flatnonzero(_painted(image).any(axis=0))
    return int(columns[-1]) + 1 if columns.size else 0


def _scaled_shot(chromium: str, page: Path, folder: Path, width: int,
                 height: int) -> tuple[int, int]:
    """Height and width of ``page`` laid out ``width`` wide, from one quarter-scale shot."""
    scaled = folder / f"quarter-{page.name}"
    text = page.read_text(encoding="utf-8")
    scaled.write_text(text.replace("</head>", _QUARTER_SCALE + "</head>", 1), encoding="utf-8")
    while True:
        image = screenshot(chromium, scaled, folder / "quarter.png", width, height)
        bottom = _last_row(image)
        if bottom < height - 2 or height >= MAX_HEIGHT // _SCALE:
            return _SCALE * bottom, _SCALE * _last_column(image)
        height = min(2 * height, MAX_HEIGHT // _SCALE)


def _crop(image: Image.Image, top: int, size: tuple[int, int], out: Path) -> Path:
    width, height = size
    top = max(0, min(top, image.height - height))
    image.crop((0, top, width, top + height)).save(out)
    return out


def _top_and_middle(chromium: str, page: Path, outdir: Path, name: str,
                    size: tuple[int, int], page_height: int) -> tuple[Path, Path]:
    """PNGs of the first screen and of the screen around the middle of the page."""
    height = max(min(page_height + 16, _MAX_SHOT), size[1])
    full = outdir / f"{name}-full.png"
    image = screenshot(chromium, page, full, size[0], height)
    full.unlink()
    return (_crop(image, 0, size, outdir / f"{name}-top.png"),
            _crop(image, min(page_height, height) // 2 - size[1] // 2, size,
                  outdir / f"{name}-middle.png"))


def measure(page: Path, outdir: Path, *, chromium: str | None = None) -> Measurement:
    """Screenshot ``page`` at 1366 and 390 px and measure its height and width.

    Parameters
    ----------
    page : Path
        The HTML report.
    outdir : Path
        Folder for the PNGs (created).
    chromium : str, optional
        The browser; found on PATH when not given.

    Returns
    -------
    Measurement

    Raises
    ------
    FileNotFoundError
        When no chromium is on PATH and none is given.
    """
    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError("No chromium was found on PATH (looked for "
                                f"{', '.join(_CHROMIUM_NAMES)}); pass chromium=.")
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="auditkit-shots-") as folder:
        height, _ = _scaled_shot(chromium, page, Path(folder), DESKTOP[0], _FIRST_HEIGHT)
        phone_height, phone_width = _scaled_shot(chromium, page, Path(folder), PHONE[0],
                                                 _FIRST_HEIGHT)
    files = (_top_and_middle(chromium, page, outdir, "desktop", DESKTOP, height)
             + _top_and_middle(chromium, page, outdir, "phone", PHONE, phone_height))
    return Measurement(height_px=height, screens=height / DESKTOP[1],
                       phone_width_px=phone_width, files=files)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``screenshots.py REPORT.html OUTDIR``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("report", type=Path, help="the HTML report")
    parser.add_argument("outdir", type=Path, help="folder for the PNGs")
    args = parser.parse_args(argv)
    found = measure(args.report, args.outdir)
    for path in found.files:
        print(f"wrote {path}")
    print(f"height at {DESKTOP[0]} px: {found.height_px} px = {found.screens:.1f} screens "
          f"of {DESKTOP[1]} px")
    verdict = "overflows" if found.phone_overflows else "fits"
    print(f"width at {PHONE[0]} px: painted up to {found.phone_width_px} px ({verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
