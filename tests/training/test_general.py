"""The general content VAE and the reference backbone: real exports, real ONNX sessions, the
core's registry, on tiny generated photos."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from photosort.core.encoders import Registry  # noqa: E402
from photosort.core.evaluation import evaluate_suite  # noqa: E402
from photosort.training import general  # noqa: E402
from photosort.training.backbones import load_backbone  # noqa: E402
from tests.training.conftest import make_folder  # noqa: E402


def test_whitening_decorrelates_and_equalises_the_training_features() -> None:
    rng = np.random.default_rng(0)
    # Correlated features with very unequal variances.
    base = rng.normal(size=(4000, 6)) * np.array([10, 5, 2, 1, 0.5, 0.1])
    feats = base @ rng.normal(size=(6, 6)) + 3.0
    mean, proj = general.fit_whitening(feats, dims=4, power=0.5, shrinkage=0.0)
    z = (general.l2n(feats) - mean) @ proj
    cov = np.cov(z.T)
    np.testing.assert_allclose(cov, np.eye(4), atol=0.05)
    # Shrinkage keeps the weakest directions from being scaled up as much as the strong ones.
    _, shrunk = general.fit_whitening(feats, dims=4, power=0.5, shrinkage=1.0)
    gains = np.linalg.norm(shrunk, axis=0) / np.linalg.norm(proj, axis=0)
    assert gains[-1] < gains[0]


def test_colour_layout_in_numpy_equals_the_graph() -> None:
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    x01 = torch.from_numpy(pixels.transpose(0, 3, 1, 2).astype(np.float32) / 255)
    np.testing.assert_allclose(
        general.colour_layout_np(pixels), general.colour_layout(x01).numpy(), atol=1e-5
    )


def test_split_heldout_holds_out_part_of_each_collection_with_classes(tmp_path: Path) -> None:
    pool = tmp_path / "pool"
    classes = make_folder(pool / "classes", per_class=10)
    loose = pool / "loose"
    loose.mkdir()
    for p in sorted((classes / "red").iterdir())[:5]:
        (loose / p.name).write_bytes(p.read_bytes())
    fit, held = general.split_heldout([pool], 0.2, seed=3)
    assert list(held) == ["classes"]  # the loose collection has no classes to hold out
    assert len(held["classes"]) == 6
    assert not set(held["classes"]) & set(fit)
    assert len(fit) == 24 + 5
    # Seeded, and independent of which other folders are given.
    again_fit, again_held = general.split_heldout([classes], 0.2, seed=3)
    assert again_held == held and set(again_fit) <= set(fit)
    capped, _ = general.split_heldout([pool], 0.2, seed=3, max_per_collection=4)
    assert len(capped) == 4 + 4


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A tiny general VAE trained and exported end to end (64-px input, 2 epochs)."""
    tmp = tmp_path_factory.mktemp("general")
    photos = make_folder(tmp / "photos", per_class=12, size=(64, 80))
    recipe = general.GeneralRecipe(
        input_size=64, dims=16, epochs=2, batch_size=8, image_size=32, heldout_fraction=0.25
    )
    general.train_general_vae(
        [photos],
        tmp / "models" / "tiny-general",
        recipe,
        checkpoint_dir=tmp / "ckpt",
        docs_dir=tmp / "docs",
        threads=1,
        log=lambda *a: None,
    )
    return tmp


def test_trained_model_loads_encodes_and_decodes_through_the_core(trained: Path) -> None:
    reg = Registry([trained / "models"])
    info = reg.info("tiny-general")
    assert info.generative and info.latent_size == 16 + 3 * general.COLOUR_GRID**2
    assert info.version == "2.0.0"
    raw = json.loads((trained / "models" / "tiny-general.json").read_text())
    assert raw["recipe"]["dims"] == 16 and raw["recipe"]["pooling"] == "gem"
    enc = reg.encoder("tiny-general")
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    z = enc.encode(pixels)
    assert z.shape == (3, info.latent_size)
    # The content part is unit length, the colour part is the weighted 4x4 layout.
    np.testing.assert_allclose(np.linalg.norm(z[:, :16], axis=1), 1.0, atol=1e-3)
    np.testing.assert_allclose(z[:, 16:], 0.1 * general.colour_layout_np(pixels), atol=2e-3)
    images = enc.decode(z)
    assert images.shape == (3, 32, 32, 3) and images.dtype == np.uint8
    assert (trained / "docs" / "tiny-general-reconstructions.png").is_file()


def test_exported_encoder_equals_the_fitted_numpy_pipeline(trained: Path) -> None:
    # The ONNX graph computes exactly what the ablation measures from cached features.
    fitted = np.load(trained / "ckpt" / "tiny-general" / "whitening.npz")
    enc = Registry([trained / "models"]).encoder("tiny-general")
    backbone = load_backbone("lite0", 64).eval()
    pixels = np.random.default_rng(5).integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    with torch.no_grad():
        x = torch.from_numpy(enc.preprocess(pixels))
        pooled = general.pool_features(backbone.extract_features(x), "gem").numpy()
    want = general.latent_from_features(
        pooled, fitted["mean"], fitted["proj"], general.colour_layout_np(pixels), 0.1
    )
    # fp16-stored weights: close, not bit-identical.
    np.testing.assert_allclose(enc.encode(pixels), want, atol=2e-2)
    cos = (enc.encode(pixels)[:, :16] * want[:, :16]).sum(1)
    assert cos.min() > 0.999


def test_reference_model_is_measured_but_not_offered(tmp_path: Path) -> None:
    models = tmp_path / "models"
    general.build_reference_encoder(models / "reference-lite0", input_size=64, log=lambda *a: None)
    make_folder(tmp_path / "pix", per_class=4, size=(64, 64))
    reg = Registry([models])
    assert reg.models() == []
    assert [m.id for m in reg.models(include_references=True)] == ["reference-lite0"]
    info = reg.info("reference-lite0")
    assert info.reference and info.resize == "center-crop" and info.latent_size == 1280
    tables = evaluate_suite([tmp_path / "pix"], registry=reg, per_class=2, baselines=False)
    (row,) = tables["pix"]
    assert row.model_id == "reference-lite0" and row.kind == "reference"
    assert 0.0 < row.map <= 1.0


def test_eval_command_prints_tables_summary_and_json(tmp_path: Path) -> None:
    a = make_folder(tmp_path / "one", per_class=4)
    b = make_folder(tmp_path / "two", per_class=3)
    cmd = [sys.executable, "-m", "photosort", "eval", str(a), str(b), "--queries", "2"]
    cmd += ["--model", "pixels-8x8"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "== one" in proc.stdout and "== two" in proc.stdout
    assert "== summary (mAP)" in proc.stdout
    assert "one: baseline:pixels-8x8: 12 photos" in proc.stderr  # progress on stderr
    js = subprocess.run(cmd + ["--json"], capture_output=True, text=True, timeout=600)
    out = json.loads(js.stdout)
    assert set(out["folders"]) == {"one", "two"}
    models = {e["model"] for e in out["summary"]}
    assert models == {"pixels-8x8", "baseline:pixels-8x8", "baseline:hsv-histogram"}
