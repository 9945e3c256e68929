"""The map as a new user meets it: thumbnails at the default zoom, a hover card, fitting on
resize and with the Fit button, the menu on empty space, highlights that follow the grid's
order, and the UMAP kernels compiled in the background after the first index."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QRectF
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QToolButton

from photosort.core.projection import MapLayout, normalise
from photosort.ui import ordering
from photosort.ui.map_view import FIT_THUMB, MapView, non_overlapping
from photosort.ui.map_warmup import MapWarmUp
from tests.ui.conftest import INDEX_TIMEOUT, make_folder, open_and_index

TIMEOUT = 30_000


@pytest.fixture
def view(map_view):
    return map_view


def _spread(folder: Path, n: int, seed: int = 1) -> MapLayout:
    paths = sorted(str(p) for p in make_folder(folder, n).glob("*.jpg"))
    return MapLayout(paths, normalise(np.random.default_rng(seed).normal(size=(n, 2))), "umap")


def _all_inside(view: MapView) -> bool:
    dev = view.device_positions()
    vp = view.canvas.viewport().rect()
    return bool(
        (dev[:, 0] >= 0).all()
        and (dev[:, 0] <= vp.width()).all()
        and (dev[:, 1] >= 0).all()
        and (dev[:, 1] <= vp.height()).all()
    )


def test_non_overlapping_keeps_the_first_of_each_pile():
    x = np.array([0.0, 10.0, 100.0, 130.0, 55.0])
    y = np.array([0.0, 5.0, 0.0, 0.0, 0.0])
    assert non_overlapping(x, y, 44) == [0, 2, 4]  # 1 overlaps 0, 3 overlaps 2
    assert non_overlapping(x, y, 44, forced=2) == [0, 1, 2, 4]
    assert non_overlapping(x[:0], y[:0], 44) == []


def test_thumbnails_show_at_the_default_zoom_where_they_fit(qtbot, view, tmp_path):
    layout = _spread(tmp_path / "spread", 12)
    view.show_layout(layout)
    assert view.canvas.fitted
    view.grab()
    qtbot.waitUntil(lambda: len(view._pixmaps) >= 6, timeout=TIMEOUT)
    view.grab()
    rects = [r for _, r in view._drawn]
    assert len(rects) >= 6
    assert all(r.width() >= FIT_THUMB - 1 or r.height() >= FIT_THUMB - 1 for r in rects)
    for i, a in enumerate(rects):  # thumbnails never cover each other
        assert not any(a.intersects(b) for b in rects[i + 1 :])
    area = QRectF(view.canvas.viewport().rect())
    assert all(area.contains(r) for r in rects)  # nor are they cut off at the edges


def test_a_pile_of_photos_shows_one_thumbnail_and_dots(qtbot, view, tmp_path):
    paths = sorted(str(p) for p in make_folder(tmp_path / "pile", 8).glob("*.jpg"))
    xy = np.array([[0.0, 0.0], [1.0, 1.0]] + [[0.5 + i * 0.002, 0.5] for i in range(6)])
    view.show_layout(MapLayout(paths, xy.astype(np.float32), "umap"))
    view.grab()
    qtbot.waitUntil(lambda: len(view._pixmaps) >= 3, timeout=TIMEOUT)
    view.grab()
    drawn = {view._paths[row] for row, _ in view._drawn}
    assert paths[0] in drawn and paths[1] in drawn  # the two corners have room
    assert len(drawn & set(paths[2:])) == 1  # the pile of six: one thumbnail, five dots


def test_hover_shows_a_larger_thumbnail_and_the_name(qtbot, view, tmp_path):
    layout = _spread(tmp_path / "hover", 12, seed=4)
    view.show_layout(layout)
    dev = view.device_positions()
    row = int(np.argmin(dev[:, 0]))
    pos = QPoint(round(dev[row, 0]), round(dev[row, 1]))
    with qtbot.waitSignal(view.thumbnailShown, timeout=TIMEOUT) as shown:
        QTest.mouseMove(view.canvas.viewport(), pos)
    assert shown.args[0] == layout.paths[row]
    assert view.card.isVisible()
    assert view.card.name.text() == os.path.basename(layout.paths[row])
    pm = view.card.image.pixmap()
    assert max(pm.width(), pm.height()) > 2 * FIT_THUMB
    assert not view.card.geometry().contains(pos)  # beside the pointer, not under it
    QTest.mouseMove(view.canvas.viewport(), QPoint(-40, -40))
    qtbot.waitUntil(lambda: not view.card.isVisible())


def test_the_whole_map_follows_the_view_size_until_the_user_zooms(qtbot, view, tmp_path):
    rng = np.random.default_rng(2)
    paths = [f"/photos/img{i:04d}.jpg" for i in range(300)]
    view.show_layout(MapLayout(paths, normalise(rng.normal(size=(300, 2))), "umap"))
    for size in ((1000, 380), (320, 700), (700, 700)):
        view.resize(*size)
        qtbot.waitUntil(lambda s=size: view.width() == s[0] and _all_inside(view))
    view.canvas.zoom_by(3.0)
    zoom = view.canvas.zoom()
    view.resize(650, 650)
    qtbot.waitUntil(lambda: view.width() == 650)
    assert view.canvas.zoom() == pytest.approx(zoom)  # the user's zoom is kept
    assert not _all_inside(view)
    view.findChild(QToolButton, "mapFit").click()
    assert view.canvas.fitted and _all_inside(view)
    view.resize(900, 500)
    qtbot.waitUntil(lambda: view.width() == 900 and _all_inside(view))


def test_right_click_on_empty_space_offers_fit_and_arrange(qtbot, view):
    rng = np.random.default_rng(3)
    paths = [f"/photos/img{i:04d}.jpg" for i in range(50)]
    view.show_layout(MapLayout(paths, normalise(rng.normal(size=(50, 2))), "umap"))
    view.canvas.zoom_by(4.0)
    menu = view.context_menu(QPoint(2, 2))
    texts = [a.text() for a in menu.actions()]
    assert texts == ["Fit the Whole Map", "Arrange by Similarity"]
    assert "Ctrl+Shift+M" in menu.actions()[0].shortcut().toString()
    menu.actions()[0].trigger()
    assert view.canvas.fitted and _all_inside(view)
    with qtbot.waitSignal(view.arrangeRequested):
        view.context_menu(QPoint(2, 2)).actions()[1].trigger()
    view.offer_arrange = False
    assert [a.text() for a in view.context_menu(QPoint(2, 2)).actions()] == ["Fit the Whole Map"]


def test_highlights_follow_the_grids_order(qtbot, make_window, photos):
    window = make_window()
    if window.map_panel is None:
        pytest.skip("the map is not installed")
    open_and_index(qtbot, window, photos)
    view = window.map_panel.view
    reference = str(photos / "img004.jpg")
    with qtbot.waitSignal(window.sorter.orderApplied, timeout=INDEX_TIMEOUT):
        window.sort_like([reference])
    assert view._highlight_paths[0] == [reference] and view._highlight_paths[1]
    with qtbot.waitSignal(window.sorter.orderApplied, timeout=INDEX_TIMEOUT):
        window.sort_name_action.trigger()
    assert view._highlight_paths == ([], [])

    with qtbot.waitSignal(window.sorter.orderApplied, timeout=INDEX_TIMEOUT):
        window.sort_like([reference])
    if not window.arrange_action.isVisible():
        return
    # Right-click on the map's empty space ▸ Arrange by Similarity: the grid is arranged and
    # the old reference is no longer marked.
    with qtbot.waitSignal(window.sorter.orderApplied, timeout=INDEX_TIMEOUT) as applied:
        view.arrangeRequested.emit()
    assert applied.args[0].mode == ordering.ARRANGED
    assert view._highlight_paths == ([], [])


# -- the first-ever layout ----------------------------------------------------------------


def record_pid() -> None:
    """Stand-in for the UMAP warm-up (the real one compiles for a minute): says where it ran."""
    Path(os.environ["WARMUP_RECORD"]).write_text(str(os.getpid()))


def test_warm_up_runs_in_a_child_process_once(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("PHOTOSORT_MAP_WARMUP", "1")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))  # cold, whatever ran before
    record = tmp_path / "warm.txt"
    monkeypatch.setenv("WARMUP_RECORD", str(record))
    warm = MapWarmUp(target=record_pid)
    with qtbot.waitSignal(warm.finished, timeout=INDEX_TIMEOUT) as done:
        assert warm.start()
    assert done.args[0] is True
    assert int(record.read_text()) != os.getpid()  # not the app's process, so not its GUI
    assert not warm.start()  # once per run of the app
    warm.shutdown()


def test_the_window_warms_the_map_up_after_the_first_index(qtbot, make_window, photos, tmp_path,
                                                          monkeypatch):  # fmt: skip
    monkeypatch.setenv("PHOTOSORT_MAP_WARMUP", "1")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))  # cold, whatever ran before
    record = tmp_path / "warm.txt"
    monkeypatch.setenv("WARMUP_RECORD", str(record))
    window = make_window()
    if window.map_panel is None:
        pytest.skip("the map is not installed")
    window.map_warmup.target = record_pid
    with qtbot.waitSignal(window.map_warmup.finished, timeout=INDEX_TIMEOUT):
        open_and_index(qtbot, window, photos)
    assert record.exists()


def test_turned_off_it_does_nothing(qtbot, make_window, photos):
    window = make_window()  # the suite sets PHOTOSORT_MAP_WARMUP=0
    with qtbot.assertNotEmitted(window.map_warmup.started):
        open_and_index(qtbot, window, photos)
    assert not window.map_warmup.running


def test_a_map_waits_for_a_running_warm_up_instead_of_compiling_twice(
    qtbot, view, tmp_path, monkeypatch, registry
):
    from photosort.core.indexer import Indexer
    from photosort.core.store import Store
    from photosort.ui import map_warmup
    from tests import umap_stand_in

    fits = umap_stand_in.install(monkeypatch)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))  # a first-ever map
    folder = make_folder(tmp_path / "photos", 20)
    db = tmp_path / "map.sqlite3"
    with Store(db) as store:
        Indexer(store, registry.encoder("pixels-8x8")).index_folder(str(folder))
    map_warmup._idle.clear()  # as while MapWarmUp's process compiles
    try:
        view.load(str(db), str(folder), "pixels-8x8", metric="euclidean")
        qtbot.waitUntil(
            lambda: "Preparing the map (first time only" in view.progress.format(), timeout=TIMEOUT
        )
        assert view.layout_ is not None and view.layout_.method == "pca"  # shown meanwhile
        assert fits == []  # no second compile while the warm-up runs
    finally:
        map_warmup._idle.set()  # the warm-up is over: the map is fitted now
    qtbot.waitUntil(
        lambda: view.layout_ is not None and view.layout_.method == "umap", timeout=TIMEOUT
    )
    assert fits == [20]


def test_highlighted_photos_do_not_pile_up_either(qtbot, view, tmp_path):
    paths = sorted(str(p) for p in make_folder(tmp_path / "pile", 8).glob("*.jpg"))
    xy = np.array([[0.0, 0.0], [1.0, 1.0]] + [[0.5 + i * 0.004, 0.5] for i in range(6)])
    view.show_layout(MapLayout(paths, xy.astype(np.float32), "umap"))
    view.set_highlight([paths[2]], paths[3:8])  # the reference and its neighbours: one pile
    view.grab()
    qtbot.waitUntil(lambda: paths[2] in view._pixmaps, timeout=TIMEOUT)
    view.grab()
    drawn = [(view._paths[row], rect) for row, rect in view._drawn]
    assert paths[2] in [p for p, _ in drawn]  # the reference always shows
    assert drawn[-1][0] == paths[2]  # on top
    rects = [r for _, r in drawn]
    for i, a in enumerate(rects):
        assert not any(a.intersects(b) for b in rects[i + 1 :])
