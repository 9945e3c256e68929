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
    mostly spent on pairs that are not copies). No pixels are trimmed here: a burst's next frame differs from its window by a strip at one
    edge, which trimming would forgive.
    """
    import numpy as np

    inner = np.s_[..., EDGE : SIDE - EDGE, EDGE : SIDE - EDGE]
    target = _framed_details(small)[None][inner]
    coarse = _windows(aspect_ratio)
    if not len(coarse):
        return -1.0
    scores = agreement(_framed_details(_sample(big, coarse))[inner], target, keep=1.0)
    if scores.max() < give_up_below:
        return float(scores.max())  # refining moves a score by a few hundredths, not more
    x0, y0, sx, _ = coarse[int(np.argmax(scores))]
    d = np.array([-1.0, 0.0, 1.0], dtype=np.float32)
    fx, fy, fs = (a.ravel() for a in np.meshgrid(d / SIDE, d / SIDE, d * 0.02))
    near = np.stack([x0 + fx, y0 + fy, sx + fs, (sx + fs) * aspect_ratio], axis=1)
    ok = (
        (near[:, 2] >= MIN_COVER)
        & (near[:, 3] >= MIN_COVER)
        & (near[:, 2] <= 1)
        & (near[:, 3] <= 1)
    )
    ok &= (near[:, 0] >= 0) & (near[:, 1] >= 0)
    ok &= (near[:, 0] + near[:, 2] <= 1.0001) & (near[:, 1] + near[:, 3] <= 1.0001)
    near = near[ok]
    if len(near):
        refined = agreement(_framed_details(_sample(big, near))[inner], target, keep=1.0)
        scores = np.concatenate([scores, refined])
    return float(scores.max())


def _flat_margin(lines: np.ndarray) -> int:
    """How many of these lines (outermost first) are one flat colour, like a frame's."""
    n = 0
    lo, hi = SIDE // 5, SIDE - SIDE // 5  # a title bar spans the top of the side margins
    for line in lines:
        if float(line[lo:hi].std()) >= 3.0:
            break
        n += 1
    return n


def frame_of(big: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) flat margins of a framed signature, None without a frame."""
    top = _flat_margin(big)
    bottom = _flat_margin(big[::-1])
    left = _flat_margin(big.T)
    right = _flat_margin(big.T[::-1])
    if sum(m > 0 for m in (top, bottom, left, right)) < 3 or top + bottom >= SIDE // 2:
        return None
    if left + right >= SIDE // 2:
        return None
    return top, bottom, left, right


def unframed(big: np.ndarray) -> np.ndarray | None:
    """What is inside the frame of a framed signature, resampled to SIDE x SIDE."""
    import numpy as np

    frame = frame_of(big)
    if frame is None:
        return None
    top, bottom, left, right = frame
    window = np.array([[left, top, SIDE - left - right, SIDE - top - bottom]], np.float32) / SIDE
    return _sample(big, window)[0]


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
