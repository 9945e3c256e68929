"""Build `models/pixels-8x8.onnx`: a fixed, untrained encoder that needs no training data.

It average-pools the 64×64 input to 8×8 per channel and flattens it: 192 numbers describing a
photo's colour layout. It is the "8×8 pixels" baseline of the evaluation, shipped so the app
works end to end with no trained model. Run: `python tools/make_pixels_encoder.py`
(needs the `onnx` package from the `train` extra).
"""

from __future__ import annotations

import json
from pathlib import Path

import onnx
from onnx import TensorProto, helper

MODELS = Path(__file__).resolve().parent.parent / "models"


def build() -> onnx.ModelProto:
    x = helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", 3, 64, 64])
    y = helper.make_tensor_value_info("latent", TensorProto.FLOAT, ["batch", 192])
    pool = helper.make_node(
        "AveragePool", ["pixels"], ["pooled"], kernel_shape=[8, 8], strides=[8, 8]
    )
    flat = helper.make_node("Flatten", ["pooled"], ["latent"], axis=1)
    graph = helper.make_graph([pool, flat], "pixels_8x8", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main() -> None:
    MODELS.mkdir(exist_ok=True)
    onnx.save(build(), MODELS / "pixels-8x8.onnx")
    manifest = {
        "id": "pixels-8x8",
        "name": "Colour layout (8×8 pixels)",
        "description": "Colour blocks: the photo shrunk to 8×8 pixels (no training)",
        "encoder": "pixels-8x8.onnx",
        "decoder": None,
        "input_size": [64, 64],
        "resize": "squash",
        "normalization": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
        "latent_size": 192,
        "metric": "euclidean",
        "version": "1.0.0",
        "training_data": "none: a fixed average-pooling network",
        "default": True,
    }
    (MODELS / "pixels-8x8.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
