"""How the general content VAE was chosen: each design choice, measured side by side.

Extracts Lite0's average-pooled features once (cached, resumable) for the fitting pool (the
training split of ``--pool`` and ``--scenes-train``), the held-out split of both (Imagenette and
scenes-train photos in no fitting), and the dev folders; then prints class-retrieval mAP (query
left out, 10 queries per class, seed 0; ranked like the app, with or without query expansion)
for each variant of the head. Choices were made on the held-out columns; the dev columns only
pick among finished candidates (models/MODEL_CARD.md).

    python benchmarks/general_ablation.py --pool /path/to/pool [--cache DIR]

Needs the ``train`` extra (PyTorch, for the backbone). The pool is built by
``../shared/data/get-pool.sh`` (never committed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from photosort.core.evaluation import choose_queries, retrieval_metrics, scan_labelled
from photosort.core.expansion import QueryExpansion
from photosort.training import general as G
from photosort.training.backbones import load_backbone
from photosort.training.features import extract_poolings

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", required=True, help="the folder get-pool.sh built")
    shared = HERE.parent.parent / "shared/data"
    parser.add_argument("--scenes-train", default=str(shared / "scenes-train"))
    parser.add_argument("--dev", action="append", help="labelled dev folder (repeatable)")
    parser.add_argument("--cache", default="~/.cache/photosort-train/cache")
    args = parser.parse_args()
    r = G.GeneralRecipe()
    fit_paths, held = G.split_heldout(
        [args.pool, args.scenes_train], r.heldout_fraction, r.seed, r.max_per_collection
    )
    devs = [Path(d) for d in args.dev or []] or [
        shared / n for n in ("everyday-dev", "landmarks-dev", "scenes-test")
    ]

    def pooled(paths: list[Path], label: str) -> np.ndarray:
        return extract_poolings(paths, args.cache, size=r.input_size, resize=r.resize, label=label)[
            "avg"
        ]

    sets: dict[str, tuple[np.ndarray, np.ndarray, list[Path]]] = {}
    for name, paths in held.items():
        classes = sorted({p.parent.name for p in paths})
        labels = np.array([classes.index(p.parent.name) for p in paths])
        sets[f"held:{name}"] = (pooled(paths, name), labels, paths)
    for folder in devs:
        lf = scan_labelled(folder)
        sets[folder.name] = (pooled(lf.paths, folder.name), lf.labels, lf.paths)
    fit = pooled(fit_paths, "fit")
    fit = fit[np.linalg.norm(fit, axis=1) > 0]
    backbone = load_backbone(r.backbone, r.input_size)
    fc_w, fc_b = backbone._fc.weight.detach().numpy(), backbone._fc.bias.detach().numpy()
    colours = {
        s: G.colour_layout_np(
            G.cached_thumbnails(list(p), 64, Path(args.cache).expanduser(), r.resize)
        )
        for s, (_, _, p) in sets.items()
    }
    qe = QueryExpansion(r.expansion_k, r.expansion_alpha)
    print("variant".ljust(44) + "".join(f"{s[:16]:>17}" for s in sets) + f"{'held':>7}{'dev':>7}")

    def row(name: str, fn, expansion: QueryExpansion | None = None) -> None:
        res = []
        for s, (feats, labels, _) in sets.items():
            q = choose_queries(labels, 10, 0)
            res.append(retrieval_metrics(fn(s, feats), labels, q, "cosine", expansion=expansion)[0])
        held_m = np.mean([v for s, v in zip(sets, res, strict=True) if s.startswith("held:")])
        dev_m = np.mean([v for s, v in zip(sets, res, strict=True) if not s.startswith("held:")])
        cells = "".join(f"{v:>17.3f}" for v in res)
        print(f"{name:<44}{cells}{held_m:>7.3f}{dev_m:>7.3f}", flush=True)

    def l2(x: np.ndarray) -> np.ndarray:
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    centre = l2(fit).mean(0)
    row("plain backbone (reference-lite0)", lambda s, f: f)
    row("centred on the pool", lambda s, f: l2(f) - centre)
    looks = l2(l2(fit) - centre)
    m, v = G.fit_pca(looks, 256)
    w = np.var((looks - m) @ v, axis=0)
    for power in (0.25, 0.5):
        white = v * (w + 0.1 * w.mean()) ** -power
        row(
            f"centred + PCA-whitening 256, power {power}",
            lambda s, f, W=white: (l2(l2(f) - centre) - m) @ W,
        )
    row("ImageNet class embedding only", lambda s, f: G.class_embedding(f, fc_w, fc_b))
    for beta in (0.5, 0.7, 1.0):
        row(
            f"centred + {beta} x class embedding (2,280 floats)",
            lambda s, f, b=beta: np.concatenate(
                [l2(l2(f) - centre), b * G.class_embedding(f, fc_w, fc_b)], 1
            ),
            qe,
        )
    for fd, cd in ((32, 32), (64, 64), (128, 128), (256, 384), (384, 384)):
        recipe = G.GeneralRecipe(feature_dims=fd, class_dims=cd)
        head = G.fit_head(fit, fc_w, fc_b, recipe)
        for expansion in (None, qe):
            tag = f"head {fd}+{cd} = {fd + cd} floats" + (", query expansion" if expansion else "")
            row(tag, lambda s, f, h=head: G.head_latent(h, f, fc_w, fc_b), expansion)
    head = G.fit_head(fit, fc_w, fc_b, r)
    for cw in (0.05, 0.1, 0.2):
        row(
            f"head 256+384 + colour x {cw}, query expansion",
            lambda s, f, c=cw: G.head_latent(head, f, fc_w, fc_b, colours[s], c),
            qe,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
