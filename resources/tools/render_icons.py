"""Render resources/icons/photosort.svg to the PNG and ICO files beside it.

Usage: python resources/tools/render_icons.py

Needs PySide6 (QtSvg) and Pillow; runs without a display (offscreen Qt platform).
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PIL import Image  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

APP_ID = "io.github.photosort.PhotoSort"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICONS = Path(__file__).resolve().parents[1] / "icons"


def render(renderer: QSvgRenderer, size: int) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    return image


def main() -> int:
    _app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(ICONS / "photosort.svg"))
    if not renderer.isValid():
        raise SystemExit("photosort.svg did not parse")
    for size in PNG_SIZES:
        out = ICONS / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        if not render(renderer, size).save(str(out), "PNG"):
            raise SystemExit(f"could not write {out}")
        # Re-save through Pillow with optimisation to keep the files small.
        with Image.open(out) as im:
            im.load()
        im.save(out, optimize=True)
        print(out.relative_to(ICONS.parent))
    frames = [
        Image.open(ICONS / "hicolor" / f"{s}x{s}" / "apps" / f"{APP_ID}.png").convert("RGBA")
        for s in ICO_SIZES
    ]
    ico = ICONS / "photosort.ico"
    frames[-1].save(ico, format="ICO", sizes=[(s, s) for s in ICO_SIZES], append_images=frames)
    print(ico.relative_to(ICONS.parent))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
