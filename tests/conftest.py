"""Shared fixtures: every test runs with its own data, cache and config folders and database."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Keep tests away from the real user's database, caches and settings."""
    home = tmp_path_factory.mktemp("home")
    for var, sub in (
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_CONFIG_HOME", "config"),
    ):
        (home / sub).mkdir()
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.setenv("PHOTOSORT_DB", str(home / "photosort-test.sqlite3"))
    monkeypatch.delenv("PHOTOSORT_MODELS", raising=False)
    # The user's leave-out rules (Preferences set them for the app's process) never apply here.
    monkeypatch.setenv("PHOTOSORT_EXCLUDE", "")
    # The fixed 8×8 encoder keeps tests fast and their expectations independent of which
    # trained model ships as the default.
    monkeypatch.setenv("PHOTOSORT_MODEL", "pixels-8x8")
    # Every test has a fresh numba cache: warming the map's UMAP kernels (a minute of
    # compiling) after each test's first index would only load the machine. Its own tests
    # turn it back on with a stand-in.
    monkeypatch.setenv("PHOTOSORT_MAP_WARMUP", "0")
    return home


def make_photo(path: Path, seed: int, size: tuple[int, int] = (96, 72), **save) -> Path:
    """A small, distinct, photo-like image: a colour gradient plus a few random blocks."""
    rng = np.random.default_rng(seed)
    w, h = size
    base = rng.integers(0, 256, 3)
    tint = rng.integers(0, 256, 3)
    yy, xx = np.mgrid[0:h, 0:w]
    t = (xx / max(w - 1, 1))[..., None]
    img = (base * (1 - t) + tint * t).astype(np.float32)
    for _ in range(4):
        x0, y0 = rng.integers(0, w // 2), rng.integers(0, h // 2)
        img[y0 : y0 + h // 3, x0 : x0 + w // 3] = rng.integers(0, 256, 3)
    del yy
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img.astype(np.uint8), "RGB").save(path, **save)
    return path


#: The transform a camera applied when storing a photo with this EXIF orientation, i.e. the
#: inverse of what a viewer must do to show it upright.
STORED_AS = {
    1: [],
    2: [Image.Transpose.FLIP_LEFT_RIGHT],
    3: [Image.Transpose.ROTATE_180],
    4: [Image.Transpose.FLIP_TOP_BOTTOM],
    5: [Image.Transpose.TRANSPOSE],
    6: [Image.Transpose.ROTATE_90],
    7: [Image.Transpose.TRANSVERSE],
    8: [Image.Transpose.ROTATE_270],
}


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    """Twelve distinct JPEGs in a folder and a sub-folder."""
    folder = tmp_path / "photos"
    for i in range(8):
        make_photo(folder / f"p{i:02d}.jpg", seed=i, quality=90)
    for i in range(8, 12):
        make_photo(folder / "sub" / f"p{i:02d}.jpg", seed=i, quality=90)
    return folder


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store.sqlite3"


@pytest.fixture
def registry():
    """The shipped placeholder encoder (pixels-8x8): real ONNX, no training needed."""
    from photosort.core.encoders import Registry

    return Registry([REPO / "models"])


@pytest.fixture
def pixels_encoder(registry):
    return registry.encoder("pixels-8x8")


__all__ = ["REPO", "make_photo", "os"]
