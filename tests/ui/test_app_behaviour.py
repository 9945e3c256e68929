"""Everyday behaviour of the real window: persistence, preview, on-demand indexing, map sync."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSettings, Qt

from photosort.ui.app import create_main_window
from photosort.ui.dialogs.about import about_text
from photosort.ui.snapshot import INDEXED, PENDING
from tests.conftest import REPO
from tests.ui.conftest import INDEX_TIMEOUT, make_folder, open_and_index


def test_settings_persist_and_the_last_folder_reopens(qtbot, make_window, photos, settings_path):
    window = make_window()
    open_and_index(qtbot, window, photos)
    window.zoom_in_action.trigger()
    bigger = window.grid.thumb_size()
    assert window.status.zoom.value() == bigger
    window.model_combo.setCurrentIndex(window.model_combo.findData("max-4x4"))
    qtbot.waitUntil(lambda: not window.library.indexing, timeout=INDEX_TIMEOUT)
    window.close()

    settings = QSettings(str(settings_path), QSettings.Format.IniFormat)
    assert settings.value("folders/last") == str(photos)
    again = make_window()
    assert again.grid.thumb_size() == bigger
    assert again.current_model_id() == "max-4x4"
    qtbot.waitUntil(lambda: again.model.rowCount() == 12, timeout=INDEX_TIMEOUT)
    assert again.library.folder == str(photos)
    assert str(photos) in again.settings.recent_folders()


def test_preview_shows_exif_basics_and_browses_the_grid(qtbot, make_window, photos):
    window = make_window()
    window.model_combo.setCurrentIndex(window.model_combo.findData("max-4x4"))
    open_and_index(qtbot, window, photos)
    dialog = window.show_preview(str(photos / "img001.jpg"))
    qtbot.waitUntil(lambda: dialog.data is not None, timeout=INDEX_TIMEOUT)
    assert (dialog.data.width, dialog.data.height) == (96, 72)
    # max-4x4 has a decoder, but its manifest does not say its drawings look like the photo.
    assert dialog.model_button is None and dialog.reconstruction is None

    # → shows the next photo of the grid, and selects it there too.
    qtbot.keyClick(dialog, Qt.Key.Key_Right)
    assert dialog.path == str(photos / "img002.jpg")
    qtbot.waitUntil(lambda: dialog.data is not None, timeout=INDEX_TIMEOUT)
    assert window.grid.selected_paths() == [dialog.path]
    dialog.close()

    # Space in the grid previews the current photo.
    window.grid.setCurrentIndex(window.model.index(0))
    window.grid.setFocus()
    window.preview_action.trigger()


def test_reference_not_yet_indexed_is_indexed_first(qtbot, make_window, tmp_path):
    folder = make_folder(tmp_path / "many", 64)
    window = make_window()
    window.library.indexStarted.connect(window.library.cancel_indexing)
    with qtbot.waitSignal(window.library.indexFinished, timeout=INDEX_TIMEOUT) as blocker:
        window.open_folder(str(folder))
    assert blocker.args[0].cancelled
    window.library.indexStarted.disconnect(window.library.cancel_indexing)
    snap = window.library.snapshot
    pending = [p for p, s in zip(snap.paths, snap.state, strict=True) if s == PENDING]
    reference = pending[-1]

    with qtbot.waitSignal(window.library.referencesIndexed, timeout=INDEX_TIMEOUT):
        window.sort_like([reference])
    qtbot.waitUntil(lambda: window.model.tile(0).reference, timeout=INDEX_TIMEOUT)
    assert window.model.path_at(0) == reference
    snap = window.model.snapshot
    states = [int(snap.state[snap.index_of[p]]) for p in window.model.paths_in_order()]
    indexed = states.count(INDEXED)
    assert states[:indexed] == [INDEXED] * indexed  # ranked photos first, the rest after
    assert all(s == PENDING for s in states[indexed:])


def test_sort_by_date_and_select_all(qtbot, make_window, photos):
    window = make_window()
    open_and_index(qtbot, window, photos)
    with qtbot.waitSignal(window.sorter.orderApplied, timeout=INDEX_TIMEOUT):
        window.sort_date_action.trigger()
    assert window.sort_date_action.isChecked()
    window.select_all_action.trigger()
    assert len(window.grid.selected_paths()) == 12
    dialog = window.show_export()
    assert dialog.selection_button.isChecked()  # several selected: export the selection
    dialog.close()


def test_map_selection_follows_the_grid_both_ways(qtbot, make_window, photos):
    window = make_window()
    if window.map_panel is None:
        return  # the optional map module is not installed
    seen: list[list[str]] = []
    window.map_panel.view.set_selected_paths = lambda paths: seen.append(list(paths))
    open_and_index(qtbot, window, photos)
    chosen = [str(photos / "img004.jpg"), str(photos / "img006.jpg")]
    window.map_panel.view.selectionChanged.emit(chosen)  # a lasso on the map
    assert window.grid.selected_paths() == chosen
    window.grid.select_paths(chosen[:1])  # a click in the grid
    assert seen[-1] == chosen[:1]


def test_about_lists_models_and_an_empty_model_folder_is_a_message(qtbot, tmp_path, registry):
    text = about_text(registry, "pixels-8x8", "/tmp/x.sqlite3")
    assert "max-4x4" in text and "(in use)" in text
    from photosort.core.encoders import Registry

    window = create_main_window(
        db_path=tmp_path / "db.sqlite3",
        settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
        registry=Registry([tmp_path / "no-models"]),
        thumbnail_dir=tmp_path / "thumbs",
    )
    qtbot.addWidget(window)
    assert not window.model_combo.isEnabled()
    assert "No encoder" in window.statusBar().currentMessage()
    folder = make_folder(tmp_path / "few", 3)
    with qtbot.waitSignal(window.library.folderOpened, timeout=INDEX_TIMEOUT):
        window.open_folder(str(folder))
    assert window.model.rowCount() == 3  # browsing and exporting by name still work
    window.shutdown()


def test_a_missing_folder_is_a_readable_error(qtbot, make_window, tmp_path):
    window = make_window()
    with qtbot.waitSignal(window.errorShown, timeout=5_000) as blocker:
        window.open_folder(str(tmp_path / "nowhere"))
    assert "not a folder" in blocker.args[0]
    assert np.all(window.model.rowCount() == 0)


def test_arrange_by_similarity_and_drop_a_folder(qtbot, make_window, photos):
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    from photosort.ui.sorter import arrange_function

    window = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(photos))])
    drop = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(window.library.indexFinished, timeout=INDEX_TIMEOUT):
        window.dropEvent(drop)
    assert window.model.rowCount() == 12
    if arrange_function() is None:
        assert not window.arrange_action.isVisible()
        return
    with qtbot.waitSignal(window.sorter.orderApplied, timeout=INDEX_TIMEOUT) as blocker:
        window.arrange_action.trigger()
    assert blocker.args[0].mode == "arranged"
    assert sorted(window.model.paths_in_order()) == sorted(str(p) for p in photos.iterdir())
    assert window.arrange_action.isChecked()


def test_a_missing_model_file_is_a_readable_error(qtbot, make_window, photos, tmp_path):
    import json

    from photosort.core.encoders import Registry

    models = tmp_path / "broken-models"
    models.mkdir()
    manifest = json.loads((REPO / "models" / "pixels-8x8.json").read_text())
    manifest.update(id="ghost", encoder="ghost.onnx", description="A model whose file is gone")
    (models / "ghost.json").write_text(json.dumps(manifest))
    window = make_window(reg=Registry([models]))
    with qtbot.waitSignal(window.errorShown, timeout=INDEX_TIMEOUT) as blocker:
        window.open_folder(str(photos))
    assert "model file missing" in blocker.args[0]
    qtbot.waitUntil(lambda: not window.library.indexing, timeout=INDEX_TIMEOUT)
    assert window.model.rowCount() == 12  # the photos are still there
    assert not window.status.progress.isVisible()
