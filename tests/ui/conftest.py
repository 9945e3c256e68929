"""Fixtures for the app's tests: a temp database, settings, thumbnail cache and model folder.

Every window is the real one (offscreen), with real SQLite and real ONNX sessions; models are
the shipped pixels-8x8 plus a second tiny encoder built here with the `onnx` helper.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from photosort.core.encoders import Registry
from tests.conftest import REPO, make_photo

INDEX_TIMEOUT = 60_000


def write_model(
    folder: Path,
    model_id: str,
    op: str,
    kernel: int,
    metric: str,
    decoder: bool = False,
    shows_reconstruction: bool = False,
) -> None:
    """A fixed pooling encoder (64×64 input) and its manifest; optionally a decoder that turns
    the latent back into a tiny picture (a "generative" model for the preview), which the
    preview offers to show when `shows_reconstruction`."""
    import onnx
    from onnx import TensorProto, helper

    side = 64 // kernel
    latent = 3 * side * side
    x = helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", 3, 64, 64])
    y = helper.make_tensor_value_info("latent", TensorProto.FLOAT, ["batch", latent])
    pool = helper.make_node(
        op, ["pixels"], ["pooled"], kernel_shape=[kernel, kernel], strides=[kernel, kernel]
    )
    flat = helper.make_node("Flatten", ["pooled"], ["latent"], axis=1)
    graph = helper.make_graph([pool, flat], model_id, [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, folder / f"{model_id}.onnx")
    manifest = {
        "id": model_id,
        "name": f"Test {model_id}",
        "description": f"Test encoder {model_id}",
        "encoder": f"{model_id}.onnx",
        "decoder": None,
        "input_size": [64, 64],
        "resize": "squash",
        "normalization": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
        "latent_size": latent,
        "metric": metric,
        "version": "1",
        "training_data": "none",
        "default": False,
    }
    if decoder:
        z = helper.make_tensor_value_info("latent", TensorProto.FLOAT, ["batch", latent])
        img = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, side, side])
        shape = helper.make_tensor("shape", TensorProto.INT64, [4], [-1, 3, side, side])
        half = helper.make_tensor("half", TensorProto.FLOAT, [], [0.5])
        nodes = [
            helper.make_node("Reshape", ["latent", "shape"], ["grid"]),
            helper.make_node("Mul", ["grid", "half"], ["scaled"]),
            helper.make_node("Add", ["scaled", "half"], ["image"]),
        ]
        dgraph = helper.make_graph(nodes, f"{model_id}_dec", [z], [img], initializer=[shape, half])
        dmodel = helper.make_model(dgraph, opset_imports=[helper.make_opsetid("", 17)])
        dmodel.ir_version = 8
        onnx.save(dmodel, folder / f"{model_id}-decoder.onnx")
        manifest["decoder"] = f"{model_id}-decoder.onnx"
        manifest["shows_reconstruction"] = shows_reconstruction
    (folder / f"{model_id}.json").write_text(json.dumps(manifest))


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pixels-8x8 (shipped, default) and `max-4x4`, a different pooling with cosine distance."""
    folder = tmp_path_factory.mktemp("models")
    for name in ("pixels-8x8.json", "pixels-8x8.onnx"):
        shutil.copy(REPO / "models" / name, folder / name)
    write_model(folder, "max-4x4", "MaxPool", 16, "cosine", decoder=True)
    return folder


@pytest.fixture
def registry(models_dir: Path) -> Registry:
    return Registry([models_dir], threads=1)


@pytest.fixture
def settings_path(tmp_path: Path) -> Path:
    return tmp_path / "settings.ini"


def make_folder(folder: Path, count: int, broken: int = 0) -> Path:
    for i in range(count):
        make_photo(folder / f"img{i:03d}.jpg", seed=100 + i, quality=85)
    for i in range(broken):
        (folder / f"broken{i}.jpg").write_bytes(b"this is not a jpeg" * (i + 1))
    return folder


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "photos", 12)


@pytest.fixture
def indexed(tmp_path: Path, registry: Registry) -> tuple[Path, Path]:
    """(database, folder): 20 photos indexed with pixels-8x8, for the map's tests."""
    from photosort.core.indexer import Indexer
    from photosort.core.store import Store

    folder = make_folder(tmp_path / "photos", 20)
    db = tmp_path / "map.sqlite3"
    with Store(db) as store:
        Indexer(store, registry.encoder("pixels-8x8")).index_folder(str(folder))
    return db, folder


@pytest.fixture
def map_view(qtbot):
    """A shown MapView of 600 x 500, shut down after the test."""
    from photosort.ui.map_view import MapView

    v = MapView()
    qtbot.addWidget(v)
    v.resize(600, 500)
    v.show()
    qtbot.waitExposed(v)
    yield v
    v.shutdown()


@pytest.fixture
def make_window(
    qtbot, tmp_path: Path, registry: Registry, settings_path: Path
) -> Iterator[Callable]:
    from photosort.ui.app import create_main_window

    windows = []

    def make(folder: str | None = None, reg: Registry | None = None):
        window = create_main_window(
            folder=folder,
            db_path=tmp_path / "photosort.sqlite3",
            settings=QSettings(str(settings_path), QSettings.Format.IniFormat),
            registry=reg or registry,
            thumbnail_dir=tmp_path / "thumbs",
        )
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.shutdown()


def open_and_index(qtbot, window, folder: Path):
    """Open `folder` and wait until the first indexing run has finished."""
    with qtbot.waitSignal(window.library.indexFinished, timeout=INDEX_TIMEOUT) as blocker:
        window.open_folder(str(folder))
    return blocker.args[0]


def expected_ranking(
    db: Path, folder: Path, model_id: str, metric: str, refs: list[str]
) -> list[str]:
    """The core's own ranking, straight from the store."""
    from photosort.core.similarity import LatentIndex
    from photosort.core.store import Store

    with Store(db) as store:
        paths, vectors = store.latents_under(folder, model_id)
    order = LatentIndex(paths, vectors, metric).rank_like(refs).order
    return [paths[i] for i in order]
