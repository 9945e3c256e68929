"""How the content encoder's choices were made: backbone, PCA size, learned whitening.

Splits the *training* folder (default ../shared/data/scenes-train) per class into a fitting part
and a validation part, fits each variant on the fitting part and reports class-retrieval mAP on
the validation part (every validation photo is a query). Choices are made on these figures,
never on scenes-test. ``--test FOLDER`` additionally reports the same variants on FOLDER with
the `photosort eval` protocol (10 queries per class, fixed seed), for the model card only.

    python benchmarks/content_ablation.py --backbone lite0 [--val-per-class 150] [--test DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from photosort.core.evaluation import choose_queries, retrieval_metrics, scan_labelled  # noqa: E402
from photosort.training.content import extract_pooled, fit_class_whitening, fit_pca  # noqa: E402
from photosort.training.trainer import DEFAULT_CHECKPOINT_DIR  # noqa: E402


def split(folder: Path, val_per_class: int, fit_per_class: int, seed: int = 123):
    data = scan_labelled(folder)
    rng = np.random.default_rng(seed)
    fit, val = [], []
    for c in range(len(data.classes)):
        idx = np.flatnonzero(data.labels == c)
        perm = rng.permutation(idx)
        val += perm[:val_per_class].tolist()
        fit += perm[val_per_class : val_per_class + fit_per_class].tolist()
    return data, np.asarray(fit), np.asarray(val)


def variants(feats_fit: np.ndarray, labels_fit: list[str], dims: list[int]):
    """Yield (name, function mapping pooled features to latents)."""
    yield "avg-pooled, raw 1280-d", lambda f: f
    for d in dims:
        mean, proj = fit_pca(feats_fit, d)
        yield f"centre + PCA {d}", lambda f, m=mean, p=proj: (f - m) @ p
        pw = fit_class_whitening(feats_fit, labels_fit, mean, proj)
        yield f"centre + PCA {d} + class whitening", lambda f, m=mean, p=pw: (f - m) @ p


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "scenes-train"))
    p.add_argument("--backbone", default="lite0", choices=("lite0", "lite1", "lite2"))
    p.add_argument("--val-per-class", type=int, default=150)
    p.add_argument("--fit-per-class", type=int, default=340)
    p.add_argument("--dims", default="32,64,128")
    p.add_argument("--test", default=None, help="also report on this folder (eval protocol)")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    cache = DEFAULT_CHECKPOINT_DIR / "cache"
    data, fit, val = split(Path(a.data), a.val_per_class, a.fit_per_class)
    paths = [data.paths[i] for i in np.concatenate([fit, val])]
    feats = extract_pooled(a.backbone, paths, cache, a.threads)
    f_fit, f_val = feats[: len(fit)], feats[len(fit) :]
    labels_fit = [data.classes[data.labels[i]] for i in fit]
    y_val = data.labels[val]
    dims = [int(d) for d in a.dims.split(",")]
    test = None
    if a.test:
        tdata = scan_labelled(a.test)
        tfeats = extract_pooled(a.backbone, tdata.paths, cache, a.threads)
        test = (tfeats, tdata.labels, choose_queries(tdata.labels, 10, 0))
    print(f"backbone {a.backbone}: fit {len(fit)}, validation {len(val)} photos of {a.data}")
    print(
        f"{'variant':40s} {'val mAP':>8s} {'val P@10':>8s}"
        + ("  test mAP  test P@10" if test else "")
    )
    for name, fn in variants(f_fit, labels_fit, dims):
        m, p10 = retrieval_metrics(fn(f_val), y_val, np.arange(len(val)), "cosine")
        line = f"{name:40s} {m:8.3f} {p10:8.3f}"
        if test is not None:
            tm, tp = retrieval_metrics(fn(test[0]), test[1], test[2], "cosine")
            line += f"  {tm:8.3f}  {tp:9.3f}"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
