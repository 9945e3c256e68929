"""Encoding speed of each installed encoder, in photos per second, batched and one at a time.

Measures the ONNX encoder alone (pixels already decoded to the model's input size), as the
registry runs it, so the figures compare models rather than JPEG decoders.

    python benchmarks/encode_speed.py [--models-dir models] [--threads 2] [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from photosort.core.encoders import Registry  # noqa: E402


def rate(fn, batch: np.ndarray, seconds: float) -> float:
    """Photos per second of ``fn(batch)`` over at least ``seconds`` (after one warm-up call)."""
    fn(batch)
    n, t0 = 0, time.perf_counter()
    while True:
        fn(batch)
        n += len(batch)
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds and n >= 2 * len(batch):
            return n / elapsed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models-dir", default=str(Path(__file__).resolve().parents[1] / "models"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--model", action="append", dest="models")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    reg = Registry([Path(a.models_dir)], threads=a.threads)
    rng = np.random.default_rng(0)
    results = []
    for info in reg.models():
        if a.models and info.id not in a.models:
            continue
        enc = reg.encoder(info.id)
        h, w = info.input_size
        pixels = rng.integers(0, 256, (a.batch, h, w, 3), dtype=np.uint8)
        batched = rate(enc.encode, pixels, a.seconds)
        single = rate(enc.encode, pixels[:1], a.seconds)
        size_mb = sum(
            f.stat().st_size for f in (info.encoder_path, info.decoder_path) if f is not None
        ) / (1024 * 1024)
        row = {
            "model": info.id,
            "input": f"{h}x{w}",
            "batch_photos_per_s": round(batched, 1),
            "single_photos_per_s": round(single, 1),
            "size_mb": round(size_mb, 2),
        }
        results.append(row)
        if not a.json:
            print(
                f"{info.id:18s} {row['input']:>8s}  batch {a.batch}: {batched:8.1f} photos/s  "
                f"single: {single:8.1f} photos/s  files {size_mb:5.1f} MB",
                flush=True,
            )
    if a.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
