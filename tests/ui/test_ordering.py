"""Grid orders as permutations (no Qt): ranked photos first, then not indexed, then skipped."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from photosort.core.similarity import LatentIndex
from photosort.ui import ordering
from photosort.ui.snapshot import FAILED, INDEXED, PENDING, FolderSnapshot


def _snapshot(states: list[int], taken: list[str | None] | None = None) -> FolderSnapshot:
    n = len(states)
    paths = [f"/f/p{i:02d}.jpg" for i in range(n)]
    state = np.asarray(states, np.uint8)
    rng = np.random.default_rng(0)
    latent_base = np.flatnonzero(state == INDEXED).astype(np.int64)
    return FolderSnapshot(
        folder="/f",
        model_id="m",
        metric="euclidean",
        paths=paths,
        sizes=np.full(n, 10, np.int64),
        mtimes=(1_750_000_000 + np.arange(n, dtype=np.int64)) * 1_000_000_000,
        index_of={p: i for i, p in enumerate(paths)},
        taken=taken or [None] * n,
        state=state,
        reasons={i: "damaged" for i in np.flatnonzero(state == FAILED)},
        latent_paths=[paths[i] for i in latent_base],
        latent_base=latent_base,
        vectors=rng.normal(size=(len(latent_base), 8)).astype(np.float32),
    )


def test_similarity_ranks_like_the_core_then_pending_then_skipped():
    states = [INDEXED, PENDING, INDEXED, FAILED, INDEXED, PENDING, INDEXED]
    snap = _snapshot(states)
    got = ordering.by_similarity(snap, ["/f/p04.jpg"])
    core = LatentIndex(snap.latent_paths, snap.vectors, "euclidean").rank_like(["/f/p04.jpg"])
    ranked = [snap.latent_paths[i] for i in core.order]
    assert [snap.paths[i] for i in got.order] == [
        *ranked,
        "/f/p01.jpg",
        "/f/p05.jpg",
        "/f/p03.jpg",
    ]
    assert np.isnan(got.distances[1]) and got.distances[4] == 0.0
    assert got.references == ("/f/p04.jpg",)


def test_unindexed_reference_asks_for_indexing():
    snap = _snapshot([INDEXED, PENDING])
    with pytest.raises(ordering.ReferencesNotIndexed) as info:
        ordering.by_similarity(snap, ["/f/p01.jpg"])
    assert info.value.paths == ["/f/p01.jpg"]


def test_date_uses_exif_then_file_time_and_name_is_case_blind():
    snap = _snapshot([INDEXED] * 3, taken=["2024:05:01 10:00:00", None, "2020:01:01 00:00:00"])
    order = [snap.paths[i] for i in ordering.by_date(snap).order]
    assert order[0] == "/f/p02.jpg"  # 2020
    assert order[1] == "/f/p00.jpg"  # 2024; p01 has only its (recent) file time
    names = ordering.by_name(snap).order
    assert list(names) == [0, 1, 2]


def test_arranged_keeps_every_photo():
    snap = _snapshot([INDEXED, PENDING, INDEXED, INDEXED])
    got = ordering.arranged(snap, lambda v, metric: np.arange(len(v))[::-1])
    assert sorted(got.order.tolist()) == [0, 1, 2, 3]
    assert got.order[-1] == 1


def test_name_order_is_natural():
    names = ["img100.jpg", "IMG10.jpg", "img2.jpg", "img1.jpg", "img0.jpg", "a.jpg", "img01.jpg"]
    snap = _snapshot([PENDING] * len(names))
    paths = [f"/f/{n}" for n in names]
    snap = replace(snap, paths=paths, names=names, index_of={p: i for i, p in enumerate(paths)})
    got = [names[i] for i in ordering.by_name(snap).order]
    assert got == ["a.jpg", "img0.jpg", "img1.jpg", "img01.jpg", "img2.jpg", "IMG10.jpg",
                   "img100.jpg"]  # fmt: skip
