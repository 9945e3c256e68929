"""A general encoder at a small input with a distilled backbone: the loss, a real (tiny)
distillation on generated photos, and the exported graph carrying the student's weights."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from photosort.core.encoders import Registry  # noqa: E402
from photosort.training import general  # noqa: E402
from photosort.training.backbones import load_backbone  # noqa: E402
from photosort.training.distill import distillation_loss  # noqa: E402
from photosort.training.features import (  # noqa: E402
    RegionPooled,
    extract_poolings,
    extract_regions,
    quarter_poolings,
)
from tests.training.conftest import make_folder  # noqa: E402
from tests.training.test_general import TINY_RECIPE  # noqa: E402

RECIPE = replace(TINY_RECIPE, feature_dims=8, epochs=1)


def test_distillation_loss_counts_the_pooling_its_quarters_and_its_length() -> None:
    fmap = torch.rand(3, 16, 5, 5, generator=torch.Generator().manual_seed(0))
    pooled = fmap.mean(dim=(2, 3))
    quarters = torch.stack(quarter_poolings(fmap), dim=1)
    assert distillation_loss(fmap, pooled, quarters, 1.0).abs().max() < 1e-5
    # Direction only, unless the length is asked for: twice as long is 0.5 too short.
    assert distillation_loss(fmap, 2 * pooled).abs().max() < 1e-5
    np.testing.assert_allclose(distillation_loss(fmap, 2 * pooled, None, 1.0), 0.25, atol=1e-5)
    # Quarters in the wrong places cost something only when the quarters are imitated.
    swapped = quarters[:, [3, 2, 1, 0]]
    assert distillation_loss(fmap, pooled, None).abs().max() < 1e-5
    assert (distillation_loss(fmap, pooled, swapped) > 1e-4).all()


@pytest.fixture(scope="module")
def distilled(tmp_path_factory) -> tuple[Path, Path, list[Path]]:
    """(folder, student weights, the photos fitted on): Lite0 at 64 px taught by itself at
    224 px on a tiny generated folder."""
    tmp = tmp_path_factory.mktemp("general-distill")
    photos = make_folder(tmp / "photos", per_class=8, size=(64, 80))
    weights = general.distill_general_backbone(
        [photos], RECIPE, tmp / "ckpt", epochs=4, per_epoch=None, lr=1e-3, batch_size=8,
        threads=1, log=lambda *_: None,
    )  # fmt: skip
    fit, _ = general.split_heldout([photos], RECIPE.heldout_fraction, RECIPE.seed)
    return tmp, weights, fit


def _loss(paths: list[Path], cache: Path, size: int, weights: Path | None) -> tuple[float, float]:
    """(pooled part, quarters part) of the distillation loss of ``weights`` at ``size`` px
    against ImageNet Lite0 at 224 px, from the cached extractors."""
    poolings = [
        (
            extract_poolings(paths, cache, "lite0", s, "center-crop", 1, weights=w)["avg"],
            extract_regions(paths, cache, "lite0", s, "center-crop", 1, weights=w),
        )
        for s, w in ((size, weights), (224, None))
    ]
    (pooled, regions), (t_pooled, t_regions) = (
        (torch.from_numpy(p), torch.from_numpy(r)) for p, r in poolings
    )
    cos = torch.nn.functional.cosine_similarity
    whole = float((1 - cos(pooled, t_pooled, dim=1)).mean())
    parts = float((1 - cos(regions, t_regions, dim=2)).sum(1).mean())
    return whole, parts


def test_distilled_student_moves_towards_the_full_size_poolings(distilled) -> None:
    tmp, weights, fit = distilled
    before = _loss(fit, tmp / "ckpt" / "cache", 64, None)
    after = _loss(fit, tmp / "ckpt" / "cache", 64, weights)
    assert after[0] < before[0] and after[1] < before[1]
    # A second call finds the finished weights instead of training again.
    again = general.distill_general_backbone(
        [tmp / "photos"], RECIPE, tmp / "ckpt", epochs=4, per_epoch=None, lr=1e-3,
        batch_size=8, threads=1, log=lambda *_: None,
    )  # fmt: skip
    assert again == weights


def test_general_encoder_exports_the_distilled_backbone(distilled) -> None:
    tmp, weights, _ = distilled
    recipe = replace(RECIPE, backbone_weights=str(weights))
    general.train_general_vae(
        [tmp / "photos"], tmp / "models" / "student", recipe, checkpoint_dir=tmp / "ckpt",
        threads=1, log=lambda *_: None,
    )  # fmt: skip
    manifest = json.loads((tmp / "models" / "student.json").read_text())
    assert manifest["input_size"] == [64, 64]
    assert manifest["recipe"]["backbone_weights"] == str(weights)
    head = general.GeneralHead(**dict(np.load(tmp / "ckpt" / "student" / "head.npz")))
    enc = Registry([tmp / "models"]).encoder("student")
    pixels = np.random.default_rng(5).integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    x = torch.from_numpy(enc.preprocess(pixels))

    def pipeline(backbone: torch.nn.Module) -> np.ndarray:
        fc_w, fc_b = backbone._fc.weight.detach().numpy(), backbone._fc.bias.detach().numpy()
        with torch.no_grad():
            pooled = backbone.extract_features(x).mean(dim=(2, 3)).numpy()
            regions = RegionPooled(backbone)(x).numpy().reshape(len(x), 4, -1)
        colour = general.colour_layout_np(pixels)
        return general.head_latent(head, pooled, fc_w, fc_b, colour, 0.05, regions)

    got = enc.encode(pixels)
    # The graph holds the student (fp16-stored weights: close, not bit-identical), not the
    # ImageNet backbone it started from.
    student = pipeline(load_backbone("lite0", 64, weights))
    imagenet = pipeline(load_backbone("lite0", 64))
    assert np.abs(got - student).max() < 2e-2
    assert np.abs(got - student).max() < np.abs(got - imagenet).max()
