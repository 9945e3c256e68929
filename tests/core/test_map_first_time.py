"""The first-ever UMAP layout says why it takes long, and only the first time."""

from __future__ import annotations

import numpy as np
import pytest

from photosort.core import projection
from photosort.core.projection import FIRST_TIME_MESSAGE, compute_map, umap_is_warm
from photosort.core.store import Store
from tests import umap_stand_in


@pytest.fixture
def fits(monkeypatch: pytest.MonkeyPatch, tmp_path) -> list[int]:
    # A cache folder of this test's own (another test may have set numba's for the process).
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    return umap_stand_in.install(monkeypatch)


def _stages(store: Store, n: int, seed: int) -> list[str]:
    said: list[str] = []
    x = np.random.default_rng(seed).normal(size=(n, 8)).astype(np.float32)
    paths = [f"/photos/{seed}/img{i:03d}.jpg" for i in range(n)]
    compute_map(store, "m", paths, x, "euclidean", progress=lambda p: said.append(p.current))
    return said


def test_the_first_fit_says_it_is_preparing_the_map(tmp_path, fits):
    assert not umap_is_warm()  # a fresh cache folder (every test has its own)
    with Store(tmp_path / "db.sqlite3") as store:
        first = _stages(store, 40, seed=1)
        assert FIRST_TIME_MESSAGE in first
        assert umap_is_warm()
        second = _stages(store, 40, seed=2)  # another folder: a new fit, kernels cached
    assert FIRST_TIME_MESSAGE not in second and "finding neighbours" in second
    assert fits == [40, 40]


def test_warm_up_compiles_once_then_does_nothing(monkeypatch, fits):
    monkeypatch.setattr(projection, "_transform", lambda reducer, x: x[:, :2])
    projection.warm_up(photos=60)
    assert fits == [60] and umap_is_warm()
    projection.warm_up(photos=60)
    assert fits == [60]


def test_the_marker_names_the_versions(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    marker = projection._warm_marker()
    assert marker.startswith(str(tmp_path / "numba"))
    assert "umap" in marker and "numba" in marker
