"""Arrange by similarity: mean latent distance between grid neighbours, lower is smoother.

Compares PhotoSort's arrangement with name order and a random order, side by side, on
clustered vectors (rows in random cluster order, as file names are) and, when given, on a
real folder's latents (`--npz` from `photosort latents FOLDER --out FILE.npz`). Neighbours are
measured along the sequence and in grids 6 and 10 wide (right and below neighbours).

    python benchmarks/bench_arrange.py [--n 10000] [--dim 64] [--npz latents.npz]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from photosort.core.arrange import arrange, grid_neighbour_distance

SEQUENCE = 10**9  # "columns" so wide that only the sequence neighbours count


def clustered(n: int, dim: int, clusters: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)) * 3.0
    labels = rng.integers(0, clusters, n)
    spread = rng.uniform(0.6, 1.4, clusters)[labels, None]
    return (centres[labels] + rng.normal(size=(n, dim)) * spread).astype(np.float32)


def report(name: str, x: np.ndarray, metric: str) -> None:
    n = len(x)
    t, c = time.perf_counter(), time.process_time()
    order = arrange(x, metric)
    took, cpu = time.perf_counter() - t, time.process_time() - c
    assert sorted(order.tolist()) == list(range(n))
    rng = np.random.default_rng(1)
    shuffled = rng.permutation(n)
    print(
        f"\n{name}: {n:,} photos, {x.shape[1]}-d, {metric}; arranged in {took:.2f} s ({cpu:.1f} s CPU)"
    )
    print(
        f"{'neighbours':<22}{'arranged':>10}{'name order':>12}{'random':>10}"
        f"{'vs name':>10}{'vs random':>11}"
    )
    for label, cols in (("sequence", SEQUENCE), ("grid, 10 columns", 10), ("grid, 6 columns", 6)):
        a = grid_neighbour_distance(x, metric, order, cols)
        b = grid_neighbour_distance(x, metric, np.arange(n), cols)
        r = grid_neighbour_distance(x, metric, shuffled, cols)
        print(f"{label:<22}{a:>10.4f}{b:>12.4f}{r:>10.4f}{a / b:>10.2f}{a / r:>11.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument(
        "--npz",
        action="append",
        default=[],
        help="latents saved by `photosort latents` (paths sorted by name); repeat for several",
    )
    args = ap.parse_args()
    report("clustered vectors", clustered(args.n, args.dim), "euclidean")
    for path in args.npz:
        data = np.load(path)
        report(f"{path} ({data['model']})", data["vectors"], str(data["metric"]))


if __name__ == "__main__":
    main()
