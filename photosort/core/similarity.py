"""Ranking photos by their latent distance to one or several reference photos.

Vectors are prepared once (L2-normalised for the cosine metric), so a cosine ranking is one
matrix-vector product and one sort: ~10 ms for 100,000 photos. Rows come sorted by path and the sort is stable, so ties always break by path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from photosort.core.errors import PhotoSortError
from photosort.core.expansion import QueryExpansion

_CHUNK = 16384  # rows per block: keeps the temporary difference matrix in cache-sized pieces


def prepare_vectors(vectors: np.ndarray, metric: str) -> np.ndarray:
    """Contiguous float32 rows, unit length for cosine (so Euclidean distance ranks like it)."""
    if metric not in ("cosine", "euclidean"):
        raise ValueError(f"unknown metric {metric!r}")
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if x.ndim != 2:
        x = x.reshape(len(x), -1)
    if metric == "cosine" and len(x):
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x


@dataclass(frozen=True)
class Ranking:
    """Row indices from most to least similar, and each row's distance (indexed by row)."""

    order: np.ndarray  # int64, a permutation of range(n)
    distances: np.ndarray  # float32, distances[i] is row i's distance

    def ranked_distances(self) -> np.ndarray:
        return self.distances[self.order]


class LatentIndex:
    """A folder's latents for one model, ready for repeated rankings."""

    def __init__(
        self,
        paths: Sequence[str],
        vectors: np.ndarray,
        metric: str,
        expansion: QueryExpansion | None = None,
    ) -> None:
        self.paths = list(paths)
        self.metric = metric
        self.expansion = expansion if metric == "cosine" and expansion and expansion.k > 0 else None
        self.vectors = prepare_vectors(vectors, metric)
        self._row = {p: i for i, p in enumerate(self.paths)}

    def __len__(self) -> int:
        return len(self.paths)

    def row_of(self, path: str) -> int | None:
        return self._row.get(path)

    def distances_to(self, references: np.ndarray) -> np.ndarray:
        """Mean distance from every row to the reference vectors (shape (k, d) or (d,))."""
        refs = np.atleast_2d(np.asarray(references, dtype=np.float32))
        if refs.shape[1] != self.vectors.shape[1]:
            raise PhotoSortError(
                f"reference has {refs.shape[1]} values, the index {self.vectors.shape[1]}"
            )
        if self.metric == "cosine":
            refs = refs / np.maximum(np.linalg.norm(refs, axis=1, keepdims=True), 1e-12)
            # mean over refs of (1 - cos) == 1 - cos to the mean reference: one mat-vec.
            dist = 1.0 - self.vectors @ refs.mean(axis=0)
        else:
            # Differences rather than |x|² + |r|² - 2x·r: the expansion cancels badly in
            # float32 and would give an identical photo a distance of ~1e-3 instead of 0.
            total = np.zeros(len(self.vectors), np.float32)
            for start in range(0, len(self.vectors), _CHUNK):
                block = self.vectors[start : start + _CHUNK]
                acc = np.zeros(len(block), np.float32)
                for ref in refs:
                    diff = block - ref
                    acc += np.sqrt(np.einsum("ij,ij->i", diff, diff))
                total[start : start + _CHUNK] = acc
            dist = total / len(refs)
        return np.maximum(dist.astype(np.float32, copy=False), 0.0)

    def rank(self, references: np.ndarray) -> Ranking:
        dist = self.distances_to(references)
        return Ranking(np.argsort(dist, kind="stable"), dist)

    def _expanded(self, rows: list[int], first: Ranking) -> Ranking:
        """The second ranking of alpha query expansion (see QueryExpansion)."""
        assert self.expansion is not None
        refs = self.vectors[rows]
        query = refs.mean(axis=0)
        query /= max(float(np.linalg.norm(query)), 1e-12)
        neighbours = first.order[~np.isin(first.order, rows)][: self.expansion.k]
        if not len(neighbours):
            return first
        sims = np.maximum(1.0 - first.distances[neighbours], 0.0) ** self.expansion.alpha
        expanded = query + (sims[:, None] * self.vectors[neighbours]).sum(axis=0)
        return self.rank(expanded)

    def rank_like(self, paths: Sequence[str]) -> Ranking:
        """Rank by similarity to photos of this index; their combined similarity if several."""
        rows = []
        for path in paths:
            row = self._row.get(path)
            if row is None:
                raise PhotoSortError(f"the reference photo is not indexed: {path}")
            rows.append(row)
        if not rows:
            raise PhotoSortError("no reference photo given")
        ranking = self.rank(self.vectors[rows])
        if self.expansion is not None:
            ranking = self._expanded(rows, ranking)
        # References themselves lead, in the order given, whatever rounding says.
        order = ranking.order[~np.isin(ranking.order, rows)]
        return Ranking(np.concatenate([np.asarray(rows, np.int64), order]), ranking.distances)
