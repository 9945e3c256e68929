"""What the app knows about one folder for one model, as flat arrays (no Qt).

A snapshot is built on a worker thread (scan + store reads) and handed to the GUI thread whole;
it is never mutated afterwards, so both threads may read it. The "base order" is the order by
name (natural: 2 before 10; then by path), so a folder shows sorted by name from the start; every other order is a permutation of it, which keeps a 100,000-photo re-sort cheap.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

import numpy as np

from photosort.core.errors import PhotoSortError
from photosort.core.expansion import QueryExpansion
from photosort.core.files import display_path, scan_folder
from photosort.core.similarity import LatentIndex
from photosort.core.store import Store
from photosort.ui.names import distinct_spans, natural_key

#: Per-photo states, kept in a uint8 array.
PENDING, INDEXED, FAILED = 0, 1, 2


@dataclass(frozen=True, eq=False)
class FolderSnapshot:
    folder: str
    model_id: str
    metric: str
    paths: list[str]  # every photo file, sorted by name (ordering.by_name): the base order
    sizes: np.ndarray  # int64 per photo
    mtimes: np.ndarray  # int64 ns per photo
    index_of: dict[str, int]  # path -> base index
    names: list[str] = field(default_factory=list)  # file names, computed off the GUI thread
    # Where each name differs from the most similar ones (ui/names.py), for tiles' short names.
    name_spans: list[tuple[tuple[int, int], ...]] = field(default_factory=list)
    taken: list[str | None] = field(default_factory=list)  # EXIF date when the store knows it
    state: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))
    reasons: dict[int, str] = field(default_factory=dict)  # base index -> why it was skipped
    problems: list[tuple[str, str]] = field(default_factory=list)  # unreadable folders etc.
    latent_paths: list[str] = field(default_factory=list)  # rows of `vectors`, sorted by path
    latent_base: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    expansion: QueryExpansion | None = None  # the model's re-ranking (ModelInfo.query_expansion)
    # Built on first use by a worker and reused by every later ranking of this snapshot
    # (normalising 100,000 vectors and indexing their paths costs more than a ranking).
    _latent_index: list[LatentIndex] = field(default_factory=list, init=False, repr=False)

    def __len__(self) -> int:
        return len(self.paths)

    def latent_index(self) -> LatentIndex:
        if not self._latent_index:
            self._latent_index.append(
                LatentIndex(self.latent_paths, self.vectors, self.metric, self.expansion)
            )
        return self._latent_index[0]

    @property
    def indexed_count(self) -> int:
        return len(self.latent_paths)

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """(path, reason) for every file or folder left out, in path order."""
        out = [(self.paths[i], r) for i, r in sorted(self.reasons.items())]
        return out + list(self.problems)


def scan(
    folder: str, model_id: str, metric: str, expansion: QueryExpansion | None = None
) -> FolderSnapshot:
    """List the folder's photos (no decoding); fast enough to show the grid before indexing."""
    folder = os.path.abspath(folder)
    if not os.path.isdir(folder):
        raise PhotoSortError(f"not a folder: {display_path(folder)}")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise PhotoSortError(f"cannot read the folder {display_path(folder)}: permission denied")
    result = scan_folder(folder)
    files = sorted(result.files, key=lambda e: (natural_key(os.path.basename(e.path)), e.path))
    paths = [e.path for e in files]
    names = [os.path.basename(p) for p in paths]
    n = len(paths)
    return FolderSnapshot(
        folder=folder,
        model_id=model_id,
        metric=metric,
        expansion=expansion,
        paths=paths,
        sizes=np.fromiter((e.size for e in files), np.int64, n),
        mtimes=np.fromiter((e.mtime_ns for e in files), np.int64, n),
        index_of={p: i for i, p in enumerate(paths)},
        names=names,
        name_spans=distinct_spans(names),
        taken=[None] * n,
        state=np.zeros(n, np.uint8),
        problems=list(result.problems),
    )


def with_store(
    snap: FolderSnapshot,
    db_path: str | os.PathLike[str],
    model_id: str | None = None,
    metric: str | None = None,
    extra_skipped: list[tuple[str, str]] | None = None,
    expansion: QueryExpansion | None = None,
) -> FolderSnapshot:
    """A copy of `snap` filled in from the store (latents of `model_id`, dates, failures).

    Opens its own `Store`: call it on a worker thread.
    """
    if model_id is None:
        expansion = snap.expansion
    model_id = model_id or snap.model_id
    metric = metric or snap.metric
    store = Store(db_path)
    try:
        infos = store.photo_infos_under(snap.folder)
        failures = store.failures_under(snap.folder)
        latent_paths, vectors = store.latents_under(snap.folder, model_id)
    finally:
        store.close()
    merged = merge(snap, model_id, metric, infos, failures, latent_paths, vectors, extra_skipped)
    return replace(merged, expansion=expansion)


def merge(
    snap: FolderSnapshot,
    model_id: str,
    metric: str,
    infos: list,
    failures: dict,
    latent_paths: list[str],
    vectors: np.ndarray,
    extra_skipped: list[tuple[str, str]] | None = None,
) -> FolderSnapshot:
    index_of = snap.index_of
    taken = list(snap.taken)
    for info in infos:
        i = index_of.get(info.path)
        if i is not None and info.taken:
            taken[i] = info.taken
    # Keep only latents of files that still exist and did not change since they were encoded.
    keep = [k for k, p in enumerate(latent_paths) if p in index_of]
    if len(keep) != len(latent_paths):
        latent_paths = [latent_paths[k] for k in keep]
        vectors = vectors[keep] if len(keep) else np.zeros((0, 0), np.float32)
    latent_base = np.fromiter((index_of[p] for p in latent_paths), np.int64, len(latent_paths))
    state = np.zeros(len(snap.paths), np.uint8)
    state[latent_base] = INDEXED
    reasons: dict[int, str] = {}
    for path, failure in failures.items():
        i = index_of.get(path)
        if i is not None and state[i] != INDEXED:
            reasons[i] = failure.reason
    for path, reason in extra_skipped or ():
        i = index_of.get(path)
        if i is not None and state[i] != INDEXED:
            reasons[i] = reason
    for i in reasons:
        state[i] = FAILED
    return replace(
        snap,
        model_id=model_id,
        metric=metric,
        taken=taken,
        state=state,
        reasons=reasons,
        latent_paths=latent_paths,
        latent_base=latent_base,
        vectors=np.ascontiguousarray(vectors, dtype=np.float32),
    )
