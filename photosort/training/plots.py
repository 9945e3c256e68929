"""Loss curves and reconstruction grids drawn with Pillow (matplotlib is not a dependency)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)]


def loss_curve_png(
    path: str | Path,
    series: dict[str, Sequence[float]],
    title: str = "loss",
    size: tuple[int, int] = (640, 400),
) -> None:
    """Plot each named series against epoch (log-scaled y) into a PNG."""
    w, h = size
    im = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(im)
    left, right, top, bottom = 70, 20, 30, 40
    vals = [v for s in series.values() for v in s if v is not None and v > 0 and math.isfinite(v)]
    d.text((left, 8), title, fill="black")
    if not vals:
        im.save(path)
        return
    lo, hi = math.log10(min(vals)), math.log10(max(vals))
    if hi - lo < 1e-6:
        lo, hi = lo - 0.5, hi + 0.5
    n = max(len(s) for s in series.values())
    d.rectangle([left, top, w - right, h - bottom], outline="black")

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + (w - left - right) * (i / max(1, n - 1))
        y = top + (h - top - bottom) * (1 - (math.log10(v) - lo) / (hi - lo))
        return x, y

    for k in range(5):
        v = 10 ** (lo + (hi - lo) * k / 4)
        _, y = xy(0, v)
        d.line([left - 4, y, left, y], fill="black")
        d.text((4, y - 6), f"{v:.3g}", fill="black")
    for i in range(n):
        x, _ = xy(i, 10**lo)
        if n <= 20 or i % max(1, n // 10) == 0:
            d.text((x - 4, h - bottom + 6), str(i + 1), fill="black")
    d.text(((w - 40) // 2, h - 16), "epoch", fill="black")
    for j, (name, s) in enumerate(series.items()):
        c = COLOURS[j % len(COLOURS)]
        pts = [xy(i, v) for i, v in enumerate(s) if v is not None and v > 0]
        if len(pts) > 1:
            d.line(pts, fill=c, width=2)
        for x, y in pts:
            d.ellipse([x - 2, y - 2, x + 2, y + 2], fill=c)
        d.text((w - right - 150, top + 8 + 14 * j), f"- {name}", fill=c)
    im.save(path)


def recon_grid_png(
    path: str | Path, originals: np.ndarray, recons: np.ndarray, scale: int = 2
) -> None:
    """Top row originals, bottom row reconstructions; both uint8 [N, H, W, 3]."""
    n, h, w, _ = originals.shape
    pad = 4
    grid = Image.new("RGB", (n * (w * scale + pad) + pad, 2 * (h * scale + pad) + pad), "white")
    for row, imgs in enumerate((originals, recons)):
        for i in range(n):
            tile = Image.fromarray(imgs[i]).resize((w * scale, h * scale), Image.Resampling.NEAREST)
            grid.paste(tile, (pad + i * (w * scale + pad), pad + row * (h * scale + pad)))
    grid.save(path)
