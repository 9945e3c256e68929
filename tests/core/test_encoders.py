import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photosort.core.encoders import Registry
from photosort.core.errors import ModelError
from tests.conftest import REPO


def copy_model(dest: Path, model_id: str = "pixels-8x8", **changes) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((REPO / "models" / "pixels-8x8.json").read_text())
    manifest.update(id=model_id, encoder=f"{model_id}.onnx", **changes)
    shutil.copy(REPO / "models" / "pixels-8x8.onnx", dest / f"{model_id}.onnx")
    (dest / f"{model_id}.json").write_text(json.dumps(manifest))
    return dest / f"{model_id}.json"


def test_shipped_placeholder_encodes_8x8_colour_layout(registry: Registry) -> None:
    enc = registry.encoder("pixels-8x8")
    batch = np.zeros((3, 64, 64, 3), np.uint8)
    batch[1] = 255
    batch[2, :32] = (255, 0, 0)  # top half red
    out = enc.encode(batch)
    assert out.shape == (3, 192) and out.dtype == np.float32
    np.testing.assert_allclose(out[0], -1.0, atol=1e-6)  # (0 - 0.5) / 0.5
    np.testing.assert_allclose(out[1], 1.0, atol=1e-6)
    red = out[2].reshape(3, 8, 8)
    assert np.allclose(red[0, :4], 1) and np.allclose(red[0, 4:], -1) and np.allclose(red[1], -1)


def test_encode_images_matches_encode_of_the_stacked_pixels(registry: Registry) -> None:
    """The indexer hands over Pillow images (its decode threads need no numpy)."""
    enc = registry.encoder("pixels-8x8")
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    images = [Image.fromarray(p, "RGB") for p in pixels]
    np.testing.assert_array_equal(enc.encode_images(images), enc.encode(pixels))
    assert enc.encode_images([]).shape == (0, 192)


def test_sessions_open_lazily(registry: Registry) -> None:
    enc = registry.encoder("pixels-8x8")
    assert enc._encoder is None
    enc.encode(np.zeros((1, 64, 64, 3), np.uint8))
    assert enc._encoder is not None
    assert registry.encoder("pixels-8x8") is enc


def test_default_and_order(tmp_path: Path) -> None:
    copy_model(tmp_path, "b-model", default=False, name="B")
    copy_model(tmp_path, "a-model", default=False, name="A")
    copy_model(tmp_path, "c-model", default=True, name="C")
    reg = Registry([tmp_path])
    assert reg.default_id() == "c-model"
    assert [m.id for m in reg.models()] == ["c-model", "a-model", "b-model"]


def test_bad_manifests_and_unknown_models_are_reported_by_name(tmp_path: Path) -> None:
    copy_model(tmp_path, "good")
    (tmp_path / "broken.json").write_text("{not json")
    copy_model(tmp_path, "weird", metric="manhattan")
    reg = Registry([tmp_path])
    assert [m.id for m in reg.models()] == ["good"]
    assert any("broken.json" in p for p in reg.problems)
    assert any("manhattan" in p for p in reg.problems)
    with pytest.raises(ModelError, match="unknown model 'nope'"):
        reg.encoder("nope")


def test_missing_or_corrupt_onnx_names_the_file(tmp_path: Path) -> None:
    copy_model(tmp_path, "gone")
    (tmp_path / "gone.onnx").unlink()
    copy_model(tmp_path, "junk")
    (tmp_path / "junk.onnx").write_bytes(b"garbage")
    reg = Registry([tmp_path], threads=1)
    with pytest.raises(ModelError, match="gone.onnx"):
        reg.encoder("gone").encode(np.zeros((1, 64, 64, 3), np.uint8))
    with pytest.raises(ModelError, match="junk.onnx"):
        reg.encoder("junk").encode(np.zeros((1, 64, 64, 3), np.uint8))


def test_no_models_installed(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no encoder installed"):
        Registry([tmp_path]).default_id()


def test_user_models_folder_is_searched(monkeypatch, tmp_path: Path) -> None:
    from photosort import paths

    copy_model(paths.user_models_dir(), "mine")
    assert "mine" in [m.id for m in Registry.default().models()]


def test_default_model_can_be_chosen_by_environment(tmp_path: Path, monkeypatch) -> None:
    copy_model(tmp_path, "flagged", default=True)
    copy_model(tmp_path, "chosen", default=False)
    monkeypatch.setenv("PHOTOSORT_MODEL", "chosen")
    assert Registry([tmp_path]).default_id() == "chosen"
    monkeypatch.setenv("PHOTOSORT_MODEL", "not-installed")
    assert Registry([tmp_path]).default_id() == "flagged"
