"""The similarity map: PCA layout, the cache, placing new photos without a refit.

All but one test replace the UMAP fit by a stand-in (counted, picklable) so they run in
milliseconds; `test_real_umap_*` runs umap-learn once, on 60 points.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

from photosort.core import projection
from photosort.core.errors import Cancelled
from photosort.core.jobs import CancelToken
from photosort.core.projection import MapLayout, compute_map, normalise, pca_layout
from photosort.core.store import Store
from tests import umap_stand_in
from tests.umap_stand_in import FakeReducer


@pytest.fixture
def fits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts UMAP fits; the fit itself is a stand-in."""
    return umap_stand_in.install(monkeypatch)


def clustered(n: int, dim: int = 16, clusters: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)) * 5
    return (centres[np.arange(n) % clusters] + rng.normal(size=(n, dim))).astype(np.float32)


def names(n: int, folder: str = "/photos") -> list[str]:
    return [f"{folder}/img{i:04d}.jpg" for i in range(n)]


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "map.sqlite3") as s:
        yield s


def test_pca_layout_and_normalise_handle_tiny_inputs() -> None:
    assert pca_layout(np.zeros((0, 4))).shape == (0, 2)
    assert np.allclose(normalise(pca_layout(np.ones((1, 4)))), 0.5)
    two = normalise(pca_layout(np.array([[0.0, 0], [1, 1]])))
    assert two.shape == (2, 2) and np.all((two >= 0) & (two <= 1))
    one_dim = pca_layout(np.arange(5.0)[:, None])  # fewer dimensions than the map
    assert one_dim.shape == (5, 2)


def test_pca_separates_clusters() -> None:
    x = clustered(90)
    coords = normalise(pca_layout(x))
    assert coords.min() >= 0 and coords.max() <= 1
    labels = np.arange(90) % 3
    # the nearest map neighbour of every point is from its own cluster
    d = ((coords[:, None] - coords[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert np.mean(labels[d.argmin(1)] == labels) > 0.95


def test_empty_and_small_folders_use_pca(store: Store, fits: list[int]) -> None:
    empty = compute_map(store, "m", [], np.zeros((0, 8)), "euclidean")
    assert empty.method == "empty" and len(empty) == 0
    small = compute_map(store, "m", names(5), clustered(5), "cosine")
    assert small.method == "pca" and small.coords.shape == (5, 2) and fits == []


def test_map_is_cached_and_reused_without_a_second_fit(store: Store, fits: list[int]) -> None:
    paths, x = names(40), clustered(40)
    previews: list[MapLayout] = []
    first = compute_map(store, "m", paths, x, "euclidean", preview=previews.append)
    assert first.fitted and first.method == "umap" and fits == [40]
    assert len(previews) == 1 and previews[0].method == "pca"
    second = compute_map(store, "m", paths, x, "euclidean")
    assert second.from_cache and not second.fitted
    assert fits == [40]  # no second UMAP fit
    np.testing.assert_allclose(second.coords, first.coords)
    # the same photos listed in another order get their own coordinates back
    rev = compute_map(store, "m", paths[::-1], x[::-1], "euclidean")
    assert rev.from_cache and rev.paths == paths[::-1]
    np.testing.assert_allclose(rev.coords, first.coords[::-1])


def test_cache_survives_reopening_the_store(tmp_path: Path, fits: list[int]) -> None:
    paths, x = names(30), clustered(30)
    with Store(tmp_path / "a.sqlite3") as s:
        compute_map(s, "m", paths, x, "euclidean")
    with Store(tmp_path / "a.sqlite3") as s:
        again = compute_map(s, "m", paths, x, "euclidean")
    assert again.from_cache and fits == [30]


def test_new_photo_is_placed_with_transform_not_a_refit(store: Store, fits: list[int]) -> None:
    paths, x = names(41), clustered(41)
    first = compute_map(store, "m", paths[:40], x[:40], "euclidean")
    more = compute_map(store, "m", paths, x, "euclidean")
    assert fits == [40]  # still the one fit
    assert FakeReducer.transforms == 1 and more.placed == 1 and not more.fitted
    # kept photos keep their place (the new one lands inside the map, same frame)
    np.testing.assert_allclose(more.coords[:40], first.coords, atol=1e-6)
    # and the grown set is cached in turn
    again = compute_map(store, "m", paths, x, "euclidean")
    assert again.from_cache and FakeReducer.transforms == 1


def test_removed_photos_need_neither_fit_nor_transform(store: Store, fits: list[int]) -> None:
    paths, x = names(40), clustered(40)
    compute_map(store, "m", paths, x, "euclidean")
    fewer = compute_map(store, "m", paths[:35], x[:35], "euclidean")
    assert fits == [40] and FakeReducer.transforms == 0
    assert fewer.paths == paths[:35] and fewer.placed == 0


def test_re_encoded_photo_counts_as_new(store: Store, fits: list[int]) -> None:
    paths, x = names(40), clustered(40)
    compute_map(store, "m", paths, x, "euclidean")
    changed = x.copy()
    changed[3] += 1.0
    layout = compute_map(store, "m", paths, changed, "euclidean")
    assert layout.placed == 1 and fits == [40]


def test_many_new_photos_mean_a_refit(store: Store, fits: list[int]) -> None:
    paths, x = names(60), clustered(60)
    compute_map(store, "m", paths[:20], x[:20], "euclidean")
    layout = compute_map(store, "m", paths, x, "euclidean")
    assert layout.fitted and fits == [20, 60]


def test_cache_is_per_encoder_and_per_folder(store: Store, fits: list[int]) -> None:
    x = clustered(30)
    compute_map(store, "m1", names(30), x, "euclidean")
    compute_map(store, "m2", names(30), x, "euclidean")
    compute_map(store, "m1", names(30, "/other"), x, "euclidean")
    assert fits == [30, 30, 30]


def test_unusable_stored_model_means_a_refit(store: Store, fits: list[int]) -> None:
    paths, x = names(41), clustered(41)
    compute_map(store, "m", paths[:40], x[:40], "euclidean", scope="/photos")
    store.put_projection(projection.fit_key("m", "/photos"), "m", b"PSFIT1\ngarbage")
    layout = compute_map(store, "m", paths, x, "euclidean", scope="/photos")
    assert layout.fitted and fits == [40, 41]


def test_quick_layout_is_cached_and_later_refined(store: Store, fits: list[int]) -> None:
    paths, x = names(30), clustered(30)
    quick = compute_map(store, "m", paths, x, "euclidean", refine=False)
    assert quick.method == "pca" and fits == []
    assert compute_map(store, "m", paths, x, "euclidean", refine=False).from_cache
    refined = compute_map(store, "m", paths, x, "euclidean")
    assert refined.method == "umap" and fits == [30]


def test_progress_and_cancel(store: Store, fits: list[int]) -> None:
    seen = []
    compute_map(store, "m", names(30), clustered(30), "euclidean", progress=seen.append)
    assert seen[-1].done == seen[-1].total == 4
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        compute_map(store, "m", names(31), clustered(31), "euclidean", cancel=token)


def test_exact_knn_puts_every_row_first_in_its_own_list() -> None:
    x = np.repeat(clustered(20), 2, axis=0)  # duplicates: distance 0 ties
    idx, dist = projection.exact_knn(x, 5)
    assert np.all(idx[:, 0] == np.arange(40)) and np.all(dist[:, 0] == 0)
    assert np.all(np.diff(dist, axis=1) >= -1e-5)


def test_real_umap_fit_cache_and_transform(store: Store, monkeypatch) -> None:
    """The one test that runs umap-learn: 60 points, fit once, reopen, add three."""
    # Keep numba's compiled kernels between test runs (the fixture isolates the user cache).
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(Path(tempfile.gettempdir()) / "photosort-numba"))
    # Take the path used from 4096 photos up (our exact neighbours) on a small set.
    monkeypatch.setattr(projection, "EXACT_KNN_FROM", 0)
    real_fit = projection._fit_umap
    calls = []

    def counting_fit(*args, **kwargs):
        calls.append(1)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(projection, "_fit_umap", counting_fit)
    x = clustered(63, dim=12, clusters=3)
    paths = names(63)
    first = compute_map(store, "m", paths[:60], x[:60], "euclidean", epochs=50)
    assert first.fitted and first.method == "umap" and len(calls) == 1
    assert np.all(np.isfinite(first.coords))
    again = compute_map(store, "m", paths[:60], x[:60], "euclidean")
    assert again.from_cache and len(calls) == 1
    more = compute_map(store, "m", paths, x, "euclidean")
    assert more.placed == 3 and len(calls) == 1
    labels = np.arange(63) % 3
    c = more.coords
    for i in range(60, 63):  # each new photo lands among its own cluster
        d = ((c[:60] - c[i]) ** 2).sum(1)
        assert np.mean(labels[np.argsort(d)[:5]] == labels[i]) >= 0.8


def test_smallest_k_handles_ties() -> None:
    d2 = np.array([[3.0, 1.0, 1.0, 1.0, 0.0], [5.0, 4.0, 3.0, 2.0, 1.0]], np.float32)
    near = projection.smallest_k(d2, 2)
    assert near[0, 0] == 4 and near[0, 1] in (1, 2, 3)
    assert near[1].tolist() == [4, 3]
    assert projection.smallest_k(d2, 9).shape == (2, 5)


def test_numba_cache_goes_to_the_user_cache(monkeypatch) -> None:
    from photosort import paths

    monkeypatch.setenv("NUMBA_CACHE_DIR", "unset below; restored after the test")
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    projection.prepare_numba()
    expected = paths.user_cache_dir() / "numba"
    assert os.environ["NUMBA_CACHE_DIR"] == str(expected) and expected.is_dir()
    # an explicit choice wins
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/somewhere/else")
    projection.prepare_numba()
    assert os.environ["NUMBA_CACHE_DIR"] == "/somewhere/else"


def test_a_cache_that_cannot_be_written_does_not_lose_the_map(store, fits, monkeypatch) -> None:
    import sqlite3

    def full(*_args):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store, "put_projection", full)
    layout = compute_map(store, "m", names(30), clustered(30), "euclidean")
    assert layout.fitted and len(layout) == 30


def test_file_names_that_are_not_utf8_round_trip(store: Store, fits: list[int]) -> None:
    paths = [f"/photos/caf\udce9-{i:02d}.jpg" for i in range(20)]  # a Latin-1 byte on Linux
    x = clustered(20)
    compute_map(store, "m", paths, x, "euclidean")
    again = compute_map(store, "m", paths, x, "euclidean")
    assert again.from_cache and again.paths == paths and fits == [20]


CALLED: list[str] = []


def _planted(arg: str) -> None:
    CALLED.append(arg)


class Planted:
    """A model blob written by someone else: unpickling it would call `_planted`."""

    def __reduce__(self):
        return (_planted, ("ran",))


def test_a_planted_model_blob_is_not_run_but_refitted(store: Store, fits: list[int]) -> None:
    import pickle

    paths, x = names(41), clustered(41)
    compute_map(store, "m", paths[:40], x[:40], "euclidean", scope="/photos")
    blob = projection.FIT_MAGIC + b"\x02\x00\x00\x00{}" + pickle.dumps(Planted())
    store.put_projection(projection.fit_key("m", "/photos"), "m", blob)
    layout = compute_map(store, "m", paths, x, "euclidean", scope="/photos")
    assert CALLED == [] and layout.fitted and fits == [40, 41]
