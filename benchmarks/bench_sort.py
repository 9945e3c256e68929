"""Sort latency in the core: ranking 100,000 and 1,000,000 stored latents by one reference.

Side by side in one run: PhotoSort's LatentIndex against a straightforward per-photo loop
(measured on a slice and scaled) and scikit-learn's brute-force NearestNeighbors. Targets:
100,000 under 50 ms, 1,000,000 under 500 ms.

    python benchmarks/bench_sort.py [--dim 64]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from photosort.core.similarity import LatentIndex


def best_of(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dim", type=int, default=64)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"latent size {args.dim}; best of 5 runs; times in ms")
    print(f"{'photos':>10} {'metric':<10} {'photosort':>10} {'target':>8} {'per-photo loop':>15}")
    for n, target in ((100_000, 50), (1_000_000, 500)):
        vectors = rng.normal(size=(n, args.dim)).astype(np.float32)
        paths = [f"/photos/{i:07d}.jpg" for i in range(n)]
        for metric in ("cosine", "euclidean"):
            index = LatentIndex(paths, vectors, metric)
            ref = [paths[n // 2]]
            t = best_of(lambda index=index, ref=ref: index.rank_like(ref)) * 1000
            sl = vectors[:5000]
            r = vectors[n // 2]

            def loop(sl=sl, r=r, metric=metric):
                out = []
                for v in sl:
                    if metric == "cosine":
                        d = 1 - float(v @ r) / (np.linalg.norm(v) * np.linalg.norm(r))
                    else:
                        d = float(np.linalg.norm(v - r))
                    out.append(d)
                sorted(range(len(out)), key=out.__getitem__)

            t_loop = best_of(loop, 1) * 1000 * n / len(sl)
            ok = "ok" if t < target else "MISSED"
            print(
                f"{n:>10,} {metric:<10} {t:10.1f} {target:>8} {t_loop:15.0f}  "
                f"{t_loop / t:6.0f}× faster than the loop, {ok}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
