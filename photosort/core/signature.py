"""Pixel signatures: a 32 x 32 grey thumbnail per photo, and the checks that compare two.

Latents say what a photo shows; they cannot tell a crop of a photo from another shot of the same
scene, and a photo turned on its side looks like a different one to them. The duplicate finder
therefore confirms every near-copy on the pixels themselves: the signature is made at index time
from pixels already decoded for the encoder (~0.1 ms, 1 kB per photo) and compared here with
normalised cross-correlation, which ignores brightness and contrast changes, after undoing a
quarter turn or finding where one photo sits inside the other (a crop, or a photo inside a
border).

Making a signature needs only Pillow (the indexer's decode threads run before numpy loads);
comparing them uses numpy.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from PIL import Image

if TYPE_CHECKING:
    import numpy as np

#: Side of the square signature, in pixels. 32 keeps a crop's edges (5-20 % of the side) a few
#: pixels wide, which is what the containment search needs; 1 kB per photo in the store.
SIDE = 32


def pixel_signature(img: Image.Image) -> bytes:
    """The photo squashed to SIDE x SIDE grey pixels (8-bit), as bytes."""
    return img.convert("L").resize((SIDE, SIDE), Image.Resampling.BOX).tobytes()


def as_array(signatures: list[bytes]) -> np.ndarray:
    """Signatures as a float32 array of shape (n, SIDE, SIDE)."""
    import numpy as np

    flat = np.frombuffer(b"".join(signatures), dtype=np.uint8)
    return flat.reshape(len(signatures), SIDE, SIDE).astype(np.float32)


# -- comparing -------------------------------------------------------------------------------

#: How much of the picture the agreement is measured on: the 10 % of pixels that disagree most
#: are left out, so a watermark or a date stamp in a corner does not hide a copy.
KEEP = 0.9
#: Width (pixels of the signature) of the blur whose removal leaves the details: what a copy
#: keeps and another photo with the same sky-over-land layout does not.
DETAIL_SIGMA = 3.0
#: Crops and frames the containment search tries: the smaller photo covers this much of the
#: larger one's width and height (crops to 80 %, photos in a screenshot's frame).
MIN_COVER = 0.72


def _blur_matrix(side: int, sigma: float) -> np.ndarray:
    import numpy as np

    x = np.arange(side)
    g = np.exp(-0.5 * ((x[:, None] - x[None, :]) / sigma) ** 2)
    # Edge pixels repeat outwards ("nearest"): their weight for the missing neighbours goes to
    # the edge pixel itself, so a flat picture stays flat.
    full = np.exp(-0.5 * (np.arange(-3 * side, 3 * side) / sigma) ** 2)
    for i in range(side):
        g[i, 0] += sum(full[3 * side + k - i] for k in range(-3 * side, 0))
        g[i, -1] += sum(full[3 * side + k - i] for k in range(side, 3 * side))
    return (g / g.sum(axis=1, keepdims=True)).astype(np.float32)


_BLUR: np.ndarray | None = None


def details(pixels: np.ndarray) -> np.ndarray:
    """Pixels (..., SIDE, SIDE) minus their blur: the detail the comparisons look at."""
    global _BLUR
    if _BLUR is None:
        _BLUR = _blur_matrix(SIDE, DETAIL_SIGMA)
    return pixels - _BLUR @ pixels @ _BLUR.T


def agreement(a: np.ndarray, b: np.ndarray, keep: float = KEEP) -> np.ndarray:
    """Trimmed normalised cross-correlation of detail images, row by row: 1 = the same picture
    (whatever the brightness and contrast), ~0 = unrelated. a, b: (n, SIDE, SIDE), broadcast."""
    import numpy as np

    a, b = np.broadcast_arrays(a, b)
    a = _unit(a.reshape(len(a), -1))
    b = _unit(b.reshape(len(b), -1))
    if keep >= 1.0:
        return np.einsum("ij,ij->i", a, b)
    k = min(int(a.shape[1] * keep), a.shape[1] - 1)
    worst_last = np.argpartition((a - b) ** 2, k, axis=1)[:, :k]
    return _correlation(np.take_along_axis(a, worst_last, 1), np.take_along_axis(b, worst_last, 1))


def unit_rows(pixels: np.ndarray) -> np.ndarray:
    """Images (n, SIDE, SIDE) as zero-mean, unit-length rows (n, SIDE * SIDE)."""
    return _unit(pixels.reshape(len(pixels), -1))


def _unit(x: np.ndarray) -> np.ndarray:
    import numpy as np

    x = x - x.mean(axis=1, keepdims=True)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-6)


def _correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    import numpy as np

    a = _unit(a)
    b = _unit(b)
    return np.einsum("ij,ij->i", a, b)


def turned_agreement(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The best agreement of `a` with `b` turned a quarter either way or upside down (a photo
    rotated in a viewer and saved without an EXIF orientation)."""
    import numpy as np

    return np.max([agreement(a, np.rot90(b, k, axes=(-2, -1))) for k in (1, 2, 3)], axis=0)


def _windows(aspect_ratio: float) -> np.ndarray:
    return _coarse_windows(round(float(aspect_ratio), 2))


@functools.lru_cache(maxsize=256)
def _coarse_windows(aspect_ratio: float) -> np.ndarray:
    """(x0, y0, sx, sy) of every window tried inside the larger photo, as fractions.

    `aspect_ratio` is the ratio of the two photos' (width / height): a crop keeps the pixel
    aspect, so the window's height fraction follows from its width fraction.
    """
    import numpy as np

    out = []
    step = 2.0 / SIDE
    for sx in np.arange(MIN_COVER, 1.0001, 0.04):
        sy = sx * aspect_ratio
        if not MIN_COVER <= sy <= 1.0001:
            continue
        sy = min(sy, 1.0)
        for x0 in np.arange(0.0, 1.0 - sx + 1e-6, step):
            for y0 in np.arange(0.0, 1.0 - sy + 1e-6, step):
                out.append((x0, y0, sx, sy))
    return np.asarray(out, dtype=np.float32).reshape(-1, 4)


def _interpolation(starts: np.ndarray, spans: np.ndarray) -> np.ndarray:
    """(n, SIDE, SIDE) matrices that resample SIDE pixels to the window [start, start + span]
    (fractions of the side), linearly: one matrix product per axis instead of gathers."""
    import numpy as np

    t = (np.arange(SIDE, dtype=np.float32) + 0.5) / SIDE
    pos = np.clip((starts[:, None] + spans[:, None] * t) * SIDE - 0.5, 0, SIDE - 1)
    lo = np.minimum(pos.astype(np.int64), SIDE - 2)
    frac = (pos - lo).astype(np.float32)
    m = np.zeros((len(starts), SIDE, SIDE), np.float32)
    np.put_along_axis(m, lo[:, :, None], (1 - frac)[:, :, None], axis=2)
    np.put_along_axis(m, lo[:, :, None] + 1, frac[:, :, None], axis=2)
    return m


def _sample(big: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """Bilinear samples of `big` (SIDE, SIDE) in each window, each (SIDE, SIDE)."""
    rows = _interpolation(windows[:, 1], windows[:, 3])
    cols = _interpolation(windows[:, 0], windows[:, 2])
    return rows @ big @ cols.transpose(0, 2, 1)


_PRE_BLUR: np.ndarray | None = None


def _framed_details(pixels: np.ndarray) -> np.ndarray:
    """Details of slightly blurred pixels, for the containment search: a window taken from the
    larger photo's signature is magnified, so it is softer than the smaller photo's own."""
    global _PRE_BLUR
    if _PRE_BLUR is None:
        _PRE_BLUR = _blur_matrix(SIDE, 1.0)
    return details(_PRE_BLUR @ pixels @ _PRE_BLUR.T)


#: Pixels at each edge left out of the containment comparison: at 32 px an edge pixel of a
#: framed photo is half frame, and a crop's edge pixel half something else.
EDGE = 3


def contained_agreement(
    big: np.ndarray, small: np.ndarray, aspect_ratio: float, give_up_below: float = -1.0
) -> float:
    """How well `small` matches some window of `big` covering MIN_COVER..100 % of each side
    (a crop of it, or it framed by a border): the best agreement over a coarse search, refined
    around the best window. Pixels, not details: (SIDE, SIDE) each. `aspect_ratio` is
    (big width / big height) / (small width / small height), from the photos' real sizes.

    A coarse best under `give_up_below` is returned without refining (the search's cost is
    mostly spent on pairs that are not copies). No pixels are trimmed here: a burst's next
    frame differs from its window by a strip at one edge, which trimming would forgive.
    """
    import numpy as np

    ratio = np.array([aspect_ratio], np.float32)
    return float(contained_agreements(big[None], small[None], ratio, give_up_below)[0])


#: Pairs searched together by contained_agreements: ~80 windows a pair, so ~0.5 MB a pair.
_SEARCH_BATCH = 32
#: Threads contained_agreements searches with, at most.
_SEARCH_THREADS = 4


def contained_agreements(
    big: np.ndarray, small: np.ndarray, aspect_ratio: np.ndarray, give_up_below: float = -1.0
) -> np.ndarray:
    """contained_agreement of many pairs at once: big, small (n, SIDE, SIDE) pixels, one
    aspect ratio per pair. Pairs whose coarse windows are the same (the same aspect ratio to
    two decimals, as crops keep it) are searched together, so the cost is a few large matrix
    products rather than a dozen small numpy calls per pair."""
    import numpy as np

    n = len(big)
    out = np.full(n, -1.0, np.float32)
    if n == 0:
        return out
    target = _inner_unit_rows(_framed_details(np.asarray(small, np.float32))[_INNER])
    ratios = np.asarray(aspect_ratio, np.float32)
    rounded = np.round(ratios.astype(np.float64), 2)
    jobs = []
    for ratio in np.unique(rounded):
        rows = np.nonzero(rounded == ratio)[0]  # (never empty: the ratio is one of theirs)
        parts = np.array_split(rows, -(-len(rows) // _SEARCH_BATCH))
        jobs += [(round(float(ratio), 2), part) for part in parts]

    def search(job: tuple[float, np.ndarray]) -> None:
        ratio, part = job
        bigs = np.asarray(big[part], np.float32)
        out[part] = _search_part(ratio, bigs, target[part], ratios[part], give_up_below)

    # numpy's matrix products let go of the GIL: the parts are searched on every core (the
    # indexer calls this when its encoding is done and the cores are free again), on four at
    # most (each part holds ~16 MB while it is searched).
    workers = min(len(jobs), os.cpu_count() or 1, _SEARCH_THREADS)
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(search, jobs))
    else:
        for job in jobs:
            search(job)
    return out


def _search_part(
    ratio: float, bigs: np.ndarray, target: np.ndarray, exact: np.ndarray, give_up_below: float
) -> np.ndarray:
    """contained_agreements of pairs whose aspect ratio rounds to `ratio`."""
    import numpy as np

    coarse = _windows(ratio)
    if not len(coarse):
        return np.full(len(bigs), -1.0, np.float32)
    a, rows_of, b = _coarse_window_matrices(ratio)
    scores = _window_scores(a[None], b[None], bigs, target, rows_of)
    best = scores.max(axis=1)
    # Refining moves a score by a few hundredths, not more: hopeless pairs stop here.
    go = best >= give_up_below
    if go.any():
        near, ok = _near_windows(coarse[np.argmax(scores[go], axis=1)], exact[go])
        na, nb = _window_matrices(near.reshape(-1, 4))
        per_pair = near.shape[:2]
        refined = _window_scores(
            na.reshape(*per_pair, *na.shape[1:]),
            nb.reshape(*per_pair, *nb.shape[1:]),
            bigs[go],
            target[go],
        )
        refined[~ok] = -np.inf
        best[go] = np.maximum(best[go], refined.max(axis=1))
    return best


#: The part of a (..., SIDE, SIDE) array the containment comparison looks at.
_INNER = (Ellipsis, slice(EDGE, SIDE - EDGE), slice(EDGE, SIDE - EDGE))


def _inner_unit_rows(x: np.ndarray) -> np.ndarray:
    return _unit(x.reshape(len(x), -1))


def _window_matrices(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For windows (m, 4): the linear maps that take a signature to the inner details of each
    window's sample, `_framed_details(_sample(big, w))[inner]`, as A @ big @ B summed over two
    terms (the pre-blurred sample, minus its blur): A (m, 2, inner, SIDE) for the rows, B
    (m, 2, SIDE, inner) for the columns, the second term's B negated."""
    import numpy as np

    global _BLUR, _PRE_BLUR
    if _BLUR is None:
        _BLUR = _blur_matrix(SIDE, DETAIL_SIGMA)
    if _PRE_BLUR is None:
        _PRE_BLUR = _blur_matrix(SIDE, 1.0)
    inner = slice(EDGE, SIDE - EDGE)

    def terms(starts: np.ndarray, spans: np.ndarray) -> np.ndarray:
        soft = _PRE_BLUR @ _interpolation(starts, spans)  # (m, SIDE, SIDE)
        return np.stack([soft[:, inner], (_BLUR @ soft)[:, inner]], axis=1)

    rows = terms(windows[:, 1], windows[:, 3])
    cols = terms(windows[:, 0], windows[:, 2])
    cols[:, 1] *= -1.0
    return rows, np.ascontiguousarray(cols.transpose(0, 1, 3, 2))


@functools.lru_cache(maxsize=64)
def _coarse_window_matrices(aspect_ratio: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """_window_matrices of the coarse windows, the row maps once per distinct (y0, height):
    a grid of windows has ~3.5 times fewer of those than windows, and the row map's product
    with the signature is half of a window's cost. Returns (rows, each window's row, cols)."""
    import numpy as np

    windows = _coarse_windows(aspect_ratio)
    heights, rows_of = np.unique(windows[:, [1, 3]], axis=0, return_inverse=True)
    rows, _ = _window_matrices(np.concatenate([heights, heights], axis=1)[:, [2, 0, 3, 1]])
    _, cols = _window_matrices(windows)
    return rows, rows_of.ravel(), cols


def _window_scores(
    a: np.ndarray,
    b: np.ndarray,
    bigs: np.ndarray,
    target: np.ndarray,
    rows_of: np.ndarray | None = None,
) -> np.ndarray:
    """Agreement (normalised cross-correlation) of each pair's target (p, inner * inner, unit
    rows) with the inner details of each of its windows of `bigs` (p, SIDE, SIDE); a, b: the
    windows' maps (`_window_matrices`), (p or 1, m, 2, inner, SIDE) and (p or 1, m, 2, SIDE,
    inner), or a holding distinct
    row maps that `rows_of` (m,) picks for each window. Returns (p, m)."""
    import numpy as np

    p, m = len(bigs), b.shape[1]
    k = SIDE - 2 * EDGE
    left = a @ bigs[:, None, None]  # (p, m or distinct rows, 2, inner, SIDE)
    if rows_of is not None:
        left = left[:, rows_of]
    det = (left[:, :, 0] @ b[:, :, 0] + left[:, :, 1] @ b[:, :, 1]).reshape(p, m, k * k)
    det -= det.mean(axis=2, keepdims=True)
    dot = np.einsum("pmi,pi->pm", det, target)
    return dot / np.maximum(np.linalg.norm(det, axis=2), 1e-6)


def _near_windows(best: np.ndarray, aspect_ratio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 27 windows around each best coarse window (p, 4): a step of a signature pixel either
    way along each axis, and of 0.02 in span, the height following the pair's own aspect ratio
    (p,); (p, 27, 4) and which of them fit in the photo."""
    import numpy as np

    d = np.array([-1.0, 0.0, 1.0], dtype=np.float32)
    fx, fy, fs = (a.ravel() for a in np.meshgrid(d / SIDE, d / SIDE, d * 0.02))
    x0, y0, sx = best[:, 0:1], best[:, 1:2], best[:, 2:3]
    near = np.stack([x0 + fx, y0 + fy, sx + fs, (sx + fs) * aspect_ratio[:, None]], axis=2).astype(
        np.float32
    )
    ok = (near[..., 2:] >= MIN_COVER).all(axis=2) & (near[..., 2:] <= 1).all(axis=2)
    ok &= (near[..., :2] >= 0).all(axis=2)
    ok &= (near[..., 0] + near[..., 2] <= 1.0001) & (near[..., 1] + near[..., 3] <= 1.0001)
    return near, ok


def frames_of(pixels: np.ndarray) -> np.ndarray:
    """(top, bottom, left, right) flat margins of each signature (n, SIDE, SIDE): how many of
    its outermost lines on each side are one flat colour, like a frame's; a row of -1 for a
    signature that has no frame (flat on fewer than three sides, or margins over half of it).
    """
    import numpy as np

    pixels = np.asarray(pixels, np.float32)
    lo, hi = SIDE // 5, SIDE - SIDE // 5  # a title bar spans the top of the side margins
    sides = (pixels, pixels[:, ::-1], pixels.transpose(0, 2, 1), pixels.transpose(0, 2, 1)[:, ::-1])
    margins = []
    for lines in sides:  # lines[:, k] is the k-th line from that edge
        flat = lines[:, :, lo:hi].std(axis=2) < 3.0
        margins.append(np.where(flat.all(axis=1), SIDE, np.argmin(flat, axis=1)))
    m = np.stack(margins, axis=1)
    ok = (
        ((m > 0).sum(axis=1) >= 3)
        & (m[:, 0] + m[:, 1] < SIDE // 2)
        & (m[:, 2] + m[:, 3] < SIDE // 2)
    )
    return np.where(ok[:, None], m, -1)


def frame_of(big: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) flat margins of a framed signature, None without a frame."""
    frame = frames_of(big[None])[0]
    return None if frame[0] < 0 else tuple(int(v) for v in frame)


def unframed(big: np.ndarray) -> np.ndarray | None:
    """What is inside the frame of a framed signature, resampled to SIDE x SIDE."""
    inside, ok = unframed_many(big[None])
    return inside[0] if ok[0] else None


def unframed_many(bigs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`unframed` of each signature (n, SIDE, SIDE), and which ones have a frame (the others'
    rows are their whole picture)."""
    import numpy as np

    frames = frames_of(bigs)
    ok = frames[:, 0] >= 0
    t, b, lf, r = np.where(ok[:, None], frames, 0).T.astype(np.float32)
    windows = np.stack([lf, t, SIDE - lf - r, SIDE - t - b], axis=1) / SIDE
    rows = _interpolation(windows[:, 1], windows[:, 3])
    cols = _interpolation(windows[:, 0], windows[:, 2])
    return rows @ np.asarray(bigs, np.float32) @ cols.transpose(0, 2, 1), ok


def framed_agreement(big: np.ndarray, small: np.ndarray) -> float:
    """How well `small` matches what is inside the flat frame of `big` (a screenshot of it,
    a photo on a page). The frame is found on the signature (flat outer rows and columns), then
    the inside is compared, trying each edge one pixel in or out. -1 when `big` has no frame."""
    import numpy as np

    frame = frame_of(big)
    if frame is None:
        return -1.0
    inner = np.s_[..., EDGE : SIDE - EDGE, EDGE : SIDE - EDGE]
    target = _framed_details(small)[None][inner]
    # The frame as found, then each of its edges one pixel in or out, twice over from the best
    # (18 windows rather than all 81 combinations: the edges' errors are independent).
    moves = np.array(
        [(0, 0, 0, 0)]
        + [
            tuple(step if i == edge else 0 for i in range(4))
            for edge in range(4)
            for step in (-1, 1)
        ],
        np.float32,
    )
    best_edges, best = np.array(frame, np.float32), -1.0
    for _ in range(2):
        t, b, lf, r = (best_edges + moves).T
        windows = np.stack([lf, t, SIDE - lf - r, SIDE - t - b], axis=1) / SIDE
        ok = (windows[:, :2] >= 0).all(axis=1) & (windows[:, 2:] >= MIN_COVER / 2).all(axis=1)
        ok &= (windows[:, 0] + windows[:, 2] <= 1.0001) & (windows[:, 1] + windows[:, 3] <= 1.0001)
        if not ok.any():
            break
        scores = agreement(_framed_details(_sample(big, windows[ok]))[inner], target, keep=1.0)
        k = int(np.argmax(scores))
        if scores[k] <= best:
            break
        best, best_edges = float(scores[k]), (best_edges + moves[ok][k])
    return best


# -- many pairs at once: where a crop sits, and how well it matches there ---------------------
#
# contained_agreement searches ~80 windows at full size for one pair (~2 ms). For 100,000
# photos the crop candidates are ~100,000 pairs, nearly all of them different shots of alike
# scenes, so the search is first done cheaply for all pairs at once: the window is located from
# the photos' 1-D profiles (a crop's column means are a stretch of the original's, and its row
# means too, whatever the other axis does within MIN_COVER), then the few best windows are
# compared at half size. Only pairs that look alike there get the full search.

#: Spans the located windows may have (fractions of the larger photo's side).
_SPANS = tuple(round(1.0 - 0.04 * i, 2) for i in range(8))  # 1.0 .. 0.72 (MIN_COVER)
#: Length the 1-D profiles are compared at, and side of the half-size comparison.
_PROFILE = 16
_HALF = 12
#: Located windows compared at half size per pair.
_TOP = 3
#: Spans of two axes are consistent with the photos' aspect ratios within this (log ratio).
_ASPECT_SLACK = 0.03


def _area_rows(starts: np.ndarray, spans: np.ndarray, n_in: int, n_out: int) -> np.ndarray:
    """(n, n_out, n_in): row o averages the input over the o-th of n_out equal parts of the
    window [start, start + span] (fractions of n_in): a resampling that smooths as it shrinks."""
    import numpy as np

    k = np.arange(n_out + 1, dtype=np.float32) / n_out
    edges = (starts[:, None] + spans[:, None] * k) * n_in  # (n, n_out + 1)
    lo, hi = edges[:, :-1, None], edges[:, 1:, None]
    i = np.arange(n_in, dtype=np.float32)
    w = np.clip(np.minimum(hi, i + 1) - np.maximum(lo, i), 0.0, None)
    return w / np.maximum(w.sum(axis=2, keepdims=True), 1e-9)


@functools.lru_cache(maxsize=1)
def _intervals() -> tuple[np.ndarray, np.ndarray]:
    """Every (start, span) a window may have along one axis, and the matrix taking a 32-value
    profile to each one's inner part (EDGE left out), _PROFILE values each."""
    import numpy as np

    iv = np.asarray(
        [(x0, s) for s in _SPANS for x0 in np.arange(0.0, 1.0 - s + 1e-6, 1.0 / SIDE)],
        np.float32,
    )
    e = EDGE / SIDE
    m = _area_rows(iv[:, 0] + e * iv[:, 1], iv[:, 1] * (1 - 2 * e), SIDE, _PROFILE)
    return iv, m.reshape(-1, SIDE)


@functools.lru_cache(maxsize=1)
def _by_span() -> np.ndarray:
    """(spans, most starts) indices of the intervals of each span; the padding points one
    past the last interval (a column of -inf the caller appends)."""
    import numpy as np

    iv, _ = _intervals()
    groups = [np.nonzero(np.isclose(iv[:, 1], s))[0] for s in _SPANS]
    width = max(len(g) for g in groups)
    return np.stack([np.pad(g, (0, width - len(g)), constant_values=len(iv)) for g in groups])


def _unit_last(x: np.ndarray) -> np.ndarray:
    import numpy as np

    x = x - x.mean(axis=-1, keepdims=True)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-6)


def _halved(det: np.ndarray) -> np.ndarray:
    """Means of 2 x 2 pixels (four strided sums: quicker than a mean over reshaped axes)."""
    return (det[:, 0::2, 0::2] + det[:, 1::2, 0::2] + det[:, 0::2, 1::2] + det[:, 1::2, 1::2]) / 4


def _inner_samples(half: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """The inner part (EDGE left out) of each window (x0, y0, sx, sy) of each half-size detail
    image (n, SIDE/2, SIDE/2), resampled to _HALF x _HALF, as zero-mean unit rows."""
    e = EDGE / SIDE
    h = SIDE // 2
    rows = _area_rows(windows[:, 1] + e * windows[:, 3], windows[:, 3] * (1 - 2 * e), h, _HALF)
    cols = _area_rows(windows[:, 0] + e * windows[:, 2], windows[:, 2] * (1 - 2 * e), h, _HALF)
    return _unit_last((rows @ half @ cols.transpose(0, 2, 1)).reshape(len(half), -1))


def contained_estimates(big: np.ndarray, small: np.ndarray, aspect_ratio: np.ndarray) -> np.ndarray:
    """For many pairs at once: about how well `small` matches some window of `big`, as
    contained_agreement measures it (a little lower; a pair scoring low here scores low
    there). big, small: detail images (`details`), (n, SIDE, SIDE); aspect_ratio as for
    contained_agreement, one per pair. ~0.1 ms a pair, against ~2 ms for the full search."""
    import numpy as np

    n = len(big)
    if n == 0:
        return np.zeros(0, np.float32)
    iv, to_intervals = _intervals()
    m = len(iv)
    e = EDGE / SIDE
    whole = _area_rows(np.array([e], np.float32), np.array([1 - 2 * e], np.float32), SIDE,
                       _PROFILE)[0]  # fmt: skip
    # Column means (the x profile) and row means (the y profile) of each photo's details, each
    # compared with every interval of the other photo's: the best start for each span, per axis.
    by_span = _by_span()
    starts, fit = [], []
    for axis in (1, 2):  # x, then y
        pb, ps = big.mean(axis=axis), small.mean(axis=axis)
        keys = _unit_last((pb @ to_intervals.T).reshape(n, m, _PROFILE))
        c = np.einsum("nik,nk->ni", keys, _unit_last(ps @ whole.T))
        c = np.concatenate([c, np.full((n, 1), -np.inf, np.float32)], axis=1)[:, by_span]
        at = np.argmax(c, axis=2)  # (n, span): the best interval of each span
        starts.append(np.take_along_axis(by_span[None].repeat(n, 0), at[:, :, None], 2)[..., 0])
        fit.append(np.take_along_axis(c, at[:, :, None], 2)[..., 0])
    # A crop keeps the pixel aspect: the y span is the x span times aspect_ratio.
    log_span = np.log(np.asarray(_SPANS, np.float32))
    gap = log_span[None, :, None] - log_span[None, None, :] - np.log(aspect_ratio)[:, None, None]
    score = fit[1][:, :, None] + fit[0][:, None, :]  # (pair, y span, x span)
    score[np.abs(gap) > _ASPECT_SLACK] = -np.inf
    spans = len(_SPANS)
    top = np.argpartition(-score.reshape(n, -1), _TOP, axis=1)[:, :_TOP]
    ky, kx = np.unravel_index(top, (spans, spans))
    flat = score.reshape(n, -1)
    half_big = _halved(big)
    small_inner = _inner_samples(_halved(small), np.tile(np.float32([[0, 0, 1, 1]]), (n, 1)))
    rows = np.arange(n)
    best = np.full(n, -1.0, np.float32)
    for k in range(_TOP):
        ok = np.isfinite(flat[rows, top[:, k]])
        x = iv[starts[0][rows, kx[:, k]]]
        y = iv[starts[1][rows, ky[:, k]]]
        windows = np.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], axis=1)
        s = np.einsum("nk,nk->n", _inner_samples(half_big, windows), small_inner)
        best = np.where(ok, np.maximum(best, s), best)
    return best


def framed_estimates(big: np.ndarray, small: np.ndarray) -> np.ndarray:
    """framed_agreement for many pairs at once, without its search around the frame as found:
    the first window it tries (so never above its result; it gains a few hundredths at most).
    big, small: signatures (n, SIDE, SIDE); -1 where big has no frame."""
    import numpy as np

    out = np.full(len(big), -1.0, np.float32)
    inside, ok = unframed_many(big)
    if ok.any():
        inner = np.s_[..., EDGE : SIDE - EDGE, EDGE : SIDE - EDGE]
        target = _framed_details(np.asarray(small[ok], np.float32))[inner]
        out[ok] = agreement(_framed_details(inside[ok])[inner], target, keep=1.0)
    return out
