"""Tiny generated photo folders for the training and evaluation tests (no real data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

COLOURS = {"red": (200, 40, 30), "green": (40, 170, 60), "blue": (30, 60, 200)}


def make_folder(root: Path, per_class: int = 8, size: tuple[int, int] = (48, 40)) -> Path:
    """One sub-folder per colour; each photo is that colour with a random gradient and noise,
    so classes are perfectly separable by colour but no two photos are identical."""
    rng = np.random.default_rng(0)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    for name, colour in COLOURS.items():
        d = root / name
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            grad = (xx / w * rng.uniform(-30, 30) + yy / h * rng.uniform(-30, 30))[..., None]
            img = np.asarray(colour, float)[None, None] + grad + rng.normal(0, 8, (h, w, 3))
            Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(d / f"{i:03d}.png")
    return root


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "photos")
