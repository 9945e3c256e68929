"""How much does each generative model's reconstruction ("what the model sees") look like the
photo? SSIM and colour error at the decoder's size, on real photos of the dev folders.

Each photo is encoded with the model's own preprocessing and decoded; the reconstruction is
compared with the photo squashed to the decoder's output size (64x64 for every shipped model).
SSIM (Wang et al. 2004, 7x7 box window, on luma) says whether the layout and edges are there;
the mean absolute colour error (0-255) whether the colours are. A first row, "flat mid-grey",
shows what a reconstruction that shows nothing of the photo scores; prints both per folder and
model.

    python benchmarks/reconstructions.py [--data DIR ...] [--per-folder 200] [--model ID ...]
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np

from photosort.core.decode import load_for_model
from photosort.core.encoders import Registry

HERE = Path(__file__).resolve().parent


def _box(x: np.ndarray, k: int = 7) -> np.ndarray:
    """Mean over k x k windows ('valid' part), via a summed-area table; x is [N, H, W]."""
    c = np.pad(x, ((0, 0), (1, 0), (1, 0))).cumsum(1).cumsum(2)
    return (c[:, k:, k:] - c[:, :-k, k:] - c[:, k:, :-k] + c[:, :-k, :-k]) / (k * k)


def ssim(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-image SSIM of uint8 RGB batches [N, H, W, 3], on luma."""
    w = np.array([0.299, 0.587, 0.114])
    x, y = a.astype(np.float64) @ w, b.astype(np.float64) @ w
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = _box(x), _box(y)
    vx, vy = _box(x * x) - mx * mx, _box(y * y) - my * my
    cxy = _box(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.mean(axis=(1, 2))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", action="append", help="photo folder (repeatable)")
    parser.add_argument("--per-folder", type=int, default=200)
    parser.add_argument("--model", action="append", dest="models")
    args = parser.parse_args()
    shared = HERE.parent.parent / "shared/data"
    folders = [Path(d) for d in args.data or []] or [
        shared / n for n in ("everyday-dev", "landmarks-dev", "scenes-test")
    ]
    reg = Registry.default(threads=2)
    models = [reg.info(m) for m in args.models] if args.models else reg.models()
    models = [m for m in models if m.generative]
    print(f"{'model':<22}" + "".join(f"{f.name:>28}" for f in folders) + f"{'mean':>22}")
    print(f"{'':<22}" + "".join(f"{'SSIM / colour error':>28}" for _ in folders))
    cells, ss, ce = [], [], []
    for folder in folders:
        photos = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".png"))
        photos = random.Random(0).sample(photos, min(args.per_folder, len(photos)))
        target = np.stack([load_for_model(p, (64, 64), "squash") for p in photos])
        grey = np.full_like(target, 128)
        ss.append(float(ssim(grey, target).mean()))
        ce.append(float(np.abs(grey.astype(float) - target).mean()))
        cells.append(f"{ss[-1]:>18.3f} / {ce[-1]:5.1f}")
    mean = f"{np.mean(ss):>12.3f} / {np.mean(ce):5.1f}"
    print(f"{'flat mid-grey':<22}" + "".join(f"{c:>28}" for c in cells) + f"{mean:>22}")
    for info in models:
        enc = reg.encoder(info.id)
        cells, ss, ce = [], [], []
        for folder in folders:
            photos = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".png"))
            photos = random.Random(0).sample(photos, min(args.per_folder, len(photos)))
            recon, target = [], []
            for start in range(0, len(photos), 32):
                chunk = photos[start : start + 32]
                x = np.stack([load_for_model(p, info.input_size, info.resize) for p in chunk])
                r = enc.decode(enc.encode(x))
                recon.append(r)
                size = r.shape[1:3]
                target.append(np.stack([load_for_model(p, size, "squash") for p in chunk]))
            recon_all, target_all = np.concatenate(recon), np.concatenate(target)
            s = float(ssim(recon_all, target_all).mean())
            e = float(np.abs(recon_all.astype(float) - target_all).mean())
            ss.append(s)
            ce.append(e)
            cells.append(f"{s:>18.3f} / {e:5.1f}")
        mean = f"{np.mean(ss):>12.3f} / {np.mean(ce):5.1f}"
        print(f"{info.id:<22}" + "".join(f"{c:>28}" for c in cells) + f"{mean:>22}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
