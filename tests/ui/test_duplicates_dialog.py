"""View ▸ Duplicates in the real window (offscreen): groups, choosing the keeper, the trash."""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image
from PySide6.QtCore import Qt

from photosort.core.store import Store
from tests.conftest import make_photo
from tests.ui.conftest import INDEX_TIMEOUT, open_and_index


def folder_with_copies(tmp_path: Path) -> tuple[Path, Path, list[Path]]:
    folder = tmp_path / "photos"
    orig = make_photo(folder / "lake.jpg", seed=7, size=(320, 240), quality=92)
    copy = folder / "lake copy.jpg"
    shutil.copy(orig, copy)
    small = folder / "lake small.jpg"
    Image.open(orig).resize((160, 120)).save(small, quality=70)
    for i in range(5):
        make_photo(folder / f"other{i}.jpg", seed=40 + i, size=(320, 240))
    return folder, orig, [copy, small]


def test_groups_show_with_the_keeper_marked_and_another_can_be_chosen(qtbot, make_window, tmp_path):
    folder, orig, copies = folder_with_copies(tmp_path)
    window = make_window()
    open_and_index(qtbot, window, folder)
    dialog = window.show_duplicates()
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=INDEX_TIMEOUT)
    (row,) = dialog.rows
    assert [t.photo.path for t in row.tiles][0] == str(orig)
    assert {t.photo.path for t in row.tiles} == {str(orig), *map(str, copies)}
    assert row.tiles[0].keep.isChecked()
    assert "2 photos could go to the Trash" in dialog.summary.text()
    assert "320×240" in row.tiles[0].findChildren(type(row.header))[2].text()
    # Choose the small copy as the keeper instead.
    small_tile = next(t for t in row.tiles if t.photo.path == str(copies[1]))
    small_tile.keep.click()
    assert row.group.keeper.path == str(copies[1]) and row.group.reason == "your choice"
    assert "keep <b>lake small.jpg</b>" in row.header.text()
    # Thumbnails arrive from the thumbnail threads.
    qtbot.waitUntil(lambda: all(t.image.pixmap() and not t.image.pixmap().isNull()
                                for t in row.tiles), timeout=INDEX_TIMEOUT)  # fmt: skip
    # A click opens the preview.
    preview = []
    dialog.preview = preview.append
    for t in row.tiles:
        t.clicked.disconnect()
        t.clicked.connect(dialog.preview)
    qtbot.mouseClick(row.tiles[0], Qt.MouseButton.LeftButton)
    assert preview == [row.tiles[0].photo.path]


def test_move_the_others_to_trash_asks_with_count_and_size_then_moves(qtbot, make_window, tmp_path):
    folder, orig, copies = folder_with_copies(tmp_path)
    window = make_window()
    open_and_index(qtbot, window, folder)
    dialog = window.show_duplicates()
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=INDEX_TIMEOUT)
    size = sum(p.stat().st_size for p in copies)
    # Cancel first: nothing moves.
    with qtbot.waitSignal(dialog.questionShown) as shown:
        dialog.trash_all_button.click()
    box = shown.args[0]
    assert "Move 2 photos" in box.text() and f"{size / 1000:.1f} kB" in box.text()
    box.reject()
    assert all(p.exists() for p in copies)
    # Then accept.
    with qtbot.waitSignal(dialog.questionShown) as shown:
        dialog.rows[0].trash_button.click()
    with qtbot.waitSignal(dialog.trashed, timeout=INDEX_TIMEOUT) as moved:
        dialog.move_button.click()
    outcome = moved.args[0]
    assert sorted(outcome.moved) == sorted(map(str, copies)) and not outcome.failed
    assert orig.exists() and not any(p.exists() for p in copies)
    with Store(window.db_path) as store:
        assert set(store.photos_under(folder)) & set(map(str, copies)) == set()
    qtbot.waitUntil(lambda: dialog.report is not None and not dialog.report.groups,
                    timeout=INDEX_TIMEOUT)  # fmt: skip
    assert "No near-copies" in dialog.summary.text()


def test_it_opens_while_indexing_and_looks_again_when_indexing_ends(qtbot, make_window, tmp_path):
    folder, orig, copies = folder_with_copies(tmp_path)
    for i in range(60):
        make_photo(folder / "more" / f"m{i}.jpg", seed=200 + i)
    window = make_window()
    with qtbot.waitSignal(window.library.indexStarted, timeout=INDEX_TIMEOUT):
        window.open_folder(str(folder))
    dialog = window.show_duplicates()
    assert dialog.indexing
    with qtbot.waitSignal(window.library.indexFinished, timeout=INDEX_TIMEOUT):
        pass
    qtbot.waitUntil(lambda: not dialog.indexing and dialog.report is not None
                    and "still running" not in dialog.summary.text()
                    and len(dialog.rows) == 1, timeout=INDEX_TIMEOUT)  # fmt: skip
    assert {t.photo.path for t in dialog.rows[0].tiles} == {str(orig), *map(str, copies)}
