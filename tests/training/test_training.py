"""Training and export on tiny generated photos: ONNX equals PyTorch, and a few training steps
give a model that the core's registry loads, encodes and decodes with."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

torch = pytest.importorskip("torch")

from photosort.core.encoders import Registry  # noqa: E402
from photosort.core.evaluation import evaluate_folder  # noqa: E402
from photosort.training import content  # noqa: E402
from photosort.training.backbones import load_backbone  # noqa: E402
from photosort.training.export import compress_fp16_weights, export_onnx  # noqa: E402
from photosort.training.models import DecoderExport, EncoderExport, build_model  # noqa: E402
from photosort.training.trainer import TrainConfig, train  # noqa: E402


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x.astype(np.float32)})[0]


@pytest.mark.parametrize("arch", ["ae", "vae"])
def test_onnx_equals_pytorch(arch: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model(arch, image_size=32, latent_size=8).eval()
    enc, dec = tmp_path / "e.onnx", tmp_path / "d.onnx"
    export_onnx(EncoderExport(model), torch.zeros(2, 3, 32, 32), enc)
    export_onnx(DecoderExport(model), torch.zeros(2, 8), dec)
    x = torch.rand(5, 3, 32, 32) * 2 - 1  # a batch size other than the export's
    z = torch.randn(5, 8)
    with torch.no_grad():
        want_z, want_img = model.encode(x).numpy(), model.decoder(z).numpy()
    np.testing.assert_allclose(_run(enc, x.numpy()), want_z, rtol=1e-4, atol=1e-5)
    got_img = _run(dec, z.numpy())
    np.testing.assert_allclose(got_img, want_img, rtol=1e-4, atol=1e-5)
    assert got_img.shape == (5, 3, 32, 32)
    assert got_img.min() >= 0.0 and got_img.max() <= 1.0


def _config(photos: Path, tmp: Path, epochs: int, arch: str = "ae", loss: str = "mse"):
    return TrainConfig(
        data=str(photos),
        out=str(tmp / "models" / f"tiny-{arch}"),
        arch=arch,
        loss=loss,
        epochs=epochs,
        batch_size=8,
        image_size=32,
        latent_size=8,
        checkpoint_dir=str(tmp / "ckpt"),
        docs_dir=str(tmp / "docs"),
        threads=1,
    )


@pytest.mark.parametrize(("arch", "loss"), [("ae", "mae"), ("vae", "mse")])
def test_few_steps_give_a_model_the_registry_loads(
    photo_folder: Path, tmp_path: Path, arch: str, loss: str
) -> None:
    summary = train(_config(photo_folder, tmp_path, 2, arch, loss), log=lambda *_: None)
    assert len(summary["history"]["train"]) == 2
    manifest = json.loads((tmp_path / "models" / f"tiny-{arch}.json").read_text())
    assert manifest["encoder"] == f"tiny-{arch}.encoder.onnx"
    assert manifest["decoder"] == f"tiny-{arch}.decoder.onnx"
    assert manifest["input_size"] == [32, 32] and manifest["latent_size"] == 8

    reg = Registry([tmp_path / "models"])
    info = reg.info(f"tiny-{arch}")
    assert info.generative
    enc = reg.encoder(info.id)
    pixels = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    latents = enc.encode(pixels)
    assert latents.shape == (3, 8) and np.isfinite(latents).all()
    recon = enc.decode(latents)
    assert recon.shape == (3, 32, 32, 3) and recon.dtype == np.uint8
    # The registry's encode equals the PyTorch model on the same normalised pixels.
    model = build_model(arch, 32, 8)
    state = torch.load(Path(summary["checkpoint"]), weights_only=False)
    model.load_state_dict(state["model"])
    model.eval()
    x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255 * 2 - 1
    with torch.no_grad():
        np.testing.assert_allclose(latents, model.encode(x).numpy(), rtol=1e-3, atol=1e-4)

    assert (tmp_path / "docs" / f"tiny-{arch}-loss.png").stat().st_size > 0
    assert (tmp_path / "docs" / f"tiny-{arch}-reconstructions.png").stat().st_size > 0
    rows = evaluate_folder(photo_folder, [info.id], registry=reg, per_class=2, baselines=False)
    assert [r.model_id for r in rows] == [info.id]
    assert 0.0 < rows[0].map <= 1.0 and rows[0].kind == "generative"


def test_resume_continues_from_the_checkpoint(photo_folder: Path, tmp_path: Path) -> None:
    logs: list[str] = []
    first = train(_config(photo_folder, tmp_path, 1), log=logs.append)
    assert len(first["history"]["train"]) == 1
    second = train(_config(photo_folder, tmp_path, 2), resume=True, log=logs.append)
    assert any("resumed" in line and "epoch 1" in line for line in logs)
    assert second["history"]["train"][0] == first["history"]["train"][0]
    assert len(second["history"]["train"]) == 2
    # A checkpoint made with another loss is refused rather than resumed into the wrong model.
    with pytest.raises(ValueError, match="another arch/loss"):
        train(_config(photo_folder, tmp_path, 3, loss="mae"), resume=True, log=logs.append)


def test_content_encoder_onnx_with_fp16_weights_matches_pytorch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    mean = rng.normal(0, 0.01, 1280).astype(np.float32)
    proj = np.linalg.qr(rng.normal(size=(1280, 16)))[0].astype(np.float32)
    model = content.ContentEncoder(load_backbone("lite0", 64), mean, proj).eval()
    path = tmp_path / "c.onnx"
    export_onnx(model, torch.zeros(2, 3, 64, 64), path)
    size32 = path.stat().st_size
    compress_fp16_weights(path)
    assert path.stat().st_size < 0.6 * size32
    x = torch.rand(3, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        want = model(x).numpy()
    got = _run(path, x.numpy())
    cos = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    assert got.shape == (3, 16) and cos.min() > 0.999


def test_content_vae_trains_and_loads(photo_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "models" / "tiny-cvae"
    content.train_content_vae(
        data=str(photo_folder),
        out=str(out),
        latent_size=8,
        pixel_latent=3,
        pca_size=16,
        epochs=2,
        batch_size=8,
        image_size=32,
        checkpoint_dir=tmp_path / "ckpt",
        docs_dir=str(tmp_path / "docs"),
        threads=1,
        max_images=None,
        log=lambda *_: None,
    )
    reg = Registry([tmp_path / "models"])
    info = reg.info("tiny-cvae")
    assert info.generative and info.input_size == (224, 224) and info.latent_size == 8
    enc = reg.encoder(info.id)
    pixels = np.random.default_rng(0).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
    z = enc.encode(pixels)
    assert z.shape == (2, 8) and np.isfinite(z).all()
    assert enc.decode(z).shape == (2, 32, 32, 3)
    # The ONNX encoder (fp16-stored backbone) agrees with the PyTorch model it was exported from.
    state = torch.load(tmp_path / "ckpt" / "tiny-cvae" / "last.pt", weights_only=False)
    vae = content.FeatureVAE(16, 8, 32, pixel_latent=3)
    vae.load_state_dict(state["model"])
    torch_enc = content.ContentVAEEncoder(
        content.ContentEncoder(load_backbone("lite0", 224), state["mean"], state["proj"]),
        vae,
        state["scale"],
    ).eval()
    with torch.no_grad():
        want = torch_enc(torch.from_numpy(enc.preprocess(pixels))).numpy()
    np.testing.assert_allclose(z, want, rtol=0.05, atol=0.02)


def _distillation_inputs(photos: Path, tmp: Path) -> tuple[list[Path], Path, np.ndarray]:
    """The photos, a checkpoint folder, and the teacher's features: Lite0 at 96 px teaching
    itself at 64 px (the small-scale stand-in for 224 teaching 144)."""
    paths = content.sample_paths(photos, None)
    ckdir = tmp / "ckpt"
    teacher = content.extract_pooled("lite0", paths, ckdir / "cache", threads=1, input_size=96)
    return paths, ckdir, teacher


def test_distilled_small_input_encoder_moves_towards_the_full_size_features(
    photo_folder: Path, tmp_path: Path
) -> None:
    from photosort.training.distill import distill_backbone

    paths, ckdir, teacher = _distillation_inputs(photo_folder, tmp_path)
    before = content.extract_pooled("lite0", paths, ckdir / "cache", threads=1, input_size=64)
    weights = distill_backbone(
        paths,
        teacher,
        "lite0",
        64,
        ckdir / "run",
        epochs=3,
        batch_size=8,
        threads=1,
        log=lambda *_: None,
    )
    after = content.extract_pooled(
        "lite0", paths, ckdir / "cache", threads=1, input_size=64, weights=weights
    )
    # Features of the distilled 64-px network are closer to the 96-px ones than before.
    assert (after * teacher).sum(1).mean() > (before * teacher).sum(1).mean()
    # A second call finds the finished weights instead of training again.
    assert (
        distill_backbone(paths, teacher, "lite0", 64, ckdir / "run", log=lambda *_: None) == weights
    )


def test_content_encoder_at_a_small_input_with_distillation(
    photo_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "models" / "small"
    content.build_content_encoder(
        data=str(photo_folder),
        out=str(out),
        latent_size=8,
        checkpoint_dir=tmp_path / "ckpt",
        threads=1,
        max_images=None,
        input_size=64,
        distill=content.Distillation(epochs=1, images=None),
        log=lambda *_: None,
    )
    assert list((tmp_path / "ckpt").glob("distill-*/distill-lite0-64/student.pt"))
    reg = Registry([tmp_path / "models"])
    info = reg.info("small")
    assert info.input_size == (64, 64)
    pixels = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    z = reg.encoder(info.id).encode(pixels)
    assert z.shape == (2, 8) and np.isfinite(z).all()


def test_interrupted_distillation_keeps_its_checkpoint_and_resumes(
    photo_folder: Path, tmp_path: Path
) -> None:
    import os
    import signal

    from photosort.training.distill import distill_backbone
    from photosort.training.trainer import TrainingInterrupted

    paths, ckdir, teacher = _distillation_inputs(photo_folder, tmp_path)
    said: list[str] = []

    def log(line: str) -> None:
        said.append(line)
        if line.startswith("distill epoch 1:"):  # as if Ctrl-C came during epoch 2
            os.kill(os.getpid(), signal.SIGTERM)

    run = ckdir / "run"
    with pytest.raises(TrainingInterrupted):
        distill_backbone(
            paths, teacher, "lite0", 64, run, epochs=3, batch_size=8, threads=1, log=log
        )
    assert any(line.startswith("interrupted: checkpoint saved") for line in said)
    assert not list(run.glob("*/student.pt"))
    resumed: list[str] = []
    weights = distill_backbone(
        paths, teacher, "lite0", 64, run, epochs=3, batch_size=8, threads=1, log=resumed.append
    )
    assert weights.exists()
    assert any("resumed" in line and "epoch 1" in line for line in resumed)
    assert [line for line in resumed if line.startswith("distill epoch")][0].startswith(
        "distill epoch 2:"
    )
