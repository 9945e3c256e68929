"""Loading a folder of photos into memory, and batch augmentation.

Photos are decoded once, resized (squashed) to the training size and cached as a uint8 array in
the checkpoint directory, so that resuming or re-running a training does not decode 14,000 JPEGs
again. Labels (sub-folder names) are kept for reporting only; the autoencoders never see them.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def list_images(folder: str | Path) -> list[Path]:
    """All image files under ``folder``, recursively, in a stable (sorted) order."""
    root = Path(folder)
    return sorted(
        p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
    )


def load_image(path: Path, size: tuple[int, int], resize: str = "squash") -> np.ndarray:
    """Decode ``path`` to RGB uint8 of ``size`` = (height, width).

    "squash" resizes the whole photo; "center-crop" resizes the shorter side then crops.
    """
    h, w = size
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        if resize == "center-crop":
            im = ImageOps.fit(im, (w, h), Image.Resampling.BILINEAR)
        else:
            im = im.resize((w, h), Image.Resampling.BILINEAR)
        return np.asarray(im, dtype=np.uint8)


@dataclass
class ImageSet:
    """Photos of one folder, decoded: ``images`` is uint8 [N, H, W, 3]."""

    images: np.ndarray
    paths: list[str]
    labels: list[str]


def load_folder(
    folder: str | Path,
    size: tuple[int, int],
    cache_dir: str | Path | None = None,
    resize: str = "squash",
    progress: Callable[[int, int], None] | None = None,
) -> ImageSet:
    """Decode every photo under ``folder`` (cached as .npz in ``cache_dir`` when given)."""
    root = Path(folder).resolve()
    paths = list_images(root)
    if not paths:
        raise FileNotFoundError(f"no images found under {root}")
    labels = [p.parent.name if p.parent != root else "" for p in paths]
    cache: Path | None = None
    if cache_dir is not None:
        key = hashlib.sha1(
            "\n".join([str(root), f"{size}", resize] + [str(p) for p in paths]).encode()
        ).hexdigest()[:16]
        cache = Path(cache_dir) / f"images-{size[0]}x{size[1]}-{key}.npy"
        if cache.exists():
            return ImageSet(np.load(cache), [str(p) for p in paths], labels)
    out = np.empty((len(paths), size[0], size[1], 3), dtype=np.uint8)
    for i, p in enumerate(paths):
        out[i] = load_image(p, size, resize)
        if progress is not None:
            progress(i + 1, len(paths))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npy")
        np.save(tmp, out)
        tmp.replace(cache)
    return ImageSet(out, [str(p) for p in paths], labels)


def to_tensor(batch_uint8: np.ndarray):  # -> torch.Tensor
    """uint8 NHWC -> float32 NCHW in [0, 1]."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(batch_uint8)).permute(0, 3, 1, 2).float() / 255.0


def augment(x, generator=None):  # (torch.Tensor) -> torch.Tensor
    """Random flip, mild zoom/shift and colour jitter on a [0, 1] NCHW batch.

    Kept mild so the latent still reflects the photo's colours and layout (what a user expects
    these models to sort by) while not memorising exact pixels.
    """
    import torch
    from torch.nn import functional as F

    n = x.shape[0]
    dev = x.device

    def rand(*shape):
        return torch.rand(*shape, generator=generator, device=dev)

    scale = 0.85 + 0.15 * rand(n)  # zoom in up to 15 %
    flip = torch.where(rand(n) < 0.5, -1.0, 1.0)
    tx = (1 - scale) * (2 * rand(n) - 1)
    ty = (1 - scale) * (2 * rand(n) - 1)
    theta = torch.zeros(n, 2, 3, device=dev)
    theta[:, 0, 0] = scale * flip
    theta[:, 1, 1] = scale
    theta[:, 0, 2] = tx
    theta[:, 1, 2] = ty
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    bright = 1 + 0.2 * (rand(n, 1, 1, 1) - 0.5)
    contrast = 1 + 0.2 * (rand(n, 1, 1, 1) - 0.5)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = ((x - mean) * contrast + mean) * bright
    return x.clamp(0.0, 1.0)


def normalize(x, mean: float = 0.5, std: float = 0.5):
    """[0, 1] -> the manifest's (x - mean) / std input."""
    return (x - mean) / std


def batches(n: int, batch_size: int, rng: np.random.Generator | None = None):
    """Index batches over ``range(n)``, shuffled when ``rng`` is given; keeps the last short one."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for i in range(math.ceil(n / batch_size)):
        yield order[i * batch_size : (i + 1) * batch_size]
