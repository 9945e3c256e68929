"""Indexing throughput on camera photos, side by side in one run (issue: speed, point 1).

Compares, over the same ≥300 camera-resolution JPEGs (page cache warmed first):
  1. `photosort index` with the default encoder (a real subprocess, fresh database),
  2. an imagehash pHash loop using both cores (what imagededup/czkawka-style tools do),
  3. the decode limit: Pillow draft-mode decoding alone, both cores.
Targets: PhotoSort ≥ 3× pHash and ≥ 0.7× the decode limit.

    python benchmarks/bench_index.py [--model ID] [--per-photo 14] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import camera_corpus  # noqa: E402

WORKERS = os.cpu_count() or 2


def _phash(path: str) -> str:
    import imagehash
    from PIL import Image

    with Image.open(path) as img:
        return str(imagehash.phash(img))


def _draft_decode(job: tuple[str, int]) -> tuple[int, int]:
    from PIL import Image

    path, side = job
    with Image.open(path) as img:
        img.draft("RGB", (side, side))
        img.load()
        return img.size


def _timed_pool(fn, jobs) -> float:
    start = time.perf_counter()
    with ProcessPoolExecutor(WORKERS) as pool:
        list(pool.map(fn, jobs, chunksize=4))
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model")
    parser.add_argument("--per-photo", type=int, default=14)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from photosort.core.encoders import Registry

    registry = Registry.default()
    info = registry.info(args.model)
    files = [str(p) for p in camera_corpus(args.per_photo)]
    folder = os.path.dirname(files[0])
    mb = sum(os.path.getsize(f) for f in files) / 1e6
    for f in files:  # warm the page cache so every contender reads from memory
        Path(f).read_bytes()
    side = max(info.input_size)
    print(f"{len(files)} camera JPEGs, {mb:.0f} MB, {WORKERS} cores, model {info.id} ({side} px)")

    def run_index(where: str = folder) -> float:
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "photosort", "index", where, "--db", f"{tmp}/db.sqlite3"]
            start = time.perf_counter()
            subprocess.run(cmd + ["--model", info.id], check=True, capture_output=True)
            return time.perf_counter() - start

    def run_index_one_photo() -> float:
        """The command's fixed cost: Python, imports, the model, the database, one photo."""
        with tempfile.TemporaryDirectory() as one:
            shutil.copy(files[0], one)
            return run_index(one)

    contenders = {
        "index": run_index,
        "one": run_index_one_photo,
        "phash": lambda: _timed_pool(_phash, files),
        "decode": lambda: _timed_pool(_draft_decode, [(f, side) for f in files]),
    }
    # Rounds of all three, one after the other, best time of each: a burst of load from another
    # process then spoils one round of one contender rather than the whole comparison.
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, run in contenders.items():
            times[name].append(run())
    t_index, t_phash, t_decode = (min(times[k]) for k in ("index", "phash", "decode"))
    print(f"best of {args.rounds} rounds (contenders in turn)")

    n = len(files)
    rows = [
        ("photosort index", t_index),
        (f"imagehash pHash ({WORKERS} processes)", t_phash),
        (f"decode limit: draft decode ({WORKERS} processes)", t_decode),
    ]
    print(f"{'contender':<44} {'seconds':>8} {'photos/s':>9}")
    for name, t in rows:
        print(f"{name:<44} {t:8.2f} {n / t:9.1f}")
    print(
        f"(fixed cost of the command, one photo: {min(times['one']):.2f} s; "
        f"throughput without it: {n / (t_index - min(times['one'])):.1f} photos/s)"
    )
    vs_phash = t_phash / t_index
    vs_decode = t_decode / t_index
    print(f"photosort vs pHash:        {vs_phash:5.2f}×  (target ≥ 3.0×)")
    print(f"photosort vs decode limit: {vs_decode:5.2f}×  (target ≥ 0.7×)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
