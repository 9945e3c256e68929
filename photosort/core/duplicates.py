"""Finding duplicate photos: exact copies, near-copies and similar shots, in groups.

Three kinds of evidence, from certain to probable:
  - the content hash: the same bytes, an exact copy;
  - the pixel signature (core/signature.py): the same picture after resizing, re-compression,
    a brightness change, a watermark, a format change, a quarter turn, a crop or a border;
  - the encoder's latents: the same subject and scene (a burst of shots). Latents also propose
    the crops and framed copies the signature then confirms: their threshold is the model's
    (`"duplicates"` in its manifest, calibrated by benchmarks/duplicates.py --calibrate).

Which pairs are compared: every pair would be 5 billion for 100,000 photos, so each photo is
compared with its nearest neighbours only, by latents and by a coarse signature (in each of
its four turns); exact copies are merged first and compared once. The checks then run on all
candidate pairs at once, in numpy, a few thousand pairs at a time (bounded memory); the costly
window search for crops and framed copies runs only for the pairs a cheap estimate of it
(signature.contained_estimates, framed_estimates) finds close.

Grouping is by centre photo: a group is one photo (the centre: usually the original) and photos
that are each directly a duplicate of it, checked pair by pair. A chain of look-alikes
(A~B, B~C, C~D...) therefore never joins into one group: any two members are at most two
checked links apart, through the centre. Complete linkage (every pair linked) was tried first
and rejected: a crop and a quarter-turned copy of one original are both copies of it but not,
checkably, of each other, so complete linkage split every family of copies.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from photosort.core import signature as sig
from photosort.core.errors import Cancelled, PhotoSortError
from photosort.core.jobs import CancelToken, Progress, ProgressCallback, no_progress

if TYPE_CHECKING:
    import numpy as np

    from photosort.core.encoders import ModelInfo
    from photosort.core.store import Store

#: exact copies only / near-copies (the default) / similar shots as well
STRICTNESS = ("exact", "near", "similar")
DEFAULT_STRICTNESS = "near"

#: Agreement of two signatures (core/signature.py) from which a pair is a near-copy; measured
#: on the calibration half of benchmarks/duplicates.py: copies (resized, re-compressed, lighter,
#: watermarked, PNG) reach >= 0.98 but for a watermark over a plain sky, different photos
#: at most 0.895.
SAME_PICTURE = 0.93
#: The same for a quarter or half turn (fewer photos look alike turned, but any turn is tried).
TURNED_PICTURE = 0.95
#: The same for a crop or a framed copy, found by searching windows: on the calibration half,
#: different photos reached 0.852 and frames of a burst 0.899; 95 % of crops and framed copies
#: reach 0.909.
CONTAINED_PICTURE = 0.905
#: How many nearest neighbours of each photo are candidates, by latents and by signature.
NEIGHBOURS = 8
#: A coarse signature (8 x 8 details) closer than this (cosine distance) makes a candidate.
SIGNATURE_CANDIDATE = 0.35


@dataclass(frozen=True, slots=True)
class Thresholds:
    """A model's calibrated latent distances (its manifest's "duplicates" object)."""

    near_copy: float  # below it, a pair is searched for a crop (the costly check)
    similar: float  # below it, two photos are similar shots (strictness "similar")
    framed: float  # below it, a framed photo (a screenshot) is compared with its inside

    @classmethod
    def of(cls, info: ModelInfo) -> Thresholds | None:
        raw = info.extra.get("duplicates") if info.extra else None
        if not isinstance(raw, dict):
            return None
        try:
            near = float(raw["near_copy_distance"])
            return cls(
                near, float(raw["similar_distance"]), float(raw.get("framed_distance", near))
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True, slots=True)
class Photo:
    """What the store knows about one photo, for grouping and for choosing the keeper."""

    id: int
    path: str
    size: int
    mtime_ns: int
    hash: bytes | None
    width: int | None
    height: int | None
    taken: str | None

    @property
    def pixels(self) -> int:
        return (self.width or 0) * (self.height or 0)


@dataclass(slots=True)
class Group:
    """Photos that are all duplicates of each other; `photos[0]` is the suggested keeper."""

    photos: list[Photo]
    kind: str  # "exact", "near" or "similar": the least certain link inside the group
    reason: str = ""  # why photos[0] is suggested, in a few words

    @property
    def keeper(self) -> Photo:
        return self.photos[0]

    @property
    def others(self) -> list[Photo]:
        return self.photos[1:]

    @property
    def paths(self) -> list[str]:
        return [p.path for p in self.photos]

    def reclaimable(self) -> int:
        """Bytes the others take."""
        return sum(p.size for p in self.others)

    def choose_keeper(self, path: str) -> None:
        """Make the photo at `path` the keeper (the user's choice)."""
        for i, p in enumerate(self.photos):
            if p.path == path:
                self.photos.insert(0, self.photos.pop(i))
                self.reason = "your choice"
                return
        raise ValueError(f"{path} is not in this group")


@dataclass(slots=True)
class Report:
    groups: list[Group] = field(default_factory=list)
    strictness: str = DEFAULT_STRICTNESS
    photos: int = 0
    #: Things the user should know about this result (no calibrated threshold, photos without
    #: a signature that could not be read...), in plain words.
    notes: list[str] = field(default_factory=list)

    def duplicates(self) -> int:
        return sum(len(g.others) for g in self.groups)

    def reclaimable(self) -> int:
        return sum(g.reclaimable() for g in self.groups)


# -- finding pairs --------------------------------------------------------------------------


def _unit_rows(x: np.ndarray) -> np.ndarray:
    import numpy as np

    x = np.ascontiguousarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def neighbour_pairs(
    queries: np.ndarray, base: np.ndarray, k: int, max_distance: float, exact_up_to: int = 4096
) -> np.ndarray:
    """(i, j) pairs where base row j is among the k nearest (cosine) of query row i and closer
    than `max_distance`. Rows must be unit length. See neighbour_finder."""
    return neighbour_finder(base, exact_up_to)(queries, k, max_distance)


def neighbour_finder(
    base: np.ndarray, exact_up_to: int = 4096
) -> Callable[[np.ndarray, int, float], np.ndarray]:
    """A search of `base` (unit rows) for neighbour_pairs, built once for several sets of
    queries (a photo's four turns, say).

    Up to `exact_up_to` rows every distance is computed; above, an inverted file (k-means cells,
    each query searching the cells of its PROBES nearest centroids, as FAISS's IVF does);
    near-copies are so close that they share a cell. A query then gets the k nearest of each
    cell it searches: more pairs, never fewer.
    """
    import numpy as np

    n = len(base)
    if n <= exact_up_to:

        def exact(queries: np.ndarray, k: int, max_distance: float) -> np.ndarray:
            if n == 0 or len(queries) == 0:
                return np.zeros((0, 2), np.int64)
            rows = np.arange(len(queries))
            return _pairs_in_block(queries, rows, base, np.arange(n), k, max_distance)[0]

        return exact
    rng = np.random.default_rng(0)
    cells = int(np.sqrt(n) * 2)
    sample = base[rng.choice(n, min(n, cells * 24), replace=False)]
    centroids = sample[rng.choice(len(sample), cells, replace=False)].copy()
    for _ in range(6):
        assign = np.argmax(sample @ centroids.T, axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, assign, sample)
        used = np.bincount(assign, minlength=cells) > 0
        centroids[used] = sums[used]
        centroids = _unit_rows(centroids)
    cell_of = _argmax_rows(base, centroids)
    order = np.argsort(cell_of, kind="stable")
    starts = np.searchsorted(cell_of[order], np.arange(cells + 1))

    def search(queries: np.ndarray, k: int, max_distance: float) -> np.ndarray:
        if len(queries) == 0:
            return np.zeros((0, 2), np.int64)
        probe = _top_cols(queries, centroids, PROBES)
        # Which queries search each cell, for all cells at once (sorted by cell).
        asked = probe.ravel()
        by_cell = np.argsort(asked, kind="stable")
        asking_all = (by_cell // probe.shape[1]).astype(np.int64)
        bounds = np.searchsorted(asked[by_cell], np.arange(cells + 1))
        found, sims = [], []
        for c in range(cells):
            members = order[starts[c] : starts[c + 1]]
            asking = asking_all[bounds[c] : bounds[c + 1]]
            if len(members) and len(asking):
                pairs, sim = _pairs_in_block(queries, asking, base, members, k, max_distance)
                found.append(pairs)
                sims.append(sim)
        if not found:
            return np.zeros((0, 2), np.int64)
        # The k nearest of each cell searched, then the k nearest of those.
        return _nearest_per_query(np.concatenate(found), np.concatenate(sims), k)

    return search


def _latent_neighbours(
    lat: _Rows, has: np.ndarray, k: int, max_distance: float, fresh: np.ndarray | None = None
) -> np.ndarray:
    """Candidate pairs of unit latents among themselves (`_candidates`; rows without latents
    are zeros and find nothing). Above the exact search's limit, the search runs on their
    first LATENT_SEARCH_DIMS principal directions (a 688-float latent makes every distance 10
    times the work), for twice k; the pairs found are then measured on the whole latents and
    the k nearest within max_distance kept. On 4,000 real photos (general-vae) this finds 99 %
    of the pairs the whole-latent search finds within the crop distance, 98 % within the
    framed-copy distance."""
    import numpy as np

    m = len(lat)
    every = np.arange(m)
    if m <= 4096 or lat.base.shape[1] <= LATENT_SEARCH_DIMS:
        whole = lat[every]
        whole[~has] = 0.0
        return _candidates(whole, [(every, whole)], fresh, k, max_distance)
    rng = np.random.default_rng(0)
    sample = lat[rng.choice(np.nonzero(has)[0], min(int(has.sum()), 2048), replace=False)]
    # (float32: the float64 decomposition took 2.5-6 s of a busy 2-core machine, this 0.3 s;
    # the search needs the strongest directions, not their last digits)
    _, vectors = np.linalg.eigh(sample.T @ sample)
    axes = np.ascontiguousarray(vectors[:, ::-1][:, :LATENT_SEARCH_DIMS], dtype=np.float32)
    reduced = np.concatenate([lat[np.arange(i, min(m, i + _CHUNK))] @ axes
                              for i in range(0, m, _CHUNK)])  # fmt: skip
    reduced[~has] = 0.0
    reduced = _unit_rows(reduced)
    found = _candidates(reduced, [(every, reduced)], fresh, 2 * k, max_distance)
    del reduced
    dist = np.ones(len(found), np.float32)
    for p in _chunks(np.arange(len(found))):
        dist[p] = 1.0 - np.einsum("ij,ij->i", lat[found[p, 0]], lat[found[p, 1]])
    found, dist = found[dist <= max_distance], dist[dist <= max_distance]
    return _nearest_per_query(found, -dist, k)


def _candidates(
    base: np.ndarray,
    query_sets: list[tuple[np.ndarray, np.ndarray]],
    fresh: np.ndarray | None,
    k: int,
    max_distance: float,
) -> np.ndarray:
    """Pairs (query's row, base row) of neighbour_pairs for each set of queries (their rows,
    their keys: a photo turned, say) against `base` (one unit key per row).

    With `fresh` (a mask of rows), only pairs with a fresh row are wanted, both ways round: the
    fresh queries search every row, and the other queries search the fresh rows only. Adding
    a few photos to a large indexed folder then costs a search of the few, not of all: few
    queries search the whole base exactly (every distance), which needs no index built.
    """
    import numpy as np

    out: list[np.ndarray] = []
    if fresh is None:
        find = neighbour_finder(base)
        for rows, keys in query_sets:
            found = find(keys, k, max_distance)
            found[:, 0] = rows[found[:, 0]]
            out.append(found)
    else:
        new_rows = np.nonzero(fresh)[0]
        few = len(new_rows) <= _FEW_QUERIES
        find_all = neighbour_finder(base, len(base) if few else 4096)
        find_new = neighbour_finder(np.ascontiguousarray(base[new_rows]))
        for rows, keys in query_sets:
            is_new = fresh[rows]
            ask = np.nonzero(is_new)[0]
            found = find_all(np.ascontiguousarray(keys[ask]), k, max_distance)
            found[:, 0] = rows[ask[found[:, 0]]]
            out.append(found)
            ask = np.nonzero(~is_new)[0]
            found = find_new(np.ascontiguousarray(keys[ask]), k, max_distance)
            found[:, 0] = rows[ask[found[:, 0]]]
            found[:, 1] = new_rows[found[:, 1]]
            out.append(found)
    return np.concatenate(out) if out else np.zeros((0, 2), np.int64)


#: Up to this many fresh photos search the whole folder exactly (see _candidates).
_FEW_QUERIES = 4096


def _nearest_per_query(pairs: np.ndarray, closeness: np.ndarray, k: int) -> np.ndarray:
    """The k pairs of each query (first column) with the highest closeness."""
    import numpy as np

    if not len(pairs):
        return pairs
    order = np.lexsort((-closeness, pairs[:, 0]))  # by query, closest first
    pairs = pairs[order]
    counts = np.bincount(pairs[:, 0])
    counts = counts[counts > 0]
    rank = np.arange(len(pairs)) - np.repeat(np.cumsum(counts) - counts, counts)
    return pairs[rank < k]


#: Principal directions of the latents the neighbour search uses above its exact limit.
LATENT_SEARCH_DIMS = 64

#: Cells of the inverted file each query searches (see neighbour_finder).
PROBES = 4


def _argmax_rows(x: np.ndarray, centroids: np.ndarray, chunk: int = 16384) -> np.ndarray:
    import numpy as np

    return np.concatenate(
        [np.argmax(x[i : i + chunk] @ centroids.T, axis=1) for i in range(0, len(x), chunk)]
    )


def _top_cols(x: np.ndarray, centroids: np.ndarray, k: int, chunk: int = 16384) -> np.ndarray:
    import numpy as np

    out = []
    for i in range(0, len(x), chunk):
        s = x[i : i + chunk] @ centroids.T
        out.append(np.argpartition(-s, min(k, s.shape[1] - 1), axis=1)[:, :k])
    return np.concatenate(out)


def _pairs_in_block(
    queries: np.ndarray,
    q_rows: np.ndarray,
    base: np.ndarray,
    b_rows: np.ndarray,
    k: int,
    max_distance: float,
    cells: int = 1 << 22,
) -> tuple[np.ndarray, np.ndarray]:
    """The pairs (query row, base row) of neighbour_pairs among these rows, and their cosine
    similarities. Queries go `cells` distances at a time (16 MB: k-means cells can be big)."""
    import numpy as np

    out, sims = [], []
    b = base[b_rows]
    chunk = max(1, cells // max(1, len(b_rows)))
    for i in range(0, len(q_rows), chunk):
        rows = q_rows[i : i + chunk]
        sim = queries[rows] @ b.T
        within = sim >= 1.0 - max_distance
        # Rows with at most k neighbours within max_distance keep them all; the others, their
        # k nearest (ordering only those rows: most rows have few or none).
        crowded = np.nonzero(within.sum(axis=1) > k)[0]
        within[crowded] = False
        qi, col = np.nonzero(within)
        close = sim[qi, col]
        if len(crowded):
            part = sim[crowded]
            top = np.argpartition(-part, k - 1, axis=1)[:, :k]
            qi = np.concatenate([qi, np.repeat(crowded, k)])
            col = np.concatenate([col, top.ravel()])
            close = np.concatenate([close, np.take_along_axis(part, top, 1).ravel()])
        out.append(np.stack([rows[qi], b_rows[col]], axis=1))
        sims.append(close)
    if not out:
        return np.zeros((0, 2), np.int64), np.zeros(0, np.float32)
    return np.concatenate(out), np.concatenate(sims)


def _blocks(details: np.ndarray) -> np.ndarray:
    """8 x 8 block means of detail images."""
    side = sig.SIDE // 8
    return details.reshape(len(details), 8, side, 8, side).mean(axis=(2, 4))


def _coarse(blocks: np.ndarray, turn: int = 0) -> np.ndarray:
    """`_blocks`, turned `turn` quarter turns, flattened and unit length: a 64-value key.
    (Turning the block means, not the images: no copy of them.)"""
    import numpy as np

    return _unit_rows(np.rot90(blocks, turn, axes=(1, 2)).reshape(len(blocks), 64))


# -- grouping -------------------------------------------------------------------------------


def group_photos(
    photos: Sequence[Photo],
    signatures: np.ndarray | None,
    latents: np.ndarray | None,
    strictness: str = DEFAULT_STRICTNESS,
    thresholds: Thresholds | None = None,
    cancel: CancelToken | None = None,
    edited: Callable[[str], bool | None] | None = None,
    sharp: Callable[[str], float | None] | None = None,
) -> list[Group]:
    """Duplicate groups among `photos` (keeper first, by `choose_keeper`; largest groups first).
    `edited` and `sharp` read a photo's file for the keeper (EXIF software tag, sharpness);
    without them the keeper is chosen from the facts in hand.

    `signatures`: uint8 or float (n, SIDE, SIDE), rows of zeros for a photo without one.
    `latents`: (n, d) for the model `thresholds` belongs to, NaN rows where missing; None when
    there are none. Without `thresholds`, latents are not used: near-copies are then only what
    the signatures alone find (no crops or framed copies) and "similar" is "near".
    Everything is compared here; find_duplicates groups from the links the store keeps.
    """
    import numpy as np

    _check_strictness(strictness)
    members = _exact_copies(photos)
    edges: dict[tuple[int, int], float] = {}
    if strictness != "exact" and len(photos) > 1:
        reps = np.array([m[0] for m in members])
        edges = _link_nodes(photos, reps, signatures, latents, thresholds, None, None, cancel)

    def signature_rows(rows: list[int]) -> np.ndarray | None:
        return None if signatures is None else np.asarray(signatures[np.array(rows)])

    return _grouped(photos, members, edges, strictness, signature_rows, edited, sharp, cancel)


def _check_strictness(strictness: str) -> None:
    if strictness not in STRICTNESS:
        raise PhotoSortError(f"unknown strictness {strictness!r} (choose {', '.join(STRICTNESS)})")


def _exact_copies(
    photos: Sequence[Photo], first: Callable[[Photo], bool] | None = None
) -> list[list[int]]:
    """Rows of `photos` by distinct content (the same hash: exact copies), in order of first
    appearance; a photo without a hash stands alone. A node's first row is its representative:
    the first photo `first` accepts, if any (the one whose links the store holds)."""
    node_of: dict[bytes, int] = {}
    members: list[list[int]] = []
    for i, p in enumerate(photos):
        key = p.hash
        if key is not None and key in node_of:
            node = members[node_of[key]]
            if first is not None and first(p) and not first(photos[node[0]]):
                node.insert(0, i)
            else:
                node.append(i)
        else:
            if key is not None:
                node_of[key] = len(members)
            members.append([i])
    return members


def _grouped(
    photos: Sequence[Photo],
    members: list[list[int]],
    edges: dict[tuple[int, int], float],
    strictness: str,
    signature_rows: Callable[[list[int]], np.ndarray | None],
    edited: Callable[[str], bool | None] | None,
    sharp: Callable[[str], float | None] | None,
    cancel: CancelToken | None,
    before_keepers: Callable[[list[Photo]], None] | None = None,
) -> list[Group]:
    """Groups from the links between nodes (`_exact_copies`) at `strictness`, keepers chosen.
    `signature_rows` gives the signatures of rows of `photos` (for counted_as_framed), asked
    once for every photo of a group that is not only exact copies; `before_keepers` gets
    those photos too, before `edited` and `sharp` are asked."""
    if strictness == "exact":
        edges = {}
    elif strictness == "near":
        edges = {pair: rank for pair, rank in edges.items() if rank < _SIMILAR_RANK}

    def conflict(x: int, y: int) -> bool:
        return not _same_moment(photos[members[x][0]].taken, photos[members[y][0]].taken)

    centred = _centre_groups(len(members), edges, cancel, conflict)
    in_group = {node for nodes in centred for node in nodes}
    centred += [[node] for node, m in enumerate(members) if len(m) > 1 and node not in in_group]
    groups = []
    for nodes in centred:
        centre = nodes[0]
        worst = max((edges[(min(centre, o), max(centre, o))] for o in nodes[1:]), default=0.0)
        kind = "exact" if len(nodes) == 1 else ("similar" if worst >= _SIMILAR_RANK else "near")
        groups.append((Group([photos[i] for n in nodes for i in members[n]], kind), nodes))
    # (exact copies only: their keeper is the oldest file, nothing to read)
    compared = [g for g, _ in groups if g.kind != "exact"]
    rows = [i for g, nodes in groups if g.kind != "exact" for n in nodes for i in members[n]]
    framed = [set() for _ in compared]
    if compared:
        if before_keepers is not None:
            before_keepers([photos[i] for i in rows])
        pixels = signature_rows(rows)
        if pixels is not None:
            framed = counted_as_framed_many(compared, pixels)
    framed_of = {id(g): f for g, f in zip(compared, framed, strict=True)}
    out = []
    for group, _ in groups:
        seen = framed_of.get(id(group), set())
        choose_keeper(group, edited, lambda p, f=seen: p.path in f, sharp)
        out.append(group)
    out.sort(key=lambda g: (-len(g.photos), g.keeper.path))
    return out


# Certainty ranks of an edge: the centre grouping prefers surer links.
_NEAR_RANK = 1.0  # + (1 - agreement): surer near-copies first
_SIMILAR_RANK = 3.0  # + latent distance


class _Rows:
    """Rows `rows` of an array the caller holds, read on demand (a copy of 100,000 latents
    would take 275 MB); `scale` multiplies each row (1 / its length, for unit latents)."""

    def __init__(self, base: np.ndarray, rows: np.ndarray, scale: np.ndarray | None = None):
        self.base, self.rows, self.scale = base, rows, scale

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: np.ndarray | slice | int) -> np.ndarray:
        import numpy as np

        out = np.asarray(self.base[self.rows[index]], dtype=np.float32)
        if self.scale is not None:
            out = out * (self.scale[index][..., None] if out.ndim > 1 else self.scale[index])
        return out


class _Details:
    """The checks' detail images (`_normalised(sig.details(...))`, half floats) of signature
    rows, made when read, for a batch whose few pairs do not need the whole folder's."""

    def __init__(self, pix: _Rows):
        self.pix = pix

    def __getitem__(self, index: np.ndarray) -> np.ndarray:
        import numpy as np

        return _normalised(sig.details(self.pix[index])).astype(np.float16)


@dataclass(slots=True)
class _Evidence:
    """What the checks need about the nodes (one representative photo per distinct content)."""

    photos: list[Photo]  # the representatives
    pix: _Rows | None  # signatures, as floats on reading (m, SIDE, SIDE)
    det: np.ndarray | _Details | None  # their details, half floats
    has_sig: np.ndarray
    framed: np.ndarray  # looks_framed per node
    frames: np.ndarray | None  # sig.frames_of per node (-1 rows: no frame)
    aspect: np.ndarray  # width / height per node (1 when unknown)
    moment: np.ndarray  # (m, 3) codes for _same_moments: date, date to the second, has fraction
    lat: _Rows | None  # unit latents, on reading
    has_lat: np.ndarray
    thresholds: Thresholds | None


def _link_nodes(
    photos: Sequence[Photo],
    reps: np.ndarray,
    signatures: np.ndarray | None,
    latents: np.ndarray | None,
    thresholds: Thresholds | None,
    fresh: np.ndarray | None,
    known_of: Callable[[np.ndarray], dict[tuple[int, int], float]] | None,
    cancel: CancelToken | None,
) -> dict[tuple[int, int], float]:
    """The duplicate links between nodes (one representative row of `photos` each, `reps`):
    {(node a < node b): certainty rank}, near-copies and similar shots alike (the grouping
    picks by strictness).

    With `fresh` (a mask of nodes), only links with a fresh node are looked for; `known_of`
    gives the links found before that touch some of the given nodes, which only the last step
    below reads.
    """
    import numpy as np

    m = len(reps)
    if fresh is not None and fresh.all():
        fresh = None
    candidates: list[np.ndarray] = []
    rep_photos = [photos[i] for i in reps]
    ev = _Evidence(rep_photos, None, None, np.zeros(m, bool), np.zeros(m, bool), None,
                   _aspects(rep_photos), _moments(rep_photos), None, np.zeros(m, bool),
                   thresholds)  # fmt: skip
    if signatures is not None:
        ev.pix = _Rows(signatures, reps)
        ev.has_sig = np.zeros(m, bool)
        # Half floats, 2 kB a photo, each image zero-mean with values of unit root mean square
        # (every check is blind to brightness and contrast; the scores move by under 0.001).
        # A batch of new photos compares few pairs: their details are made when asked for
        # rather than kept for the whole folder (200 MB at 100,000 photos).
        kept = fresh is None
        ev.det = np.empty((m, sig.SIDE, sig.SIDE), np.float16) if kept else _Details(ev.pix)
        ev.framed = np.zeros(m, bool)
        blocks = np.empty((m, 8, 8), np.float32)
        for start in range(0, m, _CHUNK):
            part = ev.pix[start : start + _CHUNK]
            ev.has_sig[start : start + _CHUNK] = part.reshape(len(part), -1).any(axis=1)
            det = _normalised(sig.details(part))
            if kept:
                ev.det[start : start + _CHUNK] = det
            blocks[start : start + _CHUNK] = _blocks(det)
            ev.framed[start : start + _CHUNK] = looks_framed_many(part)
        ev.frames = np.full((m, 4), -1, np.int64)
        if ev.framed.any():
            ev.frames[ev.framed] = sig.frames_of(ev.pix[ev.framed])
        coarse = _coarse(blocks)
        coarse[~ev.has_sig] = 0.0
        every = np.arange(m)
        queries = [(every, coarse)]
        for k in (1, 2, 3):
            turned = _coarse(blocks, k)
            turned[~ev.has_sig] = 0.0
            queries.append((every, turned))
        # A framed photo (a screenshot of a photo) is looked up by what is inside its frame.
        rows = np.nonzero(ev.frames[:, 0] >= 0)[0]
        if len(rows):
            insides, _ = sig.unframed_many(ev.pix[rows])
            queries.append((rows, _coarse(_blocks(sig.details(insides)))))
        candidates.append(_candidates(coarse, queries, fresh, NEIGHBOURS, SIGNATURE_CANDIDATE))
        del queries
    if latents is not None and thresholds is not None:
        scale = np.zeros(m, np.float32)
        for start in range(0, m, _CHUNK):
            part = np.asarray(latents[reps[start : start + _CHUNK]], dtype=np.float32)
            norm = np.linalg.norm(part, axis=1)  # NaN for a photo without latents
            ok = np.isfinite(norm) & (norm > 0)
            scale[start : start + _CHUNK][ok] = 1.0 / norm[ok]
        ev.has_lat = scale > 0
        ev.lat = _Rows(latents, reps, scale)
        reach = max(thresholds.near_copy, thresholds.framed, thresholds.similar)
        candidates.append(_latent_neighbours(ev.lat, ev.has_lat, NEIGHBOURS, reach, fresh))
    if cancel is not None:
        cancel.raise_if_cancelled()
    edges: dict[tuple[int, int], float] = {}
    if not candidates:
        return edges
    found = np.concatenate(candidates)
    del candidates[:]  # (millions of pairs at 100,000 photos: not held twice)
    pairs = _distinct_pairs(found)
    del found
    _add_edges(pairs, ev, edges, cancel)
    # Neighbour lists are short (NEIGHBOURS): in a family bigger than that, two copies may never
    # meet as candidates, though both are duplicates of a third photo. Every two photos linked to
    # one photo are therefore checked too, once (the grouping needs the links to its centre):
    # over all its links, or its near-copy links only when those are few enough.
    known: dict[tuple[int, int], float] = {}
    if fresh is not None and known_of is not None and edges:
        # Every link of a fresh node is new; an old node linked to one also has older links,
        # and those are all the older links the step needs.
        ends = np.array(list(edges), dtype=np.int64).ravel()
        known = known_of(np.unique(ends[~fresh[ends]]))
    links: dict[int, list[int]] = {}
    near: dict[int, list[int]] = {}
    for (x, y), rank in (*known.items(), *edges.items()):
        for u, v in ((x, y), (y, x)):
            links.setdefault(u, []).append(v)
            if rank < _SIMILAR_RANK:
                near.setdefault(u, []).append(v)
    more = []
    for x, around in links.items():
        if len(around) > _MORE_UP_TO:
            around = near.get(x, [])
        if not 1 < len(around) <= _MORE_UP_TO:
            continue
        for i, y in enumerate(around):
            for z in around[i + 1 :]:
                if fresh is None or fresh[x] or fresh[y] or fresh[z]:
                    more.append((y, z))
    if more:
        extra = _distinct_pairs(np.array(more, dtype=np.int64))
        # (pairs as one integer each: a set of millions of tuples would take seconds)
        seen = [pairs[:, 0] * m + pairs[:, 1]]
        if known:
            seen.append(np.array([x * m + y for x, y in known], dtype=np.int64))
        extra = extra[~np.isin(extra[:, 0] * m + extra[:, 1], np.concatenate(seen))]
        if len(extra):
            _add_edges(extra, ev, edges, cancel)
    return edges


#: Photos linked to one photo whose every two are checked as well (see _link_nodes).
_MORE_UP_TO = 64


_CHUNK = 4096
#: The plain correlation of details (no pixel left out) under which a pair is not checked
#: further: a watermark over a plain sky lowers it to 0.43 at worst (calibration half).
_PLAIN_FLOOR = 0.35


def _normalised(details: np.ndarray) -> np.ndarray:
    """Detail images (n, SIDE, SIDE) with zero mean and unit root mean square each."""
    import numpy as np

    flat = details.reshape(len(details), -1)
    flat = flat - flat.mean(axis=1, keepdims=True)
    rms = np.sqrt((flat * flat).mean(axis=1, keepdims=True))
    return (flat / np.maximum(rms, 1e-6)).reshape(details.shape)


def _picture_scores(da: np.ndarray, db: np.ndarray) -> np.ndarray:
    """Near-copy score of each pair of `_normalised` detail images: the trimmed agreement,
    directly or turned, when it passes; -1 otherwise. The trimmed agreement (a sort per pair)
    is only computed where the plain correlation, a dot product, leaves a chance."""
    import numpy as np

    out = np.full(len(da), -1.0, np.float32)
    size = float(da[0].size) if len(da) else 1.0
    for k in (0, 1, 2, 3):
        rest = np.nonzero(out < 0)[0]
        if not len(rest):
            break
        turned = db[rest] if k == 0 else np.rot90(db[rest], k, axes=(1, 2))
        # (zero mean, unit root mean square: the correlation is the mean product)
        plain = np.einsum("nij,nij->n", da[rest], turned) / size
        maybe = np.nonzero(plain >= _PLAIN_FLOOR)[0]
        if len(maybe):
            same = sig.agreement(da[rest[maybe]], np.ascontiguousarray(turned[maybe]))
            ok = same >= (SAME_PICTURE if k == 0 else TURNED_PICTURE)
            out[rest[maybe[ok]]] = same[ok]
    return out


def _distinct_pairs(pairs: np.ndarray) -> np.ndarray:
    """Each unordered pair once, as (lower, higher), sorted; no pair of a row with itself."""
    import numpy as np

    lo, hi = np.minimum(pairs[:, 0], pairs[:, 1]), np.maximum(pairs[:, 0], pairs[:, 1])
    keep = lo != hi
    size = int(hi.max(initial=0)) + 1
    # One integer per pair: np.unique on rows (axis=0) sorts copies of them as records.
    keys = np.unique(lo[keep].astype(np.int64) * size + hi[keep])
    return np.stack([keys // size, keys % size], axis=1)


def _add_edges(
    pairs: np.ndarray,
    ev: _Evidence,
    edges: dict[tuple[int, int], float],
    cancel: CancelToken | None,
) -> None:
    """Check each pair and record the duplicates among them as edges."""
    import numpy as np

    if not len(pairs):
        return
    a, b = pairs[:, 0], pairs[:, 1]
    thresholds = ev.thresholds
    both_sig = ev.has_sig[a] & ev.has_sig[b]
    score = np.full(len(pairs), -1.0, np.float32)
    if ev.det is not None and both_sig.any():
        rows = np.nonzero(both_sig)[0]
        for start in range(0, len(rows), _CHUNK):  # bounded memory: ~40 MB a chunk
            part = rows[start : start + _CHUNK]
            score[part] = _picture_scores(_floats(ev.det[a[part]]), _floats(ev.det[b[part]]))
    ldist = np.full(len(pairs), np.inf, np.float32)
    if ev.lat is not None:
        for part in _chunks(np.nonzero(ev.has_lat[a] & ev.has_lat[b])[0]):
            ldist[part] = 1.0 - np.einsum("ij,ij->i", ev.lat[a[part]], ev.lat[b[part]])
    has_frame = ev.frames[:, 0] >= 0 if ev.frames is not None else None
    if ev.pix is not None:
        # A framed photo is compared with what is inside its frame. Pairs with a framed photo
        # are many (a sky or a wall makes flat edges too): they are first compared in the
        # frame as found, all at once, and searched around it only when that comes close.
        framed = np.nonzero(both_sig & (score < 0) & (has_frame[a] | has_frame[b]))[0]
        for part in _chunks(framed):
            pa, pb = _floats(ev.pix[a[part]]), _floats(ev.pix[b[part]])
            est = np.maximum(sig.framed_estimates(pa, pb), sig.framed_estimates(pb, pa))
            for idx in part[est >= FRAMED_LOOK]:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                pa, pb = _floats(ev.pix[a[idx]]), _floats(ev.pix[b[idx]])
                best = max(sig.framed_agreement(pa, pb), sig.framed_agreement(pb, pa))
                if best >= CONTAINED_PICTURE:
                    score[idx] = best
    if thresholds is not None and ev.pix is not None:
        # Crops: only between photos the latents call close (the model's calibrated crop
        # distance) and not already near-copies. The window search (~2 ms a pair) only runs
        # where the estimate for all pairs at once (sig.contained_estimates) comes close.
        crop = np.nonzero(both_sig & (score < 0) & (ldist <= thresholds.near_copy))[0]
        for part in _chunks(crop):
            if cancel is not None:
                cancel.raise_if_cancelled()
            ra, rb = ev.aspect[a[part]], ev.aspect[b[part]]
            da, db = _floats(ev.det[a[part]]), _floats(ev.det[b[part]])
            ahead = sig.contained_estimates(da, db, ra / rb)
            back = sig.contained_estimates(db, da, rb / ra)
            # The window search finds framed copies too; the profiles that locate a crop are
            # thrown by a frame's edges, so a framed photo's inside is estimated as well.
            for big, small, est in ((a, b, ahead), (b, a, back)):
                rows = np.nonzero(has_frame[big[part]])[0]
                if len(rows):
                    pb, ps = _floats(ev.pix[big[part[rows]]]), _floats(ev.pix[small[part[rows]]])
                    est[rows] = np.maximum(est[rows], sig.framed_estimates(pb, ps))
            # The full search, all the pairs of the part at once: `a` inside `b` first, then
            # the other way round for the pairs that did not match that way.
            hopeless = CONTAINED_PICTURE - 0.08
            best = np.full(len(part), -1.0, np.float32)
            for big, small, est, ratio in ((a, b, ahead, ra / rb), (b, a, back, rb / ra)):
                go = np.nonzero((est >= CROP_LOOK) & (best < CONTAINED_PICTURE))[0]
                if len(go):
                    found = sig.contained_agreements(
                        _floats(ev.pix[big[part[go]]]),
                        _floats(ev.pix[small[part[go]]]),
                        ratio[go],
                        hopeless,
                    )
                    best[go] = np.maximum(best[go], found)
            hit = best >= CONTAINED_PICTURE
            score[part[hit]] = best[hit]
    # Taken at different moments: two shots (a burst), however alike, not a copy. Copies keep
    # the original's EXIF date, or lose it; they do not get another one.
    score[~_same_moments(ev.moment[a], ev.moment[b])] = -1.0
    for idx in np.nonzero(score >= 0)[0]:
        edges[(int(a[idx]), int(b[idx]))] = _NEAR_RANK + (1.0 - float(score[idx]))
    if thresholds is not None:
        for idx in np.nonzero((score < 0) & (ldist <= thresholds.similar))[0]:
            edges[(int(a[idx]), int(b[idx]))] = _SIMILAR_RANK + float(ldist[idx])


#: Estimates from which a pair gets the full search: sig.contained_estimates (for a crop) and
#: sig.framed_estimates (for a framed copy). Measured on every check the full searches made
#: in benchmarks/duplicates.py's set: of the crops they confirm, 2 in 395 estimate lower than
#: CROP_LOOK (the window located elsewhere); of the framed copies, none lower than 0.515. On
#: the real photos of benchmarks/duplicates_scale.py, 3 % of the other crop candidates and
#: under 1 % of the other framed ones reach these.
CROP_LOOK = 0.6
FRAMED_LOOK = 0.5


def _chunks(rows: np.ndarray, size: int = 2048) -> list[np.ndarray]:
    """`rows` in parts small enough to keep the per-pair work arrays in a few MB."""
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def _floats(pixels: np.ndarray) -> np.ndarray:
    import numpy as np

    return np.asarray(pixels, dtype=np.float32)


def _moments(photos: Sequence[Photo]) -> np.ndarray:
    """Per photo, what _same_moments compares, as integers: (the date taken, the date to the
    second, 1 when it has a fraction of a second); -1 dates for a photo without one."""
    import numpy as np

    codes: dict[str, int] = {}
    out = np.full((len(photos), 3), -1, np.int64)
    for i, p in enumerate(photos):
        if p.taken:
            out[i, 0] = codes.setdefault(p.taken, len(codes))
            out[i, 1] = codes.setdefault("s" + p.taken[:19], len(codes))
            out[i, 2] = int("." in p.taken)
    return out


def _same_moments(ma: np.ndarray, mb: np.ndarray) -> np.ndarray:
    """_same_moment for many pairs at once, on _moments codes."""
    import numpy as np

    undated = (ma[:, 0] < 0) | (mb[:, 0] < 0)
    both_fraction = (ma[:, 2] == 1) & (mb[:, 2] == 1)
    same = np.where(both_fraction, ma[:, 0] == mb[:, 0], ma[:, 1] == mb[:, 1])
    return undated | same


def _aspects(photos: Sequence[Photo]) -> np.ndarray:
    import numpy as np

    return np.array([_aspect(p) for p in photos], dtype=np.float32)


def _same_moment(ta: str | None, tb: str | None) -> bool:
    """False only when both photos have an EXIF date taken and the dates differ, to the
    fraction of a second when both have one (an index made before fractions were read has
    none: then to the second)."""
    if not ta or not tb:
        return True
    if "." in ta and "." in tb:
        return ta == tb
    return ta[:19] == tb[:19]


def _aspect(p: Photo) -> float:
    if p.width and p.height:
        return p.width / p.height
    return 1.0


def _centre_groups(
    nodes: int,
    edges: dict[tuple[int, int], float],
    cancel: CancelToken | None,
    conflict: Callable[[int, int], bool] | None = None,
) -> list[list[int]]:
    """Groups around a centre: each group is one photo and photos that are each a duplicate of
    it. The photo with the most duplicates not yet grouped is the next centre (ties: the surer
    links), so an original with all its copies forms one group; two members of a group are
    never more than two links apart, whatever the chain of look-alikes around them, and two
    photos `conflict` says are different never join one group."""
    import heapq

    links: dict[int, dict[int, float]] = {}
    for (a, b), rank in edges.items():
        links.setdefault(a, {})[b] = rank
        links.setdefault(b, {})[a] = rank
    grouped: set[int] = set()
    refused: set[int] = set()  # kept out of a group as a different shot: may lead its own

    def priority(node: int) -> tuple[int, float, int]:
        free = [r for other, r in links[node].items() if other not in grouped]
        return (-len(free), sum(free), node)

    heap = [priority(node) for node in links]
    heapq.heapify(heap)
    groups = []
    while heap:
        if cancel is not None and len(groups) % 1024 == 0:
            cancel.raise_if_cancelled()
        entry = heapq.heappop(heap)
        node = entry[2]
        if node in grouped:
            continue
        current = priority(node)
        if current != entry:  # stale: some of its duplicates joined another group meanwhile
            heapq.heappush(heap, current)
            continue
        members = [node]
        for o in sorted((o for o in links[node] if o not in grouped), key=lambda o: links[node][o]):
            # Two photos known to be different shots (their dates say so) never share a group,
            # even when a dateless copy looks like both.
            if conflict is None or not any(conflict(o, m) for m in members):
                members.append(o)
            else:
                refused.add(o)
        if len(members) < 2:
            continue
        grouped.update(members)
        groups.append(members)
    return _closest_centre(groups, [r for r in refused if r not in grouped], links, conflict)


def _closest_centre(
    groups: list[list[int]],
    refused: list[int],
    links: dict[int, dict[int, float]],
    conflict: Callable[[int, int], bool] | None,
) -> list[list[int]]:
    """Move each member to the centre it is surest to be a copy of. The greedy pass gives a
    photo to the first centre that wants it; a copy of the second of two near-identical shots
    belongs with that second one."""
    centres = [g[0] for g in groups] + sorted(refused)
    is_centre = set(centres)
    home: dict[int, int] = {}
    for g in groups:
        for node in g[1:]:
            options = [
                c
                for c in links[node]
                if c in is_centre and (conflict is None or not conflict(node, c))
            ]
            home[node] = min(options, key=lambda c: (links[node][c], c)) if options else g[0]
    out: dict[int, list[int]] = {c: [c] for c in centres}
    # (a shot kept out of a group it conflicts with leads a group of the copies closer to it)
    for node, c in home.items():
        out[c].append(node)
    # A centre left alone joins the centre it is closest to, if it is a copy of one.
    for c in centres:
        if len(out[c]) == 1:
            others = [o for o in links[c] if o in is_centre and len(out[o]) > 1]
            others = [o for o in others if conflict is None or not conflict(c, o)]
            if others:
                out[min(others, key=lambda o: (links[c][o], o))].append(c)
                out[c] = []
    return [
        [g[0], *sorted(g[1:], key=lambda o: links[g[0]][o])] for g in out.values() if len(g) > 1
    ]


# -- which one to keep -------------------------------------------------------------------------


def _edited(path: str) -> bool | None:
    """True when the file's EXIF names editing software, None when it cannot be told."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            if img.format not in ("JPEG", "MPO", "TIFF", "HEIF", "WEBP"):
                return None  # a PNG's EXIF may follow its pixels: not worth decoding them
            software = img.getexif().get(305)
    except Exception:
        return None
    if not software:
        return False
    text = str(software).lower()
    # Cameras and phones write their firmware here too; editors are what matter.
    editors = (
        "photoshop",
        "lightroom",
        "gimp",
        "snapseed",
        "picasa",
        "paint",
        "editor",
        "darktable",
    )
    return any(e in text for e in editors)


#: Side of the common scale sharpness is measured at (long side, pixels).
SHARPNESS_SIDE = 512
#: A photo is "blurred" beside the sharpest photo of the same size in its group when its
#: sharpness is under this share of it. Measured on the calibration half of
#: benchmarks/duplicates.py: a Gaussian blur of 0.7 px leaves a median 0.49 of the original's
#: (1.5 px: 0.15), while copies people make stay above it the other way round (a watermark
#: made a copy at most 1.61x "sharper" than its original, a re-saved quarter turn 1.36x), so no
#: such copy ever wins over its original on sharpness.
SHARP_ENOUGH = 0.55
_SHARPNESS_TILES = 8  # per side


def sharpness(path: str) -> float | None:
    """How much fine detail the photo holds, None when it cannot be read.

    The absolute Laplacian of the grey image at a common scale (long side SHARPNESS_SIDE),
    averaged in 8 x 8 tiles; the median tile, over the image's contrast. The median of tiles,
    not the variance of the whole, because a watermark or a text adds strong edges to a few
    tiles only (with the variance a watermarked copy measured up to 35x "sharper" than its
    original); dividing by the contrast keeps a brightened or contrast-boosted copy level with
    its original. Blur (motion, a missed focus) and heavy compression lower it.
    """
    import numpy as np
    from PIL import Image

    from photosort.core.decode import open_upright
    from photosort.core.errors import DecodeError

    try:
        img = open_upright(path, (SHARPNESS_SIDE, SHARPNESS_SIDE))
    except (DecodeError, OSError):
        return None
    img.thumbnail((SHARPNESS_SIDE, SHARPNESS_SIDE), Image.Resampling.BOX)
    g = np.asarray(img.convert("L"), np.float32)
    if min(g.shape) < 3 * _SHARPNESS_TILES:
        return None
    lap = np.abs(4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:])
    t = _SHARPNESS_TILES
    th, tw = lap.shape[0] // t, lap.shape[1] // t
    tiles = lap[: th * t, : tw * t].reshape(t, th, t, tw).mean(axis=(1, 3))
    return float(np.median(tiles) / max(float(g.std()), 1.0))


def choose_keeper(
    group: Group,
    edited: Callable[[str], bool | None] | None = None,
    framed: Callable[[Photo], bool] | None = None,
    sharp: Callable[[str], float | None] | None = None,
) -> None:
    """Put the photo most worth keeping first and say why, from what is measurable, in order:
    most pixels (a copy inside a frame, a screenshot, does not count as larger); not blurred
    (sharpness, among the photos of the largest size: a burst's shots, same-size copies); not
    edited (EXIF software tag); has the earliest date taken; the older file (copies are made
    after their original); least compressed (bytes per pixel, compared within one format); the
    shortest name (copies get suffixes).

    Sharpness is only a tier (blurred or not, SHARP_ENOUGH), not a ranking: small differences
    in it say more about a watermark or an edit than about focus."""
    photos = group.photos
    if group.kind == "exact":
        photos.sort(key=lambda p: (p.mtime_ns, len(os.path.basename(p.path)), p.path))
        group.reason = "exact copies: the oldest file"
        return
    flags = {p.path: (edited(p.path) if edited else None) for p in photos}
    frames = {p.path: bool(framed and framed(p)) for p in photos}
    blurred = _blurred(photos, frames, sharp)

    def bpp(p: Photo) -> float:
        return p.size / p.pixels if p.pixels else 0.0

    def ext(p: Photo) -> str:
        return os.path.splitext(p.path)[1].lower()

    def key(p: Photo) -> tuple:
        return (
            frames[p.path],
            -p.pixels,
            blurred[p.path],
            flags[p.path] is True,
            p.taken is None,
            p.taken or "",
            p.mtime_ns,
            ext(p),
            -bpp(p),
            len(os.path.basename(p.path)),
            p.path,
        )

    photos.sort(key=key)
    best, runner = photos[0], photos[1]
    mp = best.pixels / 1e6
    if frames[runner.path] and not frames[best.path]:
        group.reason = "the others are framed or screenshots"
    elif best.pixels > runner.pixels:
        group.reason = (
            f"largest, {mp:.1f} MP" if mp >= 0.1 else f"largest, {best.width}×{best.height}"
        )
    elif blurred[runner.path] and not blurred[best.path]:
        group.reason = "sharpest"
    elif flags[runner.path] is True and flags[best.path] is not True:
        group.reason = "not edited"
    elif best.taken and (runner.taken is None or best.taken < runner.taken):
        group.reason = "has the original date taken"
    elif best.mtime_ns < runner.mtime_ns:
        group.reason = "same size: the oldest file"
    elif ext(best) == ext(runner) and bpp(best) > bpp(runner):
        group.reason = f"least compressed, {bpp(best):.1f} bytes per pixel"
    else:
        group.reason = "same size and quality: the shortest name"


def _blurred(
    photos: list[Photo], frames: dict[str, bool], sharp: Callable[[str], float | None] | None
) -> dict[str, bool]:
    """Which photos are blurred beside the sharpest one; only the photos that tie for the
    most pixels are read (a resized copy loses on pixels anyway), so most groups read none."""
    out = dict.fromkeys((p.path for p in photos), False)
    if sharp is None:
        return out
    top = min((frames[p.path], -p.pixels) for p in photos)
    tied = [p.path for p in photos if (frames[p.path], -p.pixels) == top]
    if len(tied) < 2:
        return out
    values = {path: sharp(path) for path in tied}
    known = [v for v in values.values() if v is not None]
    if not known:
        return out
    best = max(known)
    for path, v in values.items():
        out[path] = v is not None and v < SHARP_ENOUGH * best
    return out


def counted_as_framed(group: Group, signature_of: Callable[[Photo], np.ndarray]) -> set[str]:
    """Paths of the group's photos that must not win the keeper by their pixel count: a copy
    inside a frame or a screenshot, whose pixels overstate the picture.

    Flat edges alone (looks_framed) also describe a photo of a white wall or a studio shot, and
    then every full copy of it "looks framed" and a crop, the one that does not, would be
    kept. So the group's *main picture* is found first: the photos that are the same picture,
    full frame, as the most other distinct files of the group (the original and its resized,
    re-compressed, brightened, watermarked copies agree with each other; a crop or a framed
    copy agrees with few). Counted as framed: a photo outside the main picture that looks
    framed or has more pixels than the main picture's largest (a frame adds pixels, a crop
    never does); without a main picture (a burst of shots), a photo that looks framed.
    """
    import numpy as np

    pixels = np.stack([np.asarray(signature_of(p), np.float32) for p in group.photos])
    return counted_as_framed_many([group], pixels)[0]


def counted_as_framed_many(groups: list[Group], pixels: np.ndarray) -> list[set[str]]:
    """counted_as_framed of each group; `pixels` holds the signatures of every group's photos,
    group after group. The pictures are compared for all groups at once (a folder of 100,000
    photos has thousands of groups)."""
    import numpy as np

    pixels = np.asarray(pixels, np.float32)
    looks = looks_framed_many(pixels)
    starts = np.cumsum([0] + [len(g.photos) for g in groups])
    pair_a, pair_b = [], []
    for g, at in zip(groups, starts, strict=False):
        if 1 < len(g.photos) <= _MAIN_PICTURE_UP_TO:
            a, b = np.triu_indices(len(g.photos), 1)
            pair_a.append(a + at)
            pair_b.append(b + at)
    same = np.zeros(0, bool)
    a_all = b_all = np.zeros(0, np.int64)
    if pair_a:
        a_all, b_all = np.concatenate(pair_a), np.concatenate(pair_b)
        det = _normalised(sig.details(pixels))
        same = np.concatenate([
            _picture_scores(det[a_all[p]], det[b_all[p]]) >= 0
            for p in _chunks(np.arange(len(a_all)), _CHUNK)
        ])  # fmt: skip
    # Pairs of one group lie together in a_all (groups in order): split by group.
    bounds = np.searchsorted(a_all, starts)
    out = []
    for k, g in enumerate(groups):
        photos, at = g.photos, int(starts[k])
        n = len(photos)
        main = np.zeros(n, bool)
        if 1 < n <= _MAIN_PICTURE_UP_TO:
            lo, hi = bounds[k], bounds[k + 1]
            ok = same[lo:hi]
            # Files with the same bytes are one photo: each photo counts the distinct pictures
            # it agrees with, so an exact copy neither adds to its original's count nor,
            # agreeing with both, lifts a resized copy above them.
            content = [p.hash if p.hash is not None else i for i, p in enumerate(photos)]
            seen: list[set] = [set() for _ in photos]
            for i, j in zip(a_all[lo:hi][ok] - at, b_all[lo:hi][ok] - at, strict=True):
                if content[i] != content[j]:
                    seen[i].add(content[j])
                    seen[j].add(content[i])
            agree = np.array([len(x) for x in seen])
            if agree.max() > 0:
                main = agree == agree.max()
        flat = looks[at : at + n]
        if not main.any():
            out.append({p.path for p, f in zip(photos, flat, strict=True) if f})
            continue
        largest = max(p.pixels for p, m in zip(photos, main, strict=True) if m)
        out.append({
            p.path
            for p, f, m in zip(photos, flat, main, strict=True)
            if not m and (f or p.pixels > largest)
        })  # fmt: skip
    return out


#: Groups bigger than this skip the main-picture search (n^2 comparisons); few are.
_MAIN_PICTURE_UP_TO = 64


def looks_framed(pixels: np.ndarray) -> bool:
    """True when three or four edges of a signature are flat bands: a photo inside a frame
    or a screenshot, whose pixel count overstates the picture."""
    return bool(looks_framed_many(pixels[None])[0])


def looks_framed_many(pixels: np.ndarray) -> np.ndarray:
    """looks_framed of each signature (n, SIDE, SIDE)."""
    import numpy as np

    pixels = np.asarray(pixels, np.float32)
    # The middle of each outermost line: a title bar spans the top corners of the side margins.
    lo, hi = sig.SIDE // 5, sig.SIDE - sig.SIDE // 5
    edges = (pixels[:, 0, lo:hi], pixels[:, -1, lo:hi], pixels[:, lo:hi, 0], pixels[:, lo:hi, -1])
    return sum((e.std(axis=1) < 3.0).astype(int) for e in edges) >= 3


# -- from the store -------------------------------------------------------------------------


#: Bumped whenever what a stored link means, or how links are found, changes: the links a
#: store holds from an older finder are then looked for again, never mixed with new ones.
LINKS_VERSION = 1


def links_recipe(info: ModelInfo) -> str:
    """What the store's duplicate links of `info`'s model are valid for: the model and its
    version (its latents), its calibrated thresholds and the finder's LINKS_VERSION."""
    t = Thresholds.of(info)
    values = "none" if t is None else f"{t.near_copy:.6g},{t.framed:.6g},{t.similar:.6g}"
    return f"{info.id}|{info.version}|{values}|{LINKS_VERSION}"


def link_duplicates(
    store: Store,
    folder: str | os.PathLike[str],
    info: ModelInfo,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> list[str]:
    """Look for the duplicates of the photos under `folder` that were not looked for yet and
    keep the links found in the store; returns notes for the user (photos that could not be
    read). The indexer calls this when it has indexed new photos, so that grouping a large
    folder is a read of links: photos already checked are only compared with the new ones
    (both ways), and a folder where nothing changed costs one query.

    Photos indexed before signatures existed get one now (their file is read once)."""

    folder = os.path.abspath(os.fspath(folder))
    photos = [Photo(*r[:8]) for r in store.duplicate_facts_under(folder, info.id, blobs=False)]
    return _link_new(store, folder, info, photos, progress, cancel)[0]


def _link_new(
    store: Store,
    folder: str,
    info: ModelInfo,
    photos: list[Photo],
    progress: ProgressCallback,
    cancel: CancelToken | None,
) -> tuple[list[str], list[list[int]]]:
    """link_duplicates, given the facts of the folder's photos (without their signatures and
    latents, which are only read when some photo was not looked at yet). Also returns the
    photos' exact copies (`_exact_copies`), for the grouping that follows."""
    import numpy as np

    recipe = links_recipe(info)
    checked = store.duplicate_checked_under(folder, recipe)
    given = _exact_copies(photos, lambda p: p.id in checked)
    if len(photos) < 2 or all(photos[m[0]].id in checked for m in given):
        return [], given
    photos, signatures, latents, missing = _facts_as_arrays(store, folder, info, len(photos))
    members = _exact_copies(photos, lambda p: p.id in checked)
    reps = np.array([m[0] for m in members])
    fresh = np.array([photos[i].id not in checked for i in reps])
    notes: list[str] = []
    if missing:
        made = _make_signatures([photos[i] for i in missing], progress, cancel)
        store.put_signatures((photos[i].id, s) for i, s in zip(missing, made, strict=True) if s)
        for i, s in zip(missing, made, strict=True):
            if s is not None:
                signatures[i] = sig.as_array([s])[0]
        unreadable = sum(1 for s in made if s is None)
        if unreadable:
            notes.append(
                f"{unreadable} photos could not be read again and are compared as exact copies only"
            )
    node_of = _node_of_ids(photos, members)

    def known_of(nodes: np.ndarray) -> dict[tuple[int, int], float]:
        ids = [photos[i].id for node in nodes for i in members[node]]
        return _edges_between(store.duplicate_links_of(recipe, ids), node_of)

    found = _link_nodes(
        photos, reps, signatures, latents, Thresholds.of(info), fresh, known_of, cancel
    )
    has_latent = None if latents is None else ~np.isnan(latents[:, 0])
    as_read = {
        p.id: (p.hash, p.size, p.mtime_ns, None if has_latent is None else bool(has_latent[i]))
        for i, p in enumerate(photos)
    }
    store.put_duplicate_links(
        recipe,
        info.id,
        ((photos[reps[x]].id, photos[reps[y]].id, r) for (x, y), r in found.items()),
        (photos[reps[x]].id for x in np.nonzero(fresh)[0]),
        folder,
        as_read,
    )
    return notes, given


class FileFacts:
    """What choosing keepers reads from the photos' files, each read once and kept in the
    store: the editor tag of every grouped photo (its EXIF only, read in threads up front) and
    the sharpness of the photos `choose_keeper` asks about (those tied for the most pixels;
    a decode each, so only on demand). Exact copies are read once."""

    def __init__(
        self, store: Store, photos: Sequence[Photo], cancel: CancelToken | None = None
    ) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.store = store
        self.photo = {p.path: p for p in photos}
        self.known = store.keeper_facts_of(p.id for p in photos)
        self.found: dict[int, list[float | None]] = {}  # photo id -> [sharpness, edited]
        self._same: dict[bytes | str, tuple[float | None, float | None]] = {}
        unread = [p for p in photos if self.known.get(p.id, (None, None))[1] is None]
        if unread:
            with ThreadPoolExecutor(max(1, min(8, os.cpu_count() or 1))) as pool:
                tags = list(pool.map(lambda p: _edited(p.path), unread))
            if cancel is not None:
                cancel.raise_if_cancelled()
            for p, tag in zip(unread, tags, strict=True):
                self._remember(p, None, _UNKNOWN if tag is None else float(tag))

    def _remember(self, p: Photo, sharp: float | None, edited: float | None) -> None:
        old_sharp, old_edited = self.known.get(p.id, (None, None))
        value = (
            sharp if sharp is not None else old_sharp,
            edited if edited is not None else old_edited,
        )
        self.known[p.id] = value
        self.found[p.id] = list(value)

    def edited(self, path: str) -> bool | None:
        tag = self.known.get(self.photo[path].id, (None, None))[1]
        return None if tag is None or tag == _UNKNOWN else bool(tag)

    def sharp(self, path: str) -> float | None:
        p = self.photo[path]
        value = self.known.get(p.id, (None, None))[0]
        if value is None:
            key = p.hash if p.hash is not None else p.path
            if key not in self._same:
                measured = sharpness(path)
                self._same[key] = (_UNKNOWN if measured is None else measured, None)
            value = self._same[key][0]
            self._remember(p, value, None)
        return None if value == _UNKNOWN else value

    def save(self) -> None:
        if self.found:
            self.store.put_keeper_facts((i, s, e) for i, (s, e) in self.found.items())
            self.found = {}


#: Stored for "the file could not tell" (NULL is "not read yet").
_UNKNOWN = -1.0


def _facts_as_arrays(
    store: Store, folder: str, info: ModelInfo, expected: int
) -> tuple[list[Photo], np.ndarray, np.ndarray | None, list[int]]:
    """The folder's photos with their signatures (zeros where missing) and, when the model
    has thresholds, latents (NaN where missing), filled row by row from the store: holding the
    rows' blobs first would double the peak (~4 kB a photo). Last, the rows without a
    signature."""
    import numpy as np

    size = info.latent_size
    with_latents = Thresholds.of(info) is not None
    capacity = max(expected, 1)
    # (empty, not zeros or NaN: every row is written below, and filling 100,000 latents with
    # NaN first took 0.65 s)
    signatures = np.empty((capacity, sig.SIDE, sig.SIDE), np.uint8)
    latents = np.empty((capacity, size), np.float32) if with_latents else None
    photos: list[Photo] = []
    missing: list[int] = []
    for r in store.iter_duplicate_facts_under(folder, info.id):
        i = len(photos)
        if i == capacity:  # (photos indexed since the count: rare)
            capacity *= 2
            signatures = np.resize(signatures, (capacity, sig.SIDE, sig.SIDE))
            if latents is not None:
                latents = np.resize(latents, (capacity, size))
        photos.append(Photo(*r[:8]))
        if r[8] is not None and len(r[8]) == sig.SIDE * sig.SIDE:
            signatures[i] = np.frombuffer(r[8], np.uint8).reshape(sig.SIDE, sig.SIDE)
        else:
            signatures[i] = 0
            missing.append(i)
        if latents is not None:
            if r[9] is not None and len(r[9]) == 4 * size:
                latents[i] = np.frombuffer(r[9], np.float32)
            else:
                latents[i] = np.nan
    n = len(photos)
    return photos, signatures[:n], None if latents is None else latents[:n], missing


def _node_of_ids(photos: Sequence[Photo], members: list[list[int]]) -> dict[int, int]:
    return {photos[i].id: node for node, rows in enumerate(members) for i in rows}


def _edges_between(
    links: list[tuple[int, int, float]], node_of: dict[int, int]
) -> dict[tuple[int, int], float]:
    """Stored links (photo ids) as edges between nodes, those with both photos in `node_of`
    (the folder's); the surest link where several join two nodes."""
    edges: dict[tuple[int, int], float] = {}
    for a, b, rank in links:
        x, y = node_of.get(a), node_of.get(b)
        if x is None or y is None or x == y:
            continue
        key = (min(x, y), max(x, y))
        edges[key] = min(rank, edges.get(key, rank))
    return edges


def find_duplicates(
    store: Store,
    folder: str | os.PathLike[str],
    info: ModelInfo,
    strictness: str = DEFAULT_STRICTNESS,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> Report:
    """Group the indexed photos under `folder` (index it first), from the links the store
    keeps (link_duplicates looks for the missing ones first)."""

    _check_strictness(strictness)
    folder = os.path.abspath(os.fspath(folder))
    notes: list[str] = []
    photos = [Photo(*r[:8]) for r in store.duplicate_facts_under(folder, info.id, blobs=False)]
    members = None
    if strictness != "exact":
        notes, members = _link_new(store, folder, info, photos, progress, cancel)
        if Thresholds.of(info) is None:
            notes.append(
                f"the encoder {info.id} has no calibrated duplicate threshold: crops and similar "
                "shots are not looked for (exact copies and other near-copies are); "
                f"calibrate it with: python benchmarks/duplicates.py --calibrate --model {info.id}"
            )
    if cancel is not None:
        cancel.raise_if_cancelled()
    report = Report(strictness=strictness, photos=len(photos), notes=notes)
    members = members or _exact_copies(photos)
    edges: dict[tuple[int, int], float] = {}
    if strictness != "exact":
        # (the default strictness reads the near-copy links only: similar shots are many more)
        below = _SIMILAR_RANK if strictness == "near" else float("inf")
        node_of = _node_of_ids(photos, members)
        edges = _edges_between(
            store.duplicate_links(links_recipe(info), below, among=node_of), node_of
        )

    def signature_rows(rows: list[int]) -> np.ndarray:
        found = store.signatures_of(photos[i].id for i in rows)
        blank = bytes(sig.SIDE * sig.SIDE)
        return sig.as_array([found.get(photos[i].id) or blank for i in rows])

    files: list[FileFacts] = []
    report.groups = _grouped(
        photos,
        members,
        edges,
        strictness,
        signature_rows,
        lambda path: files[0].edited(path),
        lambda path: files[0].sharp(path),
        cancel,
        lambda grouped: files.append(FileFacts(store, grouped, cancel)),
    )
    if files:
        files[0].save()
    return report


def _make_signatures(
    photos: list[Photo], progress: ProgressCallback, cancel: CancelToken | None
) -> list[bytes | None]:
    from concurrent.futures import ThreadPoolExecutor

    from photosort.core.decode import open_upright
    from photosort.core.errors import DecodeError

    def one(p: Photo) -> bytes | None:
        if cancel is not None and cancel.cancelled:
            return None
        try:
            return sig.pixel_signature(open_upright(p.path, (sig.SIDE * 4, sig.SIDE * 4)))
        except (DecodeError, OSError):
            return None

    out: list[bytes | None] = []
    with ThreadPoolExecutor(max(1, min(8, os.cpu_count() or 1))) as pool:
        for i, s in enumerate(pool.map(one, photos)):
            out.append(s)
            if i % 32 == 0:
                progress(Progress(i, len(photos), photos[i].path))
    if cancel is not None and cancel.cancelled:
        raise Cancelled()
    return out
