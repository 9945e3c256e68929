"""Pooled backbone features of many photos, cached on disk, for fitting and choosing heads.

The general-purpose content encoder (``general.py``) is fitted on the pooled features of tens of
thousands of photos, and its design (pooling, whitening, latent size, input size) is chosen by
comparing variants on held-out photos. Extracting the features is the slow part, so it is done
once per (backbone, input size, resize mode, photo list) and every pooling the comparison needs
(average, GeM p=3, max) is kept: a variant then costs a few numpy operations, not a re-run.

Runs the backbone through onnxruntime (several times faster than eager PyTorch on a small CPU),
with photos decoded by the core's own ``load_for_model`` in a thread pool, so the pixels are
exactly what the app's indexer gives the shipped encoder.
"""

from __future__ import annotations

import hashlib
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .backbones import BACKBONES, TF_LITE_MEAN, TF_LITE_STD, load_backbone, weights_tag
from .export import export_onnx
from .progress import ProgressBar

#: The poolings kept per photo (each [N, 1280] float16).
POOLINGS = ("avg", "gem", "max")


class MultiPooled(nn.Module):
    """Backbone -> [N, 3*1280]: average, GeM (p=3) and max pooling of the last feature map."""

    def __init__(self, backbone: nn.Module, p: float = 3.0):
        super().__init__()
        self.backbone = backbone
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.backbone.extract_features(x)
        avg = f.mean(dim=(2, 3))
        gem = f.clamp(min=1e-6).pow(self.p).mean(dim=(2, 3)).pow(1.0 / self.p)
        mx = f.amax(dim=(2, 3))
        return torch.cat([avg, gem, mx], dim=1)


def quarter_poolings(fmap: torch.Tensor) -> list[torch.Tensor]:
    """Average poolings [N, C] of the four overlapping quarters of a feature map [N, C, H, W]
    (top-left, top-right, bottom-left, bottom-right; each ceil(H/2) x ceil(W/2))."""
    h, w = fmap.shape[2], fmap.shape[3]
    qh, qw = (h + 1) // 2, (w + 1) // 2
    return [
        fmap[:, :, a : a + qh, b : b + qw].mean(dim=(2, 3))
        for a in (0, h - qh)
        for b in (0, w - qw)
    ]


class RegionPooled(nn.Module):
    """Backbone -> [N, 4*1280]: :func:`quarter_poolings` of the last feature map: what is where
    in the photo, the layout the single average pools away (regional pooling, as R-MAC does for
    retrieval)."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(quarter_poolings(self.backbone.extract_features(x)), dim=1)


def _cache_key(
    backbone: str, size: int, resize: str, paths: list[Path], weights: str | Path | None = None
) -> str:
    # ImageNet weights add nothing to the key, so the caches made before weights could be
    # chosen still match.
    tag = [] if weights is None else [weights_tag(weights)]
    text = "\n".join([backbone, str(size), resize] + tag + [str(p) for p in paths])
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def extract_poolings(
    paths: list[Path],
    cache_dir: str | Path,
    backbone: str = "lite0",
    size: int | None = None,
    resize: str = "squash",
    threads: int = 2,
    batch_size: int = 32,
    label: str = "features",
    weights: str | Path | None = None,
) -> dict[str, np.ndarray]:
    """{"avg"|"gem"|"max": float32 [N, 1280]} for ``paths``; unreadable photos give zero rows.
    ``weights``: the backbone's weights if not ImageNet's (a distilled student)."""
    size = size or BACKBONES[backbone][2]
    arr = _extract(
        paths, cache_dir, "pool", lambda: MultiPooled(load_backbone(backbone, size, weights)),
        3 * 1280, backbone, size, resize, threads, batch_size, label, weights,
    )  # fmt: skip
    return {name: arr[:, i * 1280 : (i + 1) * 1280] for i, name in enumerate(POOLINGS)}


def extract_regions(
    paths: list[Path],
    cache_dir: str | Path,
    backbone: str = "lite0",
    size: int | None = None,
    resize: str = "squash",
    threads: int = 2,
    batch_size: int = 32,
    label: str = "regions",
    weights: str | Path | None = None,
) -> np.ndarray:
    """float32 [N, 4, 1280]: :class:`RegionPooled` features of ``paths`` (zeros if unreadable).
    ``weights``: as for :func:`extract_poolings`."""
    size = size or BACKBONES[backbone][2]
    arr = _extract(
        paths, cache_dir, "regions", lambda: RegionPooled(load_backbone(backbone, size, weights)),
        4 * 1280, backbone, size, resize, threads, batch_size, label, weights,
    )  # fmt: skip
    return arr.reshape(len(paths), 4, 1280)


def _extract(
    paths: list[Path],
    cache_dir: str | Path,
    kind: str,
    make_module,
    width: int,
    backbone: str,
    size: int,
    resize: str,
    threads: int,
    batch_size: int,
    label: str,
    weights: str | Path | None = None,
) -> np.ndarray:
    """float32 [N, width] outputs of ``make_module()`` for ``paths``, cached on disk.

    Cached as one ``.npy`` per call (keyed on the photo list), written through a temporary file
    so an interrupted run never leaves a half cache; a partial run restarts from its last saved
    chunk (``*.part.npy`` + ``*.part.n``), so a long extraction survives being stopped.
    """
    from photosort.core.decode import load_for_model
    from photosort.core.errors import DecodeError

    cache_dir = Path(cache_dir).expanduser()
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = _cache_key(backbone, size, resize, paths, weights)
    stem = f"{kind}-{backbone}-{size}-{resize}-{key}"
    final = cache_dir / f"{stem}.npy"
    if final.exists():
        return np.load(final).astype(np.float32)

    part = cache_dir / f"{stem}.part.npy"
    part_n = cache_dir / f"{stem}.part.n"
    out = np.zeros((len(paths), width), np.float16)
    start = 0
    if part.exists() and part_n.exists():
        start = int(part_n.read_text())
        out[:start] = np.load(part)[:start]

    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    with tempfile.TemporaryDirectory() as tmpdir:
        onnx_path = Path(tmpdir) / "pooled.onnx"
        export_onnx(make_module(), torch.zeros(2, 3, size, size), onnx_path)
        sess = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    mean = np.asarray(TF_LITE_MEAN, np.float32).reshape(1, 3, 1, 1)
    std = np.asarray(TF_LITE_STD, np.float32).reshape(1, 3, 1, 1)

    def load(p: Path) -> np.ndarray | None:
        try:
            return load_for_model(p, (size, size), resize)
        except (DecodeError, OSError):
            return None

    bar = ProgressBar(len(paths) - start, f"{label} {backbone}@{size} {resize}")
    batches = [paths[s : s + batch_size] for s in range(start, len(paths), batch_size)]
    with ThreadPoolExecutor(max_workers=2) as pool:

        def submit(chunk: list[Path]):
            return [pool.submit(load, p) for p in chunk]

        # Decode the next batch while the current one runs through the network (one batch
        # ahead only: Executor.map would decode every photo into memory at once).
        ahead = submit(batches[0]) if batches else []
        pos = start
        for i in range(len(batches)):
            pixels = [f.result() for f in ahead]
            ahead = submit(batches[i + 1]) if i + 1 < len(batches) else []
            ok = [j for j, px in enumerate(pixels) if px is not None]
            if ok:
                x = np.stack([pixels[j] for j in ok]).transpose(0, 3, 1, 2).astype(np.float32)
                feats = sess.run(None, {name: (x / 255.0 - mean) / std})[0]
                out[pos + np.asarray(ok)] = feats.astype(np.float16)
            pos += len(pixels)
            bar.update(len(pixels))
            if i % 50 == 49:
                np.save(part, out[:pos])
                part_n.write_text(str(pos))
    bar.close()
    tmp = final.with_suffix(".tmp.npy")
    np.save(tmp, out)
    tmp.replace(final)
    part.unlink(missing_ok=True)
    part_n.unlink(missing_ok=True)
    return out.astype(np.float32)
