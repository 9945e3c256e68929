"""Cached backbone features for fitting and choosing heads: real exports and ONNX sessions on
tiny generated photos (64 px, so the backbone's last feature map is 2 x 2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("torch")

from photosort.training.features import extract_poolings, extract_regions  # noqa: E402


def _photos(folder: Path) -> list[Path]:
    folder.mkdir()
    halves = [((200, 40, 30), (30, 60, 200)), ((30, 60, 200), (200, 40, 30))]
    paths = []
    for i, (left, right) in enumerate(halves):
        img = np.zeros((64, 64, 3), np.uint8)
        img[:, :32], img[:, 32:] = left, right
        paths.append(folder / f"{i}.png")
        Image.fromarray(img).save(paths[-1])
    paths.append(folder / "broken.jpg")
    paths[-1].write_bytes(b"not a photo")
    return paths


def test_four_quarters_average_to_the_pooled_features_and_a_broken_file_gives_zeros(
    tmp_path: Path,
) -> None:
    paths = _photos(tmp_path / "photos")
    cache = tmp_path / "cache"
    regions = extract_regions(paths, cache, size=64, resize="squash", threads=1)
    pooled = extract_poolings(paths, cache, size=64, resize="squash", threads=1)["avg"]
    assert regions.shape == (3, 4, 1280)
    # On a 2 x 2 map the four quarters are its four cells: their mean is the average pooling.
    np.testing.assert_allclose(regions[:2].mean(axis=1), pooled[:2], rtol=0.02, atol=0.02)

    # An unreadable file gives a row of zeros, not an exception.
    assert not regions[2].any() and not pooled[2].any()


def test_quarters_overlap_on_an_odd_map(tmp_path: Path) -> None:
    """At 96 px the last map is 3 x 3: each quarter is a 2 x 2 corner, sharing the middle row
    and column, computed in the exported graph as PyTorch computes it."""
    import torch

    from photosort.core.decode import load_for_model
    from photosort.training.backbones import TF_LITE_MEAN, TF_LITE_STD, load_backbone

    paths = _photos(tmp_path / "photos")[:2]
    regions = extract_regions(paths, tmp_path / "cache", size=96, resize="squash", threads=1)
    pixels = np.stack([load_for_model(p, (96, 96), "squash") for p in paths])
    x = torch.from_numpy(pixels.transpose(0, 3, 1, 2).astype(np.float32) / 255.0)
    x = (x - torch.tensor(TF_LITE_MEAN).view(1, 3, 1, 1)) / torch.tensor(TF_LITE_STD).view(
        1, 3, 1, 1
    )
    with torch.no_grad():
        f = load_backbone("lite0", 96).eval().extract_features(x).numpy()
    assert f.shape[2:] == (3, 3)
    for i, (top, left) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        expected = f[:, :, top : top + 2, left : left + 2].mean(axis=(2, 3))
        np.testing.assert_allclose(regions[:, i], expected, rtol=0.01, atol=0.01)


def test_features_are_cached_per_photo_list(tmp_path: Path) -> None:
    paths = _photos(tmp_path / "photos")[:2]
    cache = tmp_path / "cache"
    first = extract_regions(paths, cache, size=64, resize="squash", threads=1)
    files = sorted(cache.glob("regions-*.npy"))
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    again = extract_regions(paths, cache, size=64, resize="squash", threads=1)
    np.testing.assert_array_equal(first, again)
    assert files[0].stat().st_mtime_ns == stamp  # read back, not extracted again
    extract_regions(paths[:1], cache, size=64, resize="squash", threads=1)
    assert len(list(cache.glob("regions-*.npy"))) == 2  # another list, another cache
