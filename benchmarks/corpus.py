"""Benchmark corpora, generated once and cached under /tmp/photosort-bench (not in git).

- `camera_corpus()`: ≥300 distinct camera-resolution JPEGs made from ../shared/data/camera:
  crops and flips, re-encoded as baseline JPEGs with the source's EXIF, as cameras write them.
- `small_corpus(n)`: n distinct small generated JPEGs (for rescan and scale runs).
"""

from __future__ import annotations

import os
import random
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

HERE = Path(__file__).resolve().parent
CAMERA = HERE.parent.parent / "shared" / "data" / "camera"
CACHE = Path(os.environ.get("PHOTOSORT_BENCH_DIR", "/tmp/photosort-bench"))


def _camera_variant(job: tuple[str, int, str]) -> None:
    src, k, out = job
    rng = random.Random(f"{src}-{k}")
    img = Image.open(src)
    exif = img.info.get("exif", b"")
    w, h = img.size
    f = rng.uniform(0.80, 0.97)
    cw, ch = int(w * f), int(h * f)
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    img = img.convert("RGB").crop((x, y, x + cw, y + ch))
    if k % 2:
        img = ImageOps.mirror(img)
    # Baseline (non-progressive) 4:2:0 JPEG at a camera-like quality, EXIF carried over.
    img.save(out, "JPEG", quality=rng.choice([88, 92, 95]), exif=exif, subsampling=2)


def camera_corpus(per_photo: int = 14) -> list[Path]:
    folder = CACHE / f"camera-{per_photo}"
    sources = sorted(CAMERA.glob("*.jpg"))
    expected = len(sources) * per_photo
    done = sorted(folder.glob("*.jpg")) if folder.is_dir() else []
    if len(done) == expected:
        return done
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [
        (str(s), k, str(folder / f"{s.stem}_{k:02d}.jpg"))
        for s in sources
        for k in range(per_photo)
    ]
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_camera_variant, jobs, chunksize=4))
    return sorted(folder.glob("*.jpg"))


def _small(job: tuple[int, str, int]) -> None:
    seed, out, side = job
    rng = np.random.default_rng(seed)
    h, w = side * 3 // 4, side
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    t = ((xx * rng.uniform(0.2, 1) + yy * rng.uniform(0.2, 1)) / (w + h))[..., None]
    img = a * (1 - t) + b * t + rng.normal(0, 12, (h, w, 3))
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(out, quality=85)


def small_corpus(n: int, side: int = 320) -> Path:
    """A folder of n generated photos, 100 per sub-folder."""
    folder = CACHE / f"small-{n}-{side}"
    marker = folder / ".complete"
    if marker.exists():
        return folder
    jobs = []
    for i in range(n):
        sub = folder / f"{i // 100:04d}"
        sub.mkdir(parents=True, exist_ok=True)
        jobs.append((i, str(sub / f"img{i:06d}.jpg"), side))
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_small, jobs, chunksize=64))
    marker.write_text("ok")
    return folder
