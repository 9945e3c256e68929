"""Orders for the grid, as permutations of a snapshot's base order (no Qt).

Every function returns base indices, first shown first. Photos without a latent (not indexed
yet) follow the ranked ones in path order, and skipped files come last, so the grid always shows
every photo and a running index only moves photos into place.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from photosort.core.errors import PhotoSortError
from photosort.ui.names import natural_key
from photosort.ui.snapshot import FAILED, INDEXED, FolderSnapshot

NAME, DATE, SIMILARITY, ARRANGED = "name", "date", "similarity", "arranged"


@dataclass(frozen=True, eq=False)
class GridOrder:
    mode: str
    order: np.ndarray  # base indices, first shown first
    distances: np.ndarray | None = None  # float32 per base index (nan: not ranked)
    references: tuple[str, ...] = ()


class ReferencesNotIndexed(PhotoSortError):
    """None of the reference photos has a latent yet; the app indexes them first."""

    def __init__(self, paths: Sequence[str]) -> None:
        super().__init__("the reference photo is not indexed yet")
        self.paths = list(paths)


def by_name(snap: FolderSnapshot) -> GridOrder:
    names = snap.names or [os.path.basename(p) for p in snap.paths]
    keys = [(natural_key(n), p) for n, p in zip(names, snap.paths, strict=True)]
    order = np.asarray(sorted(range(len(keys)), key=keys.__getitem__), np.int64)
    return GridOrder(NAME, order)


def by_date(snap: FolderSnapshot) -> GridOrder:
    """EXIF date taken when known (the index reads it), else the file's modification time."""

    def key(i: int) -> tuple[str, str]:
        taken = snap.taken[i]
        if not taken:
            taken = time.strftime("%Y:%m:%d %H:%M:%S", time.localtime(snap.mtimes[i] / 1e9))
        return taken, snap.paths[i]

    order = np.asarray(sorted(range(len(snap.paths)), key=key), np.int64)
    return GridOrder(DATE, order)


def _tail(snap: FolderSnapshot) -> np.ndarray:
    """Photos that have no place in a latent order: not indexed (path order), then skipped."""
    pending = np.flatnonzero(snap.state == 0)
    failed = np.flatnonzero(snap.state == FAILED)
    return np.concatenate([pending, failed]).astype(np.int64)


def by_similarity(snap: FolderSnapshot, references: Sequence[str]) -> GridOrder:
    """Most similar to the references first, exactly as `LatentIndex.rank_like` ranks them."""
    refs = [p for p in references if p in snap.index_of]
    usable = [p for p in refs if snap.state[snap.index_of[p]] == INDEXED]
    if not usable:
        raise ReferencesNotIndexed(refs)
    ranking = snap.latent_index().rank_like(usable)
    distances = np.full(len(snap.paths), np.nan, np.float32)
    distances[snap.latent_base] = ranking.distances
    order = np.concatenate([snap.latent_base[ranking.order], _tail(snap)])
    return GridOrder(SIMILARITY, order, distances, tuple(usable))


def arranged(snap: FolderSnapshot, arrange: Callable[[np.ndarray, str], np.ndarray]) -> GridOrder:
    """A whole-folder arrangement (neighbours in the grid look alike) from `core.arrange`."""
    if snap.indexed_count == 0:
        return GridOrder(ARRANGED, np.concatenate([np.arange(0), _tail(snap)]).astype(np.int64))
    rows = np.asarray(arrange(snap.vectors, snap.metric), np.int64)
    return GridOrder(ARRANGED, np.concatenate([snap.latent_base[rows], _tail(snap)]))


def compute(
    snap: FolderSnapshot,
    mode: str,
    references: Sequence[str] = (),
    arrange: Callable[[np.ndarray, str], np.ndarray] | None = None,
) -> GridOrder:
    if mode == SIMILARITY:
        return by_similarity(snap, references)
    if mode == DATE:
        return by_date(snap)
    if mode == ARRANGED and arrange is not None:
        return arranged(snap, arrange)
    return by_name(snap)
