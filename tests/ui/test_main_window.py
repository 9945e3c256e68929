"""The real main window, driven like a user would: open, index, sort, export, switch model."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from photosort.ui.photo_menu import SORT_SELECTED, SORT_THIS
from photosort.ui.snapshot import FAILED, INDEXED
from tests.ui.conftest import INDEX_TIMEOUT, expected_ranking, make_folder, open_and_index


def _menu_action(window, row: int, text: str):
    menu = window.photo_menu(row)
    for action in menu.actions():
        if action.text().startswith(text):
            return action
    raise AssertionError(f"no {text!r} in {[a.text() for a in menu.actions()]}")


def _db(window) -> Path:
    return Path(window.db_path)


def test_first_start_shows_the_empty_state(make_window):
    window = make_window()
    assert window.stack.currentWidget() is window.empty
    assert window.empty.samples_button.isVisible()
    assert window.model_combo.count() == 2
    assert window.model_combo.currentData() == "pixels-8x8"  # the default model leads


def test_sort_by_similarity_to_this_matches_the_core_ranking(qtbot, make_window, photos):
    window = make_window()
    report = open_and_index(qtbot, window, photos)
    assert report.indexed == 12 and not report.cancelled
    assert window.stack.currentWidget() is window.grid
    assert "12 photos · 12 indexed" in window.status.counts.text()

    chosen = str(photos / "img005.jpg")
    row = window.model.row_of_path(chosen)
    window.grid.selectionModel().clearSelection()
    with qtbot.waitSignal(window.sorter.orderApplied, timeout=INDEX_TIMEOUT):
        _menu_action(window, row, SORT_THIS).trigger()

    expected = expected_ranking(_db(window), photos, "pixels-8x8", "euclidean", [chosen])
    assert window.model.paths_in_order() == expected
    assert window.model.tile(0).reference is True
    assert window.model.tile(1).rank == 2
    assert window.model.tile(1).distance is not None
    assert window.sort_similar_action.isChecked()

    # View ▸ Sort by name brings the path order back.
    with qtbot.waitSignal(window.sorter.orderApplied, timeout=INDEX_TIMEOUT):
        window.sort_name_action.trigger()
    assert window.model.paths_in_order() == sorted(expected)
    assert window.model.tile(0).rank is None


def test_sort_by_similarity_to_selected(qtbot, make_window, photos):
    window = make_window()
    open_and_index(qtbot, window, photos)
    refs = [str(photos / "img002.jpg"), str(photos / "img009.jpg")]
    window.grid.select_paths(refs)
    assert window.grid.selected_paths() == refs
    row = window.model.row_of_path(refs[1])
    with qtbot.waitSignal(window.sorter.orderApplied, timeout=INDEX_TIMEOUT):
        _menu_action(window, row, SORT_SELECTED).trigger()

    expected = expected_ranking(_db(window), photos, "pixels-8x8", "euclidean", refs)
    assert window.model.paths_in_order() == expected
    assert [window.model.tile(r).reference for r in range(3)] == [True, True, False]
    # The selection followed the photos to their new rows.
    assert sorted(window.grid.selected_paths()) == sorted(refs)


def test_cancel_indexing(qtbot, make_window, tmp_path):
    folder = make_folder(tmp_path / "many", 96)
    window = make_window()
    window.library.indexStarted.connect(window.status.cancel.click)  # the status-bar Cancel
    with qtbot.waitSignal(window.library.indexFinished, timeout=INDEX_TIMEOUT) as blocker:
        window.open_folder(str(folder))
    report = blocker.args[0]
    assert report.cancelled
    assert report.indexed < 96
    assert not window.status.progress.isVisible()
    assert window.model.rowCount() == 96  # every photo is still shown
    assert f"{report.indexed} indexed" in window.status.counts.text()

    # Indexing again finishes the job, keeping what was done.
    window.library.indexStarted.disconnect(window.status.cancel.click)
    with qtbot.waitSignal(window.library.indexFinished, timeout=INDEX_TIMEOUT) as blocker:
        window.reindex_action.trigger()
    assert blocker.args[0].indexed + report.indexed == 96


def test_export_through_the_dialog(qtbot, make_window, photos, tmp_path):
    window = make_window()
    open_and_index(qtbot, window, photos)
    ref = str(photos / "img003.jpg")
    with qtbot.waitSignal(window.sorter.orderApplied, timeout=INDEX_TIMEOUT):
        window.sort_like([ref])

    dialog = window.show_export()
    target = tmp_path / "out"
    dialog.target.setText(str(target))
    dialog.pattern.setText("{rank:03d}-{stem}{ext}")
    dialog.first_button.setChecked(True)
    dialog.first_n.setValue(4)
    order = window.model.paths_in_order()
    preview = [dialog.preview.item(i).text() for i in range(dialog.preview.count())]
    assert preview == [f"{i + 1:03d}-{Path(p).name}" for i, p in enumerate(order[:4])]

    dialog.pattern.setText("{nope}")
    assert not dialog.export_button.isEnabled() and "unknown field" in dialog.pattern_error.text()
    dialog.pattern.setText("{rank:03d}-{stem}{ext}")
    assert dialog.export_button.isEnabled()

    with qtbot.waitSignal(dialog.exportFinished, timeout=INDEX_TIMEOUT) as blocker:
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    report = blocker.args[0]
    assert not report.cancelled
    names = sorted(p.name for p in target.iterdir())
    assert names == [*preview, "photosort-export.csv"]
    assert (target / preview[0]).read_bytes() == Path(ref).read_bytes()
    assert dialog.open_button.isVisible()
    assert len(list(photos.iterdir())) == 12  # originals untouched


def test_export_error_is_a_message(qtbot, make_window, photos, tmp_path):
    window = make_window()
    open_and_index(qtbot, window, photos)
    blocker_file = tmp_path / "a-file"
    blocker_file.write_text("x")
    dialog = window.show_export()
    dialog.target.setText(str(blocker_file / "sub"))
    with qtbot.waitSignal(dialog.exportFailed, timeout=INDEX_TIMEOUT) as blocker:
        dialog.export_button.click()
    assert "cannot create" in blocker.args[0] or "not a folder" in blocker.args[0]
    assert "Export failed" in dialog.status.text()


def test_switching_model_resorts(qtbot, make_window, photos):
    window = make_window()
    open_and_index(qtbot, window, photos)
    ref = str(photos / "img007.jpg")
    with qtbot.waitSignal(window.sorter.orderApplied, timeout=INDEX_TIMEOUT):
        window.sort_like([ref])
    db = _db(window)
    first = expected_ranking(db, photos, "pixels-8x8", "euclidean", [ref])
    assert window.model.paths_in_order() == first

    with qtbot.waitSignal(window.library.indexFinished, timeout=INDEX_TIMEOUT):
        window.model_combo.setCurrentIndex(window.model_combo.findData("max-4x4"))
    second = expected_ranking(db, photos, "max-4x4", "cosine", [ref])
    assert second != first
    qtbot.waitUntil(lambda: window.model.paths_in_order() == second, timeout=INDEX_TIMEOUT)
    assert window.model.tile(0).reference is True
    assert window.settings.model_id == "max-4x4"


def test_broken_file_shows_as_skipped(qtbot, make_window, tmp_path):
    folder = make_folder(tmp_path / "mixed", 6, broken=1)
    window = make_window()
    report = open_and_index(qtbot, window, folder)
    broken = str(folder / "broken0.jpg")
    assert [p for p, _ in report.skipped] == [broken]
    assert "1 skipped" in window.status.counts.text()
    row = window.model.row_of_path(broken)
    tile = window.model.tile(row)
    assert tile.state == FAILED
    assert "not a recognised image" in tile.error

    dialog = window.show_skipped()
    assert dialog.table.rowCount() == 1
    assert dialog.table.item(0, 0).text() == broken
    window.status.counts.linkActivated.emit("skipped")  # the clickable count opens the same list

    with qtbot.waitSignal(window.sorter.orderApplied, timeout=INDEX_TIMEOUT):
        window.sort_like([str(folder / "img000.jpg")])
    assert window.model.paths_in_order()[-1] == broken  # skipped files go last
    assert window.model.tile(0).state == INDEXED
