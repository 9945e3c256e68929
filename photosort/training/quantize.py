"""Quantise a shipped encoder to 8-bit integers (static, per-channel, QDQ) with onnxruntime.

EfficientNet-Lite was designed to quantise well (ReLU6, no squeeze-and-excitation), and on this
2-core machine the int8 content encoders run about 2.2x faster than float32 with the same
scenes-test mAP (0.733 for content-vae either way; see models/MODEL_CARD.md). Calibration uses
photos of the *training* folder only.

    python -m photosort.training.quantize models/content-vae.json --data ../shared/data/scenes-train
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

from photosort.core.decode import load_for_model
from photosort.core.encoders import Encoder, load_manifest
from photosort.core.files import is_photo_name


def calibration_batch(data: Path, encoder: Encoder, count: int, seed: int) -> np.ndarray:
    photos = sorted(p for p in data.rglob("*") if is_photo_name(p.name))
    random.Random(seed).shuffle(photos)
    info = encoder.info
    pixels = [load_for_model(p, info.input_size, info.resize) for p in photos[:count]]
    if not pixels:
        raise SystemExit(f"no photos in {data} to calibrate with")
    return encoder.preprocess(np.stack(pixels))


def quantize_encoder(
    manifest: Path, data: Path, count: int = 256, seed: int = 1, conv_only: bool = False
) -> Path:
    """Replace the manifest's encoder file by its int8 version; returns the file written.

    ``conv_only`` quantises the backbone's convolutions and leaves everything after the pooling
    in float: a classifier's softmax turns small int8 errors in its logits into large changes
    of the class probabilities (general-vae: cosine to float 0.91 all-int8, see MODEL_CARD.md).
    """
    import onnxruntime as ort
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    info = load_manifest(manifest)
    encoder = Encoder(info, threads=2)
    batch = calibration_batch(data, encoder, count, seed)
    with tempfile.TemporaryDirectory() as tmp:
        # Fold constants first (fp16-stored weights are cast once here, not at every run).
        folded = Path(tmp) / "folded.onnx"
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(folded)
        session = ort.InferenceSession(str(info.encoder_path), options, ["CPUExecutionProvider"])
        input_name = session.get_inputs()[0].name
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(folded), str(prepared), skip_symbolic_shape=True)

        class Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self.start = 0

            def get_next(self) -> dict[str, np.ndarray] | None:
                if self.start >= len(batch):
                    return None
                chunk = batch[self.start : self.start + 16]
                self.start += 16
                return {input_name: chunk}

        quantized = Path(tmp) / "int8.onnx"
        quantize_static(
            str(prepared),
            str(quantized),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["Conv"] if conv_only else None,
        )
        reference = session.run(None, {input_name: batch[:32]})[0]
        check = ort.InferenceSession(str(quantized), providers=["CPUExecutionProvider"])
        got = check.run(None, {input_name: batch[:32]})[0]
        cos = (reference * got).sum(1) / (
            np.linalg.norm(reference, axis=1) * np.linalg.norm(got, axis=1) + 1e-12
        )
        quantized.replace(info.encoder_path)
    raw = json.loads(manifest.read_text())
    what = "convolutions int8, head float" if conv_only else "int8"
    raw["quantization"] = (
        f"{what}: static per-channel QDQ (onnxruntime), calibrated on {min(count, len(batch))} "
        f"photos of {data.name}; cosine to the float model on them: mean {cos.mean():.4f}, "
        f"min {cos.min():.4f}"
    )
    manifest.write_text(json.dumps(raw, indent=2) + "\n")
    print(f"{info.encoder_path}: int8; {raw['quantization']}")
    return info.encoder_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifests", nargs="+", type=Path)
    parser.add_argument("--data", required=True, type=Path, help="calibration photos (training)")
    parser.add_argument("--count", type=int, default=256)
    parser.add_argument(
        "--conv-only", action="store_true", help="quantise the convolutions, keep the head float"
    )
    args = parser.parse_args(argv)
    for manifest in args.manifests:
        quantize_encoder(manifest, args.data, args.count, conv_only=args.conv_only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
