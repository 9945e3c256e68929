"""Arrange a whole folder by similarity: a short path through latent space.

No reference photo is needed: the photos are ordered so that each one looks like the next, an
open travelling-salesman path. A 1-D sequence, rather than a 2-D grid arrangement such as FLAS,
because the grid view reflows with the window width: a sequence stays smooth at any number of
columns (and vertical neighbours still tend to come from the same stretch of the path).

1. Candidate neighbours: the k nearest photos of every photo (exact, in blocks of BLAS
   products; on a 32-d PCA reduction when latents are wider, which only picks candidates).
2. A greedy nearest-neighbour path from a photo at the edge of the collection (or from the
   given start), looking at candidates first and scanning everything only when they are used up.
3. 2-opt with neighbour lists, vectorised: every round scores the move "connect photo a to
   its candidate c" for all (a, c) at once, applies the best non-overlapping improving moves
   (segment reversals) and repeats until no move improves or the time budget is spent.

10,000 photos take a few seconds on two cores (see benchmarks/bench_arrange.py).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import numpy as np

from photosort.core.projection import exact_knn
from photosort.core.similarity import prepare_vectors

CANDIDATES = 10
#: Wider latents are reduced to this many PCA dimensions to find candidate neighbours.
CANDIDATE_DIMS = 32


def _one_blas_thread() -> Any:
    """Small mat-vecs in a loop: a multi-threaded BLAS on a busy machine is 10-100x slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - comes with scikit-learn (umap's dependency)
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def pair_distances(x: np.ndarray, u: np.ndarray, v: np.ndarray, metric: str) -> np.ndarray:
    """Distances between rows u[i] and v[i] of prepared vectors, in blocks (bounded memory)."""
    u = np.asarray(u).ravel()
    v = np.asarray(v).ravel()
    out = np.empty(len(u), np.float32)
    block = max(1, 4_000_000 // max(x.shape[1], 1))
    for s in range(0, len(u), block):
        diff = x[u[s : s + block]] - x[v[s : s + block]]
        sq = np.einsum("ij,ij->i", diff, diff)
        out[s : s + block] = 0.5 * sq if metric == "cosine" else np.sqrt(sq)
    return out


def step_distances(vectors: np.ndarray, metric: str, order: np.ndarray) -> np.ndarray:
    """Distance from each photo of `order` to the one before it (0 for the first)."""
    x = prepare_vectors(vectors, metric)
    order = np.asarray(order, dtype=np.int64)
    out = np.zeros(len(order), np.float32)
    if len(order) > 1:
        out[1:] = pair_distances(x, order[:-1], order[1:], metric)
    return out


def grid_neighbour_distance(
    vectors: np.ndarray, metric: str, order: np.ndarray, columns: int
) -> float:
    """Mean latent distance between photos side by side or one above the other in a grid.

    The grid is `order` laid out row-major with `columns` per row. Lower is smoother.
    """
    x = prepare_vectors(vectors, metric)
    order = np.asarray(order, dtype=np.int64)
    n = len(order)
    pos = np.arange(n)
    right = pos[(pos % columns != columns - 1) & (pos + 1 < n)]
    down = pos[pos + columns < n]
    u = np.concatenate([order[right], order[down]])
    v = np.concatenate([order[right + 1], order[down + columns]])
    if len(u) == 0:
        return 0.0
    return float(pair_distances(x, u, v, metric).mean())


def _candidates(x: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k nearest other rows of every row, nearest first."""
    n = len(x)
    y = x.astype(np.float32)
    if y.shape[1] > CANDIDATE_DIMS and n > CANDIDATE_DIMS:
        centred = y - y.mean(axis=0)
        _, vecs = np.linalg.eigh(centred.T.astype(np.float64) @ centred.astype(np.float64))
        y = np.ascontiguousarray(centred @ vecs[:, ::-1][:, :CANDIDATE_DIMS].astype(np.float32))
    # Itself comes first in its own list (distance 0): drop that column.
    return exact_knn(np.ascontiguousarray(y, dtype=np.float32), k + 1)[0][:, 1:].astype(np.int64)


def _greedy_path(x: np.ndarray, metric: str, cand: np.ndarray, start: int) -> np.ndarray:
    n = len(x)
    visited = np.zeros(n, bool)
    path = np.empty(n, np.int64)
    # Squared distances to everything in one mat-vec when the candidates are used up; visited
    # rows get +inf through `penalty` (cheaper than gathering the unvisited rows).
    sq = np.einsum("ij,ij->i", x, x)
    penalty = np.zeros(n, np.float32)
    cur = start
    for step in range(n):
        path[step] = cur
        visited[cur] = True
        penalty[cur] = np.inf
        if step == n - 1:
            break
        row = cand[cur]
        free = row[~visited[row]]
        if len(free):
            cur = int(free[0])
            continue
        d2 = sq - 2.0 * (x @ x[cur]) + penalty
        cur = int(np.argmin(d2))
    return path


def _two_opt(
    x: np.ndarray,
    metric: str,
    path: np.ndarray,
    cand: np.ndarray,
    fixed_start: bool,
    deadline: float,
) -> np.ndarray:
    """Neighbour-list 2-opt on an open path, many disjoint moves per vectorised round."""
    n = len(path)
    k = cand.shape[1]
    a = np.repeat(np.arange(n), k)
    c = cand.ravel()
    d_ac = pair_distances(x, a, c, metric)
    while time.monotonic() < deadline:
        pos = np.empty(n, np.int64)
        pos[path] = np.arange(n)
        edge = pair_distances(x, path[:-1], path[1:], metric)  # edge[i]: path[i] -> path[i+1]
        edge = np.append(edge, 0.0).astype(np.float32)  # a virtual free edge after the end
        p, q = pos[a], pos[c]
        # Case A, q > p + 1: reverse path[p+1 .. q]; new edges (a, c) and (b, d).
        fwd = q > p + 1
        b = path[np.minimum(p + 1, n - 1)]
        d = path[np.minimum(q + 1, n - 1)]
        has_d = q + 1 < n
        d_bd = np.where(has_d, pair_distances(x, b, d, metric), 0.0)
        gain_a = edge[p] + np.where(has_d, edge[np.minimum(q, n - 1)], 0.0) - d_ac - d_bd
        # Case B, q < p - 1: reverse path[q .. p-1]; new edges (e, f) and (c, a).
        bwd = q < p - 1
        e = path[np.maximum(q - 1, 0)]
        f = path[np.maximum(p - 1, 0)]
        has_e = q > 0
        d_ef = np.where(has_e, pair_distances(x, e, f, metric), 0.0)
        gain_b = np.where(has_e, edge[np.maximum(q - 1, 0)], 0.0) + edge[p - 1] - d_ef - d_ac
        if fixed_start:
            bwd &= has_e
        gain = np.where(fwd, gain_a, np.where(bwd, gain_b, 0.0))
        good = np.flatnonzero(gain > 1e-6 * (1.0 + np.abs(d_ac)))
        if len(good) == 0:
            break
        good = good[np.argsort(-gain[good], kind="stable")]
        lo = np.where(fwd[good], p[good] + 1, q[good])  # reversed segment path[lo:hi]
        hi = np.where(fwd[good], q[good] + 1, p[good])
        taken = np.zeros(n + 1, bool)
        moves = []
        for s, t in zip(lo.tolist(), hi.tolist(), strict=True):
            # The segment and the two edges around it must be untouched this round.
            a0, a1 = max(s - 1, 0), min(t + 1, n)
            if taken[a0:a1].any():
                continue
            taken[a0:a1] = True
            moves.append((s, t))
            if len(moves) >= 4096:
                break
        for s, t in moves:
            path[s:t] = path[s:t][::-1].copy()
    return path


def arrange(
    vectors: np.ndarray,
    metric: str,
    *,
    start: int | None = None,
    time_budget: float = 2.0,
) -> np.ndarray:
    """A permutation of row indices, similar photos next to each other (int64).

    `start` fixes the first photo (e.g. a reference photo); by default the path starts at
    the photo farthest from the centre. The 2-opt improvement stops after
    `time_budget` seconds (the candidates and the greedy path come first, about a second for
    10,000 photos).
    """
    x = prepare_vectors(vectors, metric)
    n = len(x)
    if n <= 2:
        order = np.arange(n, dtype=np.int64)
        if start is not None and n == 2 and start == 1:
            order = order[::-1].copy()
        return order
    fixed = start is not None
    if start is None:
        centre = x.mean(axis=0, keepdims=True)
        start = int(np.argmax(np.einsum("ij,ij->i", x - centre, x - centre)))
    elif not 0 <= start < n:
        raise IndexError(f"start row {start} out of range for {n} photos")
    k = min(CANDIDATES, n - 1)
    cand = _candidates(x, k)
    with _one_blas_thread():
        path = _greedy_path(x, metric, cand, start)
        deadline = time.monotonic() + time_budget
        return _two_opt(x, metric, path, cand, fixed_start=fixed, deadline=deadline)
