"""The similarity map: a folder's latents flattened to 2-D, cached in the store.

How a map is made, cheapest first:

1. **Cached**: the store holds a map for this encoder and folder ("scope") whose photo set and
   latents match (a hash of every path and of every latent row): its coordinates are returned
   without importing umap at all.
2. **Updated**: the set changed a little (photos added, removed or re-encoded): kept photos keep
   their place, new ones are placed with the fitted UMAP model's `transform`, which is stored
   (pickled) next to the map. No refit, so the map the user knows does not reshuffle.
3. **Fitted**: a PCA layout (milliseconds) is offered first through `preview`, then refined by
   UMAP started from it. Speed comes from exact k-nearest neighbours computed with BLAS instead
   of pynndescent (whose JIT compilation alone takes ~40 s and cannot be cached), fewer epochs
   thanks to the PCA start, and numba's on-disk cache switched on for umap's kernels.

Coordinates are returned normalised into the unit square (aspect kept, centred); the store keeps
the raw UMAP coordinates so that transformed photos land in the same space.

The fitted model is a pickle kept in the user's own database: it is only ever read back from
there, and a blob that fails to load (another umap version) just means a refit.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import pickle
import sqlite3
import struct
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from photosort.core.errors import Cancelled, StoreError
from photosort.core.jobs import CancelToken, Progress, ProgressCallback, no_progress
from photosort.core.similarity import prepare_vectors
from photosort.core.store import Store

log = logging.getLogger(__name__)

MAP_MAGIC = b"PSMAP1\n"
FIT_MAGIC = b"PSFIT1\n"
#: Below this many photos UMAP has too few neighbours to mean anything: the PCA layout is used.
MIN_UMAP_PHOTOS = 16
N_NEIGHBORS = 15
#: umap's default (0.1) packs a class of photos into a tight clump; a map is browsed with
#: thumbnails, so photos keep more room around them (clusters stay apart).
MIN_DIST = 0.5
#: From/up to this many photos our exact neighbours (BLAS) are used; below, umap computes exact
#: ones itself; above, umap's pynndescent (slow to compile the first time, but n^2 is worse).
EXACT_KNN_FROM = 4096
EXACT_KNN_LIMIT = 25_000
#: New photos are placed with `transform` while they are at most this share of the kept ones.
MAX_TRANSFORM_SHARE = 0.5

PreviewCallback = Callable[["MapLayout"], None]


@dataclass(frozen=True)
class MapLayout:
    """A 2-D map: `coords[i]` (in the unit square) is where `paths[i]` goes."""

    paths: list[str]
    coords: np.ndarray  # float32 (n, 2)
    method: str  # "pca", "umap" or "empty"
    from_cache: bool = False  # read from the store as is
    fitted: bool = False  # a UMAP fit ran to make it
    placed: int = 0  # photos placed with the stored model's transform

    def __len__(self) -> int:
        return len(self.paths)


# -- numba and umap ---------------------------------------------------------------------------

_umap_lock = threading.Lock()
_umap_ready = False


def numba_cache_dir() -> str:
    from photosort import paths

    return str(paths.user_cache_dir() / "numba")


def prepare_numba() -> None:
    """Point numba's on-disk cache at the user cache folder (before numba is first imported)."""
    os.environ.setdefault("NUMBA_CACHE_DIR", numba_cache_dir())
    with contextlib.suppress(OSError):
        os.makedirs(os.environ["NUMBA_CACHE_DIR"], exist_ok=True)

    if "numba" in sys.modules:  # imported already: the config module is read at import
        config = sys.modules["numba"].config
        if not getattr(config, "CACHE_DIR", ""):
            config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]


def _import_umap() -> Any:
    """Import umap with numba's cache on, also for the umap kernels not declared cache=True."""
    global _umap_ready
    with _umap_lock:
        prepare_numba()
        import umap.umap_ as umap_module

        if not _umap_ready:
            _enable_umap_caching()
            _umap_ready = True
    return umap_module


def _import_umap_quietly() -> None:
    with contextlib.suppress(Exception):  # the caller imports again and sees the error
        _import_umap()


def _enable_umap_caching() -> None:
    import importlib

    try:
        from numba.core.registry import CPUDispatcher
    except ImportError:  # pragma: no cover - numba moved it
        return
    for name in ("umap.umap_", "umap.layouts", "umap.utils", "umap.distances", "umap.spectral"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for value in vars(module).values():
            if isinstance(value, CPUDispatcher) and type(value._cache).__name__ == "NullCache":
                # A kernel numba refuses to cache is simply compiled as before.
                with contextlib.suppress(Exception):
                    value.enable_caching()


# -- the first-ever layout: numba compiling -----------------------------------------------------

#: What the map says while umap's kernels are compiled for the first time on this machine.
FIRST_TIME_MESSAGE = "preparing the map (first time only, about a minute)"


def _warm_marker() -> str:
    """A file in numba's cache folder saying umap's kernels are compiled and cached there, for
    these versions of umap and numba (a new version compiles again)."""
    from importlib import metadata

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "none"

    cache = os.environ.get("NUMBA_CACHE_DIR") or numba_cache_dir()
    return os.path.join(
        cache, f"photosort-warm-umap{version('umap-learn')}-numba{version('numba')}"
    )


def umap_is_warm() -> bool:
    """True when a UMAP fit has run on this machine with the current umap and numba, so its
    kernels load from numba's cache instead of compiling (~40 s on a fresh install)."""
    return os.path.exists(_warm_marker())


def _mark_warm() -> None:
    with contextlib.suppress(OSError):
        marker = _warm_marker()
        os.makedirs(os.path.dirname(marker), exist_ok=True)
        with open(marker, "w", encoding="utf-8") as f:
            f.write("umap's numba kernels are compiled and cached in this folder\n")


def warm_up(photos: int = 300, dim: int = 32) -> None:
    """Compile umap's kernels into numba's on-disk cache with a small fit of random vectors
    (and a transform, which placing new photos uses), so that the user's first real map does
    not wait for the compiler. Run it in the background (the app: a child process after the
    first index); it does nothing when already warm."""
    if umap_is_warm():
        return
    rng = np.random.default_rng(0)
    x = prepare_vectors(rng.normal(size=(photos, dim)).astype(np.float32), "euclidean")
    reducer = _fit_umap(x, pca_layout(x), default_epochs(photos), None)
    _transform(reducer, x[:8])
    _mark_warm()


# -- layouts ------------------------------------------------------------------------------------


def pca_layout(vectors: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """The two main axes of variation: a rough map in milliseconds (raw coordinates)."""
    x = prepare_vectors(vectors, metric).astype(np.float64)
    n = len(x)
    if n == 0:
        return np.zeros((0, 2), np.float32)
    x = x - x.mean(axis=0)
    cov = x.T @ x
    values, vecs = np.linalg.eigh(cov)
    axes = vecs[:, ::-1][:, :2]
    if axes.shape[1] < 2:
        axes = np.pad(axes, ((0, 0), (0, 2 - axes.shape[1])))
    coords = x @ axes
    # Deterministic signs: the largest loading of each axis is positive.
    for j in range(coords.shape[1]):
        if axes.shape[0] and axes[np.argmax(np.abs(axes[:, j])), j] < 0:
            coords[:, j] = -coords[:, j]
    return coords.astype(np.float32)


def normalise(coords: np.ndarray) -> np.ndarray:
    """Fit into the unit square, aspect ratio kept, centred; one photo sits in the middle."""
    c = np.asarray(coords, dtype=np.float64)
    if len(c) == 0:
        return np.zeros((0, 2), np.float32)
    lo, hi = c.min(axis=0), c.max(axis=0)
    span = float(max(hi[0] - lo[0], hi[1] - lo[1]))
    if not np.isfinite(span) or span <= 0:
        return np.full((len(c), 2), 0.5, np.float32)
    out = (c - (lo + hi) / 2) / span + 0.5
    return out.astype(np.float32)


def smallest_k(d2: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the k smallest values of every row, smallest first.

    A value partition and a mask is ~3x faster than `argpartition` (no index shuffling);
    rows with ties at the k-th value fall back to `argpartition`.
    """
    m, n = d2.shape
    if k >= n:
        return np.argsort(d2, axis=1, kind="stable")[:, :k]
    kth = np.partition(d2, k - 1, axis=1)[:, k - 1 : k]
    mask = d2 <= kth
    counts = mask.sum(axis=1)
    out = np.empty((m, k), np.int64)
    exact = counts == k
    if exact.any():
        _, cols = np.nonzero(mask[exact])
        out[exact] = cols.reshape(-1, k)
    if not exact.all():
        rows = np.flatnonzero(~exact)
        out[rows] = np.argpartition(d2[rows], k - 1, axis=1)[:, :k]
    order = np.argsort(np.take_along_axis(d2, out, axis=1), axis=1, kind="stable")
    return np.take_along_axis(out, order, axis=1)


def exact_knn(
    x: np.ndarray,
    k: int,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    chunk: int = 1024,
) -> tuple[np.ndarray, np.ndarray]:
    """k nearest rows of every row (itself first), Euclidean, by blocks of BLAS products."""
    n = len(x)
    k = min(k, n)
    sq = np.einsum("ij,ij->i", x, x)
    indices = np.empty((n, k), np.int32)
    dists = np.empty((n, k), np.float32)
    for start in range(0, n, chunk):
        if cancel is not None:
            cancel.raise_if_cancelled()
        stop = min(start + chunk, n)
        d2 = sq[start:stop, None] + sq[None, :] - 2.0 * (x[start:stop] @ x.T)
        rows = np.arange(stop - start)
        d2[rows, rows + start] = -1.0  # itself first, whatever rounding says
        near = smallest_k(d2, k)
        indices[start:stop] = near
        dists[start:stop] = np.sqrt(np.maximum(np.take_along_axis(d2, near, axis=1), 0.0))
        progress(Progress(stop, n, "neighbours"))
    return indices, dists


def default_epochs(n: int) -> int:
    """Fewer than umap's 200-500: the PCA start already has the coarse structure right."""
    if n <= 2_000:
        return 200
    if n <= 20_000:
        return 120
    return 80


def _fit_umap(x: np.ndarray, init: np.ndarray, epochs: int, cancel: CancelToken | None) -> Any:
    """Fit UMAP on prepared rows from a given start; returns the fitted reducer.

    Module-level so that tests can count (or replace) fits.
    """
    if cancel is not None:  # before importing umap: seconds of numba work holding the GIL
        cancel.raise_if_cancelled()
    n = len(x)
    k = min(N_NEIGHBORS, n - 1)
    kwargs: dict[str, Any] = {}
    exact = EXACT_KNN_FROM <= n <= EXACT_KNN_LIMIT
    if exact:
        # Importing umap (seconds: sklearn, numba, cached kernels) is Python work holding the
        # GIL; the neighbours are BLAS and partitions that release it: do both at once.
        importer = threading.Thread(target=_import_umap_quietly, name="umap-import", daemon=True)
        importer.start()
        idx, dist = exact_knn(x, k, cancel=cancel)
        importer.join()
        kwargs["precomputed_knn"] = (idx, dist)
        kwargs["force_approximation_algorithm"] = True  # else umap ignores them below 4096
    umap_module = _import_umap()  # raises here if the import failed
    if cancel is not None:
        cancel.raise_if_cancelled()
    start = init.astype(np.float32)
    # umap expects a start of roughly its own scale (~10 units).
    start = 10.0 * (start - start.mean(axis=0)) / max(float(np.abs(start).max()), 1e-6)
    reducer = umap_module.UMAP(
        n_neighbors=k,
        n_components=2,
        min_dist=MIN_DIST,
        metric="euclidean",
        n_epochs=epochs,
        init=start,
        transform_seed=42,
        low_memory=True,
        **kwargs,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reducer.fit(x)
    if exact:
        # Without a search index umap cannot transform; its small-data path (exact distances
        # to the training rows, what we used for the fit anyway) can, so use that.
        reducer._small_data = True
        if hasattr(reducer, "_knn_search_index"):
            del reducer._knn_search_index  # umap refuses to transform when it is None
        for name in ("precomputed_knn", "knn_indices", "knn_dists", "_knn_indices", "_knn_dists"):
            if hasattr(reducer, name):
                setattr(reducer, name, None if name != "precomputed_knn" else (None, None, None))
    if getattr(reducer, "_small_data", False) and hasattr(reducer, "_input_distance_func"):
        # The small-data transform hands this to sklearn's pairwise_distances: umap's numba
        # function is called once per pair from Python there; sklearn's own "euclidean" is one
        # BLAS product. It also keeps numba's code objects out of the stored pickle.
        reducer._input_distance_func = "euclidean"
    # Not used to place new photos on a Euclidean map (inverse_transform and non-Euclidean
    # outputs only); dropping them leaves no numba function in the pickle.
    for name in ("_inverse_distance_func", "_output_distance_func"):
        if hasattr(reducer, name):
            setattr(reducer, name, None)
    return reducer


def _transform(reducer: Any, x: np.ndarray) -> np.ndarray:
    _import_umap()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(reducer.transform(x), dtype=np.float32)


# -- the cache ----------------------------------------------------------------------------------


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def map_key(model_id: str, scope: str) -> str:
    return f"map/v1/{model_id}/{_sha(os.fsencode(scope))[:32]}"


def fit_key(model_id: str, scope: str) -> str:
    return f"fit/v1/{model_id}/{_sha(os.fsencode(scope))[:32]}"


def row_digests(x: np.ndarray) -> np.ndarray:
    """An 8-byte digest of every latent row: a re-encoded photo is a changed photo."""
    blob = np.ascontiguousarray(x, dtype=np.float32)
    out = np.empty(len(blob), dtype="S8")
    for i, row in enumerate(blob):
        out[i] = hashlib.blake2b(row.tobytes(), digest_size=8).digest()
    return out


def set_hash(paths: Sequence[str], digests: np.ndarray, metric: str) -> str:
    h = hashlib.sha256(metric.encode())
    for i in sorted(range(len(paths)), key=lambda j: paths[j]):
        h.update(os.fsencode(paths[i]) + b"\0" + bytes(digests[i]))
    return h.hexdigest()


@dataclass
class _Entry:
    header: dict[str, Any]
    paths: list[str]
    digests: np.ndarray
    coords: np.ndarray  # raw


def _pack_map(header: dict[str, Any], paths: Sequence[str], digests: np.ndarray, raw) -> bytes:
    names = b"\0".join(os.fsencode(p) for p in paths)
    header = dict(header, n=len(paths), names=len(names))
    head = json.dumps(header).encode()
    return b"".join(
        [
            MAP_MAGIC,
            struct.pack("<I", len(head)),
            head,
            names,
            np.ascontiguousarray(digests, dtype="S8").tobytes(),
            np.ascontiguousarray(raw, dtype=np.float32).tobytes(),
        ]
    )


def _unpack_map(blob: bytes | None) -> _Entry | None:
    if not blob or not blob.startswith(MAP_MAGIC):
        return None
    try:
        pos = len(MAP_MAGIC)
        (size,) = struct.unpack_from("<I", blob, pos)
        pos += 4
        header = json.loads(blob[pos : pos + size])
        pos += size
        n, names = int(header["n"]), int(header["names"])
        paths = [os.fsdecode(p) for p in blob[pos : pos + names].split(b"\0")] if n else []
        pos += names
        digests = np.frombuffer(blob, dtype="S8", count=n, offset=pos)
        pos += 8 * n
        coords = np.frombuffer(blob, dtype=np.float32, count=2 * n, offset=pos).reshape(n, 2)
        if len(paths) != n:
            return None
        return _Entry(header, paths, digests, coords)
    except (ValueError, KeyError, struct.error, json.JSONDecodeError):
        return None


def _pack_fit(reducer: Any, meta: dict[str, Any]) -> bytes:
    head = json.dumps(meta).encode()
    return FIT_MAGIC + struct.pack("<I", len(head)) + head + pickle.dumps(reducer, protocol=5)


class _ModelUnpickler(pickle.Unpickler):
    """Loads only what a fitted UMAP is made of (the reducer, numpy arrays, scipy sparse
    matrices): a database handed over by someone else cannot name `os.system` in its model
    blob. `_fit_umap` leaves no numba function in the reducer, so none needs to be allowed."""

    ALLOWED = {
        ("umap.umap_", "UMAP"),
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
    }
    NUMPY_CORE = ("numpy.core.multiarray", "numpy._core.multiarray", "numpy.core.numeric")
    NUMPY_NAMES = {"scalar", "_reconstruct", "_frombuffer"}
    BUILTINS = {"set", "frozenset", "slice", "complex", "bytearray", "dict", "list", "tuple"}

    def find_class(self, module: str, name: str) -> Any:
        ok = (
            (module, name) in self.ALLOWED
            or (module in (*self.NUMPY_CORE, "numpy._core.numeric") and name in self.NUMPY_NAMES)
            or (module.startswith("scipy.sparse") and name.endswith(("_matrix", "_array")))
            or (module == "builtins" and name in self.BUILTINS)
        )
        if not ok:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a map model")
        return super().find_class(module, name)


def _unpack_fit(blob: bytes | None) -> tuple[dict[str, Any], Any] | None:
    if not blob or not blob.startswith(FIT_MAGIC):
        return None
    try:
        pos = len(FIT_MAGIC)
        (size,) = struct.unpack_from("<I", blob, pos)
        meta = json.loads(blob[pos + 4 : pos + 4 + size])
        _import_umap()  # the pickle refers to umap's classes
        reducer = _ModelUnpickler(io.BytesIO(blob[pos + 4 + size :])).load()
        return meta, reducer
    except Exception as exc:  # another umap or numpy version: refit instead
        log.info("stored map model not usable (%s); refitting", exc)
        return None


# -- the entry point ----------------------------------------------------------------------------


def compute_map(
    store: Store,
    model_id: str,
    paths: Sequence[str],
    vectors: np.ndarray,
    metric: str,
    *,
    scope: str | None = None,
    refine: bool = True,
    epochs: int | None = None,
    preview: PreviewCallback | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    before_fit: Callable[[], None] | None = None,
) -> MapLayout:
    """The folder's map, from the cache when it is still valid; see the module docstring.

    `scope` names the collection (the folder) whose cache entry this is; by default the common
    folder of `paths`. `refine=False` stops at the PCA layout (tests, previews). Stages report
    progress as (stage, 4); cancelling raises `Cancelled` between stages (a running UMAP fit,
    a few seconds, finishes first). `before_fit` runs just before a UMAP fit (the app waits
    there for its background warm-up of umap's kernels instead of compiling them twice).
    """
    paths = list(paths)
    n = len(paths)
    if n == 0:
        return MapLayout([], np.zeros((0, 2), np.float32), "empty")
    if scope is None:
        try:
            scope = os.path.commonpath(paths) if n > 1 else os.path.dirname(paths[0])
        except ValueError:  # Windows paths on different drives
            scope = ""
    x = prepare_vectors(vectors, metric)
    if len(x) != n:
        raise ValueError(f"{n} paths but {len(x)} vectors")

    def stage(done: int, what: str) -> None:
        if cancel is not None:
            cancel.raise_if_cancelled()
        progress(Progress(done, 4, what))

    stage(0, "reading the cached map")
    digests = row_digests(x)
    wanted = set_hash(paths, digests, metric)
    mkey, fkey = map_key(model_id, scope), fit_key(model_id, scope)
    old = _unpack_map(store.get_projection(mkey))
    use_umap = refine and n >= MIN_UMAP_PHOTOS

    usable = old is not None and (old.header.get("method") == "umap" or not use_umap)
    if old is not None and usable and old.header.get("set") == wanted:
        row = {p: i for i, p in enumerate(old.paths)}
        raw = old.coords[[row[p] for p in paths]]
        progress(Progress(4, 4, "done"))
        return MapLayout(paths, normalise(raw), old.header["method"], from_cache=True)

    def finish(method: str, raw: np.ndarray, **flags: Any) -> MapLayout:
        header = {"set": wanted, "method": method, "metric": metric}
        _save(store, mkey, model_id, _pack_map(header, paths, digests, raw))
        progress(Progress(4, 4, "done"))
        return MapLayout(paths, normalise(raw), method, **flags)

    if use_umap and old is not None and old.header.get("method") == "umap":
        updated = _update(store, model_id, old, fkey, paths, x, digests, stage)
        if updated is not None:
            raw, placed = updated
            return finish("umap", raw, placed=placed)

    start = pca_layout(x)
    if not use_umap:
        return finish("pca", start)
    if preview is not None:
        preview(MapLayout(paths, normalise(start), "pca"))
    stage(1, "finding neighbours" if umap_is_warm() else FIRST_TIME_MESSAGE)
    if before_fit is not None:
        before_fit()
    reducer = _fit_umap(x, start, epochs or default_epochs(n), cancel)
    _mark_warm()
    stage(3, "saving the map")
    raw = np.asarray(reducer.embedding_, dtype=np.float32)
    meta = {"set": wanted, "n": n, "dim": int(x.shape[1]), "metric": metric}
    _save(store, fkey, model_id, _pack_fit(reducer, meta))
    return finish("umap", raw, fitted=True)


def _save(store: Store, key: str, model_id: str, blob: bytes) -> None:
    """Cache a map; a database that cannot take it (full disk, locked) costs a recompute later,
    not this map."""
    try:
        store.put_projection(key, model_id, blob)
    except (sqlite3.Error, StoreError) as exc:
        log.warning("could not cache the map (%s)", exc)


def _update(
    store: Store,
    model_id: str,
    old: _Entry,
    fkey: str,
    paths: list[str],
    x: np.ndarray,
    digests: np.ndarray,
    stage: Callable[[int, str], None],
) -> tuple[np.ndarray, int] | None:
    """Raw coordinates with kept photos in place and new ones transformed; None: refit."""
    known = {(p, bytes(d)): i for i, (p, d) in enumerate(zip(old.paths, old.digests, strict=True))}
    kept_rows, new_rows = [], []
    for i, (p, d) in enumerate(zip(paths, digests, strict=True)):
        j = known.get((p, bytes(d)))
        (new_rows if j is None else kept_rows).append(i)
    if len(kept_rows) < MIN_UMAP_PHOTOS or len(new_rows) > MAX_TRANSFORM_SHARE * len(kept_rows):
        return None
    raw = np.empty((len(paths), 2), np.float32)
    for i in kept_rows:
        raw[i] = old.coords[known[(paths[i], bytes(digests[i]))]]
    if not new_rows:
        return raw, 0
    stage(1, "loading the map model")
    fitted = _unpack_fit(store.get_projection(fkey))
    if fitted is None or fitted[0].get("dim") != x.shape[1]:
        return None
    stage(2, "placing new photos")
    try:
        raw[new_rows] = _transform(fitted[1], x[new_rows])
    except Cancelled:
        raise
    except Exception as exc:
        log.warning("placing new photos on the map failed (%s); refitting", exc)
        return None
    if not np.all(np.isfinite(raw)):
        return None
    return raw, len(new_rows)


def _debug_blob_sizes(store: Store, model_id: str, scope: str) -> dict[str, int]:
    """Sizes of a scope's cache entries (benchmarks, docs)."""
    out = {}
    for key in (map_key(model_id, scope), fit_key(model_id, scope)):
        blob = store.get_projection(key)
        out[key.split("/")[0]] = len(blob) if blob else 0
    return out


__all__ = [
    "MapLayout",
    "compute_map",
    "exact_knn",
    "normalise",
    "pca_layout",
    "prepare_numba",
    "umap_is_warm",
    "warm_up",
    "default_epochs",
]
