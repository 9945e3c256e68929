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
from photosort.training.features import RegionPooled  # noqa: E402
from tests.training.conftest import make_folder  # noqa: E402

#: A general VAE small enough to train in seconds (64-px input, 2 epochs).
TINY_RECIPE = general.GeneralRecipe(
    input_size=64,
    feature_dims=12,
    class_dims=8,
    epochs=2,
    batch_size=8,
    image_size=32,
    heldout_fraction=0.25,
)


def test_pca_finds_the_main_directions_without_scaling_them() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=(4000, 5)) * np.array([10, 5, 2, 1, 0.5])
    rot, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    mean, proj = general.fit_pca(base @ rot.T + 3.0, dims=2)
    np.testing.assert_allclose(mean, 3.0, atol=0.5)
    # The two strongest directions are recovered (up to sign), as unit vectors.
    np.testing.assert_allclose(np.abs(proj.T @ rot[:, :2]), np.eye(2), atol=0.05)
    np.testing.assert_allclose(np.linalg.norm(proj, axis=0), 1.0, atol=1e-5)


def test_class_embedding_is_a_unit_hellinger_vector() -> None:
    rng = np.random.default_rng(3)
    pooled = rng.normal(size=(4, 6))
    w, b = rng.normal(size=(10, 6)), rng.normal(size=10)
    emb = general.class_embedding(pooled, w, b)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-6)
    # The most likely class has the largest component.
    assert (emb.argmax(1) == (pooled @ w.T + b).argmax(1)).all()


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
    general.train_general_vae(
        [photos],
        tmp / "models" / "tiny-general",
        TINY_RECIPE,
        checkpoint_dir=tmp / "ckpt",
        docs_dir=tmp / "docs",
        threads=1,
        log=lambda *a: None,
    )
    return tmp


def test_trained_model_loads_encodes_and_decodes_through_the_core(trained: Path) -> None:
    reg = Registry([trained / "models"])
    info = reg.info("tiny-general")
    assert info.generative and info.latent_size == 12 + 8 + 3 * general.COLOUR_GRID**2
    assert info.version == "2.1.0"
    assert info.query_expansion is not None and info.query_expansion.k == 5
    raw = json.loads((trained / "models" / "tiny-general.json").read_text())
    assert raw["recipe"]["feature_dims"] == 12 and raw["resize"] == "center-crop"
    enc = reg.encoder("tiny-general")
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    z = enc.encode(pixels)
    assert z.shape == (3, info.latent_size)
    # The "looks" part is unit length, the colour part is the weighted 4x4 layout.
    np.testing.assert_allclose(np.linalg.norm(z[:, :12], axis=1), 1.0, atol=1e-3)
    np.testing.assert_allclose(z[:, 20:], 0.05 * general.colour_layout_np(pixels), atol=2e-3)
    images = enc.decode(z)
    assert images.shape == (3, 32, 32, 3) and images.dtype == np.uint8
    assert (trained / "docs" / "tiny-general-reconstructions.png").is_file()


def test_exported_encoder_equals_the_fitted_numpy_pipeline(trained: Path) -> None:
    # The ONNX graph computes exactly what the ablation measures from cached features.
    head = general.GeneralHead(**dict(np.load(trained / "ckpt" / "tiny-general" / "head.npz")))
    enc = Registry([trained / "models"]).encoder("tiny-general")
    backbone = load_backbone("lite0", 64).eval()
    fc_w, fc_b = backbone._fc.weight.detach().numpy(), backbone._fc.bias.detach().numpy()
    pixels = np.random.default_rng(5).integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    with torch.no_grad():
        x = torch.from_numpy(enc.preprocess(pixels))
        pooled = backbone.extract_features(x).mean(dim=(2, 3)).numpy()
        regions = RegionPooled(backbone)(x).numpy().reshape(len(x), 4, -1)
    assert head.region_weight == 1.0  # the shipped recipe's regional pooling, in the graph too
    want = general.head_latent(
        head, pooled, fc_w, fc_b, general.colour_layout_np(pixels), 0.05, regions
    )
    got = enc.encode(pixels)
    # fp16-stored weights: close, not bit-identical.
    np.testing.assert_allclose(got, want, atol=2e-2)
    cos = (got * want).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1))
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
