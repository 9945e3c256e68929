"""Quantising an encoder keeps its latents (a real tiny conv net, real onnxruntime)."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from photosort.core.decode import load_for_model
from photosort.core.encoders import Registry
from tests.conftest import make_photo

torch = pytest.importorskip("torch")


def _tiny_conv_model(folder: Path) -> Path:
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, stride=2, padding=1),
        torch.nn.ReLU6(),
        torch.nn.Conv2d(8, 16, 3, stride=2, padding=1),
        torch.nn.ReLU6(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
    ).eval()
    folder.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        net,
        torch.zeros(2, 3, 32, 32),
        folder / "tiny.onnx",
        input_names=["image"],
        output_names=["latent"],
        dynamic_axes={"image": {0: "n"}, "latent": {0: "n"}},
        opset_version=17,
        dynamo=False,
    )
    manifest = {
        "id": "tiny",
        "encoder": "tiny.onnx",
        "input_size": [32, 32],
        "normalization": {"mean": [0.5] * 3, "std": [0.25] * 3},
        "latent_size": 16,
        "metric": "cosine",
    }
    path = folder / "tiny.json"
    path.write_text(json.dumps(manifest))
    return path


def test_quantized_encoder_keeps_its_latents(tmp_path: Path) -> None:
    from photosort.training.quantize import quantize_encoder

    manifest = _tiny_conv_model(tmp_path / "models")
    photos = tmp_path / "photos"
    for i in range(24):
        make_photo(photos / f"{i}.jpg", seed=i, size=(48, 40))
    shutil.copy(manifest.parent / "tiny.onnx", tmp_path / "float.onnx")
    batch = np.stack([load_for_model(p, (32, 32)) for p in sorted(photos.glob("*.jpg"))])
    before = Registry([manifest.parent]).encoder("tiny").encode(batch)

    quantize_encoder(manifest, photos, count=24)

    after = Registry([manifest.parent]).encoder("tiny").encode(batch)
    assert (manifest.parent / "tiny.onnx").read_bytes() != (tmp_path / "float.onnx").read_bytes()
    cos = (before * after).sum(1) / (np.linalg.norm(before, axis=1) * np.linalg.norm(after, axis=1))
    assert cos.min() > 0.95
    assert "int8" in json.loads(manifest.read_text())["quantization"]
