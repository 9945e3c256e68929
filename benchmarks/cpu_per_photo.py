"""Where indexing spends its CPU: milliseconds of CPU time per camera photo, step by step.

CPU time (`time.process_time`, one thread) moves far less with the machine's other load than
wall time does, so these figures explain the ratios of `bench_index.py` even on a busy machine:
the decode limit is the libjpeg step alone; the indexer adds every other row, plus its encoder.

    python benchmarks/cpu_per_photo.py [--per-photo 14] [--model ID ...]
        [--backbone-sizes 224,192,160,144]

``--backbone-sizes`` also times the plain Lite0 backbone exported at each input size (needs the
``train`` extra): what a smaller input would save, side by side in one run.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import camera_corpus  # noqa: E402

from photosort.core import decode  # noqa: E402
from photosort.core.encoders import Registry  # noqa: E402


def cpu_ms(fn, items: list, repeat: int = 2) -> float:
    """Best of ``repeat`` passes: milliseconds of CPU per item of ``fn(item)``."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for item in items:
            fn(item)
        best = min(best, (time.process_time() - start) / len(items) * 1e3)
    return best


def backbone_ms(size: int) -> float:
    """CPU ms per photo of the ImageNet Lite0, average-pooled, exported at ``size`` px and run
    with the app's onnxruntime settings (one thread, batches of 32)."""
    import tempfile

    import onnxruntime as ort
    import torch

    from photosort.training.backbones import load_backbone
    from photosort.training.export import export_onnx
    from photosort.training.general import ReferenceEncoder

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "backbone.onnx"
        export_onnx(
            ReferenceEncoder(load_backbone("lite0", size)), torch.zeros(2, 3, size, size), path
        )
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    batch = np.random.default_rng(0).random((32, 3, size, size), dtype=np.float32)
    session.run(None, {name: batch})
    return cpu_ms(lambda b: session.run(None, {name: b}), [batch] * 4, repeat=3) / 32


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-photo", type=int, default=14)
    parser.add_argument("--model", action="append", dest="models")
    parser.add_argument("--backbone-sizes", default="", help="e.g. 224,192,160,144")
    args = parser.parse_args()
    registry = Registry.default(threads=1)
    default = registry.info(None)
    side = max(default.input_size)
    files = [str(p) for p in camera_corpus(args.per_photo)]
    datas = [Path(f).read_bytes() for f in files]
    print(f"{len(files)} camera JPEGs; steps for a {side}-px encoder input; ms of CPU per photo")

    def draft(data: bytes) -> None:
        img = decode.Image.open(io.BytesIO(data))
        img.draft("RGB", (side, side))
        img.load()

    opened = [decode._open_in_memory(d) for d in datas]
    decoded = []
    for img in opened:
        decoded.append(decode._load_upright(img, decode._orientation(img), (side, side)))
    rows = [
        ("read the file (page cache)", cpu_ms(decode.read_file, files)),
        ("BLAKE3 content hash", cpu_ms(decode.content_hash, datas)),
        (
            "open + EXIF orientation and date",
            cpu_ms(lambda d: decode._taken(decode._open_in_memory(d)), datas),
        ),
        ("libjpeg draft decode = the decode limit", cpu_ms(draft, datas)),
        (
            f"{default.resize} resize to the model input",
            cpu_ms(lambda im: decode.fit_to(im, (side, side), default.resize), decoded),
        ),
        (
            "whole prepare step (all of the above)",
            cpu_ms(lambda d: decode.decode_bytes_for_index(d, (side, side), default.resize), datas),
        ),
    ]
    # Every shipped model when asked for by id, the reference backbone included.
    for info in registry.models(include_references=True):
        if (args.models and info.id not in args.models) or (
            not args.models and info.id != default.id
        ):
            continue
        enc = registry.encoder(info.id)
        h, w = info.input_size
        batch = np.random.default_rng(0).integers(0, 256, (32, h, w, 3), dtype=np.uint8)
        enc.encode(batch)
        per_batch = cpu_ms(enc.encode, [batch] * 4, repeat=3)
        rows.append((f"encoder {info.id} ({h} px, batches of 32)", per_batch / 32))
    for size in [int(v) for v in args.backbone_sizes.split(",") if v]:
        rows.append((f"plain Lite0 backbone at {size} px", backbone_ms(size)))
    for name, ms in rows:
        print(f"  {name:<50} {ms:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
