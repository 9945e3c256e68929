"""Manual check on real EXIF-oriented photos (not run by the test suite, which makes its own).

    python tests/reliability/manual_orientation_check.py [/work/shared/data/orientation]

The folder holds landscape_N.jpg and portrait_N.jpg for N = 1..8: the same picture stored with
each EXIF orientation, so once made upright all eight must look alike (apart from the digit N
drawn in each). For each, the thumbnail and what the encoder saw (the pixels-8x8 latent) are
compared with orientation 1 under all eight flips/rotations: "no change" must match best.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from photosort.core.decode import make_thumbnail
from photosort.core.encoders import Registry
from photosort.core.indexer import Indexer
from photosort.core.store import Store

REPO = Path(__file__).resolve().parents[2]


TRANSFORMS = {
    "no change": lambda a: a,
    "mirrored": lambda a: a[:, ::-1],
    "upside down": lambda a: a[::-1, ::-1],
    "flipped": lambda a: a[::-1],
    "transposed": lambda a: a.transpose(1, 0, 2),
    "rot90": lambda a: np.rot90(a, 1),
    "transverse": lambda a: np.rot90(a, 2).transpose(1, 0, 2),
    "rot270": lambda a: np.rot90(a, 3),
}


def _best_transform(img: np.ndarray, ref: np.ndarray) -> str:
    """Which flip/rotation of `ref` `img` looks most like (same-shape candidates only)."""
    scores = {}
    for name, op in TRANSFORMS.items():
        cand = op(ref)
        if cand.shape == img.shape:
            scores[name] = float(np.abs(cand - img).mean())
    return min(scores, key=scores.__getitem__)


def main(folder: Path) -> int:
    encoder = Registry([REPO / "models"]).encoder("pixels-8x8")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "o.sqlite3") as store:
        report = Indexer(store, encoder).index_folder(folder)
        latents = dict(zip(*store.latents_under(folder, "pixels-8x8"), strict=True))
        infos = {i.path: i for i in store.photo_infos_under(folder)}
        print(f"indexed {report.indexed}, skipped {report.skipped}")
        for kind in ("landscape", "portrait"):
            ref = folder / f"{kind}_1.jpg"
            ref_thumb = np.asarray(make_thumbnail(ref, 128), np.float32)
            ref_seen = latents[str(ref)].reshape(3, 8, 8).transpose(1, 2, 0)
            for n in range(1, 9):
                path = folder / f"{kind}_{n}.jpg"
                thumb = np.asarray(make_thumbnail(path, 128), np.float32)
                seen = latents[str(path)].reshape(3, 8, 8).transpose(1, 2, 0)
                thumb_best = _best_transform(thumb, ref_thumb)
                seen_best = _best_transform(seen, ref_seen)
                info = infos[str(path)]
                ok = thumb_best == seen_best == "no change" and thumb.shape == ref_thumb.shape
                failures += not ok
                print(
                    f"{path.name:16s} {info.width}x{info.height}  thumbnail: {thumb_best:10s}"
                    f"  encoder input: {seen_best:10s}  {'upright' if ok else 'WRONG'}"
                )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/orientation")))
