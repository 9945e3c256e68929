"""The map view: loading off the GUI thread with the cache, selection both ways, the menu."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication, QPoint, Qt, QThreadPool
from PySide6.QtTest import QTest

from photosort.core.indexer import Indexer
from photosort.core.projection import MapLayout, normalise
from photosort.core.store import Store
from photosort.ui.map_view import MapView
from tests import umap_stand_in
from tests.ui.conftest import make_folder

TIMEOUT = 30_000


@pytest.fixture
def fits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """UMAP replaced by a counted stand-in: these tests are about the view, not UMAP."""
    return umap_stand_in.install(monkeypatch)


@pytest.fixture
def view(map_view):
    return map_view


def synthetic(n: int, seed: int = 0) -> MapLayout:
    rng = np.random.default_rng(seed)
    xy = normalise(rng.normal(size=(n, 2)))
    return MapLayout([f"/photos/img{i:05d}.jpg" for i in range(n)], xy, "umap")


def point_of(view: MapView, path: str) -> QPoint:
    x, y = view.device_positions()[view._row[path]]
    return QPoint(round(x), round(y))


def wait_for_map(qtbot, view: MapView, method: str = "umap") -> MapLayout:
    qtbot.waitUntil(
        lambda: view.layout_ is not None and view.layout_.method == method and view._task is None,
        timeout=TIMEOUT,
    )
    assert view.layout_ is not None
    return view.layout_


def test_load_computes_off_thread_then_reopening_uses_the_cache(qtbot, view, indexed, fits):
    db, folder = indexed
    with qtbot.waitSignal(view.mapReady, timeout=TIMEOUT):
        view.load(str(db), str(folder), "pixels-8x8", metric="euclidean")
    layout = wait_for_map(qtbot, view)
    assert len(layout) == 20 and layout.fitted and fits == [20]
    assert "20 photos" in view.status.text()
    assert view.progress.isHidden()

    other = MapView()  # reopening the folder: a new view, the same store
    qtbot.addWidget(other)
    other.load(str(db), str(folder), "pixels-8x8", metric="euclidean")
    again = wait_for_map(qtbot, other)
    assert again.from_cache and fits == [20]  # no second UMAP fit
    np.testing.assert_allclose(again.coords, layout.coords)
    assert "from the cache" in other.status.text()
    other.shutdown()


def test_new_photo_is_placed_without_refit(qtbot, view, indexed, fits, registry):
    db, folder = indexed
    view.load(str(db), str(folder), "pixels-8x8", metric="euclidean")
    wait_for_map(qtbot, view)
    make_folder(folder, 21)  # writes img020.jpg, keeps the others
    with Store(db) as store:
        Indexer(store, registry.encoder("pixels-8x8")).index_folder(str(folder))
    view.load(str(db), str(folder), "pixels-8x8", metric="euclidean")
    qtbot.waitUntil(lambda: view.layout_ is not None and len(view.layout_) == 21, timeout=TIMEOUT)
    assert view.layout_.placed == 1 and fits == [20]


def test_empty_folder_says_so(qtbot, view, tmp_path, fits):
    (tmp_path / "empty").mkdir()
    view.load(str(tmp_path / "db.sqlite3"), str(tmp_path / "empty"), "pixels-8x8", "euclidean")
    qtbot.waitUntil(lambda: view.layout_ is not None, timeout=TIMEOUT)
    assert "No photos" in view.status.text()


def test_set_selected_paths_selects_without_emitting(qtbot, view):
    view.show_layout(synthetic(100))
    paths = view.layout_.paths
    with qtbot.assertNotEmitted(view.selectionChanged):
        view.set_selected_paths([paths[3], paths[50], "/not/on/the/map.jpg"])
    assert view.selected_paths() == [paths[3], paths[50]]
    view.grab()  # paints the selection
    with qtbot.assertNotEmitted(view.selectionChanged):
        view.set_selected_paths([])
    assert view.selected_paths() == []


def test_click_selects_and_emits_the_path(qtbot, view):
    view.show_layout(synthetic(60))
    target = view.layout_.paths[17]
    with qtbot.waitSignal(view.selectionChanged) as blocker:
        QTest.mouseClick(
            view.canvas.viewport(), Qt.MouseButton.LeftButton, pos=point_of(view, target)
        )
    hit = blocker.args[0]
    assert len(hit) == 1
    # a neighbour closer than the click radius may win; it must be the nearest point
    dev = view.device_positions()
    p = point_of(view, target)
    nearest = int(np.argmin((dev[:, 0] - p.x()) ** 2 + (dev[:, 1] - p.y()) ** 2))
    assert hit == [view.layout_.paths[nearest]]
    # Ctrl+click adds a second one
    other = view.layout_.paths[(nearest + 1) % 60]
    with qtbot.waitSignal(view.selectionChanged) as blocker:
        QTest.mouseClick(
            view.canvas.viewport(),
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.ControlModifier,
            point_of(view, other),
        )
    assert len(blocker.args[0]) == 2


def test_rubber_band_selects_the_photos_inside(qtbot, view):
    view.show_layout(synthetic(300))
    vp = view.canvas.viewport()
    w, h = vp.width(), vp.height()
    shift = Qt.KeyboardModifier.ShiftModifier
    with qtbot.waitSignal(view.selectionChanged) as blocker:
        QTest.mousePress(vp, Qt.MouseButton.LeftButton, shift, QPoint(1, 1))  # (0, 0): centre
        QTest.mouseMove(vp, QPoint(w // 2, h - 1))
        QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, shift, QPoint(w // 2, h - 1))
    dev = view.device_positions()
    expected = {p for p, (x, y) in zip(view.layout_.paths, dev, strict=True) if x <= w / 2}
    got = set(blocker.args[0])
    assert got and abs(len(got) - len(expected)) <= 3  # rounding at the band's edge
    assert len(got & expected) >= len(expected) - 3
    assert set(view.selected_paths()) == got


def test_right_click_menu_sorts_by_the_photo(qtbot, view):
    view.show_layout(synthetic(40))
    dev = view.device_positions()
    row = int(np.argmin(dev[:, 0]))  # the leftmost point: nothing else under it
    menu = view.context_menu(QPoint(round(dev[row, 0]), round(dev[row, 1])))
    assert menu is not None
    with qtbot.waitSignal(view.sortRequested) as blocker:
        menu.actions()[0].trigger()
    assert blocker.args[0] == [view.layout_.paths[row]]
    empty = view.context_menu(QPoint(-50, -50))  # no photo there: the map's own menu
    assert [a.text() for a in empty.actions()] == ["Fit the Whole Map", "Arrange by Similarity"]


def test_double_click_activates(qtbot, view):
    view.show_layout(synthetic(40))
    dev = view.device_positions()
    row = int(np.argmax(dev[:, 1]))
    pos = QPoint(round(dev[row, 0]), round(dev[row, 1]))
    with qtbot.waitSignal(view.activated) as blocker:
        QTest.mouseDClick(view.canvas.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert blocker.args[0] == view.layout_.paths[row]


def test_zoomed_in_shows_thumbnails_loaded_off_thread(qtbot, view, tmp_path):
    folder = make_folder(tmp_path / "thumbs", 12)
    paths = sorted(str(p) for p in folder.glob("*.jpg"))
    xy = normalise(np.random.default_rng(1).normal(size=(12, 2)))
    view.show_layout(MapLayout(paths, xy, "umap"))
    view.set_highlight([paths[0]], paths[1:4])
    view.zoom_to(paths[0], 30)
    view.grab()
    qtbot.waitUntil(lambda: paths[0] in view._pixmaps, timeout=TIMEOUT)
    view.grab()


def test_wheel_zoom_is_bounded(qtbot, view):
    view.show_layout(synthetic(10))
    for _ in range(100):
        view.canvas.zoom_by(1.25)
    assert view.canvas.zoom() == pytest.approx(400.0)
    for _ in range(100):
        view.canvas.zoom_by(0.8)
    # out to the whole map: the square fit, or the fit to the photos if that is smaller
    assert view.canvas.zoom() == pytest.approx(min(1.0, view.canvas._fit_zoom))


def test_fifty_thousand_points_paint_and_hit_test(qtbot, view):
    view.show_layout(synthetic(50_000))
    vp = view.canvas.viewport()
    vp.repaint()  # paints without error; how fast is benchmarks/bench_map.py's business
    view.canvas.zoom_by(6)
    hits = [view._point_at(QPoint(x, 250)) for x in range(0, 600, 40)]
    assert any(h >= 0 for h in hits)


def test_hover_names_the_photo_under_the_mouse(qtbot, view):
    view.show_layout(synthetic(40))
    dev = view.device_positions()
    row = int(np.argmin(dev[:, 0]))  # the leftmost point: nothing else under it
    QTest.mouseMove(view.canvas.viewport(), QPoint(round(dev[row, 0]), round(dev[row, 1])))
    qtbot.waitUntil(lambda: view.canvas._hover == row)


def test_a_new_load_replaces_the_one_running(qtbot, view, indexed, fits, tmp_path, registry):
    db, folder = indexed
    other = make_folder(tmp_path / "other", 17)
    with Store(db) as store:
        Indexer(store, registry.encoder("pixels-8x8")).index_folder(str(other))
    view.load(str(db), str(folder), "pixels-8x8", metric="euclidean")
    view.load(str(db), str(other), "pixels-8x8", metric="euclidean")
    layout = wait_for_map(qtbot, view)
    # Let every job of both loads end and deliver what it queued: a stale result of the first
    # load must not replace this one (waiting on the pool, not a guessed delay).
    assert QThreadPool.globalInstance().waitForDone(60_000)
    QCoreApplication.processEvents()
    assert view.layout_ is layout and len(layout) == 17
    assert all(p.startswith(str(other)) for p in layout.paths)
